//! The maps the bypass programs use: their names (as the programs reference them with
//! `ld_map`), types, key and value sizes, capacities and creation flags.
//!
//! The loader creates one map per [`MapDef`] from [`maps()`] and binds the programs' map
//! references by [`MapDef::name`]. Key layouts are described (and built) in [`crate::key`].

use crate::counters::Counter;
use crate::key::{
    CONN_KEY_LEN, ENDPOINT_LEN, PEER_VALUE_LEN, PORT_KEY_LEN, PREFIX_KEY_LEN, WAITING_LEN,
};
use crate::uapi;

/// Map names, at most 15 bytes each (the kernel's `BPF_OBJ_NAME_LEN` is 16 with the NUL).
pub mod names {
    /// SOCKHASH: every bypassed socket under its own `ConnKey`.
    pub const SOCK_HASH: &str = "tb_socks";
    /// HASH: own `ConnKey` → a PEERS value: the peer socket's `ConnKey` (or TAINT), and how
    /// many of the owner's redirected messages the peer may not have read yet
    /// ([`crate::key::peer_value`]).
    pub const PEERS: &str = "tb_peers";
    /// HASH: a client's local `Endpoint` → `Waiting` (the client's `ConnKey` and handshake
    /// sequence numbers), until its server pairs.
    pub const ACTIVE: &str = "tb_active";
    /// LPM_TRIE: destination prefixes whose connections may be bypassed.
    pub const PREFIXES: &str = "tb_prefixes";
    /// HASH: ports (host order u32) whose connections are never bypassed.
    pub const EXCLUDED_PORTS: &str = "tb_excl_ports";
    /// PERCPU_ARRAY: the [`Counter`](crate::Counter)s, one u64 per CPU each.
    pub const COUNTERS: &str = "tb_counters";
}

/// The kind of a map, as far as the bypass needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapKind {
    /// `BPF_MAP_TYPE_HASH`.
    Hash,
    /// `BPF_MAP_TYPE_LPM_TRIE` (longest-prefix match; needs `BPF_F_NO_PREALLOC`).
    LpmTrie,
    /// `BPF_MAP_TYPE_LRU_HASH` (a hash that evicts its least recently used entry when full).
    LruHash,
    /// `BPF_MAP_TYPE_SOCKHASH` (sockets by key; the target of `bpf_msg_redirect_hash`).
    SockHash,
    /// `BPF_MAP_TYPE_PERCPU_ARRAY` (one value per possible CPU for each index).
    PerCpuArray,
}

impl MapKind {
    /// The `BPF_MAP_TYPE_*` number for `BPF_MAP_CREATE`.
    pub const fn uapi_type(self) -> u32 {
        match self {
            MapKind::Hash => uapi::BPF_MAP_TYPE_HASH,
            MapKind::LpmTrie => uapi::BPF_MAP_TYPE_LPM_TRIE,
            MapKind::SockHash => uapi::BPF_MAP_TYPE_SOCKHASH,
            MapKind::LruHash => uapi::BPF_MAP_TYPE_LRU_HASH,
            MapKind::PerCpuArray => uapi::BPF_MAP_TYPE_PERCPU_ARRAY,
        }
    }

    /// A short lowercase name (`"sockhash"`) for messages and listings.
    pub const fn name(self) -> &'static str {
        match self {
            MapKind::Hash => "hash",
            MapKind::LpmTrie => "lpm_trie",
            MapKind::SockHash => "sockhash",
            MapKind::LruHash => "lru_hash",
            MapKind::PerCpuArray => "percpu_array",
        }
    }
}

/// How to create one map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MapDef {
    /// The map's name: the kernel object name and the name the programs' `ld_map` uses.
    pub name: &'static str,
    /// Its type.
    pub kind: MapKind,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// `map_flags` for `BPF_MAP_CREATE`.
    pub flags: u32,
    /// Whether the map holds (at most) one entry per bypassed socket, so that its capacity is
    /// set by the connection capacity ([`MapDef::sized_for`]) rather than fixed.
    pub per_socket: bool,
}

impl MapDef {
    /// This definition for a bypass that holds up to `max_conns` connections: a per-socket
    /// map gets two entries per connection (both ends of a same-host connection are
    /// sockets of the cgroup), a fixed-size map is unchanged.
    pub const fn sized_for(self, max_conns: u32) -> MapDef {
        self.with_socket_entries(sockets_for(max_conns))
    }

    /// This definition with `entries` entries if it is a per-socket map (a capacity read back
    /// from a loaded map, which an earlier version made odd), unchanged otherwise.
    pub const fn with_socket_entries(self, entries: u32) -> MapDef {
        if self.per_socket {
            MapDef {
                max_entries: entries,
                ..self
            }
        } else {
            self
        }
    }
}

/// Connections the per-socket maps hold when no capacity is given (65,536 sockets).
pub const DEFAULT_MAX_CONNS: u32 = 32768;
/// The largest connection capacity accepted: 2,097,152 sockets, whose preallocated maps
/// already take about a gigabyte of kernel memory (docs/operations.md, "Capacity").
pub const MAX_MAX_CONNS: u32 = 1 << 20;
/// Capacity of the per-socket maps (SOCKHASH, PEERS, ACTIVE, BACKLOG) by default.
pub const MAX_CONNS: u32 = sockets_for(DEFAULT_MAX_CONNS);

/// Entries a per-socket map needs for `max_conns` connections: two sockets each, saturating
/// at `u32::MAX`.
pub const fn sockets_for(max_conns: u32) -> u32 {
    max_conns.saturating_mul(2)
}

/// The connection capacity of a bypass whose sockhash has `entries` entries (the inverse of
/// [`sockets_for`], rounded down).
pub const fn conns_for(entries: u32) -> u32 {
    entries / 2
}
/// Capacity of the configuration maps (PREFIXES, EXCLUDED_PORTS).
pub const MAX_CONFIG_ENTRIES: u32 = 1024;

const MAPS: [MapDef; 6] = [
    MapDef {
        name: names::SOCK_HASH,
        kind: MapKind::SockHash,
        key_size: CONN_KEY_LEN as u32,
        // 8 so that user space can read socket cookies back (4 would make lookups fail).
        value_size: 8,
        max_entries: MAX_CONNS,
        flags: 0,
        per_socket: true,
    },
    MapDef {
        name: names::PEERS,
        kind: MapKind::Hash,
        key_size: CONN_KEY_LEN as u32,
        value_size: PEER_VALUE_LEN as u32,
        max_entries: MAX_CONNS,
        flags: 0,
        per_socket: true,
    },
    MapDef {
        name: names::ACTIVE,
        kind: MapKind::Hash,
        key_size: ENDPOINT_LEN as u32,
        value_size: WAITING_LEN as u32,
        max_entries: MAX_CONNS,
        flags: 0,
        per_socket: true,
    },
    MapDef {
        name: names::PREFIXES,
        kind: MapKind::LpmTrie,
        key_size: PREFIX_KEY_LEN as u32,
        value_size: 4,
        max_entries: MAX_CONFIG_ENTRIES,
        flags: uapi::BPF_F_NO_PREALLOC,
        per_socket: false,
    },
    MapDef {
        name: names::EXCLUDED_PORTS,
        kind: MapKind::Hash,
        key_size: PORT_KEY_LEN as u32,
        value_size: 4,
        max_entries: MAX_CONFIG_ENTRIES,
        flags: 0,
        per_socket: false,
    },
    MapDef {
        name: names::COUNTERS,
        kind: MapKind::PerCpuArray,
        key_size: 4,
        value_size: 8,
        max_entries: Counter::ALL.len() as u32,
        flags: 0,
        per_socket: false,
    },
];

/// Every map the two programs use, in creation order, with the default capacity
/// ([`DEFAULT_MAX_CONNS`]).
pub fn maps() -> &'static [MapDef] {
    &MAPS
}

/// Every map the two programs use, in creation order, sized for `max_conns` connections
/// ([`MapDef::sized_for`]).
pub fn maps_for(max_conns: u32) -> Vec<MapDef> {
    MAPS.iter().map(|m| m.sized_for(max_conns)).collect()
}

/// The definition of the map called `name`, if there is one.
pub fn map(name: &str) -> Option<&'static MapDef> {
    MAPS.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{ConnKey, Endpoint, PrefixKey, Waiting};
    use std::collections::HashSet;

    #[test]
    fn names_fit_the_kernel_limit_and_charset() {
        for m in maps() {
            assert!(m.name.len() <= 15, "{} is too long", m.name);
            assert!(!m.name.is_empty());
            assert!(
                m.name
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.'),
                "{} has a character the kernel rejects",
                m.name
            );
        }
    }

    #[test]
    fn capacity_sizes_every_per_socket_map_and_nothing_else() {
        let small = maps_for(3);
        assert_eq!(small.len(), maps().len());
        for (d, s) in maps().iter().zip(&small) {
            assert_eq!(d.name, s.name);
            if d.per_socket {
                assert_eq!(d.max_entries, MAX_CONNS, "{}", d.name);
                assert_eq!(s.max_entries, 6, "{}", d.name);
            } else {
                assert_eq!(d, s, "{} is not per socket", d.name);
            }
        }
        // The maps that grow with connections are the ones keyed by a socket's key.
        let per: Vec<_> = maps()
            .iter()
            .filter(|m| m.per_socket)
            .map(|m| m.name)
            .collect();
        assert_eq!(per, [names::SOCK_HASH, names::PEERS, names::ACTIVE]);
        assert_eq!(maps_for(DEFAULT_MAX_CONNS), maps());
        assert_eq!(conns_for(sockets_for(MAX_MAX_CONNS)), MAX_MAX_CONNS);
        assert_eq!(sockets_for(u32::MAX), u32::MAX);
    }

    #[test]
    fn names_are_unique() {
        let set: HashSet<_> = maps().iter().map(|m| m.name).collect();
        assert_eq!(set.len(), maps().len());
    }

    #[test]
    fn sizes_match_the_key_layouts() {
        let socks = map(names::SOCK_HASH).unwrap();
        assert_eq!(socks.kind, MapKind::SockHash);
        assert_eq!(socks.key_size as usize, ConnKey::default().to_bytes().len());
        assert_eq!(socks.value_size, 8);

        let peers = map(names::PEERS).unwrap();
        assert_eq!(peers.key_size as usize, ConnKey::default().to_bytes().len());
        assert_eq!(
            peers.value_size as usize,
            crate::key::peer_value(&ConnKey::default()).len()
        );

        let active = map(names::ACTIVE).unwrap();
        assert_eq!(
            active.key_size as usize,
            Endpoint::default().to_bytes().len()
        );
        assert_eq!(
            active.value_size as usize,
            Waiting::default().to_bytes().len()
        );

        let prefixes = map(names::PREFIXES).unwrap();
        assert_eq!(prefixes.kind, MapKind::LpmTrie);
        assert_eq!(
            prefixes.key_size as usize,
            PrefixKey::default().to_bytes().len()
        );
        assert_eq!(prefixes.flags, uapi::BPF_F_NO_PREALLOC);

        let ports = map(names::EXCLUDED_PORTS).unwrap();
        assert_eq!(ports.key_size as usize, crate::key::port_key(80).len());

        let counters = map(names::COUNTERS).unwrap();
        assert_eq!(counters.kind, MapKind::PerCpuArray);
        assert_eq!(counters.max_entries as usize, Counter::ALL.len());
        assert_eq!(counters.value_size, 8);
        assert_eq!(counters.key_size, 4);
    }

    #[test]
    fn only_the_trie_is_not_preallocated() {
        for m in maps() {
            let want = if m.kind == MapKind::LpmTrie {
                uapi::BPF_F_NO_PREALLOC
            } else {
                0
            };
            assert_eq!(m.flags, want, "{}", m.name);
        }
    }

    #[test]
    fn uapi_types() {
        assert_eq!(MapKind::Hash.uapi_type(), 1);
        assert_eq!(MapKind::PerCpuArray.uapi_type(), 6);
        assert_eq!(MapKind::LpmTrie.uapi_type(), 11);
        assert_eq!(MapKind::SockHash.uapi_type(), 18);
        assert_eq!(MapKind::LruHash.uapi_type(), 9);
    }

    #[test]
    fn unknown_map_name() {
        assert!(map("nope").is_none());
        assert!(map(names::COUNTERS).is_some());
    }
}
