//! Kernel tier (root, working `bpf()`): what only the real verifier can tell. Skips with a
//! printed reason when `bpf()` is unusable; `TCPBYPASS_REQUIRE_KERNEL=1` turns a skip into a
//! failure. Nothing is attached or pinned: programs and maps are closed when dropped.

use loader::testing::kernel_or_skip;
use loader::{Map, MapSpec, MapType, Program, ProgramSpec, ProgramType};
use verifier_tests::kernel::ProgKind;
use verifier_tests::sim::real_maps;

fn create_maps() -> Vec<Map> {
    programs::maps()
        .iter()
        .map(|d| {
            let spec = MapSpec::new(
                d.name,
                MapType::from_raw(d.kind.uapi_type()),
                d.key_size,
                d.value_size,
                d.max_entries,
            )
            .with_flags(d.flags);
            Map::create(&spec).unwrap_or_else(|e| panic!("creating map {}: {e}", d.name))
        })
        .collect()
}

fn load(name: &str, t: ProgramType, p: &asm::Program, maps: &[Map]) -> loader::Result<Program> {
    let refs: Vec<&Map> = maps.iter().collect();
    Program::load(&ProgramSpec::new(name, t).with_stats(), p, &refs)
}

#[test]
fn both_programs_pass_the_real_verifier() {
    if !kernel_or_skip("both_programs_pass_the_real_verifier") {
        return;
    }
    let maps = create_maps();
    for cookie in [true, false] {
        let cfg = programs::Config {
            netns_cookie: cookie,
            rcvq_guard: None,
        };
        for (name, t, p) in [
            (
                "tb_sockops",
                ProgramType::SockOps,
                programs::sock_ops(&cfg).unwrap(),
            ),
            (
                "tb_skmsg",
                ProgramType::SkMsg,
                programs::sk_msg(&cfg).unwrap(),
            ),
        ] {
            let prog = load(name, t, &p, &maps)
                .unwrap_or_else(|e| panic!("{name} (netns_cookie={cookie}) rejected: {e:#}"));
            let st = prog.stats();
            let processed = st
                .verified_insns
                .or(prog.cached_info().verified_insns.into());
            eprintln!(
                "{name} netns_cookie={cookie}: {} insns ({} bytes), verifier processed {:?} insns, states total {:?} peak {:?}, stack {:?}",
                p.len(),
                p.len() * 8,
                processed,
                st.total_states,
                st.peak_states,
                st.stack_depth
            );
            assert!(
                processed.unwrap_or(0) > 0,
                "no processed-instruction count for {name}"
            );
        }
    }
}

#[test]
fn a_16_bit_port_load_is_rejected_with_the_reason() {
    if !kernel_or_skip("a_16_bit_port_load_is_rejected_with_the_reason") {
        return;
    }
    let maps = create_maps();
    let specs = real_maps();
    let cfg = programs::Config::default();
    for (name, t, kind, p) in [
        (
            "tb_sockops_h",
            ProgramType::SockOps,
            ProgKind::SockOps,
            programs::sock_ops(&cfg).unwrap(),
        ),
        (
            "tb_skmsg_h",
            ProgramType::SkMsg,
            ProgKind::SkMsg,
            programs::sk_msg(&cfg).unwrap(),
        ),
    ] {
        let (m, at) = verifier_tests::mutants::narrow_port_load(&p, kind, &specs).unwrap();
        let err = match load(name, t, &m, &maps) {
            Ok(_) => {
                panic!("{name}: the kernel accepted a 16-bit load of remote_port at insn {at}")
            }
            Err(e) => e,
        };
        let text = format!("{err:#}");
        eprintln!("{name}: {err}");
        assert!(text.contains("invalid bpf_context access"), "{text}");
        let loader::Error::Verifier(v) = &err else {
            panic!("not a verifier error: {text}")
        };
        assert_eq!(
            v.insn(),
            Some(at),
            "the error names another instruction: {text}"
        );
    }
}

/// The context offsets the programs use (the `uapi` crate's, already checked against the
/// vendored `linux/bpf.h`) are where the running kernel's BTF puts those members. Skips with a
/// printed reason without `/sys/kernel/btf/vmlinux`, fails then under
/// `TCPBYPASS_REQUIRE_KERNEL=1`.
#[test]
fn context_offsets_match_the_running_kernels_btf() {
    let btf = match loader::btf::KernelBtf::from_sys() {
        Ok(b) => b,
        Err(e) => {
            let reason = format!("no kernel BTF: {e}");
            if std::env::var(loader::testing::REQUIRE_KERNEL_ENV).as_deref() == Ok("1") {
                panic!("context_offsets_match_the_running_kernels_btf: {reason}");
            }
            eprintln!("SKIP context_offsets_match_the_running_kernels_btf: {reason}");
            return;
        }
    };
    let mut checked = 0;
    for (name, size, fields) in uapi::ctx::STRUCTS {
        let kernel_size = btf
            .struct_size(name)
            .unwrap_or_else(|e| panic!("struct {name} in kernel BTF: {e}"));
        // Later kernels may append members; they never move or remove one.
        assert!(
            kernel_size >= *size as u32,
            "sizeof(struct {name}): kernel {kernel_size} < UAPI {size}"
        );
        for (member, off) in *fields {
            let f = btf
                .field(name, member)
                .unwrap_or_else(|e| panic!("{name}.{member} in kernel BTF: {e}"));
            assert_eq!(f.offset, *off as u32, "offsetof(struct {name}, {member})");
            checked += 1;
        }
    }
    eprintln!("{checked} context offsets match the kernel's BTF");
}
