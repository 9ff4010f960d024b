//! Fuzzing the ELF reader with proptest over mutations of our own sample objects (byte
//! flips, field overwrites in the headers, truncations, splices). The reader must return
//! `Ok` or a typed error, never panic, and never allocate more than a small multiple of the
//! input (measured by a counting allocator installed for this test binary). The CO-RE corpus
//! objects get mutations of their `.BTF` and `.BTF.ext` sections, and the relocations still
//! read are resolved too (against the object's own BTF).

mod elf_samples;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use loader::elf::Object;
use proptest::prelude::*;

/// Counts the bytes the current thread holds, and the peak since the last reset.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = LIVE.try_with(|l| {
        let v = l.get() + delta;
        l.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Parses, returning the peak extra bytes allocated while parsing.
fn parse_measured(bytes: &[u8]) -> (bool, usize) {
    let base = LIVE.with(|l| l.get());
    PEAK.with(|p| p.set(base));
    let ok = Object::parse(bytes).is_ok();
    let peak = PEAK.with(|p| p.get()) - base;
    (ok, peak.max(0) as usize)
}

/// The allocation bound checked for every input.
fn bound(len: usize) -> usize {
    64 * len + (1 << 20)
}

#[derive(Debug, Clone)]
enum Mutation {
    Byte(usize, u8),
    U16(usize, u16),
    U32(usize, u32),
    U64(usize, u64),
    /// Overwrite a field of a section header: (section, byte in header, value).
    Shdr(usize, usize, u64),
    Truncate(usize),
    Splice(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        Just(0u64),
        Just(1),
        Just(8),
        Just(24),
        Just(0xffff),
        Just(0xffff_ffff),
        Just(u64::MAX),
        Just(1 << 40),
        any::<u64>(),
        0u64..4096,
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Byte(a, b)),
        (any::<usize>(), any::<u16>()).prop_map(|(a, b)| Mutation::U16(a, b)),
        (any::<usize>(), any::<u32>()).prop_map(|(a, b)| Mutation::U32(a, b)),
        (any::<usize>(), interesting.clone()).prop_map(|(a, b)| Mutation::U64(a, b)),
        (
            0usize..16,
            prop::sample::select(vec![4usize, 8, 24, 32, 40, 44, 56]),
            interesting
        )
            .prop_map(|(s, f, v)| Mutation::Shdr(s, f, v)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<usize>(), 0usize..64)
            .prop_map(|(a, b, n)| Mutation::Splice(a, b, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    if len == 0 {
        return;
    }
    let put = |bytes: &mut Vec<u8>, at: usize, v: &[u8]| {
        let at = at % len;
        let end = (at + v.len()).min(bytes.len());
        bytes[at..end].copy_from_slice(&v[..end - at]);
    };
    match *m {
        Mutation::Byte(a, v) => put(bytes, a, &[v]),
        Mutation::U16(a, v) => put(bytes, a, &v.to_le_bytes()),
        Mutation::U32(a, v) => put(bytes, a, &v.to_le_bytes()),
        Mutation::U64(a, v) => put(bytes, a, &v.to_le_bytes()),
        Mutation::Shdr(s, f, v) => {
            if len < 64 {
                return;
            }
            let shoff = u64::from_le_bytes(bytes[40..48].try_into().unwrap()) as usize;
            let at = shoff.saturating_add(64 * s + f);
            // `at` saturates for a mutated e_shoff near u64::MAX: no wrapping past the end.
            if at.checked_add(8).is_some_and(|end| end <= len) {
                let w = if matches!(f, 4 | 40 | 44) { 4 } else { 8 };
                bytes[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
            }
        }
        Mutation::Truncate(n) => bytes.truncate(n % len),
        Mutation::Splice(from, to, n) => {
            let from = from % len;
            let to = to % len;
            let n = n.min(len - from).min(len - to);
            let chunk = bytes[from..from + n].to_vec();
            bytes[to..to + n].copy_from_slice(&chunk);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_objects_never_panic_or_overallocate(
        which in 0usize..3,
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = elf_samples::all()[which].1.clone();
        for m in &muts {
            apply(&mut bytes, m);
        }
        let (_, peak) = parse_measured(&bytes);
        prop_assert!(peak <= bound(bytes.len()), "allocated {peak} bytes for {} input bytes", bytes.len());
    }
}

#[test]
fn the_counting_allocator_sees_parsing() {
    // So that the bound above can fail: a successful parse allocates something.
    let bytes = elf_samples::mixed_object();
    let (ok, peak) = parse_measured(&bytes);
    assert!(ok);
    assert!(peak > 0, "the allocator counted nothing");
    assert!(peak <= bound(bytes.len()));
}

#[test]
fn many_mutations_still_mostly_fail_cleanly() {
    // Every single-byte change of every sample: no panic (a panic fails the test), never more
    // than `bound` bytes allocated, and a typed error for a good share of them.
    let (mut total, mut rejected) = (0usize, 0usize);
    for (name, good) in elf_samples::all() {
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0xff;
            let (ok, peak) = parse_measured(&b);
            // The bound the proptest above checks for arbitrary mutations: what parsing a
            // file may allocate is a fixed multiple of its size (every count and size is
            // checked against the file before anything is allocated for it) plus a constant
            // for the fixed tables; a flipped count or size byte must not escape it.
            assert!(
                peak <= bound(b.len()),
                "{name}, byte {i} flipped: allocated {peak} bytes for {} input bytes",
                b.len()
            );
            // A broken magic, class, data encoding or type is always refused.
            if i < 6 || (16..18).contains(&i) {
                assert!(
                    !ok,
                    "{name}: byte {i} of the ELF header flipped, still parsed"
                );
            }
            total += 1;
            rejected += usize::from(!ok);
        }
    }
    // "Mostly": flips in instruction immediates, data, padding or names legitimately still
    // parse, so only structural bytes fail; with the current samples about 44% are refused.
    // A reader that stopped checking offsets, sizes and counts would fall far below a third.
    assert!(total > 0, "no samples");
    assert!(
        rejected * 3 >= total,
        "only {rejected} of {total} single-byte flips were refused"
    );
}

/// A committed CO-RE corpus object.
fn core_object(name: &str) -> Vec<u8> {
    let dir = loader::testing::runtime_path("CARGO_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus");
    std::fs::read(dir.join(name)).unwrap()
}

/// The file range of the section called `name` (read from the section headers of a good
/// object).
fn section_range(b: &[u8], name: &str) -> std::ops::Range<usize> {
    let u16_at = |o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shnum, shstrndx) = (u64_at(40), u16_at(60), u16_at(62));
    let strtab = u64_at(shoff + 64 * shstrndx + 24);
    (0..shnum)
        .map(|i| shoff + 64 * i)
        .find(|&h| {
            let n = strtab + u32_at(h);
            b[n..].starts_with(name.as_bytes()) && b[n + name.len()] == 0
        })
        .map(|h| u64_at(h + 24)..u64_at(h + 24) + u64_at(h + 32))
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    /// Mutations of `.BTF` and `.BTF.ext` of the CO-RE corpus objects: parsing is bounded
    /// and never panics, and neither does resolving the relocations that are still read
    /// (against the object's own BTF as the target).
    #[test]
    fn mutated_core_relocations_never_panic(
        which in 0usize..2,
        ext in any::<bool>(),
        muts in prop::collection::vec((any::<usize>(), any::<u32>(), 0usize..3), 1..5),
    ) {
        let name = ["core_fields.o", "core_bootstrap.o"][which];
        let mut bytes = core_object(name);
        let r = section_range(&bytes, if ext { ".BTF.ext" } else { ".BTF" });
        for (at, v, width) in muts {
            let w = [1usize, 2, 4][width];
            let at = r.start + at % (r.len() - w);
            bytes[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
        }
        let (_, peak) = parse_measured(&bytes);
        prop_assert!(peak <= bound(bytes.len()));
        if let Ok(obj) = Object::parse(&bytes) {
            use loader::elf::ObjectExt;
            if let Ok(local) = loader::core::local_btf(obj.btf.as_deref()) {
                let target = loader::core::Target::from_btf(std::sync::Arc::new(local));
                let _ = obj.relocate_core(Some(&target));
            }
        }
    }
}
