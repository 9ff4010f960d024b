#!/usr/bin/env python3
"""Host side of the kernel matrix: picks the test executables out of cargo's JSON messages,
and turns one kernel's "@@M" result lines (from suite.sh) into a verdict and a matrix line.

Owns: which test executables run in the matrix, what each kernel is expected to offer (by
version: a feature may be missing only where it is genuinely absent), and the table format.

  matrix.py tests CARGO_JSON WORKSPACE_ROOT OUT_LIST [offline]
                                                       -> writes the list, prints tcpbypass's path
  matrix.py row NAME LOG OUT_JSON [HOW]                -> prints the matrix line, exit 1 on failure
  matrix.py table RESULT_JSON...                       -> prints the Markdown table
  matrix.py modules MODULES_DIR DEST_DIR               -> stages the guest's kernel modules
  matrix.py sysroot-copy SYSROOT DEST PATH...          -> copies SYSROOT/PATH (ELF executables or
                                                          libraries) into DEST with the shared
                                                          libraries and loader they need
"""

import json
import lzma
import os
import re
import shutil
import struct
import sys

# Features `tcpbypass probe --json` reports, and the first kernel that has each (mainline).
# A kernel at or above the version must report the feature; below it, it must not.
EXPECTED_SINCE = {
    "prog_sock_ops": (4, 13),
    "prog_sk_msg": (4, 17),
    "map_sockhash": (4, 18),
    "map_lpm_trie": (4, 11),
    "map_percpu_array": (4, 6),
    "map_hash": (3, 19),
    "cgroup_link": (5, 7),  # BPF_LINK_CREATE for cgroup programs
    "sockmap_link": (6, 10),  # BPF_LINK_TYPE_SOCKMAP
    "netns_cookie_sock_ops": (5, 15),  # bpf_get_netns_cookie allowed in sock_ops
    "netns_cookie_sk_msg": (5, 15),  # ... and in sk_msg
}

# Test targets run in the matrix: (package, target kind, target name or None for all).
SELECT = [
    ("loader", "test", None),  # the loader's kernel tests (kernel.rs, fd_zero.rs)
    ("verifier-tests", "test", "kernel"),  # real verifier stats of the real programs
    ("tcpbypass", "test", None),  # CLI and end-to-end tests (tests/*.rs of the root package)
    ("bench", "test", None),  # the benchmark's smoke test (bench/tests, package tcpbypass-bench)
]

# The offline tier, run in guests of another architecture than the host's (arm64): what
# `cargo test` runs natively on the host and needs no kernel, to show it holds on that
# architecture too. Matched after SELECT, so verifier-tests' kernel tier stays in SELECT.
OFFLINE_SELECT = [
    ("asm", "lib", None),  # unit tests
    ("asm", "test", None),  # golden bytes, props, errors, tag, rbpf_diff, doc example
    ("programs", "lib", None),
    ("verifier-tests", "lib", None),
    ("verifier-tests", "test", None),  # rbpf tier: harness, scenarios, properties, mutants
    ("loader", "lib", None),  # unit tests (attr layouts, fake bpf(), ELF)
    ("tcpbypass", "lib", "tcpbypass"),  # the CLI's unit tests (its library)
    ("bench", "bin", "tcpbypass-bench"),  # the benchmark's unit tests
]


# Kernel modules staged into the guest: every module under these directories, these by name,
# and everything they depend on.
MODULE_DIRS = ("kernel/net/netfilter/", "kernel/net/ipv4/netfilter/", "kernel/net/ipv6/netfilter/")
# bridge: tests/scale.rs puts its pods on one; sch_ingress (clsact) and cls_bpf: the loader's
# classic tc attach (loader/tests/attach.rs).
MODULE_NAMES = ("veth", "dummy", "bridge", "sch_ingress", "cls_bpf")


def modinfo(data):
    """The key=value strings of an ELF64 module's .modinfo section."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return []
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def section(i):
        base = shoff + i * shentsize
        name, _typ, _flags, _addr, off, size = struct.unpack_from("<IIQQQQ", data, base)
        return name, off, size

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name, off, size = section(i)
        end = data.index(b"\0", stroff + name)
        if data[stroff + name:end] == b".modinfo":
            return [x.decode(errors="replace") for x in data[off:off + size].split(b"\0") if x]
    return []


def cmd_modules(src, dst):
    def modname(path):
        return os.path.basename(path).split(".ko")[0].replace("-", "_")

    index = {}
    for dirpath, _dirs, files in os.walk(os.path.join(src, "kernel")):
        for f in files:
            if ".ko" in f:
                full = os.path.join(dirpath, f)
                index[modname(f)] = os.path.relpath(full, src)
    todo = [n for n, rel in index.items() if rel.startswith(MODULE_DIRS) or n in MODULE_NAMES]
    staged = {}
    while todo:
        n = todo.pop()
        if n in staged or n not in index:
            continue
        rel = index[n]
        raw = open(os.path.join(src, rel), "rb").read()
        if rel.endswith(".xz"):
            raw = lzma.decompress(raw)
        elif not rel.endswith(".ko"):
            sys.exit(f"matrix.py: cannot decompress {rel}")
        info = modinfo(raw)
        deps = [d for x in info if x.startswith("depends=") for d in x[8:].split(",") if d]
        aliases = [x[6:] for x in info if x.startswith("alias=")]
        out_rel = rel.split(".ko")[0] + ".ko"
        os.makedirs(os.path.join(dst, os.path.dirname(out_rel)), exist_ok=True)
        with open(os.path.join(dst, out_rel), "wb") as f:
            f.write(raw)
        staged[n] = (out_rel, deps, aliases)
        todo.extend(deps)

    def closure(n):
        # Every module n needs, each before the modules it needs itself: modprobe loads a
        # modules.dep line from its end, so the last one must need nothing of the others
        # (bridge: "stp llc", never "llc stp", whatever order .modinfo's depends= lists).
        post = []

        def visit(m):
            for d in staged.get(m, (None, [], []))[1]:
                if d in staged and d not in post:
                    visit(d)
                    post.append(d)

        visit(n)
        return list(reversed(post))

    with open(os.path.join(dst, "modules.dep"), "w") as f:
        for n in sorted(staged):
            f.write(f"{staged[n][0]}: {' '.join(staged[d][0] for d in closure(n))}\n")
    with open(os.path.join(dst, "modules.alias"), "w") as f:
        for n in sorted(staged):
            for a in staged[n][2]:
                f.write(f"alias {a} {n}\n")
    for name in ("modules.builtin", "modules.builtin.modinfo", "modules.order"):
        if os.path.exists(os.path.join(src, name)):
            shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))
    print(f"matrix.py: staged {len(staged)} modules into {dst}", file=sys.stderr)


def elf_deps(data):
    """(interpreter or None, [DT_NEEDED names]) of an ELF64 little-endian file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None, []
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads, dyn, interp = [], None, None
    for i in range(phnum):
        typ, _flags, off, vaddr, _paddr, filesz, _memsz, _align = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + i * phentsize)
        if typ == 1:  # PT_LOAD
            loads.append((vaddr, off, filesz))
        elif typ == 2:  # PT_DYNAMIC
            dyn = (off, filesz)
        elif typ == 3:  # PT_INTERP
            interp = data[off:off + filesz].split(b"\0")[0].decode()
    if dyn is None:
        return interp, []
    needed, strtab = [], None
    for i in range(dyn[1] // 16):
        tag, val = struct.unpack_from("<qQ", data, dyn[0] + 16 * i)
        if tag == 0:
            break
        if tag == 1:  # DT_NEEDED
            needed.append(val)
        elif tag == 5:  # DT_STRTAB (an address)
            strtab = next((off + val - va for va, off, sz in loads if va <= val < va + sz), None)
    if strtab is None:
        return interp, []
    return interp, [data[strtab + n:data.index(b"\0", strtab + n)].decode() for n in needed]


def cmd_sysroot_copy(sysroot, dest, paths):
    """Copies each SYSROOT/path to DEST/path (symlinks resolved inside SYSROOT), then every
    shared library and program interpreter they need, found in the multiarch directories of
    SYSROOT (an unpacked set of Debian packages of the guest's architecture)."""
    sysroot = os.path.realpath(sysroot)

    def resolve(path):  # follows symlinks, absolute ones relative to sysroot
        for _ in range(40):
            full = sysroot + path
            if not os.path.islink(full):
                return path if os.path.exists(full) else None
            target = os.readlink(full)
            path = os.path.normpath(target if target.startswith("/")
                                    else os.path.join(os.path.dirname(path), target))
        return None

    lib_dirs = []
    for base in ("/lib", "/usr/lib"):
        for d in sorted(os.listdir(sysroot + base)) if os.path.isdir(sysroot + base) else []:
            if d.endswith("-linux-gnu"):
                lib_dirs.append(f"{base}/{d}")
        lib_dirs.append(base)
    todo, done, missing = list(paths), set(), []
    while todo:
        path = todo.pop()
        real = resolve(path)
        if real is None:
            missing.append(path)
            continue
        if path in done:
            continue
        done.add(path)
        os.makedirs(os.path.dirname(dest + path), exist_ok=True)
        shutil.copyfile(sysroot + real, dest + path)
        shutil.copymode(sysroot + real, dest + path)
        interp, needed = elf_deps(open(sysroot + real, "rb").read())
        if interp:
            todo.append(interp)
        for n in needed:
            found = next((f"{d}/{n}" for d in lib_dirs if resolve(f"{d}/{n}")), None)
            if found:
                todo.append(found)
            else:
                missing.append(f"{n} (needed by {path})")
    if missing:
        sys.exit("matrix.py: sysroot-copy: not in " + sysroot + ": " + ", ".join(sorted(set(missing))))
    print(f"matrix.py: copied {len(done)} files from {sysroot}", file=sys.stderr)


def version_of(release):
    m = re.match(r"(\d+)\.(\d+)", release)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def cmd_tests(cargo_json, root, out_list, offline=""):
    """Writes "label<TAB>executable<TAB>package dir<TAB>tier" lines; tier is "kernel" for SELECT
    and "offline" for OFFLINE_SELECT (only with offline="offline")."""
    root = os.path.realpath(root)
    rows, tcpbypass, seen = [], None, set()
    selects = [(s, "kernel") for s in SELECT]
    if offline == "offline":
        selects += [(s, "offline") for s in OFFLINE_SELECT]
    elif offline:
        sys.exit(f"matrix.py: tests: unknown option {offline!r}")
    with open(cargo_json) as f:
        for line in f:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
                continue
            pkg_dir = os.path.dirname(msg["manifest_path"])
            pkg = "tcpbypass" if os.path.realpath(pkg_dir) == root else os.path.basename(pkg_dir)
            target = msg["target"]
            kinds = target["kind"]
            if not msg["profile"]["test"]:
                if pkg == "tcpbypass" and "bin" in kinds and target["name"] == "tcpbypass":
                    tcpbypass = msg["executable"]
                continue
            if msg["executable"] in seen:  # several cargo invocations may report one artifact
                continue
            for (p, kind, name), tier in selects:
                if pkg == p and kind in kinds and (name is None or target["name"] == name):
                    rows.append((f"{pkg}:{target['name']}", msg["executable"], pkg_dir, tier))
                    seen.add(msg["executable"])
                    break
    rows.sort(key=lambda r: (r[3] != "kernel", r[0]))  # the kernel tiers first, as before
    with open(out_list, "w") as f:
        for r in rows:
            f.write("\t".join(r) + "\n")
    if tcpbypass is None:
        sys.exit("matrix.py: cargo built no tcpbypass binary")
    print(tcpbypass)


def parse_log(path):
    """The "@@M kind rest" lines of a log, in order."""
    out = []
    with open(path, errors="replace") as f:
        for raw in f:
            line = raw.replace("\r", "").rstrip("\n")
            i = line.find("@@M ")
            if i < 0:
                continue
            parts = line[i + 4:].split(" ", 1)
            out.append((parts[0], parts[1] if len(parts) > 1 else ""))
    return out


def kv(text):
    return dict(re.findall(r"(\w+)=(\S+)", text))


def json_after(text):
    i = text.find("{")
    if i < 0:
        return None
    try:
        return json.loads(text[i:])
    except ValueError:
        return None


# What a native run may lack that a guest kernel has: the development hosts run in lockdown
# (integrity mode refuses trampoline programs: fentry, fexit, lsm) and on a kernel built without
# kprobes (no kprobe PMU). A test may skip for these natively; in a guest (Debian's kernels, no
# lockdown, kprobes built in) the same skip is a problem, so the guests run what the host cannot.
NATIVE_ONLY_SKIPS = r"trampoline programs are refused|kprobe PMU"


def skip_verdict(reason, kver, native=False):
    """(allowed, why) for a SKIP line on kernel version kver (native: the host row)."""
    if re.search(NATIVE_ONLY_SKIPS, reason):
        if native:
            return True, "a limit of this host (lockdown or no kprobes); the guests run it"
        return False, "the guest kernels have no lockdown and have kprobes"
    m = re.search(r"(?:Linux|kernel|>=|≥)\s*v?(\d+)\.(\d+)", reason)
    if m:
        need = (int(m.group(1)), int(m.group(2)))
        if kver < need:
            return True, f"needs {need[0]}.{need[1]}"
        return False, f"skipped although this kernel has {need[0]}.{need[1]}"
    if re.search(r"not found|not installed|no such (file|command)|unavailable|missing", reason, re.I):
        return True, "tool missing"
    return False, "skip without a kernel version"


def cmd_row(name, log, out_json, how="?"):
    marks = parse_log(log)
    problems, notes = [], []
    release = next((kv(r).get("kernel") for k, r in marks if k in ("boot", "env")), None)
    if release is None:
        problems.append("no result lines (the guest did not boot or run the suite)")
        release = "?"
    kver = version_of(release)

    # Probe: the bypass must be possible, and each feature present exactly from its version.
    probe = next((json_after(r) for k, r in marks if k == "probe"), None)
    features = (probe or {}).get("features", {})
    if probe is None:
        problems.append("probe printed no JSON")
    elif not probe.get("bypass_possible"):
        problems.append(f"probe: bypass not possible (missing {probe.get('missing')})")
    wrong = []
    for feat, since in EXPECTED_SINCE.items():
        if feat not in features:
            continue
        want = kver >= since
        if features[feat] is not want:
            wrong.append(f"{feat}={features[feat]} (expected {want}: since {since[0]}.{since[1]})")
    if wrong:
        problems.append("probe: " + "; ".join(wrong))
    have = sorted(f for f, v in features.items() if v is True)
    lacking = sorted(f for f, v in features.items() if v is not True)

    # Verify: sock_ops and sk_msg accepted (the setsockopt guard is optional); processed insns.
    verified = []
    for k, r in marks:
        if k == "verify-line":
            m = re.match(r"(\S+): accepted .*?(\d+|\?) processed", r)
            if m:
                verified.append(f"{m.group(1)} {m.group(2)}")
            else:
                problems.append(f"verify: {r}")
    vrc = next((kv(r).get("rc") for k, r in marks if k == "verify"), None)
    names = {v.split()[0] for v in verified}
    if vrc != "0" or not {"tb_sock_ops", "tb_sk_msg"} <= names:
        problems.append(f"verify rc={vrc}, accepted: {', '.join(sorted(names)) or 'none'}")
    elif "tb_setsockopt" not in names:
        notes.append("the setsockopt guard is not accepted on this kernel (load goes on without it)")

    # Attach paths and the loopback transfer through the bypass.
    attach = {}
    statuses = {kv(r).get("mode"): json_after(r) for k, r in marks if k == "status"}
    for k, r in marks:
        if k != "attach":
            continue
        a = kv(r)
        mode = a.get("mode")
        st = statuses.get(mode) or {}
        counters = st.get("counters") or {}
        path = st.get("attach", "?")
        want = "prog_attach" if mode == "legacy" or not features.get("cgroup_link") else "bpf_link"
        red = counters.get("redirected_bytes", 0)
        # The client writes small chunks on loopback: the small-write policy (or the
        # receive-queue bound) may move its direction to TCP after the first messages, by
        # design. Then the transfer must still have been paired and redirected at first.
        fell_back = ((counters.get("stream_fallback", 0) or counters.get("rcvq_fallback", 0))
                     and counters.get("paired", 0) >= 1 and counters.get("redirected", 0) > 0)
        # status recognises its own programs by tag (SHA-1 before 6.18, SHA-256 after).
        same_tags = all((st.get(p) or {}).get("matches_binary") is True for p in ("sock_ops", "sk_msg"))
        ok = (a.get("load_rc") == "0" and a.get("same") == "yes" and a.get("unload_rc") == "0"
              and a.get("left") == "none" and path == want and st.get("attached") is True
              and same_tags and int(a.get("bytes", "0") or 0) > 0
              and (red >= int(a.get("bytes", "0") or 0) or fell_back))
        attach[mode] = f"{path}{'' if ok else ' FAIL'}"
        if not ok:
            problems.append(f"attach {mode}: {r}; attach={path} (want {want}), "
                            f"attached={st.get('attached')}, tags match={same_tags}, "
                            f"redirected_bytes={red}")

    # Test executables. One that ran no test is a failure that says why (its first output
    # lines, from suite.sh's "no-tests" line), never a quiet "0 passed".
    tests, failed_tests, skips, not_run = [], [], [], []
    why_none = {}
    for k, r in marks:
        if k == "no-tests":
            label, _, rest = r.partition(" ")
            why_none[label] = rest.strip()
    offline = []  # the offline tier (guests of another architecture only)
    for k, r in marks:
        if k == "test":
            label, _, rest = r.partition(" ")
            a = kv(rest)
            # The offline tier is counted apart (its own column) and judged the same way.
            (offline if a.get("tier") == "offline" else tests).append((label, a))
            ran = sum(int(a.get(x, 0) or 0) for x in ("passed", "failed", "ignored"))
            if ran == 0:
                not_run.append(f"{label} ran no test ({why_none.get(label) or 'rc=' + str(a.get('rc'))})")
            elif a.get("rc") != "0":
                failed_tests.append(f"{label} (rc={a.get('rc')}, failed={a.get('failed')})")
        elif k == "skip":
            label, rest = r.split(" ", 1)
            allowed, why = skip_verdict(rest, kver, native=how == "native")
            skips.append(f"{label}: {rest} [{why}]")
            if not allowed:
                problems.append(f"unjustified skip: {label}: {rest} ({why})")
        elif k == "fail-line":
            notes.append(r)
    if failed_tests:
        problems.append("tests failed: " + ", ".join(failed_tests))
    problems.extend(not_run)
    if not tests:
        problems.append("no test executable ran")
    passed = sum(int(a.get("passed", 0)) for _, a in tests)
    failed = sum(int(a.get("failed", 0)) for _, a in tests)
    ignored = sum(int(a.get("ignored", 0)) for _, a in tests)
    if tests and passed + failed == 0:
        problems.append(f"no test ran on this kernel ({len(tests)} test executable(s) started, 0 tests run)")
    e2e = [(l, a) for l, a in tests if l.startswith(("tcpbypass:", "bench:"))]
    e2e_text = (", ".join(f"{l.split(':')[1]} {a.get('passed')}/{int(a.get('passed', 0)) + int(a.get('failed', 0))}"
                          for l, a in e2e) or "none present")

    if offline:
        by_pkg = {}
        for label, a in offline:
            p, f = by_pkg.get(label.split(":")[0], (0, 0))
            by_pkg[label.split(":")[0]] = (p + int(a.get("passed", 0)), f + int(a.get("failed", 0)))
        offline_text = (f"{sum(int(a.get('passed', 0)) for _, a in offline)} passed, "
                        f"{sum(int(a.get('failed', 0)) for _, a in offline)} failed, "
                        f"{sum(int(a.get('ignored', 0)) for _, a in offline)} ignored ("
                        + ", ".join(f"{k} {p}/{p + f}" for k, (p, f) in sorted(by_pkg.items())) + ")")
    else:
        offline_text = "-"

    # Where the time went (seconds): suite.sh's "time" lines and each executable's secs=, by
    # tier: offline, kernel (loader and verifier-tests' kernel tier), cli, e2e, bench.
    def tier_of(label, a):
        if a.get("tier") == "offline":
            return "offline"
        t = label.split(":", 1)[1] if label.startswith(("tcpbypass:", "bench:")) else "kernel"
        return "bench" if t == "bench_smoke" else t
    timing = {}
    for k, r in marks:
        if k == "time":
            a = kv(r)
            timing[a.get("phase", "?")] = timing.get(a.get("phase", "?"), 0) + int(a.get("secs", 0) or 0)
        elif k == "boot" and "uptime" in kv(r):
            timing["boot"] = int(float(kv(r)["uptime"]))
    for label, a in tests + offline:
        t = tier_of(label, a)
        timing[t] = timing.get(t, 0) + int(a.get("secs", 0) or 0)

    quirk = ((probe or {}).get("quirks") or {}).get("recv_eagain")
    if isinstance(quirk, dict) and "affected" in quirk:
        eagain = (f"{'AFFECTED' if quirk['affected'] else 'not affected'} "
                  f"({quirk.get('eagain', '?')} of {quirk.get('trials', '?')} trials)")
    elif quirk is not None:
        eagain = f"unknown: {json.dumps(quirk)[:120]}"
    else:
        eagain = "n/a (probe has no self-test)"
    tools = next((r for k, r in marks if k == "tools"), None)
    if tools and "FAIL" in tools:
        notes.append(f"guest tools: {tools}")
    dm = next((kv(r).get("warnings") for k, r in marks if k == "dmesg"), None)
    if dm not in (None, "0"):
        problems.append(f"kernel log has {dm} warning/BUG lines")
    done = next((r for k, r in marks if k == "done"), None)
    if done is None and release != "?":
        problems.append("suite did not finish (timeout or crash)")

    # The compatibility suite (docs/compatibility.md): every behaviour must have a verdict.
    compat = (probe or {}).get("compat")
    compat_row = {}
    if isinstance(compat, dict) and "error" not in compat:
        for bname, v in compat.items():
            same, guard = v.get("same"), v.get("guard")
            compat_row[bname] = ("guarded" if same and guard else "same" if same
                                 else "different" if same is False else "unknown")
        unknown = [b for b, v in compat_row.items() if v == "unknown"]
        if unknown:
            problems.append(f"compat: no verdict for {', '.join(unknown)}")
    elif probe is not None:
        problems.append(f"probe: compatibility suite missing or failed: {json.dumps(compat)[:200]}")
    counts = {k: sum(1 for v in compat_row.values() if v == k) for k in ("same", "guarded", "different")}
    compat_text = (f"{counts['same'] + counts['guarded']} same ({counts['guarded']} guarded), "
                   f"{counts['different']} different: "
                   + ", ".join(b for b, v in compat_row.items() if v == "different")) if compat_row else "n/a"

    verdict = "PASS" if not problems else "FAIL"
    row = {
        "name": name,
        "kernel": release,
        "how": how,
        "verdict": verdict,
        "verified": ", ".join(verified) or "-",
        "features": f"{len(have)}/{len(features)}" + (f" (no {', '.join(lacking)})" if lacking else ""),
        "attach": f"sock_ops {attach.get('default', '?')} (forced legacy: {attach.get('legacy', '?')}), "
                  f"sk_msg prog_attach (sockmap link {'yes' if features.get('sockmap_link') else 'no'})",
        "tests": f"{passed} passed, {failed} failed, {ignored} ignored, {len(skips)} skipped",
        "e2e": e2e_text,
        "eagain": eagain,
        "compat": compat_text,
        "compat_by_name": compat_row,
        "offline": offline_text,
        "timing": timing,
        "problems": problems,
        "skips": skips,
        "notes": notes[:20],
    }
    with open(out_json, "w") as f:
        json.dump(row, f, indent=1)
    print(f"{name:<6} {release:<28} ({how}) {verdict}  verified: {row['verified']}; features {row['features']}; "
          f"attach: {row['attach']}; tests: {row['tests']}; e2e: {row['e2e']}; EAGAIN self-test: {eagain}; "
          f"compat: {compat_text}" + (f"; offline tier: {offline_text}" if offline else ""))
    if timing:
        print("       time: " + ", ".join(f"{k} {v}s" for k, v in timing.items()))
    for p in problems:
        print(f"       problem: {p}")
    for s in skips:
        print(f"       skip: {s}")
    if tools and "FAIL" in tools:
        print(f"       note: guest tools {tools}")
    sys.exit(0 if verdict == "PASS" else 1)


def cmd_table(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            rows.append(json.load(f))
    # The offline-tier column only when some row ran it (guests of another architecture).
    off = any(r.get("offline", "-") != "-" for r in rows)
    print("| kernel | verdict | processed insns (verify) | features probed | attach path | "
          "kernel+CLI tests | e2e | EAGAIN self-test | compatibility |" + (" offline tier |" if off else ""))
    print("|---|---|---|---|---|---|---|---|---|" + ("---|" if off else ""))
    for r in rows:
        print(f"| {r['name']}: {r['kernel']} ({r.get('how', '?')}) | {r['verdict']} | {r['verified']} | {r['features']} | "
              f"{r['attach']} | {r['tests']} | {r['e2e']} | {r['eagain']} | {r.get('compat', 'n/a')} |"
              + (f" {r.get('offline', '-')} |" if off else ""))
    # Behaviour x kernel (docs/compatibility.md).
    names = []
    for r in rows:
        for b in r.get("compat_by_name", {}):
            if b not in names:
                names.append(b)
    if names:
        print()
        print("| behaviour | " + " | ".join(r["name"] for r in rows) + " |")
        print("|---|" + "---|" * len(rows))
        for b in names:
            print(f"| `{b}` | " + " | ".join(r.get("compat_by_name", {}).get(b, "-") for r in rows) + " |")


def main(argv):
    if len(argv) >= 2 and argv[1] == "tests" and len(argv) in (5, 6):
        cmd_tests(*argv[2:])
    elif len(argv) >= 2 and argv[1] == "row" and len(argv) in (5, 6):
        cmd_row(*argv[2:])
    elif len(argv) >= 2 and argv[1] == "modules" and len(argv) == 4:
        cmd_modules(argv[2], argv[3])
    elif len(argv) >= 2 and argv[1] == "sysroot-copy" and len(argv) >= 5:
        cmd_sysroot_copy(argv[2], argv[3], argv[4:])
    elif len(argv) >= 2 and argv[1] == "table":
        cmd_table(argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
