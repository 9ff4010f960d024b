//! rtnetlink, as far as classic tc needs it: a `NETLINK_ROUTE` socket that sends one request
//! at a time and waits for its acknowledgement, and the encoding of `struct tcmsg` requests
//! with their attributes. Layouts and numbers are those of `linux/netlink.h`,
//! `linux/rtnetlink.h`, `linux/pkt_sched.h` and `linux/pkt_cls.h` (checked in this module's
//! tests against the system headers when present).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::SyscallError;

/// `RTM_NEWQDISC`.
pub const RTM_NEWQDISC: u16 = 36;
/// `RTM_NEWTFILTER`.
pub const RTM_NEWTFILTER: u16 = 44;
/// `RTM_DELTFILTER`.
pub const RTM_DELTFILTER: u16 = 45;
/// `NLMSG_ERROR`: the acknowledgement (error 0) or the failure of a request.
pub const NLMSG_ERROR: u16 = 2;
/// `NLM_F_REQUEST`.
pub const NLM_F_REQUEST: u16 = 0x01;
/// `NLM_F_ACK`.
pub const NLM_F_ACK: u16 = 0x04;
/// `NLM_F_EXCL`: fail with EEXIST when the object exists.
pub const NLM_F_EXCL: u16 = 0x200;
/// `NLM_F_CREATE`.
pub const NLM_F_CREATE: u16 = 0x400;
/// `TCA_KIND`: the qdisc or classifier name.
pub const TCA_KIND: u16 = 1;
/// `TCA_OPTIONS`: the classifier's nested options.
pub const TCA_OPTIONS: u16 = 2;
/// `TCA_BPF_FD`: the program fd (cls_bpf).
pub const TCA_BPF_FD: u16 = 6;
/// `TCA_BPF_NAME`: a name shown by `tc filter show`.
pub const TCA_BPF_NAME: u16 = 7;
/// `TCA_BPF_FLAGS`.
pub const TCA_BPF_FLAGS: u16 = 8;
/// `TCA_BPF_FLAG_ACT_DIRECT`: direct action (the program's return value is the verdict).
pub const TCA_BPF_FLAG_ACT_DIRECT: u32 = 1;
/// `TC_H_CLSACT` (= `TC_H_INGRESS`): the clsact qdisc's parent.
pub const TC_H_CLSACT: u32 = 0xFFFF_FFF1;
/// `TC_H_MIN_INGRESS`.
pub const TC_H_MIN_INGRESS: u32 = 0xFFF2;
/// `TC_H_MIN_EGRESS`.
pub const TC_H_MIN_EGRESS: u32 = 0xFFF3;
/// `ETH_P_ALL`: a filter for every protocol.
pub const ETH_P_ALL: u16 = 0x0003;

/// `TC_H_MAKE(maj, min)`.
pub fn tc_h_make(maj: u32, min: u32) -> u32 {
    (maj & 0xFFFF_0000) | (min & 0x0000_FFFF)
}

fn align4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// Appends a `struct rtattr` of type `ty` holding `data`, padded to 4 bytes.
pub fn put_attr(buf: &mut Vec<u8>, ty: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(align4(buf.len()), 0);
}

/// Appends a nested attribute of type `ty` whose contents `f` appends.
pub fn put_nested(buf: &mut Vec<u8>, ty: u16, f: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(&ty.to_ne_bytes());
    f(buf);
    let len = (buf.len() - start) as u16;
    buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
}

/// A `struct tcmsg` (20 bytes: family, two pad fields, ifindex, handle, parent, info).
pub fn tcmsg(ifindex: u32, handle: u32, parent: u32, info: u32) -> Vec<u8> {
    let mut b = vec![0u8; 4]; // tcm_family = AF_UNSPEC, tcm__pad1, tcm__pad2
    for v in [ifindex, handle, parent, info] {
        b.extend_from_slice(&v.to_ne_bytes());
    }
    b
}

/// A whole netlink message: `struct nlmsghdr` (length, type, flags, sequence, port id 0)
/// followed by `body`.
pub fn message(msg_type: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let len = 16 + body.len();
    let mut b = Vec::with_capacity(len);
    b.extend_from_slice(&(len as u32).to_ne_bytes());
    b.extend_from_slice(&msg_type.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(body);
    b
}

/// The outcome the kernel reported for request `seq` among the messages in `buf`: `Some(0)`
/// for an acknowledgement, `Some(-errno)` for a failure, `None` when `buf` holds no answer to
/// `seq`.
pub fn ack_of(buf: &[u8], seq: u32) -> Option<i32> {
    let mut off = 0;
    while off + 16 <= buf.len() {
        let len = u32::from_ne_bytes(buf[off..off + 4].try_into().ok()?) as usize;
        let ty = u16::from_ne_bytes(buf[off + 4..off + 6].try_into().ok()?);
        let s = u32::from_ne_bytes(buf[off + 8..off + 12].try_into().ok()?);
        if len < 16 || off + len > buf.len() {
            return None;
        }
        if ty == NLMSG_ERROR && s == seq && len >= 20 {
            return Some(i32::from_ne_bytes(buf[off + 16..off + 20].try_into().ok()?));
        }
        off += align4(len);
    }
    None
}

/// A `NETLINK_ROUTE` socket of the calling thread's network namespace.
#[derive(Debug)]
pub struct Rtnl {
    fd: OwnedFd,
    seq: u32,
}

impl Rtnl {
    /// Opens and binds the socket.
    pub fn open() -> Result<Rtnl, SyscallError> {
        // SAFETY: socket() with constant arguments; the fd returned is ours.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(SyscallError::new(
                "socket(NETLINK_ROUTE)",
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: the kernel just returned this fd; nobody else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: a zeroed sockaddr_nl is valid; bind reads `size_of` bytes of it.
        let r = unsafe {
            let mut sa: libc::sockaddr_nl = std::mem::zeroed();
            sa.nl_family = libc::AF_NETLINK as u16;
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if r < 0 {
            return Err(SyscallError::new(
                "bind(NETLINK_ROUTE)",
                io::Error::last_os_error(),
            ));
        }
        Ok(Rtnl { fd, seq: 1 })
    }

    /// Sends request `msg_type` with `flags` (`NLM_F_REQUEST | NLM_F_ACK` are added) and
    /// `body`, and waits for its acknowledgement. A failure is a [`SyscallError`] named
    /// `call` with the kernel's errno.
    pub fn request(
        &mut self,
        call: &'static str,
        msg_type: u16,
        flags: u16,
        body: &[u8],
    ) -> Result<(), SyscallError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let msg = message(msg_type, flags | NLM_F_REQUEST | NLM_F_ACK, seq, body);
        // SAFETY: send reads `msg.len()` bytes of the live buffer.
        let r = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if r < 0 {
            return Err(SyscallError::new(call, io::Error::last_os_error()));
        }
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            // SAFETY: recv writes at most `buf.len()` bytes into the live buffer.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(SyscallError::new(call, e));
            }
            match ack_of(&buf[..n as usize], seq) {
                Some(0) => return Ok(()),
                Some(err) => {
                    return Err(SyscallError::new(
                        call,
                        io::Error::from_raw_os_error(err.saturating_neg()),
                    ))
                }
                None => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_nested() {
        let mut b = Vec::new();
        put_attr(&mut b, TCA_KIND, b"bpf\0");
        assert_eq!(b, [8, 0, 1, 0, b'b', b'p', b'f', 0]);
        let mut b = Vec::new();
        put_attr(&mut b, TCA_KIND, b"clsact\0");
        assert_eq!(b.len(), 12, "4 + 7 bytes, padded to 12");
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), 11);
        let mut b = Vec::new();
        put_nested(&mut b, TCA_OPTIONS, |b| {
            put_attr(b, TCA_BPF_FD, &7u32.to_ne_bytes());
            put_attr(b, TCA_BPF_FLAGS, &1u32.to_ne_bytes());
        });
        assert_eq!(b.len(), 4 + 8 + 8);
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), 20);
        assert_eq!(u16::from_ne_bytes([b[2], b[3]]), TCA_OPTIONS);
        assert_eq!(u16::from_ne_bytes([b[6], b[7]]), TCA_BPF_FD);
    }

    #[test]
    fn messages_and_acks() {
        let body = tcmsg(3, 1, tc_h_make(TC_H_CLSACT, TC_H_MIN_INGRESS), 0x0001_0300);
        assert_eq!(body.len(), 20);
        assert_eq!(&body[4..8], &3u32.to_ne_bytes());
        assert_eq!(&body[12..16], &0xFFFF_FFF2u32.to_ne_bytes());
        let m = message(RTM_NEWTFILTER, NLM_F_REQUEST, 9, &body);
        assert_eq!(m.len(), 36);
        assert_eq!(&m[0..4], &36u32.to_ne_bytes());
        assert_eq!(&m[4..6], &RTM_NEWTFILTER.to_ne_bytes());
        assert_eq!(&m[8..12], &9u32.to_ne_bytes());
        // An error message: header, error code, then the request's header.
        let mut err = message(NLMSG_ERROR, 0, 9, &(-17i32).to_ne_bytes());
        err.extend_from_slice(&m[..16]);
        let len = err.len() as u32;
        err[0..4].copy_from_slice(&len.to_ne_bytes());
        assert_eq!(ack_of(&err, 9), Some(-17));
        assert_eq!(ack_of(&err, 8), None, "another request's answer");
        let ok = message(NLMSG_ERROR, 0, 9, &0i32.to_ne_bytes());
        assert_eq!(ack_of(&ok, 9), Some(0));
        assert_eq!(ack_of(&ok[..10], 9), None, "truncated");
        assert_eq!(tc_h_make(TC_H_CLSACT, TC_H_MIN_EGRESS), 0xFFFF_FFF3);
    }

    fn define(path: &str, name: &str) -> Option<String> {
        let h = std::fs::read_to_string(path).ok()?;
        h.lines().find_map(|l| {
            let rest = l.trim_start().strip_prefix("#define ")?.trim_start();
            let rest = rest.strip_prefix(name)?;
            rest.starts_with(|c: char| c.is_whitespace())
                .then(|| rest.split("/*").next().unwrap().trim().to_string())
        })
    }

    /// The numbers against the system headers (skipped where they are absent).
    #[test]
    fn numbers_match_the_system_headers() {
        let Ok(rt) = std::fs::read_to_string("/usr/include/linux/rtnetlink.h") else {
            eprintln!(
                "SKIP numbers_match_the_system_headers: linux/rtnetlink.h missing (no kernel headers installed)"
            );
            return;
        };
        assert!(rt.contains("RTM_NEWQDISC\t= 36,"));
        assert!(rt.contains("RTM_NEWTFILTER\t= 44,"));
        // The DEL follows the NEW in the enum.
        let after = |new: &str, del: &str| {
            let i = rt.find(new).unwrap();
            let j = rt[i..].find(del).unwrap();
            assert!(!rt[i..i + j].contains("RTM_GET"), "{del} right after {new}");
        };
        after("RTM_NEWTFILTER\t= 44,", "RTM_DELTFILTER,");
        let nl = "/usr/include/linux/netlink.h";
        for (name, v) in [
            ("NLM_F_REQUEST", NLM_F_REQUEST),
            ("NLM_F_ACK", NLM_F_ACK),
            ("NLM_F_EXCL", NLM_F_EXCL),
            ("NLM_F_CREATE", NLM_F_CREATE),
            ("NLMSG_ERROR", NLMSG_ERROR),
        ] {
            let d = define(nl, name).unwrap();
            assert_eq!(
                u16::from_str_radix(d.trim_start_matches("0x"), 16).unwrap(),
                v
            );
        }
        let ps = "/usr/include/linux/pkt_sched.h";
        assert_eq!(define(ps, "TC_H_CLSACT").as_deref(), Some("TC_H_INGRESS"));
        assert_eq!(define(ps, "TC_H_INGRESS").as_deref(), Some("(0xFFFFFFF1U)"));
        assert_eq!(define(ps, "TC_H_MIN_INGRESS").as_deref(), Some("0xFFF2U"));
        assert_eq!(define(ps, "TC_H_MIN_EGRESS").as_deref(), Some("0xFFF3U"));
        let pc = std::fs::read_to_string("/usr/include/linux/pkt_cls.h").unwrap();
        let start = pc.find("TCA_BPF_UNSPEC,").unwrap();
        let names: Vec<&str> = pc[start..]
            .split(',')
            .map(str::trim)
            .take_while(|n| n.starts_with("TCA_BPF_"))
            .collect();
        let pos = |n: &str| names.iter().position(|x| *x == n).unwrap() as u16;
        assert_eq!(pos("TCA_BPF_FD"), TCA_BPF_FD);
        assert_eq!(pos("TCA_BPF_NAME"), TCA_BPF_NAME);
        assert_eq!(pos("TCA_BPF_FLAGS"), TCA_BPF_FLAGS);
        assert_eq!(
            define("/usr/include/linux/pkt_cls.h", "TCA_BPF_FLAG_ACT_DIRECT").as_deref(),
            Some("(1 << 0)")
        );
        let tca = rt.find("TCA_UNSPEC,").unwrap();
        let names: Vec<&str> = rt[tca..].split(',').map(str::trim).take(3).collect();
        assert_eq!(names, ["TCA_UNSPEC", "TCA_KIND", "TCA_OPTIONS"]);
    }
}
