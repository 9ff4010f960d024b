//! A static check of a program before rbpf runs it: the kernel rules rbpf does not enforce,
//! and the assumptions that make rbpf's execution equal to the kernel's.
//!
//! Because every jump must go forward (rbpf has no instruction budget, so a backward jump is
//! refused here), one pass in program order visits each instruction after all its
//! predecessors, so a small abstract interpreter tracks what each register holds (context,
//! stack, map, map value or NULL, scalar) like the kernel's verifier does, and checks:
//!
//! - every jump goes forward and lands inside the program; no unreachable instruction;
//! - no 64-bit conditional jump compares unsigned or for equality against a negative
//!   immediate (rbpf zero-extends the immediate where the kernel sign-extends);
//! - context accesses follow `sock_ops_is_valid_access`/`sk_msg_is_valid_access`/
//!   `cg_sockopt_is_valid_access` (4-byte loads of `__u32` fields, ports included; writes
//!   only where allowed); loads through `bpf_sockopt.sk` follow `bpf_sock_is_valid_access`
//!   (read-only, at most 4 bytes, inside `struct bpf_sock`, no pointer arithmetic);
//! - stack accesses stay in the 512-byte frame and read only initialised bytes;
//! - map values are dereferenced only after a NULL check and inside `value_size`;
//! - helpers are allowed for the program type and get arguments of the right kinds (a key
//!   pointer with `key_size` readable bytes, the context where the context is expected);
//! - the program returns a known 0 or 1;
//! - no atomic instruction (rbpf cannot execute them) and no bpf-to-bpf call.

use asm::insn::op;
use asm::{Insn, Size};

use crate::kernel::{ProgKind, HANDLE_BASE};
use crate::maps::MapSpec;
use crate::uapi::{self, bpf_sock, helper, sk_buff, sk_msg, sock_ops, sockopt};

/// Why the check refused a program; `insn` is the slot index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("insn {insn}: {msg}")]
pub struct CheckError {
    /// Slot index.
    pub insn: usize,
    /// What is wrong.
    pub msg: String,
}

/// What the check learned about a program that passed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Every load from the context: (slot, context offset, size in bytes).
    pub ctx_loads: Vec<(usize, i64, usize)>,
    /// Every load through a `struct bpf_sock` pointer: (slot, field offset, size in bytes).
    pub sock_loads: Vec<(usize, i64, usize)>,
    /// Every helper call: (slot, helper id).
    pub calls: Vec<(usize, u32)>,
    /// Instructions the abstract interpretation visited (all of them, as none is unreachable).
    pub visited: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V {
    Uninit,
    Scalar(Option<i64>),
    Ctx(i64),
    Stack(i64),
    Map(usize),
    Value {
        map: usize,
        off: i64,
        null: bool,
    },
    /// `bpf_sockopt.sk`: a `struct bpf_sock` the program may read (`PTR_TO_SOCKET`, never
    /// NULL there).
    Sock,
    /// A pointer the program may not dereference (packet, socket, or after arithmetic the
    /// check does not follow).
    Ptr,
}

impl V {
    fn is_ptr(self) -> bool {
        !matches!(self, V::Uninit | V::Scalar(_))
    }
    fn merge(a: V, b: V) -> V {
        match (a, b) {
            _ if a == b => a,
            (V::Uninit, _) | (_, V::Uninit) => V::Uninit,
            (V::Scalar(_), V::Scalar(_)) => V::Scalar(None),
            (
                V::Value {
                    map: m1,
                    off: o1,
                    null: n1,
                },
                V::Value {
                    map: m2,
                    off: o2,
                    null: n2,
                },
            ) if m1 == m2 && o1 == o2 => V::Value {
                map: m1,
                off: o1,
                null: n1 || n2,
            },
            // NULL on one path, a map value on the other: still "value or NULL".
            (V::Scalar(Some(0)), V::Value { map, off, .. })
            | (V::Value { map, off, .. }, V::Scalar(Some(0))) => V::Value {
                map,
                off,
                null: true,
            },
            _ => V::Ptr,
        }
    }
}

#[derive(Debug, Clone)]
struct State {
    regs: [V; 11],
    init: [bool; 512],
    spills: [Option<V>; 64],
}

impl State {
    fn merge(&mut self, o: &State) {
        for i in 0..11 {
            self.regs[i] = V::merge(self.regs[i], o.regs[i]);
        }
        for i in 0..512 {
            self.init[i] &= o.init[i];
        }
        for i in 0..64 {
            self.spills[i] = match (self.spills[i], o.spills[i]) {
                (Some(a), Some(b)) => Some(V::merge(a, b)),
                _ => None,
            };
        }
    }
}

struct Checker<'a> {
    kind: ProgKind,
    maps: &'a [MapSpec],
    insns: &'a [Insn],
    report: Report,
}

fn err<T>(insn: usize, msg: impl Into<String>) -> Result<T, CheckError> {
    Err(CheckError {
        insn,
        msg: msg.into(),
    })
}

/// Checks `insns` (map references already bound to handles `HANDLE_BASE + index into
/// maps`) as a program of type `kind`.
pub fn check(insns: &[Insn], kind: ProgKind, maps: &[MapSpec]) -> Result<Report, CheckError> {
    let mut c = Checker {
        kind,
        maps,
        insns,
        report: Report::default(),
    };
    c.run()?;
    Ok(c.report)
}

impl Checker<'_> {
    fn ctx_access(&self, i: usize, off: i64, size: usize, write: bool) -> Result<V, CheckError> {
        let bad = || {
            err(
                i,
                format!("invalid bpf_context access off={off} size={size}"),
            )
        };
        let total = match self.kind {
            ProgKind::SockOps => sock_ops::SIZE,
            ProgKind::SkMsg => sk_msg::SIZE,
            ProgKind::Sockopt => sockopt::SIZE,
            ProgKind::CgroupSkb => sk_buff::SIZE,
        } as i64;
        if off < 0 || off + size as i64 > total || off % size as i64 != 0 {
            return bad();
        }
        let off_u = off as usize;
        match (self.kind, write) {
            (ProgKind::SockOps, true) => {
                let ok = ((sock_ops::REPLY..sock_ops::REPLY + 16).contains(&off_u)
                    || off_u == sock_ops::SK_TXHASH)
                    && size == 4;
                if ok {
                    Ok(V::Uninit)
                } else {
                    bad()
                }
            }
            (ProgKind::SockOps, false) => match off_u {
                sock_ops::BYTES_RECEIVED | sock_ops::BYTES_ACKED if size == 8 => {
                    Ok(V::Scalar(None))
                }
                sock_ops::SK | sock_ops::SKB_DATA | sock_ops::SKB_DATA_END if size == 8 => {
                    Ok(V::Ptr)
                }
                o if (sock_ops::SKB_TCP_FLAGS..sock_ops::SKB_TCP_FLAGS + 4).contains(&o) => {
                    Ok(V::Scalar(None))
                }
                o if o < sock_ops::BYTES_RECEIVED || o == sock_ops::SKB_LEN => {
                    if size == 4 {
                        Ok(V::Scalar(None))
                    } else {
                        bad()
                    }
                }
                _ => bad(),
            },
            (ProgKind::SkMsg, true) => bad(),
            (ProgKind::SkMsg, false) => match off_u {
                sk_msg::DATA | sk_msg::DATA_END | sk_msg::SK if size == 8 => Ok(V::Ptr),
                o if (sk_msg::FAMILY..sk_msg::SK).contains(&o) && size == 4 => Ok(V::Scalar(None)),
                _ => bad(),
            },
            // cg_sockopt_is_valid_access() for BPF_CGROUP_SETSOCKOPT.
            (ProgKind::Sockopt, true) => match off_u {
                sockopt::LEVEL | sockopt::OPTNAME | sockopt::OPTLEN if size == 4 => Ok(V::Uninit),
                _ => bad(),
            },
            (ProgKind::Sockopt, false) => match off_u {
                sockopt::SK if size == 8 => Ok(V::Sock),
                sockopt::OPTVAL | sockopt::OPTVAL_END if size == 8 => Ok(V::Ptr),
                sockopt::LEVEL | sockopt::OPTNAME | sockopt::OPTLEN if size == 4 => {
                    Ok(V::Scalar(None))
                }
                // retval is for BPF_CGROUP_GETSOCKOPT only.
                _ => bad(),
            },
            // cg_skb_is_valid_access(), without the packet pointers and the 64-bit fields.
            (ProgKind::CgroupSkb, true) => match off_u {
                sk_buff::MARK | sk_buff::PRIORITY if size == 4 => Ok(V::Uninit),
                o if (sk_buff::CB..sk_buff::CB + 20).contains(&o) && size == 4 => Ok(V::Uninit),
                _ => bad(),
            },
            (ProgKind::CgroupSkb, false) => match off_u {
                sk_buff::DATA | sk_buff::DATA_END => err(
                    i,
                    format!("off={off}: packet pointers are not modelled by the harness"),
                ),
                o if (o < sk_buff::DATA
                    || (sk_buff::FAMILY..=sk_buff::LOCAL_PORT).contains(&o))
                    && size == 4 =>
                {
                    Ok(V::Scalar(None))
                }
                _ => bad(),
            },
        }
    }

    /// A load through a `struct bpf_sock` pointer (`bpf_sock_is_valid_access`): read-only,
    /// inside the struct, aligned, at most 4 bytes (narrow loads of the `__u32` fields, of
    /// `dst_port` and of its zero padding are allowed).
    fn sock_access(&self, i: usize, off: i64, size: usize) -> Result<V, CheckError> {
        if off < 0
            || off + size as i64 > bpf_sock::SIZE as i64
            || size > 4
            || off % size as i64 != 0
        {
            return err(i, format!("invalid bpf_sock access off={off} size={size}"));
        }
        Ok(V::Scalar(None))
    }

    fn stack_range(i: usize, off: i64, len: usize) -> Result<std::ops::Range<usize>, CheckError> {
        if off < -512 || off + len as i64 > 0 || len == 0 {
            return err(i, format!("invalid stack access off={off} size={len}"));
        }
        let s = (512 + off) as usize;
        Ok(s..s + len)
    }

    /// A pointer to `len` readable bytes (helper argument `ARG_PTR_TO_MAP_KEY/VALUE`).
    fn mem_arg(
        &self,
        i: usize,
        st: &State,
        r: usize,
        len: usize,
        what: &str,
    ) -> Result<(), CheckError> {
        match st.regs[r] {
            V::Stack(off) => {
                let rg = Self::stack_range(i, off, len)?;
                if st.init[rg.clone()].iter().any(|b| !b) {
                    return err(i, format!("R{r} ({what}): invalid indirect read from stack off {off}+{} size {len}", rg.len()));
                }
                Ok(())
            }
            V::Value {
                map,
                off,
                null: false,
            } => {
                let vs = self.maps[map].value_size as i64;
                if off < 0 || off + len as i64 > vs {
                    return err(i, format!("R{r} ({what}): map value access off={off} size={len} beyond value_size={vs}"));
                }
                Ok(())
            }
            v => err(
                i,
                format!("R{r} ({what}) must point to {len} bytes of stack or map value, has {v:?}"),
            ),
        }
    }

    fn map_arg(&self, i: usize, st: &State, r: usize) -> Result<usize, CheckError> {
        match st.regs[r] {
            V::Map(m) => Ok(m),
            v => err(i, format!("R{r} must be a map, has {v:?}")),
        }
    }

    fn scalar_arg(i: usize, st: &State, r: usize) -> Result<(), CheckError> {
        match st.regs[r] {
            V::Scalar(_) => Ok(()),
            v => err(i, format!("R{r} must be a scalar, has {v:?}")),
        }
    }

    fn ctx_arg(i: usize, st: &State, r: usize) -> Result<(), CheckError> {
        match st.regs[r] {
            V::Ctx(0) => Ok(()),
            v => err(i, format!("R{r} must be the context, has {v:?}")),
        }
    }

    fn call(&mut self, i: usize, st: &mut State, id: u32) -> Result<(), CheckError> {
        let allowed: &[u32] = match self.kind {
            ProgKind::SockOps => &[
                helper::MAP_LOOKUP_ELEM,
                helper::MAP_UPDATE_ELEM,
                helper::MAP_DELETE_ELEM,
                helper::SOCK_OPS_CB_FLAGS_SET,
                helper::SOCK_HASH_UPDATE,
                helper::GET_NETNS_COOKIE,
            ],
            ProgKind::SkMsg => &[
                helper::MAP_LOOKUP_ELEM,
                helper::MAP_UPDATE_ELEM,
                helper::MAP_DELETE_ELEM,
                helper::MSG_REDIRECT_HASH,
                helper::GET_NETNS_COOKIE,
            ],
            // The map helpers of every program type (the harness emulates no others).
            ProgKind::CgroupSkb => &[
                helper::MAP_LOOKUP_ELEM,
                helper::MAP_UPDATE_ELEM,
                helper::MAP_DELETE_ELEM,
            ],
            // cg_sockopt_func_proto(): the cgroup base helpers and bpf_get_netns_cookie.
            ProgKind::Sockopt => &[
                helper::MAP_LOOKUP_ELEM,
                helper::MAP_UPDATE_ELEM,
                helper::MAP_DELETE_ELEM,
                helper::GET_NETNS_COOKIE,
            ],
        };
        if !allowed.contains(&id) {
            return err(
                i,
                format!("helper #{id} is not emulated for {:?} programs", self.kind),
            );
        }
        self.report.calls.push((i, id));
        let mut r0 = V::Scalar(None);
        match id {
            helper::MAP_LOOKUP_ELEM | helper::MAP_UPDATE_ELEM | helper::MAP_DELETE_ELEM => {
                let m = self.map_arg(i, st, 1)?;
                let spec = &self.maps[m];
                if spec.map_type == uapi::MAP_TYPE_SOCKHASH && id != helper::MAP_DELETE_ELEM {
                    return err(
                        i,
                        "map lookup/update on a sockhash from a program is not emulated",
                    );
                }
                self.mem_arg(i, st, 2, spec.key_size as usize, "key")?;
                if id == helper::MAP_UPDATE_ELEM {
                    self.mem_arg(i, st, 3, spec.value_size as usize, "value")?;
                    Self::scalar_arg(i, st, 4)?;
                }
                if id == helper::MAP_LOOKUP_ELEM {
                    r0 = V::Value {
                        map: m,
                        off: 0,
                        null: true,
                    };
                }
            }
            helper::SOCK_HASH_UPDATE | helper::MSG_REDIRECT_HASH => {
                Self::ctx_arg(i, st, 1)?;
                let m = self.map_arg(i, st, 2)?;
                if self.maps[m].map_type != uapi::MAP_TYPE_SOCKHASH {
                    return err(i, format!("map `{}` is not a sockhash", self.maps[m].name));
                }
                self.mem_arg(i, st, 3, self.maps[m].key_size as usize, "key")?;
                Self::scalar_arg(i, st, 4)?;
            }
            helper::GET_NETNS_COOKIE => {
                if st.regs[1] != V::Scalar(Some(0)) {
                    Self::ctx_arg(i, st, 1)?;
                }
            }
            helper::SOCK_OPS_CB_FLAGS_SET => {
                Self::ctx_arg(i, st, 1)?;
                Self::scalar_arg(i, st, 2)?;
            }
            _ => unreachable!("checked against the allowed list"),
        }
        st.regs[0] = r0;
        for r in 1..=5 {
            st.regs[r] = V::Uninit;
        }
        Ok(())
    }

    fn run(&mut self) -> Result<(), CheckError> {
        let n = self.insns.len();
        let mut states: Vec<Option<State>> = vec![None; n + 1];
        let mut regs = [V::Uninit; 11];
        regs[1] = V::Ctx(0);
        regs[10] = V::Stack(0);
        states[0] = Some(State {
            regs,
            init: [false; 512],
            spills: [None; 64],
        });
        let mut starts = vec![true; n + 1];
        let mut k = 0;
        while k < n {
            if self.insns[k].is_lddw() {
                starts[k + 1] = false;
                k += 2;
            } else {
                k += 1;
            }
        }
        let mut i = 0;
        while i < n {
            let insn = self.insns[i];
            let wide = insn.is_lddw();
            let Some(mut st) = states[i].take() else {
                return err(i, "unreachable insn");
            };
            self.report.visited += 1;
            let class = insn.class();
            let dst = insn.dst as usize;
            let src = insn.src as usize;
            if dst > 10 || src > 10 {
                return err(i, "invalid register");
            }
            let mut targets: Vec<(usize, State)> = Vec::new();
            let mut falls = true;
            match class {
                op::ALU64 | op::ALU => {
                    let opn = insn.operation();
                    // For byte swaps the X bit selects the direction, not a source register.
                    let is_x = insn.is_x() && opn != op::END && opn != op::NEG;
                    let s = if is_x {
                        st.regs[src]
                    } else {
                        V::Scalar(Some(insn.imm as i64))
                    };
                    if s == V::Uninit || (opn != op::MOV && st.regs[dst] == V::Uninit) {
                        return err(
                            i,
                            format!("R{} !read_ok", if s == V::Uninit { src } else { dst }),
                        );
                    }
                    let d = st.regs[dst];
                    st.regs[dst] = if class == op::ALU {
                        if (d.is_ptr() || s.is_ptr()) && opn != op::MOV {
                            return err(i, "32-bit arithmetic on a pointer");
                        }
                        match (opn, s) {
                            (op::MOV, V::Scalar(Some(k))) if insn.off == 0 => {
                                V::Scalar(Some(k as u32 as i64))
                            }
                            _ => V::Scalar(None),
                        }
                    } else {
                        match (opn, d, s) {
                            (op::MOV, _, _) if insn.off == 0 => s,
                            (op::ADD | op::SUB, _, V::Scalar(Some(k))) => {
                                let k = if opn == op::SUB { k.wrapping_neg() } else { k };
                                match d {
                                    V::Ctx(o) => V::Ctx(o + k),
                                    V::Stack(o) => V::Stack(o + k),
                                    V::Value { map, off, null: false } => V::Value { map, off: off + k, null: false },
                                    V::Scalar(Some(a)) => V::Scalar(Some(a.wrapping_add(k))),
                                    V::Scalar(None) => V::Scalar(None),
                                    _ => return err(i, "arithmetic on a pointer that may be NULL or is not tracked"),
                                }
                            }
                            (_, V::Scalar(_), V::Scalar(_)) => V::Scalar(None),
                            _ if d.is_ptr() => V::Ptr,
                            _ => return err(i, "pointer used as an arithmetic operand"),
                        }
                    };
                    if opn == op::END && d.is_ptr() {
                        return err(i, "byte swap of a pointer");
                    }
                }
                op::LDX => {
                    let size = Size::from_opcode(insn.code).bytes();
                    if insn.mode() != op::MEM {
                        return err(i, "sign-extending loads are not executed by rbpf 0.4");
                    }
                    let v = match st.regs[src] {
                        V::Ctx(o) => {
                            let a = o + insn.off as i64;
                            self.report.ctx_loads.push((i, a, size));
                            self.ctx_access(i, a, size, false)?
                        }
                        V::Stack(o) => {
                            let a = o + insn.off as i64;
                            let rg = Self::stack_range(i, a, size)?;
                            if st.init[rg.clone()].iter().any(|b| !b) {
                                return err(
                                    i,
                                    format!("invalid read from stack off {a} size {size}"),
                                );
                            }
                            if size == 8 && a % 8 == 0 {
                                st.spills[rg.start / 8].unwrap_or(V::Scalar(None))
                            } else {
                                V::Scalar(None)
                            }
                        }
                        V::Value {
                            map,
                            off,
                            null: false,
                        } => {
                            let a = off + insn.off as i64;
                            let vs = self.maps[map].value_size as i64;
                            if a < 0 || a + size as i64 > vs {
                                return err(i, format!("invalid access to map value, value_size={vs} off={a} size={size}"));
                            }
                            V::Scalar(None)
                        }
                        V::Sock => {
                            let a = insn.off as i64;
                            self.report.sock_loads.push((i, a, size));
                            self.sock_access(i, a, size)?
                        }
                        V::Value { null: true, .. } => {
                            return err(i, format!("R{src} invalid mem access 'map_value_or_null'"))
                        }
                        v => return err(i, format!("R{src} invalid mem access ({v:?})")),
                    };
                    st.regs[dst] = v;
                }
                op::ST | op::STX => {
                    let size = Size::from_opcode(insn.code).bytes();
                    if insn.mode() == op::ATOMIC {
                        return err(i, "atomic instructions are not executed by rbpf 0.4");
                    }
                    let val = if class == op::STX {
                        st.regs[src]
                    } else {
                        V::Scalar(Some(insn.imm as i64))
                    };
                    if val == V::Uninit {
                        return err(i, format!("R{src} !read_ok"));
                    }
                    match st.regs[dst] {
                        V::Stack(o) => {
                            let a = o + insn.off as i64;
                            let rg = Self::stack_range(i, a, size)?;
                            for b in rg.clone() {
                                st.init[b] = true;
                            }
                            for slot in rg.start / 8..=(rg.end - 1) / 8 {
                                st.spills[slot] = None;
                            }
                            if size == 8 && a % 8 == 0 && val.is_ptr() {
                                st.spills[rg.start / 8] = Some(val);
                            } else if val.is_ptr() {
                                return err(i, "partial spill of a pointer");
                            }
                        }
                        V::Value {
                            map,
                            off,
                            null: false,
                        } => {
                            let a = off + insn.off as i64;
                            let vs = self.maps[map].value_size as i64;
                            if a < 0 || a + size as i64 > vs {
                                return err(i, format!("invalid access to map value, value_size={vs} off={a} size={size}"));
                            }
                            if val.is_ptr() {
                                return err(i, "storing a pointer into a map value");
                            }
                        }
                        // The kernel converts context stores from registers only.
                        V::Ctx(_) if class == op::ST => {
                            return err(i, format!("BPF_ST stores into R{dst} ctx is not allowed"))
                        }
                        V::Ctx(o) => {
                            self.ctx_access(i, o + insn.off as i64, size, true)?;
                        }
                        v => return err(i, format!("R{dst} invalid mem access ({v:?})")),
                    }
                }
                op::LD => {
                    if !wide || i + 1 >= n {
                        return err(i, "legacy packet loads are not allowed here");
                    }
                    st.regs[dst] = match insn.src {
                        op::PSEUDO_IMM64 => V::Scalar(Some(
                            (insn.imm as u32 as i64) | ((self.insns[i + 1].imm as i64) << 32),
                        )),
                        op::PSEUDO_MAP_FD => {
                            let idx = insn.imm as i64 - HANDLE_BASE as i64;
                            if idx < 0 || idx as usize >= self.maps.len() {
                                return err(i, format!("lddw of unknown map handle {}", insn.imm));
                            }
                            V::Map(idx as usize)
                        }
                        s => return err(i, format!("lddw source {s} is not emulated")),
                    };
                }
                _ => {
                    // JMP / JMP32
                    let opn = insn.operation();
                    match opn {
                        op::EXIT => {
                            if class != op::JMP {
                                return err(i, "bad exit");
                            }
                            match st.regs[0] {
                                V::Scalar(Some(0 | 1)) => {}
                                v => {
                                    return err(
                                        i,
                                        format!(
                                            "At program exit R0 must be a known 0 or 1, has {v:?}"
                                        ),
                                    )
                                }
                            }
                            falls = false;
                        }
                        op::CALL => {
                            if insn.src != op::CALL_HELPER {
                                return err(i, "bpf-to-bpf and kfunc calls are not emulated");
                            }
                            self.call(i, &mut st, insn.imm as u32)?;
                        }
                        _ => {
                            let off = insn.jump_offset().unwrap_or(0) as i64;
                            if off < 0 {
                                return err(i, format!("backward jump (off {off}): rbpf has no instruction budget, so every jump must go forward"));
                            }
                            let t = i as i64 + 1 + off;
                            if t as usize >= n {
                                return err(i, format!("jump out of range to {t}"));
                            }
                            if opn == op::JA {
                                falls = false;
                                targets.push((t as usize, st.clone()));
                            } else {
                                let is_x = insn.is_x();
                                if !is_x
                                    && class == op::JMP
                                    && insn.imm < 0
                                    && matches!(
                                        opn,
                                        op::JEQ | op::JNE | op::JGT | op::JGE | op::JLT | op::JLE
                                    )
                                {
                                    return err(i, format!(
                                        "64-bit jump compares against negative immediate {}: rbpf zero-extends it, the kernel sign-extends it; use the 32-bit form or a register",
                                        insn.imm
                                    ));
                                }
                                if st.regs[dst] == V::Uninit || (is_x && st.regs[src] == V::Uninit)
                                {
                                    return err(i, "jump compares an uninitialised register");
                                }
                                let mut taken = st.clone();
                                // NULL checks of map values (64-bit compare with 0).
                                if class == op::JMP && !is_x && insn.imm == 0 {
                                    if let V::Value {
                                        map,
                                        off,
                                        null: true,
                                    } = st.regs[dst]
                                    {
                                        let nonnull = V::Value {
                                            map,
                                            off,
                                            null: false,
                                        };
                                        match opn {
                                            op::JEQ => {
                                                taken.regs[dst] = V::Scalar(Some(0));
                                                st.regs[dst] = nonnull;
                                            }
                                            op::JNE => {
                                                taken.regs[dst] = nonnull;
                                                st.regs[dst] = V::Scalar(Some(0));
                                            }
                                            _ => {}
                                        }
                                    }
                                }
                                targets.push((t as usize, taken));
                            }
                        }
                    }
                }
            }
            let next = i + if wide { 2 } else { 1 };
            if falls {
                if next >= n {
                    return err(i, "control falls off the end of the program");
                }
                targets.push((next, st));
            }
            for (t, s) in targets {
                if !starts[t] {
                    return err(i, format!("jump into the middle of an lddw at {t}"));
                }
                match &mut states[t] {
                    Some(e) => e.merge(&s),
                    slot => *slot = Some(s),
                }
            }
            i = next;
        }
        Ok(())
    }
}
