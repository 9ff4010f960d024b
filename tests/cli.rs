//! The `tcpbypass` binary as an operator runs it: offline (parsing, messages, `dump`) and, as
//! root, against the kernel in a throwaway child cgroup and pin directory. Every kernel
//! assertion is checked through the loader's own queries, not only through our pins.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use loader::testing::{kernel_or_skip, TempCgroup, TempPinDir};
use loader::{cgroup, AttachType};

fn bin() -> Command {
    Command::new(loader::testing::runtime_path(
        "CARGO_BIN_EXE_tcpbypass",
        env!("CARGO_BIN_EXE_tcpbypass"),
    ))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("running tcpbypass")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

// ---- offline -------------------------------------------------------------------------------

#[test]
fn help_lists_commands_examples_and_exit_codes() {
    let o = run(&["--help"]);
    assert!(o.status.success(), "{}", text(&o));
    let s = stdout(&o);
    for word in [
        "load",
        "unload",
        "status",
        "dump",
        "verify",
        "probe",
        "run",
        "Exit codes",
        "Examples",
    ] {
        assert!(s.contains(word), "--help lacks {word}:\n{s}");
    }
}

/// The benchmark is `tcpbypass-bench`, a binary of its own: this one has no trace of it.
#[test]
fn the_benchmark_is_not_a_command_of_this_binary() {
    let help = stdout(&run(&["--help"]));
    assert!(!help.contains("bench"), "--help mentions bench:\n{help}");
    for cmd in ["bench", "bench-worker"] {
        let o = run(&[cmd]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", text(&o));
        assert!(
            text(&o).contains("unrecognized subcommand"),
            "{cmd}: {}",
            text(&o)
        );
    }
}

#[test]
fn dump_needs_no_kernel_and_shows_labels_and_helpers() {
    let o = run(&["dump", "sk_msg"]);
    assert!(o.status.success(), "{}", text(&o));
    let s = stdout(&o);
    assert!(s.contains("tb_sk_msg"), "{s}");
    assert!(s.contains("call bpf_msg_redirect_hash#71"), "{s}");
    assert!(
        !s.contains("tb_sock_ops"),
        "only sk_msg was asked for:\n{s}"
    );
    // labels and comments are shown
    assert!(
        s.lines().any(|l| l.ends_with(':') && !l.starts_with(' ')),
        "{s}"
    );
    assert!(s.lines().any(|l| l.starts_with("; ")), "{s}");
    let both = stdout(&run(&["dump"]));
    assert!(both.contains("tb_sock_ops") && both.contains("tb_sk_msg"));
    assert!(both.contains("call bpf_sock_hash_update#70"));
}

#[test]
fn dump_without_cookie_drops_the_netns_helper() {
    let s = stdout(&run(&["dump", "--no-netns-cookie"]));
    assert!(!s.contains("get_netns_cookie"), "{s}");
    assert!(stdout(&run(&["dump"])).contains("call bpf_get_netns_cookie#122"));
}

#[test]
fn usage_errors_exit_2_before_touching_anything() {
    for args in [
        &["dump", "xdp"][..],
        &["load", "--exclude-port", "70000"],
        &["load", "--local-prefix", "10.0.0.0/99"],
        &["load", "--local-prefix", "not-an-address"],
        &["frobnicate"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(!o.stderr.is_empty(), "{args:?} gave no message");
    }
}

// ---- kernel --------------------------------------------------------------------------------

/// A bypass loaded into a throwaway cgroup and pin dir; unloads on drop even if a test fails.
struct Loaded {
    cg: TempCgroup,
    _pins: TempPinDir,
    pin_dir: PathBuf,
}

impl Loaded {
    fn new(extra: &[&str]) -> Loaded {
        let l = Loaded::not_yet();
        let o = l.cmd("load", extra);
        assert!(o.status.success(), "load failed: {}", text(&o));
        l
    }

    /// The throwaway cgroup and pin dir, nothing loaded yet (still unloaded on drop).
    fn not_yet() -> Loaded {
        let cg = TempCgroup::new().expect("temp cgroup");
        let pins = TempPinDir::new().expect("temp pin dir");
        let pin_dir = pins.join("tb");
        Loaded {
            cg,
            _pins: pins,
            pin_dir,
        }
    }

    fn args(&self, cmd: &str, extra: &[&str]) -> Vec<String> {
        let mut args = vec![cmd, "--pin-dir", self.pin_dir.to_str().unwrap()];
        if cmd == "load" || cmd == "run" {
            args.extend(["--cgroup", self.cg.path().to_str().unwrap()]);
        }
        args.extend(extra);
        args.into_iter().map(String::from).collect()
    }

    fn cmd(&self, cmd: &str, extra: &[&str]) -> Output {
        bin()
            .args(self.args(cmd, extra))
            .output()
            .expect("running tcpbypass")
    }

    fn status(&self) -> String {
        let o = self.cmd("status", &["--json"]);
        assert!(o.status.success(), "{}", text(&o));
        stdout(&o)
    }

    fn attached_ids(&self) -> Vec<u32> {
        cgroup::query(self.cg.path(), AttachType::CgroupSockOps)
            .expect("query")
            .prog_ids
    }
}

impl Drop for Loaded {
    fn drop(&mut self) {
        let _ = self.cmd("unload", &[]);
    }
}

/// The number after `"key":` in a JSON text, within the object after `within` if given.
fn json_u64(json: &str, within: Option<&str>, key: &str) -> Option<u64> {
    let start = match within {
        Some(w) => json.find(&format!("\"{w}\":"))?,
        None => 0,
    };
    let rest = &json[start..];
    let i = rest.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = rest[i..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

#[test]
fn load_status_reload_replace_unload() {
    if !kernel_or_skip("load_status_reload_replace_unload") {
        return;
    }
    let l = Loaded::new(&[]);
    let s = l.status();
    assert!(s.contains("\"loaded\":true"), "{s}");
    assert!(s.contains("\"attached\":true"), "{s}");
    assert!(s.contains("\"matches_binary\":true"), "{s}");
    assert!(s.contains("\"attach\":\"bpf_link\""), "{s}");
    let so_id = json_u64(&s, Some("sock_ops"), "id").expect("sock_ops id") as u32;
    let sm_id = json_u64(&s, Some("sk_msg"), "id").expect("sk_msg id") as u32;
    assert_eq!(
        l.attached_ids(),
        vec![so_id],
        "the kernel must see exactly our sock_ops"
    );
    let sockhash_id = loader::Program::from_id(sm_id)
        .unwrap()
        .info()
        .unwrap()
        .map_ids;
    assert!(!sockhash_id.is_empty());

    // Loading again changes nothing.
    let o = l.cmd("load", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("already loaded"),
        "{}",
        text(&o)
    );
    assert_eq!(l.attached_ids(), vec![so_id]);
    assert_eq!(
        json_u64(&l.status(), Some("sock_ops"), "id"),
        Some(so_id as u64)
    );

    // --replace swaps the program in place: one program attached, a new id.
    let o = l.cmd("load", &["--replace"]);
    assert!(o.status.success(), "{}", text(&o));
    let s2 = l.status();
    let so2 = json_u64(&s2, Some("sock_ops"), "id").unwrap() as u32;
    let sm2 = json_u64(&s2, Some("sk_msg"), "id").unwrap() as u32;
    assert_ne!(so2, so_id);
    assert_ne!(sm2, sm_id);
    assert_eq!(
        l.attached_ids(),
        vec![so2],
        "replace must not leave the old program attached"
    );
    assert!(s2.contains("\"matches_binary\":true"), "{s2}");

    // Unload leaves no pin, no attachment, and the maps go with their last reference.
    let map_ids = loader::Program::from_id(sm2)
        .unwrap()
        .info()
        .unwrap()
        .map_ids;
    let o = l.cmd("unload", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!l.pin_dir.exists(), "pin dir left behind");
    assert!(l.attached_ids().is_empty(), "sock_ops still attached");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // The kernel frees maps from a work queue after their last reference is gone.
        let live = loader::ids::maps().unwrap();
        let left: Vec<u32> = map_ids
            .iter()
            .copied()
            .filter(|id| live.contains(id))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "maps {left:?} still exist after unload"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Unloading again is a no-op that says so.
    let o = l.cmd("unload", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not loaded"),
        "{}",
        text(&o)
    );
}

#[test]
fn legacy_attach_path_loads_and_unloads() {
    if !kernel_or_skip("legacy_attach_path_loads_and_unloads") {
        return;
    }
    let l = Loaded::new(&["--legacy-attach"]);
    let s = l.status();
    assert!(s.contains("\"attach\":\"prog_attach\""), "{s}");
    let so_id = json_u64(&s, Some("sock_ops"), "id").unwrap() as u32;
    assert_eq!(l.attached_ids(), vec![so_id]);
    let o = l.cmd("load", &["--replace"]);
    assert!(o.status.success(), "{}", text(&o));
    let so2 = json_u64(&l.status(), Some("sock_ops"), "id").unwrap() as u32;
    assert_eq!(
        l.attached_ids(),
        vec![so2],
        "BPF_F_REPLACE must swap, not add"
    );
    let o = l.cmd("unload", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(l.attached_ids().is_empty());
    assert!(!l.pin_dir.exists());
}

#[test]
fn interrupted_run_cleans_up() {
    if !kernel_or_skip("interrupted_run_cleans_up") {
        return;
    }
    let cg = TempCgroup::new().unwrap();
    let pins = TempPinDir::new().unwrap();
    let pin_dir = pins.join("tb");
    let mut child = bin()
        .args([
            "run",
            "--cgroup",
            cg.path().to_str().unwrap(),
            "--pin-dir",
            pin_dir.to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pin_dir.join("meta").exists() {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("run exited early with {st}");
        }
        assert!(Instant::now() < deadline, "run did not load within 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let ids = cgroup::query(cg.path(), AttachType::CgroupSockOps)
        .unwrap()
        .prog_ids;
    assert_eq!(ids.len(), 1, "run must have attached sock_ops");
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("run did not exit within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "run exited with {status}");
    assert!(!pin_dir.exists(), "run left its pins");
    assert!(cgroup::query(cg.path(), AttachType::CgroupSockOps)
        .unwrap()
        .prog_ids
        .is_empty());
}

/// A cgroup v1 mount point from mountinfo, if this host has one.
fn cgroup_v1_dir() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let mount_point = pre.split_whitespace().nth(4)?;
        (post.split_whitespace().next()? == "cgroup").then(|| PathBuf::from(mount_point))
    })
}

#[test]
fn bad_environment_gets_exit_6_and_changes_nothing() {
    if !kernel_or_skip("bad_environment_gets_exit_6_and_changes_nothing") {
        return;
    }
    let pins = TempPinDir::new().unwrap();
    let pin_dir = pins.join("tb");
    let cg = TempCgroup::new().unwrap();

    // A cgroup v1 directory.
    if let Some(v1) = cgroup_v1_dir() {
        let o = run(&[
            "load",
            "--cgroup",
            v1.to_str().unwrap(),
            "--pin-dir",
            pin_dir.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(6), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("v1"),
            "{}",
            text(&o)
        );
        assert!(!pin_dir.exists());
    } else {
        eprintln!("no cgroup v1 mount here: v1 path case not run");
    }

    // A pin dir that is not on bpffs, with mounting forbidden.
    let tmp = std::env::temp_dir().join(format!("tcpbypass-notbpffs-{}", std::process::id()));
    let o = run(&[
        "load",
        "--cgroup",
        cg.path().to_str().unwrap(),
        "--pin-dir",
        tmp.to_str().unwrap(),
        "--no-mount-bpffs",
    ]);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bpffs"),
        "{}",
        text(&o)
    );
    assert!(!tmp.exists());

    // A pin dir that holds something not ours.
    std::fs::create_dir(&pin_dir).unwrap();
    let foreign = loader::Map::create(&loader::MapSpec::new(
        "not_ours",
        loader::MapType::Array,
        4,
        4,
        1,
    ))
    .unwrap();
    foreign.pin(pin_dir.join("x")).unwrap();
    let o = run(&[
        "load",
        "--cgroup",
        cg.path().to_str().unwrap(),
        "--pin-dir",
        pin_dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not made by tcpbypass"),
        "{}",
        text(&o)
    );
    assert!(cgroup::query(cg.path(), AttachType::CgroupSockOps)
        .unwrap()
        .prog_ids
        .is_empty());
    let o = run(&["unload", "--pin-dir", pin_dir.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(6),
        "unload must not touch a foreign dir: {}",
        text(&o)
    );
    assert!(pin_dir.join("x").exists());
}

/// A copy of the binary that user `nobody` can execute, removed on drop.
struct CopyForNobody(PathBuf);

impl Drop for CopyForNobody {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The binary at a path user `nobody` can reach and execute: where it was built when every
/// directory above it lets others through, otherwise a copy (mode 0755) in the temp directory.
/// A checkout in a `mktemp -d` directory (mode 0700) is not reachable for `nobody`.
fn bin_for_nobody() -> (PathBuf, Option<CopyForNobody>) {
    use std::os::unix::fs::PermissionsExt;
    let built =
        loader::testing::runtime_path("CARGO_BIN_EXE_tcpbypass", env!("CARGO_BIN_EXE_tcpbypass"));
    let others_may = |p: &Path, bits: u32| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & bits == bits)
            .unwrap_or(false)
    };
    if others_may(&built, 0o005) && built.ancestors().skip(1).all(|d| others_may(d, 0o001)) {
        return (built, None);
    }
    let copy = std::env::temp_dir().join(format!("tcpbypass-for-nobody-{}", std::process::id()));
    std::fs::copy(&built, &copy).expect("copying the binary");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    (copy.clone(), Some(CopyForNobody(copy)))
}

#[test]
fn unprivileged_user_gets_exit_3_naming_capabilities() {
    if !kernel_or_skip("unprivileged_user_gets_exit_3_naming_capabilities") {
        return;
    }
    let cg = TempCgroup::new().unwrap();
    let (path, _copy) = bin_for_nobody();
    let mut cmd = Command::new(path);
    cmd.args([
        "load",
        "--cgroup",
        cg.path().to_str().unwrap(),
        "--pin-dir",
        "/sys/fs/bpf/tcpbypass-unpriv-test",
    ]);
    // SAFETY: setgid/setuid in the forked child before exec; async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("CAP_BPF") || err.contains("root"),
        "{}",
        text(&o)
    );
    assert!(!Path::new("/sys/fs/bpf/tcpbypass-unpriv-test").exists());
    assert!(cgroup::query(cg.path(), AttachType::CgroupSockOps)
        .unwrap()
        .prog_ids
        .is_empty());
}

#[test]
fn verify_and_probe_report_on_this_kernel() {
    if !kernel_or_skip("verify_and_probe_report_on_this_kernel") {
        return;
    }
    let o = run(&["verify"]);
    assert!(o.status.success(), "{}", text(&o));
    let s = stdout(&o);
    assert!(s.contains("tb_sock_ops: accepted"), "{s}");
    assert!(s.contains("tb_sk_msg: accepted"), "{s}");
    println!("{s}");
    let o = run(&["probe", "--json"]);
    let s = stdout(&o);
    assert!(s.contains("\"bypass_possible\":true"), "{}", text(&o));
    assert!(o.status.success());
}

#[test]
fn replace_refuses_pinned_maps_of_another_layout() {
    if !kernel_or_skip("replace_refuses_pinned_maps_of_another_layout") {
        return;
    }
    let l = Loaded::new(&[]);
    let before = l.status();
    // Stand in for an install by an older version: a counters map with one entry fewer.
    let counters = l.pin_dir.join("maps").join(programs::names::COUNTERS);
    std::fs::remove_file(&counters).unwrap();
    let old = loader::Map::create(&loader::MapSpec::new(
        programs::names::COUNTERS,
        loader::MapType::PerCpuArray,
        4,
        8,
        programs::Counter::ALL.len() as u32 - 1,
    ))
    .unwrap();
    old.pin(&counters).unwrap();
    let o = l.cmd("load", &["--replace"]);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("layout changed"),
        "{}",
        text(&o)
    );
    // Nothing changed: the same programs are attached.
    let after = l.status();
    assert_eq!(
        json_u64(&after, Some("sock_ops"), "id"),
        json_u64(&before, Some("sock_ops"), "id")
    );
    assert_eq!(
        l.attached_ids(),
        vec![json_u64(&before, Some("sock_ops"), "id").unwrap() as u32]
    );
}

// ---- concurrent commands on one pin directory -------------------------------------------------

/// Starts `tcpbypass -v ARGS` for every argument list before waiting for any, then waits for
/// all of them.
fn run_all_at_once(lists: &[Vec<String>]) -> Vec<Output> {
    let children: Vec<_> = lists
        .iter()
        .map(|args| {
            bin()
                .arg("-v")
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("starting tcpbypass")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("waiting for tcpbypass"))
        .collect()
}

/// Every number after `word id ` in a text (the ids `load -v` reports for the programs it
/// loaded, and `--replace` for the old and new ones).
fn ids_after(text: &str, word: &str) -> Vec<u32> {
    let pat = format!("{word} id ");
    let mut out = Vec::new();
    for (i, _) in text.match_indices(&pat) {
        let rest = &text[i + pat.len()..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        out.extend(digits.parse::<u32>().ok());
        // "replaced sock_ops id A by id B": B too.
        if let Some(by) = rest.strip_prefix(&format!("{digits} by id ")) {
            let d: String = by.chars().take_while(|c| c.is_ascii_digit()).collect();
            out.extend(d.parse::<u32>().ok());
        }
    }
    out
}

/// What the kernel says is attached for this install: exactly our one sock_ops on the cgroup
/// and our one sk_msg on the sockhash when pinned, nothing on the cgroup when not.
fn assert_one_or_none(l: &Loaded, context: &str) {
    let attached = l.attached_ids();
    if !l.pin_dir.exists() {
        assert!(
            attached.is_empty(),
            "{context}: no pins but sock_ops {attached:?} attached"
        );
        return;
    }
    let s = l.status();
    assert!(
        s.contains("\"loaded\":true") && s.contains("\"attached\":true"),
        "{context}: pins but not a complete load: {s}"
    );
    let so = json_u64(&s, Some("sock_ops"), "id").expect("sock_ops id") as u32;
    let sm = json_u64(&s, Some("sk_msg"), "id").expect("sk_msg id") as u32;
    assert_eq!(attached, vec![so], "{context}: the cgroup's sock_ops");
    let sockhash =
        loader::Map::open_pinned(l.pin_dir.join("maps").join(programs::names::SOCK_HASH))
            .expect("opening the pinned sockhash");
    // BPF_PROG_QUERY on a sockmap needs 5.19; older kernels are checked through the cgroup only.
    if let Ok(ids) = loader::sk_msg::attached(&sockhash) {
        assert_eq!(ids, vec![sm], "{context}: the sockhash's sk_msg");
    }
}

/// Waits (the kernel frees from a work queue) until none of `ids` is a live program.
fn assert_programs_gone(ids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let live = loader::ids::programs().unwrap();
        let left: Vec<u32> = ids.iter().copied().filter(|i| live.contains(i)).collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "programs {left:?} are still in the kernel after the last unload: leaked"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn parallel_loads_all_exit_0_with_one_attachment() {
    if !kernel_or_skip("parallel_loads_all_exit_0_with_one_attachment") {
        return;
    }
    let l = Loaded::not_yet();
    let n = 16;
    let outs = run_all_at_once(&vec![l.args("load", &[]); n]);
    let mut fresh = 0;
    let mut prog_ids = Vec::new();
    for o in &outs {
        assert!(o.status.success(), "a parallel load failed: {}", text(o));
        let err = String::from_utf8_lossy(&o.stderr);
        if err.contains("tcpbypass loaded:") {
            fresh += 1;
        } else {
            assert!(err.contains("already loaded"), "{}", text(o));
        }
        prog_ids.extend(ids_after(&err, "sock_ops"));
        prog_ids.extend(ids_after(&err, "sk_msg"));
    }
    assert_eq!(
        fresh, 1,
        "exactly one of {n} parallel loads loads, as when run one after the other"
    );
    assert_eq!(
        prog_ids.len(),
        2,
        "one sock_ops and one sk_msg: {prog_ids:?}"
    );
    assert_one_or_none(&l, "after parallel loads");
    assert!(l.pin_dir.exists());

    let o = l.cmd("unload", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!l.pin_dir.exists());
    assert!(l.attached_ids().is_empty());
    assert_programs_gone(&prog_ids);
}

#[test]
fn parallel_load_replace_and_unload_answer_as_if_one_after_the_other() {
    if !kernel_or_skip("parallel_load_replace_and_unload_answer_as_if_one_after_the_other") {
        return;
    }
    let l = Loaded::not_yet();
    let mut prog_ids = Vec::new();
    let mut loaded = false;
    for round in 0..4 {
        // Interleaved: load, unload, load, unload, …, with two --replace among them.
        let mut lists = Vec::new();
        for i in 0..12 {
            lists.push(match i % 6 {
                0 | 2 => l.args("load", &[]),
                4 => l.args("load", &["--replace"]),
                _ => l.args("unload", &[]),
            });
        }
        let outs = run_all_at_once(&lists);
        let (mut fresh, mut unloaded) = (0i32, 0i32);
        for o in &outs {
            assert!(
                o.status.success(),
                "round {round}: a command failed: {}",
                text(o)
            );
            let err = String::from_utf8_lossy(&o.stderr);
            if err.contains("tcpbypass loaded:") {
                fresh += 1;
            } else if err.contains("tcpbypass unloaded") {
                unloaded += 1;
            } else {
                assert!(
                    err.contains("already loaded")
                        || err.contains("not loaded")
                        || err.contains("replaced in place"),
                    "round {round}: unexpected answer: {}",
                    text(o)
                );
            }
            prog_ids.extend(ids_after(&err, "sock_ops"));
            prog_ids.extend(ids_after(&err, "sk_msg"));
        }
        // One after the other, loads that load and unloads that unload alternate.
        let net = fresh - unloaded;
        let want_loaded = match (loaded, net) {
            (false, 0) => false,
            (false, 1) => true,
            (true, 0) => true,
            (true, -1) => false,
            _ => panic!(
                "round {round}: {fresh} fresh loads and {unloaded} unloads from loaded={loaded}: \
                 no sequential order gives that"
            ),
        };
        assert_eq!(
            l.pin_dir.exists(),
            want_loaded,
            "round {round}: {fresh} fresh loads, {unloaded} unloads from loaded={loaded}"
        );
        assert_one_or_none(&l, &format!("round {round}"));
        loaded = want_loaded;
    }
    assert!(!prog_ids.is_empty(), "no command reported a program id");
    let o = l.cmd("unload", &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!l.pin_dir.exists(), "pin dir left behind");
    assert!(l.attached_ids().is_empty(), "sock_ops still attached");
    prog_ids.sort_unstable();
    prog_ids.dedup();
    assert_programs_gone(&prog_ids);
}

/// `same` of one behaviour in `probe --json`'s `compat` object (`None` for null or absent).
fn compat_same(json: &str, name: &str) -> Option<bool> {
    let at = json.find("\"compat\":")?;
    let rest = &json[at..];
    let needle = format!("\"{name}\":{{\"same\":");
    let at = rest.find(&needle)?;
    let v = &rest[at + needle.len()..];
    if v.starts_with("true") {
        Some(true)
    } else if v.starts_with("false") {
        Some(false)
    } else {
        None
    }
}

/// The compatibility suite end to end: each check runs on a pair made by a process that
/// joined a bypassed cgroup (the real sock_ops, sk_msg and setsockopt guard, through `load`)
/// and on plain TCP; it must match TCP exactly where `probe` says `same` (guarded or not), and
/// differ where `probe` says it differs: what probe reports is what applications get.
#[test]
fn compat_suite_through_load_matches_what_probe_reports() {
    if !kernel_or_skip("compat_suite_through_load_matches_what_probe_reports") {
        return;
    }
    let o = run(&["probe", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let probe = stdout(&o);
    let l = Loaded::new(&[]);
    let procs = l.cg.path().join("cgroup.procs");
    let tb =
        loader::testing::runtime_path("CARGO_BIN_EXE_tcpbypass", env!("CARGO_BIN_EXE_tcpbypass"));
    let mut guarded_same = 0;
    for name in [
        "msg_waitall",
        "so_rcvlowat",
        "tcp_inq",
        "fionread",
        "siocoutq",
        "splice_read",
        "splice_write",
        "msg_peek",
        "msg_trunc",
        "msg_oob",
        "so_rcvtimeo",
        "so_sndtimeo",
        "shutdown_eof",
        "rst",
        "epoll_et",
        "recvmmsg",
        "tcp_ulp_tls",
        "tcp_info",
        "tcp_cork",
        "msg_more",
        "slow_reader",
    ] {
        let control = run(&["compat-check", name]);
        assert!(control.status.success(), "{name}: {}", text(&control));
        let before = json_u64(&l.status(), Some("counters"), "redirected").unwrap_or(0);
        let fallback0 = json_u64(&l.status(), Some("counters"), "compat_fallback").unwrap_or(0);
        let through = Command::new("/bin/sh")
            .arg("-c")
            .arg("echo $$ > \"$1\" && exec \"$2\" compat-check \"$3\"")
            .arg("sh")
            .arg(&procs)
            .arg(&tb)
            .arg(name)
            .output()
            .expect("running compat-check in the cgroup");
        assert!(through.status.success(), "{name}: {}", text(&through));
        let status = l.status();
        let redirected = json_u64(&status, Some("counters"), "redirected").unwrap_or(0);
        let fallback = json_u64(&status, Some("counters"), "compat_fallback").unwrap_or(0);
        // Every pair speaks first from the server: at least that greeting is redirected.
        assert!(
            redirected > before,
            "{name}: the bypass carried nothing: {status}"
        );
        let (c, t) = (stdout(&control), stdout(&through));
        let reported = compat_same(&probe, name);
        eprintln!(
            "{name:<14} probe {reported:?}; TCP: {}; load: {}",
            c.trim(),
            t.trim()
        );
        assert!(reported.is_some(), "{name}: probe has no verdict: {probe}");
        assert_eq!(
            c == t,
            reported == Some(true),
            "{name}: probe says same={reported:?}, but TCP gave {c:?} and the bypass {t:?}"
        );
        if reported == Some(true) && fallback > fallback0 {
            guarded_same += 1;
        }
    }
    // The setsockopt guard fired for the checks it makes the same.
    for name in ["so_rcvlowat", "tcp_inq", "msg_peek", "tcp_cork"] {
        let needle = format!("\"{name}\":{{\"same\":true,\"guard\":\"setsockopt guard\"");
        assert!(
            probe.contains(&needle),
            "{name} not reported guarded: {probe}"
        );
    }
    assert!(
        guarded_same >= 4,
        "guard fired for {guarded_same} same checks"
    );
}

// ---- verify/dump --object: exit codes ------------------------------------------------------

/// A scratch directory for object files, removed on drop.
struct ObjDir(PathBuf);

impl ObjDir {
    fn new(tag: &str) -> ObjDir {
        let d = std::env::temp_dir().join(format!("tcpbypass-cli-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        ObjDir(d)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    }
}

impl Drop for ObjDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn dump_object_of_something_else_exits_8_with_the_hint() {
    let d = ObjDir::new("dump");
    let path = d.write("notes.o", b"not an object at all");
    let o = run(&["dump", "--object", &path]);
    assert_eq!(o.status.code(), Some(8), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not an ELF file"), "{err}");
    assert!(err.contains("relocatable eBPF ELF object"), "{err}");
    // A missing file is a runtime failure, not a bad object, and gets no such hint.
    let o = run(&[
        "dump",
        "--object",
        &d.0.join("missing.o").display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("relocatable"));
}

#[test]
fn verify_object_tells_rejected_from_not_loaded() {
    if !kernel_or_skip("verify_object_tells_rejected_from_not_loaded") {
        return;
    }
    use loader::elf::Writer;
    use loader::{MapSpec, MapType};
    let d = ObjDir::new("verify");
    let mut ok = asm::Builder::new();
    ok.mov64(asm::Reg::R0, 2).exit();
    let ok = ok.build().unwrap();
    // Reads r2, which an XDP program never initialises.
    let mut bad = asm::Builder::new();
    bad.mov64(asm::Reg::R0, asm::Reg::R2).exit();
    let bad = bad.build().unwrap();

    // Accepted.
    let good = d.write(
        "good.o",
        &Writer::new("GPL")
            .program("xdp", "pass", &ok)
            .finish()
            .unwrap(),
    );
    let o = run(&["verify", "--object", &good]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("pass: accepted"), "{}", text(&o));

    // Rejected by the verifier: 5, the instruction and the reason first.
    let rejected = d.write(
        "rejected.o",
        &Writer::new("GPL")
            .program("xdp", "bad", &bad)
            .finish()
            .unwrap(),
    );
    let o = run(&["verify", "--object", &rejected]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("bad: REJECTED") && out.contains("R2 !read_ok"),
        "{out}"
    );

    // A section whose program type nobody knows: never reaches the verifier, 8.
    let unknown = d.write(
        "unknown.o",
        &Writer::new("GPL")
            .program("mystery", "what", &ok)
            .finish()
            .unwrap(),
    );
    let o = run(&["verify", "--object", &unknown]);
    assert_eq!(o.status.code(), Some(8), "{}", text(&o));
    assert!(stdout(&o).contains("what: NOT LOADED"), "{}", text(&o));

    // Both in one object: the verifier's verdict decides (5), the other is still reported.
    let both = d.write(
        "both.o",
        &Writer::new("GPL")
            .program("mystery", "what", &ok)
            .program("xdp", "bad", &bad)
            .finish()
            .unwrap(),
    );
    let o = run(&["verify", "--object", &both]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(
        stdout(&o).contains("0 of 2 program(s) accepted, 1 rejected by the verifier, 1 not loaded"),
        "{}",
        text(&o)
    );

    // Maps only: nothing to verify is not success. (The writer always writes a program, so
    // its code section is turned into plain data: no SHF_EXECINSTR, no programs.)
    let mut bytes = Writer::new("GPL")
        .map(&MapSpec::new("counts", MapType::Hash, 4, 8, 16))
        .program("xdp", "pass", &ok)
        .finish()
        .unwrap();
    let word = |b: &[u8], at: usize, n: usize| {
        b[at..at + n]
            .iter()
            .rev()
            .fold(0u64, |v, &x| (v << 8) | u64::from(x)) as usize
    };
    let (shoff, shnum) = (word(&bytes, 0x28, 8), word(&bytes, 0x3c, 2));
    for i in 0..shnum {
        let flags = shoff + 64 * i + 8;
        bytes[flags] &= !0x4; // SHF_EXECINSTR
    }
    let maps_only = d.write("maps_only.o", &bytes);
    let o = run(&["verify", "--object", &maps_only]);
    assert_eq!(o.status.code(), Some(8), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no programs"),
        "{}",
        text(&o)
    );

    // Truncated: malformed, 8, without the "not an ELF object" hint.
    let bytes = std::fs::read(&good).unwrap();
    let cut = d.write("cut.o", &bytes[..bytes.len() / 2]);
    let o = run(&["verify", "--object", &cut]);
    assert_eq!(o.status.code(), Some(8), "{}", text(&o));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("hint"),
        "{}",
        text(&o)
    );
}

#[test]
fn verify_object_accepts_every_clang_corpus_object() {
    if !kernel_or_skip("verify_object_accepts_every_clang_corpus_object") {
        return;
    }
    let dir = loader::testing::runtime_path("CARGO_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"))
        .join("loader/tests/corpus");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let refused = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("refused_"));
        if p.extension().is_some_and(|x| x == "o") && !refused {
            let o = run(&["verify", "--object", &p.display().to_string()]);
            assert_eq!(o.status.code(), Some(0), "{}: {}", p.display(), text(&o));
            let out = stdout(&o);
            assert!(
                out.contains("accepted") && !out.contains("REJECTED"),
                "{out}"
            );
            n += 1;
        }
    }
    assert!(n >= 18, "only {n} corpus objects in {}", dir.display());
}

// ---- the compatibility verdicts' cache -----------------------------------------------------

#[test]
fn load_takes_this_boots_verdicts_from_the_cache_and_recheck_runs_the_suite() {
    if !kernel_or_skip("load_takes_this_boots_verdicts_from_the_cache_and_recheck_runs_the_suite") {
        return;
    }
    let dir = ObjDir::new("compat-cache");
    let cache = dir.0.join("compat");
    let with_cache = |l: &Loaded, extra: &[&str]| {
        bin()
            .args(l.args("load", extra))
            .env("TCPBYPASS_COMPAT_CACHE", &cache)
            .output()
            .expect("running tcpbypass")
    };
    // probe runs the suite and keeps its verdicts.
    let o = bin()
        .arg("probe")
        .env("TCPBYPASS_COMPAT_CACHE", &cache)
        .output()
        .unwrap();
    assert!(cache.exists(), "probe wrote no cache: {}", text(&o));
    let written = std::fs::read_to_string(&cache).unwrap();
    let differs = written.lines().skip(1).any(|l| !l.contains("\tsame\t"));
    // A forged cache for this boot that says every behaviour is the same: a strict load takes
    // it (so the suite did not run) ...
    let forged: String = written
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l}\n")
            } else {
                let f: Vec<&str> = l.splitn(4, '\t').collect();
                format!("{}\tsame\t{}\t{}\n", f[0], f[2], f[3])
            }
        })
        .collect();
    std::fs::write(&cache, &forged).unwrap();
    let l = Loaded::not_yet();
    let o = with_cache(&l, &["--strict"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(l.attached_ids().len(), 1);
    assert!(l.cmd("unload", &[]).status.success());
    // ... and --recheck runs the suite, which on a kernel where a behaviour differs refuses,
    // and rewrites the cache with what it found.
    let o = with_cache(&l, &["--strict", "--recheck"]);
    if differs {
        assert_eq!(o.status.code(), Some(7), "{}", text(&o));
        assert!(l.attached_ids().is_empty());
    }
    assert_eq!(
        verdicts(&std::fs::read_to_string(&cache).unwrap()),
        verdicts(&written)
    );
    // A cache of another boot or binary (another key) is not used: the suite runs.
    std::fs::write(
        &cache,
        forged.replacen("tcpbypass-compat 1 ", "tcpbypass-compat 1 0", 1),
    )
    .unwrap();
    let o = with_cache(&l, &["--strict"]);
    if differs {
        assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    }
    assert_eq!(
        verdicts(&std::fs::read_to_string(&cache).unwrap()),
        verdicts(&written)
    );
}

/// A cache file without its details (which carry timings): the key line, then each
/// behaviour's name, verdict and guard.
fn verdicts(cache: &str) -> Vec<String> {
    cache
        .lines()
        .map(|l| l.splitn(4, '\t').take(3).collect::<Vec<_>>().join("\t"))
        .collect()
}

#[test]
fn verify_object_applies_co_re_and_names_a_failed_relocation() {
    if !kernel_or_skip("verify_object_applies_co_re_and_names_a_failed_relocation") {
        return;
    }
    if let Err(e) = loader::btf::vmlinux() {
        return eprintln!("SKIP verify_object_applies_co_re_and_names_a_failed_relocation: {e}");
    }
    let corpus = loader::testing::runtime_path("CARGO_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"))
        .join("loader/tests/corpus");
    let o = run(&[
        "verify",
        "--object",
        &corpus.join("core_bootstrap.o").display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("tc_ttl: accepted"), "{}", text(&o));
    let o = run(&[
        "verify",
        "--object",
        &corpus.join("refused_core_poisoned.o").display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(
        stdout(&o).contains("CO-RE relocation failed for __sk_buff___shuffled.no_such_member"),
        "{}",
        text(&o)
    );
}
