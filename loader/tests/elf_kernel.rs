//! Kernel tests of ELF objects (root): objects written by our writer load with our loader,
//! global data maps hold their initial content, and, when `bpftool` is installed, libbpf (via
//! `bpftool prog loadall`) loads the same objects to programs with the same tags as our own
//! load. A C program is compiled at test time only if clang is installed. Skips print a
//! reason; with TCPBYPASS_REQUIRE_KERNEL=1 a missing kernel fails (bpftool and clang stay
//! optional).

mod elf_samples;

use std::path::{Path, PathBuf};
use std::process::Command;

use loader::elf::{MapOrigin, Object, ObjectExt, ObjectProgramExt};
use loader::testing::{kernel_or_skip, TempPinDir};
use loader::{Map, Program};

macro_rules! require_kernel {
    ($name:expr) => {
        if !kernel_or_skip($name) {
            return;
        }
    };
}

fn data(name: &str) -> PathBuf {
    loader::testing::runtime_path("CARGO_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Loads every program of the object with our loader: name → kernel tag.
fn our_tags(obj: &Object) -> Vec<(String, String)> {
    let loaded = obj.load().unwrap_or_else(|e| panic!("loading: {e:#}"));
    assert_eq!(loaded.programs.len(), obj.programs.len());
    obj.programs
        .iter()
        .zip(&loaded.programs)
        .map(|(p, l)| {
            let tag = l.cached_info().tag_hex();
            // The kernel hashes what we parsed.
            assert!(
                asm::tag::matching_algorithm(p.program.insns(), &l.tag()).is_some(),
                "{}: kernel tag {tag} is not a hash of the parsed instructions",
                p.name
            );
            (p.name.clone(), tag)
        })
        .collect()
}

#[test]
fn our_objects_load_with_our_loader() {
    require_kernel!("our_objects_load_with_our_loader");
    for name in [
        "sockops_btf.o",
        "sockops_legacy.o",
        "mixed.o",
        "tcpbypass.o",
    ] {
        let obj = Object::read_file(data(name)).unwrap();
        assert!(!obj.programs.is_empty(), "{name}");
        let tags = our_tags(&obj);
        assert_eq!(tags.len(), obj.programs.len());
        eprintln!("{name}: {tags:?}");
    }
}

#[test]
fn global_data_maps_hold_their_initial_content() {
    require_kernel!("global_data_maps_hold_their_initial_content");
    let obj = Object::read_file(data("mixed.o")).unwrap();
    let maps = obj.create_maps().unwrap();
    let rodata = maps.iter().find(|m| m.name() == ".rodata").unwrap();
    let v = rodata.get(&0u32.to_ne_bytes()).unwrap().unwrap();
    let MapOrigin::GlobalData { init } = &obj.map(".rodata").unwrap().origin else {
        panic!("not global data")
    };
    assert_eq!(&v, init);
    assert_eq!(&v[4..8], &1500u32.to_le_bytes());
    // And a program using them loads against these maps.
    let refs: Vec<&Map> = maps.iter().collect();
    let p = obj.program("filter_a").unwrap();
    Program::load(&p.spec(&obj.license).unwrap(), &p.program, &refs).unwrap();
}

fn bpftool() -> Option<PathBuf> {
    for p in [
        "/usr/sbin/bpftool",
        "/usr/bin/bpftool",
        "/sbin/bpftool",
        "/usr/local/sbin/bpftool",
    ] {
        if Path::new(p).exists() {
            return Some(PathBuf::from(p));
        }
    }
    None
}

/// `bpftool prog loadall` of `object` under a temporary pin dir: name → tag of each pinned
/// program. The pins go with the directory.
fn bpftool_tags(tool: &Path, object: &Path) -> Vec<(String, String)> {
    let dir = TempPinDir::new().unwrap();
    let target = dir.join("loadall");
    let out = Command::new(tool)
        .arg("prog")
        .arg("loadall")
        .arg(object)
        .arg(&target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bpftool prog loadall {} failed: {}",
        object.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut tags = Vec::new();
    for e in std::fs::read_dir(&target).unwrap() {
        let e = e.unwrap();
        let p = Program::open_pinned(e.path()).unwrap();
        tags.push((
            e.file_name().to_string_lossy().into_owned(),
            p.cached_info().tag_hex(),
        ));
    }
    tags.sort();
    tags
}

#[test]
fn bpftool_loads_our_objects_with_the_same_tags() {
    require_kernel!("bpftool_loads_our_objects_with_the_same_tags");
    let Some(tool) = bpftool() else {
        eprintln!("SKIP bpftool_loads_our_objects_with_the_same_tags: bpftool is not installed");
        return;
    };
    // mixed.o is left out: its pinned-by-name map would be pinned at /sys/fs/bpf/msg_count.
    for name in ["sockops_btf.o", "tcpbypass.o"] {
        let obj = Object::read_file(data(name)).unwrap();
        let mut ours = our_tags(&obj);
        ours.sort();
        let theirs = bpftool_tags(&tool, &data(name));
        assert_eq!(theirs, ours, "{name}: libbpf's programs differ from ours");
    }
}

#[test]
fn a_clang_compiled_program_loads_if_clang_is_installed() {
    require_kernel!("a_clang_compiled_program_loads_if_clang_is_installed");
    let clang = [
        "clang", "clang-19", "clang-18", "clang-17", "clang-16", "clang-15", "clang-14",
    ]
    .into_iter()
    .find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(clang) = clang else {
        eprintln!(
            "SKIP a_clang_compiled_program_loads_if_clang_is_installed: clang is not installed"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("tcpbypass-elf-clang-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("prog.c");
    std::fs::write(
        &src,
        r#"
typedef unsigned int u32;
typedef unsigned long long u64;
#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
struct { __uint(type, 2); __type(key, u32); __type(value, u64); __uint(max_entries, 4); }
    counts SEC(".maps");
static void *(*map_lookup)(void *map, const void *key) = (void *)1;
const volatile u32 limit = 3;
u64 total;
static __attribute__((noinline)) u32 pick(u32 op) { return op > limit ? limit : op; }
SEC("sockops") int count_ops(u32 *ctx) {
    u32 k = pick(*ctx);
    u64 *v = map_lookup(&counts, &k);
    if (v) __sync_fetch_and_add(v, 1);
    total += 1;
    return 1;
}
char _license[] SEC("license") = "GPL";
"#,
    )
    .unwrap();
    let obj_path = dir.join("prog.o");
    let out = Command::new(clang)
        .args(["-O2", "-g", "-target", "bpf", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "clang: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let obj = Object::read_file(&obj_path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let p = obj.program("count_ops").unwrap();
    assert!(
        p.subprograms.iter().any(|s| s.0 == "pick"),
        "{:?}",
        p.subprograms
    );
    assert!(obj.map("counts").is_some());
    assert!(obj.maps.iter().any(|m| m.spec.name.starts_with(".rodata")));
    our_tags(&obj);
}

#[test]
fn a_map_the_kernel_refuses_is_named_and_perf_arrays_get_a_slot_per_cpu() {
    require_kernel!("a_map_the_kernel_refuses_is_named_and_perf_arrays_get_a_slot_per_cpu");
    use loader::elf::Writer;
    use loader::{MapSpec, MapType};
    let mut b = asm::Builder::new();
    b.ld_map(asm::Reg::R1, "empty_hash")
        .mov64(asm::Reg::R0, 0)
        .exit();
    let prog = b.build().unwrap();
    // A hash of 0 entries: EINVAL from BPF_MAP_CREATE, which must say which map.
    let bytes = Writer::new("GPL")
        .map(&MapSpec::new("empty_hash", MapType::Hash, 4, 4, 0))
        .program("socket", "f", &prog)
        .finish()
        .unwrap();
    let obj = Object::parse(&bytes).unwrap();
    let e = obj.load().unwrap_err().to_string();
    assert!(
        e.contains("map empty_hash") && e.contains("BPF_MAP_CREATE"),
        "{e}"
    );
    // A perf event array without max_entries: one slot per possible CPU, as libbpf makes it.
    let mut b = asm::Builder::new();
    b.ld_map(asm::Reg::R1, "events")
        .mov64(asm::Reg::R0, 0)
        .exit();
    let bytes = Writer::new("GPL")
        .map(&MapSpec::new("events", MapType::PerfEventArray, 4, 4, 0))
        .program("socket", "f", &b.build().unwrap())
        .finish()
        .unwrap();
    let loaded = Object::parse(&bytes).unwrap().load().unwrap();
    assert_eq!(
        loaded.maps[0].max_entries() as usize,
        loader::env::possible_cpus().unwrap()
    );
}
