//! Kernel BTF, read far enough to answer the questions a loader without LLVM asks of the
//! running kernel: "where is field X of kernel struct Y" (reading kernel objects through BTF
//! pointers without CO-RE relocations), "what is the type id of function, typedef or struct
//! `name`" (attach targets of BTF-typed programs, kfunc calls), and "what are its parameters".
//!
//! [`KernelBtf::from_sys`] reads `/sys/kernel/btf/vmlinux`; [`vmlinux`] does so once per
//! process and shares the result. [`KernelBtf::parse`] takes any raw BTF blob, and
//! [`KernelBtf::parse_split`] a module's *split* BTF on top of its base (type ids and string
//! offsets continue after the base's). [`module`] reads `/sys/kernel/btf/<module>` that way
//! (module BTF appeared in Linux 5.11), and [`find`] looks a name up in vmlinux and then in
//! every module. Every type is walked (so the ids are right); names, struct and union members,
//! sizes, function prototypes and the modifiers and typedefs between them are kept. The layout
//! is `struct btf_header`, `struct btf_type` and the per-kind records of `linux/btf.h`.

use std::fmt;
use std::sync::{Arc, OnceLock};

/// Where the running kernel publishes its own BTF.
pub const VMLINUX_PATH: &str = "/sys/kernel/btf/vmlinux";
/// The directory of the kernel's BTF: `vmlinux` and one file per loaded module with BTF.
pub const SYS_BTF_DIR: &str = "/sys/kernel/btf";

use uapi::btf::{
    BTF_KIND_ARRAY as KIND_ARRAY, BTF_KIND_CONST as KIND_CONST, BTF_KIND_DATASEC as KIND_DATASEC,
    BTF_KIND_DECL_TAG as KIND_DECL_TAG, BTF_KIND_ENUM as KIND_ENUM, BTF_KIND_ENUM64 as KIND_ENUM64,
    BTF_KIND_FLOAT as KIND_FLOAT, BTF_KIND_FUNC as KIND_FUNC,
    BTF_KIND_FUNC_PROTO as KIND_FUNC_PROTO, BTF_KIND_FWD as KIND_FWD, BTF_KIND_INT as KIND_INT,
    BTF_KIND_PTR as KIND_PTR, BTF_KIND_RESTRICT as KIND_RESTRICT, BTF_KIND_STRUCT as KIND_STRUCT,
    BTF_KIND_TYPEDEF as KIND_TYPEDEF, BTF_KIND_TYPE_TAG as KIND_TYPE_TAG,
    BTF_KIND_UNION as KIND_UNION, BTF_KIND_VAR as KIND_VAR, BTF_KIND_VOLATILE as KIND_VOLATILE,
    BTF_MAGIC as MAGIC,
};

/// A BTF kind (`BTF_KIND_*` of `linux/btf.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// `BTF_KIND_INT`.
    Int,
    /// `BTF_KIND_PTR`.
    Ptr,
    /// `BTF_KIND_ARRAY`.
    Array,
    /// `BTF_KIND_STRUCT`.
    Struct,
    /// `BTF_KIND_UNION`.
    Union,
    /// `BTF_KIND_ENUM`.
    Enum,
    /// `BTF_KIND_FWD`.
    Fwd,
    /// `BTF_KIND_TYPEDEF`.
    Typedef,
    /// `BTF_KIND_VOLATILE`.
    Volatile,
    /// `BTF_KIND_CONST`.
    Const,
    /// `BTF_KIND_RESTRICT`.
    Restrict,
    /// `BTF_KIND_FUNC`: a function; what fentry/fexit attach to and what a kfunc call names.
    Func,
    /// `BTF_KIND_FUNC_PROTO`.
    FuncProto,
    /// `BTF_KIND_VAR`.
    Var,
    /// `BTF_KIND_DATASEC`.
    Datasec,
    /// `BTF_KIND_FLOAT`.
    Float,
    /// `BTF_KIND_DECL_TAG`.
    DeclTag,
    /// `BTF_KIND_TYPE_TAG`.
    TypeTag,
    /// `BTF_KIND_ENUM64`.
    Enum64,
}

impl Kind {
    const ALL: [(Kind, u32, &'static str); 19] = [
        (Kind::Int, KIND_INT, "int"),
        (Kind::Ptr, KIND_PTR, "pointer"),
        (Kind::Array, KIND_ARRAY, "array"),
        (Kind::Struct, KIND_STRUCT, "struct"),
        (Kind::Union, KIND_UNION, "union"),
        (Kind::Enum, KIND_ENUM, "enum"),
        (Kind::Fwd, KIND_FWD, "forward declaration"),
        (Kind::Typedef, KIND_TYPEDEF, "typedef"),
        (Kind::Volatile, KIND_VOLATILE, "volatile"),
        (Kind::Const, KIND_CONST, "const"),
        (Kind::Restrict, KIND_RESTRICT, "restrict"),
        (Kind::Func, KIND_FUNC, "function"),
        (Kind::FuncProto, KIND_FUNC_PROTO, "function prototype"),
        (Kind::Var, KIND_VAR, "variable"),
        (Kind::Datasec, KIND_DATASEC, "data section"),
        (Kind::Float, KIND_FLOAT, "float"),
        (Kind::DeclTag, KIND_DECL_TAG, "declaration tag"),
        (Kind::TypeTag, KIND_TYPE_TAG, "type tag"),
        (Kind::Enum64, KIND_ENUM64, "enum64"),
    ];

    /// The `BTF_KIND_*` number.
    pub fn raw(self) -> u32 {
        Kind::ALL.iter().find(|k| k.0 == self).map_or(0, |k| k.1)
    }

    /// The kind of a `BTF_KIND_*` number (`None` for 0, `void`, and unknown numbers).
    pub fn from_raw(n: u32) -> Option<Kind> {
        Kind::ALL.iter().find(|k| k.1 == n).map(|k| k.0)
    }

    /// A word for messages: "struct", "function", "typedef", …
    pub fn name(self) -> &'static str {
        Kind::ALL.iter().find(|k| k.0 == self).map_or("?", |k| k.2)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why BTF could not be read or a type or field not found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BtfError {
    /// The kernel publishes no BTF (built without `CONFIG_DEBUG_INFO_BTF`, or
    /// `/sys/kernel/btf` is absent or unreadable).
    Unavailable(String),
    /// The blob is not well-formed BTF.
    Malformed(String),
    /// No struct or union of that name.
    NoSuchType(String),
    /// No type of that kind and name (in vmlinux, nor in any module searched).
    NotFound {
        /// The kind looked for.
        kind: Kind,
        /// The name looked for.
        name: String,
    },
    /// `/sys/kernel/btf` has no BTF for this module (not loaded, or built without
    /// `CONFIG_DEBUG_INFO_BTF_MODULES`), or the name is not a module name.
    NoSuchModule(String),
    /// The struct has no member of that name (after looking into anonymous members).
    NoSuchMember {
        /// The struct searched.
        ty: String,
        /// The member path asked for.
        member: String,
    },
    /// The member is a bitfield, which a plain load cannot read.
    Bitfield {
        /// The struct searched.
        ty: String,
        /// The member path asked for.
        member: String,
    },
}

impl fmt::Display for BtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BtfError::Unavailable(why) => write!(f, "kernel BTF is not available: {why}"),
            BtfError::Malformed(why) => write!(f, "malformed BTF: {why}"),
            BtfError::NoSuchType(t) => write!(f, "BTF has no struct or union named {t}"),
            BtfError::NotFound { kind, name } => write!(f, "BTF has no {kind} named {name}"),
            BtfError::NoSuchModule(m) => {
                write!(f, "{SYS_BTF_DIR} has no BTF for module {m:?}")
            }
            BtfError::NoSuchMember { ty, member } => {
                write!(f, "BTF: struct {ty} has no member {member}")
            }
            BtfError::Bitfield { ty, member } => {
                write!(f, "BTF: {ty}.{member} is a bitfield")
            }
        }
    }
}

impl std::error::Error for BtfError {}

/// One type: kind, name, size-or-type, and its member or parameter records.
#[derive(Debug, Clone, Default)]
pub(crate) struct Type {
    pub(crate) kind: u32,
    pub(crate) name: u32,
    /// `size` for sized kinds, the referenced type id for modifiers, typedefs, functions and
    /// prototypes (the return type).
    pub(crate) size_or_type: u32,
    /// Members of a struct or union: (name offset, type id, bit offset, bitfield size);
    /// parameters of a function prototype: (name offset, type id, 0, 0); values of an ENUM
    /// or ENUM64: (name offset, low 32 bits, high 32 bits, 0), a signed ENUM's value
    /// sign-extended (see [`Type::enum_values`]).
    pub(crate) members: Vec<(u32, u32, u32, u32)>,
    /// The word after the type record: an INT's encoding, an ARRAY's element type; for an
    /// ENUM or ENUM64, 1 when it is signed (`kind_flag`).
    pub(crate) extra: u32,
    /// An ARRAY's number of elements.
    pub(crate) nelems: u32,
}

impl Type {
    /// An ENUM's or ENUM64's values: (name offset, value).
    pub(crate) fn enum_values(&self) -> impl Iterator<Item = (u32, i64)> + '_ {
        self.members
            .iter()
            .filter(|_| matches!(self.kind, KIND_ENUM | KIND_ENUM64))
            .map(|m| (m.0, ((u64::from(m.2) << 32) | u64::from(m.1)) as i64))
    }
}

/// A parsed BTF blob (types and strings), on its own or split on top of a base.
#[derive(Debug, Clone)]
pub struct KernelBtf {
    /// The base of split BTF (a module's BTF on vmlinux's).
    base: Option<Arc<KernelBtf>>,
    /// The id of `types[0]`: 0 (`void`) for base BTF, the base's type count + 1 for split.
    first_id: u32,
    /// Type id `first_id + i` is `types[i]`.
    types: Vec<Type>,
    /// Where this blob's string offsets start: 0, or the base's string section length.
    str_start: u32,
    strings: Vec<u8>,
}

/// Where a member is inside its outermost struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Byte offset from the start of the struct.
    pub offset: u32,
    /// Size of the member's type in bytes (0 when it has no fixed size).
    pub size: u32,
}

/// A function's prototype, as [`KernelBtf::func_proto`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncProto {
    /// The `BTF_KIND_FUNC` type id.
    pub func_id: u32,
    /// The `BTF_KIND_FUNC_PROTO` type id.
    pub proto_id: u32,
    /// The return type's id (0: `void`).
    pub ret_type_id: u32,
    /// The parameters in order: (name, type id). A variadic function ends in ("", 0).
    pub params: Vec<(String, u32)>,
}

fn rd_u32(b: &[u8], off: usize) -> Result<u32, BtfError> {
    off.checked_add(4)
        .and_then(|end| b.get(off..end))
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| BtfError::Malformed(format!("truncated at byte {off}")))
}

/// The header's sections: (type section, string section).
fn sections(b: &[u8]) -> Result<(&[u8], &[u8]), BtfError> {
    if b.len() < 24 {
        return Err(BtfError::Malformed("shorter than a header".into()));
    }
    let magic = u16::from_le_bytes([b[0], b[1]]);
    if magic != MAGIC {
        return Err(BtfError::Malformed(format!(
            "magic {magic:#06x}, expected {MAGIC:#06x} (little-endian BTF)"
        )));
    }
    let hdr_len = rd_u32(b, 4)? as usize;
    let (type_off, type_len) = (rd_u32(b, 8)? as usize, rd_u32(b, 12)? as usize);
    let (str_off, str_len) = (rd_u32(b, 16)? as usize, rd_u32(b, 20)? as usize);
    let section = |off: usize, len: usize, what: &str| {
        hdr_len
            .checked_add(off)
            .and_then(|s| Some((s, s.checked_add(len)?)))
            .and_then(|(s, e)| b.get(s..e))
            .ok_or_else(|| BtfError::Malformed(format!("{what} section out of bounds")))
    };
    Ok((
        section(type_off, type_len, "type")?,
        section(str_off, str_len, "string")?,
    ))
}

/// Walks a type section into [`Type`]s; `first_id` only names types in errors.
fn parse_types(tsec: &[u8], first_id: usize) -> Result<Vec<Type>, BtfError> {
    let mut types = Vec::new();
    let mut p = 0usize;
    while p < tsec.len() {
        let name = rd_u32(tsec, p)?;
        let info = rd_u32(tsec, p + 4)?;
        let size_or_type = rd_u32(tsec, p + 8)?;
        p += 12;
        let vlen = (info & 0xffff) as usize;
        let kind = (info >> 24) & 0x1f;
        let kind_flag = info >> 31 == 1;
        let mut members = Vec::new();
        let (mut word, mut nelems) = (0, 0);
        let extra = match kind {
            KIND_INT => {
                word = rd_u32(tsec, p)?;
                4
            }
            KIND_VAR | KIND_DECL_TAG => 4,
            KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
            | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
            KIND_ARRAY => {
                word = rd_u32(tsec, p)?;
                nelems = rd_u32(tsec, p + 8)?;
                12
            }
            KIND_STRUCT | KIND_UNION => {
                for i in 0..vlen {
                    let m = p + 12 * i;
                    let (mname, mtype, moff) =
                        (rd_u32(tsec, m)?, rd_u32(tsec, m + 4)?, rd_u32(tsec, m + 8)?);
                    let (bit_off, bits) = if kind_flag {
                        (moff & 0xff_ffff, moff >> 24)
                    } else {
                        (moff, 0)
                    };
                    members.push((mname, mtype, bit_off, bits));
                }
                12 * vlen
            }
            KIND_FUNC_PROTO => {
                for i in 0..vlen {
                    let m = p + 8 * i;
                    members.push((rd_u32(tsec, m)?, rd_u32(tsec, m + 4)?, 0, 0));
                }
                8 * vlen
            }
            KIND_ENUM => {
                word = kind_flag as u32;
                for i in 0..vlen {
                    let m = p + 8 * i;
                    let v = rd_u32(tsec, m + 4)?;
                    let v = if kind_flag { v as i32 as i64 } else { v as i64 };
                    members.push((rd_u32(tsec, m)?, v as u32, (v >> 32) as u32, 0));
                }
                8 * vlen
            }
            KIND_ENUM64 => {
                word = kind_flag as u32;
                for i in 0..vlen {
                    let m = p + 12 * i;
                    let lo = rd_u32(tsec, m + 4)?;
                    let hi = rd_u32(tsec, m + 8)?;
                    members.push((rd_u32(tsec, m)?, lo, hi, 0));
                }
                12 * vlen
            }
            KIND_DATASEC => 12 * vlen,
            k => {
                return Err(BtfError::Malformed(format!(
                    "unknown kind {k} for type id {}",
                    first_id + types.len()
                )))
            }
        };
        p = p
            .checked_add(extra)
            .filter(|&e| e <= tsec.len())
            .ok_or_else(|| BtfError::Malformed("type section truncated".into()))?;
        types.push(Type {
            kind,
            name,
            size_or_type,
            members,
            extra: word,
            nelems,
        });
    }
    Ok(types)
}

/// The running kernel's BTF, parsed on first use and shared for the life of the process
/// (an error is remembered too: the kernel's BTF does not appear later).
pub fn vmlinux() -> Result<Arc<KernelBtf>, BtfError> {
    static VMLINUX: OnceLock<Result<Arc<KernelBtf>, BtfError>> = OnceLock::new();
    VMLINUX
        .get_or_init(|| KernelBtf::from_sys().map(Arc::new))
        .clone()
}

/// Whether `name` can be a file name in [`SYS_BTF_DIR`] (no path separators, not `.`/`..`).
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// Reads module `name`'s BTF (`/sys/kernel/btf/<name>`) as split BTF on top of [`vmlinux`].
/// Module BTF needs Linux 5.11 and `CONFIG_DEBUG_INFO_BTF_MODULES`.
pub fn module(name: &str) -> Result<KernelBtf, BtfError> {
    if !plain_name(name) || name == "vmlinux" {
        return Err(BtfError::NoSuchModule(name.to_string()));
    }
    let base = vmlinux()?;
    let path = format!("{SYS_BTF_DIR}/{name}");
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => BtfError::NoSuchModule(name.to_string()),
        _ => BtfError::Unavailable(format!("{path}: {e}")),
    })?;
    KernelBtf::parse_split(&bytes, base)
}

/// The modules that publish BTF (the entries of [`SYS_BTF_DIR`] but `vmlinux`), sorted.
pub fn modules() -> Result<Vec<String>, BtfError> {
    let dir = std::fs::read_dir(SYS_BTF_DIR)
        .map_err(|e| BtfError::Unavailable(format!("{SYS_BTF_DIR}: {e}")))?;
    let mut out: Vec<String> = dir
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "vmlinux")
        .collect();
    out.sort();
    Ok(out)
}

/// Where [`find`] found a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The module whose BTF defines it; `None` for vmlinux.
    pub module: Option<String>,
    /// The type id (in the module's split BTF for a module type: after vmlinux's ids).
    pub type_id: u32,
}

/// Finds the type of `kind` named `name` in the running kernel: in vmlinux first, then in
/// each module's own types (in [`modules`] order). For module types the BTF object to pass
/// the kernel along with the id (as `attach_btf_obj_fd`, or in `fd_array` for a kfunc) is
/// [`crate::btf_obj::BtfObject::kernel`] of the module's name.
pub fn find(kind: Kind, name: &str) -> Result<Found, BtfError> {
    let base = vmlinux()?;
    match base.type_id(kind, name) {
        Ok(type_id) => {
            return Ok(Found {
                module: None,
                type_id,
            })
        }
        Err(BtfError::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    // A missing directory was reported by vmlinux() already; an unreadable one means no
    // modules to search.
    for m in modules().unwrap_or_default() {
        let Ok(btf) = module(&m) else { continue };
        if let Some(type_id) = btf.own_type_id(kind, name) {
            return Ok(Found {
                module: Some(m),
                type_id,
            });
        }
    }
    Err(BtfError::NotFound {
        kind,
        name: name.to_string(),
    })
}

impl KernelBtf {
    /// Reads the running kernel's BTF from [`VMLINUX_PATH`] (every call parses it again; see
    /// [`vmlinux`] for the shared copy).
    pub fn from_sys() -> Result<KernelBtf, BtfError> {
        let bytes = std::fs::read(VMLINUX_PATH)
            .map_err(|e| BtfError::Unavailable(format!("{VMLINUX_PATH}: {e}")))?;
        KernelBtf::parse(&bytes)
    }

    /// Parses a raw BTF blob (header, type section, string section; little-endian only,
    /// which every architecture this project builds for is).
    pub fn parse(b: &[u8]) -> Result<KernelBtf, BtfError> {
        let (tsec, ssec) = sections(b)?;
        let mut types = vec![Type::default()];
        types.extend(parse_types(tsec, 1)?);
        Ok(KernelBtf {
            base: None,
            first_id: 0,
            types,
            str_start: 0,
            strings: ssec.to_vec(),
        })
    }

    /// Parses split BTF (a kernel module's) on top of `base`: its first type has the id after
    /// the base's last, and its string offsets start after the base's string section.
    pub fn parse_split(b: &[u8], base: Arc<KernelBtf>) -> Result<KernelBtf, BtfError> {
        let (tsec, ssec) = sections(b)?;
        let first_id = base.next_id();
        let str_start = base
            .str_start
            .checked_add(base.strings.len() as u32)
            .ok_or_else(|| BtfError::Malformed("string offsets overflow".into()))?;
        let types = parse_types(tsec, first_id as usize)?;
        Ok(KernelBtf {
            base: Some(base),
            first_id,
            types,
            str_start,
            strings: ssec.to_vec(),
        })
    }

    /// The length of this blob's string section (the next split blob's strings start there).
    #[cfg(test)]
    pub(crate) fn strings_len(&self) -> usize {
        self.str_start as usize + self.strings.len()
    }

    /// The id the next type would have: one past the last id (with the base's, for split BTF).
    fn next_id(&self) -> u32 {
        self.first_id + self.types.len() as u32
    }

    /// The first type id this blob defines: 1 for base BTF (0 is `void`), one past the base's
    /// last for split BTF. Lower ids are the base's.
    pub fn first_own_id(&self) -> u32 {
        self.first_id.max(1)
    }

    /// How many types (not counting `void`; for split BTF, with the base's).
    pub fn type_count(&self) -> usize {
        self.next_id() as usize - 1
    }

    /// Type `id` (from the base when it is one of the base's).
    pub(crate) fn ty(&self, id: u32) -> Option<&Type> {
        if id < self.first_id {
            return self.base.as_ref()?.ty(id);
        }
        self.types.get((id - self.first_id) as usize)
    }

    /// The string at `off` (`""` when out of range or not UTF-8).
    pub(crate) fn name(&self, off: u32) -> &str {
        if off < self.str_start {
            return self.base.as_ref().map_or("", |b| b.name(off));
        }
        let s = self
            .strings
            .get((off - self.str_start) as usize..)
            .unwrap_or(&[]);
        let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
        std::str::from_utf8(&s[..end]).unwrap_or("")
    }

    /// Every type with its id, the base's first.
    pub(crate) fn all(&self) -> Box<dyn Iterator<Item = (u32, &Type)> + '_> {
        let own = (self.first_id..).zip(self.types.iter());
        match &self.base {
            Some(b) => Box::new(b.all().chain(own)),
            None => Box::new(own),
        }
    }

    /// The kind of type `id` (`None` for `void` and ids out of range).
    pub fn kind_of(&self, id: u32) -> Option<Kind> {
        Kind::from_raw(self.ty(id)?.kind)
    }

    /// The name of type `id` (`""` for anonymous types, `None` for ids out of range).
    pub fn name_of(&self, id: u32) -> Option<&str> {
        Some(self.name(self.ty(id)?.name))
    }

    /// The id of the first type of `kind` named `name` (the base's types first, for split
    /// BTF). For [`Kind::Struct`] and [`Kind::Union`] see also [`KernelBtf::struct_id`], which
    /// skips empty declarations.
    pub fn type_id(&self, kind: Kind, name: &str) -> Result<u32, BtfError> {
        let raw = kind.raw();
        self.all()
            .find(|(_, t)| t.kind == raw && self.name(t.name) == name)
            .map(|(id, _)| id)
            .ok_or_else(|| BtfError::NotFound {
                kind,
                name: name.to_string(),
            })
    }

    /// Like [`KernelBtf::type_id`], among this blob's own types only (for split BTF: the
    /// module's, not the base's).
    pub fn own_type_id(&self, kind: Kind, name: &str) -> Option<u32> {
        let raw = kind.raw();
        (self.first_id..)
            .zip(self.types.iter())
            .find(|(_, t)| t.kind == raw && self.name(t.name) == name)
            .map(|(id, _)| id)
    }

    /// The id of the struct (or union) named `name` that has members (not a forward
    /// declaration).
    pub fn struct_id(&self, name: &str) -> Result<u32, BtfError> {
        self.all()
            .find(|(_, t)| {
                matches!(t.kind, KIND_STRUCT | KIND_UNION)
                    && !t.members.is_empty()
                    && self.name(t.name) == name
            })
            .map(|(id, _)| id)
            .ok_or_else(|| BtfError::NoSuchType(name.to_string()))
    }

    /// The id of the function (`BTF_KIND_FUNC`) named `name`: what a kfunc call's `imm` holds
    /// and what fentry/fexit programs name as `attach_btf_id`.
    pub fn func_id(&self, name: &str) -> Result<u32, BtfError> {
        self.type_id(Kind::Func, name)
    }

    /// The prototype of the function named `name`: its return type and parameters.
    pub fn func_proto(&self, name: &str) -> Result<FuncProto, BtfError> {
        let func_id = self.func_id(name)?;
        let malformed = || BtfError::Malformed(format!("function {name} has no prototype"));
        let proto_id = self.ty(func_id).ok_or_else(malformed)?.size_or_type;
        let proto = self
            .ty(proto_id)
            .filter(|t| t.kind == KIND_FUNC_PROTO)
            .ok_or_else(malformed)?;
        Ok(FuncProto {
            func_id,
            proto_id,
            ret_type_id: proto.size_or_type,
            params: proto
                .members
                .iter()
                .map(|&(n, t, _, _)| (self.name(n).to_string(), t))
                .collect(),
        })
    }

    /// The size in bytes of the struct or union named `name`.
    pub fn struct_size(&self, name: &str) -> Result<u32, BtfError> {
        let id = self.struct_id(name)?;
        Ok(self.ty(id).map_or(0, |t| t.size_or_type))
    }

    /// Follows typedefs and modifiers to the type they name.
    pub(crate) fn resolve(&self, mut id: u32) -> Option<&Type> {
        for _ in 0..32 {
            let t = self.ty(id)?;
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_or_type
                }
                _ => return Some(t),
            }
        }
        None
    }

    fn type_size(&self, id: u32) -> u32 {
        match self.resolve(id) {
            Some(t) if matches!(t.kind, KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM) => {
                t.size_or_type
            }
            Some(t) if matches!(t.kind, KIND_ENUM64 | KIND_FLOAT) => t.size_or_type,
            Some(t) if t.kind == KIND_PTR => 8,
            _ => 0,
        }
    }

    /// Finds member `name` of the struct `t` (looking into anonymous struct and union
    /// members): its bit offset, bitfield size and type id.
    pub(crate) fn member(&self, t: &Type, name: &str, depth: u32) -> Option<(u32, u32, u32)> {
        // Anonymous members may share types: a budget keeps a hostile DAG from making the
        // search exponential (kernel structs need a few hundred steps).
        self.member_in(t, name, depth, &std::cell::Cell::new(1 << 20))
    }

    fn member_in(
        &self,
        t: &Type,
        name: &str,
        depth: u32,
        budget: &std::cell::Cell<u32>,
    ) -> Option<(u32, u32, u32)> {
        if depth > 16 || budget.get() == 0 || !matches!(t.kind, KIND_STRUCT | KIND_UNION) {
            return None;
        }
        budget.set(budget.get().saturating_sub(t.members.len() as u32 + 1));
        for &(mname, mtype, bit_off, bits) in &t.members {
            if mname != 0 && self.name(mname) == name {
                return Some((bit_off, bits, mtype));
            }
        }
        for &(mname, mtype, bit_off, _) in &t.members {
            if mname == 0 {
                if let Some(inner) = self.resolve(mtype) {
                    if let Some((o, bits, ty)) = self.member_in(inner, name, depth + 1, budget) {
                        return Some((bit_off.checked_add(o)?, bits, ty));
                    }
                }
            }
        }
        None
    }

    /// Where `path` (member names separated by `.`, e.g. `"sk_backlog.rmem_alloc"`) is in the
    /// struct named `ty`. Anonymous structs and unions are searched as C does.
    pub fn field(&self, ty: &str, path: &str) -> Result<Field, BtfError> {
        let missing = || BtfError::NoSuchMember {
            ty: ty.to_string(),
            member: path.to_string(),
        };
        let mut t = self.ty(self.struct_id(ty)?).ok_or_else(missing)?;
        let mut bit_offset = 0u32;
        let mut size = 0;
        let parts: Vec<&str> = path.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let (o, bits, mtype) = self.member(t, part, 0).ok_or_else(missing)?;
            if bits != 0 {
                return Err(BtfError::Bitfield {
                    ty: ty.to_string(),
                    member: path.to_string(),
                });
            }
            bit_offset = bit_offset.checked_add(o).ok_or_else(missing)?;
            size = self.type_size(mtype);
            if i + 1 < parts.len() {
                t = self
                    .resolve(mtype)
                    .filter(|n| matches!(n.kind, KIND_STRUCT | KIND_UNION))
                    .ok_or_else(missing)?;
            }
        }
        if bit_offset % 8 != 0 {
            return Err(BtfError::Bitfield {
                ty: ty.to_string(),
                member: path.to_string(),
            });
        }
        Ok(Field {
            offset: bit_offset / 8,
            size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made BTF blob: `int`, `struct inner { int a; int b; }`, and
    /// `struct outer { int x; struct { int y; }; struct inner in; unsigned int bf:3; }`.
    fn blob() -> Vec<u8> {
        let strings = b"\0int\0inner\0a\0b\0outer\0x\0y\0in\0bf\0".to_vec();
        let s = |name: &str| {
            let hay = &strings;
            let needle = format!("\0{name}\0");
            hay.windows(needle.len())
                .position(|w| w == needle.as_bytes())
                .map(|p| p as u32 + 1)
                .unwrap()
        };
        let mut t = Vec::new();
        let mut push = |v: &[u32]| {
            for x in v {
                t.extend_from_slice(&x.to_le_bytes());
            }
        };
        // 1: int (4 bytes, 32 bits, signed)
        push(&[s("int"), KIND_INT << 24, 4, (1 << 24) | 32]);
        // 2: struct inner { int a; int b; }
        push(&[s("inner"), (KIND_STRUCT << 24) | 2, 8]);
        push(&[s("a"), 1, 0, s("b"), 1, 32]);
        // 3: anonymous struct { int y; }
        push(&[0, (KIND_STRUCT << 24) | 1, 4]);
        push(&[s("y"), 1, 0]);
        // 4: struct outer, kind_flag set (bitfield encoding)
        push(&[s("outer"), (1 << 31) | (KIND_STRUCT << 24) | 4, 20]);
        push(&[
            s("x"),
            1,
            0,
            0,
            3,
            32,
            s("in"),
            2,
            64,
            s("bf"),
            1,
            (3 << 24) | 128,
        ]);
        let mut b = Vec::new();
        let hdr = [
            0u32,
            24,
            0,
            t.len() as u32,
            t.len() as u32,
            strings.len() as u32,
        ];
        b.extend_from_slice(&MAGIC.to_le_bytes());
        b.extend_from_slice(&[1, 0]);
        for x in &hdr[1..] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        b.extend_from_slice(&t);
        b.extend_from_slice(&strings);
        b
    }

    #[test]
    fn finds_members_through_anonymous_and_nested_structs() {
        let btf = KernelBtf::parse(&blob()).unwrap();
        assert_eq!(btf.type_count(), 4);
        assert_eq!(btf.struct_size("outer").unwrap(), 20);
        assert_eq!(
            btf.field("outer", "x").unwrap(),
            Field { offset: 0, size: 4 }
        );
        assert_eq!(
            btf.field("outer", "y").unwrap(),
            Field { offset: 4, size: 4 }
        );
        assert_eq!(
            btf.field("outer", "in").unwrap(),
            Field { offset: 8, size: 8 }
        );
        assert_eq!(
            btf.field("outer", "in.b").unwrap(),
            Field {
                offset: 12,
                size: 4
            }
        );
        assert_eq!(
            btf.field("outer", "bf"),
            Err(BtfError::Bitfield {
                ty: "outer".into(),
                member: "bf".into()
            })
        );
        assert!(matches!(
            btf.field("outer", "nope"),
            Err(BtfError::NoSuchMember { .. })
        ));
        assert!(matches!(
            btf.field("missing", "x"),
            Err(BtfError::NoSuchType(_))
        ));
    }

    #[test]
    fn no_panic_on_truncated_or_corrupted_blobs() {
        let b = blob();
        for n in 0..b.len() {
            let _ = KernelBtf::parse(&b[..n]);
        }
        for i in 0..b.len() {
            for bit in [0x01u8, 0x80, 0xff] {
                let mut c = b.clone();
                c[i] ^= bit;
                if let Ok(btf) = KernelBtf::parse(&c) {
                    let _ = btf.field("outer", "in.b");
                    let _ = btf.struct_size("inner");
                }
            }
        }
    }

    /// A blob of `types` and `strings` with a header.
    fn with_header(types: &[u8], strings: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC.to_le_bytes());
        b.extend_from_slice(&[1, 0]);
        let (t, s) = (types.len() as u32, strings.len() as u32);
        for x in [24u32, 0, t, t, s] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        b.extend_from_slice(types);
        b.extend_from_slice(strings);
        b
    }

    /// Split BTF on top of [`blob`] (4 types; its strings are 33 bytes): 5 a prototype
    /// `int (struct outer *arg)`, 6 `mod_fn` of it, 7 a pointer to `outer`, 8
    /// `struct mod_s { int x; }` (its member named by the base's string "x"), 9 the typedef
    /// `btf_trace_mod_tp` of 8.
    fn split_blob(base: &KernelBtf) -> Vec<u8> {
        let strings = b"\0mod_fn\0arg\0mod_s\0btf_trace_mod_tp\0".to_vec();
        let at = base.strings.len() as u32;
        let own = |name: &str| {
            let needle = format!("\0{name}\0");
            at + strings
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
                .unwrap() as u32
                + 1
        };
        let base_x = {
            let needle = b"\0x\0";
            base.strings.windows(3).position(|w| w == needle).unwrap() as u32 + 1
        };
        let mut t = Vec::new();
        let mut push = |v: &[u32]| {
            for x in v {
                t.extend_from_slice(&x.to_le_bytes());
            }
        };
        push(&[0, (KIND_FUNC_PROTO << 24) | 1, 1, own("arg"), 7]);
        push(&[own("mod_fn"), KIND_FUNC << 24, 5]);
        push(&[0, KIND_PTR << 24, 4]);
        push(&[own("mod_s"), (KIND_STRUCT << 24) | 1, 4, base_x, 1, 0]);
        push(&[own("btf_trace_mod_tp"), KIND_TYPEDEF << 24, 8]);
        with_header(&t, &strings)
    }

    #[test]
    fn split_btf_continues_the_base_ids_and_strings() {
        let base = std::sync::Arc::new(KernelBtf::parse(&blob()).unwrap());
        let m = KernelBtf::parse_split(&split_blob(&base), base.clone()).unwrap();
        assert_eq!(base.first_own_id(), 1);
        assert_eq!(m.first_own_id(), 5);
        assert_eq!(m.type_count(), 9);
        // Own types by kind and name.
        assert_eq!(m.func_id("mod_fn"), Ok(6));
        assert_eq!(m.own_type_id(Kind::Func, "mod_fn"), Some(6));
        assert_eq!(m.type_id(Kind::Typedef, "btf_trace_mod_tp"), Ok(9));
        assert_eq!(m.kind_of(7), Some(Kind::Ptr));
        assert_eq!(m.name_of(8), Some("mod_s"));
        // The prototype, through the split's and the base's types and strings.
        let p = m.func_proto("mod_fn").unwrap();
        assert_eq!(
            p,
            FuncProto {
                func_id: 6,
                proto_id: 5,
                ret_type_id: 1,
                params: vec![("arg".into(), 7)],
            }
        );
        assert_eq!(m.name_of(p.ret_type_id), Some("int"));
        // Base types are visible, but not the module's own.
        assert_eq!(m.type_id(Kind::Struct, "outer"), Ok(4));
        assert_eq!(m.own_type_id(Kind::Struct, "outer"), None);
        assert_eq!(m.field("outer", "in.b").unwrap().offset, 12);
        // A member named by a base string offset.
        assert_eq!(m.field("mod_s", "x").unwrap(), Field { offset: 0, size: 4 });
        assert_eq!(m.struct_size("mod_s"), Ok(4));
        // The base knows nothing of the module.
        assert_eq!(
            base.func_id("mod_fn"),
            Err(BtfError::NotFound {
                kind: Kind::Func,
                name: "mod_fn".into()
            })
        );
        assert_eq!(base.kind_of(6), None);
        assert_eq!(m.kind_of(10), None);
        assert_eq!(m.kind_of(0), None, "void");
    }

    #[test]
    fn split_btf_never_panics_on_corruption() {
        let base = std::sync::Arc::new(KernelBtf::parse(&blob()).unwrap());
        let b = split_blob(&base);
        for n in 0..b.len() {
            let _ = KernelBtf::parse_split(&b[..n], base.clone());
        }
        for i in 0..b.len() {
            for bit in [0x01u8, 0x80, 0xff] {
                let mut c = b.clone();
                c[i] ^= bit;
                if let Ok(m) = KernelBtf::parse_split(&c, base.clone()) {
                    let _ = m.func_proto("mod_fn");
                    let _ = m.field("mod_s", "x");
                    let _ = m.type_id(Kind::Typedef, "btf_trace_mod_tp");
                    for id in 0..12 {
                        let _ = (m.kind_of(id), m.name_of(id));
                    }
                }
            }
        }
    }

    #[test]
    fn kinds_round_trip_their_numbers() {
        for (k, n, _) in Kind::ALL {
            assert_eq!(k.raw(), n);
            assert_eq!(Kind::from_raw(n), Some(k));
        }
        assert_eq!(Kind::from_raw(0), None);
        assert_eq!(Kind::from_raw(20), None);
        assert_eq!(Kind::Typedef.to_string(), "typedef");
    }

    #[test]
    fn module_names_are_plain_file_names() {
        for bad in ["", ".", "..", "a/b", "../vmlinux", "vmlinux"] {
            assert_eq!(
                module(bad).err(),
                Some(BtfError::NoSuchModule(bad.to_string()))
            );
        }
    }

    /// The running kernel's BTF, when it has one: `struct sock` has the fields the bypass
    /// reads, at offsets inside the struct.
    #[test]
    fn reads_the_running_kernels_btf() {
        let btf = match KernelBtf::from_sys() {
            Ok(b) => b,
            Err(e) => {
                eprintln!("skipped: {e}");
                return;
            }
        };
        assert!(btf.type_count() > 1000);
        let sock = btf.struct_size("sock").unwrap();
        for path in ["sk_backlog.rmem_alloc", "sk_rcvbuf", "sk_userlocks"] {
            let f = match btf.field("sock", path) {
                Ok(f) => f,
                // Debian's arm64 6.1 kernel has sk_userlocks as a bitfield: a typed error,
                // on which the programs leave the receive-queue bound out.
                Err(BtfError::Bitfield { member, .. }) if member == "sk_userlocks" => continue,
                Err(e) => panic!("{path}: {e}"),
            };
            assert!(f.offset + f.size <= sock, "{path}: {f:?} in {sock}");
        }
        assert_eq!(btf.field("sock", "sk_rcvbuf").unwrap().size, 4);
    }
}
