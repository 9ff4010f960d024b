//! Offline tests of the ELF reader and writer: round trips, the committed sample objects,
//! subprogram layout, global data, legacy and BTF maps, and typed errors on broken objects.

mod elf_samples;

use asm::insn::op;
use asm::{MapRef, MapRefKind};
use loader::elf::{ElfError, MapFormat, MapOrigin, Object, ObjectProgramExt, Pinning, Writer};
use loader::{MapSpec, MapType, ProgramType};

use elf_samples as samples;

#[test]
fn committed_samples_are_what_the_writer_writes() {
    let bless = std::env::var_os("TCPBYPASS_BLESS").is_some();
    for (name, bytes) in samples::all() {
        let path = loader::testing::runtime_path("CARGO_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        if bless {
            std::fs::write(&path, &bytes).unwrap();
        }
        assert_eq!(
            samples::committed(name),
            bytes,
            "{name} differs (TCPBYPASS_BLESS=1 rewrites it)"
        );
    }
}

#[test]
fn subprogram_object_round_trips() {
    for format in [MapFormat::Btf, MapFormat::Legacy] {
        let prog = samples::sockops_with_subprogram();
        let obj = Object::parse(&samples::sockops_object(format)).unwrap();
        assert_eq!(obj.license, "GPL");
        assert_eq!(obj.programs.len(), 1);
        let p = &obj.programs[0];
        assert_eq!(p.name, "store_sock");
        assert_eq!(p.section, "sockops");
        assert_eq!(p.prog_type(), Some(ProgramType::SockOps));
        assert_eq!(p.program.insns(), prog.insns(), "{format:?}");
        assert_eq!(p.program.map_refs(), prog.map_refs());
        assert_eq!(p.subprograms, [("store_key".to_string(), 19)]);
        assert_eq!(p.program.labels()[&19], ["store_key"]);
        assert_eq!(obj.maps.len(), 1);
        assert_eq!(obj.maps[0].spec, samples::sock_hash());
        let want = if format == MapFormat::Btf {
            MapOrigin::Btf
        } else {
            MapOrigin::Legacy
        };
        assert_eq!(obj.maps[0].origin, want);
        // The tag the kernel will compute is the one of the built program.
        assert_eq!(
            asm::tag::tag(p.program.insns()),
            asm::tag::tag(prog.insns())
        );
    }
}

#[test]
fn global_data_shared_sections_and_renamed_subprograms() {
    let obj = Object::parse(&samples::mixed_object()).unwrap();
    assert_eq!(obj.license, "Dual MIT/GPL");
    let names: Vec<&str> = obj.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["filter_a", "filter_b", "count_msgs"]);
    for (p, first) in [(&obj.programs[0], true), (&obj.programs[1], false)] {
        let want = samples::data_program(first);
        assert_eq!(p.section, "socket");
        assert_eq!(p.prog_type(), Some(ProgramType::SocketFilter));
        assert_eq!(p.program.insns(), want.insns(), "{}", p.name);
        assert_eq!(p.program.map_refs(), want.map_refs());
    }
    // The second `clamp` has another body, so it was written under another name.
    assert_eq!(obj.programs[0].subprograms[0].0, "clamp");
    assert_eq!(obj.programs[1].subprograms[0].0, "filter_b_clamp");
    assert_eq!(
        obj.programs[0].program.map_refs()[0],
        MapRef {
            insn: 0,
            name: ".rodata".into(),
            kind: MapRefKind::Value { offset: 4 }
        }
    );
    let rodata = obj.map(".rodata").unwrap();
    assert_eq!(rodata.spec.map_type, MapType::Array);
    assert_eq!(
        (
            rodata.spec.key_size,
            rodata.spec.value_size,
            rodata.spec.max_entries
        ),
        (4, 16, 1)
    );
    assert_eq!(rodata.spec.flags, 1 << 7, "BPF_F_RDONLY_PROG");
    let MapOrigin::GlobalData { init } = &rodata.origin else {
        panic!("not data")
    };
    assert_eq!(&init[4..8], &1500u32.to_le_bytes());
    let bss = obj.map(".bss").unwrap();
    assert_eq!(bss.spec.value_size, 16);
    assert_eq!(bss.origin, MapOrigin::GlobalData { init: Vec::new() });
    let count = obj.map("msg_count").unwrap();
    assert_eq!(count.pinning, Pinning::ByName);
    assert_eq!(count.spec, samples::msg_count());
    let sk = obj.program("count_msgs").unwrap();
    assert_eq!(sk.prog_type(), Some(ProgramType::SkMsg));
    assert_eq!(
        sk.expected_attach_type(),
        Some(loader::AttachType::SkMsgVerdict)
    );
    assert_eq!(sk.program.insns(), samples::sk_msg_counter().insns());
}

#[test]
fn identical_subprograms_are_written_once() {
    let p = samples::sockops_with_subprogram();
    let bytes = Writer::new("GPL")
        .map(&samples::sock_hash())
        .program("sockops", "one", &p)
        .program("sockops", "two", &p)
        .finish()
        .unwrap();
    let obj = Object::parse(&bytes).unwrap();
    assert_eq!(obj.programs.len(), 2);
    for q in &obj.programs {
        assert_eq!(q.program.insns(), p.insns());
        assert_eq!(q.subprograms[0].0, "store_key");
    }
}

#[test]
fn lpm_tries_get_no_prealloc_like_the_loader_gives_them() {
    let mut b = asm::Builder::new();
    b.ld_map(asm::Reg::R1, "trie").mov64(asm::Reg::R0, 0).exit();
    let bytes = Writer::new("GPL")
        .map(&MapSpec::new("trie", MapType::LpmTrie, 8, 4, 16))
        .program("socket", "f", &b.build().unwrap())
        .finish()
        .unwrap();
    assert_eq!(Object::parse(&bytes).unwrap().maps[0].spec.flags, 1);
}

#[test]
fn writer_refuses_what_it_cannot_write() {
    let p = samples::sockops_with_subprogram();
    let err = |w: &mut Writer| match w.finish() {
        Err(ElfError::Write(m)) => m,
        other => panic!("expected a write error, got {other:?}"),
    };
    assert!(err(&mut Writer::new("GPL")).contains("no programs"));
    assert!(err(Writer::new("GPL").program("sockops", "p", &p)).contains("sock_hash"));
    assert!(err(Writer::new("GPL")
        .map(&samples::sock_hash())
        .program("sockops", "bad-name", &p))
    .contains("identifier"));
    assert!(err(Writer::new("GPL")
        .map(&samples::sock_hash())
        .program(".text", "p", &p))
    .contains("program section"));
    assert!(err(Writer::new("GPL")
        .map(&samples::sock_hash())
        .map(&samples::sock_hash())
        .program("sockops", "p", &p))
    .contains("twice"));
    let mut b = asm::Builder::new();
    b.mov64(asm::Reg::R0, 0).exit();
    let ret0 = b.build().unwrap();
    assert!(err(Writer::new("GPL")
        .data(".bss", &[1])
        .program("socket", "p", &ret0))
    .contains("zeros"));
    assert!(err(Writer::new("GPL")
        .data(".heap", &[1])
        .program("socket", "p", &ret0))
    .contains("data section"));
    assert!(err(Writer::new("GPL")
        .map_format(MapFormat::Legacy)
        .pinned_map(&samples::sock_hash(), Pinning::ByName)
        .program("sockops", "p", &p))
    .contains("pinning"));
    // A value reference to a plain map cannot be expressed in an object.
    let mut b = asm::Builder::new();
    b.ld_map_value(asm::Reg::R1, "sock_hash", 0)
        .mov64(asm::Reg::R0, 0)
        .exit();
    assert!(err(Writer::new("GPL").map(&samples::sock_hash()).program(
        "socket",
        "p",
        &b.build().unwrap()
    ))
    .contains("value"));
}

// ---- Broken objects: typed errors, never a panic.

fn parse_err(bytes: &[u8]) -> ElfError {
    match Object::parse(bytes) {
        Err(e) => e,
        Ok(o) => panic!("parsed: {o:?}"),
    }
}

#[test]
fn header_problems_are_named() {
    let good = samples::sockops_object(MapFormat::Btf);
    assert!(matches!(parse_err(b""), ElfError::NotElf));
    assert!(matches!(parse_err(b"MZ\x90\0"), ElfError::NotElf));
    assert!(matches!(parse_err(&good[..40]), ElfError::Truncated { .. }));
    let mut b = good.clone();
    b[4] = 1;
    assert!(matches!(parse_err(&b), ElfError::Unsupported(m) if m.contains("32-bit")));
    let mut b = good.clone();
    b[5] = 2;
    assert!(matches!(parse_err(&b), ElfError::Unsupported(m) if m.contains("big-endian")));
    let mut b = good.clone();
    b[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    assert!(matches!(parse_err(&b), ElfError::Unsupported(m) if m.contains("EM_BPF")));
    let mut b = good.clone();
    b[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    assert!(matches!(parse_err(&b), ElfError::Unsupported(m) if m.contains("ET_REL")));
    let mut b = good.clone();
    b[60..62].copy_from_slice(&0xfff0u16.to_le_bytes()); // e_shnum
    assert!(matches!(
        parse_err(&b),
        ElfError::TooMany { .. } | ElfError::Truncated { .. }
    ));
    // Section 0 made a string table far outside the file, and named the name table.
    let mut b = good.clone();
    let shoff = u64::from_le_bytes(b[40..48].try_into().unwrap()) as usize;
    b[shoff + 4..shoff + 8].copy_from_slice(&3u32.to_le_bytes());
    b[shoff + 24..shoff + 32].copy_from_slice(&(1u64 << 50).to_le_bytes());
    b[shoff + 32..shoff + 40].copy_from_slice(&16u64.to_le_bytes());
    b[62..64].copy_from_slice(&0u16.to_le_bytes());
    assert!(matches!(parse_err(&b), ElfError::Malformed(m) if m.contains("name table")));
    let mut b = good.clone();
    b[40..48].copy_from_slice(&u64::MAX.to_le_bytes()); // e_shoff
    assert!(matches!(
        parse_err(&b),
        ElfError::Truncated { .. } | ElfError::Malformed(_)
    ));
}

/// Section headers of an object we wrote: (name offset, type, offset, size) by index.
fn shdrs(b: &[u8]) -> Vec<(usize, u32, u64, u64)> {
    let shoff = u64::from_le_bytes(b[40..48].try_into().unwrap()) as usize;
    let n = u16::from_le_bytes(b[60..62].try_into().unwrap()) as usize;
    (0..n)
        .map(|i| {
            let h = &b[shoff + 64 * i..shoff + 64 * (i + 1)];
            (
                shoff + 64 * i,
                u32::from_le_bytes(h[4..8].try_into().unwrap()),
                u64::from_le_bytes(h[24..32].try_into().unwrap()),
                u64::from_le_bytes(h[32..40].try_into().unwrap()),
            )
        })
        .collect()
}

#[test]
fn section_and_relocation_problems_are_named() {
    let good = samples::sockops_object(MapFormat::Btf);
    let hs = shdrs(&good);
    // A section extending past the end of the file.
    let (hdr, ..) = hs[2];
    let mut b = good.clone();
    b[hdr + 32..hdr + 40].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(matches!(parse_err(&b), ElfError::Truncated { .. }));
    // A relocation whose offset is outside the section it relocates.
    let (rel_hdr, _, rel_off, _) = *hs.iter().find(|h| h.1 == 9).unwrap();
    let _ = rel_hdr;
    let mut b = good.clone();
    b[rel_off as usize..rel_off as usize + 8].copy_from_slice(&0x10_0000u64.to_le_bytes());
    assert!(
        matches!(parse_err(&b), ElfError::BadRelocation { reason, .. } if reason.contains("outside"))
    );
    // A relocation naming a symbol that does not exist.
    let mut b = good.clone();
    b[rel_off as usize + 12..rel_off as usize + 16].copy_from_slice(&5000u32.to_le_bytes());
    assert!(
        matches!(parse_err(&b), ElfError::BadRelocation { reason, .. } if reason.contains("symbol index"))
    );
    // An unknown relocation type.
    let mut b = good.clone();
    b[rel_off as usize + 8..rel_off as usize + 12].copy_from_slice(&7u32.to_le_bytes());
    assert!(
        matches!(parse_err(&b), ElfError::BadRelocation { reason, .. } if reason.contains("type 7"))
    );
    // A symbol table whose size is absurd.
    let (st_hdr, ..) = *hs.iter().find(|h| h.1 == 2).unwrap();
    let mut b = good.clone();
    b[st_hdr + 32..st_hdr + 40].copy_from_slice(&(24u64 << 40).to_le_bytes());
    assert!(matches!(parse_err(&b), ElfError::Truncated { .. }));
}

#[test]
fn every_truncation_is_a_typed_error() {
    for (name, good) in samples::all() {
        for n in 0..good.len() {
            assert!(
                Object::parse(&good[..n]).is_err(),
                "{name} cut at {n} parsed"
            );
        }
    }
}

/// `bytes` (an object we wrote, `.strtab` at index 1) with one more section appended:
/// a copy of the string table with `name` added, the data, and a new section header table.
fn with_extra_section(bytes: &[u8], name: &str, sh_type: u32, data: &[u8]) -> Vec<u8> {
    let hs = shdrs(bytes);
    let shoff = u64::from_le_bytes(bytes[40..48].try_into().unwrap()) as usize;
    let n = hs.len();
    let (_, _, str_off, str_len) = hs[1];
    let mut out = bytes.to_vec();
    let mut strtab = bytes[str_off as usize..(str_off + str_len) as usize].to_vec();
    let name_off = strtab.len() as u32;
    strtab.extend_from_slice(name.as_bytes());
    strtab.push(0);
    let new_str_off = out.len();
    out.extend_from_slice(&strtab);
    while out.len() % 8 != 0 {
        out.push(0);
    }
    let data_off = out.len();
    out.extend_from_slice(data);
    while out.len() % 8 != 0 {
        out.push(0);
    }
    let new_shoff = out.len();
    let mut table = bytes[shoff..shoff + 64 * n].to_vec();
    table[64 + 24..64 + 32].copy_from_slice(&(new_str_off as u64).to_le_bytes());
    table[64 + 32..64 + 40].copy_from_slice(&(strtab.len() as u64).to_le_bytes());
    let mut h = vec![0u8; 64];
    h[0..4].copy_from_slice(&name_off.to_le_bytes());
    h[4..8].copy_from_slice(&sh_type.to_le_bytes());
    h[24..32].copy_from_slice(&(data_off as u64).to_le_bytes());
    h[32..40].copy_from_slice(&(data.len() as u64).to_le_bytes());
    h[48..56].copy_from_slice(&8u64.to_le_bytes());
    table.extend_from_slice(&h);
    out.extend_from_slice(&table);
    out[40..48].copy_from_slice(&(new_shoff as u64).to_le_bytes());
    out[60..62].copy_from_slice(&((n + 1) as u16).to_le_bytes());
    out
}

#[test]
fn co_re_subsection_outside_the_section_is_a_btf_error() {
    let good = samples::sockops_object(MapFormat::Btf);
    // .BTF.ext header: magic, version, flags, hdr_len 32, func/line info empty, core_relo 12.
    let ext = |core_len: u32| {
        let mut e = vec![0x9f, 0xeb, 1, 0];
        for w in [32u32, 0, 0, 0, 0, 0, core_len] {
            e.extend_from_slice(&w.to_le_bytes());
        }
        e
    };
    // CO-RE relocations are read (and applied by the loader); 12 bytes announced past the
    // end of the section are a typed error.
    let with_core = with_extra_section(&good, ".BTF.ext", 1, &ext(12));
    assert!(matches!(parse_err(&with_core), ElfError::Btf(m) if m.contains("core_relo")));
    // Func and line info only (no core relocations) are ignored.
    let without = with_extra_section(&good, ".BTF.ext", 1, &ext(0));
    let obj = Object::parse(&without).unwrap();
    assert_eq!(obj.programs[0].program.insns()[11].src, op::PSEUDO_MAP_FD);
    assert_eq!(
        obj.programs[0].program.insns(),
        samples::sockops_with_subprogram().insns()
    );
}

#[test]
fn version_section() {
    let good = samples::sockops_object(MapFormat::Btf);
    let obj = Object::parse(&with_extra_section(
        &good,
        "version",
        1,
        &0x0006_1200u32.to_le_bytes(),
    ))
    .unwrap();
    assert_eq!(obj.kern_version, Some(0x0006_1200));
    assert!(matches!(
        parse_err(&with_extra_section(&good, "version", 1, &[1, 2])),
        ElfError::Malformed(m) if m.contains("version")
    ));
}

#[test]
fn unknown_sections_still_parse_but_do_not_load() {
    let mut b = asm::Builder::new();
    b.mov64(asm::Reg::R0, 0).exit();
    let bytes = Writer::new("GPL")
        .program("my_custom", "f", &b.build().unwrap())
        .finish()
        .unwrap();
    let obj = Object::parse(&bytes).unwrap();
    assert_eq!(obj.programs[0].kind, None);
    assert!(obj.programs[0].spec("GPL").is_err());
    let bytes = Writer::new("GPL")
        .program("freplace/handler", "f", &b.build().unwrap())
        .finish()
        .unwrap();
    let obj = Object::parse(&bytes).unwrap();
    let e = obj.programs[0].spec("GPL").unwrap_err().to_string();
    assert!(e.contains("BTF attach target"), "{e}");
}

/// fentry, fexit, tp_btf and lsm sections get their attach target from kernel BTF (read
/// from /sys/kernel/btf: the test skips without it; no bpf() call is made).
#[test]
fn btf_target_sections_resolve_in_kernel_btf() {
    let k = match loader::btf::vmlinux() {
        Ok(k) => k,
        Err(e) => return eprintln!("SKIP btf_target_sections_resolve_in_kernel_btf: {e}"),
    };
    let mut b = asm::Builder::new();
    b.mov64(asm::Reg::R0, 0).exit();
    let prog = b.build().unwrap();
    let spec_of = |section: &str| {
        let bytes = Writer::new("GPL")
            .program(section, "f", &prog)
            .finish()
            .unwrap();
        Object::parse(&bytes).unwrap().programs[0].spec("GPL")
    };
    let s = spec_of("fentry.s/tcp_connect").unwrap();
    assert_eq!(s.attach_btf_id, Some(k.func_id("tcp_connect").unwrap()));
    assert_eq!(
        s.expected_attach_type,
        Some(loader::AttachType::TraceFentry)
    );
    assert_eq!(s.prog_flags, uapi::bpf::BPF_F_SLEEPABLE);
    let s = spec_of("tp_btf/sched_switch").unwrap();
    let td = k
        .type_id(loader::btf::Kind::Typedef, "btf_trace_sched_switch")
        .unwrap();
    assert_eq!(s.attach_btf_id, Some(td));
    assert_eq!(s.prog_flags, 0);
    match spec_of("fexit/no_such_function_tcpbypass") {
        Err(loader::Error::Object { object, source }) => {
            assert!(
                object.contains("fexit/no_such_function_tcpbypass"),
                "{object}"
            );
            assert!(
                matches!(
                    *source,
                    loader::Error::Btf(loader::btf::BtfError::NotFound { .. })
                ),
                "{source:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}
