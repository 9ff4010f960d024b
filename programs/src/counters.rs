//! The statistics the programs keep: one u64 per CPU for each [`Counter`], in the
//! `tb_counters` PERCPU_ARRAY at index `counter as u32`. User space sums the CPUs.

/// A statistic counted by the programs. The discriminant is the index in the counters map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum Counter {
    /// `sock_ops`: a socket was put in the sockhash (clients and paired servers).
    Inserted = 0,
    /// `sk_msg`: a message was redirected into the peer socket.
    Redirected = 1,
    /// `sk_msg`: bytes of the redirected messages.
    RedirectedBytes = 2,
    /// `sk_msg`: a message went through TCP: the socket has no peer, it is tainted (it sent
    /// through TCP before it was paired, so it is never redirected), or the peer socket is
    /// gone from the sockhash.
    NoPeer = 3,
    /// `sock_ops` or `sk_msg`: an insert failed because a map was full (`-E2BIG`); the
    /// connection stays on plain TCP.
    MapFull = 4,
    /// `sock_ops`: a server socket was paired with its client.
    Paired = 5,
    /// `sock_ops` or `sk_msg`: an insert failed for another reason,
    /// `bpf_sock_ops_cb_flags_set` failed, or a close-time delete failed (the closed
    /// socket's entry stays behind).
    Errors = 6,
    /// `sock_ops`: a server found its client already tainted (the client sent bytes through
    /// TCP before the server's `PASSIVE_ESTABLISHED`), so the connection stays on TCP for good.
    /// Counted once per connection.
    TcpFirst = 7,
    /// `sk_msg`: a sender's peer had more unread than its receive buffer allows (the
    /// receive-queue bound, [`crate::RcvqGuard`]), so the sender moved to TCP for good, where
    /// TCP's flow control applies. Counted once per sending socket.
    RcvqFallback = 8,
    /// `cgroup/setsockopt`: an application set an option the bypass cannot honour
    /// ([`crate::GUARDED_SOCKOPTS`]) on a paired socket, so the connection moved to TCP in both
    /// directions. Counted once per connection.
    CompatFallback = 9,
    /// `sock_ops`: a client took the ACTIVE place of another client still waiting for its
    /// server with the same local endpoint (the kernel shares an ephemeral port between
    /// connections to different destinations). The other connection's server then finds a
    /// handshake that is not its own and stays on TCP, with that connection (unless it was
    /// already pairing at that moment). Counted once per such event.
    SharedEndpoint = 10,
    /// `sock_ops`: a socket entering the sockhash found a PEERS or BACKLOG entry under its own
    /// key, left by an earlier socket with the same key whose close did not remove it, and
    /// deleted it (one count per entry). Should stay 0; a count means entries leaked.
    StaleEntries = 11,
    /// `sk_msg`: the small-write policy ([`crate::SmallWrites`]) moved a sender to TCP for
    /// good: its peer held many of its small messages unread (a one-way stream of small
    /// writes, which TCP carries faster).
    StreamFallback = 12,
}

impl Counter {
    /// Every counter, in index order.
    pub const ALL: [Counter; 13] = [
        Counter::Inserted,
        Counter::Redirected,
        Counter::RedirectedBytes,
        Counter::NoPeer,
        Counter::MapFull,
        Counter::Paired,
        Counter::Errors,
        Counter::TcpFirst,
        Counter::RcvqFallback,
        Counter::CompatFallback,
        Counter::SharedEndpoint,
        Counter::StaleEntries,
        Counter::StreamFallback,
    ];

    /// The index in the counters map.
    pub const fn index(self) -> u32 {
        self as u32
    }

    /// The counter at an index, if any.
    pub fn from_index(index: u32) -> Option<Counter> {
        Counter::ALL.get(index as usize).copied()
    }

    /// A snake_case name for listings and metrics (`"redirected_bytes"`).
    pub const fn name(self) -> &'static str {
        match self {
            Counter::Inserted => "inserted",
            Counter::Redirected => "redirected",
            Counter::RedirectedBytes => "redirected_bytes",
            Counter::NoPeer => "no_peer",
            Counter::MapFull => "map_full",
            Counter::Paired => "paired",
            Counter::Errors => "errors",
            Counter::TcpFirst => "tcp_first",
            Counter::RcvqFallback => "rcvq_fallback",
            Counter::CompatFallback => "compat_fallback",
            Counter::SharedEndpoint => "shared_endpoint",
            Counter::StaleEntries => "stale_entries",
            Counter::StreamFallback => "stream_fallback",
        }
    }

    /// The counters map key for this counter (a u32 index in host byte order).
    pub const fn key(self) -> [u8; 4] {
        self.index().to_ne_bytes()
    }
}

impl std::fmt::Display for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_index_order() {
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(c.index() as usize, i);
            assert_eq!(Counter::from_index(i as u32), Some(*c));
        }
        assert_eq!(Counter::from_index(Counter::ALL.len() as u32), None);
    }

    #[test]
    fn names_are_distinct() {
        let mut names: Vec<_> = Counter::ALL.iter().map(|c| c.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Counter::ALL.len());
        assert_eq!(Counter::RedirectedBytes.to_string(), "redirected_bytes");
    }

    #[test]
    fn key_is_the_index() {
        assert_eq!(Counter::Paired.key(), 5u32.to_ne_bytes());
        assert_eq!(Counter::TcpFirst.key(), 7u32.to_ne_bytes());
        assert_eq!(Counter::TcpFirst.name(), "tcp_first");
    }
}
