//! Offline tests over `tests/corpus/`: small C programs compiled by clang-14 into BPF objects,
//! committed with their sources and with `llvm-objdump -t -dr` listings (`X.dis`).
//!
//! - `committed_objects_match_their_sources` rebuilds the corpus with `build.sh` (when the
//!   recorded clang is installed) and checks the committed objects and listings are current.
//! - `every_relocation_binds_as_llvm_records` parses every object with
//!   `loader::elf::Object::parse` and checks, against LLVM's own listing, that every `lddw`
//!   relocated against a map (`.maps`, legacy `maps`) or global data (`.data*`, `.rodata*`,
//!   `.bss*`) carries a map reference to that map at the right slot of every program the
//!   function ends up in (libbpf's semantics: subprograms and callbacks appended after the
//!   main function), that no other slot carries one, and that every function reached by a
//!   relocated call or a callback address is appended. Objects the reader refuses fail the
//!   test unless `EXPECTED_REFUSALS` lists them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use asm::MapRefKind;
use loader::elf::{Object, ObjectProgramExt};

/// Objects the reader may refuse, as `(object file, substring of the error)`, each with a
/// comment saying why. Anything else it refuses is a failure, and so is an entry whose object
/// parses (remove it then). Only features `docs/elf.md` documents as unsupported belong
/// here, never a bug. Empty: the reader takes every object of the corpus.
const EXPECTED_REFUSALS: &[(&str, &str)] = &[
    // A static function in a program section: libbpf 1.x refuses the object, so does the
    // reader (the object exists to keep the two in agreement).
    (
        "refused_static_fn.o",
        "static function odd_bit in program section socket",
    ),
];

/// The `.kconfig` offsets of the corpus's `__kconfig` externs, worked out by hand from
/// libbpf's rules (alignment descending, then size ascending, then name; see
/// `kconfig_externs.c`).
const KCONFIG_LAYOUT: &[(&str, u32)] = &[
    ("CONFIG_TCPBYPASS_ABSENT", 0),
    ("LINUX_KERNEL_VERSION", 8),
    ("LINUX_HAS_BPF_COOKIE", 12),
    ("LINUX_HAS_SYSCALL_WRAPPER", 13),
    ("CONFIG_TCPBYPASS_ABSENT_STR", 14),
];

/// The corpus directory, `loader/tests/corpus`.
fn corpus_dir() -> PathBuf {
    // At run time when set (the kernel matrix stages the package elsewhere in its guests).
    loader::testing::runtime_path("CARGO_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
}

/// The object files of the corpus (`X.o` for every `X.c`), sorted.
fn corpus_objects() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("reading tests/corpus")
        .map(|e| e.expect("reading tests/corpus").file_name())
        .filter_map(|n| {
            n.to_str()
                .and_then(|n| n.strip_suffix(".c"))
                .map(String::from)
        })
        .map(|stem| format!("{stem}.o"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no C sources in tests/corpus");
    out
}

/// The first line of `clang-14 --version` recorded in `build.sh` (`CLANG_VERSION="…"`).
fn recorded_clang_version() -> String {
    let script = std::fs::read_to_string(corpus_dir().join("build.sh")).expect("build.sh");
    script
        .lines()
        .find_map(|l| l.strip_prefix("CLANG_VERSION=\""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("build.sh records CLANG_VERSION=\"…\"")
        .to_string()
}

/// The first line of `PROGRAM --version`, or `None` when it does not run.
fn version_line(program: &str) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.lines().next().unwrap_or("").trim().to_string())
}

#[test]
fn committed_objects_match_their_sources() {
    let Some(actual) = version_line("clang-14") else {
        eprintln!("SKIP committed_objects_match_their_sources: clang-14 not installed");
        return;
    };
    let recorded = recorded_clang_version();
    if actual != recorded {
        eprintln!(
            "SKIP committed_objects_match_their_sources: clang-14 is {actual:?}, the corpus \
             was built with {recorded:?}"
        );
        return;
    }
    if version_line("llvm-objdump-14").is_none()
        && version_line("/usr/lib/llvm-14/bin/llvm-objdump").is_none()
    {
        eprintln!("SKIP committed_objects_match_their_sources: llvm-objdump-14 not installed");
        return;
    }
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("corpus-rebuild-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let build = Command::new("bash")
        .arg(corpus_dir().join("build.sh"))
        .arg(&out_dir)
        .env("CLANG", "clang-14")
        .env_remove("OBJDUMP")
        .output()
        .expect("running bash build.sh");
    assert!(
        build.status.success(),
        "build.sh failed ({}): {}{}",
        build.status,
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    let mut stale = Vec::new();
    for obj in corpus_objects() {
        let dis = obj.replace(".o", ".dis");
        for file in [obj, dis] {
            let built = std::fs::read(out_dir.join(&file)).expect("rebuilt file");
            let committed = std::fs::read(corpus_dir().join(&file)).unwrap_or_default();
            if built != committed {
                stale.push(file);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(
        stale.is_empty(),
        "stale corpus files {stale:?}: rebuild with bash loader/tests/corpus/build.sh"
    );
}

/// A symbol of llvm-objdump's `SYMBOL TABLE:`.
#[derive(Debug, Clone)]
struct DisSymbol {
    name: String,
    section: String,
    /// Byte offset in its section.
    value: u64,
    /// Size in bytes.
    size: u64,
    /// `F` (function), `O` (object), `d`-flagged section symbols are `S`, else ` `.
    kind: char,
    global: bool,
}

/// A relocation printed under an instruction of the disassembly.
#[derive(Debug, Clone)]
struct DisReloc {
    section: String,
    /// Slot of the relocated instruction in its section.
    slot: usize,
    /// `R_BPF_64_64`, `R_BPF_64_32`, …
    kind: String,
    symbol: String,
    /// The instruction's immediate as printed (`r1 = 48 ll`, `call 8`).
    imm: i64,
}

/// What llvm-objdump recorded about one object.
#[derive(Debug, Default)]
struct Listing {
    symbols: Vec<DisSymbol>,
    relocs: Vec<DisReloc>,
    /// Sections that were disassembled (code sections).
    code_sections: BTreeSet<String>,
}

/// The immediate of a printed `lddw` (`r2 = 48 ll`) or `call` (`call -1`).
fn printed_imm(text: &str) -> Option<i64> {
    if let Some(rest) = text.strip_prefix("call ") {
        return rest.trim().parse().ok();
    }
    let value = text.strip_suffix(" ll")?.split(" = ").nth(1)?;
    value.trim().parse().ok()
}

/// Parses an `llvm-objdump -t -dr --no-show-raw-insn` listing.
fn parse_listing(text: &str) -> Listing {
    let mut listing = Listing::default();
    let mut in_symbols = false;
    let mut section = String::new();
    // (slot, text) of the last instruction, which a relocation line refers to.
    let mut last_insn: Option<(usize, String)> = None;
    for line in text.lines() {
        if line == "SYMBOL TABLE:" {
            in_symbols = true;
            continue;
        }
        if let Some(name) = line
            .strip_prefix("Disassembly of section ")
            .and_then(|l| l.strip_suffix(':'))
        {
            in_symbols = false;
            section = name.to_string();
            listing.code_sections.insert(section.clone());
            last_insn = None;
            continue;
        }
        if in_symbols {
            if line.is_empty() {
                in_symbols = false;
                continue;
            }
            // "0000000000000030 l     F .text\t0000000000000058 step"
            let value = u64::from_str_radix(&line[..16], 16).expect("symbol value");
            let flags: Vec<char> = line[17..24].chars().collect();
            let (sec, rest) = line[25..].split_once('\t').expect("symbol section");
            let (size, name) = rest.split_once(' ').expect("symbol size and name");
            // A visibility other than default is printed before the name.
            let name = [".hidden ", ".internal ", ".protected "]
                .iter()
                .find_map(|v| name.strip_prefix(v))
                .unwrap_or(name);
            let kind = if flags[5] == 'd' { 'S' } else { flags[6] };
            listing.symbols.push(DisSymbol {
                name: name.to_string(),
                section: sec.to_string(),
                value,
                size: u64::from_str_radix(size, 16).expect("symbol size"),
                kind,
                global: flags[0] == 'g',
            });
            continue;
        }
        if let Some(reloc) = line.strip_prefix("\t\t") {
            // "\t\t0000000000000028:  R_BPF_64_64\tweights"
            let (offset, rest) = reloc.split_once(":  ").expect("relocation offset");
            let (kind, symbol) = rest.split_once('\t').expect("relocation symbol");
            let offset = u64::from_str_radix(offset, 16).expect("relocation offset");
            let (slot, insn) = last_insn.clone().expect("relocation after an instruction");
            assert_eq!(offset / 8, slot as u64, "relocation {line:?} of {section}");
            listing.relocs.push(DisReloc {
                section: section.clone(),
                slot,
                kind: kind.to_string(),
                symbol: symbol.to_string(),
                imm: printed_imm(&insn).unwrap_or_else(|| panic!("immediate of {insn:?}")),
            });
            continue;
        }
        // "       7:\tr2 = 48 ll"
        if let Some((slot, insn)) = line.trim_start().split_once(":\t") {
            if let Ok(slot) = slot.parse::<usize>() {
                last_insn = Some((slot, insn.to_string()));
            }
        }
    }
    listing
}

impl Listing {
    /// The symbol a relocation names: a function or object symbol, else a section symbol.
    fn symbol(&self, name: &str) -> &DisSymbol {
        let found: Vec<&DisSymbol> = self.symbols.iter().filter(|s| s.name == name).collect();
        assert_eq!(found.len(), 1, "symbol {name} is not unique: {found:?}");
        found[0]
    }

    /// The function symbols (`F`) of a code section.
    fn functions(&self) -> impl Iterator<Item = &DisSymbol> {
        self.symbols
            .iter()
            .filter(|s| s.kind == 'F' && self.code_sections.contains(&s.section))
    }

    /// The function whose first slot is `slot` of `section`.
    fn function_at(&self, section: &str, slot: u64) -> Option<&DisSymbol> {
        self.functions()
            .find(|f| f.section == section && f.value / 8 == slot)
    }

    /// The function called `name`, preferring `.text`, then `section`.
    fn function_named(&self, name: &str, section: &str) -> Option<&DisSymbol> {
        let mut found: Vec<&DisSymbol> = self.functions().filter(|f| f.name == name).collect();
        found.sort_by_key(|f| (f.section != ".text", f.section != section));
        found.first().copied()
    }
}

/// Whether a section holds global data that the reader turns into a map named after it.
fn is_data_section(name: &str) -> bool {
    [".data", ".rodata", ".bss"]
        .iter()
        .any(|p| name == *p || name.starts_with(&format!("{p}.")))
}

/// A map reference LLVM's listing implies.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    name: String,
    kind: MapRefKind,
    /// What to print: function, section slot, symbol.
    origin: String,
}

/// Checks one parsed object against its listing; returns every mismatch found.
fn check_object(file: &str, obj: &Object, listing: &Listing) -> Vec<String> {
    let mut problems = Vec::new();
    // Every global function of a program section is a program.
    let expected_programs: BTreeSet<(String, String)> = listing
        .functions()
        .filter(|f| f.global && f.section != ".text")
        .map(|f| (f.section.clone(), f.name.clone()))
        .collect();
    let parsed_programs: BTreeSet<(String, String)> = obj
        .programs
        .iter()
        .map(|p| (p.section.clone(), p.name.clone()))
        .collect();
    if expected_programs != parsed_programs {
        problems.push(format!(
            "{file}: programs (section, name) are {parsed_programs:?}, llvm-objdump lists \
             {expected_programs:?}"
        ));
    }
    for p in &obj.programs {
        let Some(main) = listing.function_named(&p.name, &p.section) else {
            problems.push(format!("{file}: program {} is not in the listing", p.name));
            continue;
        };
        // (function, first slot in the program) of every function the program holds.
        let mut placed: Vec<(&DisSymbol, usize)> = vec![(main, 0)];
        for (name, start) in &p.subprograms {
            match listing.function_named(name, &p.section) {
                Some(f) => placed.push((f, *start)),
                None => problems.push(format!(
                    "{file}: program {}: subprogram {name} is not in the listing",
                    p.name
                )),
            }
        }
        let mut expected: BTreeMap<usize, Expected> = BTreeMap::new();
        let mut needed_functions: BTreeSet<String> = BTreeSet::new();
        for (f, base) in &placed {
            let first = (f.value / 8) as usize;
            let end = first + (f.size / 8) as usize;
            for r in listing
                .relocs
                .iter()
                .filter(|r| r.section == f.section && (first..end).contains(&r.slot))
            {
                let at = base + (r.slot - first);
                let origin = format!("{} slot {} ({} {})", f.name, r.slot, r.kind, r.symbol);
                let sym = listing.symbol(&r.symbol);
                if r.kind == "R_BPF_64_32" {
                    // A bpf-to-bpf call: target = symbol + (imm + 1) slots.
                    let target = (sym.value / 8) as i64 + r.imm + 1;
                    match listing.function_at(&sym.section, target as u64) {
                        Some(callee) => {
                            needed_functions.insert(callee.name.clone());
                        }
                        None => problems.push(format!("{file}: {origin}: no function at {target}")),
                    }
                    continue;
                }
                assert_eq!(r.kind, "R_BPF_64_64", "{file}: {origin}");
                if sym.section == ".maps" || sym.section == "maps" {
                    // A static map is relocated against the section symbol, its offset in
                    // imm: the map is the object symbol of that section at symbol + imm.
                    let name = if sym.kind == 'S' {
                        let at_off = sym.value as i64 + r.imm;
                        match listing.symbols.iter().find(|m| {
                            m.section == sym.section && m.kind != 'S' && m.value as i64 == at_off
                        }) {
                            Some(m) => m.name.clone(),
                            None => {
                                problems.push(format!(
                                    "{file}: {origin}: no map symbol at offset {at_off}"
                                ));
                                continue;
                            }
                        }
                    } else {
                        sym.name.clone()
                    };
                    if obj.map(&name).is_none() {
                        problems.push(format!("{file}: {origin}: no map {name} parsed"));
                    }
                    expected.insert(
                        at,
                        Expected {
                            name,
                            kind: MapRefKind::Fd,
                            origin,
                        },
                    );
                } else if is_data_section(&sym.section) {
                    let offset = sym.value as i64 + r.imm;
                    expected.insert(
                        at,
                        Expected {
                            name: sym.section.clone(),
                            kind: MapRefKind::Value {
                                offset: offset as u32,
                            },
                            origin,
                        },
                    );
                } else if sym.section == "*UND*" {
                    // A __kconfig extern: its place in libbpf's .kconfig map, as
                    // kconfig_externs.c works it out by libbpf's rules.
                    match KCONFIG_LAYOUT.iter().find(|(n, _)| *n == sym.name) {
                        Some(&(_, offset)) => {
                            expected.insert(
                                at,
                                Expected {
                                    name: ".kconfig".into(),
                                    kind: MapRefKind::Value { offset },
                                    origin,
                                },
                            );
                        }
                        None => problems.push(format!(
                            "{file}: {origin}: extern {} is not in KCONFIG_LAYOUT",
                            sym.name
                        )),
                    }
                } else if listing.code_sections.contains(&sym.section) {
                    // A callback's address: symbol + imm bytes.
                    let target = (sym.value as i64 + r.imm) / 8;
                    match listing.function_at(&sym.section, target as u64) {
                        Some(callee) => {
                            needed_functions.insert(callee.name.clone());
                        }
                        None => problems.push(format!("{file}: {origin}: no function at {target}")),
                    }
                } else {
                    problems.push(format!(
                        "{file}: {origin}: symbol in unexpected section {}",
                        sym.section
                    ));
                }
            }
        }
        let appended: BTreeSet<&str> = placed.iter().map(|(f, _)| f.name.as_str()).collect();
        for name in &needed_functions {
            if !appended.contains(name.as_str()) {
                problems.push(format!(
                    "{file}: program {}: {name} is called or passed as a callback but not \
                     appended (subprograms {:?})",
                    p.name, p.subprograms
                ));
            }
        }
        let actual: BTreeMap<usize, (&str, MapRefKind)> = p
            .program
            .map_refs()
            .iter()
            .map(|r| (r.insn, (r.name.as_str(), r.kind)))
            .collect();
        for (at, e) in &expected {
            match actual.get(at) {
                Some((name, kind)) if *name == e.name && *kind == e.kind => {}
                Some((name, kind)) => problems.push(format!(
                    "{file}: program {} slot {at}: map reference {name} {kind:?}, expected {} \
                     {:?} from {}",
                    p.name, e.name, e.kind, e.origin
                )),
                None => problems.push(format!(
                    "{file}: program {} slot {at}: no map reference, expected {} {:?} from {}",
                    p.name, e.name, e.kind, e.origin
                )),
            }
        }
        for (at, (name, kind)) in &actual {
            if !expected.contains_key(at) {
                problems.push(format!(
                    "{file}: program {} slot {at}: map reference {name} {kind:?} where \
                     llvm-objdump records no map relocation",
                    p.name
                ));
            }
        }
    }
    problems
}

#[test]
fn every_relocation_binds_as_llvm_records() {
    let mut problems = Vec::new();
    for file in corpus_objects() {
        let dir = corpus_dir();
        let bytes = std::fs::read(dir.join(&file)).expect("committed object");
        let dis = std::fs::read_to_string(dir.join(file.replace(".o", ".dis"))).expect("listing");
        let listing = parse_listing(&dis);
        match Object::parse(&bytes) {
            Ok(obj) => {
                if EXPECTED_REFUSALS.iter().any(|(f, _)| *f == file) {
                    problems.push(format!(
                        "{file}: parses, but EXPECTED_REFUSALS lists it: remove the entry"
                    ));
                }
                problems.extend(check_object(&file, &obj, &listing));
            }
            Err(e) => {
                let msg = e.to_string();
                let allowed = EXPECTED_REFUSALS
                    .iter()
                    .any(|(f, needle)| *f == file && msg.contains(needle));
                if allowed {
                    eprintln!("{file}: refused as expected: {msg}");
                } else {
                    problems.push(format!("{file}: the reader refuses it: {msg}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn listings_cover_every_object() {
    // Every source has its object and listing committed, and the listings parse.
    for file in corpus_objects() {
        let dis = corpus_dir().join(file.replace(".o", ".dis"));
        assert!(corpus_dir().join(&file).is_file(), "{file} missing");
        let listing = parse_listing(&std::fs::read_to_string(&dis).expect("listing"));
        assert!(
            listing.functions().next().is_some(),
            "{} lists no function",
            dis.display()
        );
    }
}

#[test]
fn section_names_carry_libbpf_program_flags() {
    // BPF_F_SLEEPABLE (1 << 4) for syscall and .s names, BPF_F_XDP_HAS_FRAGS (1 << 5).
    let bytes = std::fs::read(corpus_dir().join("flags_sections.o")).expect("committed object");
    let obj = Object::parse(&bytes).unwrap();
    let flags = |name: &str| {
        obj.program(name)
            .unwrap()
            .spec(&obj.license)
            .unwrap()
            .prog_flags
    };
    assert_eq!(flags("sleepable_syscall"), 1 << 4);
    assert_eq!(flags("sleepable_uprobe"), 1 << 4);
    assert_eq!(flags("frags_xdp"), 1 << 5);
}

#[test]
fn kconfig_externs_are_laid_out_as_libbpf_lays_them_out() {
    use loader::elf::{KconfigType, MapOrigin};
    let bytes = std::fs::read(corpus_dir().join("kconfig_externs.o")).expect("committed object");
    let obj = Object::parse(&bytes).unwrap();
    let m = obj.map(".kconfig").expect("a .kconfig map");
    assert_eq!(
        (m.spec.key_size, m.spec.value_size, m.spec.max_entries),
        (4, 22, 1)
    );
    assert_eq!(m.spec.flags, loader::elf::BPF_F_RDONLY_PROG);
    let MapOrigin::Kconfig { externs } = &m.origin else {
        panic!("{:?}", m.origin);
    };
    let layout: Vec<(&str, u32, u32, bool)> = externs
        .iter()
        .map(|e| (e.name.as_str(), e.offset, e.size, e.weak))
        .collect();
    assert_eq!(
        layout,
        [
            ("CONFIG_TCPBYPASS_ABSENT", 0, 8, true),
            ("LINUX_KERNEL_VERSION", 8, 4, false),
            ("LINUX_HAS_BPF_COOKIE", 12, 1, false),
            ("LINUX_HAS_SYSCALL_WRAPPER", 13, 1, false),
            ("CONFIG_TCPBYPASS_ABSENT_STR", 14, 8, true),
        ]
    );
    assert_eq!(externs[0].kind, KconfigType::Int { signed: false });
    assert_eq!(externs[2].kind, KconfigType::Bool);
    assert_eq!(externs[4].kind, KconfigType::CharArray);
    // Each extern's lddw reads its place in .kconfig, in source order.
    let p = obj.program("read_kconfig").unwrap();
    let refs: Vec<(String, MapRefKind)> = p
        .program
        .map_refs()
        .iter()
        .map(|r| (r.name.clone(), r.kind))
        .collect();
    let kconfig_offsets: Vec<u32> = refs
        .iter()
        .filter(|(n, _)| n == ".kconfig")
        .map(|(_, k)| match k {
            MapRefKind::Value { offset } => *offset,
            k => panic!("{k:?}"),
        })
        .collect();
    assert_eq!(kconfig_offsets, [8, 12, 13, 0, 14]);
    // The BTF the kernel gets has them allocated at those offsets (an extern VAR is refused).
    assert!(obj.btf.is_some());
}
