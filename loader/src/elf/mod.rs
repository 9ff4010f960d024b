//! BPF ELF objects: reading relocatable objects compiled by clang (or written by
//! [`write`]) into [`asm::Program`]s and [`MapSpec`]s, and writing our own programs as objects
//! that libbpf and bpftool load.
//!
//! - [`Object::parse`] reads an `ET_REL`, `EM_BPF`, little-endian ELF64 object: program
//!   sections by their libbpf names ([`sections`]), one or several programs per section
//!   (global `STT_FUNC` symbols give the boundaries), bpf-to-bpf subprograms in `.text`
//!   appended the way libbpf does, the `license` and `version` sections, maps from the legacy
//!   `maps` section and from BTF-defined `.maps` (the `.BTF` section is read far enough for
//!   that, see `btf`), global data (`.data*`, `.rodata*`, `.bss*`) as single-entry array maps,
//!   and `R_BPF_64_64` / `R_BPF_64_32` relocations turned into named map references and call
//!   offsets.
//! - [`Object::load`] creates the maps and loads every program with this crate's loader.
//! - [`write::Writer`] writes programs, map definitions (BTF `.maps` or legacy `maps`),
//!   global data, symbols and relocations as an object.
//!
//! Hostile input never panics and never allocates more than a small multiple of the input
//! size: every offset, size and count is checked against the file before it is used, and
//! goblin is only handed ranges that were checked first. Everything out of scope (CO-RE
//! relocations, externs, BTF func/line info, map-in-map initial values) is a typed error or
//! ignored as documented in `docs/elf.md`.

mod btf;
mod read;
pub mod sections;
pub mod write;

use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

use crate::btf_obj::{BtfObject, MapBtf, ProgramBtf};
use crate::error::Result as LoaderResult;
use crate::map::{Map, MapSpec, MapType, UpdateFlags};
use crate::program::{AttachType, Program, ProgramSpec, ProgramType};

pub use sections::{section_kind, SectionKind};
pub use write::{MapFormat, Writer};

/// `EM_BPF`.
pub const EM_BPF: u16 = 247;
/// `R_BPF_64_64`: a 64-bit load (`lddw`) of a map or a global variable.
pub const R_BPF_64_64: u32 = 1;
/// `R_BPF_64_ABS64`: a 64-bit address in data (in `.maps`: an initial slot of a map-in-map or
/// program array).
pub const R_BPF_64_ABS64: u32 = 2;
/// `R_BPF_64_32`: a bpf-to-bpf call.
pub const R_BPF_64_32: u32 = 10;
pub use uapi::bpf::BPF_F_RDONLY_PROG;
/// The largest object file [`Object::read_file`] reads (256 MiB).
pub const MAX_FILE_SIZE: u64 = 256 << 20;
/// The most instruction slots all programs of one object may add up to once subprograms are
/// appended (each program is also limited to [`asm::MAX_INSNS`]).
pub const MAX_TOTAL_INSNS: usize = 4 * asm::MAX_INSNS;

/// Why an object could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ElfError {
    /// The file is shorter than a structure it declares.
    #[error("truncated object: {what} needs bytes {start}..{end}, the file has {len}")]
    Truncated {
        /// What was being read.
        what: String,
        /// First byte needed.
        start: u64,
        /// One past the last byte needed.
        end: u64,
        /// The file's length.
        len: usize,
    },
    /// Not an ELF file at all.
    #[error("not an ELF file (bad magic)")]
    NotElf,
    /// An ELF file, but not one this reader takes (32-bit, big-endian, wrong machine or type).
    #[error("unsupported ELF object: {0}")]
    Unsupported(String),
    /// A structure of the file is inconsistent.
    #[error("malformed ELF object: {0}")]
    Malformed(String),
    /// A relocation cannot be applied.
    #[error("relocation {index} of section {section}: {reason}")]
    BadRelocation {
        /// The relocation section's name.
        section: String,
        /// Index of the relocation in it.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// The `.BTF` section (or the map definitions in it) cannot be used.
    #[error("BTF: {0}")]
    Btf(String),
    /// A map definition cannot be used.
    #[error("map {name}: {reason}")]
    BadMap {
        /// The map's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A program's instructions are not valid eBPF.
    #[error("program {program}: {source}")]
    BadProgram {
        /// The program's name.
        program: String,
        /// The decoder's or assembler's complaint.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// More of something than the object (or the kernel) can hold.
    #[error("too many {what}: {count} (at most {max})")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// How many.
        count: u64,
        /// The limit.
        max: u64,
    },
    /// What the writer was given cannot be written.
    #[error("cannot write object: {0}")]
    Write(String),
    /// Reading or writing a file failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Where a map of an object is defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapOrigin {
    /// A `struct bpf_map_def` in the legacy `maps` section.
    Legacy,
    /// A BTF-defined map in `.maps`.
    Btf,
    /// A global data section (`.data`, `.rodata`, `.bss`, …): a single-entry array whose
    /// value is the section; `init` is its initial content (zeros for `.bss`).
    GlobalData {
        /// The section's initial bytes.
        init: Vec<u8>,
    },
}

/// libbpf's `pinning` attribute of a BTF map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pinning {
    /// `LIBBPF_PIN_NONE`.
    #[default]
    None,
    /// `LIBBPF_PIN_BY_NAME`: pinned at `<pin root>/<map name>`.
    ByName,
    /// Another value.
    Other(u32),
}

impl Pinning {
    /// The attribute's number.
    pub fn raw(self) -> u32 {
        match self {
            Pinning::None => 0,
            Pinning::ByName => 1,
            Pinning::Other(n) => n,
        }
    }

    /// The pinning of a number.
    pub fn from_raw(n: u32) -> Pinning {
        match n {
            0 => Pinning::None,
            1 => Pinning::ByName,
            n => Pinning::Other(n),
        }
    }
}

/// What an initial slot of a map-in-map or program array holds (`.values = { [i] = &x }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotValue {
    /// Another map of the object, by name.
    Map(String),
    /// A program of the object, by name.
    Program(String),
}

/// A map defined by an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMap {
    /// How to create it; `spec.name` is the name the programs' map references use (the
    /// symbol name, or the section name for global data).
    pub spec: MapSpec,
    /// The `pinning` attribute (BTF maps only).
    pub pinning: Pinning,
    /// Where it is defined.
    pub origin: MapOrigin,
    /// A map-in-map's inner map definition (`__array(values, struct inner)`): a map of this
    /// shape is created first and passed as the template (`inner_map_fd`).
    pub inner: Option<MapSpec>,
    /// Initial slots (index, value), in relocation order: filled after the maps are created
    /// (maps) or the programs loaded (programs).
    pub init_slots: Vec<(u32, SlotValue)>,
    /// The BTF type ids of key and value in the object's BTF (0 when unknown): a BTF map's
    /// `__type(key, …)`/`__type(value, …)`, a global data map's DATASEC.
    pub btf_key_type_id: u32,
    /// See `btf_key_type_id`.
    pub btf_value_type_id: u32,
}

impl ObjectMap {
    /// `e` as an error of this map (kept as it is when it already names an object).
    fn error(&self, e: crate::Error) -> crate::Error {
        match e {
            e @ crate::Error::Object { .. } => e,
            e => crate::Error::Object {
                object: format!("map {}", self.spec.name),
                source: Box::new(e),
            },
        }
    }

    /// Whether the kernel takes key/value BTF for this map's type (libbpf passes none for
    /// these, and neither does this loader).
    fn takes_btf(&self) -> bool {
        self.btf_value_type_id != 0
            && !matches!(
                self.spec.map_type,
                MapType::PerfEventArray
                    | MapType::ArrayOfMaps
                    | MapType::HashOfMaps
                    | MapType::SockMap
                    | MapType::SockHash
                    // STACK_TRACE, CGROUP_ARRAY, DEVMAP, CPUMAP, XSKMAP, QUEUE, STACK
                    | MapType::Other(7 | 8 | 14 | 16 | 17 | 22 | 23)
            )
    }
}

/// A program of an object, with its subprograms appended and its relocations applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectProgram {
    /// The function's symbol name (libbpf's program name).
    pub name: String,
    /// The ELF section it came from (`sockops`, `kprobe/tcp_sendmsg`, …).
    pub section: String,
    /// What the section name means, if it is a libbpf name this reader knows.
    pub kind: Option<SectionKind>,
    /// The instructions, with named map references (`MapRef`s) on every map load, and labels
    /// naming each appended subprogram's first slot.
    pub program: asm::Program,
    /// The subprograms appended after the main function: `(name, first slot)`.
    pub subprograms: Vec<(String, usize)>,
    /// `func_info` for the kernel: (first slot, BTF FUNC type id) of the main function and
    /// of every subprogram, from `.BTF.ext`; empty when the object has none for all of them.
    pub func_info: Vec<(u32, u32)>,
}

impl ObjectProgram {
    /// The program type, when the section name is known.
    pub fn prog_type(&self) -> Option<ProgramType> {
        self.kind.map(|k| k.prog_type)
    }

    /// The expected attach type the section name implies.
    pub fn expected_attach_type(&self) -> Option<AttachType> {
        self.kind.and_then(|k| k.expected_attach_type)
    }

    /// The spec to load this program with: the symbol name, the section's program and
    /// expected attach type, and `license`. An [`crate::Error::Unsupported`] when the
    /// section name is unknown or the type needs a BTF attach target.
    pub fn spec(&self, license: &str) -> LoaderResult<ProgramSpec> {
        let kind = self.kind.ok_or_else(|| {
            crate::Error::Unsupported(format!(
                "program {}: section {:?} is not a libbpf program section name this loader \
                 knows, so its program type is unknown",
                self.name, self.section
            ))
        })?;
        if kind.needs_btf_target {
            return Err(crate::Error::Unsupported(format!(
                "program {} (section {:?}): {} programs need a BTF attach target \
                 (attach_btf_id), which this loader does not resolve",
                self.name, self.section, kind.prefix
            )));
        }
        let mut spec = ProgramSpec::new(&self.name, kind.prog_type).license(license);
        if let Some(a) = kind.expected_attach_type {
            spec = spec.expected_attach_type(a);
        }
        spec.prog_flags |= kind.prog_flags;
        Ok(spec)
    }
}

/// A parsed BPF object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The `license` section's string ("GPL", …); empty when absent.
    pub license: String,
    /// The `version` section's number, when present.
    pub kern_version: Option<u32>,
    /// Every map, in section then offset order (legacy, BTF, then global data).
    pub maps: Vec<ObjectMap>,
    /// Every program, in section then offset order.
    pub programs: Vec<ObjectProgram>,
    /// The `.BTF` section with the offsets and sizes clang leaves at 0 filled in (as libbpf
    /// does), ready for `BPF_BTF_LOAD`; `None` without `.BTF`.
    pub btf: Option<Vec<u8>>,
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

impl Object {
    /// Parses an object from its bytes. Never panics; see [`ElfError`] for what it refuses.
    pub fn parse(bytes: &[u8]) -> Result<Object, ElfError> {
        read::parse(bytes)
    }

    /// Reads and parses an object file (at most [`MAX_FILE_SIZE`] bytes).
    pub fn read_file(path: impl AsRef<Path>) -> Result<Object, ElfError> {
        use std::io::Read;
        let path = path.as_ref();
        let io = |what, source| ElfError::Io {
            what,
            path: path.to_path_buf(),
            source,
        };
        let f = std::fs::File::open(path).map_err(|e| io("opening", e))?;
        let mut bytes = Vec::new();
        f.take(MAX_FILE_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| io("reading", e))?;
        if bytes.len() as u64 > MAX_FILE_SIZE {
            return Err(ElfError::TooMany {
                what: "bytes in the object file",
                count: bytes.len() as u64,
                max: MAX_FILE_SIZE,
            });
        }
        Object::parse(&bytes)
    }

    /// The program whose symbol is `name`.
    pub fn program(&self, name: &str) -> Option<&ObjectProgram> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The map called `name`.
    pub fn map(&self, name: &str) -> Option<&ObjectMap> {
        self.maps.iter().find(|m| m.spec.name == name)
    }

    /// Loads the object's BTF into the kernel. `None` when the object has none; an error
    /// when the kernel refuses it (libbpf then goes on without BTF, and so can the caller:
    /// only callbacks, timers and spin locks need it).
    pub fn load_btf(&self) -> LoaderResult<Option<BtfObject>> {
        self.btf.as_deref().map(BtfObject::load).transpose()
    }

    /// The spec to load `p` with: [`ObjectProgram::spec`], plus its `func_info` against `btf`
    /// when both exist.
    pub fn program_spec(
        &self,
        p: &ObjectProgram,
        btf: Option<&BtfObject>,
    ) -> LoaderResult<ProgramSpec> {
        let spec = p.spec(&self.license)?;
        Ok(match btf {
            Some(b) if !p.func_info.is_empty() => spec.with_btf(ProgramBtf {
                btf: b.clone(),
                func_info: p.func_info.clone(),
            }),
            _ => spec,
        })
    }

    /// Creates every map with [`Object::create_maps_with`], loading the object's BTF first
    /// (and going on without it if the kernel refuses it).
    pub fn create_maps(&self) -> LoaderResult<Vec<Map>> {
        let btf = self.load_btf().ok().flatten();
        self.create_maps_with(btf.as_ref())
    }

    /// Creates every map, not pinned, the way libbpf does: a map-in-map gets a template made
    /// from its inner definition, a `PERF_EVENT_ARRAY` without `max_entries` one slot per
    /// possible CPU, maps get their key/value BTF from `btf` when their type takes it (and
    /// are created without it if the kernel refuses), global data maps hold their initial
    /// content and `.rodata*` maps are frozen (so the verifier may treat `const volatile`
    /// values as constants), and the initial slots of map-in-maps are filled. Program-array
    /// slots need the programs: see [`Object::fill_program_slots`]. An error names the map.
    pub fn create_maps_with(&self, btf: Option<&BtfObject>) -> LoaderResult<Vec<Map>> {
        let named = ObjectMap::error;
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
            let map_btf = btf.filter(|_| m.takes_btf()).map(|b| MapBtf {
                btf: b.as_fd(),
                key_type_id: m.btf_key_type_id,
                value_type_id: m.btf_value_type_id,
            });
            let map = match Map::create_with(&spec, inner_fd, map_btf) {
                Err(_) if map_btf.is_some() => Map::create_with(&spec, inner_fd, None),
                r => r,
            }
            .map_err(|e| named(m, e))?;
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
                            crate::Error::InvalidArgument(format!(
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

    /// Fills the initial slots of the object's program arrays (`.values = { [i] = &prog }`)
    /// with the programs of `programs` (by name); slots naming a program not given stay
    /// empty. `maps` are the object's maps in its order, as [`Object::create_maps`] made them.
    pub fn fill_program_slots(&self, maps: &[Map], programs: &[&Program]) -> LoaderResult<()> {
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
                    .map_err(|e| m.error(e))?;
            }
        }
        Ok(())
    }

    /// Creates the maps, loads every program against them (see [`ObjectProgram::spec`]) and
    /// fills the program arrays' initial slots. An error names the program.
    pub fn load(&self) -> LoaderResult<LoadedObject> {
        let btf = self.load_btf().ok().flatten();
        let maps = self.create_maps_with(btf.as_ref())?;
        let refs: Vec<&Map> = maps.iter().collect();
        let mut programs = Vec::with_capacity(self.programs.len());
        for p in &self.programs {
            let spec = self.program_spec(p, btf.as_ref())?;
            programs.push(Program::load(&spec, &p.program, &refs)?);
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
