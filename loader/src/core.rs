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
//! wrote; not for bitfields, whose container clang may choose differently, as libbpf also
//! allows) and then replaces it: the `imm` of an ALU/ALU64 instruction with an immediate
//! operand, the `off` of LDX/ST/STX (field byte offsets), the 64-bit immediate of an lddw. A
//! load or store of a field that changed size takes the new size (1, 2, 4 or 8 bytes) when
//! both fields are unsigned integers or both pointers, and is poisoned otherwise (libbpf's
//! rule: other values would be read wrong).
//!
//! Supported: every kind of `enum bpf_core_relo_kind` — field byte offset, byte size,
//! existence, signedness, lshift/rshift (bitfields included), type id local/target, type
//! existence, size and match (`bpf_core_type_matches`, see `types_match`), enum value
//! existence and value.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use asm::Insn;
use bpfobj::{CoreRelo, ObjectProgram};
use uapi::btf::{
    BPF_CORE_ENUMVAL_EXISTS, BPF_CORE_ENUMVAL_VALUE, BPF_CORE_FIELD_BYTE_OFFSET,
    BPF_CORE_FIELD_BYTE_SIZE, BPF_CORE_FIELD_EXISTS, BPF_CORE_FIELD_LSHIFT_U64,
    BPF_CORE_FIELD_RSHIFT_U64, BPF_CORE_FIELD_SIGNED, BPF_CORE_TYPE_EXISTS, BPF_CORE_TYPE_ID_LOCAL,
    BPF_CORE_TYPE_ID_TARGET, BPF_CORE_TYPE_MATCHES, BPF_CORE_TYPE_SIZE, BTF_KIND_ARRAY as ARRAY,
    BTF_KIND_CONST, BTF_KIND_ENUM as ENUM, BTF_KIND_ENUM64 as ENUM64, BTF_KIND_FLOAT as FLOAT,
    BTF_KIND_FUNC_PROTO as FUNC_PROTO, BTF_KIND_FWD as FWD, BTF_KIND_INT as INT,
    BTF_KIND_PTR as PTR, BTF_KIND_RESTRICT, BTF_KIND_STRUCT as STRUCT, BTF_KIND_TYPEDEF as TYPEDEF,
    BTF_KIND_TYPE_TAG, BTF_KIND_UNION as UNION, BTF_KIND_VOLATILE,
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
    loaded: OnceLock<Vec<(String, KernelBtf)>>,
    /// vmlinux's types by essential name.
    index: OnceLock<Arc<NameIndex>>,
}

/// Type ids by essential name.
type NameIndex = HashMap<String, Vec<u32>>;

fn name_index(btf: &KernelBtf) -> NameIndex {
    let mut m: NameIndex = HashMap::new();
    for (id, t) in btf.all() {
        if t.name != 0 {
            let n = essential(btf.name(t.name));
            m.entry(n.to_string()).or_default().push(id);
        }
    }
    m
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
    /// The running kernel: [`crate::btf::vmlinux`], and the modules of `/sys/kernel/btf`
    /// (read when first needed by this target, so a module loaded since is seen by the next
    /// target). vmlinux's name index is built once per process, like `vmlinux()` itself.
    pub fn running_kernel() -> Result<Target, BtfError> {
        static INDEX: OnceLock<Arc<NameIndex>> = OnceLock::new();
        let vmlinux = crate::btf::vmlinux()?;
        let index = INDEX.get_or_init(|| Arc::new(name_index(&vmlinux))).clone();
        let mut t = Target::from_btf(vmlinux);
        t.sys_modules = true;
        let _ = t.index.set(index);
        Ok(t)
    }

    /// A target of `btf` alone (tests, another kernel's BTF).
    pub fn from_btf(btf: Arc<KernelBtf>) -> Target {
        Target {
            vmlinux: btf,
            modules: Vec::new(),
            sys_modules: false,
            loaded: OnceLock::new(),
            index: OnceLock::new(),
        }
    }

    /// Adds a module's split BTF, searched when vmlinux has no candidate.
    pub fn with_module(mut self, name: &str, btf: KernelBtf) -> Target {
        self.modules.push((name.to_string(), btf));
        self
    }

    fn index(&self) -> &NameIndex {
        self.index
            .get_or_init(|| Arc::new(name_index(&self.vmlinux)))
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

    /// Candidates of `kind` (compatible kinds) named `name` (essential): vmlinux's, or when
    /// it has none, the modules'.
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
        // Only when vmlinux has none: every module's own types (libbpf does the same).
        let mut v = Vec::new();
        for (_, m) in self.modules.iter().chain(self.sys()) {
            v.extend(
                (m.first_own_id()..=m.type_count() as u32)
                    .filter(|&id| {
                        m.ty(id).is_some_and(|t| {
                            t.name != 0 && ok(t.kind) && essential(m.name(t.name)) == name
                        })
                    })
                    .map(|id| (m, id)),
            );
        }
        v
    }
}

/// A name without its `___flavor` suffix: cut at the last `___` that has something other
/// than `_` on both sides (`task_struct___v1` → `task_struct`, `a___b___c` → `a___b`,
/// `__sk_buff___x` → `__sk_buff`, `___x` and `a____` unchanged).
pub fn essential(name: &str) -> &str {
    let b = name.as_bytes();
    (1..b.len().saturating_sub(3))
        .rev()
        .find(|&i| b[i - 1] != b'_' && &b[i..i + 3] == b"___" && b[i + 3] != b'_')
        .map_or(name, |i| &name[..i])
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

/// Takes one step from a walk's budget: false when it is spent (hostile BTF whose types
/// share members could otherwise make a walk exponential).
fn spend(budget: &Cell<u32>) -> bool {
    let left = budget.get();
    budget.set(left.saturating_sub(1));
    left > 0
}

/// How many steps one type match may take.
const MATCH_BUDGET: u32 = 1 << 20;

/// The named members of a struct or union, looking through anonymous members:
/// (name, type id).
fn named_members<'b>(
    btf: &'b KernelBtf,
    t: &'b Type,
    depth: usize,
    out: &mut Vec<(&'b str, u32)>,
    budget: &Cell<u32>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for &(n, ty, _, _) in &t.members {
        if !spend(budget) {
            return;
        }
        let name = btf.name(n);
        if !name.is_empty() {
            out.push((name, ty));
        } else if let Some((_, inner)) = skip(btf, ty) {
            if matches!(inner.kind, STRUCT | UNION) {
                named_members(btf, inner, depth + 1, out, budget);
            }
        }
    }
}

/// `bpf_core_type_matches`: after modifiers and typedefs, the same kind (enum and enum64
/// mix; behind a pointer a struct or union also matches a forward declaration) and the same
/// essential name for structs, unions, enums and forward declarations; then ints and floats
/// of the same size (and signedness), pointers and arrays (of as many elements) whose
/// targets match, structs and unions whose every named local member exists in the target
/// with a matching type (only names and kinds are compared behind a pointer), enums of the
/// same size whose every local enumerator name exists in the target, function prototypes
/// with as many parameters and matching parameter and return types.
fn types_match(
    l: &KernelBtf,
    lid: u32,
    t: &KernelBtf,
    tid: u32,
    behind_ptr: bool,
    depth: usize,
    budget: &Cell<u32>,
) -> bool {
    if depth > MAX_DEPTH || !spend(budget) {
        return false;
    }
    let (Some((_, lt)), Some((_, tt))) = (skip(l, lid), skip(t, tid)) else {
        return false;
    };
    let named = |k| matches!(k, STRUCT | UNION | ENUM | ENUM64 | FWD);
    if (named(lt.kind) || named(tt.kind))
        && essential(l.name(lt.name)) != essential(t.name(tt.name))
    {
        return false;
    }
    match (lt.kind, tt.kind) {
        (0, 0) => true,
        (STRUCT | UNION | FWD, STRUCT | UNION | FWD) if behind_ptr => {
            lt.kind == tt.kind || lt.kind == FWD || tt.kind == FWD
        }
        (INT, INT) => {
            lt.size_or_type == tt.size_or_type && (lt.extra >> 24) & 1 == (tt.extra >> 24) & 1
        }
        (FLOAT, FLOAT) => lt.size_or_type == tt.size_or_type,
        (ENUM | ENUM64, ENUM | ENUM64) => {
            lt.size_or_type == tt.size_or_type
                && lt.enum_values().all(|(n, _)| {
                    let n = essential(l.name(n));
                    tt.enum_values().any(|(m, _)| essential(t.name(m)) == n)
                })
        }
        (PTR, PTR) => types_match(
            l,
            lt.size_or_type,
            t,
            tt.size_or_type,
            true,
            depth + 1,
            budget,
        ),
        (ARRAY, ARRAY) => {
            lt.nelems == tt.nelems
                && types_match(l, lt.extra, t, tt.extra, behind_ptr, depth + 1, budget)
        }
        (a @ (STRUCT | UNION), b) if a == b => {
            let (mut lm, mut tm) = (Vec::new(), Vec::new());
            named_members(l, lt, 0, &mut lm, budget);
            named_members(t, tt, 0, &mut tm, budget);
            lm.iter().all(|&(n, lty)| {
                tm.iter().find(|&&(m, _)| m == n).is_some_and(|&(_, tty)| {
                    types_match(l, lty, t, tty, behind_ptr, depth + 1, budget)
                })
            })
        }
        (FUNC_PROTO, FUNC_PROTO) => {
            lt.members.len() == tt.members.len()
                && types_match(
                    l,
                    lt.size_or_type,
                    t,
                    tt.size_or_type,
                    behind_ptr,
                    depth + 1,
                    budget,
                )
                && lt
                    .members
                    .iter()
                    .zip(&tt.members)
                    .all(|(a, b)| types_match(l, a.1, t, b.1, behind_ptr, depth + 1, budget))
        }
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
        .checked_mul(root_size)
        .and_then(|b| b.checked_mul(8))
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
                bit_off = bit_off.checked_add(moff as u64).ok_or("offset overflows")?;
                bits = mbits;
                id = mtype;
            }
            ARRAY => {
                let esize = size_of(btf, cur.extra, 0).ok_or("array element has no size")?;
                steps.push(Step::Index(i));
                spec.push_str(&format!("[{i}]"));
                bit_off = (i as u64)
                    .checked_mul(esize)
                    .and_then(|b| b.checked_mul(8))
                    .and_then(|b| b.checked_add(bit_off))
                    .ok_or("offset overflows")?;
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
    let mut bit_off = (local.first as u64)
        .checked_mul(size_of(btf, id, 0)?)?
        .checked_mul(8)?;
    let mut bits = 0;
    for step in &local.steps {
        match step {
            Step::Member(name) => {
                if !matches!(cur.kind, STRUCT | UNION) {
                    return None;
                }
                let (o, b, t) = btf.member(cur, name, 0)?;
                bit_off = bit_off.checked_add(o as u64)?;
                bits = b;
                id = t;
            }
            Step::Index(i) => {
                if cur.kind != ARRAY || (cur.nelems != 0 && *i >= cur.nelems) {
                    return None;
                }
                bit_off = (*i as u64)
                    .checked_mul(size_of(btf, cur.extra, 0)?)?
                    .checked_mul(8)?
                    .checked_add(bit_off)?;
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
        (loc.bit_off / 8, size, size.saturating_mul(8))
    } else {
        let mut sz = size.max(1);
        let mut off = loc.bit_off / 8 / sz * sz;
        while loc.bit_off.saturating_add(loc.bits as u64) - off * 8 > sz.saturating_mul(8) {
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
            64u64
                .checked_sub(loc.bit_off - byte_off * 8 + bit_sz)
                .ok_or("bitfield does not fit 64 bits")?
        }
        BPF_CORE_FIELD_RSHIFT_U64 => {
            if byte_sz > 8 {
                return Err("field larger than 8 bytes".into());
            }
            64u64
                .checked_sub(bit_sz)
                .ok_or("bitfield does not fit 64 bits")?
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
    /// For field offsets whose size changed: whether a load or store may take the new size
    /// (both fields unsigned integers, or both pointers, as libbpf allows); otherwise the
    /// memory access is poisoned.
    pub resizable: bool,
    /// Whether the instruction must hold `local` (not for bitfields, where the compiler
    /// may pick another container than this calculation, as libbpf also allows; their
    /// signedness is always checked).
    pub validate: bool,
}

/// What a relocation is about, from the object's BTF alone: `sk_buff.len`,
/// `type task_struct`, `enum e::E_A` (`None` when the record does not fit the BTF).
pub fn describe(local: &KernelBtf, relo: &CoreRelo) -> Option<String> {
    let root = local.ty(relo.type_id).filter(|_| relo.type_id != 0)?;
    let name = local.name(root.name);
    let access = parse_access(&relo.access)?;
    Some(match relo.kind {
        BPF_CORE_FIELD_BYTE_OFFSET..=BPF_CORE_FIELD_RSHIFT_U64 => {
            local_field(local, relo.type_id, &access).ok()?.spec
        }
        BPF_CORE_ENUMVAL_EXISTS | BPF_CORE_ENUMVAL_VALUE => {
            let (_, et) = skip(local, relo.type_id)?;
            let (v, _) = et.enum_values().nth(access[0] as usize)?;
            format!("enum {name}::{}", local.name(v))
        }
        _ => format!("type {name}"),
    })
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
            resizable: false,
            validate: true,
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
            // Unsigned int or pointer: (is an int, is a pointer).
            let plain = |btf: &KernelBtf, id: u32| match skip(btf, id) {
                Some((_, t)) if t.kind == INT && (t.extra >> 24) & 1 == 0 => (true, false),
                Some((_, t)) if t.kind == PTR => (false, true),
                _ => (false, false),
            };
            let lplain = plain(local, lf.loc.type_id);
            let mut vals = Vec::new();
            let (mut tsize, mut resizable) = (None, false);
            for (btf, id) in cands {
                if let Some(loc) = target_field(btf, id, &lf, local) {
                    let v = field_value(btf, loc, kind).map_err(|r| fail(&lf.spec, r))?;
                    vals.push((id, v));
                    tsize = size_of(btf, loc.type_id, 0);
                    let tplain = plain(btf, loc.type_id);
                    resizable = (lplain.0 && tplain.0) || (lplain.1 && tplain.1);
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
                // A bitfield's container is not the member's type: no access size to follow.
                sizes: tsize.filter(|_| lf.loc.bits == 0).map(|t| (lsize, t)),
                resizable,
                validate: lf.loc.bits == 0 || kind == BPF_CORE_FIELD_SIGNED,
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
                resizable: false,
                validate: true,
            })
        }
        BPF_CORE_ENUMVAL_EXISTS | BPF_CORE_ENUMVAL_VALUE => {
            let (_, et) = skip(local, relo.type_id)
                .filter(|(_, t)| matches!(t.kind, ENUM | ENUM64))
                .ok_or_else(|| fail(name, "not an enum".into()))?;
            let (vname, lv) = et
                .enum_values()
                .nth(access[0] as usize)
                .filter(|_| access.len() == 1)
                .ok_or_else(|| fail(name, format!("enumerator {:?} out of range", relo.access)))?;
            let vname = essential(local.name(vname));
            let spec = format!("enum {name}::{vname}");
            let mut vals = Vec::new();
            for (btf, id) in cands {
                let Some((_, t)) = skip(btf, id) else {
                    continue;
                };
                if let Some((_, v)) = t
                    .enum_values()
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
                resizable: false,
                validate: true,
            })
        }
        BPF_CORE_TYPE_MATCHES => {
            let found = cands.iter().any(|&(btf, id)| {
                let budget = Cell::new(MATCH_BUDGET);
                types_match(local, relo.type_id, btf, id, false, 0, &budget)
            });
            Ok(Resolved {
                spec: format!("type {name}"),
                local: 1,
                target: Some(found as u64),
                sizes: None,
                resizable: false,
                validate: true,
            })
        }
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
    /// Why: no match in the target, or a field whose size changed in a way a memory access
    /// cannot follow.
    pub reason: &'static str,
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

/// Patches the instruction at `at` with `r`: `Ok(Some(why))` when it was poisoned.
fn patch(
    insns: &mut [Insn],
    at: usize,
    kind: u32,
    r: &Resolved,
) -> Result<Option<&'static str>, String> {
    let insn = *insns.get(at).ok_or("no instruction there")?;
    let Some(new) = r.target else {
        if insn.code == LDDW {
            if let Some(next) = insns.get_mut(at + 1) {
                poison(next);
            }
        }
        poison(&mut insns[at]);
        return Ok(Some("no match in the target's BTF"));
    };
    let class = insn.code & 0x07;
    match class {
        CLASS_ALU | CLASS_ALU64 => {
            if insn.code & 0x08 != 0 {
                return Err("ALU instruction with a register operand".into());
            }
            if r.validate && insn.imm as i64 as u64 != r.local && insn.imm as u32 as u64 != r.local
            {
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
            if r.validate && insn.off as i64 as u64 != r.local {
                return Err(format!(
                    "instruction has offset {}, the local BTF gives {}",
                    insn.off, r.local
                ));
            }
            let off = i16::try_from(new).map_err(|_| format!("offset {new} is too large"))?;
            if let Some((lsz, tsz)) = r.sizes.filter(|(l, t)| l != t) {
                if !r.resizable {
                    poison(&mut insns[at]);
                    return Ok(Some(
                        "the field changed size and is not an unsigned integer or a pointer",
                    ));
                }
                if size_code(lsz) != Some(insn.code & 0x18) {
                    return Err(format!(
                        "the access is not of the field's {lsz} bytes (code {:#04x})",
                        insn.code
                    ));
                }
                let code = size_code(tsz)
                    .ok_or_else(|| format!("a field of {tsz} bytes cannot be accessed"))?;
                insns[at].code = (insn.code & !0x18) | code;
            }
            insns[at].off = off;
        }
        CLASS_LD if insn.code == LDDW => {
            let next = *insns.get(at + 1).ok_or("lddw without its second slot")?;
            let old = (insn.imm as u32 as u64) | ((next.imm as u32 as u64) << 32);
            if r.validate && old != r.local {
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
    Ok(None)
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
        let why = patch(program.insns_mut(), relo.insn, relo.kind, &r).map_err(|reason| {
            CoreError::Relocation {
                insn: relo.insn,
                kind: kind_name(relo.kind),
                spec: r.spec.clone(),
                reason,
            }
        })?;
        if let Some(why) = why {
            poisoned.push(Poisoned {
                insn: relo.insn,
                kind: kind_name(relo.kind),
                spec: r.spec.clone(),
                reason: why,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Builds BTF blobs for the tests: each method adds a type and returns its id.
    #[derive(Default)]
    struct B {
        words: Vec<u32>,
        strings: Vec<u8>,
        n: u32,
    }

    impl B {
        fn new() -> B {
            B {
                strings: vec![0],
                ..B::default()
            }
        }

        fn s(&mut self, name: &str) -> u32 {
            if name.is_empty() {
                return 0;
            }
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(name.as_bytes());
            self.strings.push(0);
            off
        }

        fn push(&mut self, w: &[u32]) -> u32 {
            self.words.extend_from_slice(w);
            self.n += 1;
            self.n
        }

        fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
            let n = self.s(name);
            self.push(&[n, INT << 24, size, ((signed as u32) << 24) | (size * 8)])
        }

        fn ptr(&mut self, to: u32) -> u32 {
            self.push(&[0, PTR << 24, to])
        }

        fn typedef(&mut self, name: &str, to: u32) -> u32 {
            let n = self.s(name);
            self.push(&[n, TYPEDEF << 24, to])
        }

        fn array(&mut self, elem: u32, n: u32) -> u32 {
            self.push(&[0, ARRAY << 24, 0, elem, elem, n])
        }

        /// A struct or union; members (name, type, bit offset, bitfield bits).
        fn comp(&mut self, kind: u32, name: &str, size: u32, m: &[(&str, u32, u32, u32)]) -> u32 {
            let n = self.s(name);
            let flag = m.iter().any(|x| x.3 != 0) as u32;
            let mut w = vec![n, (flag << 31) | (kind << 24) | m.len() as u32, size];
            for &(mn, t, off, bits) in m {
                let mn = self.s(mn);
                w.extend_from_slice(&[mn, t, if flag == 1 { (bits << 24) | off } else { off }]);
            }
            self.push(&w)
        }

        fn st(&mut self, name: &str, size: u32, m: &[(&str, u32, u32)]) -> u32 {
            let m: Vec<_> = m.iter().map(|&(a, b, c)| (a, b, c, 0)).collect();
            self.comp(STRUCT, name, size, &m)
        }

        fn en(&mut self, name: &str, values: &[(&str, i32)]) -> u32 {
            let n = self.s(name);
            let mut w = vec![n, (1 << 31) | (ENUM << 24) | values.len() as u32, 4];
            for &(vn, v) in values {
                let vn = self.s(vn);
                w.extend_from_slice(&[vn, v as u32]);
            }
            self.push(&w)
        }

        fn en64(&mut self, name: &str, values: &[(&str, u64)]) -> u32 {
            let n = self.s(name);
            let mut w = vec![n, (ENUM64 << 24) | values.len() as u32, 8];
            for &(vn, v) in values {
                let vn = self.s(vn);
                w.extend_from_slice(&[vn, v as u32, (v >> 32) as u32]);
            }
            self.push(&w)
        }

        fn bytes(&self) -> Vec<u8> {
            let t: Vec<u8> = self.words.iter().flat_map(|w| w.to_le_bytes()).collect();
            let mut b = vec![0x9f, 0xeb, 1, 0];
            for w in [
                24u32,
                0,
                t.len() as u32,
                t.len() as u32,
                self.strings.len() as u32,
            ] {
                b.extend_from_slice(&w.to_le_bytes());
            }
            b.extend_from_slice(&t);
            b.extend_from_slice(&self.strings);
            b
        }

        fn build(&self) -> KernelBtf {
            KernelBtf::parse(&self.bytes()).unwrap()
        }
    }

    fn relo(type_id: u32, access: &str, kind: u32) -> CoreRelo {
        CoreRelo {
            insn: 0,
            type_id,
            access: access.into(),
            kind,
        }
    }

    fn target(b: &B) -> Target {
        Target::from_btf(Arc::new(b.build()))
    }

    /// (local, target) values of one relocation.
    fn values(l: &KernelBtf, t: &Target, id: u32, access: &str, kind: u32) -> (u64, Option<u64>) {
        let r = resolve(l, &relo(id, access, kind), t).unwrap();
        (r.local, r.target)
    }

    #[test]
    fn moved_fields_flavors_and_missing_fields() {
        let mut l = B::new();
        let int = l.int("int", 4, true);
        // struct s___v1 { int a; int b; int gone; }
        let s = l.st(
            "s___v1",
            12,
            &[("a", int, 0), ("b", int, 32), ("gone", int, 64)],
        );
        let l = l.build();
        let mut t = B::new();
        let int = t.int("int", 4, true);
        let long = t.int("long", 8, true);
        t.st("s", 16, &[("x", long, 0), ("b", int, 64), ("a", int, 96)]);
        let t = target(&t);
        assert_eq!(
            values(&l, &t, s, "0:0", BPF_CORE_FIELD_BYTE_OFFSET),
            (0, Some(12))
        );
        assert_eq!(
            values(&l, &t, s, "0:1", BPF_CORE_FIELD_BYTE_OFFSET),
            (4, Some(8))
        );
        assert_eq!(
            values(&l, &t, s, "0:1", BPF_CORE_FIELD_BYTE_SIZE),
            (4, Some(4))
        );
        assert_eq!(
            values(&l, &t, s, "0:1", BPF_CORE_FIELD_SIGNED),
            (1, Some(1))
        );
        // An index on the root: s[1].b.
        assert_eq!(
            values(&l, &t, s, "1:1", BPF_CORE_FIELD_BYTE_OFFSET),
            (16, Some(24))
        );
        // A missing member: offset poisoned, existence 0.
        assert_eq!(
            values(&l, &t, s, "0:2", BPF_CORE_FIELD_BYTE_OFFSET),
            (8, None)
        );
        assert_eq!(
            values(&l, &t, s, "0:2", BPF_CORE_FIELD_EXISTS),
            (1, Some(0))
        );
        let r = resolve(&l, &relo(s, "0:2", BPF_CORE_FIELD_BYTE_OFFSET), &t).unwrap();
        assert_eq!(r.spec, "s___v1.gone");
        // Type relocations against the flavor's kernel type.
        assert_eq!(values(&l, &t, s, "0", BPF_CORE_TYPE_EXISTS), (1, Some(1)));
        assert_eq!(values(&l, &t, s, "0", BPF_CORE_TYPE_SIZE), (12, Some(16)));
        assert_eq!(
            values(&l, &t, s, "0", BPF_CORE_TYPE_ID_TARGET),
            (s as u64, Some(3))
        );
        assert_eq!(
            values(&l, &t, s, "0", BPF_CORE_TYPE_ID_LOCAL),
            (s as u64, Some(s as u64))
        );
        // s___v1 has a member `gone` the target lacks: no match.
        assert_eq!(values(&l, &t, s, "0", BPF_CORE_TYPE_MATCHES), (1, Some(0)));
    }

    #[test]
    fn missing_types_and_incompatible_members() {
        let mut l = B::new();
        let int = l.int("int", 4, false);
        let p = l.ptr(int);
        let s = l.st("nowhere", 4, &[("a", int, 0)]);
        let q = l.st("q", 8, &[("p", p, 0)]);
        let l = l.build();
        let mut t = B::new();
        let int = t.int("int", 4, false);
        t.st("q", 8, &[("p", int, 0)]); // an int where the object has a pointer
        let t = target(&t);
        assert_eq!(values(&l, &t, s, "0", BPF_CORE_TYPE_EXISTS), (1, Some(0)));
        assert_eq!(values(&l, &t, s, "0", BPF_CORE_TYPE_SIZE), (4, None));
        assert_eq!(
            values(&l, &t, s, "0:0", BPF_CORE_FIELD_BYTE_OFFSET),
            (0, None)
        );
        assert_eq!(
            values(&l, &t, q, "0:0", BPF_CORE_FIELD_EXISTS),
            (1, Some(0))
        );
    }

    #[test]
    fn arrays_and_anonymous_unions() {
        let mut l = B::new();
        let int = l.int("int", 4, true);
        let long = l.int("long", 8, true);
        let arr = l.array(int, 4);
        let u = l.comp(UNION, "", 8, &[("u1", int, 0, 0), ("u2", long, 0, 0)]);
        // struct s { int arr[4]; union { int u1; long u2; }; }
        let s = l.st("s", 24, &[("arr", arr, 0), ("", u, 128)]);
        let l = l.build();
        let mut t = B::new();
        let int = t.int("int", 4, true);
        let long = t.int("long", 8, true);
        let arr = t.array(int, 8);
        let u = t.comp(UNION, "", 8, &[("u2", long, 0, 0), ("u1", int, 0, 0)]);
        // struct s { long pad; union { long u2; int u1; }; int arr[8]; }
        t.st("s", 48, &[("pad", long, 0), ("", u, 64), ("arr", arr, 128)]);
        let t = target(&t);
        // s.arr[2]
        assert_eq!(
            values(&l, &t, s, "0:0:2", BPF_CORE_FIELD_BYTE_OFFSET),
            (8, Some(24))
        );
        // s.arr[5]: out of the local array's bounds is still a valid index in the target's.
        assert_eq!(
            values(&l, &t, s, "0:0:5", BPF_CORE_FIELD_BYTE_OFFSET),
            (20, Some(36))
        );
        // s.arr[9] is past the target's 8 elements.
        assert_eq!(
            values(&l, &t, s, "0:0:9", BPF_CORE_FIELD_EXISTS),
            (1, Some(0))
        );
        // The anonymous union is looked through: s.u2.
        assert_eq!(
            values(&l, &t, s, "0:1:1", BPF_CORE_FIELD_BYTE_OFFSET),
            (16, Some(8))
        );
        assert_eq!(
            values(&l, &t, s, "0:1:1", BPF_CORE_FIELD_BYTE_SIZE),
            (8, Some(8))
        );
        let r = resolve(&l, &relo(s, "0:1:1", BPF_CORE_FIELD_BYTE_OFFSET), &t).unwrap();
        assert_eq!(r.spec, "s.u2");
        // The whole array field: its size.
        assert_eq!(
            values(&l, &t, s, "0:0", BPF_CORE_FIELD_BYTE_SIZE),
            (16, Some(32))
        );
    }

    #[test]
    fn a_target_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Target>();
    }

    #[test]
    fn descriptions_come_from_the_local_btf() {
        let l = sample_local().build();
        // [1] int, [2] int[3], [3] enum e, [4] union, [5] struct s, [6] typedef t.
        assert_eq!(
            describe(&l, &relo(5, "0:1:2", 0)).as_deref(),
            Some("s.arr[2]")
        );
        assert_eq!(describe(&l, &relo(5, "0:2:1", 0)).as_deref(), Some("s.y"));
        assert_eq!(
            describe(&l, &relo(3, "0", BPF_CORE_ENUMVAL_VALUE)).as_deref(),
            Some("enum e::A")
        );
        assert_eq!(
            describe(&l, &relo(6, "0", BPF_CORE_TYPE_SIZE)).as_deref(),
            Some("type t")
        );
        assert_eq!(describe(&l, &relo(5, "0:9", 0)), None);
        assert_eq!(describe(&l, &relo(0, "0", 0)), None);
    }

    #[test]
    fn type_matching_a_member_dag_is_bounded() {
        // 30 levels of anonymous structs, each holding the next one twice: 2^30 paths.
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let mut inner = b.st("", 4, &[("x", int, 0)]);
        for _ in 0..30 {
            inner = b.st("", 8, &[("", inner, 0), ("", inner, 0)]);
        }
        let s = b.st("s", 8, &[("", inner, 0), ("y", int, 32)]);
        let l = b.build();
        let t = target(&b);
        let start = std::time::Instant::now();
        let _ = values(&l, &t, s, "0", BPF_CORE_TYPE_MATCHES);
        // A member the DAG does not have: the search through it is bounded too.
        let mut lb = B::new();
        let int = lb.int("int", 4, true);
        let ls = lb.st("s", 4, &[("nope", int, 0)]);
        let lb = lb.build();
        assert_eq!(
            values(&lb, &t, ls, "0:0", BPF_CORE_FIELD_EXISTS),
            (1, Some(0))
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn essential_names() {
        for (name, want) in [
            ("task_struct___v1", "task_struct"),
            ("a___b___c", "a___b"),
            ("__sk_buff___x", "__sk_buff"),
            ("___x", "___x"),
            ("a____", "a____"),
            ("a___", "a___"),
            ("a____b", "a____b"),
            ("plain", "plain"),
            ("", ""),
            ("é___ü", "é"),
        ] {
            assert_eq!(essential(name), want, "{name}");
        }
    }

    #[test]
    fn type_matches() {
        // Local: struct m { int a; struct o *p; enum e { X } k; unsigned char c[2]; }.
        let mut l = B::new();
        let int = l.int("int", 4, true);
        let uchar = l.int("unsigned char", 1, false);
        let o = l.st("o", 4, &[("z", int, 0)]);
        let p = l.ptr(o);
        let e = l.en("e", &[("X", 0)]);
        let arr = l.array(uchar, 2);
        let m = l.st(
            "m___local",
            20,
            &[("a", int, 0), ("p", p, 64), ("k", e, 128), ("c", arr, 160)],
        );
        let l = l.build();
        // A target with extra members and another order, o only declared: matches.
        let build = |signed_a: bool, enum_name: &str, nelems: u32| {
            let mut t = B::new();
            let int = t.int("int", 4, signed_a);
            let uchar = t.int("unsigned char", 1, false);
            let long = t.int("long", 8, true);
            let fwd = {
                let n = t.s("o");
                t.push(&[n, FWD << 24, 0])
            };
            let p = t.ptr(fwd);
            let e = t.en("e", &[("Y", 1), (enum_name, 2)]);
            let arr = t.array(uchar, nelems);
            t.st(
                "m",
                40,
                &[
                    ("x", long, 0),
                    ("c", arr, 64),
                    ("k", e, 96),
                    ("p", p, 128),
                    ("a", int, 192),
                ],
            );
            target(&t)
        };
        assert_eq!(
            values(&l, &build(true, "X", 2), m, "0", BPF_CORE_TYPE_MATCHES),
            (1, Some(1))
        );
        // Signedness, a missing enumerator, an array length: no match.
        assert_eq!(
            values(&l, &build(false, "X", 2), m, "0", BPF_CORE_TYPE_MATCHES),
            (1, Some(0))
        );
        assert_eq!(
            values(&l, &build(true, "Z", 2), m, "0", BPF_CORE_TYPE_MATCHES),
            (1, Some(0))
        );
        assert_eq!(
            values(&l, &build(true, "X", 3), m, "0", BPF_CORE_TYPE_MATCHES),
            (1, Some(0))
        );
        // No candidate at all: 0, not poisoned.
        assert_eq!(
            values(&l, &target(&B::new()), m, "0", BPF_CORE_TYPE_MATCHES),
            (1, Some(0))
        );
    }

    #[test]
    fn bitfields() {
        let mut l = B::new();
        let u32_ = l.int("u32", 4, false);
        let s = l.comp(STRUCT, "bf", 4, &[("lo", u32_, 0, 5), ("f", u32_, 5, 3)]);
        let l = l.build();
        let mut t = B::new();
        let u32_ = t.int("u32", 4, false);
        let s32 = t.int("s32", 4, true);
        t.comp(STRUCT, "bf", 8, &[("f", s32, 36, 3), ("lo", u32_, 0, 5)]);
        let t = target(&t);
        assert_eq!(
            values(&l, &t, s, "0:1", BPF_CORE_FIELD_BYTE_OFFSET),
            (0, Some(4))
        );
        assert_eq!(
            values(&l, &t, s, "0:1", BPF_CORE_FIELD_BYTE_SIZE),
            (4, Some(4))
        );
        // 64 - (bit offset in the loaded word + bits), 64 - bits.
        assert_eq!(
            values(&l, &t, s, "0:1", BPF_CORE_FIELD_LSHIFT_U64),
            (56, Some(57))
        );
        assert_eq!(
            values(&l, &t, s, "0:1", BPF_CORE_FIELD_RSHIFT_U64),
            (61, Some(61))
        );
        assert_eq!(
            values(&l, &t, s, "0:1", BPF_CORE_FIELD_SIGNED),
            (0, Some(1))
        );
    }

    #[test]
    fn enum_values() {
        let mut l = B::new();
        let e = l.en("e___mine", &[("A", 1), ("B", 2), ("GONE", 3)]);
        let l = l.build();
        let mut t = B::new();
        t.en64("e", &[("B", 1 << 40), ("A", 7)]);
        let t = target(&t);
        assert_eq!(values(&l, &t, e, "0", BPF_CORE_ENUMVAL_VALUE), (1, Some(7)));
        assert_eq!(
            values(&l, &t, e, "1", BPF_CORE_ENUMVAL_VALUE),
            (2, Some(1 << 40))
        );
        assert_eq!(
            values(&l, &t, e, "2", BPF_CORE_ENUMVAL_EXISTS),
            (1, Some(0))
        );
        assert_eq!(values(&l, &t, e, "2", BPF_CORE_ENUMVAL_VALUE), (3, None));
        assert!(resolve(&l, &relo(e, "3", BPF_CORE_ENUMVAL_VALUE), &t).is_err());
        let r = resolve(&l, &relo(e, "0", BPF_CORE_ENUMVAL_EXISTS), &t).unwrap();
        assert_eq!(r.spec, "enum e___mine::A");
    }

    #[test]
    fn ambiguous_candidates_are_an_error_agreeing_ones_are_not() {
        let mut l = B::new();
        let int = l.int("int", 4, true);
        let s = l.st("s", 8, &[("a", int, 0), ("b", int, 32)]);
        let l = l.build();
        let mut t = B::new();
        let int = t.int("int", 4, true);
        t.st("s", 8, &[("a", int, 0), ("b", int, 32)]);
        t.st("s___other", 8, &[("b", int, 0), ("a", int, 32)]);
        let tg = target(&t);
        let e = resolve(&l, &relo(s, "0:1", BPF_CORE_FIELD_BYTE_OFFSET), &tg).unwrap_err();
        assert!(e.to_string().contains("ambiguous"), "{e}");
        // Both agree on the size.
        assert_eq!(
            values(&l, &tg, s, "0:1", BPF_CORE_FIELD_BYTE_SIZE),
            (4, Some(4))
        );
        // A candidate without the member does not count.
        let mut t = B::new();
        let int = t.int("int", 4, true);
        t.st("s", 8, &[("x", int, 0), ("b", int, 32)]);
        t.st("s___other", 8, &[("a", int, 0)]);
        let tg = target(&t);
        assert_eq!(
            values(&l, &tg, s, "0:1", BPF_CORE_FIELD_BYTE_OFFSET),
            (4, Some(4))
        );
    }

    #[test]
    fn typedef_roots_and_module_targets() {
        let mut l = B::new();
        let int = l.int("int", 4, true);
        let s = l.st("s", 4, &[("a", int, 0)]);
        let td = l.typedef("s_t", s);
        let l = l.build();
        let mut t = B::new();
        let int = t.int("int", 4, true);
        let long = t.int("long", 8, true);
        let s = t.st("s", 12, &[("pad", long, 0), ("a", int, 64)]);
        t.typedef("s_t", s);
        let t = target(&t);
        assert_eq!(
            values(&l, &t, td, "0:0", BPF_CORE_FIELD_BYTE_OFFSET),
            (0, Some(8))
        );
        assert_eq!(values(&l, &t, td, "0", BPF_CORE_TYPE_SIZE), (4, Some(12)));
        // A type only a module has: found in the module's split BTF.
        let mut base = B::new();
        base.int("int", 4, true);
        let base = Arc::new(base.build());
        let modb = {
            // Split BTF: ids continue after the base's (1 type), string offsets after the
            // base's string section.
            let pad = base.strings_len();
            let mut m = B::new();
            m.strings = vec![0; pad];
            m.n = 1;
            m.st("s", 8, &[("pad", 1, 0), ("a", 1, 32)]);
            KernelBtf::parse_split(&split_of(&m, pad), base.clone()).unwrap()
        };
        let t = Target::from_btf(base).with_module("m", modb);
        let st = 2; // struct s in the local BTF
        assert_eq!(l.name_of(st), Some("s"));
        assert_eq!(
            values(&l, &t, st, "0:0", BPF_CORE_FIELD_BYTE_OFFSET),
            (0, Some(4))
        );
        assert_eq!(
            values(&l, &t, st, "0", BPF_CORE_TYPE_ID_TARGET),
            (2, Some(2))
        );
    }

    #[test]
    fn candidates_from_every_module_when_vmlinux_has_none() {
        let mut l = B::new();
        let int = l.int("int", 4, true);
        let s = l.st("s", 4, &[("a", int, 0)]);
        let l = l.build();
        let mut base = B::new();
        base.int("int", 4, true);
        let base = Arc::new(base.build());
        let module = |a_at: u32| {
            let pad = base.strings_len();
            let mut m = B::new();
            m.strings = vec![0; pad];
            m.n = 1;
            m.st("s", 8, &[("a", 1, a_at)]);
            KernelBtf::parse_split(&split_of(&m, pad), base.clone()).unwrap()
        };
        let same = Target::from_btf(base.clone())
            .with_module("m1", module(32))
            .with_module("m2", module(32));
        assert_eq!(
            values(&l, &same, s, "0:0", BPF_CORE_FIELD_BYTE_OFFSET),
            (0, Some(4))
        );
        let differ = Target::from_btf(base.clone())
            .with_module("m1", module(32))
            .with_module("m2", module(0));
        let e = resolve(&l, &relo(s, "0:0", BPF_CORE_FIELD_BYTE_OFFSET), &differ).unwrap_err();
        assert!(e.to_string().contains("ambiguous"), "{e}");
    }

    /// The split blob of a builder whose strings start with `pad` placeholder bytes (the
    /// base's string section, which the split blob's offsets count from).
    fn split_of(m: &B, pad: usize) -> Vec<u8> {
        let strings = &m.strings[pad..];
        let t: Vec<u8> = m.words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut b = vec![0x9f, 0xeb, 1, 0];
        for w in [
            24u32,
            0,
            t.len() as u32,
            t.len() as u32,
            strings.len() as u32,
        ] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&t);
        b.extend_from_slice(strings);
        b
    }

    fn prog(insns: Vec<Insn>, relos: Vec<CoreRelo>) -> ObjectProgram {
        ObjectProgram {
            name: "p".into(),
            section: "socket".into(),
            kind: None,
            program: asm::Program::from_insns(insns),
            subprograms: Vec::new(),
            func_info: Vec::new(),
            core_relos: relos,
        }
    }

    #[test]
    fn patching_checks_and_rewrites_instructions() {
        let mut l = B::new();
        let u32_ = l.int("u32", 4, false);
        let s32 = l.int("s32", 4, true);
        let s = l.st("s", 12, &[("a", u32_, 0), ("b", u32_, 32), ("c", s32, 64)]);
        let l = l.build();
        let mut t = B::new();
        let u16_ = t.int("u16", 2, false);
        let u64_ = t.int("u64", 8, false);
        let s16 = t.int("s16", 2, true);
        t.st("s", 24, &[("c", s16, 0), ("b", u16_, 16), ("a", u64_, 64)]);
        let t = target(&t);
        let at = |insn: usize, access: &str, kind: u32| CoreRelo {
            insn,
            ..relo(s, access, kind)
        };
        let ldx_w = |off| Insn::new(0x61, 0, 1, off, 0);
        let [lo, hi] = Insn::lddw(asm::Reg::R2, 12);
        let p = prog(
            vec![
                ldx_w(0),                    // s->a: u32 → u64 load at 8
                ldx_w(4),                    // s->b: u32 → u16 load at 2
                Insn::new(0xb7, 3, 0, 0, 4), // r3 = offsetof(b)
                lo,                          // r2 = sizeof(s) (lddw)
                hi,
                Insn::new(0x07, 3, 0, 0, 1), // r3 += exists(a)
            ],
            vec![
                at(0, "0:0", BPF_CORE_FIELD_BYTE_OFFSET),
                at(1, "0:1", BPF_CORE_FIELD_BYTE_OFFSET),
                at(2, "0:1", BPF_CORE_FIELD_BYTE_OFFSET),
                at(3, "0", BPF_CORE_TYPE_SIZE),
                at(5, "0:0", BPF_CORE_FIELD_EXISTS),
            ],
        );
        let r = relocate_program(&p, &l, &t).unwrap();
        let i = r.program.insns();
        assert_eq!((i[0].code, i[0].off), (0x79, 8), "widened to a u64 load");
        assert_eq!((i[1].code, i[1].off), (0x69, 2), "narrowed to a u16 load");
        assert_eq!(i[2].imm, 2);
        assert_eq!((i[3].imm, i[4].imm), (24, 0));
        assert_eq!(i[5].imm, 1);
        assert!(r.poisoned.is_empty());

        // The instruction must hold the local value.
        let bad = prog(
            vec![ldx_w(3)],
            vec![at(0, "0:1", BPF_CORE_FIELD_BYTE_OFFSET)],
        );
        let e = relocate_program(&bad, &l, &t).unwrap_err();
        assert!(e.to_string().contains("local BTF gives 4"), "{e}");
        // A signed field that changes size cannot be accessed with another size: poisoned.
        let signed = prog(
            vec![ldx_w(8)],
            vec![at(0, "0:2", BPF_CORE_FIELD_BYTE_OFFSET)],
        );
        let r = relocate_program(&signed, &l, &t).unwrap();
        assert_eq!(r.program.insns()[0].imm, POISON_HELPER);
        assert_eq!(r.poisoned[0].spec, "s.c");
        assert!(r.poisoned[0].reason.contains("changed size"));
        // A store of an unsigned field that changes size takes the new size too.
        let st = prog(
            vec![Insn::new(0x63, 1, 2, 4, 0)],
            vec![at(0, "0:1", BPF_CORE_FIELD_BYTE_OFFSET)],
        );
        let r = relocate_program(&st, &l, &t).unwrap();
        assert_eq!(
            (r.program.insns()[0].code, r.program.insns()[0].off),
            (0x6b, 2)
        );
        // An access of another size than the local field's is an error.
        let odd = prog(
            vec![Insn::new(0x71, 0, 1, 4, 0)],
            vec![at(0, "0:1", BPF_CORE_FIELD_BYTE_OFFSET)],
        );
        assert!(relocate_program(&odd, &l, &t).is_err());
        // A register-operand ALU instruction cannot take a value.
        let alu = prog(
            vec![Insn::new(0x0f, 3, 1, 0, 0)],
            vec![at(0, "0:1", BPF_CORE_FIELD_BYTE_OFFSET)],
        );
        assert!(relocate_program(&alu, &l, &t).is_err());
    }

    #[test]
    fn unmatched_relocations_poison_their_instructions() {
        let mut l = B::new();
        let int = l.int("int", 4, true);
        let s = l.st("gone", 4, &[("a", int, 0)]);
        let l = l.build();
        let t = target(&B::new());
        let [lo, hi] = Insn::lddw(asm::Reg::R2, 4);
        let p = prog(
            vec![Insn::new(0x61, 0, 1, 0, 0), lo, hi],
            vec![
                relo(s, "0:0", BPF_CORE_FIELD_BYTE_OFFSET),
                CoreRelo {
                    insn: 1,
                    ..relo(s, "0", BPF_CORE_TYPE_SIZE)
                },
            ],
        );
        let r = relocate_program(&p, &l, &t).unwrap();
        for i in r.program.insns() {
            assert_eq!((i.code, i.imm), (0x85, POISON_HELPER));
        }
        assert_eq!(r.poisoned.len(), 2);
        assert_eq!(r.poisoned[0].spec, "gone.a");
        assert_eq!(r.poisoned[1].spec, "type gone");
    }

    fn sample_local() -> B {
        let mut l = B::new();
        let int = l.int("int", 4, true);
        let arr = l.array(int, 3);
        let e = l.en("e", &[("A", 1)]);
        let u = l.comp(UNION, "", 4, &[("x", int, 0, 0), ("y", e, 0, 0)]);
        l.comp(
            STRUCT,
            "s",
            24,
            &[
                ("a", int, 0, 0),
                ("arr", arr, 32, 0),
                ("", u, 128, 0),
                ("bf", int, 160, 3),
            ],
        );
        l.typedef("t", 5);
        l
    }

    proptest! {
        #[test]
        fn garbage_relocations_never_panic(
            type_id in 0u32..10,
            access in "[0-9:]{0,12}",
            kind in 0u32..16,
            insn in 0usize..4,
        ) {
            let l = sample_local().build();
            let t = target(&sample_local());
            let r = CoreRelo { insn, type_id, access, kind };
            let _ = resolve(&l, &r, &t);
            let p = prog(vec![Insn::new(0x61, 0, 1, 0, 0); 3], vec![r]);
            let _ = relocate_program(&p, &l, &t);
        }

        #[test]
        fn corrupted_btf_never_panics(
            flips in proptest::collection::vec((0usize..400, any::<u8>()), 1..8),
            access in "[0-9]{1,3}(:[0-9]{1,3}){0,4}",
            kind in 0u32..13,
        ) {
            let mut b = sample_local().bytes();
            for (i, v) in flips {
                let n = b.len();
                b[i % n] = v;
            }
            if let Ok(l) = KernelBtf::parse(&b) {
                let t = Target::from_btf(Arc::new(sample_local().build()));
                for id in 0..8 {
                    let _ = resolve(&l, &relo(id, &access, kind), &t);
                }
                let t = Target::from_btf(Arc::new(KernelBtf::parse(&b).unwrap()));
                let l = sample_local().build();
                for id in 0..8 {
                    let _ = resolve(&l, &relo(id, &access, kind), &t);
                }
            }
        }
    }
}
