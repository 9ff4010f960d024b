//! CO-RE ("compile once, run everywhere") relocations of ELF objects, resolved against the
//! running kernel's BTF (or any [`Target`]) and applied to the instructions.
//!
//! `bpfobj` reads the `struct bpf_core_relo` records of `.BTF.ext` and places them in each
//! program ([`bpfobj::CoreRelo`]: slot, local root type id, access string, kind). Here the
//! object's own BTF is parsed with the same model as the kernel's ([`KernelBtf`]), and each
//! record is resolved:
//!
//! 1. the local root type's *essential name* (its name without a `___flavor` suffix) names the
//!    candidates: target types of the same kind (struct, union, enum/enum64, typedef, int, …)
//!    and essential name, in vmlinux first and, when vmlinux has none, in each module's BTF;
//! 2. for field relocations, the access string (`"0:1:2"`: an array index on the root, then
//!    member indices, then array indices) is walked through the local type, and the same path
//!    *by member name* through each candidate (anonymous structs and unions are looked
//!    through; member types must be compatible: composites with composites, ints with ints
//!    of any size, enums with enums, pointers with pointers, arrays by element);
//! 3. every candidate that matches gives a value; different values are an error
//!    ([`CoreError::Relocation`], "ambiguous"); no match gives 0 for the existence kinds and
//!    *poisons* the instruction for the others, as libbpf does: it becomes `call 0xbad2310`
//!    (an lddw both of its slots), which the verifier refuses only if the code is reachable.
//!
//! Patching checks that the instruction holds the value the local BTF gives (what clang
//! wrote) and then replaces it: the `imm` of an ALU/ALU64 instruction with an immediate
//! operand, the `off` of LDX/ST/STX (field byte offsets), the 64-bit immediate of an lddw. A
//! load whose field changed size is widened or narrowed when the field is an unsigned
//! integer of 1, 2, 4 or 8 bytes; stores of a field that changed size are refused.
//!
//! Supported kinds: field byte offset, byte size, existence, signedness, lshift/rshift
//! (bitfields included), type id local/target, type existence and size, enum value existence
//! and value. `bpf_core_type_matches` (kind 12) is refused with an error.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::Arc;

use asm::Insn;
use bpfobj::{CoreRelo, ObjectProgram};
use uapi::btf::{
    BPF_CORE_ENUMVAL_EXISTS, BPF_CORE_ENUMVAL_VALUE, BPF_CORE_FIELD_BYTE_OFFSET,
    BPF_CORE_FIELD_BYTE_SIZE, BPF_CORE_FIELD_EXISTS, BPF_CORE_FIELD_LSHIFT_U64,
    BPF_CORE_FIELD_RSHIFT_U64, BPF_CORE_FIELD_SIGNED, BPF_CORE_TYPE_EXISTS, BPF_CORE_TYPE_ID_LOCAL,
    BPF_CORE_TYPE_ID_TARGET, BPF_CORE_TYPE_MATCHES, BPF_CORE_TYPE_SIZE, BTF_KIND_ARRAY as ARRAY,
    BTF_KIND_CONST, BTF_KIND_ENUM as ENUM, BTF_KIND_ENUM64 as ENUM64, BTF_KIND_FLOAT as FLOAT,
    BTF_KIND_FWD as FWD, BTF_KIND_INT as INT, BTF_KIND_PTR as PTR, BTF_KIND_RESTRICT,
    BTF_KIND_STRUCT as STRUCT, BTF_KIND_TYPEDEF as TYPEDEF, BTF_KIND_TYPE_TAG,
    BTF_KIND_UNION as UNION, BTF_KIND_VOLATILE,
};

use crate::btf::{BtfError, KernelBtf, Type};

/// The helper id a poisoned instruction calls (`call 0xbad2310`, as libbpf writes it): the
/// verifier names it ("invalid func unknown#195896080") when the instruction is reachable.
pub const POISON_HELPER: i32 = 0xbad2310;

/// How deep type chains and nested types are followed.
const MAX_DEPTH: usize = 32;

/// Why CO-RE relocations could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The program has CO-RE relocations, but the object has no (usable) BTF.
    #[error("CO-RE relocations need the object's BTF, and it has none")]
    NoLocalBtf,
    /// The object's BTF, or the kernel's, cannot be read.
    #[error("CO-RE: {0}")]
    Btf(BtfError),
    /// One relocation cannot be resolved or applied.
    #[error("CO-RE relocation ({kind}) of {spec} at instruction {insn}: {reason}")]
    Relocation {
        /// The instruction slot in the program.
        insn: usize,
        /// The relocation kind, in words ("field byte offset", …).
        kind: &'static str,
        /// What it is about: `sk_buff.len`, `struct task_struct`, `enum x::X_A`.
        spec: String,
        /// What is wrong.
        reason: String,
    },
}

/// A relocation kind in words.
pub fn kind_name(kind: u32) -> &'static str {
    match kind {
        BPF_CORE_FIELD_BYTE_OFFSET => "field byte offset",
        BPF_CORE_FIELD_BYTE_SIZE => "field byte size",
        BPF_CORE_FIELD_EXISTS => "field exists",
        BPF_CORE_FIELD_SIGNED => "field signed",
        BPF_CORE_FIELD_LSHIFT_U64 => "field lshift",
        BPF_CORE_FIELD_RSHIFT_U64 => "field rshift",
        BPF_CORE_TYPE_ID_LOCAL => "local type id",
        BPF_CORE_TYPE_ID_TARGET => "target type id",
        BPF_CORE_TYPE_EXISTS => "type exists",
        BPF_CORE_TYPE_SIZE => "type size",
        BPF_CORE_ENUMVAL_EXISTS => "enum value exists",
        BPF_CORE_ENUMVAL_VALUE => "enum value",
        BPF_CORE_TYPE_MATCHES => "type matches",
        _ => "unknown kind",
    }
}

/// The BTF relocations are resolved against: vmlinux and, for types vmlinux lacks, modules.
pub struct Target {
    vmlinux: Arc<KernelBtf>,
    /// Module BTFs given explicitly.
    modules: Vec<(String, KernelBtf)>,
    /// Whether to read the running kernel's module BTFs (lazily, the first time a type is
    /// not in vmlinux).
    sys_modules: bool,
    loaded: OnceCell<Vec<(String, KernelBtf)>>,
    /// vmlinux's types by essential name.
    index: OnceCell<HashMap<String, Vec<u32>>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("types", &self.vmlinux.type_count())
            .field("modules", &self.modules.len())
            .field("sys_modules", &self.sys_modules)
            .finish()
    }
}

impl Target {
    /// The running kernel: [`crate::btf::vmlinux`], and the modules of `/sys/kernel/btf`.
    pub fn running_kernel() -> Result<Target, BtfError> {
        let mut t = Target::from_btf(crate::btf::vmlinux()?);
        t.sys_modules = true;
        Ok(t)
    }

    /// A target of `btf` alone (tests, another kernel's BTF).
    pub fn from_btf(btf: Arc<KernelBtf>) -> Target {
        Target {
            vmlinux: btf,
            modules: Vec::new(),
            sys_modules: false,
            loaded: OnceCell::new(),
            index: OnceCell::new(),
        }
    }

    /// Adds a module's split BTF, searched when vmlinux has no candidate.
    pub fn with_module(mut self, name: &str, btf: KernelBtf) -> Target {
        self.modules.push((name.to_string(), btf));
        self
    }

    fn index(&self) -> &HashMap<String, Vec<u32>> {
        self.index.get_or_init(|| {
            let mut m: HashMap<String, Vec<u32>> = HashMap::new();
            for (id, t) in self.vmlinux.all() {
                if t.name != 0 {
                    let n = essential(self.vmlinux.name(t.name));
                    m.entry(n.to_string()).or_default().push(id);
                }
            }
            m
        })
    }

    fn sys(&self) -> &[(String, KernelBtf)] {
        self.loaded.get_or_init(|| {
            if !self.sys_modules {
                return Vec::new();
            }
            crate::btf::modules()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|m| Some((m.clone(), crate::btf::module(&m).ok()?)))
                .collect()
        })
    }

    /// Candidates of `kind` (compatible kinds) named `name` (essential): vmlinux's, or the
    /// first module's that has some.
    fn candidates(&self, kind: u32, name: &str) -> Vec<(&KernelBtf, u32)> {
        let ok = |k: u32| kinds_match(kind, k);
        let v: Vec<(&KernelBtf, u32)> = self
            .index()
            .get(name)
            .into_iter()
            .flatten()
            .filter(|&&id| self.vmlinux.ty(id).is_some_and(|t| ok(t.kind)))
            .map(|&id| (&*self.vmlinux, id))
            .collect();
        if !v.is_empty() {
            return v;
        }
        for (_, m) in self.modules.iter().chain(self.sys()) {
            let v: Vec<(&KernelBtf, u32)> = (m.first_own_id()..=m.type_count() as u32)
                .filter(|&id| {
                    m.ty(id).is_some_and(|t| {
                        t.name != 0 && ok(t.kind) && essential(m.name(t.name)) == name
                    })
                })
                .map(|id| (m, id))
                .collect();
            if !v.is_empty() {
                return v;
            }
        }
        Vec::new()
    }
}

/// A name without its `___flavor` suffix.
pub fn essential(name: &str) -> &str {
    match name.find("___") {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    }
}

fn kinds_match(local: u32, target: u32) -> bool {
    local == target || (matches!(local, ENUM | ENUM64) && matches!(target, ENUM | ENUM64))
}

fn is_mod(kind: u32) -> bool {
    matches!(
        kind,
        TYPEDEF | BTF_KIND_VOLATILE | BTF_KIND_CONST | BTF_KIND_RESTRICT | BTF_KIND_TYPE_TAG
    )
}

/// Follows modifiers and typedefs: the id and type reached.
fn skip(btf: &KernelBtf, mut id: u32) -> Option<(u32, &Type)> {
    for _ in 0..MAX_DEPTH {
        let t = btf.ty(id)?;
        if id == 0 || !is_mod(t.kind) {
            return Some((id, t));
        }
        id = t.size_or_type;
    }
    None
}

/// The size of a type in bytes (arrays included).
fn size_of(btf: &KernelBtf, id: u32, depth: usize) -> Option<u64> {
    if depth > MAX_DEPTH {
        return None;
    }
    let (_, t) = skip(btf, id)?;
    match t.kind {
        INT | STRUCT | UNION | ENUM | ENUM64 | FLOAT => Some(t.size_or_type as u64),
        PTR => Some(8),
        ARRAY => size_of(btf, t.extra, depth + 1)?.checked_mul(t.nelems as u64),
        _ => None,
    }
}

/// Whether a local field type and a target field type are compatible.
fn compatible(l: &KernelBtf, lid: u32, t: &KernelBtf, tid: u32, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    let (Some((_, lt)), Some((_, tt))) = (skip(l, lid), skip(t, tid)) else {
        return false;
    };
    let composite = |k| matches!(k, STRUCT | UNION | FWD);
    match (lt.kind, tt.kind) {
        (a, b) if composite(a) && composite(b) => true,
        (ENUM | ENUM64, ENUM | ENUM64) => true,
        (INT, INT) => true,
        (PTR, PTR) | (FLOAT, FLOAT) => true,
        (ARRAY, ARRAY) => compatible(l, lt.extra, t, tt.extra, depth + 1),
        (0, 0) => true,
        _ => false,
    }
}

/// A step of an access path, as matched in the target: a named member or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Member(String),
    Index(u32),
}

/// Where a field is: bit offset from the root, bitfield size (0: not a bitfield), type id.
#[derive(Debug, Clone, Copy)]
struct Loc {
    bit_off: u64,
    bits: u32,
    type_id: u32,
}

/// The local side of a field relocation: the steps, the location and a description.
struct LocalField {
    first: u32,
    steps: Vec<Step>,
    loc: Loc,
    spec: String,
}

fn parse_access(access: &str) -> Option<Vec<u32>> {
    let v: Option<Vec<u32>> = access.split(':').map(|s| s.parse().ok()).collect();
    v.filter(|v| !v.is_empty() && v.len() <= 64)
}

/// Walks the access string through the local type.
fn local_field(btf: &KernelBtf, root: u32, access: &[u32]) -> Result<LocalField, String> {
    let root_name = btf
        .ty(root)
        .map(|t| btf.name(t.name).to_string())
        .unwrap_or_default();
    let mut spec = if root_name.is_empty() {
        format!("<anonymous type {root}>")
    } else {
        root_name
    };
    let (mut id, mut cur) = skip(btf, root).ok_or("bad local type")?;
    let first = access[0];
    if first != 0 {
        spec.push_str(&format!("[{first}]"));
    }
    let root_size = size_of(btf, id, 0).ok_or("local root type has no size")?;
    let mut bit_off = (first as u64)
        .checked_mul(root_size * 8)
        .ok_or("offset overflows")?;
    let mut bits = 0;
    let mut steps = Vec::new();
    for &i in &access[1..] {
        match cur.kind {
            STRUCT | UNION => {
                let &(name, mtype, moff, mbits) = cur
                    .members
                    .get(i as usize)
                    .ok_or_else(|| format!("member index {i} out of range"))?;
                let n = btf.name(name);
                if !n.is_empty() {
                    steps.push(Step::Member(n.to_string()));
                    spec.push('.');
                    spec.push_str(n);
                }
                bit_off += moff as u64;
                bits = mbits;
                id = mtype;
            }
            ARRAY => {
                let esize = size_of(btf, cur.extra, 0).ok_or("array element has no size")?;
                steps.push(Step::Index(i));
                spec.push_str(&format!("[{i}]"));
                bit_off += i as u64 * esize * 8;
                bits = 0;
                id = cur.extra;
            }
            k => return Err(format!("access into a type of kind {k}")),
        }
        (_, cur) = skip(btf, id).ok_or("bad local type")?;
    }
    Ok(LocalField {
        first,
        steps,
        loc: Loc {
            bit_off,
            bits,
            type_id: id,
        },
        spec,
    })
}

/// The same path, by name, through a target candidate: `None` when it does not match.
fn target_field(btf: &KernelBtf, root: u32, local: &LocalField, l: &KernelBtf) -> Option<Loc> {
    let (mut id, mut cur) = skip(btf, root)?;
    let mut bit_off = (local.first as u64).checked_mul(size_of(btf, id, 0)? * 8)?;
    let mut bits = 0;
    for step in &local.steps {
        match step {
            Step::Member(name) => {
                if !matches!(cur.kind, STRUCT | UNION) {
                    return None;
                }
                let (o, b, t) = btf.member(cur, name, 0)?;
                bit_off += o as u64;
                bits = b;
                id = t;
            }
            Step::Index(i) => {
                if cur.kind != ARRAY || (cur.nelems != 0 && *i >= cur.nelems) {
                    return None;
                }
                bit_off += *i as u64 * size_of(btf, cur.extra, 0)? * 8;
                bits = 0;
                id = cur.extra;
            }
        }
        (_, cur) = skip(btf, id)?;
    }
    if !local.steps.is_empty() && !compatible(l, local.loc.type_id, btf, id, 0) {
        return None;
    }
    Some(Loc {
        bit_off,
        bits,
        type_id: id,
    })
}

/// A field relocation's value at `loc`.
fn field_value(btf: &KernelBtf, loc: Loc, kind: u32) -> Result<u64, String> {
    let size = size_of(btf, loc.type_id, 0).ok_or("the field has no size")?;
    let (byte_off, byte_sz, bit_sz) = if loc.bits == 0 {
        if loc.bit_off % 8 != 0 {
            return Err("field is not byte-aligned".into());
        }
        (loc.bit_off / 8, size, size * 8)
    } else {
        let mut sz = size.max(1);
        let mut off = loc.bit_off / 8 / sz * sz;
        while loc.bit_off + loc.bits as u64 - off * 8 > sz * 8 {
            if sz >= 8 {
                return Err("bitfield spans more than 8 bytes".into());
            }
            sz *= 2;
            off = loc.bit_off / 8 / sz * sz;
        }
        (off, sz, loc.bits as u64)
    };
    Ok(match kind {
        BPF_CORE_FIELD_BYTE_OFFSET => byte_off,
        BPF_CORE_FIELD_BYTE_SIZE => byte_sz,
        BPF_CORE_FIELD_EXISTS => 1,
        BPF_CORE_FIELD_SIGNED => {
            let (_, t) = skip(btf, loc.type_id).ok_or("bad field type")?;
            match t.kind {
                INT => ((t.extra >> 24) & 1) as u64,
                ENUM | ENUM64 => (t.extra & 1) as u64,
                _ => 0,
            }
        }
        BPF_CORE_FIELD_LSHIFT_U64 => {
            if byte_sz > 8 {
                return Err("field larger than 8 bytes".into());
            }
            64 - (loc.bit_off + bit_sz - byte_off * 8)
        }
        BPF_CORE_FIELD_RSHIFT_U64 => {
            if byte_sz > 8 {
                return Err("field larger than 8 bytes".into());
            }
            64 - bit_sz
        }
        _ => return Err("not a field relocation".into()),
    })
}

/// A resolved relocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// What it is about (`sk_buff.len`, `struct task_struct`, `enum e::E_A`).
    pub spec: String,
    /// The value the local BTF gives (what clang wrote into the instruction).
    pub local: u64,
    /// The value for the target; `None` when no candidate matched and the instruction is to
    /// be poisoned.
    pub target: Option<u64>,
    /// For field offsets: the field's size locally and in the target (for loads).
    pub sizes: Option<(u64, u64)>,
    /// For field offsets: whether the local field is a signed integer.
    pub signed: bool,
}

/// Resolves one relocation of an object whose BTF is `local` against `target`.
pub fn resolve(local: &KernelBtf, relo: &CoreRelo, target: &Target) -> Result<Resolved, CoreError> {
    let kind = relo.kind;
    let fail = |spec: &str, reason: String| CoreError::Relocation {
        insn: relo.insn,
        kind: kind_name(kind),
        spec: spec.to_string(),
        reason,
    };
    let root = local
        .ty(relo.type_id)
        .filter(|_| relo.type_id != 0)
        .ok_or_else(|| {
            fail(
                "?",
                format!("local type id {} does not exist", relo.type_id),
            )
        })?;
    let name = local.name(root.name);
    let ename = essential(name);
    if kind == BPF_CORE_TYPE_ID_LOCAL {
        return Ok(Resolved {
            spec: format!("type {name}"),
            local: relo.type_id as u64,
            target: Some(relo.type_id as u64),
            sizes: None,
            signed: false,
        });
    }
    if ename.is_empty() {
        return Err(fail(
            &format!("<anonymous type {}>", relo.type_id),
            "the root type has no name to look up in the target".into(),
        ));
    }
    let access = parse_access(&relo.access)
        .ok_or_else(|| fail(name, format!("access string {:?}", relo.access)))?;
    let cands = target.candidates(root.kind, ename);
    // Each candidate's value; all must agree.
    let agree = |spec: &str, vals: Vec<(u32, u64)>| -> Result<Option<u64>, CoreError> {
        match vals.first() {
            None => Ok(None),
            Some(&(id0, v)) => match vals.iter().find(|x| x.1 != v) {
                Some(&(id1, w)) => Err(fail(
                    spec,
                    format!("ambiguous: target types {id0} and {id1} give {v} and {w}"),
                )),
                None => Ok(Some(v)),
            },
        }
    };
    match kind {
        BPF_CORE_FIELD_BYTE_OFFSET..=BPF_CORE_FIELD_RSHIFT_U64 => {
            let lf = local_field(local, relo.type_id, &access).map_err(|r| fail(name, r))?;
            let lval = field_value(local, lf.loc, kind).map_err(|r| fail(&lf.spec, r))?;
            let lsize = size_of(local, lf.loc.type_id, 0).unwrap_or(0);
            let signed = skip(local, lf.loc.type_id)
                .is_some_and(|(_, t)| t.kind == INT && (t.extra >> 24) & 1 == 1);
            let mut vals = Vec::new();
            let mut tsize = None;
            for (btf, id) in cands {
                if let Some(loc) = target_field(btf, id, &lf, local) {
                    let v = field_value(btf, loc, kind).map_err(|r| fail(&lf.spec, r))?;
                    vals.push((id, v));
                    tsize = size_of(btf, loc.type_id, 0);
                }
            }
            let mut found = agree(&lf.spec, vals)?;
            if found.is_none() && kind == BPF_CORE_FIELD_EXISTS {
                found = Some(0);
            }
            Ok(Resolved {
                spec: lf.spec,
                local: lval,
                target: found,
                sizes: tsize.map(|t| (lsize, t)),
                signed,
            })
        }
        BPF_CORE_TYPE_ID_TARGET | BPF_CORE_TYPE_EXISTS | BPF_CORE_TYPE_SIZE => {
            let spec = format!("type {name}");
            let lval = match kind {
                BPF_CORE_TYPE_ID_TARGET => relo.type_id as u64,
                BPF_CORE_TYPE_EXISTS => 1,
                _ => {
                    size_of(local, relo.type_id, 0).ok_or_else(|| fail(&spec, "no size".into()))?
                }
            };
            let mut vals = Vec::new();
            for (btf, id) in cands {
                if !compatible(local, relo.type_id, btf, id, 0) {
                    continue;
                }
                let v = match kind {
                    BPF_CORE_TYPE_ID_TARGET => id as u64,
                    BPF_CORE_TYPE_EXISTS => 1,
                    _ => size_of(btf, id, 0).ok_or_else(|| fail(&spec, "no size".into()))?,
                };
                vals.push((id, v));
            }
            let mut found = agree(&spec, vals)?;
            if found.is_none() && kind == BPF_CORE_TYPE_EXISTS {
                found = Some(0);
            }
            Ok(Resolved {
                spec,
                local: lval,
                target: found,
                sizes: None,
                signed: false,
            })
        }
        BPF_CORE_ENUMVAL_EXISTS | BPF_CORE_ENUMVAL_VALUE => {
            let (_, et) = skip(local, relo.type_id)
                .filter(|(_, t)| matches!(t.kind, ENUM | ENUM64))
                .ok_or_else(|| fail(name, "not an enum".into()))?;
            let &(vname, lv) = et
                .values
                .get(access[0] as usize)
                .filter(|_| access.len() == 1)
                .ok_or_else(|| fail(name, format!("enumerator {:?} out of range", relo.access)))?;
            let vname = essential(local.name(vname));
            let spec = format!("enum {name}::{vname}");
            let mut vals = Vec::new();
            for (btf, id) in cands {
                let Some((_, t)) = skip(btf, id) else {
                    continue;
                };
                if let Some(&(_, v)) = t
                    .values
                    .iter()
                    .find(|(n, _)| essential(btf.name(*n)) == vname)
                {
                    vals.push((
                        id,
                        if kind == BPF_CORE_ENUMVAL_EXISTS {
                            1
                        } else {
                            v as u64
                        },
                    ));
                }
            }
            let mut found = agree(&spec, vals)?;
            if found.is_none() && kind == BPF_CORE_ENUMVAL_EXISTS {
                found = Some(0);
            }
            Ok(Resolved {
                spec,
                local: if kind == BPF_CORE_ENUMVAL_EXISTS {
                    1
                } else {
                    lv as u64
                },
                target: found,
                sizes: None,
                signed: false,
            })
        }
        BPF_CORE_TYPE_MATCHES => Err(fail(
            &format!("type {name}"),
            "type match relocations (bpf_core_type_matches) are not supported".into(),
        )),
        k => Err(fail(name, format!("unknown relocation kind {k}"))),
    }
}

/// A relocation that found no match in the target: its instruction was poisoned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poisoned {
    /// The instruction slot.
    pub insn: usize,
    /// The relocation kind in words.
    pub kind: &'static str,
    /// What it is about (`task_struct.no_such_field`).
    pub spec: String,
}

/// A program with its CO-RE relocations applied.
#[derive(Debug, Clone)]
pub struct Relocated {
    /// The patched program.
    pub program: asm::Program,
    /// The relocations whose instructions call [`POISON_HELPER`] now.
    pub poisoned: Vec<Poisoned>,
    /// Every relocation: (slot, resolution), in slot order.
    pub resolved: Vec<(usize, Resolved)>,
}

const CLASS_LD: u8 = 0x00;
const CLASS_LDX: u8 = 0x01;
const CLASS_ST: u8 = 0x02;
const CLASS_STX: u8 = 0x03;
const CLASS_ALU: u8 = 0x04;
const CLASS_ALU64: u8 = 0x07;
const LDDW: u8 = 0x18;

fn poison(insn: &mut Insn) {
    *insn = Insn::new(0x85, 0, 0, 0, POISON_HELPER);
}

fn size_code(bytes: u64) -> Option<u8> {
    Some(match bytes {
        4 => 0x00,
        2 => 0x08,
        1 => 0x10,
        8 => 0x18,
        _ => return None,
    })
}

/// Patches the instruction at `at` with `r`.
fn patch(insns: &mut [Insn], at: usize, kind: u32, r: &Resolved) -> Result<(), String> {
    let insn = *insns.get(at).ok_or("no instruction there")?;
    let Some(new) = r.target else {
        if insn.code == LDDW {
            if let Some(next) = insns.get_mut(at + 1) {
                poison(next);
            }
        }
        poison(&mut insns[at]);
        return Ok(());
    };
    let class = insn.code & 0x07;
    match class {
        CLASS_ALU | CLASS_ALU64 => {
            if insn.code & 0x08 != 0 {
                return Err("ALU instruction with a register operand".into());
            }
            if insn.imm as i64 as u64 != r.local && insn.imm as u32 as u64 != r.local {
                return Err(format!(
                    "instruction has {}, the local BTF gives {}",
                    insn.imm, r.local
                ));
            }
            let imm = i32::try_from(new as i64)
                .or_else(|_| u32::try_from(new).map(|v| v as i32))
                .map_err(|_| format!("value {new} does not fit an immediate"))?;
            insns[at].imm = imm;
        }
        CLASS_LDX | CLASS_ST | CLASS_STX => {
            if kind != BPF_CORE_FIELD_BYTE_OFFSET {
                return Err("a memory access can only take a field byte offset".into());
            }
            if insn.off as i64 as u64 != r.local {
                return Err(format!(
                    "instruction has offset {}, the local BTF gives {}",
                    insn.off, r.local
                ));
            }
            let off = i16::try_from(new).map_err(|_| format!("offset {new} is too large"))?;
            insns[at].off = off;
            if let Some((lsz, tsz)) = r.sizes.filter(|(l, t)| l != t) {
                let mode = insn.code & 0xe0;
                let cur = insn.code & 0x18;
                let mem = 0x60;
                if class != CLASS_LDX || mode != mem || size_code(lsz) != Some(cur) || r.signed {
                    return Err(format!(
                        "the field is {tsz} bytes in the target and {lsz} locally"
                    ));
                }
                let code = size_code(tsz)
                    .ok_or_else(|| format!("target field of {tsz} bytes cannot be loaded"))?;
                insns[at].code = (insn.code & !0x18) | code;
            }
        }
        CLASS_LD if insn.code == LDDW => {
            let next = *insns.get(at + 1).ok_or("lddw without its second slot")?;
            let old = (insn.imm as u32 as u64) | ((next.imm as u32 as u64) << 32);
            if old != r.local {
                return Err(format!(
                    "instruction has {old}, the local BTF gives {}",
                    r.local
                ));
            }
            insns[at].imm = new as u32 as i32;
            insns[at + 1].imm = (new >> 32) as u32 as i32;
        }
        _ => return Err(format!("cannot patch instruction code {:#04x}", insn.code)),
    }
    Ok(())
}

/// Applies the CO-RE relocations of `p` (whose object's BTF is `local`) against `target`.
pub fn relocate_program(
    p: &ObjectProgram,
    local: &KernelBtf,
    target: &Target,
) -> Result<Relocated, CoreError> {
    let mut program = p.program.clone();
    let mut poisoned = Vec::new();
    let mut resolved = Vec::new();
    for relo in &p.core_relos {
        let r = resolve(local, relo, target)?;
        patch(program.insns_mut(), relo.insn, relo.kind, &r).map_err(|reason| {
            CoreError::Relocation {
                insn: relo.insn,
                kind: kind_name(relo.kind),
                spec: r.spec.clone(),
                reason,
            }
        })?;
        if r.target.is_none() {
            poisoned.push(Poisoned {
                insn: relo.insn,
                kind: kind_name(relo.kind),
                spec: r.spec.clone(),
            });
        }
        resolved.push((relo.insn, r));
    }
    Ok(Relocated {
        program,
        poisoned,
        resolved,
    })
}

/// Parses an object's BTF (the `Object::btf` bytes) for [`relocate_program`].
pub fn local_btf(object_btf: Option<&[u8]>) -> Result<KernelBtf, CoreError> {
    KernelBtf::parse(object_btf.ok_or(CoreError::NoLocalBtf)?).map_err(CoreError::Btf)
}
