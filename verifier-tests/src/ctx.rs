//! Context images: the bytes a program sees behind `r1`, laid out exactly as the kernel's
//! UAPI `struct bpf_sock_ops`, `struct sk_msg_md` and `struct bpf_sockopt` (with the
//! `struct bpf_sock` its `sk` points to), with the kernel's byte orders (addresses network
//! order, `local_port`/`src_port` host order, `remote_port` = `htons(port) << 16` on
//! little-endian, but `bpf_sock.dst_port` = `htons(port)` in the low half).

use std::net::IpAddr;

use crate::uapi::{self, bpf_sock, sk_msg, sock_ops, sockopt};

#[cfg(target_endian = "big")]
compile_error!("the context images assume a little-endian host, like the port encoding they test");

/// The addresses of one socket as its context shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SockAddrs {
    /// `AF_INET` or `AF_INET6` (an `AF_INET6` socket may carry IPv4 addresses, which it shows
    /// as IPv4-mapped `::ffff:a.b.c.d`).
    pub family: u32,
    /// Local address.
    pub local: IpAddr,
    /// Local port.
    pub local_port: u16,
    /// Remote address.
    pub remote: IpAddr,
    /// Remote port.
    pub remote_port: u16,
}

/// The 16-byte form of an address: IPv6 as is, IPv4 as `::ffff:a.b.c.d`.
pub fn addr16(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn ip4(a: IpAddr) -> [u8; 4] {
    match a {
        IpAddr::V4(v4) => v4.octets(),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(|v| v.octets()).unwrap_or([0; 4]),
    }
}

/// `remote_port` as the kernel stores it: network order in the upper 16 bits of the u32
/// (`htons(port) << 16` on little-endian).
pub fn remote_port_field(port: u16) -> u32 {
    (u32::from(port.to_be())) << 16
}

/// `local_port` as the kernel stores it: host order.
pub fn local_port_field(port: u16) -> u32 {
    u32::from(port)
}

fn put32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put64(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

#[allow(clippy::too_many_arguments)] // one offset per field: clearer than a struct for two callers
fn put_addrs(
    buf: &mut [u8],
    a: &SockAddrs,
    family: usize,
    rip4: usize,
    lip4: usize,
    rip6: usize,
    lip6: usize,
    rport: usize,
    lport: usize,
) {
    put32(buf, family, a.family);
    // Addresses are network order: their bytes are copied as they are.
    buf[rip4..rip4 + 4].copy_from_slice(&ip4(a.remote));
    buf[lip4..lip4 + 4].copy_from_slice(&ip4(a.local));
    if a.family == uapi::AF_INET6 {
        buf[rip6..rip6 + 16].copy_from_slice(&addr16(a.remote));
        buf[lip6..lip6 + 16].copy_from_slice(&addr16(a.local));
    }
    put32(buf, rport, remote_port_field(a.remote_port));
    put32(buf, lport, local_port_field(a.local_port));
}

/// A `struct bpf_sock_ops` image for callback `op` with `args`.
pub fn sock_ops_image(
    op: u32,
    args: [u32; 4],
    a: &SockAddrs,
    cb_flags: u32,
    state: u32,
) -> Vec<u8> {
    let mut b = vec![0u8; sock_ops::SIZE];
    put32(&mut b, sock_ops::OP, op);
    for (i, v) in args.iter().enumerate() {
        put32(&mut b, sock_ops::ARGS + 4 * i, *v);
    }
    put_addrs(
        &mut b,
        a,
        sock_ops::FAMILY,
        sock_ops::REMOTE_IP4,
        sock_ops::LOCAL_IP4,
        sock_ops::REMOTE_IP6,
        sock_ops::LOCAL_IP6,
        sock_ops::REMOTE_PORT,
        sock_ops::LOCAL_PORT,
    );
    put32(&mut b, sock_ops::IS_FULLSOCK, 1);
    put32(&mut b, sock_ops::CB_FLAGS, cb_flags);
    put32(&mut b, sock_ops::STATE, state);
    // A pointer the program must not follow: nothing is registered there.
    put64(&mut b, sock_ops::SK, 0xdead_0000_0000);
    b
}

/// Sets `snd_nxt` and `rcv_nxt` in a `struct bpf_sock_ops` image (the handshake's sequence
/// numbers, which a server compares with those its client registered).
pub fn set_seq(img: &mut [u8], snd_nxt: u32, rcv_nxt: u32) {
    put32(img, sock_ops::SND_NXT, snd_nxt);
    put32(img, sock_ops::RCV_NXT, rcv_nxt);
}

/// A `struct sk_msg_md` image for a message of `size` bytes at `data..data_end`.
pub fn sk_msg_image(a: &SockAddrs, size: u32, data: u64, data_end: u64) -> Vec<u8> {
    let mut b = vec![0u8; sk_msg::SIZE];
    put64(&mut b, sk_msg::DATA, data);
    put64(&mut b, sk_msg::DATA_END, data_end);
    put_addrs(
        &mut b,
        a,
        sk_msg::FAMILY,
        sk_msg::REMOTE_IP4,
        sk_msg::LOCAL_IP4,
        sk_msg::REMOTE_IP6,
        sk_msg::LOCAL_IP6,
        sk_msg::REMOTE_PORT,
        sk_msg::LOCAL_PORT,
    );
    put32(&mut b, sk_msg::SIZE_FIELD, size);
    put64(&mut b, sk_msg::SK, 0xdead_0000_0000);
    b
}

/// A `struct bpf_sock` image of a full TCP socket (`state` ESTABLISHED): addresses as in the
/// other contexts, `src_port` host order, `dst_port` a `__be16` followed by 16 zero bits (a
/// 32-bit load reads `htons(port)`).
pub fn bpf_sock_image(a: &SockAddrs) -> Vec<u8> {
    let mut b = vec![0u8; bpf_sock::SIZE];
    put32(&mut b, bpf_sock::FAMILY, a.family);
    put32(&mut b, 8, 1); // type: SOCK_STREAM
    put32(&mut b, 12, 6); // protocol: IPPROTO_TCP
    b[bpf_sock::SRC_IP4..bpf_sock::SRC_IP4 + 4].copy_from_slice(&ip4(a.local));
    b[bpf_sock::DST_IP4..bpf_sock::DST_IP4 + 4].copy_from_slice(&ip4(a.remote));
    if a.family == uapi::AF_INET6 {
        b[bpf_sock::SRC_IP6..bpf_sock::SRC_IP6 + 16].copy_from_slice(&addr16(a.local));
        b[bpf_sock::DST_IP6..bpf_sock::DST_IP6 + 16].copy_from_slice(&addr16(a.remote));
    }
    put32(&mut b, bpf_sock::SRC_PORT, local_port_field(a.local_port));
    b[bpf_sock::DST_PORT..bpf_sock::DST_PORT + 2].copy_from_slice(&a.remote_port.to_be_bytes());
    put32(&mut b, bpf_sock::STATE, uapi::TCP_ESTABLISHED);
    b
}

/// A `struct bpf_sockopt` image for `setsockopt(level, optname)` on the socket whose
/// `struct bpf_sock` is at `sk`, with the option value at `optval..optval_end`.
pub fn sockopt_image(level: i32, optname: i32, sk: u64, optval: u64, optval_end: u64) -> Vec<u8> {
    let mut b = vec![0u8; sockopt::SIZE];
    put64(&mut b, sockopt::SK, sk);
    put64(&mut b, sockopt::OPTVAL, optval);
    put64(&mut b, sockopt::OPTVAL_END, optval_end);
    put32(&mut b, sockopt::LEVEL, level as u32);
    put32(&mut b, sockopt::OPTNAME, optname as u32);
    put32(&mut b, sockopt::OPTLEN, (optval_end - optval) as u32);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn ports_have_the_kernels_byte_orders() {
        // Port 8080 = 0x1f90: local_port reads 0x1f90, remote_port reads 0x901f0000.
        assert_eq!(local_port_field(8080), 0x1f90);
        assert_eq!(remote_port_field(8080), 0x901f_0000);
        let a = SockAddrs {
            family: uapi::AF_INET,
            local: Ipv4Addr::new(10, 0, 0, 1).into(),
            local_port: 8080,
            remote: Ipv4Addr::new(10, 0, 0, 2).into(),
            remote_port: 8080,
        };
        let img = sock_ops_image(4, [0; 4], &a, 0, 1);
        assert_eq!(&img[64..68], &[0, 0, 0x1f, 0x90]);
        assert_eq!(&img[68..72], &[0x90, 0x1f, 0, 0]);
        assert_eq!(&img[24..28], &[10, 0, 0, 2]);
        let m = sk_msg_image(&a, 5, 0, 0);
        assert_eq!(&m[60..64], &[0, 0, 0x1f, 0x90]);
        assert_eq!(&m[20..24], &[10, 0, 0, 2]);
        // bpf_sock: src_port host order, dst_port network order in the low half.
        let s = bpf_sock_image(&a);
        assert_eq!(&s[44..48], &[0x90, 0x1f, 0, 0]);
        assert_eq!(&s[48..52], &[0x1f, 0x90, 0, 0]);
        assert_eq!(&s[52..56], &[10, 0, 0, 2]);
        assert_eq!(&s[24..28], &[10, 0, 0, 1]);
    }

    #[test]
    fn dual_stack_socket_shows_mapped_addresses() {
        let a = SockAddrs {
            family: uapi::AF_INET6,
            local: Ipv4Addr::new(127, 0, 0, 1).into(),
            local_port: 80,
            remote: Ipv4Addr::new(127, 0, 0, 1).into(),
            remote_port: 40000,
        };
        let img = sock_ops_image(5, [0; 4], &a, 0, 1);
        assert_eq!(&img[32..48], &addr16(Ipv4Addr::new(127, 0, 0, 1).into()));
        assert_eq!(&img[32..44], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
    }
}
