//! Just enough BTF (the `.BTF` section) to read and write BTF-defined maps: the header, the
//! type section (every kind is stepped over; INT, PTR, ARRAY, STRUCT/UNION, VAR, DATASEC,
//! ENUM, TYPEDEF and the modifiers are understood) and the string section.
//!
//! A map in `.maps` is a VAR of an anonymous struct whose members encode the attributes the
//! way libbpf's `__uint(name, N)` does (`int (*name)[N]`: a PTR to an ARRAY of N elements)
//! and `__type(key, T)` does (`T *key`: a PTR to the key type, whose size is the key size).

use super::ElfError;

const MAGIC: u16 = uapi::btf::BTF_MAGIC;
const HEADER_LEN: u32 = 24;

// The kinds as the type records store them (the top byte of `info`, masked to 5 bits).
const KIND_INT: u8 = uapi::btf::BTF_KIND_INT as u8;
const KIND_PTR: u8 = uapi::btf::BTF_KIND_PTR as u8;
const KIND_ARRAY: u8 = uapi::btf::BTF_KIND_ARRAY as u8;
const KIND_STRUCT: u8 = uapi::btf::BTF_KIND_STRUCT as u8;
const KIND_UNION: u8 = uapi::btf::BTF_KIND_UNION as u8;
const KIND_ENUM: u8 = uapi::btf::BTF_KIND_ENUM as u8;
const KIND_FWD: u8 = uapi::btf::BTF_KIND_FWD as u8;
const KIND_TYPEDEF: u8 = uapi::btf::BTF_KIND_TYPEDEF as u8;
const KIND_VOLATILE: u8 = uapi::btf::BTF_KIND_VOLATILE as u8;
const KIND_CONST: u8 = uapi::btf::BTF_KIND_CONST as u8;
const KIND_RESTRICT: u8 = uapi::btf::BTF_KIND_RESTRICT as u8;
const KIND_FUNC: u8 = uapi::btf::BTF_KIND_FUNC as u8;
const KIND_FUNC_PROTO: u8 = uapi::btf::BTF_KIND_FUNC_PROTO as u8;
const KIND_VAR: u8 = uapi::btf::BTF_KIND_VAR as u8;
const KIND_DATASEC: u8 = uapi::btf::BTF_KIND_DATASEC as u8;
const KIND_FLOAT: u8 = uapi::btf::BTF_KIND_FLOAT as u8;
const KIND_DECL_TAG: u8 = uapi::btf::BTF_KIND_DECL_TAG as u8;
const KIND_TYPE_TAG: u8 = uapi::btf::BTF_KIND_TYPE_TAG as u8;
const KIND_ENUM64: u8 = uapi::btf::BTF_KIND_ENUM64 as u8;

/// The longest CO-RE access string read (`"0:12:3"`: a handful of indices in practice).
const MAX_ACCESS_LEN: usize = 256;

/// How deep type chains are followed (modifiers, typedefs, nested arrays).
const MAX_DEPTH: usize = 32;

fn err(msg: impl Into<String>) -> ElfError {
    ElfError::Btf(msg.into())
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// One parsed type.
#[derive(Debug, Clone)]
struct Type {
    name_off: u32,
    kind: u8,
    /// `size` or `type`, depending on the kind.
    size_or_type: u32,
    /// ARRAY: (elem type, nelems).
    array: Option<(u32, u32)>,
    /// STRUCT/UNION members (name_off, type), DATASEC entries (type, offset, size) stored as
    /// (type, offset) with the size in the third field.
    members: Vec<(u32, u32, u32)>,
    /// VAR linkage.
    linkage: u32,
    /// INT: the word after the header (encoding << 24 | offset << 16 | bits).
    int_data: u32,
    /// Where the type starts in the section's bytes.
    at: usize,
}

/// A parsed `.BTF` section.
#[derive(Debug)]
pub(crate) struct Btf<'a> {
    types: Vec<Type>,
    strings: &'a [u8],
}

/// A map definition read from `.maps`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct BtfMap {
    pub name: String,
    /// Offset of the variable in the `.maps` section according to the DATASEC (clang writes
    /// 0 there; the symbol table has the real one).
    pub offset: u32,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
    pub pinning: u32,
    /// A map-in-map's inner map definition (`__array(values, struct inner)`).
    pub inner: Option<Box<BtfMap>>,
    /// Where the `values` slots start within the definition, when it has them.
    pub values_offset: Option<u32>,
    /// The BTF type id of the key (`__type(key, T)`), 0 when given by size.
    pub key_type: u32,
    /// The BTF type id of the value, 0 when given by size.
    pub value_type: u32,
}

impl<'a> Btf<'a> {
    /// Parses the header, the type section and the string section.
    pub fn parse(b: &'a [u8]) -> Result<Btf<'a>, ElfError> {
        if b.len() < HEADER_LEN as usize {
            return Err(err(format!("section of {} bytes has no header", b.len())));
        }
        let magic = u16::from_le_bytes([b[0], b[1]]);
        if magic != MAGIC {
            if magic.swap_bytes() == MAGIC {
                return Err(err("big-endian BTF is not supported"));
            }
            return Err(err(format!("bad magic {magic:#06x}")));
        }
        if b[2] != 1 {
            return Err(err(format!("version {} (only 1 is known)", b[2])));
        }
        let field = |i: usize| u32_at(b, 4 + 4 * i).unwrap_or(0);
        let (hdr_len, type_off, type_len, str_off, str_len) =
            (field(0), field(1), field(2), field(3), field(4));
        if hdr_len < HEADER_LEN || hdr_len as usize > b.len() {
            return Err(err(format!("header length {hdr_len}")));
        }
        let range = |off: u32, len: u32, what: &str| -> Result<&'a [u8], ElfError> {
            let start = hdr_len as u64 + off as u64;
            let end = start + len as u64;
            if end > b.len() as u64 {
                return Err(err(format!(
                    "{what} {start}..{end} is outside the section ({} bytes)",
                    b.len()
                )));
            }
            Ok(&b[start as usize..end as usize])
        };
        let tb = range(type_off, type_len, "type section")?;
        let strings = range(str_off, str_len, "string section")?;
        let mut types = Vec::new();
        let mut pos = 0usize;
        while pos < tb.len() {
            let rd = |off: usize| {
                u32_at(tb, off).ok_or_else(|| err(format!("type {} is truncated", types.len() + 1)))
            };
            let at = tb.as_ptr() as usize - b.as_ptr() as usize + pos;
            let name_off = rd(pos)?;
            let info = rd(pos + 4)?;
            let size_or_type = rd(pos + 8)?;
            pos += 12;
            let vlen = (info & 0xffff) as usize;
            let kind = ((info >> 24) & 0x1f) as u8;
            let mut t = Type {
                name_off,
                kind,
                size_or_type,
                array: None,
                members: Vec::new(),
                linkage: 0,
                int_data: 0,
                at,
            };
            let extra = match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
                KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
                k => return Err(err(format!("type {}: unknown kind {k}", types.len() + 1))),
            };
            if pos + extra > tb.len() {
                return Err(err(format!("type {} is truncated", types.len() + 1)));
            }
            match kind {
                KIND_ARRAY => t.array = Some((rd(pos)?, rd(pos + 8)?)),
                KIND_VAR => t.linkage = rd(pos)?,
                KIND_INT => t.int_data = rd(pos)?,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC => {
                    for i in 0..vlen {
                        let o = pos + 12 * i;
                        t.members.push((rd(o)?, rd(o + 4)?, rd(o + 8)?));
                    }
                }
                _ => {}
            }
            pos += extra;
            types.push(t);
        }
        Ok(Btf { types, strings })
    }

    fn ty(&self, id: u32) -> Result<&Type, ElfError> {
        if id == 0 {
            return Err(err("unexpected void type"));
        }
        self.types
            .get(id as usize - 1)
            .ok_or_else(|| err(format!("type id {id} does not exist")))
    }

    fn name(&self, off: u32) -> Result<&'a str, ElfError> {
        let s = self
            .strings
            .get(off as usize..)
            .ok_or_else(|| err(format!("name offset {off} is outside the string section")))?;
        let end = s
            .iter()
            .position(|&c| c == 0)
            .ok_or_else(|| err(format!("name at {off} is not NUL-terminated")))?;
        std::str::from_utf8(&s[..end]).map_err(|_| err(format!("name at {off} is not UTF-8")))
    }

    /// Follows typedefs and modifiers.
    fn skip_mods(&self, mut id: u32) -> Result<(u32, &Type), ElfError> {
        for _ in 0..MAX_DEPTH {
            let t = self.ty(id)?;
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_or_type
                }
                _ => return Ok((id, t)),
            }
        }
        Err(err(format!("type chain from {id} is too deep or a loop")))
    }

    /// The size in bytes of a type.
    fn size_of(&self, id: u32, depth: usize) -> Result<u32, ElfError> {
        if depth > MAX_DEPTH {
            return Err(err("type nesting too deep"));
        }
        let (_, t) = self.skip_mods(id)?;
        match t.kind {
            KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM | KIND_ENUM64 | KIND_FLOAT
            | KIND_DATASEC => Ok(t.size_or_type),
            KIND_PTR => Ok(8),
            KIND_ARRAY => {
                let (elem, n) = t.array.unwrap_or((0, 0));
                self.size_of(elem, depth + 1)?
                    .checked_mul(n)
                    .ok_or_else(|| err("array size overflows u32"))
            }
            k => Err(err(format!("type {id} of kind {k} has no size"))),
        }
    }

    /// `int (*name)[N]` → N.
    fn uint_attr(&self, map: &str, attr: &str, id: u32) -> Result<u32, ElfError> {
        let bad = |why: &str| ElfError::BadMap {
            name: map.to_string(),
            reason: format!("attribute {attr}: {why}"),
        };
        let (_, p) = self.skip_mods(id)?;
        if p.kind != KIND_PTR {
            return Err(bad("expected a pointer to an array (__uint)"));
        }
        let (_, a) = self.skip_mods(p.size_or_type)?;
        match a.array {
            Some((_, n)) if a.kind == KIND_ARRAY => Ok(n),
            _ => Err(bad("expected a pointer to an array (__uint)")),
        }
    }

    /// `T *name` → sizeof(T).
    fn type_attr(&self, map: &str, attr: &str, id: u32) -> Result<u32, ElfError> {
        let (_, p) = self.skip_mods(id)?;
        if p.kind != KIND_PTR {
            return Err(ElfError::BadMap {
                name: map.to_string(),
                reason: format!("attribute {attr}: expected a pointer to a type (__type)"),
            });
        }
        self.size_of(p.size_or_type, 0)
    }

    /// The maps defined in the DATASEC `.maps`. The offsets are the DATASEC's, which clang
    /// leaves at 0: the reader takes each map's place from the symbol table instead.
    pub fn maps(&self) -> Result<Vec<BtfMap>, ElfError> {
        let Some(sec) = self
            .types
            .iter()
            .find(|t| t.kind == KIND_DATASEC && self.name(t.name_off).ok() == Some(".maps"))
        else {
            return Err(err("no DATASEC named .maps"));
        };
        let mut out = Vec::with_capacity(sec.members.len());
        for &(var_id, offset, _size) in &sec.members {
            let var = self.ty(var_id)?;
            if var.kind != KIND_VAR {
                return Err(err(format!(".maps entry {var_id} is not a VAR")));
            }
            let name = self.name(var.name_off)?.to_string();
            if var.linkage != uapi::btf::BTF_VAR_GLOBAL_ALLOCATED {
                // libbpf accepts only global (allocated) map variables.
                return Err(ElfError::BadMap {
                    name,
                    reason: format!("linkage {} (only global maps are supported)", var.linkage),
                });
            }
            let mut m = self.map_def(&name, var.size_or_type, false)?;
            m.offset = offset;
            out.push(m);
        }
        Ok(out)
    }

    /// Reads the attributes of a map definition struct (`inner`: the definition of a
    /// map-in-map's inner map, which has no `values` of its own).
    fn map_def(&self, name: &str, type_id: u32, inner: bool) -> Result<BtfMap, ElfError> {
        let bad = |reason: String| ElfError::BadMap {
            name: name.to_string(),
            reason,
        };
        let (_, def) = self.skip_mods(type_id)?;
        if def.kind != KIND_STRUCT {
            return Err(bad("definition is not a struct".into()));
        }
        let mut m = BtfMap {
            name: name.to_string(),
            ..BtfMap::default()
        };
        for (k, &(mname, mtype, bit_off)) in def.members.iter().enumerate() {
            let attr = self.name(mname)?;
            match attr {
                "type" => m.map_type = self.uint_attr(name, attr, mtype)?,
                "max_entries" => m.max_entries = self.uint_attr(name, attr, mtype)?,
                "map_flags" => m.flags = self.uint_attr(name, attr, mtype)?,
                "pinning" => m.pinning = self.uint_attr(name, attr, mtype)?,
                "key_size" => m.key_size = self.uint_attr(name, attr, mtype)?,
                "value_size" => m.value_size = self.uint_attr(name, attr, mtype)?,
                "key" => {
                    m.key_size = self.type_attr(name, attr, mtype)?;
                    m.key_type = self.skip_mods(mtype)?.1.size_or_type;
                }
                "value" => {
                    m.value_size = self.type_attr(name, attr, mtype)?;
                    m.value_type = self.skip_mods(mtype)?.1.size_or_type;
                }
                "numa_node" => {
                    self.uint_attr(name, attr, mtype)?;
                }
                "map_extra" => {
                    if self.uint_attr(name, attr, mtype)? != 0 {
                        return Err(bad("map_extra is not supported".into()));
                    }
                }
                "values" => {
                    if inner {
                        return Err(bad("an inner map definition cannot have `values`".into()));
                    }
                    if k + 1 != def.members.len() {
                        return Err(bad("`values` must be the last attribute".into()));
                    }
                    if bit_off % 64 != 0 {
                        return Err(bad("`values` is not 8-byte aligned".into()));
                    }
                    // `__array(values, T)`: an array (usually of 0 elements) of pointers to T,
                    // T the inner map's definition struct or a program's FUNC_PROTO.
                    let (_, arr) = self.skip_mods(mtype)?;
                    let elem = match arr.array {
                        Some((elem, _)) if arr.kind == KIND_ARRAY => elem,
                        _ => return Err(bad("`values` is not an array (__array)".into())),
                    };
                    let (_, p) = self.skip_mods(elem)?;
                    if p.kind != KIND_PTR {
                        return Err(bad("`values` is not an array of pointers".into()));
                    }
                    let (target_id, target) = self.skip_mods(p.size_or_type)?;
                    m.values_offset = Some(bit_off / 8);
                    match target.kind {
                        KIND_STRUCT => {
                            let inner_name = format!("{name}.inner");
                            m.inner = Some(Box::new(self.map_def(&inner_name, target_id, true)?));
                        }
                        KIND_FUNC_PROTO => {}
                        k => {
                            return Err(bad(format!(
                                "`values` points to a type of kind {k}, neither a map definition \
                                 nor a function"
                            )))
                        }
                    }
                }
                other => return Err(bad(format!("unknown attribute {other:?}"))),
            }
        }
        Ok(m)
    }
}

impl Btf<'_> {
    /// The variables of the `.kconfig` DATASEC (libbpf's `__kconfig` externs): (name, type,
    /// size, alignment). A type libbpf cannot read a value into is an error naming it.
    pub fn kconfig_vars(&self) -> Result<Vec<(String, crate::KconfigType, u32, u32)>, ElfError> {
        let Some(sec) = self.datasec_id(".kconfig") else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for &(var_id, _, _) in &self.ty(sec)?.members {
            let var = self.ty(var_id)?;
            let name = self.name(var.name_off)?;
            if var.kind != KIND_VAR {
                return Err(err(format!(".kconfig member {name} is not a VAR")));
            }
            let unsupported = || err(format!("extern (kconfig) {name}: type is unsupported"));
            let (kind, align) = self
                .kconfig_type(var.size_or_type, 0)?
                .ok_or_else(unsupported)?;
            let size = self.size_of(var.size_or_type, 0)?;
            out.push((name.to_string(), kind, size, align));
        }
        Ok(out)
    }

    /// libbpf's `find_kcfg_type`, with the type's alignment; `None`: not a kconfig type.
    fn kconfig_type(
        &self,
        id: u32,
        depth: usize,
    ) -> Result<Option<(crate::KconfigType, u32)>, ElfError> {
        use crate::KconfigType as K;
        if depth > MAX_DEPTH {
            return Err(err("type nesting too deep"));
        }
        let (_, t) = self.skip_mods(id)?;
        let size = t.size_or_type;
        Ok(match t.kind {
            KIND_ENUM if size == 4 && self.name(t.name_off)? == "libbpf_tristate" => {
                Some((K::Tristate, 4))
            }
            KIND_INT => {
                // encoding: SIGNED 1, CHAR 2, BOOL 4.
                let enc = t.int_data >> 24;
                if enc & 4 != 0 {
                    (size == 1).then_some((K::Bool, 1))
                } else if enc & 2 != 0 || size == 1 {
                    Some((K::Char, 1))
                } else if matches!(size, 2 | 4 | 8) {
                    Some((
                        K::Int {
                            signed: enc & 1 != 0,
                        },
                        size,
                    ))
                } else {
                    None
                }
            }
            KIND_ARRAY => {
                let (elem, n) = t.array.unwrap_or((0, 0));
                match self.kconfig_type(elem, depth + 1)? {
                    Some((K::Char, _)) if n > 0 => Some((K::CharArray, 1)),
                    _ => None,
                }
            }
            _ => None,
        })
    }

    /// The id of the DATASEC called `name`.
    pub fn datasec_id(&self, name: &str) -> Option<u32> {
        self.types
            .iter()
            .position(|t| t.kind == KIND_DATASEC && self.name(t.name_off).ok() == Some(name))
            .map(|i| i as u32 + 1)
    }

    /// A copy of the section `raw` (the bytes this was parsed from) the kernel accepts: each
    /// DATASEC gets its ELF section's size and each of its variables the offset of the symbol
    /// with its name (clang leaves both 0; libbpf fixes them the same way before
    /// `BPF_BTF_LOAD`). A DATASEC without an ELF section, or a variable without a symbol, is
    /// left as it is.
    ///
    /// A FUNC for which `hidden` says true (a global subprogram with hidden or internal
    /// visibility) becomes static, as libbpf marks it: the kernel then verifies it with its
    /// caller's knowledge of the arguments instead of on its own.
    pub fn fixed_up(
        &self,
        raw: &[u8],
        section_size: &dyn Fn(&str) -> Option<u64>,
        var_offset: &dyn Fn(&str, &str) -> Option<u64>,
        hidden: &dyn Fn(&str) -> bool,
    ) -> Vec<u8> {
        let mut out = raw.to_vec();
        for t in self.types.iter().filter(|t| t.kind == KIND_FUNC) {
            if self.name(t.name_off).is_ok_and(hidden) {
                // info: vlen (here the linkage) in the low 16 bits.
                if let Some(b) = out.get_mut(t.at + 4..t.at + 6) {
                    b.copy_from_slice(&(uapi::btf::BTF_FUNC_STATIC as u16).to_le_bytes());
                }
            }
        }
        let mut put = |at: usize, v: u32| {
            if let Some(b) = out.get_mut(at..at + 4) {
                b.copy_from_slice(&v.to_le_bytes());
            }
        };
        for t in self.types.iter().filter(|t| t.kind == KIND_DATASEC) {
            let Ok(sec) = self.name(t.name_off) else {
                continue;
            };
            let Some(size) = section_size(sec).and_then(|s| u32::try_from(s).ok()) else {
                continue;
            };
            put(t.at + 8, size);
            for (i, &(var_id, _, _)) in t.members.iter().enumerate() {
                let Some(name) = self
                    .ty(var_id)
                    .ok()
                    .and_then(|v| self.name(v.name_off).ok())
                else {
                    continue;
                };
                if let Some(off) = var_offset(sec, name).and_then(|o| u32::try_from(o).ok()) {
                    put(t.at + 12 + 12 * i + 4, off);
                    // An extern given a place (a `.kconfig` variable) is allocated now: the
                    // kernel refuses extern VARs, and libbpf rewrites them the same way.
                    if let Ok(v) = self.ty(var_id) {
                        if v.kind == KIND_VAR && v.linkage == uapi::btf::BTF_VAR_GLOBAL_EXTERN {
                            put(v.at + 12, uapi::btf::BTF_VAR_GLOBAL_ALLOCATED);
                        }
                    }
                }
            }
        }
        out
    }

    /// Whether `id` is a FUNC.
    fn is_func(&self, id: u32) -> bool {
        self.ty(id).is_ok_and(|t| t.kind == KIND_FUNC)
    }
}

/// The `func_info` of a `.BTF.ext` section: section name → (byte offset of the function in
/// the section, BTF FUNC type id), as clang records them for every function. Records whose
/// type is not a FUNC of `btf` are dropped (the kernel would refuse them).
pub(crate) fn func_info(
    ext: &[u8],
    btf: &Btf<'_>,
) -> Result<std::collections::HashMap<String, Vec<(u32, u32)>>, ElfError> {
    let mut out: std::collections::HashMap<String, Vec<(u32, u32)>> = Default::default();
    let word = |off: usize| u32_at(ext, off);
    let hdr_len = word(4).ok_or_else(|| err(".BTF.ext header is truncated"))? as usize;
    if hdr_len < 16 {
        return Ok(out);
    }
    let (Some(fi_off), Some(fi_len)) = (word(8), word(12)) else {
        return Err(err(".BTF.ext header is truncated"));
    };
    if fi_len == 0 {
        return Ok(out);
    }
    let start = hdr_len + fi_off as usize;
    let end = start
        .checked_add(fi_len as usize)
        .filter(|&e| e <= ext.len())
        .ok_or_else(|| err(".BTF.ext func_info is outside the section"))?;
    let rec_size = word(start).ok_or_else(|| err(".BTF.ext func_info is truncated"))? as usize;
    if rec_size < 8 {
        return Err(err(format!(".BTF.ext func_info record size {rec_size}")));
    }
    let mut pos = start + 4;
    while pos < end {
        let (Some(sec_off), Some(n)) = (word(pos), word(pos + 4)) else {
            return Err(err(".BTF.ext func_info is truncated"));
        };
        pos += 8;
        let sec = btf.name(sec_off)?.to_string();
        let bytes = (n as usize)
            .checked_mul(rec_size)
            .filter(|&b| pos + b <= end)
            .ok_or_else(|| err(".BTF.ext func_info is truncated"))?;
        let recs = out.entry(sec).or_default();
        for k in 0..n as usize {
            let r = pos + k * rec_size;
            let (Some(insn_off), Some(type_id)) = (word(r), word(r + 4)) else {
                return Err(err(".BTF.ext func_info is truncated"));
            };
            if btf.is_func(type_id) {
                recs.push((insn_off, type_id));
            }
        }
        pos += bytes;
    }
    Ok(out)
}

/// The CO-RE relocations of a `.BTF.ext` section: section name → records, each with the
/// instruction's byte offset in the section and its access string read from `btf`'s strings.
/// An empty map when the header has no core_relo subsection (shorter than 32 bytes).
pub(crate) fn core_relos(
    ext: &[u8],
    btf: &Btf<'_>,
) -> Result<std::collections::HashMap<String, Vec<(u32, crate::CoreRelo)>>, ElfError> {
    let mut out: std::collections::HashMap<String, Vec<(u32, crate::CoreRelo)>> =
        Default::default();
    let word = |off: usize| u32_at(ext, off);
    let hdr_len = word(4).ok_or_else(|| err(".BTF.ext header is truncated"))? as usize;
    if hdr_len < 32 {
        return Ok(out);
    }
    let (Some(off), Some(len)) = (word(24), word(28)) else {
        return Err(err(".BTF.ext header is truncated"));
    };
    if len == 0 {
        return Ok(out);
    }
    let start = hdr_len
        .checked_add(off as usize)
        .ok_or_else(|| err(".BTF.ext core_relo is outside the section"))?;
    let end = start
        .checked_add(len as usize)
        .filter(|&e| e <= ext.len())
        .ok_or_else(|| err(".BTF.ext core_relo is outside the section"))?;
    let rec_size = word(start).ok_or_else(|| err(".BTF.ext core_relo is truncated"))? as usize;
    if rec_size < 16 {
        return Err(err(format!(".BTF.ext core_relo record size {rec_size}")));
    }
    let mut pos = start + 4;
    while pos < end {
        let (Some(sec_off), Some(n)) = (word(pos), word(pos + 4)) else {
            return Err(err(".BTF.ext core_relo is truncated"));
        };
        pos += 8;
        let sec = btf.name(sec_off)?.to_string();
        let bytes = (n as usize)
            .checked_mul(rec_size)
            .filter(|&b| pos + b <= end)
            .ok_or_else(|| err(".BTF.ext core_relo is truncated"))?;
        let recs = out.entry(sec).or_default();
        for k in 0..n as usize {
            let r = pos + k * rec_size;
            let (Some(insn_off), Some(type_id), Some(access_off), Some(kind)) =
                (word(r), word(r + 4), word(r + 8), word(r + 12))
            else {
                return Err(err(".BTF.ext core_relo is truncated"));
            };
            if insn_off % 8 != 0 {
                return Err(err(format!(
                    ".BTF.ext core_relo at byte {insn_off} is not an instruction boundary"
                )));
            }
            let access = btf.name(access_off)?;
            // Real access strings are a few indices; a cap keeps hostile records that all
            // name one huge string from allocating more than a multiple of the input.
            if access.len() > MAX_ACCESS_LEN {
                return Err(err(format!(
                    ".BTF.ext core_relo access string of {} bytes",
                    access.len()
                )));
            }
            let access = access.to_string();
            recs.push((
                insn_off,
                crate::CoreRelo {
                    insn: 0,
                    type_id,
                    access,
                    kind,
                },
            ));
        }
        pos += bytes;
    }
    Ok(out)
}

/// A map to describe in `.BTF` for [`write_maps`].
#[derive(Debug, Clone)]
pub(crate) struct WriteMap<'n> {
    pub name: &'n str,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
    pub pinning: u32,
}

impl WriteMap<'_> {
    /// The attributes written: name and value.
    fn attrs(&self) -> Vec<(&'static str, u32)> {
        let mut v = vec![
            ("type", self.map_type),
            ("key_size", self.key_size),
            ("value_size", self.value_size),
            ("max_entries", self.max_entries),
        ];
        if self.flags != 0 {
            v.push(("map_flags", self.flags));
        }
        if self.pinning != 0 {
            v.push(("pinning", self.pinning));
        }
        v
    }

    /// Size of the map's variable in `.maps` (one pointer per attribute).
    pub fn def_size(&self) -> u32 {
        8 * self.attrs().len() as u32
    }
}

/// A string section being written; offset 0 is the empty string.
pub(crate) struct Strings {
    pub(crate) bytes: Vec<u8>,
}

impl Strings {
    /// The offset of `s`, added unless already there.
    pub(crate) fn add(&mut self, s: &str) -> u32 {
        let needle: Vec<u8> = s.bytes().chain([0]).collect();
        // Reuse an identical string (names repeat: key_size, value_size, …).
        if let Some(p) = self
            .bytes
            .windows(needle.len())
            .position(|w| w == needle.as_slice())
            .filter(|&p| p == 0 || self.bytes[p - 1] == 0)
        {
            return p as u32;
        }
        let off = self.bytes.len() as u32;
        self.bytes.extend_from_slice(&needle);
        off
    }
}

/// The `.BTF` section describing `maps` laid out one after another in `.maps` (offsets are
/// the running sum of [`WriteMap::def_size`]).
pub(crate) fn write_maps(maps: &[WriteMap<'_>]) -> Vec<u8> {
    let mut strings = Strings { bytes: vec![0] };
    let mut types: Vec<u8> = Vec::new();
    let mut next_id = 1u32;
    let mut push = |types: &mut Vec<u8>, words: &[u32]| -> u32 {
        for w in words {
            types.extend_from_slice(&w.to_le_bytes());
        }
        let id = next_id;
        next_id += 1;
        id
    };
    let info = |kind: u8, vlen: usize| ((kind as u32) << 24) | vlen as u32;
    // [1] int: signed 32-bit.
    let int_name = strings.add("int");
    let int = push(
        &mut types,
        &[int_name, info(KIND_INT, 0), 4, (1 << 24) | 32],
    );
    // [2] the index type of arrays.
    let idx_name = strings.add("__ARRAY_SIZE_TYPE__");
    let idx = push(&mut types, &[idx_name, info(KIND_INT, 0), 4, 32]);
    // One PTR → ARRAY per distinct number.
    let mut ptr_of: Vec<(u32, u32)> = Vec::new();
    let mut var_ids = Vec::new();
    let mut offset = 0u32;
    let mut secinfo = Vec::new();
    for m in maps {
        let mut members = Vec::new();
        for (attr, n) in m.attrs() {
            let ptr = match ptr_of.iter().find(|(k, _)| *k == n) {
                Some(&(_, p)) => p,
                None => {
                    let arr = push(&mut types, &[0, info(KIND_ARRAY, 0), 0, int, idx, n]);
                    let p = push(&mut types, &[0, info(KIND_PTR, 0), arr]);
                    ptr_of.push((n, p));
                    p
                }
            };
            members.push((strings.add(attr), ptr));
        }
        let mut words = vec![0, info(KIND_STRUCT, members.len()), m.def_size()];
        for (i, (name, ty)) in members.iter().enumerate() {
            words.extend_from_slice(&[*name, *ty, 64 * i as u32]);
        }
        let st = push(&mut types, &words);
        let name = strings.add(m.name);
        let var = push(&mut types, &[name, info(KIND_VAR, 0), st, 1]);
        var_ids.push(var);
        secinfo.extend_from_slice(&[var, offset, m.def_size()]);
        offset += m.def_size();
    }
    let sec_name = strings.add(".maps");
    let mut words = vec![sec_name, info(KIND_DATASEC, maps.len()), offset];
    words.extend_from_slice(&secinfo);
    push(&mut types, &words);

    blob(&types, &strings.bytes)
}

/// A BTF blob: the header, then `types`, then `strings` (which start with the empty string).
pub(crate) fn blob(types: &[u8], strings: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + types.len() + strings.len());
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.push(1); // version
    out.push(0); // flags
    for w in [
        HEADER_LEN,
        0,
        types.len() as u32,
        types.len() as u32,
        strings.len() as u32,
    ] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend_from_slice(types);
    out.extend_from_slice(strings);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<WriteMap<'static>> {
        vec![
            WriteMap {
                name: "socks",
                map_type: 18,
                key_size: 48,
                value_size: 8,
                max_entries: 65535,
                flags: 0,
                pinning: 0,
            },
            WriteMap {
                name: "prefixes",
                map_type: 11,
                key_size: 20,
                value_size: 4,
                max_entries: 1024,
                flags: 1,
                pinning: 1,
            },
        ]
    }

    #[test]
    fn written_maps_read_back() {
        let bytes = write_maps(&sample());
        let btf = Btf::parse(&bytes).unwrap();
        let maps = btf.maps().unwrap();
        assert_eq!(maps.len(), 2);
        assert_eq!(
            maps[0],
            BtfMap {
                name: "socks".into(),
                offset: 0,
                map_type: 18,
                key_size: 48,
                value_size: 8,
                max_entries: 65535,
                flags: 0,
                pinning: 0,
                inner: None,
                values_offset: None,
                key_type: 0,
                value_type: 0,
            }
        );
        assert_eq!(maps[1].offset, 32);
        assert_eq!(maps[1].flags, 1);
        assert_eq!(maps[1].pinning, 1);
        assert_eq!(maps[1].key_size, 20);
    }

    #[test]
    fn header_errors() {
        assert!(Btf::parse(&[]).is_err());
        let mut b = write_maps(&sample());
        b.swap(0, 1);
        assert!(matches!(Btf::parse(&b), Err(ElfError::Btf(m)) if m.contains("big-endian")));
        let mut b = write_maps(&sample());
        b[12..16].copy_from_slice(&u32::MAX.to_le_bytes()); // type_len
        assert!(Btf::parse(&b).is_err());
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let b = write_maps(&sample());
        for n in 0..b.len() {
            let _ = Btf::parse(&b[..n]).and_then(|btf| btf.maps());
        }
        // Flipping any byte never panics either.
        for i in 0..b.len() {
            for v in [0u8, 0xff, 0x80, 1] {
                let mut m = b.clone();
                m[i] = v;
                let _ = Btf::parse(&m).and_then(|btf| btf.maps());
            }
        }
    }

    /// A `.BTF.ext` with func_info and line_info empty and one core_relo section named by the
    /// string at `sec`, with the records `recs`.
    fn core_ext(sec: u32, recs: &[[u32; 4]]) -> Vec<u8> {
        let mut body = vec![16u32, sec, recs.len() as u32];
        for r in recs {
            body.extend_from_slice(r);
        }
        let mut e = vec![0x9f, 0xeb, 1, 0];
        for w in [32u32, 0, 0, 0, 0, 0, 4 * body.len() as u32] {
            e.extend_from_slice(&w.to_le_bytes());
        }
        for w in body {
            e.extend_from_slice(&w.to_le_bytes());
        }
        e
    }

    #[test]
    fn core_relo_records_are_read_per_section() {
        let bytes = write_maps(&sample());
        let btf = Btf::parse(&bytes).unwrap();
        // Strings of the written BTF: "int" names the section, ".maps" the access string
        // (any string will do for the reader).
        let int = btf.strings.windows(4).position(|w| w == b"int\0").unwrap() as u32;
        let maps = btf
            .strings
            .windows(6)
            .position(|w| w == b".maps\0")
            .unwrap() as u32;
        let ext = core_ext(int, &[[16, 3, maps, 0], [40, 4, maps, 2]]);
        let got = core_relos(&ext, &btf).unwrap();
        let recs = &got["int"];
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].0, 16);
        assert_eq!(
            recs[1].1,
            crate::CoreRelo {
                insn: 0,
                type_id: 4,
                access: ".maps".into(),
                kind: 2
            }
        );
        // Not an instruction boundary.
        let bad = core_ext(int, &[[12, 3, maps, 0]]);
        assert!(core_relos(&bad, &btf).is_err());
        // A header of 24 bytes (older clang) has no core_relo subsection; one that says 32
        // and is cut short is an error.
        let mut short = ext[..24].to_vec();
        short[4..8].copy_from_slice(&24u32.to_le_bytes());
        assert!(core_relos(&short, &btf).unwrap().is_empty());
        assert!(core_relos(&ext[..24], &btf).is_err());
        // Every truncation and every flipped byte: an error or a result, never a panic.
        for n in 0..ext.len() {
            let _ = core_relos(&ext[..n], &btf);
        }
        for i in 0..ext.len() {
            for v in [0u8, 0xff, 0x80, 7] {
                let mut m = ext.clone();
                m[i] = v;
                let _ = core_relos(&m, &btf);
            }
        }
    }

    #[test]
    fn an_overlong_access_string_is_an_error() {
        // No types; strings: "", "s", and 300 bytes of "0".
        let mut strings = b"\0s\0".to_vec();
        strings.extend(std::iter::repeat_n(b'0', 300));
        strings.push(0);
        let mut b = vec![0x9f, 0xeb, 1, 0];
        for w in [24u32, 0, 0, 0, strings.len() as u32] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&strings);
        let btf = Btf::parse(&b).unwrap();
        let ext = core_ext(1, &[[0, 1, 3, 0]]);
        assert!(matches!(core_relos(&ext, &btf), Err(ElfError::Btf(m)) if m.contains("300 bytes")));
        let ok = core_ext(1, &[[0, 1, 3 + 44, 0]]); // the last 256 bytes
        assert_eq!(core_relos(&ok, &btf).unwrap()["s"][0].1.access.len(), 256);
    }

    #[test]
    fn a_type_loop_is_an_error() {
        // [1] typedef → [2] typedef → [1]
        let mut types = Vec::new();
        for w in [0u32, 8 << 24, 2, 0, 8 << 24, 1] {
            types.extend_from_slice(&w.to_le_bytes());
        }
        let mut b = vec![0x9f, 0xeb, 1, 0];
        for w in [24u32, 0, types.len() as u32, types.len() as u32, 1] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&types);
        b.push(0);
        let btf = Btf::parse(&b).unwrap();
        assert!(btf.skip_mods(1).is_err());
        assert!(btf.size_of(1, 0).is_err());
    }
}
