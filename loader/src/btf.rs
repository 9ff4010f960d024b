//! Kernel BTF, read far enough to answer "where is field X of kernel struct Y" on the running
//! kernel: what programs need to read kernel objects through BTF pointers (for example a
//! socket returned by `bpf_skc_to_tcp_sock`) without LLVM's CO-RE relocations.
//!
//! [`KernelBtf::from_sys`] reads `/sys/kernel/btf/vmlinux`; [`KernelBtf::parse`] takes any raw
//! BTF blob. Only what field lookups need is interpreted: every type is walked (so the ids are
//! right), names of structs and unions, their members and sizes, and the modifiers and
//! typedefs between a member and its struct. The layout is `struct btf_header` and
//! `struct btf_type` of `linux/btf.h`.

use std::fmt;

/// Where the running kernel publishes its own BTF.
pub const VMLINUX_PATH: &str = "/sys/kernel/btf/vmlinux";

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

/// Why BTF could not be read or a field not found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BtfError {
    /// The kernel publishes no BTF (built without `CONFIG_DEBUG_INFO_BTF`) or it is unreadable.
    Unavailable(String),
    /// The blob is not well-formed BTF.
    Malformed(String),
    /// No struct or union of that name.
    NoSuchType(String),
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

/// One type: kind, name, size-or-type, and for structs and unions their members.
#[derive(Debug, Clone)]
struct Type {
    kind: u32,
    name: u32,
    /// `size` for sized kinds, the referenced type id for modifiers and typedefs.
    size_or_type: u32,
    /// Members of a struct or union: (name offset, type id, bit offset, bitfield size).
    members: Vec<(u32, u32, u32, u32)>,
}

/// A parsed BTF blob (types and strings).
#[derive(Debug, Clone)]
pub struct KernelBtf {
    /// Index 0 is the `void` type; index i is type id i.
    types: Vec<Type>,
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

fn rd_u32(b: &[u8], off: usize) -> Result<u32, BtfError> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| BtfError::Malformed(format!("truncated at byte {off}")))
}

impl KernelBtf {
    /// Reads the running kernel's BTF from [`VMLINUX_PATH`].
    pub fn from_sys() -> Result<KernelBtf, BtfError> {
        let bytes = std::fs::read(VMLINUX_PATH)
            .map_err(|e| BtfError::Unavailable(format!("{VMLINUX_PATH}: {e}")))?;
        KernelBtf::parse(&bytes)
    }

    /// Parses a raw BTF blob (header, type section, string section; little-endian only,
    /// which every architecture this project builds for is).
    pub fn parse(b: &[u8]) -> Result<KernelBtf, BtfError> {
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
        let tsec = section(type_off, type_len, "type")?;
        let strings = section(str_off, str_len, "string")?.to_vec();

        let mut types = vec![Type {
            kind: 0,
            name: 0,
            size_or_type: 0,
            members: Vec::new(),
        }];
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
            let extra = match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
                KIND_ARRAY => 12,
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
                KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
                KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
                k => {
                    return Err(BtfError::Malformed(format!(
                        "unknown kind {k} for type id {}",
                        types.len()
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
            });
        }
        Ok(KernelBtf { types, strings })
    }

    /// How many types (not counting `void`).
    pub fn type_count(&self) -> usize {
        self.types.len() - 1
    }

    fn name(&self, off: u32) -> &str {
        let s = self.strings.get(off as usize..).unwrap_or(&[]);
        let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
        std::str::from_utf8(&s[..end]).unwrap_or("")
    }

    /// The id of the struct (or union) named `name` that has members (not a forward
    /// declaration).
    pub fn struct_id(&self, name: &str) -> Result<u32, BtfError> {
        self.types
            .iter()
            .position(|t| {
                matches!(t.kind, KIND_STRUCT | KIND_UNION)
                    && !t.members.is_empty()
                    && self.name(t.name) == name
            })
            .map(|i| i as u32)
            .ok_or_else(|| BtfError::NoSuchType(name.to_string()))
    }

    /// The id of the function (`BTF_KIND_FUNC`) named `name`: what a kfunc call's `imm` holds.
    pub fn func_id(&self, name: &str) -> Result<u32, BtfError> {
        self.types
            .iter()
            .position(|t| t.kind == KIND_FUNC && self.name(t.name) == name)
            .map(|i| i as u32)
            .ok_or_else(|| BtfError::NoSuchType(format!("function {name}")))
    }

    /// The size in bytes of the struct or union named `name`.
    pub fn struct_size(&self, name: &str) -> Result<u32, BtfError> {
        let id = self.struct_id(name)?;
        Ok(self.types[id as usize].size_or_type)
    }

    /// Follows typedefs and modifiers to the type they name.
    fn resolve(&self, mut id: u32) -> Option<&Type> {
        for _ in 0..32 {
            let t = self.types.get(id as usize)?;
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
    fn member(&self, t: &Type, name: &str, depth: u32) -> Option<(u32, u32, u32)> {
        if depth > 16 {
            return None;
        }
        for &(mname, mtype, bit_off, bits) in &t.members {
            if mname != 0 && self.name(mname) == name {
                return Some((bit_off, bits, mtype));
            }
        }
        for &(mname, mtype, bit_off, _) in &t.members {
            if mname == 0 {
                if let Some(inner) = self.resolve(mtype) {
                    if let Some((o, bits, ty)) = self.member(inner, name, depth + 1) {
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
        let mut t = &self.types[self.struct_id(ty)? as usize];
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
