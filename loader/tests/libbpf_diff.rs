//! Differential test of our ELF loader against libbpf (root, kernel tier).
//!
//! For every object in `tests/corpus/*.o` and `tests/data/*.o` (whatever is there when the test
//! runs), libbpf (through `bpftool prog loadall`) and our loader ([`Object::read_file`] +
//! [`Object::load`]) each load the object on this kernel, and the test compares what the
//! **kernel** holds afterwards, not program tags: a tag hashes the instructions with map fds
//! zeroed, so it cannot tell a program bound to the wrong map from a right one.
//!
//! Per object, it proves that:
//!
//! - both loaders accept it, or both reject it;
//! - both load the same set of programs (by name), of the same program type;
//! - each program references the same maps: the kernel's `map_ids` of the program, turned into
//!   the maps' kernel names, are the same set;
//! - each program's translated instructions (`xlated`, what the verifier left, as
//!   `BPF_OBJ_GET_INFO_BY_FD` shows them) are the same, once every map load's map id is
//!   replaced by that map's kernel name. So a map reference bound to another map, a wrong value
//!   offset into `.rodata`/`.data`/`.bss`, a wrong subprogram order or a wrong relocation all
//!   show up, and helper calls, jumps and the verifier's rewrites are compared as they are (both
//!   loads run on the same kernel).
//!
//! libbpf's side runs in a private mount namespace (`unshare -m --propagation private`) that
//! has its own bpffs at a fresh temporary directory, where `bpftool prog loadall` pins the
//! programs, and its own bpffs over `/sys/fs/bpf`, where libbpf pins maps declared with
//! `pinning = LIBBPF_PIN_BY_NAME` and where `pinmaps` pins every other map (so that no map
//! loses its last user reference while the shell still opens it by id: see the script).
//! Nothing is pinned on the host: the pins, and with them the programs and maps, go away when
//! the namespace's last process exits. Inside the namespace
//! the shell writes, for each pinned program, `bpftool -j prog show` (name, type, map ids),
//! `bpftool -j map show id N` of each of its maps and the raw `xlated` bytes into a temporary
//! directory outside the bpffs, which this test parses afterwards. Our side holds its maps and
//! programs as fds, dropped (and so freed) after each object. Nothing is attached.
//!
//! Map names are compared the way the two loaders name maps: libbpf prefixes the global data
//! maps `.rodata`, `.data`, `.bss` with up to 8 bytes of the object's name (`mixed.rodata`),
//! we do not (`.rodata`); names holding a `.` are compared from their first `.`, and a name
//! the kernel cut at 15 bytes matches any name it starts. libbpf also binds every `.rodata*`
//! map of an object to every program (`BPF_PROG_BIND_MAP`, so `bpftool prog show` finds the
//! `bpf_metadata_*` variables), which puts it in the program's `map_ids` even when no
//! instruction loads it; such a binding is left out of the map comparison when our program
//! does not hold that map. Finally, a plain `lddw` of a kernel address is one the verifier
//! inserted (`r3 = prog->aux` before `bpf_timer_set_callback`): its value changes with every
//! load, libbpf's own included, so only its place is compared.
//!
//! The test prints a table (object, both verdicts, programs and map references compared,
//! agreement) and `libbpf agreement: K of N objects` to stderr, and fails when an object
//! disagrees, unless [`EXPECTED_DISAGREEMENTS`] names it with a substring of the reason; an
//! entry whose object agrees (or is gone) fails too, so the table stays true.
//!
//! Extra objects: `TCPBYPASS_ELF_EXTRA=dir1:dir2` (a `:`-separated list, as `PATH`) adds every
//! `*.o` of those directories to the same comparison. They are loaded, compared and printed in
//! the table like the others (under their full path), but a disagreement of theirs does not
//! fail the test: they are listed after the table under "extra objects that disagree", and
//! [`EXPECTED_DISAGREEMENTS`] does not apply to them. With `TCPBYPASS_ELF_EXTRA_STRICT=1` their
//! disagreements fail the test like any other. A named directory that cannot be read fails the
//! test (a typo would otherwise compare nothing); empty entries are ignored. For example, to
//! compare objects clang built from other projects' sources:
//! `TCPBYPASS_ELF_EXTRA=/tmp/objs cargo test --release -p loader --test libbpf_diff -- --nocapture`.
//!
//! Skips (printed): `bpf()` unusable (a failure with `TCPBYPASS_REQUIRE_KERNEL=1`), `bpftool`,
//! `unshare` or `mount` not installed (also a failure with `TCPBYPASS_REQUIRE_KERNEL=1`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use asm::Insn;
use loader::elf::{Object, ObjectExt};
use loader::testing::{kernel_or_skip, REQUIRE_KERNEL_ENV};
use loader::Map;

/// Objects on which libbpf and our loader are known to disagree by design: `(object file
/// name, a substring of the disagreement's reason)`. Each entry says why; docs/elf.md
/// documents them.
const EXPECTED_DISAGREEMENTS: &[(&str, &str)] = &[
    // Legacy `struct bpf_map_def` maps in a `maps` section: libbpf >= 1.0 refuses them
    // ("legacy map definitions in 'maps' section are not supported by libbpf v1.0+"), our
    // reader takes them on purpose (docs/elf.md, "maps"; the writer's MapFormat::Legacy).
    ("sockops_legacy.o", "legacy map definitions"),
    // The corpus's C fixture of the same: `struct bpf_map_def` maps in `maps`.
    ("legacy_maps.o", "legacy map definitions"),
    // The same, with a static legacy map (relocated against the section symbol + imm).
    ("static_legacy_map.o", "legacy map definitions"),
];

/// `:`-separated directories whose `*.o` are compared too, reporting their disagreements
/// instead of failing (see the module doc).
const EXTRA_ENV: &str = "TCPBYPASS_ELF_EXTRA";
/// `1`: the extra objects' disagreements fail the test.
const EXTRA_STRICT_ENV: &str = "TCPBYPASS_ELF_EXTRA_STRICT";

/// `lddw` (`BPF_LD | BPF_IMM | BPF_DW`).
const LDDW: u8 = 0x18;
/// `src` values of an `lddw` whose `imm` names a map: `BPF_PSEUDO_MAP_FD`,
/// `BPF_PSEUDO_MAP_VALUE`, `BPF_PSEUDO_MAP_IDX`, `BPF_PSEUDO_MAP_IDX_VALUE`. In `xlated`
/// output the kernel shows the map's id there (and the value offset in the second slot).
const MAP_PSEUDO_SRCS: [u8; 4] = [1, 2, 5, 6];
/// The kernel keeps object names to this many bytes (`BPF_OBJ_NAME_LEN - 1`).
const KERNEL_NAME_LEN: usize = 15;
/// libbpf's names of program types (`prog_type_name[]` of libbpf 1.1), by UAPI number: what
/// `bpftool -j prog show` prints as `type` (a type beyond the table is printed as a number).
const PROG_TYPE_NAMES: &[&str] = &[
    "unspec",
    "socket_filter",
    "kprobe",
    "sched_cls",
    "sched_act",
    "tracepoint",
    "xdp",
    "perf_event",
    "cgroup_skb",
    "cgroup_sock",
    "lwt_in",
    "lwt_out",
    "lwt_xmit",
    "sock_ops",
    "sk_skb",
    "cgroup_device",
    "sk_msg",
    "raw_tracepoint",
    "cgroup_sock_addr",
    "lwt_seg6local",
    "lirc_mode2",
    "sk_reuseport",
    "flow_dissector",
    "cgroup_sysctl",
    "raw_tracepoint_writable",
    "cgroup_sockopt",
    "tracing",
    "struct_ops",
    "ext",
    "lsm",
    "sk_lookup",
    "syscall",
];

// ---- what a loader left in the kernel --------------------------------------------------------

/// One loaded program as the kernel shows it.
#[derive(Debug)]
struct LoadedProg {
    /// The program's full name (libbpf's pin name, our `ObjectProgram::name`).
    name: String,
    /// The program type, as libbpf names it.
    prog_type: String,
    /// Kernel map id → kernel map name, for every map of the program's `map_ids`.
    maps: BTreeMap<u32, String>,
    /// The raw `xlated` slots.
    xlated: Vec<Insn>,
}

/// What one loader did with one object.
#[derive(Debug)]
enum Verdict {
    /// Every program loaded.
    Loads(Vec<LoadedProg>),
    /// The object was refused; the reason.
    Rejects(String),
}

impl Verdict {
    fn short(&self) -> String {
        match self {
            Verdict::Loads(p) => format!("loads {}", p.len()),
            Verdict::Rejects(_) => "rejects".to_string(),
        }
    }
}

// ---- libbpf's side ------------------------------------------------------------------------

/// The script run in the private mount namespace. Arguments: bpftool, object, bpffs directory,
/// output directory. Exit 0 with `status` written: bpftool ran (its exit status and stderr are
/// in `status` and `stderr`); any other exit: the harness failed (the message on stderr).
const NAMESPACE_SCRIPT: &str = r#"
set -u
bpftool=$1 obj=$2 fs=$3 out=$4
mount -t bpf bpf "$fs" || { echo "cannot mount a bpffs at $fs" >&2; exit 90; }
# libbpf pins `pinning = LIBBPF_PIN_BY_NAME` maps under /sys/fs/bpf: give this namespace a
# bpffs of its own there, so nothing reaches the host's.
if [ -d /sys/fs/bpf ]; then
    mount -t bpf bpf /sys/fs/bpf || { echo "cannot mount a bpffs at /sys/fs/bpf" >&2; exit 91; }
    maps=/sys/fs/bpf
else
    maps=$fs/m
    mkdir "$maps" || exit 91
fi
# Every map is pinned too (`pinmaps`, next to the by-name pins, where libbpf accepts them), so
# that a map keeps a user reference after bpftool exits: reopening a map whose last user
# reference is gone makes the kernel release it a second time, and for a PROG_ARRAY that
# leaks the map (prog_array_map_clear takes a reference for its work item even when the work
# is already queued). Measured on 6.18: `bpftool map show id` after a plain loadall of
# corpus/tail_calls.o left its `stages` map behind 12 times in 20, with pinmaps 0 in 30.
"$bpftool" prog loadall "$obj" "$fs/p" pinmaps "$maps" 2> "$out/stderr"
echo $? > "$out/status"
[ -d "$fs/p" ] || exit 0
for f in "$fs"/p/*; do
    [ -e "$f" ] || continue
    n=${f##*/}
    "$bpftool" -j prog show pinned "$f" > "$out/prog.$n.json" || exit 92
    "$bpftool" prog dump xlated pinned "$f" file "$out/prog.$n.xlated" > /dev/null || exit 93
    for id in $(sed -n 's/.*"map_ids":\[\([0-9,]*\)\].*/\1/p' "$out/prog.$n.json" | tr , ' '); do
        [ -e "$out/map.$id.json" ] && continue
        "$bpftool" -j map show id "$id" > "$out/map.$id.json" || exit 94
    done
done
"#;

/// The tools libbpf's side needs.
struct Tools {
    bpftool: PathBuf,
    unshare: PathBuf,
}

/// Looks for an executable in `$PATH` and the sbin directories (bpftool lives in /usr/sbin).
fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh empty directory under the temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "tcpbypass-libbpf-diff-{}-{}-{what}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&p).unwrap_or_else(|e| panic!("creating {}: {e}", p.display()));
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // The bpffs mounted on it lived in the namespace only: the directory is empty here.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Loads `object` with `bpftool prog loadall` in a private mount namespace and reads what the
/// kernel held. Panics when the harness itself fails (a mount, a bpftool query).
fn libbpf_load(tools: &Tools, object: &Path) -> Verdict {
    let fs = TempDir::new("bpffs");
    let out = TempDir::new("out");
    let run = Command::new(&tools.unshare)
        .args([
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            NAMESPACE_SCRIPT,
            "sh",
        ])
        .arg(&tools.bpftool)
        .arg(object)
        .arg(&fs.0)
        .arg(&out.0)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", tools.unshare.display()));
    let status = std::fs::read_to_string(out.0.join("status")).ok();
    let (true, Some(status)) = (run.status.success(), status) else {
        panic!(
            "libbpf side of {}: the namespace script failed ({}): {}",
            object.display(),
            run.status,
            String::from_utf8_lossy(&run.stderr)
        );
    };
    let stderr = std::fs::read_to_string(out.0.join("stderr")).unwrap_or_default();
    if status.trim() != "0" {
        return Verdict::Rejects(format!(
            "bpftool exit {}: {}",
            status.trim(),
            libbpf_reason(&stderr)
        ));
    }

    let mut progs = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&out.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    for file in entries {
        let Some(name) = file
            .strip_prefix("prog.")
            .and_then(|f| f.strip_suffix(".json"))
        else {
            continue;
        };
        let info = read_json(&out.0.join(&file));
        let prog_type = match info.get("type") {
            Some(Json::Str(s)) => s.clone(),
            Some(Json::Num(n)) => prog_type_name(*n as u32),
            other => panic!("{file}: no program type: {other:?}"),
        };
        let mut maps = BTreeMap::new();
        for id in info.get("map_ids").map(Json::array).unwrap_or_default() {
            let id = id.num() as u32;
            let map = read_json(&out.0.join(format!("map.{id}.json")));
            let map_name = map
                .get("name")
                .map(|n| n.str().to_string())
                .unwrap_or_default();
            maps.insert(id, map_name);
        }
        let raw = std::fs::read(out.0.join(format!("prog.{name}.xlated")))
            .unwrap_or_else(|e| panic!("{name}: reading bpftool's xlated dump: {e}"));
        assert!(
            !raw.is_empty(),
            "{name}: bpftool's xlated dump is empty (the kernel hides it from this process)"
        );
        progs.push(LoadedProg {
            name: name.to_string(),
            prog_type,
            maps,
            xlated: decode_slots(&raw),
        });
    }
    Verdict::Loads(progs)
}

/// The lines of bpftool's stderr that say why libbpf refused: the verifier's last line (the
/// one before `-- END PROG LOAD LOG --`) and the last `libbpf:` and `Error:` lines.
fn libbpf_reason(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut parts = Vec::new();
    if let Some(end) = lines
        .iter()
        .position(|l| l.contains("-- END PROG LOAD LOG --"))
    {
        // The verifier log's summary line ("processed N insns …") comes last; the reason is
        // the last line before it that is not a summary.
        if let Some(l) = lines[..end]
            .iter()
            .rev()
            .find(|l| !l.starts_with("processed ") && !l.starts_with("verification time"))
        {
            parts.push(format!("verifier: {l}"));
        }
    }
    let tail: Vec<&str> = lines
        .iter()
        .rev()
        .filter(|l| l.starts_with("libbpf:") || l.starts_with("Error:"))
        .take(3)
        .copied()
        .collect();
    parts.extend(tail.into_iter().rev().map(str::to_string));
    if parts.is_empty() {
        parts.extend(lines.iter().rev().take(3).rev().map(|l| l.to_string()));
    }
    parts.join(" / ")
}

fn prog_type_name(n: u32) -> String {
    PROG_TYPE_NAMES
        .get(n as usize)
        .map_or_else(|| n.to_string(), |s| s.to_string())
}

fn decode_slots(raw: &[u8]) -> Vec<Insn> {
    raw.chunks_exact(8)
        .map(|c| Insn::decode(c.try_into().unwrap()))
        .collect()
}

// ---- our side -------------------------------------------------------------------------------

/// Reads and loads `object` with our loader and reads what the kernel holds; everything is
/// dropped (and so freed) before returning.
fn our_load(object: &Path) -> Verdict {
    let obj = match Object::read_file(object) {
        Ok(o) => o,
        Err(e) => return Verdict::Rejects(format!("read: {}", one_line(&e))),
    };
    let loaded = match obj.load() {
        Ok(l) => l,
        Err(e) => return Verdict::Rejects(format!("load: {}", one_line(&e))),
    };
    assert_eq!(loaded.programs.len(), obj.programs.len());
    let mut progs = Vec::new();
    for (p, l) in obj.programs.iter().zip(&loaded.programs) {
        let info = l
            .info()
            .unwrap_or_else(|e| panic!("{}: program info: {e}", p.name));
        let mut maps = BTreeMap::new();
        for &id in &info.map_ids {
            let m = Map::from_id(id).unwrap_or_else(|e| panic!("{}: map {id}: {e}", p.name));
            maps.insert(id, m.cached_info().name.clone());
        }
        let xlated = l
            .xlated()
            .unwrap_or_else(|e| panic!("{}: xlated: {e}", p.name));
        assert!(
            !xlated.is_empty(),
            "{}: the kernel shows no xlated instructions to this process",
            p.name
        );
        progs.push(LoadedProg {
            name: p.name.clone(),
            prog_type: prog_type_name(info.prog_type.raw()),
            maps,
            xlated,
        });
    }
    Verdict::Loads(progs)
}

/// An error's text on one line (a verifier error adds the failing instruction on a second).
fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}

// ---- normalisation and comparison ---------------------------------------------------------

/// A map name as the other loader may have it: from the first `.` for global data
/// (`mixed.rodata` → `.rodata`), unchanged otherwise.
fn canonical_map_name(name: &str) -> &str {
    name.find('.').map_or(name, |i| &name[i..])
}

/// Whether two kernel map names name the same map of the object (see the module doc).
fn same_map_name(a: &str, b: &str) -> bool {
    let (ca, cb) = (canonical_map_name(a), canonical_map_name(b));
    if ca == cb {
        return true;
    }
    // The kernel keeps 15 bytes: a name cut there matches any longer name it starts.
    let (short, short_raw, long) = if ca.len() <= cb.len() {
        (ca, a, cb)
    } else {
        (cb, b, ca)
    };
    // Only a name without libbpf's object prefix can have been cut: `<8 bytes>.rodata` is
    // exactly 15 bytes and whole, and libbpf never prefixes `.rodata.str1.1`-like names.
    let unprefixed = short_raw.starts_with('.') || !short_raw.contains('.');
    short_raw.len() == KERNEL_NAME_LEN && unprefixed && long.starts_with(short)
}

/// One instruction of `xlated` output, normalised: a map load's id replaced by the map's
/// name.
#[derive(Debug, Clone)]
struct NormInsn {
    /// The slot it starts at.
    slot: usize,
    /// The instruction, with `imm = 0` when it loads a map.
    insn: Insn,
    /// The second slot of an `lddw` (its `imm` is a map value's offset for map values).
    next: Option<Insn>,
    /// The kernel name of the map it loads.
    map: Option<String>,
    /// A plain `lddw` of a kernel address the verifier inserted (see [`is_kernel_pointer`]);
    /// its value is left out.
    kernel_pointer: bool,
    /// The instruction as the kernel showed it, for messages.
    raw: Insn,
    /// The second slot as the kernel showed it.
    raw_next: Option<Insn>,
}

impl NormInsn {
    fn same_as(&self, other: &NormInsn) -> bool {
        self.insn == other.insn
            && self.next == other.next
            && self.kernel_pointer == other.kernel_pointer
            && match (&self.map, &other.map) {
                (None, None) => true,
                (Some(a), Some(b)) => same_map_name(a, b),
                _ => false,
            }
    }

    fn text(&self) -> String {
        let mut s = asm::disasm::format_insn_with_code(&self.raw, self.raw_next.as_ref());
        if let Some(m) = &self.map {
            let _ = write!(s, "   ; map {m:?}");
        }
        if self.kernel_pointer {
            s.push_str("   ; kernel pointer, not compared");
        }
        s
    }
}

/// Whether an `lddw` is a plain 64-bit load (`src` 0) of an address in the kernel's half of
/// the address space. The verifier inserts such loads, with addresses that differ from one
/// load to the next even for the same loader: `bpf_timer_set_callback` gets
/// `r3 = prog->aux` (`do_misc_fixups`), `bpf_obj_new` its struct meta, and so on. A compiled
/// program's own constants are not expected up there.
fn is_kernel_pointer(lddw: &Insn, next: Option<&Insn>) -> bool {
    let hi = next.map_or(0, |n| n.imm as u32);
    let value = (u64::from(hi) << 32) | u64::from(lddw.imm as u32);
    // Kernel addresses have the top byte 0xff on x86_64 (0xffff8… with 4-level paging,
    // 0xff11… with 5-level, as TCG guests with `-cpu max` boot) and arm64 (48- or 52-bit).
    lddw.src == 0 && value >> 56 == 0xff
}

fn normalise(p: &LoadedProg) -> Vec<NormInsn> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.xlated.len() {
        let raw = p.xlated[i];
        let mut insn = raw;
        let raw_next = (raw.code == LDDW)
            .then(|| p.xlated.get(i + 1).copied())
            .flatten();
        let mut next = raw_next;
        let mut map = None;
        let mut kernel_pointer = false;
        if raw.code == LDDW {
            if is_kernel_pointer(&raw, next.as_ref()) {
                kernel_pointer = true;
                insn.imm = 0;
                next = next.map(|n| Insn { imm: 0, ..n });
            } else if MAP_PSEUDO_SRCS.contains(&raw.src) {
                let id = raw.imm as u32;
                map = Some(
                    p.maps
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| format!("<map id {id} not in map_ids>")),
                );
                insn.imm = 0;
            }
        }
        out.push(NormInsn {
            slot: i,
            insn,
            next,
            map,
            kernel_pointer,
            raw,
            raw_next,
        });
        i += if raw.code == LDDW { 2 } else { 1 };
    }
    out
}

/// Whether two sets of map names are the same (under [`same_map_name`]).
fn same_map_sets(a: &[&String], b: &[&String]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut unused: Vec<&String> = b.to_vec();
    a.iter().all(|x| {
        let pos = unused.iter().position(|y| same_map_name(x, y));
        pos.map(|p| unused.remove(p)).is_some()
    })
}

/// The comparison of one object.
struct Row {
    object: String,
    libbpf: String,
    ours: String,
    programs: usize,
    maps: usize,
    map_refs: usize,
    /// Why the loaders disagree; empty when they agree.
    problems: Vec<String>,
    /// Explanations printed after the table (first differing instruction, …).
    details: String,
    millis: u128,
    /// From a `TCPBYPASS_ELF_EXTRA` directory: a disagreement is reported, not a failure
    /// (unless `TCPBYPASS_ELF_EXTRA_STRICT=1`).
    extra: bool,
}

fn compare(object: &str, theirs: &Verdict, ours: &Verdict) -> Row {
    let mut row = Row {
        object: object.to_string(),
        libbpf: theirs.short(),
        ours: ours.short(),
        programs: 0,
        maps: 0,
        map_refs: 0,
        problems: Vec::new(),
        details: String::new(),
        millis: 0,
        extra: false,
    };
    let (theirs, ours) = match (theirs, ours) {
        (Verdict::Rejects(a), Verdict::Rejects(b)) => {
            let _ = writeln!(row.details, "  libbpf rejects: {a}\n  we reject: {b}");
            return row;
        }
        (Verdict::Rejects(a), Verdict::Loads(_)) => {
            row.problems.push(format!("libbpf rejects ({a}), we load"));
            return row;
        }
        (Verdict::Loads(_), Verdict::Rejects(b)) => {
            row.problems.push(format!("we reject ({b}), libbpf loads"));
            return row;
        }
        (Verdict::Loads(a), Verdict::Loads(b)) => (a, b),
    };

    let by_name = |v: &'_ [LoadedProg]| -> BTreeMap<String, usize> {
        v.iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect()
    };
    let (tn, on) = (by_name(theirs), by_name(ours));
    let only_theirs: Vec<&String> = tn.keys().filter(|n| !on.contains_key(*n)).collect();
    let only_ours: Vec<&String> = on.keys().filter(|n| !tn.contains_key(*n)).collect();
    if !only_theirs.is_empty() || !only_ours.is_empty() {
        row.problems.push(format!(
            "programs only libbpf loads: {only_theirs:?}, only we load: {only_ours:?}"
        ));
    }

    for (name, &ti) in &tn {
        let Some(&oi) = on.get(name) else { continue };
        let (t, o) = (&theirs[ti], &ours[oi]);
        row.programs += 1;
        if t.prog_type != o.prog_type {
            row.problems.push(format!(
                "{name}: type {} (libbpf) vs {} (ours)",
                t.prog_type, o.prog_type
            ));
        }

        let (tx, ox) = (normalise(t), normalise(o));
        let om: Vec<&String> = o.maps.values().collect();
        // libbpf binds every `.rodata*` map of the object to every program
        // (`BPF_PROG_BIND_MAP` after the load, for bpftool's `bpf_metadata_*` display), so its
        // `map_ids` hold them even where no instruction loads them; we bind only what the
        // instructions reference. Such a map is left out when nothing in libbpf's
        // instructions loads it and our program does not hold it.
        let referenced: Vec<&String> = tx.iter().filter_map(|i| i.map.as_ref()).collect();
        let (tm, bound_only): (Vec<&String>, Vec<&String>) = t.maps.values().partition(|n| {
            !canonical_map_name(n).starts_with(".rodata")
                || referenced.contains(n)
                || om.iter().any(|m| same_map_name(n, m))
        });
        if !bound_only.is_empty() {
            let _ = writeln!(
                row.details,
                "  {name}: libbpf bound {bound_only:?} without referencing it \
                 (BPF_PROG_BIND_MAP of .rodata): not compared"
            );
        }
        row.maps += tm.len();
        if !same_map_sets(&tm, &om) {
            row.problems
                .push(format!("{name}: maps {tm:?} (libbpf) vs {om:?} (ours)"));
        }

        row.map_refs += tx.iter().filter(|i| i.map.is_some()).count();
        let first_diff = (0..tx.len().max(ox.len())).find(|&k| match (tx.get(k), ox.get(k)) {
            (Some(a), Some(b)) => !a.same_as(b),
            _ => true,
        });
        if let Some(k) = first_diff {
            let differing = tx.iter().zip(&ox).filter(|(a, b)| !a.same_as(b)).count()
                + tx.len().abs_diff(ox.len());
            let side = |v: &[NormInsn]| {
                v.get(k).map_or("(end of program)".to_string(), |i| {
                    format!("{:4}: {}", i.slot, i.text())
                })
            };
            let slot = tx.get(k).or(ox.get(k)).map_or(0, |i| i.slot);
            row.problems.push(format!(
                "{name}: xlated differs from instruction {k} (slot {slot}; {} vs {} \
                 instructions, {differing} differ)",
                tx.len(),
                ox.len()
            ));
            let _ = writeln!(
                row.details,
                "  {name}: first difference at instruction {k}\n    libbpf: {}\n    ours:   {}",
                side(&tx),
                side(&ox)
            );
            if k > 0 {
                let _ = writeln!(
                    row.details,
                    "    (previous, equal: {:4}: {})",
                    tx[k - 1].slot,
                    tx[k - 1].text()
                );
            }
            let _ = writeln!(
                row.details,
                "    maps: libbpf {:?}, ours {:?}",
                t.maps, o.maps
            );
        }
    }
    row
}

// ---- the test -----------------------------------------------------------------------------

/// `dir/*.o`, sorted; nothing when the directory does not exist.
fn objects_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "o") && p.is_file())
        .collect();
    v.sort();
    v
}

/// The `*.o` of every directory `TCPBYPASS_ELF_EXTRA` names; panics when one cannot be read.
fn extra_objects() -> Vec<PathBuf> {
    let Some(dirs) = std::env::var_os(EXTRA_ENV) else {
        return Vec::new();
    };
    let mut v = Vec::new();
    for dir in std::env::split_paths(&dirs) {
        if dir.as_os_str().is_empty() {
            continue;
        }
        if let Err(e) = std::fs::read_dir(&dir) {
            panic!(
                "{EXTRA_ENV} names {}, which cannot be read: {e}",
                dir.display()
            );
        }
        v.extend(objects_in(&dir));
    }
    v
}

fn print_table(rows: &[Row]) {
    let header = [
        "object", "libbpf", "ours", "progs", "maps", "refs", "agree", "reason",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.object.clone(),
                r.libbpf.clone(),
                r.ours.clone(),
                r.programs.to_string(),
                r.maps.to_string(),
                r.map_refs.to_string(),
                if r.problems.is_empty() { "yes" } else { "no" }.to_string(),
                r.problems.join("; "),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c.iter()).take(7) {
            *w = (*w).max(s.len());
        }
    }
    let line = |c: &[&str]| {
        let mut s = String::new();
        for (k, cell) in c.iter().enumerate() {
            if k < 7 {
                let _ = write!(s, "{cell:<w$}  ", w = width[k]);
            } else {
                s.push_str(cell);
            }
        }
        eprintln!("{}", s.trim_end());
    };
    line(&header);
    for c in &cells {
        line(&c.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

#[test]
fn libbpf_and_our_loader_leave_the_same_programs_in_the_kernel() {
    const NAME: &str = "libbpf_and_our_loader_leave_the_same_programs_in_the_kernel";
    if !kernel_or_skip(NAME) {
        return;
    }
    let tools = match (
        find_tool("bpftool"),
        find_tool("unshare"),
        find_tool("mount"),
    ) {
        (Some(bpftool), Some(unshare), Some(_)) => Tools { bpftool, unshare },
        (b, u, _) => {
            let missing = if b.is_none() {
                "bpftool"
            } else if u.is_none() {
                "unshare"
            } else {
                "mount"
            };
            if std::env::var(REQUIRE_KERNEL_ENV).as_deref() == Ok("1") {
                panic!(
                    "{NAME}: {missing} is not installed, and {REQUIRE_KERNEL_ENV}=1 forbids \
                     skipping (scripts/test.sh installs bpftool)"
                );
            }
            eprintln!("SKIP {NAME}: {missing} not installed");
            return;
        }
    };

    let root = loader::testing::runtime_path("CARGO_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"));
    let mut objects: Vec<(PathBuf, bool)> = objects_in(&root.join("tests/corpus"))
        .into_iter()
        .chain(objects_in(&root.join("tests/data")))
        .map(|p| (p, false))
        .collect();
    assert!(!objects.is_empty(), "no objects under {}", root.display());
    objects.extend(extra_objects().into_iter().map(|p| (p, true)));
    let strict = std::env::var(EXTRA_STRICT_ENV).as_deref() == Ok("1");

    let start = Instant::now();
    let mut rows = Vec::new();
    for (path, extra) in &objects {
        let t0 = Instant::now();
        let rel = path
            .strip_prefix(root.join("tests"))
            .unwrap_or(path)
            .display()
            .to_string();
        let theirs = libbpf_load(&tools, path);
        let ours = our_load(path);
        let mut row = compare(&rel, &theirs, &ours);
        row.millis = t0.elapsed().as_millis();
        row.extra = *extra;
        rows.push(row);
    }

    eprintln!();
    print_table(&rows);
    for r in &rows {
        if !r.details.is_empty() {
            eprintln!("{} ({} ms):\n{}", r.object, r.millis, r.details.trim_end());
        }
    }
    let agree = rows.iter().filter(|r| r.problems.is_empty()).count();
    eprintln!(
        "libbpf agreement: {agree} of {} objects ({:.1} s)",
        rows.len(),
        start.elapsed().as_secs_f64()
    );

    // The extra objects' disagreements: reported, or failures when strict.
    let mut failures = Vec::new();
    let extra_disagree: Vec<String> = rows
        .iter()
        .filter(|r| r.extra && !r.problems.is_empty())
        .map(|r| format!("{}: {}", r.object, r.problems.join("; ")))
        .collect();
    if !extra_disagree.is_empty() {
        eprintln!(
            "extra objects that disagree ({} of {}{}):\n  {}",
            extra_disagree.len(),
            rows.iter().filter(|r| r.extra).count(),
            if strict {
                format!(", failures with {EXTRA_STRICT_ENV}=1")
            } else {
                String::new()
            },
            extra_disagree.join("\n  ")
        );
        if strict {
            failures.extend(extra_disagree);
        }
    }

    // Disagreements against the table of expected ones, both ways.
    let file_name = |r: &Row| r.object.rsplit('/').next().unwrap_or("").to_string();
    let rows: Vec<&Row> = rows.iter().filter(|r| !r.extra).collect();
    for r in rows.iter().copied() {
        let expected = EXPECTED_DISAGREEMENTS
            .iter()
            .find(|(o, _)| *o == file_name(r));
        match (r.problems.is_empty(), expected) {
            (true, None) => {}
            (true, Some(_)) => failures.push(format!(
                "object {} now agrees: remove it from EXPECTED_DISAGREEMENTS",
                r.object
            )),
            (false, None) => failures.push(format!("{}: {}", r.object, r.problems.join("; "))),
            (false, Some((_, why))) => {
                let reason = r.problems.join("; ");
                if !reason.contains(why) {
                    failures.push(format!(
                        "{}: disagrees, but not as EXPECTED_DISAGREEMENTS says ({why:?}): \
                         {reason}",
                        r.object
                    ));
                }
            }
        }
    }
    for (o, _) in EXPECTED_DISAGREEMENTS {
        if !rows.iter().any(|r| file_name(r) == *o) {
            failures.push(format!(
                "EXPECTED_DISAGREEMENTS names {o}, which is not in tests/corpus or tests/data: \
                 remove it"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "libbpf and our loader disagree:\n  {}",
        failures.join("\n  ")
    );
}

// ---- a small JSON reader for bpftool's -j output ------------------------------------------

/// A JSON value (bpftool's output only needs this much).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn array(&self) -> Vec<Json> {
        match self {
            Json::Arr(v) => v.clone(),
            other => panic!("not a JSON array: {other:?}"),
        }
    }

    fn num(&self) -> f64 {
        match self {
            Json::Num(n) => *n,
            other => panic!("not a JSON number: {other:?}"),
        }
    }

    fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            other => panic!("not a JSON string: {other:?}"),
        }
    }
}

fn read_json(path: &Path) -> Json {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut p = JsonParser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p
        .value()
        .unwrap_or_else(|e| panic!("{}: bad JSON ({e}): {text}", path.display()));
    p.ws();
    assert_eq!(p.i, p.s.len(), "{}: trailing bytes: {text}", path.display());
    v
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> Result<(), String> {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(format!("expected {lit:?} at byte {}", self.i))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            None => Err("unexpected end".into()),
            Some(b'n') => self.eat("null").map(|_| Json::Null),
            Some(b't') => self.eat("true").map(|_| Json::Bool(true)),
            Some(b'f') => self.eat("false").map(|_| Json::Bool(false)),
            Some(b'"') => self.string().map(Json::Str),
            Some(b'[') => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(v));
                }
                loop {
                    v.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(v));
                        }
                        _ => return Err(format!("bad array at byte {}", self.i)),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(v));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.ws();
                    self.eat(":")?;
                    v.push((k, self.value()?));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(v));
                        }
                        _ => return Err(format!("bad object at byte {}", self.i)),
                    }
                }
            }
            Some(_) => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
                {
                    self.i += 1;
                }
                std::str::from_utf8(&self.s[start..self.i])
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .map(Json::Num)
                    .ok_or_else(|| format!("bad value at byte {start}"))
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat("\"")?;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.i) else {
                return Err("unterminated string".into());
            };
            self.i += 1;
            match b {
                b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        return Err("unterminated escape".into());
                    };
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let hex = self
                                .s
                                .get(self.i..self.i + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .ok_or("bad \\u escape")?;
                            self.i += 4;
                            let c = char::from_u32(hex).unwrap_or('\u{fffd}');
                            out.extend_from_slice(c.to_string().as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                other => out.push(other),
            }
        }
    }
}

#[test]
fn json_reader_reads_bpftool_output() {
    let mut p = JsonParser {
        s: br#"{"id":7114,"type":"sk_msg","name":"a\"b","ok":true,"x":null,"map_ids":[16384,16386],"pids":[{"pid":1,"comm":"x"}],"f":-1.5e1}"#,
        i: 0,
    };
    let v = p.value().unwrap();
    assert_eq!(v.get("id"), Some(&Json::Num(7114.0)));
    assert_eq!(v.get("name").unwrap().str(), "a\"b");
    assert_eq!(
        v.get("map_ids").unwrap().array(),
        vec![Json::Num(16384.0), Json::Num(16386.0)]
    );
    assert_eq!(v.get("f"), Some(&Json::Num(-15.0)));
    assert_eq!(v.get("ok"), Some(&Json::Bool(true)));
}

#[test]
fn map_names_compare_across_the_loaders_naming() {
    assert!(same_map_name("mixed.rodata", ".rodata"));
    assert!(same_map_name(".rodata.str1.1", ".rodata.str1.1"));
    assert!(same_map_name("sock_hash", "sock_hash"));
    assert!(!same_map_name("mixed.rodata", ".data"));
    assert!(!same_map_name("sock_hash", "sock_map"));
    // Cut at 15 bytes by the kernel: a prefix of the other's suffix.
    assert!(same_map_name(".data.a_long_na", "obj.data.a_long_name"));
    assert!(!same_map_name(".data.a_long", ".data.a_long_name"));
    // libbpf's `<8 bytes of the object name>.rodata` is 15 bytes and whole, not a cut name.
    assert!(!same_map_name("G_harnes.rodata", ".rodata.str1.1"));
    assert!(same_map_name("G_harnes.rodata", ".rodata"));
    assert!(same_map_sets(
        &[&"a".to_string(), &"x.bss".to_string()],
        &[&".bss".to_string(), &"a".to_string()]
    ));
}

/// A program whose instructions load map `load_id` (a `BPF_PSEUDO_MAP_FD` `lddw`) and that
/// holds `maps`.
fn fake_prog(load_id: u32, maps: &[(u32, &str)]) -> LoadedProg {
    let [lo, hi] = Insn::lddw_pseudo(asm::Reg::R1, 1, load_id as i32, 0);
    LoadedProg {
        name: "p".into(),
        prog_type: "xdp".into(),
        maps: maps.iter().map(|&(i, n)| (i, n.to_string())).collect(),
        xlated: vec![lo, hi, Insn::exit()],
    }
}

#[test]
fn a_program_bound_to_the_wrong_map_is_caught() {
    // Same instructions up to map ids, same map set, so the same tag: only the names behind
    // the ids tell the right binding (seen_in) from the wrong one (seen_out).
    let theirs = Verdict::Loads(vec![fake_prog(10, &[(10, "seen_in"), (11, "seen_out")])]);
    let right = Verdict::Loads(vec![fake_prog(20, &[(20, "seen_in"), (21, "seen_out")])]);
    let wrong = Verdict::Loads(vec![fake_prog(21, &[(20, "seen_in"), (21, "seen_out")])]);
    assert!(compare("x.o", &theirs, &right).problems.is_empty());
    let row = compare("x.o", &theirs, &wrong);
    assert_eq!(row.problems.len(), 1, "{:?}", row.problems);
    assert!(row.problems[0].contains("xlated differs from instruction 0"));
    assert!(row.details.contains("seen_in") && row.details.contains("seen_out"));
}

#[test]
fn only_an_unreferenced_rodata_binding_is_left_out() {
    // libbpf's BPF_PROG_BIND_MAP of .rodata: ignored.
    let theirs = Verdict::Loads(vec![fake_prog(10, &[(10, "m"), (11, "obj.rodata")])]);
    let ours = Verdict::Loads(vec![fake_prog(20, &[(20, "m")])]);
    assert!(compare("x.o", &theirs, &ours).problems.is_empty());
    // A .rodata the instructions load is compared.
    let theirs = Verdict::Loads(vec![fake_prog(11, &[(10, "m"), (11, "obj.rodata")])]);
    let ours = Verdict::Loads(vec![fake_prog(20, &[(20, "m")])]);
    assert!(!compare("x.o", &theirs, &ours).problems.is_empty());
    // Any other map libbpf holds and we do not is a difference.
    let theirs = Verdict::Loads(vec![fake_prog(10, &[(10, "m"), (11, "obj.data")])]);
    let ours = Verdict::Loads(vec![fake_prog(20, &[(20, "m")])]);
    assert!(!compare("x.o", &theirs, &ours).problems.is_empty());
}
