//! Typed views of a [`Map`]: keys and values as [`Pod`] types instead of byte slices, checked
//! once, when the view is made, against the map's key and value sizes (a mismatch is an
//! [`Error::InvalidArgument`], never a panic).
//!
//! - [`TypedMap`]: hash, LRU hash and array maps (`TypedMap<u32, V>` for an array).
//! - [`PerCpuMap`]: per-CPU hash and array maps, one value per possible CPU.
//! - [`TypedQueue`]: queue and stack maps (Linux 4.20).
//!
//! ```no_run
//! use loader::{Map, MapSpec, MapType, UpdateFlags};
//! use loader::typed::TypedMap;
//!
//! let map = Map::create(&MapSpec::new("counts", MapType::Hash, 4, 8, 64))?;
//! let counts = TypedMap::<u32, u64>::new(&map)?;
//! counts.insert(&7, &100, UpdateFlags::Any)?;
//! for entry in counts.iter() {
//!     let (port, count) = entry?;
//!     println!("{port}: {count}");
//! }
//! # Ok::<(), loader::Error>(())
//! ```

use std::collections::HashSet;
use std::marker::PhantomData;
use std::mem::size_of;

use crate::error::{Error, Result};
use crate::map::{Map, UpdateFlags};
pub use crate::sys::pod::Pod;
use crate::sys::pod::{as_bytes, from_bytes};

fn check_sizes<K, V>(map: &Map, key: bool, what: &str) -> Result<()> {
    if key && size_of::<K>() != map.key_size() as usize {
        return Err(Error::InvalidArgument(format!(
            "map {}: {what} key type is {} bytes, the map's keys are {}",
            map.name(),
            size_of::<K>(),
            map.key_size()
        )));
    }
    if size_of::<V>() != map.value_size() as usize {
        return Err(Error::InvalidArgument(format!(
            "map {}: {what} value type is {} bytes, the map's values are {}",
            map.name(),
            size_of::<V>(),
            map.value_size()
        )));
    }
    Ok(())
}

fn decode<T: Pod>(map: &Map, b: &[u8]) -> Result<T> {
    from_bytes(b).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "map {}: the kernel returned {} bytes for a {}-byte type",
            map.name(),
            b.len(),
            size_of::<T>()
        ))
    })
}

/// A hash, LRU hash or array map with keys `K` and values `V`.
#[derive(Debug, Clone, Copy)]
pub struct TypedMap<'a, K, V> {
    map: &'a Map,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<'a, K: Pod, V: Pod> TypedMap<'a, K, V> {
    /// A view of `map`; fails when `K` or `V` does not have the map's key or value size, or
    /// the map is per-CPU (use [`PerCpuMap`]).
    pub fn new(map: &'a Map) -> Result<Self> {
        check_sizes::<K, V>(map, true, "the")?;
        if map.map_type().is_per_cpu() {
            return Err(Error::InvalidArgument(format!(
                "map {} is per-CPU: use PerCpuMap",
                map.name()
            )));
        }
        Ok(TypedMap {
            map,
            _types: PhantomData,
        })
    }

    /// The map viewed.
    pub fn map(&self) -> &'a Map {
        self.map
    }

    /// The value at `key`, `None` when absent.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        match self.map.get(as_bytes(key))? {
            Some(v) => decode(self.map, &v).map(Some),
            None => Ok(None),
        }
    }

    /// Stores `value` at `key`.
    pub fn insert(&self, key: &K, value: &V, flags: UpdateFlags) -> Result<()> {
        self.map.put(as_bytes(key), as_bytes(value), flags)
    }

    /// Deletes `key`; `false` when it was absent (arrays cannot delete: EINVAL).
    pub fn remove(&self, key: &K) -> Result<bool> {
        self.map.delete(as_bytes(key))
    }

    /// Reads and deletes `key` in one step (see [`Map::lookup_and_delete`]: hash maps need
    /// Linux 5.14).
    pub fn lookup_and_delete(&self, key: &K) -> Result<Option<V>> {
        match self.map.lookup_and_delete(as_bytes(key))? {
            Some(v) => decode(self.map, &v).map(Some),
            None => Ok(None),
        }
    }

    /// The keys (see [`Iter`] for what happens when the map changes during the walk).
    pub fn keys(&self) -> impl Iterator<Item = Result<K>> + 'a {
        let map = self.map;
        Walk::new(map).map(move |k| k.and_then(|k| decode(map, &k)))
    }

    /// The (key, value) pairs, each key looked up as it is reached.
    pub fn iter(&self) -> Iter<'a, K, V> {
        Iter {
            walk: Walk::new(self.map),
            _types: PhantomData,
        }
    }
}

/// A `BPF_MAP_GET_NEXT_KEY` walk that yields each key at most once.
///
/// When the key the walk stands on has been deleted, the kernel restarts a hash map's walk
/// from its first key. The walk notices (the kernel hands back a key it yielded already),
/// drops the yielded keys that are gone from the end of its path, and resumes after the most
/// recent one still present, so deleting entries while iterating costs a few calls per
/// deletion, not a re-walk. Keys yielded already are never yielded again (they are
/// remembered by their bytes). The walk ends at the map's end, or after `4 × (max_entries + 1)`
/// `next_key` calls, so it ends even while other writers keep adding and deleting.
#[derive(Debug)]
struct Walk<'a> {
    map: &'a Map,
    /// Where the next `next_key` call starts (`None`: from the first key).
    last: Option<Vec<u8>>,
    /// The keys yielded, in order, minus those found deleted at its end.
    path: Vec<Vec<u8>>,
    seen: HashSet<Vec<u8>>,
    steps: u64,
    done: bool,
}

impl<'a> Walk<'a> {
    fn new(map: &'a Map) -> Self {
        Walk {
            map,
            last: None,
            path: Vec::new(),
            seen: HashSet::new(),
            steps: 0,
            done: false,
        }
    }

    /// Drops the deleted keys from the end of the path and returns where to resume: after
    /// the most recent yielded key still in the map, or from the start when none is.
    fn resume_point(&mut self) -> Result<Option<Vec<u8>>> {
        while let Some(k) = self.path.last() {
            if self.map.contains(k)? {
                return Ok(Some(k.clone()));
            }
            self.path.pop();
        }
        Ok(None)
    }
}

impl Iterator for Walk<'_> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let limit = 4 * (u64::from(self.map.max_entries()) + 1);
        // Resuming after a restart is tried once per yielded key, then the walk goes on
        // forward over keys it has seen (still bounded by `limit`).
        let mut resumed = false;
        while !self.done && self.steps < limit {
            self.steps += 1;
            match self.map.next_key(self.last.as_deref()) {
                Ok(Some(k)) if !self.seen.contains(&k) => {
                    self.seen.insert(k.clone());
                    self.path.push(k.clone());
                    self.last = Some(k.clone());
                    return Some(Ok(k));
                }
                Ok(Some(k)) => {
                    if resumed {
                        self.last = Some(k);
                        continue;
                    }
                    resumed = true;
                    match self.resume_point() {
                        Ok(from) => self.last = from,
                        Err(e) => {
                            self.done = true;
                            return Some(Err(e));
                        }
                    }
                }
                Ok(None) => self.done = true,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// Iterator over a [`TypedMap`]'s (key, value) pairs.
///
/// Tolerates concurrent deletion: a key deleted between its `next_key` and its lookup is
/// skipped, and a walk whose current key is deleted repeats no key (see `Walk`). Keys added
/// during the walk may or may not be seen.
#[derive(Debug)]
pub struct Iter<'a, K, V> {
    walk: Walk<'a>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K: Pod, V: Pod> Iterator for Iter<'_, K, V> {
    type Item = Result<(K, V)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let key = match self.walk.next()? {
                Ok(k) => k,
                Err(e) => return Some(Err(e)),
            };
            let map = self.walk.map;
            match map.get(&key) {
                Ok(Some(v)) => {
                    return Some(decode(map, &key).and_then(|k| Ok((k, decode(map, &v)?))));
                }
                // Deleted since next_key gave it.
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// A per-CPU hash or array map with keys `K` and values `V`, one `V` per possible CPU
/// (`/sys/devices/system/cpu/possible`), in CPU order.
#[derive(Debug, Clone, Copy)]
pub struct PerCpuMap<'a, K, V> {
    map: &'a Map,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<'a, K: Pod, V: Pod> PerCpuMap<'a, K, V> {
    /// A view of `map`; fails when the sizes differ or the map is not per-CPU.
    pub fn new(map: &'a Map) -> Result<Self> {
        check_sizes::<K, V>(map, true, "the")?;
        if !map.map_type().is_per_cpu() {
            return Err(Error::InvalidArgument(format!(
                "map {} is not per-CPU: use TypedMap",
                map.name()
            )));
        }
        Ok(PerCpuMap {
            map,
            _types: PhantomData,
        })
    }

    /// Every possible CPU's value at `key`, `None` when absent.
    pub fn get(&self, key: &K) -> Result<Option<Vec<V>>> {
        match self.map.get_per_cpu(as_bytes(key))? {
            Some(vs) => vs
                .iter()
                .map(|v| decode(self.map, v))
                .collect::<Result<Vec<V>>>()
                .map(Some),
            None => Ok(None),
        }
    }

    /// Stores one value per possible CPU at `key` (`values.len()` must be the number of
    /// possible CPUs, [`crate::env::possible_cpus`]).
    pub fn insert(&self, key: &K, values: &[V], flags: UpdateFlags) -> Result<()> {
        let raw: Vec<Vec<u8>> = values.iter().map(|v| as_bytes(v).to_vec()).collect();
        self.map.put_per_cpu(as_bytes(key), &raw, flags)
    }

    /// Deletes `key`; `false` when it was absent.
    pub fn remove(&self, key: &K) -> Result<bool> {
        self.map.delete(as_bytes(key))
    }

    /// The (key, per-CPU values) pairs, tolerating deletions as [`Iter`] does.
    pub fn iter(&self) -> impl Iterator<Item = Result<(K, Vec<V>)>> + 'a {
        let view = *self;
        Walk::new(self.map).filter_map(move |k| {
            let k = match k {
                Ok(k) => k,
                Err(e) => return Some(Err(e)),
            };
            let key: K = match decode(view.map, &k) {
                Ok(key) => key,
                Err(e) => return Some(Err(e)),
            };
            match view.get(&key) {
                Ok(Some(vs)) => Some(Ok((key, vs))),
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            }
        })
    }
}

/// A queue or stack map of values `V` (Linux 4.20).
#[derive(Debug, Clone, Copy)]
pub struct TypedQueue<'a, V> {
    map: &'a Map,
    _types: PhantomData<fn() -> V>,
}

impl<'a, V: Pod> TypedQueue<'a, V> {
    /// A view of `map`; fails when `V` is not the map's value size or the map is not a queue
    /// or stack.
    pub fn new(map: &'a Map) -> Result<Self> {
        check_sizes::<(), V>(map, false, "the")?;
        if !matches!(map.map_type(), crate::map::QUEUE | crate::map::STACK) {
            return Err(Error::InvalidArgument(format!(
                "map {} is a {}, not a queue or stack",
                map.name(),
                map.map_type()
            )));
        }
        Ok(TypedQueue {
            map,
            _types: PhantomData,
        })
    }

    /// Pushes `value` (see [`Map::push`]).
    pub fn push(&self, value: &V, flags: UpdateFlags) -> Result<()> {
        self.map.push(as_bytes(value), flags)
    }

    /// Takes the next value, `None` when empty.
    pub fn pop(&self) -> Result<Option<V>> {
        match self.map.pop()? {
            Some(v) => decode(self.map, &v).map(Some),
            None => Ok(None),
        }
    }

    /// The next value without taking it, `None` when empty.
    pub fn peek(&self) -> Result<Option<V>> {
        match self.map.peek()? {
            Some(v) => decode(self.map, &v).map(Some),
            None => Ok(None),
        }
    }
}
