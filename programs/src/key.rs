//! User-space construction of every key (and the simple values) the programs use, byte for
//! byte as the programs build them on their stack. For tests, the harness and the CLI.
//!
//! Addresses are normalised to 16 bytes ([`normalize`]): IPv6 as is, IPv4 `a.b.c.d` as the
//! IPv4-mapped `::ffff:a.b.c.d`, so an IPv4 client and a dual-stack IPv6 server compute the
//! same keys. Addresses are in network byte order; ports, prefix lengths and cookies are
//! stored in host byte order (the programs write them with plain stores).
//!
//! | layout       | bytes | fields (offset: field)                                              |
//! |--------------|-------|---------------------------------------------------------------------|
//! | [`ConnKey`]  | 48    | 0: u64 netns cookie, 8: local addr\[16\], 24: remote addr\[16\], 40: u32 local port, 44: u32 remote port |
//! | [`Endpoint`] | 32    | 0: u64 netns cookie (loopback only, else 0), 8: addr\[16\], 24: u32 port, 28: u32 zero |
//! | [`Waiting`]  | 56    | 0: the client's `ConnKey`, 48: u32 client `snd_nxt`, 52: u32 client `rcv_nxt` |
//! | PEERS value  | 56    | 0: the peer's `ConnKey` (or [`TAINT`]), 48: u32 backlog count, 52: u16 small-message run on loopback, 54: u16 small-message run elsewhere ([`peer_value`]) |
//! | [`PrefixKey`]| 20    | 0: u32 prefix length, 4: addr\[16\]                                  |
//! | port key     | 4     | 0: u32 port ([`port_key`])                                          |

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// Size of a [`ConnKey`] in bytes.
pub const CONN_KEY_LEN: usize = 48;
/// Size of an [`Endpoint`] in bytes.
pub const ENDPOINT_LEN: usize = 32;
/// Size of a [`Waiting`] value in bytes.
pub const WAITING_LEN: usize = 56;
/// Size of a PEERS value in bytes: the peer's [`ConnKey`], then two u32s the `sk_msg`
/// receive-queue bound keeps about the owner's sends (see [`peer_value`]).
pub const PEER_VALUE_LEN: usize = 56;
/// Offset of the backlog count (u32) in a PEERS value: how many of the owner's redirected
/// messages its peer may not have read yet (an upper bound, reset when the peer's queue is
/// empty).
pub const PEER_VALUE_BACKLOG: usize = CONN_KEY_LEN;
/// Offset of the small-message runs in a PEERS value: how many of the owner's last redirected
/// messages in a row were small by the loopback threshold (u16), then by the other one (u16,
/// at +2); see `SmallWrites`. They wrap at 65,536, which only delays the policy.
pub const PEER_VALUE_SMALL_RUN: usize = CONN_KEY_LEN + 4;
/// Size of a [`PrefixKey`] in bytes.
pub const PREFIX_KEY_LEN: usize = 20;
/// Size of a port key ([`port_key`]) in bytes.
pub const PORT_KEY_LEN: usize = 4;
/// The value to store in the PREFIXES and EXCLUDED_PORTS maps (a u32 1; the programs only
/// test for presence).
pub const PRESENT: [u8; 4] = 1u32.to_ne_bytes();
/// The PEERS value that marks a socket as *tainted*: it sent bytes through TCP before it was
/// paired, so it must never be redirected (48 zero bytes; no real [`ConnKey`] has both ports
/// 0, which is what the programs test). See [`ConnKey::is_taint`].
pub const TAINT: [u8; CONN_KEY_LEN] = [0; CONN_KEY_LEN];
/// The whole PEERS value of a tainted socket: [`TAINT`] and zero counts.
pub const TAINT_VALUE: [u8; PEER_VALUE_LEN] = [0; PEER_VALUE_LEN];

/// The PEERS value that pairs a socket with `peer`: the peer's key and zero counts.
pub fn peer_value(peer: &ConnKey) -> [u8; PEER_VALUE_LEN] {
    let mut v = [0u8; PEER_VALUE_LEN];
    v[..CONN_KEY_LEN].copy_from_slice(&peer.to_bytes());
    v
}

/// The key a PEERS value names (a peer's key, or [`TAINT`]: see [`ConnKey::is_taint`]).
pub fn peer_of(value: &[u8]) -> Result<ConnKey, KeyError> {
    check_len("PEERS value", PEER_VALUE_LEN, value)?;
    ConnKey::from_bytes(&value[..CONN_KEY_LEN])
}

/// Why a key could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not an IPv4 or IPv6 address.
    #[error("`{input}` is not an IP address or CIDR prefix (expected a.b.c.d[/n] or an IPv6 address[/n])")]
    InvalidAddress {
        /// The text given.
        input: String,
    },
    /// The prefix length is not a number from 0 to the address's bit count.
    #[error("`{input}`: prefix length must be a number from 0 to {max}")]
    InvalidPrefixLen {
        /// The text given.
        input: String,
        /// 32 for IPv4, 128 for IPv6.
        max: u8,
    },
    /// A byte slice has the wrong length for the layout.
    #[error("a {what} is {expected} bytes, got {got}")]
    WrongLength {
        /// The layout (`"ConnKey"`).
        what: &'static str,
        /// Its size.
        expected: usize,
        /// The slice's length.
        got: usize,
    },
}

/// The 16-byte form of an address: IPv6 as is, IPv4 as IPv4-mapped `::ffff:a.b.c.d`.
pub fn normalize(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// The inverse of [`normalize`] for display: IPv4-mapped addresses become IPv4.
pub fn denormalize(addr: Ipv6Addr) -> IpAddr {
    match addr.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(addr),
    }
}

/// Whether a normalised address is loopback: `::ffff:127.0.0.0/104` or `::1`.
pub fn is_loopback(addr: &Ipv6Addr) -> bool {
    match addr.to_ipv4_mapped() {
        Some(v4) => v4.is_loopback(),
        None => *addr == Ipv6Addr::LOCALHOST,
    }
}

fn get<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&b[at..at + N]);
    out
}

fn check_len(what: &'static str, expected: usize, b: &[u8]) -> Result<(), KeyError> {
    if b.len() == expected {
        Ok(())
    } else {
        Err(KeyError::WrongLength {
            what,
            expected,
            got: b.len(),
        })
    }
}

/// The key of one socket (in the sockhash and PEERS): its netns cookie and 4-tuple as the
/// socket itself sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnKey {
    /// The socket's network namespace cookie when the programs are built with
    /// `Config { netns_cookie: true }`, else 0.
    pub netns_cookie: u64,
    /// The socket's local address, normalised.
    pub local: Ipv6Addr,
    /// The socket's remote address (for a client: the address it connected to), normalised.
    pub remote: Ipv6Addr,
    /// Local port, host order.
    pub local_port: u32,
    /// Remote port, host order.
    pub remote_port: u32,
}

impl Default for ConnKey {
    fn default() -> Self {
        ConnKey {
            netns_cookie: 0,
            local: Ipv6Addr::UNSPECIFIED,
            remote: Ipv6Addr::UNSPECIFIED,
            local_port: 0,
            remote_port: 0,
        }
    }
}

impl ConnKey {
    /// The key of a socket bound to `local` and connected to `remote`, in the network
    /// namespace with cookie `netns_cookie` (pass 0 when the programs run without cookies).
    pub fn new(netns_cookie: u64, local: SocketAddr, remote: SocketAddr) -> ConnKey {
        ConnKey {
            netns_cookie,
            local: normalize(local.ip()),
            remote: normalize(remote.ip()),
            local_port: u32::from(local.port()),
            remote_port: u32::from(remote.port()),
        }
    }

    /// The 48 bytes the programs build.
    pub fn to_bytes(&self) -> [u8; CONN_KEY_LEN] {
        let mut b = [0u8; CONN_KEY_LEN];
        b[0..8].copy_from_slice(&self.netns_cookie.to_ne_bytes());
        b[8..24].copy_from_slice(&self.local.octets());
        b[24..40].copy_from_slice(&self.remote.octets());
        b[40..44].copy_from_slice(&self.local_port.to_ne_bytes());
        b[44..48].copy_from_slice(&self.remote_port.to_ne_bytes());
        b
    }

    /// Reads a key back (for example from a PEERS map dump).
    pub fn from_bytes(b: &[u8]) -> Result<ConnKey, KeyError> {
        check_len("ConnKey", CONN_KEY_LEN, b)?;
        Ok(ConnKey {
            netns_cookie: u64::from_ne_bytes(get(b, 0)),
            local: Ipv6Addr::from(get::<16>(b, 8)),
            remote: Ipv6Addr::from(get::<16>(b, 24)),
            local_port: u32::from_ne_bytes(get(b, 40)),
            remote_port: u32::from_ne_bytes(get(b, 44)),
        })
    }

    /// Whether this PEERS value is the [`TAINT`] mark rather than a peer's key (the programs
    /// test both ports, the u64 at offset 40, for 0).
    pub fn is_taint(&self) -> bool {
        self.local_port == 0 && self.remote_port == 0
    }

    /// The socket's own local endpoint (the ACTIVE key a client registers under).
    pub fn local_endpoint(&self) -> Endpoint {
        Endpoint::from_parts(self.netns_cookie, self.local, self.local_port)
    }

    /// The remote endpoint as this socket sees it (the ACTIVE key a server looks up).
    pub fn remote_endpoint(&self) -> Endpoint {
        Endpoint::from_parts(self.netns_cookie, self.remote, self.remote_port)
    }
}

impl fmt::Display for ConnKey {
    /// `[netns 4097] 127.0.0.1:40000 -> 127.0.0.1:5000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = SocketAddr::new(denormalize(self.local), self.local_port as u16);
        let r = SocketAddr::new(denormalize(self.remote), self.remote_port as u16);
        write!(f, "[netns {}] {l} -> {r}", self.netns_cookie)
    }
}

/// One end of a connection, used to find a waiting client (ACTIVE map key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The netns cookie if `addr` is loopback, else 0 (a client in another namespace must be
    /// found by a server in its own namespace).
    pub netns_cookie: u64,
    /// The address, normalised.
    pub addr: Ipv6Addr,
    /// The port, host order.
    pub port: u32,
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint {
            netns_cookie: 0,
            addr: Ipv6Addr::UNSPECIFIED,
            port: 0,
        }
    }
}

impl Endpoint {
    /// The endpoint `addr` seen from the namespace with cookie `netns_cookie`; the cookie is
    /// kept only for loopback addresses.
    pub fn new(netns_cookie: u64, addr: SocketAddr) -> Endpoint {
        Endpoint::from_parts(netns_cookie, normalize(addr.ip()), u32::from(addr.port()))
    }

    fn from_parts(netns_cookie: u64, addr: Ipv6Addr, port: u32) -> Endpoint {
        Endpoint {
            netns_cookie: if is_loopback(&addr) { netns_cookie } else { 0 },
            addr,
            port,
        }
    }

    /// The 32 bytes the programs build (the last four are zero).
    pub fn to_bytes(&self) -> [u8; ENDPOINT_LEN] {
        let mut b = [0u8; ENDPOINT_LEN];
        b[0..8].copy_from_slice(&self.netns_cookie.to_ne_bytes());
        b[8..24].copy_from_slice(&self.addr.octets());
        b[24..28].copy_from_slice(&self.port.to_ne_bytes());
        b
    }

    /// Reads an endpoint back (for example from an ACTIVE map dump). The padding is ignored.
    pub fn from_bytes(b: &[u8]) -> Result<Endpoint, KeyError> {
        check_len("Endpoint", ENDPOINT_LEN, b)?;
        Ok(Endpoint {
            netns_cookie: u64::from_ne_bytes(get(b, 0)),
            addr: Ipv6Addr::from(get::<16>(b, 8)),
            port: u32::from_ne_bytes(get(b, 24)),
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = SocketAddr::new(denormalize(self.addr), self.port as u16);
        write!(f, "[netns {}] {a}", self.netns_cookie)
    }
}

/// An ACTIVE value: a client waiting for its server, under its local [`Endpoint`].
///
/// The endpoint alone does not name a connection: the kernel gives one ephemeral port to
/// several connections to different destinations at once, and under DNAT or REDIRECT the
/// server cannot know the destination the client used. The two sequence numbers of the
/// handshake do: when the client's `ACTIVE_ESTABLISHED` runs, its `snd_nxt` is its initial
/// sequence number + 1 and its `rcv_nxt` the server's + 1, and when the server's
/// `PASSIVE_ESTABLISHED` runs its `rcv_nxt` and `snd_nxt` are the same two numbers. A server
/// pairs only with the client whose numbers match its own; NAT does not rewrite them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Waiting {
    /// The client's key.
    pub client: ConnKey,
    /// The client's `snd_nxt` at `ACTIVE_ESTABLISHED`: its initial sequence number + 1.
    pub client_seq: u32,
    /// The client's `rcv_nxt` at `ACTIVE_ESTABLISHED`: the server's initial sequence
    /// number + 1.
    pub server_seq: u32,
}

impl Waiting {
    /// The 56 bytes the `sock_ops` program writes.
    pub fn to_bytes(&self) -> [u8; WAITING_LEN] {
        let mut b = [0u8; WAITING_LEN];
        b[..CONN_KEY_LEN].copy_from_slice(&self.client.to_bytes());
        b[48..52].copy_from_slice(&self.client_seq.to_ne_bytes());
        b[52..56].copy_from_slice(&self.server_seq.to_ne_bytes());
        b
    }

    /// Reads a value back (from an ACTIVE map dump).
    pub fn from_bytes(b: &[u8]) -> Result<Waiting, KeyError> {
        check_len("Waiting", WAITING_LEN, b)?;
        Ok(Waiting {
            client: ConnKey::from_bytes(&b[..CONN_KEY_LEN])?,
            client_seq: u32::from_ne_bytes(get(b, 48)),
            server_seq: u32::from_ne_bytes(get(b, 52)),
        })
    }
}

/// A PREFIXES (LPM trie) key: a prefix of the normalised address space.
///
/// IPv4 `a.b.c.d/n` is stored as `::ffff:a.b.c.d/(96 + n)`, so it matches exactly the
/// IPv4 and IPv4-mapped addresses it names. Host bits beyond the prefix are cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrefixKey {
    /// Prefix length in bits, 0..=128, of the normalised address.
    pub prefix_len: u32,
    /// The normalised address, host bits zero.
    pub addr: Ipv6Addr,
}

impl Default for PrefixKey {
    fn default() -> Self {
        PrefixKey {
            prefix_len: 0,
            addr: Ipv6Addr::UNSPECIFIED,
        }
    }
}

fn mask(addr: Ipv6Addr, len: u32) -> Ipv6Addr {
    let bits = u128::from(addr);
    let m = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len.min(128))
    };
    Ipv6Addr::from(bits & m)
}

impl PrefixKey {
    /// The prefix `ip/len`; `len` counts bits of `ip` itself (at most 32 for IPv4).
    pub fn new(ip: IpAddr, len: u8) -> Result<PrefixKey, KeyError> {
        let (max, extra) = match ip {
            IpAddr::V4(_) => (32u8, 96u32),
            IpAddr::V6(_) => (128u8, 0u32),
        };
        if len > max {
            return Err(KeyError::InvalidPrefixLen {
                input: format!("{ip}/{len}"),
                max,
            });
        }
        let prefix_len = extra + u32::from(len);
        Ok(PrefixKey {
            prefix_len,
            addr: mask(normalize(ip), prefix_len),
        })
    }

    /// The prefix holding exactly one address.
    pub fn host(ip: IpAddr) -> PrefixKey {
        PrefixKey {
            prefix_len: 128,
            addr: normalize(ip),
        }
    }

    /// Parses `a.b.c.d/n`, `x:y::z/n` or a bare address (a host prefix). Never panics; bad
    /// input is a [`KeyError`].
    pub fn parse(s: &str) -> Result<PrefixKey, KeyError> {
        let s = s.trim();
        let bad = || KeyError::InvalidAddress {
            input: s.to_string(),
        };
        let (addr_text, len_text) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let ip = IpAddr::from_str(addr_text).map_err(|_| bad())?;
        let max = if ip.is_ipv4() { 32u8 } else { 128u8 };
        let len = match len_text {
            None => max,
            Some(l) => {
                let ok = !l.is_empty() && l.len() <= 3 && l.bytes().all(|c| c.is_ascii_digit());
                let n = if ok { l.parse::<u8>().ok() } else { None };
                match n {
                    Some(n) if n <= max => n,
                    _ => {
                        return Err(KeyError::InvalidPrefixLen {
                            input: s.to_string(),
                            max,
                        })
                    }
                }
            }
        };
        PrefixKey::new(ip, len)
    }

    /// Whether a normalised address falls in this prefix (what the trie lookup of the
    /// programs' `/128` key finds).
    pub fn contains(&self, addr: &Ipv6Addr) -> bool {
        mask(*addr, self.prefix_len) == self.addr
    }

    /// The 20 bytes of `struct bpf_lpm_trie_key` with 16 bytes of data.
    pub fn to_bytes(&self) -> [u8; PREFIX_KEY_LEN] {
        let mut b = [0u8; PREFIX_KEY_LEN];
        b[0..4].copy_from_slice(&self.prefix_len.to_ne_bytes());
        b[4..20].copy_from_slice(&self.addr.octets());
        b
    }

    /// Reads a key back (for example from a PREFIXES map dump).
    pub fn from_bytes(b: &[u8]) -> Result<PrefixKey, KeyError> {
        check_len("PrefixKey", PREFIX_KEY_LEN, b)?;
        Ok(PrefixKey {
            prefix_len: u32::from_ne_bytes(get(b, 0)),
            addr: Ipv6Addr::from(get::<16>(b, 4)),
        })
    }
}

impl FromStr for PrefixKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PrefixKey::parse(s)
    }
}

impl fmt::Display for PrefixKey {
    /// IPv4-mapped prefixes of length ≥ 96 print as IPv4 CIDR (`10.0.0.0/8`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr.to_ipv4_mapped() {
            Some(v4) if self.prefix_len >= 96 => write!(f, "{v4}/{}", self.prefix_len - 96),
            _ => write!(f, "{}/{}", self.addr, self.prefix_len),
        }
    }
}

/// The EXCLUDED_PORTS key of a port: a u32 in host order.
pub fn port_key(port: u16) -> [u8; PORT_KEY_LEN] {
    u32::from(port).to_ne_bytes()
}

/// The IPv4 loopback network as a prefix (`127.0.0.0/8`), for convenience.
pub fn loopback_v4() -> PrefixKey {
    PrefixKey {
        prefix_len: 104,
        addr: Ipv4Addr::new(127, 0, 0, 0).to_ipv6_mapped(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taint_is_no_real_key() {
        let t = ConnKey::from_bytes(&TAINT).unwrap();
        assert!(t.is_taint());
        assert_eq!(t.to_bytes(), TAINT);
        let k = ConnKey::new(
            0,
            "127.0.0.1:40000".parse().unwrap(),
            "127.0.0.1:80".parse().unwrap(),
        );
        assert!(!k.is_taint());
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_is_mapped() {
        let k = ConnKey::new(7, sa("10.1.2.3:40000"), sa("10.9.8.7:80"));
        let b = k.to_bytes();
        assert_eq!(
            &b[8..24],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]
        );
        assert_eq!(
            &b[24..40],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 9, 8, 7]
        );
    }

    #[test]
    fn ipv4_client_and_dual_stack_server_agree() {
        let v4 = ConnKey::new(1, sa("127.0.0.1:5000"), sa("127.0.0.1:40000"));
        let v6 = ConnKey::new(
            1,
            sa("[::ffff:127.0.0.1]:5000"),
            sa("[::ffff:127.0.0.1]:40000"),
        );
        assert_eq!(v4.to_bytes(), v6.to_bytes());
        let e4 = Endpoint::new(1, sa("127.0.0.1:40000"));
        let e6 = Endpoint::new(1, sa("[::ffff:127.0.0.1]:40000"));
        assert_eq!(e4.to_bytes(), e6.to_bytes());
    }

    #[test]
    fn conn_key_layout() {
        let k = ConnKey::new(
            0x0102_0304_0506_0708,
            sa("[2001:db8::1]:443"),
            sa("[2001:db8::2]:51234"),
        );
        let b = k.to_bytes();
        assert_eq!(b.len(), 48);
        assert_eq!(&b[0..8], &0x0102_0304_0506_0708u64.to_ne_bytes());
        assert_eq!(
            &b[8..24],
            &"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets()
        );
        assert_eq!(
            &b[24..40],
            &"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets()
        );
        // Ports are host-order u32 values, not network order.
        assert_eq!(&b[40..44], &443u32.to_ne_bytes());
        assert_eq!(&b[44..48], &51234u32.to_ne_bytes());
        if cfg!(target_endian = "little") {
            assert_eq!(&b[40..44], &[0xbb, 0x01, 0, 0]);
        }
        assert_eq!(ConnKey::from_bytes(&b).unwrap(), k);
    }

    #[test]
    fn endpoint_layout_and_loopback_cookie() {
        let lo = Endpoint::new(99, sa("127.0.0.5:1234"));
        let b = lo.to_bytes();
        assert_eq!(&b[0..8], &99u64.to_ne_bytes());
        assert_eq!(
            &b[8..24],
            &Ipv4Addr::new(127, 0, 0, 5).to_ipv6_mapped().octets()
        );
        assert_eq!(&b[24..28], &1234u32.to_ne_bytes());
        assert_eq!(&b[28..32], &[0, 0, 0, 0]);
        // Not loopback: the cookie is dropped.
        let pod = Endpoint::new(99, sa("10.0.0.5:1234"));
        assert_eq!(pod.netns_cookie, 0);
        assert_eq!(&pod.to_bytes()[0..8], &[0; 8]);
        let v6lo = Endpoint::new(99, sa("[::1]:1"));
        assert_eq!(v6lo.netns_cookie, 99);
        assert_eq!(Endpoint::from_bytes(&b).unwrap(), lo);
    }

    #[test]
    fn waiting_layout() {
        let k = ConnKey::new(7, sa("10.0.0.5:40000"), sa("10.96.0.10:80"));
        let w = Waiting {
            client: k,
            client_seq: 0x0102_0304,
            server_seq: 0xa0b0_c0d0,
        };
        let b = w.to_bytes();
        assert_eq!(&b[..48], &k.to_bytes());
        assert_eq!(&b[48..52], &0x0102_0304u32.to_ne_bytes());
        assert_eq!(&b[52..56], &0xa0b0_c0d0u32.to_ne_bytes());
        assert_eq!(Waiting::from_bytes(&b).unwrap(), w);
        assert!(matches!(
            Waiting::from_bytes(&b[..48]),
            Err(KeyError::WrongLength {
                expected: 56,
                got: 48,
                ..
            })
        ));
    }

    #[test]
    fn conn_key_endpoints() {
        let k = ConnKey::new(5, sa("127.0.0.1:40000"), sa("10.96.0.10:80"));
        assert_eq!(k.local_endpoint(), Endpoint::new(5, sa("127.0.0.1:40000")));
        assert_eq!(k.remote_endpoint().netns_cookie, 0);
        assert_eq!(k.remote_endpoint().port, 80);
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback(&normalize("127.0.0.1".parse().unwrap())));
        assert!(is_loopback(&normalize("127.255.0.9".parse().unwrap())));
        assert!(is_loopback(&Ipv6Addr::LOCALHOST));
        assert!(!is_loopback(&normalize("128.0.0.1".parse().unwrap())));
        assert!(!is_loopback(&normalize("10.0.0.1".parse().unwrap())));
        assert!(!is_loopback(&"::2".parse().unwrap()));
        assert!(!is_loopback(&"::127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn prefix_from_cidr() {
        let p = PrefixKey::parse("10.0.0.0/8").unwrap();
        assert_eq!(p.prefix_len, 104);
        assert_eq!(p.addr, Ipv4Addr::new(10, 0, 0, 0).to_ipv6_mapped());
        let b = p.to_bytes();
        assert_eq!(&b[0..4], &104u32.to_ne_bytes());
        assert_eq!(
            &b[4..20],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0]
        );
        assert!(p.contains(&normalize("10.200.3.4".parse().unwrap())));
        assert!(!p.contains(&normalize("11.0.0.1".parse().unwrap())));
        assert_eq!(p.to_string(), "10.0.0.0/8");
        assert_eq!(PrefixKey::from_bytes(&b).unwrap(), p);
    }

    #[test]
    fn prefix_masks_host_bits_and_accepts_hosts() {
        assert_eq!(
            PrefixKey::parse("10.1.2.3/8").unwrap(),
            PrefixKey::parse("10.0.0.0/8").unwrap()
        );
        let h = PrefixKey::parse(" 192.168.1.1 ").unwrap();
        assert_eq!(h.prefix_len, 128);
        assert_eq!(h, PrefixKey::host("192.168.1.1".parse().unwrap()));
        let v6 = PrefixKey::parse("fd00::1/8").unwrap();
        assert_eq!(v6.prefix_len, 8);
        assert_eq!(v6.addr, "fd00::".parse::<Ipv6Addr>().unwrap());
        let all4 = PrefixKey::parse("0.0.0.0/0").unwrap();
        assert_eq!(all4.prefix_len, 96);
        assert!(all4.contains(&normalize("8.8.8.8".parse().unwrap())));
        assert!(!all4.contains(&"2001:db8::1".parse().unwrap()));
        let all = PrefixKey::parse("::/0").unwrap();
        assert_eq!(all.prefix_len, 0);
        assert!(all.contains(&"2001:db8::1".parse().unwrap()));
        assert_eq!(
            "::1/128".parse::<PrefixKey>().unwrap().to_string(),
            "::1/128"
        );
    }

    #[test]
    fn bad_cidr_is_a_typed_error() {
        for s in [
            "",
            "/",
            "/8",
            "10.0.0/8",
            "10.0.0.256",
            "example.com",
            "[::1]/128",
            "fe80::1%eth0",
        ] {
            assert!(
                matches!(PrefixKey::parse(s), Err(KeyError::InvalidAddress { .. })),
                "{s:?} gave {:?}",
                PrefixKey::parse(s)
            );
        }
        for s in [
            "10.0.0.0/",
            "1.2.3.4/8/8",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0.0/0008",
            "10.0.0.0/x",
            "10.0.0.0/256",
        ] {
            assert!(
                matches!(PrefixKey::parse(s), Err(KeyError::InvalidPrefixLen { .. })),
                "{s:?} gave {:?}",
                PrefixKey::parse(s)
            );
        }
        assert!(matches!(
            PrefixKey::new("1.2.3.4".parse().unwrap(), 33),
            Err(KeyError::InvalidPrefixLen { max: 32, .. })
        ));
    }

    #[test]
    fn parse_never_panics() {
        // Every string of up to 4 characters over an alphabet of address syntax.
        let alphabet: Vec<char> = "019f.:/%[] -".chars().collect();
        let mut inputs = vec![String::new()];
        let mut level = vec![String::new()];
        for _ in 0..4 {
            level = level
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            inputs.extend(level.iter().cloned());
        }
        let mut ok = 0;
        for s in &inputs {
            if let Ok(p) = PrefixKey::parse(s) {
                ok += 1;
                assert!(p.prefix_len <= 128, "{s:?}");
                assert!(p.contains(&p.addr), "{s:?}");
            }
        }
        assert!(ok > 0 && ok < inputs.len(), "{ok} of {}", inputs.len());
        for s in [
            "1.2.3.4/٣",
            "::/１２８",
            "\u{0}",
            "1.2.3.4/99999999999999999999",
        ] {
            assert!(PrefixKey::parse(s).is_err(), "{s:?}");
        }
        for n in 0..64 {
            let b = vec![0xa5u8; n];
            assert_eq!(ConnKey::from_bytes(&b).is_ok(), n == CONN_KEY_LEN);
            assert_eq!(Endpoint::from_bytes(&b).is_ok(), n == ENDPOINT_LEN);
            assert_eq!(PrefixKey::from_bytes(&b).is_ok(), n == PREFIX_KEY_LEN);
        }
    }

    #[test]
    fn wrong_lengths_are_errors() {
        assert_eq!(
            ConnKey::from_bytes(&[0; 47]),
            Err(KeyError::WrongLength {
                what: "ConnKey",
                expected: 48,
                got: 47
            })
        );
        assert!(Endpoint::from_bytes(&[0; 33]).is_err());
        assert!(PrefixKey::from_bytes(&[]).is_err());
    }

    #[test]
    fn port_key_is_host_order() {
        assert_eq!(port_key(8080), 8080u32.to_ne_bytes());
        assert_eq!(PRESENT, 1u32.to_ne_bytes());
        assert_eq!(loopback_v4(), PrefixKey::parse("127.0.0.0/8").unwrap());
    }

    #[test]
    fn display() {
        let k = ConnKey::new(3, sa("127.0.0.1:40000"), sa("[::1]:80"));
        assert_eq!(k.to_string(), "[netns 3] 127.0.0.1:40000 -> [::1]:80");
    }
}
