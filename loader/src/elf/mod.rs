//! Loading BPF ELF objects: the part of object handling that talks to the kernel. Reading
//! and writing objects is the `bpfobj` crate's (no system calls, the only user of `goblin`);
//! its items are re-exported here so that `loader::elf::{Object, Writer, …}` keep working.
//!
//! - [`ObjectExt`] on [`Object`]: load its BTF, create its maps the way libbpf does, load its
//!   programs ([`ObjectExt::load`] does all of it) and fill program-array slots.
//! - [`ObjectProgramExt::spec`]: the [`ProgramSpec`] a program of an object is loaded with.

use std::os::fd::{AsFd, AsRawFd};

pub use bpfobj::sections::{self, section_kind, SectionKind};
pub use bpfobj::write::{self, MapFormat, Writer};
pub use bpfobj::{
    ElfError, KconfigExtern, KconfigType, MapOrigin, Object, ObjectMap, ObjectProgram, Pinning,
    SlotValue, BPF_F_RDONLY_PROG, EM_BPF, MAX_FILE_SIZE, MAX_TOTAL_INSNS, R_BPF_64_32, R_BPF_64_64,
    R_BPF_64_ABS64,
};

use uapi::bpf;

use crate::btf_obj::{BtfObject, MapBtf, ProgramBtf};
use crate::core::{Relocated, Target};
use crate::error::{Error, Result};
use crate::map::{Map, MapType, UpdateFlags};
use crate::program::{Program, ProgramSpec};

/// `e` as an error of map `m` (kept as it is when it already names an object).
fn map_error(m: &ObjectMap, e: Error) -> Error {
    match e {
        e @ Error::Object { .. } => e,
        e => Error::Object {
            object: format!("map {}", m.spec.name),
            source: Box::new(e),
        },
    }
}

/// Whether the kernel takes key/value BTF for `m`'s type (libbpf passes none for these, and
/// neither does this loader).
fn takes_btf(m: &ObjectMap) -> bool {
    m.btf_value_type_id != 0
        && !matches!(
            m.spec.map_type,
            MapType::PerfEventArray
                | MapType::ArrayOfMaps
                | MapType::HashOfMaps
                | MapType::SockMap
                | MapType::SockHash
                | MapType::Other(
                    bpf::BPF_MAP_TYPE_STACK_TRACE
                        | bpf::BPF_MAP_TYPE_CGROUP_ARRAY
                        | bpf::BPF_MAP_TYPE_DEVMAP
                        | bpf::BPF_MAP_TYPE_CPUMAP
                        | bpf::BPF_MAP_TYPE_XSKMAP
                        | bpf::BPF_MAP_TYPE_QUEUE
                        | bpf::BPF_MAP_TYPE_STACK
                )
        )
}

/// Loading an [`ObjectProgram`].
pub trait ObjectProgramExt {
    /// The spec to load this program with: the symbol name, the section's program and
    /// expected attach type, and `license`. For `fentry[.s]/`, `fexit[.s]/`,
    /// `fmod_ret[.s]/`, `tp_btf/`, `lsm[.s]/` and `iter[.s]/` sections, the attach target
    /// after the `/` is looked up in kernel BTF ([`ProgramSpec::tracing`],
    /// [`ProgramSpec::lsm`], [`ProgramSpec::iter`]; an [`Error::Object`] naming the program
    /// when it is absent). An [`Error::Unsupported`] when the section name is unknown or the
    /// type needs a BTF attach target this loader does not resolve (struct_ops, freplace,
    /// lsm_cgroup).
    fn spec(&self, license: &str) -> Result<ProgramSpec>;
}

impl ObjectProgramExt for ObjectProgram {
    fn spec(&self, license: &str) -> Result<ProgramSpec> {
        let kind = self.kind.ok_or_else(|| {
            Error::Unsupported(format!(
                "program {}: section {:?} is not a libbpf program section name this loader \
                 knows, so its program type is unknown",
                self.name, self.section
            ))
        })?;
        let mut spec = if kind.needs_btf_target {
            btf_target_spec(self, kind)?.license(license)
        } else {
            ProgramSpec::new(&self.name, kind.prog_type).license(license)
        };
        if let Some(a) = kind.expected_attach_type {
            spec = spec.expected_attach_type(a);
        }
        spec.prog_flags |= kind.prog_flags;
        Ok(spec)
    }
}

/// The spec of a program whose section names a BTF attach target (`fentry/tcp_connect`):
/// the target resolved in kernel BTF.
fn btf_target_spec(p: &ObjectProgram, kind: SectionKind) -> Result<ProgramSpec> {
    use crate::program::{AttachType, ProgramType};
    let target = p
        .section
        .strip_prefix(kind.prefix)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|t| !t.is_empty());
    let resolved = match (kind.prog_type, kind.expected_attach_type, target) {
        (
            ProgramType::Tracing,
            Some(
                at @ (AttachType::TraceFentry
                | AttachType::TraceFexit
                | AttachType::ModifyReturn
                | AttachType::TraceRawTp),
            ),
            Some(t),
        ) => ProgramSpec::tracing(&p.name, at, t),
        (ProgramType::Lsm, Some(AttachType::LsmMac), Some(t)) => ProgramSpec::lsm(&p.name, t),
        (ProgramType::Tracing, Some(AttachType::TraceIter), Some(t)) => {
            ProgramSpec::iter(&p.name, t)
        }
        _ => {
            return Err(Error::Unsupported(format!(
                "program {} (section {:?}): {} programs need a BTF attach target \
                 (attach_btf_id) that this loader does not resolve",
                p.name, p.section, kind.prefix
            )))
        }
    };
    resolved.map_err(|e| Error::Object {
        object: format!("program {} (section {:?})", p.name, p.section),
        source: Box::new(e),
    })
}

/// Loading an [`Object`]: its BTF, its maps, its programs.
pub trait ObjectExt {
    /// Loads the object's BTF into the kernel. `None` when the object has none; an error
    /// when the kernel refuses it (libbpf then goes on without BTF, and so can the caller:
    /// only callbacks, timers and spin locks need it).
    fn load_btf(&self) -> Result<Option<BtfObject>>;

    /// The spec to load `p` with: [`ObjectProgramExt::spec`], plus its `func_info` against `btf`
    /// when both exist.
    fn program_spec(&self, p: &ObjectProgram, btf: Option<&BtfObject>) -> Result<ProgramSpec>;

    /// Creates every map with [`ObjectExt::create_maps_with`], loading the object's BTF first
    /// (and going on without it if the kernel refuses it).
    fn create_maps(&self) -> Result<Vec<Map>>;

    /// Creates every map, not pinned, the way libbpf does: a map-in-map gets a template made
    /// from its inner definition, a `PERF_EVENT_ARRAY` without `max_entries` one slot per
    /// possible CPU, maps get their key/value BTF from `btf` when their type takes it (and
    /// are created without it if the kernel refuses), global data maps hold their initial
    /// content and `.rodata*` maps are frozen (so the verifier may treat `const volatile`
    /// values as constants), and the initial slots of map-in-maps are filled. Program-array
    /// slots need the programs: see [`ObjectExt::fill_program_slots`]. An error names the map.
    fn create_maps_with(&self, btf: Option<&BtfObject>) -> Result<Vec<Map>>;

    /// Fills the initial slots of the object's program arrays (`.values = { [i] = &prog }`)
    /// with the programs of `programs` (by name); slots naming a program not given stay
    /// empty. `maps` are the object's maps in its order, as [`ObjectExt::create_maps`] made them.
    fn fill_program_slots(&self, maps: &[Map], programs: &[&Program]) -> Result<()>;

    /// Applies the CO-RE relocations of every program ([`crate::core`]) against `target`
    /// (`None`: the running kernel's BTF, read only when some program has relocations).
    /// One entry per program, `None` for a program without relocations.
    fn relocate_core(&self, target: Option<&Target>) -> Result<Vec<Option<Relocated>>>;

    /// Applies the CO-RE relocations against the running kernel ([`ObjectExt::relocate_core`]),
    /// creates the maps, loads every program against them (see [`ObjectProgramExt::spec`]) and
    /// fills the program arrays' initial slots. An error names the program; a program the
    /// verifier refuses after a relocation found nothing to match (its instruction poisoned)
    /// is named with "CO-RE relocation failed for `type.field`".
    fn load(&self) -> Result<LoadedObject>;
}

impl ObjectExt for Object {
    fn load_btf(&self) -> Result<Option<BtfObject>> {
        self.btf.as_deref().map(BtfObject::load).transpose()
    }

    fn program_spec(&self, p: &ObjectProgram, btf: Option<&BtfObject>) -> Result<ProgramSpec> {
        let spec = p.spec(&self.license)?;
        Ok(match btf {
            Some(b) if !p.func_info.is_empty() => spec.with_btf(ProgramBtf {
                btf: b.clone(),
                func_info: p.func_info.clone(),
                line_info: Vec::new(),
            }),
            _ => spec,
        })
    }

    fn create_maps(&self) -> Result<Vec<Map>> {
        let btf = self.load_btf().ok().flatten();
        self.create_maps_with(btf.as_ref())
    }

    fn create_maps_with(&self, btf: Option<&BtfObject>) -> Result<Vec<Map>> {
        let named = map_error;
        let mut out = Vec::with_capacity(self.maps.len());
        for m in &self.maps {
            let mut spec = m.spec.clone();
            if spec.map_type == MapType::PerfEventArray && spec.max_entries == 0 {
                spec.max_entries = crate::env::possible_cpus().map_err(|e| named(m, e))? as u32;
            }
            if spec.map_type == MapType::RingBuf {
                spec.max_entries = ringbuf_size(spec.max_entries);
            }
            let template = match &m.inner {
                Some(inner) => Some(Map::create(inner).map_err(|e| named(m, e))?),
                None => None,
            };
            let inner_fd = template.as_ref().map(|t| t.as_fd());
            let map_btf = btf.filter(|_| takes_btf(m)).map(|b| MapBtf {
                btf: b.as_fd(),
                key_type_id: m.btf_key_type_id,
                value_type_id: m.btf_value_type_id,
            });
            let map = match Map::create_with(&spec, inner_fd, map_btf) {
                Err(_) if map_btf.is_some() => Map::create_with(&spec, inner_fd, None),
                r => r,
            }
            .map_err(|e| named(m, e))?;
            if let MapOrigin::Kconfig { externs } = &m.origin {
                let value =
                    crate::kconfig::values(externs, m.spec.value_size).map_err(|e| named(m, e))?;
                if value.iter().any(|&b| b != 0) {
                    map.put(&0u32.to_ne_bytes(), &value, UpdateFlags::Any)
                        .map_err(|e| named(m, e))?;
                }
                map.freeze().map_err(|e| named(m, e))?;
            }
            if let MapOrigin::GlobalData { init } = &m.origin {
                if init.iter().any(|&b| b != 0) {
                    map.put(&0u32.to_ne_bytes(), init, UpdateFlags::Any)
                        .map_err(|e| named(m, e))?;
                }
                if m.spec.flags & BPF_F_RDONLY_PROG != 0 {
                    map.freeze().map_err(|e| named(m, e))?;
                }
            }
            out.push(map);
        }
        for (m, map) in self.maps.iter().zip(&out) {
            for (slot, value) in &m.init_slots {
                let SlotValue::Map(target) = value else {
                    continue;
                };
                let i = self
                    .maps
                    .iter()
                    .position(|t| &t.spec.name == target)
                    .ok_or_else(|| {
                        named(
                            m,
                            Error::InvalidArgument(format!(
                                "slot {slot} names map {target}, which the object does not define"
                            )),
                        )
                    })?;
                let fd = out[i].as_fd().as_raw_fd() as u32;
                map.put(&slot.to_ne_bytes(), &fd.to_ne_bytes(), UpdateFlags::Any)
                    .map_err(|e| named(m, e))?;
            }
        }
        Ok(out)
    }

    fn fill_program_slots(&self, maps: &[Map], programs: &[&Program]) -> Result<()> {
        for (m, map) in self.maps.iter().zip(maps) {
            for (slot, value) in &m.init_slots {
                let SlotValue::Program(target) = value else {
                    continue;
                };
                let Some(p) = programs.iter().find(|p| p.name() == target) else {
                    continue;
                };
                let fd = p.as_fd().as_raw_fd() as u32;
                map.put(&slot.to_ne_bytes(), &fd.to_ne_bytes(), UpdateFlags::Any)
                    .map_err(|e| map_error(m, e))?;
            }
        }
        Ok(())
    }

    fn relocate_core(&self, target: Option<&Target>) -> Result<Vec<Option<Relocated>>> {
        if self.programs.iter().all(|p| p.core_relos.is_empty()) {
            return Ok(vec![None; self.programs.len()]);
        }
        let local = crate::core::local_btf(self.btf.as_deref())?;
        let running;
        let target = match target {
            Some(t) => t,
            None => {
                running = Target::running_kernel().map_err(crate::core::CoreError::Btf)?;
                &running
            }
        };
        self.programs
            .iter()
            .map(|p| {
                if p.core_relos.is_empty() {
                    return Ok(None);
                }
                crate::core::relocate_program(p, &local, target)
                    .map(Some)
                    .map_err(|e| Error::Object {
                        object: format!("program {}", p.name),
                        source: Box::new(e.into()),
                    })
            })
            .collect()
    }

    fn load(&self) -> Result<LoadedObject> {
        let relocated = self.relocate_core(None)?;
        let btf = self.load_btf().ok().flatten();
        let maps = self.create_maps_with(btf.as_ref())?;
        let refs: Vec<&Map> = maps.iter().collect();
        let mut programs = Vec::with_capacity(self.programs.len());
        for (p, r) in self.programs.iter().zip(&relocated) {
            let spec = self.program_spec(p, btf.as_ref())?;
            let insns = r.as_ref().map_or(&p.program, |r| &r.program);
            let loaded = Program::load(&spec, insns, &refs).map_err(|e| match (r, &e) {
                // The verifier reached a poisoned instruction ("unknown#195896080").
                (Some(r), Error::Verifier(v))
                    if !r.poisoned.is_empty()
                        && v.log().contains(&crate::core::POISON_HELPER.to_string()) =>
                {
                    Error::Object {
                        object: format!(
                            "program {}: CO-RE relocation failed for {}",
                            p.name,
                            r.poisoned
                                .iter()
                                .map(|x| format!(
                                    "{} ({}, instruction {}: {})",
                                    x.spec, x.kind, x.insn, x.reason
                                ))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        source: Box::new(e),
                    }
                }
                _ => e,
            })?;
            programs.push(loaded);
        }
        let progs: Vec<&Program> = programs.iter().collect();
        self.fill_program_slots(&maps, &progs)?;
        Ok(LoadedObject {
            btf,
            maps,
            programs,
        })
    }
}

/// A ring buffer's size as the kernel takes it: a power-of-two number of pages. libbpf rounds
/// a size that is not one up to the next, and so does this loader.
fn ringbuf_size(size: u32) -> u32 {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = u64::try_from(page).unwrap_or(4096).max(1);
    if size == 0 {
        return 0; // the kernel says what is wrong with that
    }
    let mut n = page;
    while n < u64::from(size) {
        n *= 2;
    }
    u32::try_from(n).unwrap_or(size)
}

/// The kernel objects of a loaded [`Object`].
#[derive(Debug)]
pub struct LoadedObject {
    /// The object's BTF in the kernel, when the object has BTF and the kernel took it.
    pub btf: Option<BtfObject>,
    /// The maps, in the object's order.
    pub maps: Vec<Map>,
    /// The programs, in the object's order.
    pub programs: Vec<Program>,
}

#[cfg(test)]
mod tests {
    use super::ringbuf_size;

    #[test]
    fn ring_buffers_round_up_to_a_power_of_two_number_of_pages() {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u32;
        assert_eq!(ringbuf_size(0), 0);
        assert_eq!(ringbuf_size(1), page);
        assert_eq!(ringbuf_size(page), page);
        assert_eq!(ringbuf_size(page + 1), 2 * page);
        assert_eq!(ringbuf_size(3 * page), 4 * page);
        assert_eq!(ringbuf_size(64 * page), 64 * page);
    }
}
