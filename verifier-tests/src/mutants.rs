//! Deliberately wrong variants of the real programs, made by surgery on their instruction
//! vectors (instructions found through the static check's record of context loads and
//! helper calls, and through the programs' map references), never by copying the builders.
//! The mutation test asserts that the properties catch every one of them: evidence that
//! the properties can fail.

use asm::insn::op;
use asm::{AluOp, Insn, JmpOp, Program, Reg};

use crate::check;
use crate::kernel::ProgKind;
use crate::maps::MapSpec;
use crate::uapi::{bpf_sock, helper, sk_msg, sock_ops};
use crate::vm;

/// Why a mutation could not be made (the program no longer has the expected shape).
#[derive(Debug, thiserror::Error)]
#[error("mutation `{mutation}`: {msg}")]
pub struct MutationError {
    /// Which mutation.
    pub mutation: &'static str,
    /// What was not found.
    pub msg: String,
}

fn fail<T>(mutation: &'static str, msg: impl Into<String>) -> Result<T, MutationError> {
    Err(MutationError {
        mutation,
        msg: msg.into(),
    })
}

/// `p` with its instructions replaced by `insns` (same length), keeping map references and
/// labels.
fn with_insns(p: &Program, insns: Vec<Insn>) -> Program {
    let mut q = Program::from_insns(insns);
    for r in p.map_refs() {
        q.add_map_ref(r.clone());
    }
    for (i, ls) in p.labels() {
        for l in ls {
            q.add_label(*i, l);
        }
    }
    q
}

fn report(
    p: &Program,
    kind: ProgKind,
    maps: &[MapSpec],
    m: &'static str,
) -> Result<check::Report, MutationError> {
    let bound = vm::bind(p, maps).map_err(|e| MutationError {
        mutation: m,
        msg: e.to_string(),
    })?;
    check::check(&bound, kind, maps).map_err(|e| MutationError {
        mutation: m,
        msg: e.to_string(),
    })
}

/// The context offsets of the local and remote port (the guard reads them from its
/// `struct bpf_sock`, not from the context: `None`).
fn ports(kind: ProgKind) -> Option<(i64, i64)> {
    match kind {
        ProgKind::SockOps => Some((sock_ops::LOCAL_PORT as i64, sock_ops::REMOTE_PORT as i64)),
        ProgKind::SkMsg => Some((sk_msg::LOCAL_PORT as i64, sk_msg::REMOTE_PORT as i64)),
        ProgKind::Sockopt | ProgKind::CgroupSkb => None,
    }
}

fn ctx_ports(kind: ProgKind, m: &'static str) -> Result<(i64, i64), MutationError> {
    match ports(kind) {
        Some(p) => Ok(p),
        None => fail(m, "this program reads its ports from a struct bpf_sock"),
    }
}

/// Swapped ports: every load of `local_port` reads `remote_port` and vice versa.
pub fn swapped_ports(
    p: &Program,
    kind: ProgKind,
    maps: &[MapSpec],
) -> Result<Program, MutationError> {
    const M: &str = "swapped ports";
    let r = report(p, kind, maps, M)?;
    let (l, rm) = ctx_ports(kind, M)?;
    let mut insns = p.insns().to_vec();
    let mut n = 0;
    for (i, off, _) in &r.ctx_loads {
        let base = insns[*i].off as i64 - off;
        if *off == l {
            insns[*i].off = (base + rm) as i16;
            n += 1;
        } else if *off == rm {
            insns[*i].off = (base + l) as i16;
            n += 1;
        }
    }
    if n < 2 {
        return fail(M, "no port loads found");
    }
    Ok(with_insns(p, insns))
}

/// Missing byte swap on `remote_port`: the first byte swap after each `remote_port` load
/// becomes `mov64 rX, rX`.
pub fn no_remote_port_swap(
    p: &Program,
    kind: ProgKind,
    maps: &[MapSpec],
) -> Result<Program, MutationError> {
    const M: &str = "missing byte swap on remote_port";
    let r = report(p, kind, maps, M)?;
    let (_, rm) = ctx_ports(kind, M)?;
    let mut insns = p.insns().to_vec();
    let mut n = 0;
    for (i, off, _) in &r.ctx_loads {
        if *off != rm {
            continue;
        }
        let Some(j) = (i + 1..insns.len()).find(|j| {
            insns[*j].operation() == op::END && matches!(insns[*j].class(), op::ALU | op::ALU64)
        }) else {
            return fail(M, format!("no byte swap after the remote_port load at {i}"));
        };
        let reg = Reg::from_num(insns[j].dst).expect("valid register");
        insns[j] = Insn::alu64(AluOp::Mov, reg, reg);
        n += 1;
    }
    if n == 0 {
        return fail(M, "no remote_port load");
    }
    Ok(with_insns(p, insns))
}

/// Missing netns cookie: every `call bpf_get_netns_cookie` becomes `mov64 r0, 0`.
pub fn no_netns_cookie(
    p: &Program,
    kind: ProgKind,
    maps: &[MapSpec],
) -> Result<Program, MutationError> {
    const M: &str = "missing netns cookie";
    let r = report(p, kind, maps, M)?;
    let mut insns = p.insns().to_vec();
    let mut n = 0;
    for (i, id) in &r.calls {
        if *id == helper::GET_NETNS_COOKIE {
            insns[*i] = Insn::alu64(AluOp::Mov, Reg::R0, 0);
            n += 1;
        }
    }
    if n == 0 {
        return fail(M, "the program never calls bpf_get_netns_cookie");
    }
    Ok(with_insns(p, insns))
}

/// Inverted eligibility: the NULL test after the PREFIXES lookup is inverted, so addresses
/// outside the prefixes are bypassed and those inside are not.
pub fn inverted_eligibility(p: &Program, prefixes_map: &str) -> Result<Program, MutationError> {
    const M: &str = "inverted eligibility";
    let Some(ld) = p.map_refs().iter().find(|r| r.name == prefixes_map) else {
        return fail(M, format!("no reference to `{prefixes_map}`"));
    };
    let mut insns = p.insns().to_vec();
    let call = (ld.insn..insns.len()).find(|i| {
        insns[*i].code == op::JMP | op::CALL && insns[*i].imm == helper::MAP_LOOKUP_ELEM as i32
    });
    let Some(call) = call else {
        return fail(M, "no lookup after the PREFIXES reference");
    };
    let j = call + 1;
    let Some(off) = insns[j].jump_offset() else {
        return fail(M, "the lookup is not followed by a test");
    };
    let cond = match JmpOp::from_code(insns[j].code) {
        Some(JmpOp::Eq) => JmpOp::Ne,
        Some(JmpOp::Ne) => JmpOp::Eq,
        other => return fail(M, format!("unexpected test {other:?}")),
    };
    let reg = Reg::from_num(insns[j].dst).expect("valid register");
    insns[j] = Insn::jmp(
        cond,
        reg,
        insns[j].imm,
        off as i16,
        insns[j].class() == op::JMP,
    );
    Ok(with_insns(p, insns))
}

/// A 16-bit load of the network-order half of `remote_port` (the narrow load verifiers
/// reject): the first `remote_port` load becomes `ldxh` at offset + 2.
pub fn narrow_port_load(
    p: &Program,
    kind: ProgKind,
    maps: &[MapSpec],
) -> Result<(Program, usize), MutationError> {
    const M: &str = "16-bit load of remote_port";
    let r = report(p, kind, maps, M)?;
    let (_, rm) = ctx_ports(kind, M)?;
    let Some((i, _, _)) = r.ctx_loads.iter().find(|(_, off, _)| *off == rm) else {
        return fail(M, "no remote_port load");
    };
    let mut insns = p.insns().to_vec();
    let old = insns[*i];
    insns[*i] = Insn::ldx(
        asm::Size::H,
        Reg::from_num(old.dst).expect("valid"),
        Reg::from_num(old.src).expect("valid"),
        old.off + 2,
    );
    Ok((with_insns(p, insns), *i))
}

/// No taint: `sk_msg`'s only `call bpf_map_update_elem` (the TAINT write to PEERS) becomes
/// `mov64 r0, 0`, so the program believes it tainted the socket but wrote nothing: a server
/// established later claims a client that already sent through TCP.
pub fn no_taint_write(p: &Program, maps: &[MapSpec]) -> Result<Program, MutationError> {
    const M: &str = "no TAINT write in sk_msg";
    let r = report(p, ProgKind::SkMsg, maps, M)?;
    let updates: Vec<usize> = r
        .calls
        .iter()
        .filter(|(_, id)| *id == helper::MAP_UPDATE_ELEM)
        .map(|(i, _)| *i)
        .collect();
    let [at] = updates[..] else {
        return fail(
            M,
            format!("expected one map update, found {}", updates.len()),
        );
    };
    let mut insns = p.insns().to_vec();
    insns[at] = Insn::alu64(AluOp::Mov, Reg::R0, 0);
    Ok(with_insns(p, insns))
}

/// The last instruction before `call` that sets `reg`, if it is `mov64 reg, imm`.
fn imm_set_before(insns: &[Insn], call: usize, reg: Reg) -> Option<usize> {
    let i = (0..call)
        .rev()
        .find(|i| insns[*i].dst == reg.num() && is_write(&insns[*i]))?;
    (insns[i] == Insn::alu64(AluOp::Mov, reg, insns[i].imm)).then_some(i)
}

fn is_write(i: &Insn) -> bool {
    matches!(i.class(), op::ALU | op::ALU64 | op::LDX | op::LD)
}

/// Claim with `BPF_ANY`: in `sock_ops`, every `bpf_map_update_elem` called with
/// `r4 = BPF_NOEXIST` (the server's claim on its client's PEERS entry) gets `BPF_ANY`, so the
/// server overwrites a client's TAINT and pairs with a client that already sent through TCP.
pub fn claim_with_any(p: &Program, maps: &[MapSpec]) -> Result<Program, MutationError> {
    const M: &str = "server claim with BPF_ANY";
    let r = report(p, ProgKind::SockOps, maps, M)?;
    let mut insns = p.insns().to_vec();
    let mut n = 0;
    for (call, id) in &r.calls {
        if *id != helper::MAP_UPDATE_ELEM {
            continue;
        }
        if let Some(i) = imm_set_before(&insns, *call, Reg::R4) {
            if insns[i].imm == crate::uapi::BPF_NOEXIST as i32 {
                insns[i].imm = crate::uapi::BPF_ANY as i32;
                n += 1;
            }
        }
    }
    if n == 0 {
        return fail(M, "no map update with BPF_NOEXIST");
    }
    Ok(with_insns(p, insns))
}

/// The server does not compare the handshake's sequence numbers: in `sock_ops`, each
/// `jne` right after a context load of `rcv_nxt` or `snd_nxt` (the server's checks against
/// the waiting client's `Waiting` value) becomes `mov64 r1, 0`, so a server pairs with
/// whichever client waits under its remote endpoint, also another connection's client that
/// shares the ephemeral port.
pub fn no_seq_check(p: &Program, maps: &[MapSpec]) -> Result<Program, MutationError> {
    const M: &str = "server skips the sequence number check";
    let r = report(p, ProgKind::SockOps, maps, M)?;
    let mut insns = p.insns().to_vec();
    let mut n = 0;
    for (slot, off, _) in &r.ctx_loads {
        if *off != sock_ops::RCV_NXT as i64 && *off != sock_ops::SND_NXT as i64 {
            continue;
        }
        if let Some(next) = insns.get(slot + 1) {
            if next.class() == op::JMP && next.code & 0xf0 == op::JNE && next.code & op::X != 0 {
                insns[slot + 1] = Insn::alu64(AluOp::Mov, Reg::R1, 0);
                n += 1;
            }
        }
    }
    if n == 0 {
        return fail(M, "no jne after a load of rcv_nxt or snd_nxt");
    }
    Ok(with_insns(p, insns))
}

/// The guard's `bpf_map_update_elem` calls whose flags register (r4) is set to `flags` by a
/// `mov64 r4, imm` right before: (call slot, mov slot).
fn guard_updates(
    p: &Program,
    maps: &[MapSpec],
    flags: u64,
    m: &'static str,
) -> Result<Vec<(usize, usize)>, MutationError> {
    let r = report(p, ProgKind::Sockopt, maps, m)?;
    let insns = p.insns();
    let found: Vec<(usize, usize)> = r
        .calls
        .iter()
        .filter(|(_, id)| *id == helper::MAP_UPDATE_ELEM)
        .filter_map(|(call, _)| {
            let i = imm_set_before(insns, *call, Reg::R4)?;
            (insns[i].imm == flags as i32).then_some((*call, i))
        })
        .collect();
    if found.is_empty() {
        return fail(m, format!("no map update with flags {flags}"));
    }
    Ok(found)
}

/// The setsockopt guard taints only its own entry: its `BPF_EXIST` write over the peer's
/// PEERS entry becomes `mov64 r0, 0`, so the peer keeps redirecting into a socket whose
/// application set a guarded option.
pub fn guard_taints_own_only(p: &Program, maps: &[MapSpec]) -> Result<Program, MutationError> {
    const M: &str = "setsockopt guard taints only its own entry";
    let found = guard_updates(p, maps, crate::uapi::BPF_EXIST, M)?;
    let mut insns = p.insns().to_vec();
    for (call, _) in found {
        insns[call] = Insn::alu64(AluOp::Mov, Reg::R0, 0);
    }
    Ok(with_insns(p, insns))
}

/// The setsockopt guard writes the peer's entry with `BPF_ANY` instead of `BPF_EXIST`: a peer
/// that already closed gets a TAINT entry back, which nothing ever deletes.
pub fn guard_peer_with_any(p: &Program, maps: &[MapSpec]) -> Result<Program, MutationError> {
    const M: &str = "setsockopt guard writes the peer's entry with BPF_ANY";
    let found = guard_updates(p, maps, crate::uapi::BPF_EXIST, M)?;
    let mut insns = p.insns().to_vec();
    for (_, mov) in found {
        insns[mov].imm = crate::uapi::BPF_ANY as i32;
    }
    Ok(with_insns(p, insns))
}

/// The setsockopt guard reads `bpf_sock.dst_port` from the upper half of its 32-bit load (as
/// `bpf_sock_ops` and `sk_msg_md` keep `remote_port`): the byte swap after the load becomes
/// `rsh32 rX, 16`. The upper half is the zero padding, so the key's remote port is 0 (as
/// with a shift then a swap): the guard's key never matches a PEERS entry.
pub fn guard_dst_port_upper(p: &Program, maps: &[MapSpec]) -> Result<Program, MutationError> {
    const M: &str = "setsockopt guard reads dst_port from the upper half";
    let r = report(p, ProgKind::Sockopt, maps, M)?;
    let mut insns = p.insns().to_vec();
    let mut n = 0;
    for (i, off, size) in &r.sock_loads {
        if *off != bpf_sock::DST_PORT as i64 || *size != 4 {
            continue;
        }
        let Some(j) = (i + 1..insns.len()).find(|j| {
            insns[*j].operation() == op::END && matches!(insns[*j].class(), op::ALU | op::ALU64)
        }) else {
            return fail(M, format!("no byte swap after the dst_port load at {i}"));
        };
        let reg = Reg::from_num(insns[j].dst).expect("valid register");
        insns[j] = Insn::alu32(AluOp::Rsh, reg, 16);
        n += 1;
    }
    if n == 0 {
        return fail(M, "no 32-bit dst_port load");
    }
    Ok(with_insns(p, insns))
}

/// The setsockopt guard ignores the option's level: every `jne32 r, level` before the
/// `optname` test becomes `mov64 r0, 0`, so an option of another level with the number of a
/// guarded one (`SO_MARK` = 36 = `TCP_INQ`, `TCP_USER_TIMEOUT` = 18 = `SO_RCVLOWAT`) moves
/// the connection to TCP.
pub fn guard_ignores_level(p: &Program) -> Result<Program, MutationError> {
    const M: &str = "setsockopt guard ignores the level";
    let mut insns = p.insns().to_vec();
    let mut n = 0;
    for i in 0..insns.len().saturating_sub(1) {
        let (a, b) = (insns[i], insns[i + 1]);
        let jmp32 = |x: &Insn, o| x.code == op::JMP32 | o | op::K;
        if jmp32(&a, op::JNE) && jmp32(&b, op::JEQ) && a.dst != b.dst {
            insns[i] = Insn::alu64(AluOp::Mov, Reg::R0, 0);
            n += 1;
        }
    }
    if n == 0 {
        return fail(M, "no level test followed by an optname test");
    }
    Ok(with_insns(p, insns))
}
