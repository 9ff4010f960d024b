//! The maps the bypass programs use: their names (as the programs reference them with
//! `ld_map`), types, key and value sizes, capacities and creation flags.
//!
//! The loader creates one map per [`MapDef`] from [`maps()`] and binds the programs' map
//! references by [`MapDef::name`]. Key layouts are described (and built) in [`crate::key`].

use crate::counters::Counter;
use crate::key::{CONN_KEY_LEN, ENDPOINT_LEN, PORT_KEY_LEN, PREFIX_KEY_LEN};
use crate::uapi;

/// Map names, at most 15 bytes each (the kernel's `BPF_OBJ_NAME_LEN` is 16 with the NUL).
pub mod names {
    /// SOCKHASH: every bypassed socket under its own `ConnKey`.
    pub const SOCK_HASH: &str = "tb_socks";
    /// HASH: own `ConnKey` → the peer socket's `ConnKey`.
    pub const PEERS: &str = "tb_peers";
    /// HASH: a client's local `Endpoint` → the client's `ConnKey`, until its server pairs.
    pub const ACTIVE: &str = "tb_active";
    /// LPM_TRIE: destination prefixes whose connections may be bypassed.
    pub const PREFIXES: &str = "tb_prefixes";
    /// HASH: ports (host order u32) whose connections are never bypassed.
    pub const EXCLUDED_PORTS: &str = "tb_excl_ports";
    /// LRU_HASH: a sending socket's `ConnKey` → how many of its redirected messages may
    /// still be unread by its peer (an upper bound, reset when the peer's queue is empty).
    pub const BACKLOG: &str = "tb_backlog";
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
}

/// Capacity of the connection maps (SOCKHASH, PEERS, ACTIVE).
pub const MAX_CONNS: u32 = 65535;
/// Capacity of the configuration maps (PREFIXES, EXCLUDED_PORTS).
pub const MAX_CONFIG_ENTRIES: u32 = 1024;

const MAPS: [MapDef; 7] = [
    MapDef {
        name: names::SOCK_HASH,
        kind: MapKind::SockHash,
        key_size: CONN_KEY_LEN as u32,
        // 8 so that user space can read socket cookies back (4 would make lookups fail).
        value_size: 8,
        max_entries: MAX_CONNS,
        flags: 0,
    },
    MapDef {
        name: names::PEERS,
        kind: MapKind::Hash,
        key_size: CONN_KEY_LEN as u32,
        value_size: CONN_KEY_LEN as u32,
        max_entries: MAX_CONNS,
        flags: 0,
    },
    MapDef {
        name: names::ACTIVE,
        kind: MapKind::Hash,
        key_size: ENDPOINT_LEN as u32,
        value_size: CONN_KEY_LEN as u32,
        max_entries: MAX_CONNS,
        flags: 0,
    },
    MapDef {
        name: names::PREFIXES,
        kind: MapKind::LpmTrie,
        key_size: PREFIX_KEY_LEN as u32,
        value_size: 4,
        max_entries: MAX_CONFIG_ENTRIES,
        flags: uapi::BPF_F_NO_PREALLOC,
    },
    MapDef {
        name: names::EXCLUDED_PORTS,
        kind: MapKind::Hash,
        key_size: PORT_KEY_LEN as u32,
        value_size: 4,
        max_entries: MAX_CONFIG_ENTRIES,
        flags: 0,
    },
    MapDef {
        name: names::BACKLOG,
        kind: MapKind::LruHash,
        key_size: CONN_KEY_LEN as u32,
        value_size: 8,
        max_entries: MAX_CONNS,
        flags: 0,
    },
    MapDef {
        name: names::COUNTERS,
        kind: MapKind::PerCpuArray,
        key_size: 4,
        value_size: 8,
        max_entries: Counter::ALL.len() as u32,
        flags: 0,
    },
];

/// Every map the two programs use, in creation order.
pub fn maps() -> &'static [MapDef] {
    &MAPS
}

/// The definition of the map called `name`, if there is one.
pub fn map(name: &str) -> Option<&'static MapDef> {
    MAPS.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{ConnKey, Endpoint, PrefixKey};
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
            ConnKey::default().to_bytes().len()
        );

        let active = map(names::ACTIVE).unwrap();
        assert_eq!(
            active.key_size as usize,
            Endpoint::default().to_bytes().len()
        );
        assert_eq!(
            active.value_size as usize,
            ConnKey::default().to_bytes().len()
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
