//! Emulated maps with the kernel's semantics (`kernel/bpf/hashtab.c`, `lpm_trie.c`,
//! `arraymap.c`, `net/core/sock_map.c` as documented in `bpf.h`'s helper descriptions):
//! return codes, flag validation, capacity, longest-prefix match.
//!
//! Values live in a fixed arena per map, allocated once, so that a pointer a lookup returns
//! stays valid and can be registered with rbpf before the program runs. Freed slots are not
//! reused until the program run ends (like the kernel's RCU grace period).

use std::collections::HashMap;

use crate::uapi::{self, errno};

/// Socket ids the emulated sockhash holds.
pub type SockId = u64;

/// What a map is, as given to the harness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSpec {
    /// Name the programs' `ld_map` uses.
    pub name: String,
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// Map flags.
    pub flags: u32,
}

/// Value slots in chunks whose addresses never change: a pointer a lookup returns stays
/// valid, and every chunk is registered with rbpf before a run.
#[derive(Debug)]
pub struct Arena {
    chunks: Vec<Box<[u8]>>,
    slot: usize,
    capacity: usize,
    free: Vec<usize>,
    deferred: Vec<usize>,
}

/// Slots per chunk.
const CHUNK: usize = 256;
/// Free slots guaranteed at the start of each run (a run inserts far fewer).
const HEADROOM: usize = 16;

impl Arena {
    fn new(capacity: usize, slot: usize) -> Arena {
        let mut a = Arena {
            chunks: Vec::new(),
            slot,
            capacity,
            free: Vec::new(),
            deferred: Vec::new(),
        };
        a.reserve();
        a
    }
    fn allocated(&self) -> usize {
        self.chunks.len() * CHUNK
    }
    /// Makes sure `HEADROOM` slots are free (or the capacity is reached).
    fn reserve(&mut self) {
        while self.free.len() < HEADROOM && self.allocated() < self.capacity {
            let base = self.allocated();
            // 8 bytes of padding: rbpf checks only the first byte of an access against
            // registered ranges, so a wide access that starts in the last slot must still
            // stay inside memory we own.
            self.chunks
                .push(vec![0u8; CHUNK * self.slot + 8].into_boxed_slice());
            let n = CHUNK.min(self.capacity - base);
            self.free.extend((base..base + n).rev());
        }
    }
    fn alloc(&mut self) -> Option<usize> {
        self.free.pop()
    }
    fn release(&mut self, s: usize) {
        self.deferred.push(s);
    }
    fn end_of_run(&mut self) {
        self.free.append(&mut self.deferred);
        self.reserve();
    }
    fn bytes(&self, s: usize) -> &[u8] {
        let o = (s % CHUNK) * self.slot;
        &self.chunks[s / CHUNK][o..o + self.slot]
    }
    fn bytes_mut(&mut self, s: usize) -> &mut [u8] {
        let o = (s % CHUNK) * self.slot;
        &mut self.chunks[s / CHUNK][o..o + self.slot]
    }
    fn addr(&self, s: usize) -> u64 {
        self.chunks[s / CHUNK].as_ptr() as u64 + ((s % CHUNK) * self.slot) as u64
    }
    /// The address ranges rbpf may access (every slot, not the padding).
    pub fn ranges(&self) -> Vec<std::ops::Range<u64>> {
        self.chunks
            .iter()
            .map(|c| {
                let start = c.as_ptr() as u64;
                start..start + (c.len() - 8) as u64
            })
            .collect()
    }
}

/// The storage of one map kind.
#[derive(Debug)]
pub enum Store {
    /// `BPF_MAP_TYPE_HASH`: key bytes → value slot.
    Hash(HashMap<Vec<u8>, usize>),
    /// `BPF_MAP_TYPE_LPM_TRIE`: (prefixlen, masked data) → value slot.
    Lpm(HashMap<(u32, Vec<u8>), usize>),
    /// `BPF_MAP_TYPE_PERCPU_ARRAY`: slot `cpu * max_entries + index`.
    PerCpuArray {
        /// Number of CPUs.
        ncpus: usize,
    },
    /// `BPF_MAP_TYPE_SOCKHASH`: key bytes → socket.
    SockHash(HashMap<Vec<u8>, SockId>),
}

/// One emulated map.
#[derive(Debug)]
pub struct EmuMap {
    /// Its definition.
    pub spec: MapSpec,
    /// Its entries.
    pub store: Store,
    /// Its values.
    pub arena: Arena,
}

fn masked(data: &[u8], bits: u32) -> Vec<u8> {
    data.iter()
        .enumerate()
        .map(|(i, b)| {
            let lo = i as u32 * 8;
            if bits >= lo + 8 {
                *b
            } else if bits <= lo {
                0
            } else {
                b & (0xffu8 << (8 - (bits - lo)))
            }
        })
        .collect()
}

impl EmuMap {
    /// An empty map. `ncpus` matters only for per-CPU maps.
    pub fn new(spec: MapSpec, ncpus: usize) -> EmuMap {
        let vs = spec.value_size as usize;
        let n = spec.max_entries as usize;
        let (store, slots) = match spec.map_type {
            uapi::MAP_TYPE_LPM_TRIE => (Store::Lpm(HashMap::new()), n),
            uapi::MAP_TYPE_PERCPU_ARRAY => (Store::PerCpuArray { ncpus }, n * ncpus),
            uapi::MAP_TYPE_SOCKHASH => (Store::SockHash(HashMap::new()), 0),
            // An LRU hash is emulated as a plain hash: same return codes, but a full one
            // answers `-E2BIG` where the kernel would evict its least recently used entry.
            // The bypass has none since `tb_backlog` was folded into `tb_peers`.
            uapi::MAP_TYPE_HASH | uapi::MAP_TYPE_LRU_HASH => (Store::Hash(HashMap::new()), n),
            _ => (Store::Hash(HashMap::new()), n),
        };
        let mut arena = Arena::new(slots, vs.max(1));
        if matches!(store, Store::PerCpuArray { .. }) {
            // Every element exists: allocate all of them, none is free.
            while arena.allocated() < slots {
                arena.free.clear();
                arena.reserve();
            }
            arena.free.clear();
            arena.capacity = 0;
        }
        EmuMap { spec, store, arena }
    }

    /// Number of entries (per-CPU arrays: `max_entries`).
    pub fn len(&self) -> usize {
        match &self.store {
            Store::Hash(m) => m.len(),
            Store::Lpm(m) => m.len(),
            Store::PerCpuArray { .. } => self.spec.max_entries as usize,
            Store::SockHash(m) => m.len(),
        }
    }

    /// Whether the map holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lpm_max_bits(&self) -> u32 {
        (self.spec.key_size - 4) * 8
    }

    fn lpm_split(key: &[u8]) -> (u32, &[u8]) {
        (
            u32::from_le_bytes(key[..4].try_into().expect("4 bytes")),
            &key[4..],
        )
    }

    /// `bpf_map_lookup_elem`: the value's address, or `None` (NULL). `cpu` selects the
    /// per-CPU copy.
    pub fn lookup(&self, key: &[u8], cpu: usize) -> Option<u64> {
        match &self.store {
            Store::Hash(m) => m.get(key).map(|s| self.arena.addr(*s)),
            Store::Lpm(m) => {
                let (plen, data) = Self::lpm_split(key);
                let max = plen.min(self.lpm_max_bits());
                // Longest prefix p <= the key's prefixlen whose first p bits match.
                (0..=max)
                    .rev()
                    .find_map(|p| m.get(&(p, masked(data, p))))
                    .map(|s| self.arena.addr(*s))
            }
            Store::PerCpuArray { .. } => {
                let i = u32::from_le_bytes(key[..4].try_into().ok()?) as usize;
                (i < self.spec.max_entries as usize)
                    .then(|| self.arena.addr(cpu * self.spec.max_entries as usize + i))
            }
            // From a program, a sockhash lookup returns a socket reference the program must
            // release; the bypass programs never do it and the harness refuses it.
            Store::SockHash(_) => None,
        }
    }

    /// `bpf_map_update_elem` from a program (or from user space): 0 or a negative errno.
    pub fn update(&mut self, key: &[u8], value: &[u8], flags: u64, cpu: usize) -> i64 {
        if flags > uapi::BPF_EXIST {
            return -errno::EINVAL;
        }
        // The kernel's helpers read exactly key_size and value_size bytes; a caller in this
        // harness with other sizes is a bug in the caller, reported as the syscall would.
        if key.len() != self.spec.key_size as usize || value.len() != self.spec.value_size as usize
        {
            return -errno::EINVAL;
        }
        let max = self.spec.max_entries as usize;
        match &mut self.store {
            Store::Hash(m) => {
                let exists = m.contains_key(key);
                if exists && flags == uapi::BPF_NOEXIST {
                    return -errno::EEXIST;
                }
                if !exists && flags == uapi::BPF_EXIST {
                    return -errno::ENOENT;
                }
                let slot = match m.get(key) {
                    Some(s) => *s,
                    None => {
                        if m.len() >= max {
                            return -errno::E2BIG;
                        }
                        let Some(s) = self.arena.alloc() else {
                            return -errno::E2BIG;
                        };
                        m.insert(key.to_vec(), s);
                        s
                    }
                };
                self.arena.bytes_mut(slot).copy_from_slice(value);
                0
            }
            Store::Lpm(m) => {
                let (plen, data) = Self::lpm_split(key);
                if plen > (self.spec.key_size - 4) * 8 {
                    return -errno::EINVAL;
                }
                let k = (plen, masked(data, plen));
                let exists = m.contains_key(&k);
                if exists && flags == uapi::BPF_NOEXIST {
                    return -errno::EEXIST;
                }
                if !exists && flags == uapi::BPF_EXIST {
                    return -errno::ENOENT;
                }
                let slot = match m.get(&k) {
                    Some(s) => *s,
                    None => {
                        // lpm_trie.c returns -ENOSPC when the trie is full.
                        if m.len() >= max {
                            return -errno::ENOSPC;
                        }
                        let Some(s) = self.arena.alloc() else {
                            return -errno::ENOSPC;
                        };
                        m.insert(k, s);
                        s
                    }
                };
                self.arena.bytes_mut(slot).copy_from_slice(value);
                0
            }
            Store::PerCpuArray { .. } => {
                let i = u32::from_le_bytes(key[..4].try_into().expect("4-byte key")) as usize;
                if i >= max {
                    return -errno::E2BIG;
                }
                if flags == uapi::BPF_NOEXIST {
                    return -errno::EEXIST;
                }
                let s = cpu * max + i;
                self.arena.bytes_mut(s).copy_from_slice(value);
                0
            }
            // A program cannot store a socket with bpf_map_update_elem from sock_ops/sk_msg in
            // this emulation; bpf_sock_hash_update is the way.
            Store::SockHash(_) => -errno::EOPNOTSUPP,
        }
    }

    /// `bpf_map_delete_elem`: 0 or a negative errno.
    pub fn delete(&mut self, key: &[u8]) -> i64 {
        match &mut self.store {
            Store::Hash(m) => match m.remove(key) {
                Some(s) => {
                    self.arena.release(s);
                    0
                }
                None => -errno::ENOENT,
            },
            Store::Lpm(m) => {
                let (plen, data) = Self::lpm_split(key);
                if plen > (self.spec.key_size - 4) * 8 {
                    return -errno::EINVAL;
                }
                match m.remove(&(plen, masked(data, plen))) {
                    Some(s) => {
                        self.arena.release(s);
                        0
                    }
                    None => -errno::ENOENT,
                }
            }
            Store::PerCpuArray { .. } => -errno::EINVAL,
            Store::SockHash(m) => match m.remove(key) {
                Some(_) => 0,
                None => -errno::ENOENT,
            },
        }
    }

    /// `bpf_sock_hash_update`'s map part: 0 or a negative errno.
    pub fn sock_update(&mut self, key: &[u8], sock: SockId, flags: u64) -> i64 {
        if flags > uapi::BPF_EXIST {
            return -errno::EINVAL;
        }
        let max = self.spec.max_entries as usize;
        let Store::SockHash(m) = &mut self.store else {
            return -errno::EINVAL;
        };
        let exists = m.contains_key(key);
        if exists && flags == uapi::BPF_NOEXIST {
            return -errno::EEXIST;
        }
        if !exists && flags == uapi::BPF_EXIST {
            return -errno::ENOENT;
        }
        if !exists && m.len() >= max {
            return -errno::E2BIG;
        }
        m.insert(key.to_vec(), sock);
        0
    }

    /// The socket stored under `key` in a sockhash.
    pub fn sock_lookup(&self, key: &[u8]) -> Option<SockId> {
        match &self.store {
            Store::SockHash(m) => m.get(key).copied(),
            _ => None,
        }
    }

    /// Removes a closing socket from a sockhash (the kernel's `sock_map_close`/unlink).
    pub fn unlink_socket(&mut self, sock: SockId) {
        if let Store::SockHash(m) = &mut self.store {
            m.retain(|_, s| *s != sock);
        }
    }

    /// Sockets in a sockhash, by key.
    pub fn sockets(&self) -> Vec<(Vec<u8>, SockId)> {
        match &self.store {
            Store::SockHash(m) => m.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            _ => Vec::new(),
        }
    }

    /// Entries of a hash map as (key, value) bytes.
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        match &self.store {
            Store::Hash(m) => m
                .iter()
                .map(|(k, s)| (k.clone(), self.arena.bytes(*s).to_vec()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The value of a per-CPU array element summed as u64 over every CPU.
    pub fn percpu_sum_u64(&self, index: u32) -> u64 {
        let Store::PerCpuArray { ncpus } = &self.store else {
            return 0;
        };
        let max = self.spec.max_entries as usize;
        (0..*ncpus)
            .map(|c| {
                let b = self.arena.bytes(c * max + index as usize);
                u64::from_le_bytes(b[..8].try_into().expect("8-byte value"))
            })
            .fold(0u64, u64::wrapping_add)
    }

    /// Adds `delta` to the u64 at `index` of a per-CPU array, in `cpu`'s copy (what a program's
    /// load-add-store of a counter does). Returns `false` if this is not a per-CPU array or
    /// `index`/`cpu` is out of range.
    pub fn percpu_add_u64(&mut self, index: u32, cpu: usize, delta: u64) -> bool {
        let Store::PerCpuArray { ncpus } = &self.store else {
            return false;
        };
        let max = self.spec.max_entries as usize;
        if index as usize >= max || cpu >= *ncpus || self.spec.value_size < 8 {
            return false;
        }
        let b = &mut self.arena.bytes_mut(cpu * max + index as usize)[..8];
        let v = u64::from_le_bytes(b[..].try_into().expect("8 bytes")).wrapping_add(delta);
        b.copy_from_slice(&v.to_le_bytes());
        true
    }

    /// Ends a program run: deferred frees become reusable.
    pub fn end_of_run(&mut self) {
        self.arena.end_of_run();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(t: u32, k: u32, v: u32, n: u32) -> MapSpec {
        MapSpec {
            name: "m".into(),
            map_type: t,
            key_size: k,
            value_size: v,
            max_entries: n,
            flags: 0,
        }
    }

    #[test]
    fn hash_return_codes() {
        let mut m = EmuMap::new(spec(uapi::MAP_TYPE_HASH, 4, 4, 2), 1);
        assert_eq!(
            m.update(&[1, 0, 0, 0], &[9; 4], uapi::BPF_EXIST, 0),
            -errno::ENOENT
        );
        assert_eq!(m.update(&[1, 0, 0, 0], &[9; 4], uapi::BPF_NOEXIST, 0), 0);
        assert_eq!(
            m.update(&[1, 0, 0, 0], &[9; 4], uapi::BPF_NOEXIST, 0),
            -errno::EEXIST
        );
        assert_eq!(m.update(&[1, 0, 0, 0], &[9; 4], 4, 0), -errno::EINVAL);
        assert_eq!(m.update(&[2, 0, 0, 0], &[9; 4], uapi::BPF_ANY, 0), 0);
        assert_eq!(
            m.update(&[3, 0, 0, 0], &[9; 4], uapi::BPF_ANY, 0),
            -errno::E2BIG
        );
        // Replacing in a full map is fine.
        assert_eq!(m.update(&[2, 0, 0, 0], &[8; 4], uapi::BPF_ANY, 0), 0);
        assert_eq!(m.delete(&[3, 0, 0, 0]), -errno::ENOENT);
        assert_eq!(m.delete(&[2, 0, 0, 0]), 0);
        assert!(m.lookup(&[2, 0, 0, 0], 0).is_none());
        let p = m.lookup(&[1, 0, 0, 0], 0).unwrap();
        assert!(m.arena.ranges().iter().any(|r| r.contains(&p)));
    }

    #[test]
    fn lpm_longest_prefix() {
        let mut m = EmuMap::new(spec(uapi::MAP_TYPE_LPM_TRIE, 8, 4, 4), 1);
        let key = |plen: u32, a: [u8; 4]| {
            let mut k = plen.to_le_bytes().to_vec();
            k.extend_from_slice(&a);
            k
        };
        assert_eq!(
            m.update(&key(8, [10, 9, 9, 9]), &1u32.to_le_bytes(), 0, 0),
            0
        );
        assert_eq!(
            m.update(&key(24, [10, 1, 2, 0]), &2u32.to_le_bytes(), 0, 0),
            0
        );
        assert_eq!(
            m.update(&key(33, [10, 1, 2, 0]), &2u32.to_le_bytes(), 0, 0),
            -errno::EINVAL
        );
        // Same prefix, different host bits: the same entry.
        assert_eq!(
            m.update(
                &key(8, [10, 0, 0, 0]),
                &3u32.to_le_bytes(),
                uapi::BPF_NOEXIST,
                0
            ),
            -errno::EEXIST
        );
        let val = |p: u64| unsafe { *(p as *const u32) };
        assert_eq!(val(m.lookup(&key(32, [10, 1, 2, 3]), 0).unwrap()), 2);
        assert_eq!(val(m.lookup(&key(32, [10, 1, 3, 3]), 0).unwrap()), 1);
        // A lookup key's prefixlen bounds the match.
        assert_eq!(val(m.lookup(&key(16, [10, 1, 2, 3]), 0).unwrap()), 1);
        assert!(m.lookup(&key(32, [11, 1, 2, 3]), 0).is_none());
        assert_eq!(m.delete(&key(24, [10, 1, 2, 77])), 0);
        assert_eq!(val(m.lookup(&key(32, [10, 1, 2, 3]), 0).unwrap()), 1);
    }

    #[test]
    fn percpu_array_semantics() {
        let mut m = EmuMap::new(spec(uapi::MAP_TYPE_PERCPU_ARRAY, 4, 8, 3), 2);
        assert_eq!(m.update(&3u32.to_le_bytes(), &[0; 8], 0, 0), -errno::E2BIG);
        assert_eq!(
            m.update(&1u32.to_le_bytes(), &[0; 8], uapi::BPF_NOEXIST, 0),
            -errno::EEXIST
        );
        assert_eq!(m.update(&1u32.to_le_bytes(), &5u64.to_le_bytes(), 0, 0), 0);
        assert_eq!(m.update(&1u32.to_le_bytes(), &7u64.to_le_bytes(), 0, 1), 0);
        assert_eq!(m.percpu_sum_u64(1), 12);
        assert_eq!(m.delete(&1u32.to_le_bytes()), -errno::EINVAL);
        assert!(m.lookup(&3u32.to_le_bytes(), 0).is_none());
        assert_ne!(
            m.lookup(&1u32.to_le_bytes(), 0),
            m.lookup(&1u32.to_le_bytes(), 1)
        );
    }

    #[test]
    fn lru_hash_is_emulated_as_a_hash() {
        let mut m = EmuMap::new(spec(uapi::MAP_TYPE_LRU_HASH, 48, 8, 2), 1);
        assert!(matches!(m.store, Store::Hash(_)));
        assert_eq!(m.update(&[1; 48], &[7; 8], uapi::BPF_ANY, 0), 0);
        assert_eq!(
            m.update(&[1; 48], &[7; 8], uapi::BPF_NOEXIST, 0),
            -errno::EEXIST
        );
        assert_eq!(m.update(&[2; 48], &[7; 8], uapi::BPF_ANY, 0), 0);
        let p = m.lookup(&[2; 48], 0).unwrap();
        assert_eq!(unsafe { *(p as *const u64) }, 0x0707_0707_0707_0707);
        assert_eq!(m.delete(&[1; 48]), 0);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn percpu_add_touches_one_cpu() {
        let mut m = EmuMap::new(spec(uapi::MAP_TYPE_PERCPU_ARRAY, 4, 8, 3), 2);
        assert!(m.percpu_add_u64(2, 1, 5));
        assert!(m.percpu_add_u64(2, 1, 1));
        assert!(m.percpu_add_u64(2, 0, 1));
        assert_eq!(m.percpu_sum_u64(2), 7);
        assert_eq!(m.percpu_sum_u64(1), 0);
        assert!(!m.percpu_add_u64(3, 0, 1));
        assert!(!m.percpu_add_u64(0, 2, 1));
        let mut h = EmuMap::new(spec(uapi::MAP_TYPE_HASH, 4, 8, 3), 1);
        assert!(!h.percpu_add_u64(0, 0, 1));
    }

    #[test]
    fn sockhash_semantics() {
        let mut m = EmuMap::new(spec(uapi::MAP_TYPE_SOCKHASH, 4, 8, 1), 1);
        assert_eq!(m.sock_update(&[1; 4], 7, 3), -errno::EINVAL);
        assert_eq!(m.sock_update(&[1; 4], 7, uapi::BPF_EXIST), -errno::ENOENT);
        assert_eq!(m.sock_update(&[1; 4], 7, uapi::BPF_NOEXIST), 0);
        assert_eq!(m.sock_update(&[1; 4], 8, uapi::BPF_NOEXIST), -errno::EEXIST);
        assert_eq!(m.sock_update(&[2; 4], 8, uapi::BPF_ANY), -errno::E2BIG);
        assert_eq!(m.sock_lookup(&[1; 4]), Some(7));
        m.unlink_socket(7);
        assert!(m.is_empty());
    }
}
