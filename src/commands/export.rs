//! `tcpbypass export`: the two programs as BPF ELF objects that libbpf and bpftool load
//! (libbpf section names `sockops` and `sk_msg`, BTF-defined maps, map relocations, license
//! "GPL"), written by `loader::elf::Writer`. Also the `--object` branches of `dump` and
//! `verify`, which read a compiled object with `loader::elf::Object`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use loader::elf::{Object, ObjectExt, Writer};
use loader::{Map, Program};

use crate::bypass;
use crate::cli::ExportArgs;
use crate::exit::{self, Failure};
use crate::log;

/// libbpf section of the sock_ops program.
pub const SOCK_OPS_SECTION: &str = "sockops";
/// libbpf section of the sk_msg program.
pub const SK_MSG_SECTION: &str = "sk_msg";

/// The objects `export` writes: `(file name, bytes)`. `sock_ops.o` and `sk_msg.o` hold one
/// program and the maps it references; `tcpbypass.o` holds both and every map.
pub fn objects(cfg: &programs::Config) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let (so, sm) = bypass::build(cfg)?;
    let one = |section: &str, name: &str, prog: &asm::Program| -> Result<Vec<u8>> {
        let mut w = Writer::new("GPL");
        for def in programs::maps() {
            if prog.map_names().contains(&def.name) {
                w.map(&bypass::map_spec(def));
            }
        }
        w.program(section, name, prog);
        w.finish()
            .with_context(|| format!("writing the {name} object"))
    };
    let mut both = Writer::new("GPL");
    for def in programs::maps() {
        both.map(&bypass::map_spec(def));
    }
    both.program(SOCK_OPS_SECTION, bypass::SOCK_OPS_NAME, &so)
        .program(SK_MSG_SECTION, bypass::SK_MSG_NAME, &sm);
    Ok(vec![
        (
            "sock_ops.o",
            one(SOCK_OPS_SECTION, bypass::SOCK_OPS_NAME, &so)?,
        ),
        ("sk_msg.o", one(SK_MSG_SECTION, bypass::SK_MSG_NAME, &sm)?),
        (
            "tcpbypass.o",
            both.finish().context("writing the combined object")?,
        ),
    ])
}

/// `tcpbypass export --out DIR`.
pub fn run(args: &ExportArgs) -> Result<ExitCode> {
    let objs = objects(&programs::Config::default())?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    for (name, bytes) in objs {
        let path = args.out.join(name);
        std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        println!("{} ({} bytes)", path.display(), bytes.len());
    }
    log::info("load with e.g. `bpftool prog loadall tcpbypass.o /sys/fs/bpf/<dir>`");
    Ok(ExitCode::SUCCESS)
}

/// Reads an object, as a CLI failure on error.
/// Reads an object: a file that cannot be read is a runtime failure (exit 1); one that is
/// not a BPF object, is malformed or needs what the reader does not do exits
/// [`exit::NOT_LOADED`], with a hint only where one helps.
fn read_object(path: &Path) -> Result<Object> {
    use loader::elf::ElfError as E;
    Object::read_file(path).map_err(|e| {
        let msg = format!("reading {}: {e}", path.display());
        let f = match &e {
            E::Io { .. } => Failure::new(exit::RUNTIME, msg),
            E::NotElf => Failure::new(exit::NOT_LOADED, msg).hint(
                "expected a relocatable eBPF ELF object (clang -target bpf -c, or tcpbypass export)",
            ),
            E::Unsupported(what) if what.contains("CO-RE") => Failure::new(exit::NOT_LOADED, msg)
                .hint(
                    "build the object without CO-RE (no BPF_CORE_READ or \
                     __builtin_preserve_access_index); this loader does not relocate field \
                     offsets",
                ),
            E::Unsupported(what) if what.contains("ELF") || what.contains("machine") => {
                Failure::new(exit::NOT_LOADED, msg).hint(
                    "expected a relocatable eBPF ELF object (clang -target bpf -c, or tcpbypass \
                     export)",
                )
            }
            _ => Failure::new(exit::NOT_LOADED, msg),
        };
        f.into()
    })
}

/// `tcpbypass dump --object FILE.o`: every program of the object, disassembled.
pub fn dump_object(path: &Path, raw: bool) -> Result<ExitCode> {
    let obj = read_object(path)?;
    println!(
        "; {}: license {:?}, {} program(s), {} map(s)",
        path.display(),
        obj.license,
        obj.programs.len(),
        obj.maps.len()
    );
    for m in &obj.maps {
        println!(
            "; map {}: {} key {} value {} max_entries {} flags {:#x}",
            m.spec.name,
            m.spec.map_type,
            m.spec.key_size,
            m.spec.value_size,
            m.spec.max_entries,
            m.spec.flags
        );
    }
    let local = obj
        .programs
        .iter()
        .any(|p| !p.core_relos.is_empty())
        .then(|| loader::core::local_btf(obj.btf.as_deref()).ok())
        .flatten();
    for p in &obj.programs {
        println!();
        let ty = p
            .prog_type()
            .map_or("unknown type".to_string(), |t| t.to_string());
        println!(
            "; {} (section {}, {ty}): {} instructions, tag {} (sha256) / {} (sha1)",
            p.name,
            p.section,
            p.program.len(),
            asm::tag::tag_hex(p.program.insns()),
            asm::tag::tag_hex_with(p.program.insns(), asm::tag::TagAlgorithm::Sha1)
        );
        // CO-RE relocations as the object has them (applied when loading, against the
        // running kernel's BTF; the listing shows the object's own values).
        for r in &p.core_relos {
            let what = local
                .as_ref()
                .and_then(|l| loader::core::describe(l, r))
                .unwrap_or_else(|| format!("type id {}, access {}", r.type_id, r.access));
            println!(
                "; CO-RE at {}: {} of {what}",
                r.insn,
                loader::core::kind_name(r.kind)
            );
        }
        if raw {
            print!("{}", asm::disasm::listing(p.program.insns()));
        } else {
            print!("{}", asm::disasm::program_listing(&p.program));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tcpbypass verify --object FILE.o`: every program through the verifier, against maps
/// created for the occasion (closed again at exit).
pub fn verify_object(path: &Path, full_log: bool) -> Result<ExitCode> {
    super::require_bpf()?;
    let obj = read_object(path)?;
    if obj.programs.is_empty() {
        return Err(Failure::new(
            exit::NOT_LOADED,
            format!(
                "{}: no programs, nothing to verify ({} map(s); programs are global functions in \
                 executable sections such as SEC(\"xdp\"))",
                path.display(),
                obj.maps.len()
            ),
        )
        .into());
    }
    // CO-RE relocations against the running kernel's BTF, before anything is created.
    let relocated = obj.relocate_core(None).map_err(|e| {
        Failure::new(
            exit::NOT_LOADED,
            format!("{}: CO-RE relocations: {e}", path.display()),
        )
    })?;
    // Like libbpf: the object's BTF goes to the kernel first (callbacks, timers and spin
    // locks need it); if the kernel refuses it, the programs load without it.
    let btf = match obj.load_btf() {
        Ok(b) => b,
        Err(e) => {
            println!("; loading without BTF: {e}");
            None
        }
    };
    let maps = obj
        .create_maps_with(btf.as_ref())
        .map_err(|e| Failure::from_loader("creating the object's maps", e))?;
    let refs: Vec<&Map> = maps.iter().collect();
    let (mut rejected, mut not_loaded) = (0usize, 0usize);
    let mut loaded = Vec::new();
    for (p, r) in obj.programs.iter().zip(&relocated) {
        let insns = r.as_ref().map_or(&p.program, |r| &r.program);
        let spec = match obj.program_spec(p, btf.as_ref()) {
            Ok(s) => s,
            Err(e) => {
                not_loaded += 1;
                println!("{}: NOT LOADED — {e}", p.name);
                continue;
            }
        };
        match Program::load(&spec.with_stats(), insns, &refs) {
            Ok(l) => {
                let s = l.stats();
                let fmt = |v: Option<u32>| v.map_or("?".to_string(), |n| n.to_string());
                println!(
                    "{}: accepted — {} instructions, {} processed, {} states (peak {}), tag {}",
                    p.name,
                    p.program.len(),
                    fmt(s.verified_insns.or(Some(l.cached_info().verified_insns))),
                    fmt(s.total_states),
                    fmt(s.peak_states),
                    l.cached_info().tag_hex(),
                );
                loaded.push(l);
            }
            Err(loader::Error::Verifier(v)) => {
                rejected += 1;
                println!("{}: REJECTED — {v}", p.name);
                let poison = loader::core::POISON_HELPER.to_string();
                let reached = v.log().contains(&poison);
                for x in r.iter().flat_map(|r| &r.poisoned).filter(|_| reached) {
                    println!(
                        "  CO-RE relocation failed for {} ({}, instruction {}): {}",
                        x.spec, x.kind, x.insn, x.reason
                    );
                }
                if full_log {
                    println!("{}", v.log());
                }
            }
            Err(e @ loader::Error::Unsupported(_)) => {
                not_loaded += 1;
                println!("{}: NOT LOADED — {e}", p.name);
            }
            Err(e) => return Err(Failure::from_loader(&format!("loading {}", p.name), e)),
        }
    }
    // Program-array slots the object initialises: filled as libbpf does, so a failure there
    // (a slot the kernel refuses) shows here too.
    let progs: Vec<&Program> = loaded.iter().collect();
    obj.fill_program_slots(&maps, &progs)
        .map_err(|e| Failure::from_loader("filling the object's program arrays", e))?;
    if rejected + not_loaded > 0 {
        println!(
            "{} of {} program(s) accepted, {rejected} rejected by the verifier, {not_loaded} not \
             loaded",
            loaded.len(),
            obj.programs.len()
        );
    }
    Ok(if rejected > 0 {
        ExitCode::from(exit::VERIFIER)
    } else if not_loaded > 0 {
        ExitCode::from(exit::NOT_LOADED)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use loader::elf::MapOrigin;

    #[test]
    fn exported_objects_read_back_identically() {
        let cfg = programs::Config::default();
        let (so, sm) = bypass::build(&cfg).unwrap();
        let objs = objects(&cfg).unwrap();
        assert_eq!(
            objs.iter().map(|o| o.0).collect::<Vec<_>>(),
            ["sock_ops.o", "sk_msg.o", "tcpbypass.o"]
        );
        for (file, bytes) in &objs {
            let obj = Object::parse(bytes).unwrap();
            assert_eq!(obj.license, "GPL");
            for p in &obj.programs {
                let (want, section) = match p.name.as_str() {
                    bypass::SOCK_OPS_NAME => (&so, SOCK_OPS_SECTION),
                    bypass::SK_MSG_NAME => (&sm, SK_MSG_SECTION),
                    other => panic!("{file}: unexpected program {other}"),
                };
                assert_eq!(p.section, section);
                assert_eq!(p.program.insns(), want.insns(), "{file} {}", p.name);
                assert_eq!(p.program.map_refs(), want.map_refs(), "{file} {}", p.name);
                assert_eq!(
                    asm::tag::tag(p.program.insns()),
                    asm::tag::tag(want.insns())
                );
            }
            for m in &obj.maps {
                let def = programs::map(&m.spec.name).expect("a map of ours");
                assert_eq!(m.spec, bypass::map_spec(def), "{file}");
                assert_eq!(m.origin, MapOrigin::Btf);
            }
        }
        let both = Object::parse(&objs[2].1).unwrap();
        assert_eq!(both.programs.len(), 2);
        assert_eq!(both.maps.len(), programs::maps().len());
        let so_only = Object::parse(&objs[0].1).unwrap();
        assert_eq!(so_only.programs.len(), 1);
        let mut names: Vec<&str> = so_only.maps.iter().map(|m| m.spec.name.as_str()).collect();
        let mut want = so.map_names();
        names.sort();
        want.sort();
        assert_eq!(names, want);
    }

    #[test]
    fn object_options_parse_and_dump_reads_an_export() {
        use crate::cli::{Cli, Command};
        use clap::Parser;
        let cli = Cli::try_parse_from(["tcpbypass", "dump", "--object", "x.o"]).unwrap();
        let Command::Dump(d) = cli.command else {
            panic!("not dump")
        };
        assert_eq!(d.object.as_deref(), Some(Path::new("x.o")));
        assert!(Cli::try_parse_from(["tcpbypass", "dump", "sk_msg", "--object", "x.o"]).is_err());
        assert!(Cli::try_parse_from(["tcpbypass", "verify", "--object", "x.o", "--log"]).is_ok());
        assert!(
            Cli::try_parse_from(["tcpbypass", "export"]).is_err(),
            "--out is required"
        );

        let dir =
            std::env::temp_dir().join(format!("tcpbypass-export-test-{}", std::process::id()));
        run(&ExportArgs { out: dir.clone() }).unwrap();
        let ok = dump_object(&dir.join("tcpbypass.o"), true);
        let not_elf = dump_object(&dir.join("missing.o"), false);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(ok.is_ok());
        assert!(not_elf.is_err());
    }
}
