//! BPF ELF objects, without a single system call: reading relocatable objects compiled by
//! clang (or written by [`mod@write`]) into [`asm::Program`]s and [`MapSpec`]s, and writing our
//! own programs as objects that libbpf and bpftool load. Creating the maps and loading the
//! programs of an [`Object`] is the `loader` crate's business (`loader::elf`); this crate is
//! the only one that uses `goblin`.
//!
//! - [`Object::parse`] reads an `ET_REL`, `EM_BPF`, little-endian ELF64 object in stages
//!   (see `read`): the section table; program sections by their libbpf names ([`sections`]),
//!   one or several programs per section (global `STT_FUNC` symbols give the boundaries);
//!   the `license` and `version` sections; maps from the legacy `maps` section, from
//!   BTF-defined `.maps` (the `.BTF` section is read far enough for that, see `btf`) and global
//!   data (`.data*`, `.rodata*`, `.bss*`) as single-entry array maps; then `R_BPF_64_64` /
//!   `R_BPF_64_32` relocations turned into named map references and call offsets, with
//!   bpf-to-bpf subprograms in `.text` appended the way libbpf does.
//! - [`write::Writer`] writes programs, map definitions (BTF `.maps` or legacy `maps`),
//!   global data, symbols and relocations as an object.
//! - [`types`]: the kinds of maps, programs and attach points, and [`MapSpec`]; the loader
//!   re-exports them.
//! - [`debug_info`]: BTF for a DSL program (a `FUNC` per function, its comments as
//!   `line_info`), so the kernel shows our names and comments.
//!
//! Hostile input never panics and never allocates more than a small multiple of the input
//! size: every offset, size and count is checked against the file before it is used, and
//! goblin is only handed ranges that were checked first. Everything out of scope (`__ksym`
//! externs, kfunc calls, BTF line info, …) is a typed error or ignored as documented in
//! `docs/elf.md`. `__kconfig` externs become libbpf's `.kconfig` map ([`KconfigExtern`]). CO-RE
//! relocations are read and placed in each program ([`CoreRelo`]); applying them needs the
//! target kernel's BTF and is `loader::core`'s job.

#![warn(missing_docs)]

mod btf;
pub mod debug_info;
mod read;
pub mod sections;
pub mod types;
pub mod write;

use std::path::{Path, PathBuf};

pub use types::{AttachType, MapSpec, MapType, ProgramType};

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
    /// libbpf's `.kconfig` map: a single-entry, read-only array holding the values of the
    /// object's `__kconfig` externs (`extern bool LINUX_HAS_BPF_COOKIE __kconfig;`), which
    /// the loader fills in from the running kernel before freezing it.
    Kconfig {
        /// The externs, in libbpf's layout order (see [`KconfigExtern`]).
        externs: Vec<KconfigExtern>,
    },
}

/// How libbpf reads a `__kconfig` extern's value (its BTF type, `find_kcfg_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KconfigType {
    /// `bool` (a 1-byte BTF INT with the BOOL encoding): `y` is 1, `n` 0.
    Bool,
    /// A 1-byte integer: the `y`/`m`/`n` character itself, or a number.
    Char,
    /// `enum libbpf_tristate`: `n` 0, `y` 1, `m` 2.
    Tristate,
    /// An integer of 2, 4 or 8 bytes.
    Int {
        /// Whether it is signed.
        signed: bool,
    },
    /// A `char` array: a string value, NUL-terminated within the array.
    CharArray,
}

/// One `__kconfig` extern of an object: a variable of the `.kconfig` DATASEC with extern
/// linkage and an undefined symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KconfigExtern {
    /// Its name (`CONFIG_HZ`, `LINUX_KERNEL_VERSION`, …).
    pub name: String,
    /// Its type.
    pub kind: KconfigType,
    /// Its byte offset in the `.kconfig` map's value. libbpf's layout: externs sorted by
    /// alignment (largest first), then size (smallest first), then name, each placed at the
    /// next offset its alignment allows.
    pub offset: u32,
    /// Its size in bytes.
    pub size: u32,
    /// Declared `__weak`: a value the kernel does not have is 0 instead of an error.
    pub weak: bool,
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

/// A CO-RE relocation of a program (a `struct bpf_core_relo` of `.BTF.ext`), placed in the
/// program: `loader::core` resolves it against kernel BTF and patches the instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreRelo {
    /// The instruction slot in [`ObjectProgram::program`] (subprograms appended).
    pub insn: usize,
    /// The root type's id in the object's BTF ([`Object::btf`]).
    pub type_id: u32,
    /// The access string: `"0:1:2"` (an array index on the root, then member indices) for
    /// field relocations, `"0"` for type ones, the enumerator's index for enum value ones.
    pub access: String,
    /// `enum bpf_core_relo_kind` (`uapi::btf::BPF_CORE_*`).
    pub kind: u32,
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
    /// The CO-RE relocations of the main function and the appended subprograms, in slot
    /// order, still to be applied (by `loader::core`, against the running kernel's BTF).
    pub core_relos: Vec<CoreRelo>,
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
}
