//! The program builder: a program written like assembly, with labels, jumps by label, named
//! map references, named bpf-to-bpf subprograms and comments, assembled into a [`Program`].

use std::collections::{BTreeMap, HashMap};

use crate::error::AsmError;
use crate::insn::{op, AluOp, AtomicOp, Endian, Insn, JmpOp, Operand, Reg, Size};
use crate::Helper;

/// The kernel's limit on instructions in one program (`BPF_COMPLEXITY_LIMIT_INSNS`).
pub const MAX_INSNS: usize = 1_000_000;

/// What a named map reference loads into its register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapRefKind {
    /// `BPF_PSEUDO_MAP_FD`: the map itself (for helpers taking a map).
    Fd,
    /// `BPF_PSEUDO_MAP_VALUE`: a pointer `offset` bytes into the value of a single-entry array
    /// map's element 0.
    Value {
        /// Byte offset into the value.
        offset: u32,
    },
}

/// An instruction that needs a map's file descriptor before the program can be loaded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MapRef {
    /// Slot index of the `lddw` that loads the map.
    pub insn: usize,
    /// The map's name, as given to the builder.
    pub name: String,
    /// What the reference loads.
    pub kind: MapRefKind,
}

/// Where a jump or call goes, until resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// `off` of a jump, i16 range.
    Label(String),
    /// `imm` of `gotol`, i32 range.
    LongLabel(String),
    /// `imm` of a bpf-to-bpf call.
    Function(String),
}

#[derive(Debug, Clone)]
struct Item {
    insn: Insn,
    /// The second slot of `lddw`.
    wide: Option<Insn>,
    target: Option<Target>,
    map: Option<(String, MapRefKind)>,
    labels: Vec<String>,
    comment: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Function {
    name: String,
    items: Vec<Item>,
    pending_labels: Vec<String>,
    pending_comment: Option<String>,
}

/// Builds a program instruction by instruction.
///
/// Methods append one instruction each and return `&mut Self`, so a program reads top to
/// bottom like assembly. A [`label`](Builder::label) names the next instruction; jumps name
/// labels; [`ld_map`](Builder::ld_map) names maps that are bound to real file descriptors at
/// load time ([`Program::resolve_maps`]); [`function`](Builder::function) starts a named
/// bpf-to-bpf subprogram that [`call_fn`](Builder::call_fn) calls. Nothing is checked until
/// [`build`](Builder::build), which reports the first problem with the instruction it concerns.
///
/// ```
/// use asm::{Builder, Helper, Reg::*, Size};
///
/// let mut b = Builder::new();
/// b.mov64(R6, R1)
///     .ldx(Size::W, R2, R6, 0).comment("op")
///     .jne(R2, 4, "out")
///     .ld_map(R1, "sock_map")
///     .mov64(R2, R6)
///     .call(Helper::SockHashUpdate)
///     .label("out")
///     .mov64(R0, 1)
///     .exit();
/// let prog = b.build().unwrap();
/// assert_eq!(prog.len(), 9); // lddw takes two slots
/// assert_eq!(prog.insns()[2].off, 4); // the jump skips the lddw's two slots
/// assert_eq!(prog.map_refs()[0].name, "sock_map");
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    functions: Vec<Function>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

macro_rules! alu_methods {
    ($($(#[$doc:meta])* $name64:ident, $name32:ident => $aop:expr;)*) => {
        $(
            $(#[$doc])*
            #[doc = "\n\n64-bit form: `dst op= src` on the whole register."]
            pub fn $name64(&mut self, dst: Reg, src: impl Into<Operand>) -> &mut Self {
                self.push(Insn::alu64($aop, dst, src))
            }
            $(#[$doc])*
            #[doc = "\n\n32-bit form on `wN`; the upper half of `dst` becomes zero."]
            pub fn $name32(&mut self, dst: Reg, src: impl Into<Operand>) -> &mut Self {
                self.push(Insn::alu32($aop, dst, src))
            }
        )*
    };
}

macro_rules! jmp_methods {
    ($($(#[$doc:meta])* $name:ident, $name32:ident => $cond:expr;)*) => {
        $(
            $(#[$doc])*
            #[doc = "\n\nCompares all 64 bits; jumps to `label` when the condition holds."]
            pub fn $name(&mut self, dst: Reg, src: impl Into<Operand>, label: &str) -> &mut Self {
                self.push_jump(Insn::jmp($cond, dst, src, 0, true), Target::Label(label.into()))
            }
            $(#[$doc])*
            #[doc = "\n\nCompares the low 32 bits; jumps to `label` when the condition holds."]
            pub fn $name32(&mut self, dst: Reg, src: impl Into<Operand>, label: &str) -> &mut Self {
                self.push_jump(Insn::jmp($cond, dst, src, 0, false), Target::Label(label.into()))
            }
        )*
    };
}

impl Builder {
    /// An empty program whose main function is named `main`.
    pub fn new() -> Builder {
        Builder {
            functions: vec![Function {
                name: "main".into(),
                ..Function::default()
            }],
        }
    }

    fn cur(&mut self) -> &mut Function {
        self.functions
            .last_mut()
            .expect("a builder always has a function")
    }

    fn push_item(
        &mut self,
        insn: Insn,
        wide: Option<Insn>,
        target: Option<Target>,
        map: Option<(String, MapRefKind)>,
    ) -> &mut Self {
        let f = self.cur();
        let labels = std::mem::take(&mut f.pending_labels);
        let comment = f.pending_comment.take();
        f.items.push(Item {
            insn,
            wide,
            target,
            map,
            labels,
            comment,
        });
        self
    }

    fn push_jump(&mut self, insn: Insn, target: Target) -> &mut Self {
        self.push_item(insn, None, Some(target), None)
    }

    /// Appends a raw instruction slot. For `lddw` use [`Builder::raw_wide`].
    pub fn push(&mut self, insn: Insn) -> &mut Self {
        self.push_item(insn, None, None, None)
    }

    /// Appends a raw two-slot `lddw`.
    pub fn raw_wide(&mut self, insns: [Insn; 2]) -> &mut Self {
        self.push_item(insns[0], Some(insns[1]), None, None)
    }

    /// Names the next instruction. Several labels may name the same instruction.
    pub fn label(&mut self, name: &str) -> &mut Self {
        self.cur().pending_labels.push(name.to_string());
        self
    }

    /// Attaches a comment to the most recent instruction (shown by the disassembler). Before
    /// the first instruction of a function, it attaches to the next one.
    pub fn comment(&mut self, text: &str) -> &mut Self {
        let f = self.cur();
        match f.items.last_mut() {
            Some(item) if f.pending_labels.is_empty() => match &mut item.comment {
                Some(c) => {
                    c.push_str("; ");
                    c.push_str(text);
                }
                None => item.comment = Some(text.to_string()),
            },
            _ => match &mut f.pending_comment {
                Some(c) => {
                    c.push_str("; ");
                    c.push_str(text);
                }
                None => f.pending_comment = Some(text.to_string()),
            },
        }
        self
    }

    /// Starts a named bpf-to-bpf subprogram; the instructions that follow belong to it. The
    /// subprograms are placed after the main function, in the order they were started.
    pub fn function(&mut self, name: &str) -> &mut Self {
        self.functions.push(Function {
            name: name.to_string(),
            ..Function::default()
        });
        self
    }

    alu_methods! {
        /// Addition.
        add64, add32 => AluOp::Add;
        /// Subtraction.
        sub64, sub32 => AluOp::Sub;
        /// Unsigned multiplication.
        mul64, mul32 => AluOp::Mul;
        /// Unsigned division (division by zero gives zero).
        div64, div32 => AluOp::Div;
        /// Signed division.
        sdiv64, sdiv32 => AluOp::SDiv;
        /// Unsigned modulo (modulo zero leaves `dst` unchanged).
        mod64, mod32 => AluOp::Mod;
        /// Signed modulo.
        smod64, smod32 => AluOp::SMod;
        /// Bitwise or.
        or64, or32 => AluOp::Or;
        /// Bitwise and.
        and64, and32 => AluOp::And;
        /// Bitwise exclusive or.
        xor64, xor32 => AluOp::Xor;
        /// Left shift.
        lsh64, lsh32 => AluOp::Lsh;
        /// Logical right shift.
        rsh64, rsh32 => AluOp::Rsh;
        /// Arithmetic right shift.
        arsh64, arsh32 => AluOp::Arsh;
        /// Move (an immediate is sign-extended in the 64-bit form).
        mov64, mov32 => AluOp::Mov;
    }

    /// `dst = -dst` on 64 bits.
    pub fn neg64(&mut self, dst: Reg) -> &mut Self {
        self.push(Insn::neg(dst, true))
    }

    /// `wdst = -wdst` on 32 bits.
    pub fn neg32(&mut self, dst: Reg) -> &mut Self {
        self.push(Insn::neg(dst, false))
    }

    /// Sign-extending move `dst = (sN) src`, `bits` 8, 16 or 32.
    pub fn movsx64(&mut self, dst: Reg, src: Reg, bits: i16) -> &mut Self {
        self.push(Insn::movsx(dst, src, bits, true))
    }

    /// Sign-extending 32-bit move `wdst = (sN) wsrc`, `bits` 8 or 16.
    pub fn movsx32(&mut self, dst: Reg, src: Reg, bits: i16) -> &mut Self {
        self.push(Insn::movsx(dst, src, bits, false))
    }

    /// Converts the low `bits` of `dst` to big endian (network order): `be16`, `be32`, `be64`.
    pub fn be(&mut self, dst: Reg, bits: i32) -> &mut Self {
        self.push(Insn::endian(Endian::Be, dst, bits))
    }

    /// Converts the low `bits` of `dst` to little endian: `le16`, `le32`, `le64`.
    pub fn le(&mut self, dst: Reg, bits: i32) -> &mut Self {
        self.push(Insn::endian(Endian::Le, dst, bits))
    }

    /// Swaps the bytes of the low `bits` of `dst` unconditionally: `bswap16/32/64`.
    pub fn bswap(&mut self, dst: Reg, bits: i32) -> &mut Self {
        self.push(Insn::endian(Endian::Swap, dst, bits))
    }

    jmp_methods! {
        /// Jump if equal.
        jeq, jeq32 => JmpOp::Eq;
        /// Jump if not equal.
        jne, jne32 => JmpOp::Ne;
        /// Jump if greater, unsigned.
        jgt, jgt32 => JmpOp::Gt;
        /// Jump if greater or equal, unsigned.
        jge, jge32 => JmpOp::Ge;
        /// Jump if lower, unsigned.
        jlt, jlt32 => JmpOp::Lt;
        /// Jump if lower or equal, unsigned.
        jle, jle32 => JmpOp::Le;
        /// Jump if greater, signed.
        jsgt, jsgt32 => JmpOp::SGt;
        /// Jump if greater or equal, signed.
        jsge, jsge32 => JmpOp::SGe;
        /// Jump if lower, signed.
        jslt, jslt32 => JmpOp::SLt;
        /// Jump if lower or equal, signed.
        jsle, jsle32 => JmpOp::SLe;
        /// Jump if `dst & src` is not zero.
        jset, jset32 => JmpOp::Set;
    }

    /// Unconditional jump (`goto`), 16-bit range.
    pub fn ja(&mut self, label: &str) -> &mut Self {
        self.push_jump(Insn::ja(0), Target::Label(label.into()))
    }

    /// Long unconditional jump (`gotol`, RFC 9669 `JA` in the JMP32 class), 32-bit range.
    pub fn ja32(&mut self, label: &str) -> &mut Self {
        self.push_jump(Insn::ja32(0), Target::LongLabel(label.into()))
    }

    /// Calls a kernel helper; arguments in `r1`–`r5`, result in `r0`, `r1`–`r5` clobbered.
    pub fn call(&mut self, helper: Helper) -> &mut Self {
        self.push(Insn::call(helper))
    }

    /// Calls a named subprogram started with [`Builder::function`].
    pub fn call_fn(&mut self, name: &str) -> &mut Self {
        self.push_jump(Insn::call_local(0), Target::Function(name.into()))
    }

    /// Calls a kernel function (kfunc) by BTF id.
    pub fn call_kfunc(&mut self, btf_id: i32) -> &mut Self {
        self.push(Insn::call_kfunc(btf_id))
    }

    /// Returns `r0` from the program or subprogram.
    pub fn exit(&mut self) -> &mut Self {
        self.push(Insn::exit())
    }

    /// `dst = *(size *)(src + off)`.
    pub fn ldx(&mut self, size: Size, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.push(Insn::ldx(size, dst, src, off))
    }

    /// Sign-extending load `dst = *(sN *)(src + off)` (B, H or W).
    pub fn ldxsx(&mut self, size: Size, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.push(Insn::ldxsx(size, dst, src, off))
    }

    /// `*(size *)(dst + off) = imm`.
    pub fn st(&mut self, size: Size, dst: Reg, off: i16, imm: i32) -> &mut Self {
        self.push(Insn::st(size, dst, off, imm))
    }

    /// `*(size *)(dst + off) = src`.
    pub fn stx(&mut self, size: Size, dst: Reg, off: i16, src: Reg) -> &mut Self {
        self.push(Insn::stx(size, dst, off, src))
    }

    /// Atomic read-modify-write of `*(size *)(dst + off)` with `src` (W or DW).
    pub fn atomic(&mut self, aop: AtomicOp, size: Size, dst: Reg, off: i16, src: Reg) -> &mut Self {
        self.push(Insn::atomic(aop, size, dst, off, src))
    }

    /// `dst = imm64` (two slots).
    pub fn lddw(&mut self, dst: Reg, imm: u64) -> &mut Self {
        self.raw_wide(Insn::lddw(dst, imm))
    }

    /// Loads the named map into `dst` (`BPF_PSEUDO_MAP_FD`); bound to a real fd at load.
    pub fn ld_map(&mut self, dst: Reg, map: &str) -> &mut Self {
        let [a, b] = Insn::lddw_pseudo(dst, op::PSEUDO_MAP_FD, 0, 0);
        self.push_item(a, Some(b), None, Some((map.to_string(), MapRefKind::Fd)))
    }

    /// Loads a pointer `offset` bytes into the named array map's value
    /// (`BPF_PSEUDO_MAP_VALUE`).
    pub fn ld_map_value(&mut self, dst: Reg, map: &str, offset: u32) -> &mut Self {
        let [a, b] = Insn::lddw_pseudo(dst, op::PSEUDO_MAP_VALUE, 0, offset as i32);
        self.push_item(
            a,
            Some(b),
            None,
            Some((map.to_string(), MapRefKind::Value { offset })),
        )
    }

    /// Loads a kernel variable's address by BTF id (`BPF_PSEUDO_BTF_ID`).
    pub fn ld_btf_id(&mut self, dst: Reg, btf_id: i32) -> &mut Self {
        self.raw_wide(Insn::lddw_pseudo(dst, op::PSEUDO_BTF_ID, btf_id, 0))
    }

    /// Loads a map by its index into the load's `fd_array` (`BPF_PSEUDO_MAP_IDX`).
    pub fn ld_map_idx(&mut self, dst: Reg, idx: i32) -> &mut Self {
        self.raw_wide(Insn::lddw_pseudo(dst, op::PSEUDO_MAP_IDX, idx, 0))
    }

    /// Loads a map value pointer by `fd_array` index (`BPF_PSEUDO_MAP_IDX_VALUE`).
    pub fn ld_map_idx_value(&mut self, dst: Reg, idx: i32, offset: u32) -> &mut Self {
        self.raw_wide(Insn::lddw_pseudo(
            dst,
            op::PSEUDO_MAP_IDX_VALUE,
            idx,
            offset as i32,
        ))
    }

    /// Legacy packet load `r0 = *(size *)skb[imm]` (socket filters only).
    pub fn ld_abs(&mut self, size: Size, imm: i32) -> &mut Self {
        self.push(Insn::ld_abs(size, imm))
    }

    /// Legacy packet load `r0 = *(size *)skb[src + imm]` (socket filters only).
    pub fn ld_ind(&mut self, size: Size, src: Reg, imm: i32) -> &mut Self {
        self.push(Insn::ld_ind(size, src, imm))
    }

    /// Assembles the program: places subprograms after `main`, resolves labels and calls, and
    /// checks every instruction.
    pub fn build(&self) -> Result<Program, AsmError> {
        for f in &self.functions {
            if !f.pending_labels.is_empty() {
                return Err(AsmError::LabelAtEnd {
                    label: f.pending_labels[0].clone(),
                });
            }
        }
        // Lay out slots.
        let mut labels: HashMap<&str, usize> = HashMap::new();
        let mut functions: Vec<(String, usize)> = Vec::new();
        let mut fn_starts: HashMap<&str, usize> = HashMap::new();
        let mut item_slot: Vec<Vec<usize>> = Vec::new();
        let mut slot = 0usize;
        for (fi, f) in self.functions.iter().enumerate() {
            if f.items.is_empty() {
                return Err(if fi == 0 {
                    AsmError::Empty
                } else {
                    AsmError::EmptyFunction {
                        name: f.name.clone(),
                    }
                });
            }
            if fn_starts.insert(&f.name, slot).is_some() {
                return Err(AsmError::DuplicateFunction {
                    name: f.name.clone(),
                });
            }
            functions.push((f.name.clone(), slot));
            let mut slots = Vec::with_capacity(f.items.len());
            for item in &f.items {
                for l in &item.labels {
                    if labels.insert(l, slot).is_some() {
                        return Err(AsmError::DuplicateLabel {
                            label: l.clone(),
                            insn: slot,
                        });
                    }
                }
                slots.push(slot);
                slot += if item.wide.is_some() { 2 } else { 1 };
            }
            item_slot.push(slots);
        }
        if slot > MAX_INSNS {
            return Err(AsmError::TooLong { len: slot });
        }
        let fn_ends: Vec<usize> = functions
            .iter()
            .skip(1)
            .map(|(_, s)| *s)
            .chain(std::iter::once(slot))
            .collect();

        let mut insns = Vec::with_capacity(slot);
        let mut map_refs = Vec::new();
        let mut symbols: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut comments: BTreeMap<usize, String> = BTreeMap::new();
        for (fi, f) in self.functions.iter().enumerate() {
            let (fstart, fend) = (functions[fi].1, fn_ends[fi]);
            for (ii, item) in f.items.iter().enumerate() {
                let pos = item_slot[fi][ii];
                let mut insn = item.insn;
                if let Some(target) = &item.target {
                    let (name, dest) = match target {
                        Target::Label(l) | Target::LongLabel(l) => (
                            l,
                            *labels
                                .get(l.as_str())
                                .ok_or_else(|| AsmError::UndefinedLabel {
                                    label: l.clone(),
                                    insn: pos,
                                })?,
                        ),
                        Target::Function(name) => (
                            name,
                            *fn_starts.get(name.as_str()).ok_or_else(|| {
                                AsmError::UndefinedFunction {
                                    name: name.clone(),
                                    insn: pos,
                                }
                            })?,
                        ),
                    };
                    let delta = dest as i64 - (pos as i64 + 1);
                    match target {
                        Target::Label(_) => {
                            if dest < fstart || dest >= fend {
                                return Err(AsmError::JumpAcrossFunctions {
                                    label: name.clone(),
                                    insn: pos,
                                });
                            }
                            insn.off =
                                i16::try_from(delta).map_err(|_| AsmError::JumpOutOfRange {
                                    label: name.clone(),
                                    insn: pos,
                                    offset: delta,
                                })?;
                        }
                        Target::LongLabel(_) => {
                            if dest < fstart || dest >= fend {
                                return Err(AsmError::JumpAcrossFunctions {
                                    label: name.clone(),
                                    insn: pos,
                                });
                            }
                            // MAX_INSNS keeps every delta within i32.
                            insn.imm = delta as i32;
                        }
                        Target::Function(_) => insn.imm = delta as i32,
                    }
                }
                insn.validate(item.wide.as_ref())
                    .map_err(|source| AsmError::InvalidInsn { insn: pos, source })?;
                if let Some(w) = item.wide {
                    if !insn.is_lddw() {
                        return Err(AsmError::InvalidInsn {
                            insn: pos,
                            source: crate::InsnError::BrokenLddw,
                        });
                    }
                    insns.push(insn);
                    insns.push(w);
                } else {
                    if insn.is_lddw() {
                        return Err(AsmError::InvalidInsn {
                            insn: pos,
                            source: crate::InsnError::BrokenLddw,
                        });
                    }
                    insns.push(insn);
                }
                if let Some((name, kind)) = &item.map {
                    map_refs.push(MapRef {
                        insn: pos,
                        name: name.clone(),
                        kind: *kind,
                    });
                }
                if !item.labels.is_empty() {
                    symbols
                        .entry(pos)
                        .or_default()
                        .extend(item.labels.iter().cloned());
                }
                if let Some(c) = &item.comment {
                    comments.insert(pos, c.clone());
                }
            }
            // A function must end in exit or an unconditional jump, or control falls off it.
            let last = insns[insns.len() - 1];
            let ends = last == Insn::exit()
                || (last.code == op::JMP | op::JA)
                || (last.code == op::JMP32 | op::JA);
            if !ends {
                return Err(AsmError::MissingExit {
                    function: f.name.clone(),
                    insn: insns.len() - 1,
                });
            }
        }
        Ok(Program {
            insns,
            map_refs,
            labels: symbols,
            comments,
            functions,
        })
    }
}

/// An assembled program: the instruction slots in kernel order, plus what the disassembler
/// and the loader need to know about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    insns: Vec<Insn>,
    map_refs: Vec<MapRef>,
    labels: BTreeMap<usize, Vec<String>>,
    comments: BTreeMap<usize, String>,
    functions: Vec<(String, usize)>,
}

impl Program {
    /// A program from raw slots (for example decoded bytes), with no labels or map names.
    pub fn from_insns(insns: Vec<Insn>) -> Program {
        Program {
            insns,
            map_refs: Vec::new(),
            labels: BTreeMap::new(),
            comments: BTreeMap::new(),
            functions: vec![("main".into(), 0)],
        }
    }

    /// Adds a named map reference for the `lddw` at slot `insn` (used by object-file readers).
    pub fn add_map_ref(&mut self, map_ref: MapRef) {
        self.map_refs.push(map_ref);
    }

    /// Names slot `insn` (used by object-file readers for symbols).
    pub fn add_label(&mut self, insn: usize, label: &str) {
        self.labels.entry(insn).or_default().push(label.to_string());
    }

    /// The instructions, to patch in place (CO-RE relocations): the number of slots, the
    /// map references and the labels stay as they are.
    pub fn insns_mut(&mut self) -> &mut [Insn] {
        &mut self.insns
    }

    /// The instruction slots, map fds still zero.
    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    /// The number of 8-byte slots.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Whether there are no instructions.
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// The instructions that need a map fd, in program order.
    pub fn map_refs(&self) -> &[MapRef] {
        &self.map_refs
    }

    /// The distinct map names the program references, in first-use order.
    pub fn map_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for r in &self.map_refs {
            if !names.contains(&r.name.as_str()) {
                names.push(&r.name);
            }
        }
        names
    }

    /// Labels by slot index.
    pub fn labels(&self) -> &BTreeMap<usize, Vec<String>> {
        &self.labels
    }

    /// Comments by slot index.
    pub fn comments(&self) -> &BTreeMap<usize, String> {
        &self.comments
    }

    /// Functions as `(name, first slot)`, `main` first.
    pub fn functions(&self) -> &[(String, usize)] {
        &self.functions
    }

    /// The slots with every map reference bound to a file descriptor by `fd_of(name)`.
    ///
    /// Fails with [`AsmError::UnresolvedMap`] for a name `fd_of` does not know.
    pub fn resolve_maps(
        &self,
        mut fd_of: impl FnMut(&str) -> Option<i32>,
    ) -> Result<Vec<Insn>, AsmError> {
        let mut out = self.insns.clone();
        for r in &self.map_refs {
            let fd = fd_of(&r.name).ok_or_else(|| AsmError::UnresolvedMap {
                name: r.name.clone(),
                insn: r.insn,
            })?;
            out[r.insn].imm = fd;
        }
        Ok(out)
    }

    /// The little-endian bytes of the slots (map fds as they are, normally zero).
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::encode(&self.insns)
    }
}
