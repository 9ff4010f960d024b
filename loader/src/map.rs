//! Maps: create from a [`MapSpec`], open from a pin or an id, read and write elements, iterate
//! keys, pin, and read the kernel's [`MapInfo`]; lookup-and-delete, queue/stack push, pop and
//! peek, map-of-maps slots, and batch operations with their per-element fallback. Typed
//! views over these are [`crate::typed`]'s.
//!
//! Keys and values are byte slices of exactly the map's key and value size; anything else is
//! an [`Error::InvalidArgument`] before the kernel is asked. Per-CPU maps hold one value per
//! possible CPU, each padded to 8 bytes in the kernel's buffer; [`Map::get_per_cpu`] and
//! [`Map::put_per_cpu`] take care of that.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::error::{Error, Result};
use crate::sys::{self, attr, consts, Cmd};
use crate::{env, pin};

pub use bpfobj::{MapSpec, MapType};

/// The attribute `BPF_MAP_CREATE` gets for `spec`.
pub(crate) fn map_create_attr(spec: &MapSpec) -> Result<attr::MapCreateAttr> {
    check_name(&spec.name)?;
    let mut flags = spec.flags;
    if spec.map_type == MapType::LpmTrie {
        flags |= consts::BPF_F_NO_PREALLOC;
    }
    Ok(attr::MapCreateAttr {
        map_type: spec.map_type.raw(),
        key_size: spec.key_size,
        value_size: spec.value_size,
        max_entries: spec.max_entries,
        map_flags: flags,
        map_name: attr::obj_name(&spec.name),
        ..Default::default()
    })
}

/// Checks an object name: non-empty, only letters, digits, `_` and `.` (what the kernel
/// accepts).
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    {
        return Err(Error::InvalidArgument(format!(
            "object name {name:?}: must be non-empty and use only letters, digits, '_' and '.'"
        )));
    }
    Ok(())
}

/// How [`Map::put`] treats an existing or missing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateFlags {
    /// Create or replace (`BPF_ANY`).
    #[default]
    Any,
    /// Only create (`BPF_NOEXIST`).
    NoExist,
    /// Only replace (`BPF_EXIST`).
    Exist,
}

impl UpdateFlags {
    fn raw(self) -> u64 {
        match self {
            UpdateFlags::Any => consts::BPF_ANY,
            UpdateFlags::NoExist => consts::BPF_NOEXIST,
            UpdateFlags::Exist => consts::BPF_EXIST,
        }
    }
}

/// What the kernel says about a map (`struct bpf_map_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapInfo {
    /// Kernel-wide id.
    pub id: u32,
    /// The name as the kernel keeps it (at most 15 bytes).
    pub name: String,
    /// The kind.
    pub map_type: MapType,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// `BPF_F_*` flags.
    pub flags: u32,
}

impl MapInfo {
    pub(crate) fn from_raw(r: &attr::MapInfoRaw) -> MapInfo {
        MapInfo {
            id: r.id,
            name: attr::name_str(&r.name),
            map_type: MapType::from_raw(r.map_type),
            key_size: r.key_size,
            value_size: r.value_size,
            max_entries: r.max_entries,
            flags: r.map_flags,
        }
    }

    /// Reads the info of a map fd.
    pub fn of(fd: BorrowedFd<'_>) -> Result<MapInfo> {
        Ok(MapInfo::from_raw(&sys::obj_info::<attr::MapInfoRaw>(fd)?))
    }
}

/// A map the process holds a file descriptor of. Dropping it closes the fd; the kernel frees
/// the map when nothing else (a pin, a program) holds it.
#[derive(Debug)]
pub struct Map {
    fd: OwnedFd,
    name: String,
    info: MapInfo,
}

impl Map {
    /// Creates a map.
    pub fn create(spec: &MapSpec) -> Result<Map> {
        Map::create_attr(spec, map_create_attr(spec)?)
    }

    /// Creates a map with what [`Map::create`] cannot say: a map-in-map's inner map template
    /// (`inner_map_fd`: every map put in a slot must be shaped like it) and the BTF of its
    /// key and value (needed for values that hold timers or spin locks).
    pub fn create_with(
        spec: &MapSpec,
        inner: Option<BorrowedFd<'_>>,
        btf: Option<crate::btf_obj::MapBtf<'_>>,
    ) -> Result<Map> {
        let mut a = map_create_attr(spec)?;
        if let Some(inner) = inner {
            a.inner_map_fd = inner.as_raw_fd() as u32;
        }
        if let Some(b) = btf {
            a.btf_fd = b.btf.as_raw_fd() as u32;
            a.btf_key_type_id = b.key_type_id;
            a.btf_value_type_id = b.value_type_id;
        }
        Map::create_attr(spec, a)
    }

    fn create_attr(spec: &MapSpec, a: attr::MapCreateAttr) -> Result<Map> {
        env::raise_memlock();
        let fd = sys::map_create(&a).map_err(|e| Error::Object {
            object: format!("creating map {}", spec.name),
            source: Box::new(e.into()),
        })?;
        let info = MapInfo::of(fd.as_fd())?;
        Ok(Map {
            fd,
            name: spec.name.clone(),
            info,
        })
    }

    /// Freezes the map (`BPF_MAP_FREEZE`, Linux 5.2): from now on user space cannot change it, and
    /// programs may treat a read-only (`BPF_F_RDONLY_PROG`) map's content as constants.
    pub fn freeze(&self) -> Result<()> {
        Ok(sys::map_freeze(self.fd.as_fd())?)
    }

    /// Wraps a map fd (from wherever it came), reading its info.
    pub fn from_fd(fd: OwnedFd) -> Result<Map> {
        pin::expect_kind(fd.as_fd(), pin::Kind::Map, "file descriptor")?;
        let info = MapInfo::of(fd.as_fd())?;
        Ok(Map {
            fd,
            name: info.name.clone(),
            info,
        })
    }

    /// Opens the map pinned at `path`. Its name is the kernel's (at most 15 bytes); rename it
    /// with [`Map::with_name`] to bind it under another.
    pub fn open_pinned(path: impl AsRef<Path>) -> Result<Map> {
        Map::from_fd(pin::open_fd(
            pin::Kind::Map,
            pin::Source::Pinned(path.as_ref()),
        )?)
    }

    /// Opens the map with kernel id `id`.
    pub fn from_id(id: u32) -> Result<Map> {
        Map::from_fd(pin::open_fd(pin::Kind::Map, pin::Source::Id(id))?)
    }

    /// The same map, known under `name` (for binding into programs).
    pub fn with_name(mut self, name: &str) -> Map {
        self.name = name.to_string();
        self
    }

    /// The name programs bind this map by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kernel-wide id.
    pub fn id(&self) -> u32 {
        self.info.id
    }

    /// The kind.
    pub fn map_type(&self) -> MapType {
        self.info.map_type
    }

    /// Key size.
    pub fn key_size(&self) -> u32 {
        self.info.key_size
    }

    /// Value size (per CPU for per-CPU maps).
    pub fn value_size(&self) -> u32 {
        self.info.value_size
    }

    /// Capacity.
    pub fn max_entries(&self) -> u32 {
        self.info.max_entries
    }

    /// The info read when the map was created or opened.
    pub fn cached_info(&self) -> &MapInfo {
        &self.info
    }

    /// The kernel's info, read now.
    pub fn info(&self) -> Result<MapInfo> {
        MapInfo::of(self.fd.as_fd())
    }

    /// Another fd of the same map.
    pub fn try_clone(&self) -> Result<Map> {
        let fd = self
            .fd
            .try_clone()
            .map_err(|e| Error::io("duplicating fd of map", &self.name, e))?;
        Ok(Map {
            fd,
            name: self.name.clone(),
            info: self.info.clone(),
        })
    }

    fn check_key(&self, key: &[u8]) -> Result<()> {
        if key.len() != self.info.key_size as usize {
            return Err(Error::InvalidArgument(format!(
                "map {}: key is {} bytes, the map's keys are {}",
                self.name,
                key.len(),
                self.info.key_size
            )));
        }
        Ok(())
    }

    fn check_not_per_cpu(&self) -> Result<()> {
        if self.info.map_type.is_per_cpu() {
            return Err(Error::InvalidArgument(format!(
                "map {} is per-CPU: use get_per_cpu/put_per_cpu",
                self.name
            )));
        }
        Ok(())
    }

    /// The value at `key`, `None` when absent.
    ///
    /// For a sockhash or sockmap with 8-byte values the kernel returns the socket's cookie.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_key(key)?;
        self.check_not_per_cpu()?;
        let mut value = vec![0u8; self.info.value_size as usize];
        Ok(sys::map_lookup_elem(self.fd.as_fd(), key, &mut value, 0)?.then_some(value))
    }

    /// Whether `key` is in the map (a lookup; works for per-CPU maps too).
    pub fn contains(&self, key: &[u8]) -> Result<bool> {
        self.check_key(key)?;
        let cpus = if self.info.map_type.is_per_cpu() {
            env::possible_cpus()?
        } else {
            1
        };
        let mut value = vec![0u8; self.per_cpu_stride().max(self.info.value_size as usize) * cpus];
        Ok(sys::map_lookup_elem(self.fd.as_fd(), key, &mut value, 0)?)
    }

    /// Stores `value` at `key`. For a sockhash or sockmap the value is a socket fd (4 or 8
    /// bytes, as the map's value size).
    pub fn put(&self, key: &[u8], value: &[u8], flags: UpdateFlags) -> Result<()> {
        self.check_key(key)?;
        self.check_not_per_cpu()?;
        if value.len() != self.info.value_size as usize {
            return Err(Error::InvalidArgument(format!(
                "map {}: value is {} bytes, the map's values are {}",
                self.name,
                value.len(),
                self.info.value_size
            )));
        }
        Ok(sys::map_update_elem(
            self.fd.as_fd(),
            key,
            value,
            flags.raw(),
        )?)
    }

    /// Deletes `key`; `false` when it was absent.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.check_key(key)?;
        Ok(sys::map_delete_elem(self.fd.as_fd(), key)?)
    }

    /// The first key, or the key after `key`; `None` at the end.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>> {
        if let Some(k) = key {
            self.check_key(k)?;
        }
        let mut next = vec![0u8; self.info.key_size as usize];
        Ok(sys::map_get_next_key(self.fd.as_fd(), key, &mut next)?.then_some(next))
    }

    /// Iterates over the keys. Keys deleted or added while iterating may be skipped or seen
    /// twice, as with every `BPF_MAP_GET_NEXT_KEY` walk; the walk stops after `max_entries`
    /// + 1 keys at most, so it always ends.
    pub fn keys(&self) -> Keys<'_> {
        Keys {
            map: self,
            last: None,
            done: false,
            count: 0,
        }
    }

    /// Stride of one CPU's value in the kernel's per-CPU buffer.
    fn per_cpu_stride(&self) -> usize {
        (self.info.value_size as usize).div_ceil(8) * 8
    }

    /// The values of every possible CPU at `key` of a per-CPU map, `None` when absent.
    pub fn get_per_cpu(&self, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>> {
        self.check_key(key)?;
        self.check_per_cpu()?;
        let cpus = env::possible_cpus()?;
        let stride = self.per_cpu_stride();
        let mut buf = vec![0u8; stride * cpus];
        if !sys::map_lookup_elem(self.fd.as_fd(), key, &mut buf, 0)? {
            return Ok(None);
        }
        Ok(Some(
            buf.chunks_exact(stride)
                .map(|c| c[..self.info.value_size as usize].to_vec())
                .collect(),
        ))
    }

    /// Stores one value per possible CPU at `key` of a per-CPU map (`values.len()` must be the
    /// number of possible CPUs).
    pub fn put_per_cpu(&self, key: &[u8], values: &[Vec<u8>], flags: UpdateFlags) -> Result<()> {
        self.check_key(key)?;
        self.check_per_cpu()?;
        let cpus = env::possible_cpus()?;
        if values.len() != cpus {
            return Err(Error::InvalidArgument(format!(
                "map {}: {} per-CPU values given, the machine has {cpus} possible CPUs",
                self.name,
                values.len()
            )));
        }
        let stride = self.per_cpu_stride();
        let mut buf = vec![0u8; stride * cpus];
        for (i, v) in values.iter().enumerate() {
            if v.len() != self.info.value_size as usize {
                return Err(Error::InvalidArgument(format!(
                    "map {}: value for CPU {i} is {} bytes, the map's values are {}",
                    self.name,
                    v.len(),
                    self.info.value_size
                )));
            }
            buf[i * stride..i * stride + v.len()].copy_from_slice(v);
        }
        Ok(sys::map_update_elem(
            self.fd.as_fd(),
            key,
            &buf,
            flags.raw(),
        )?)
    }

    fn check_per_cpu(&self) -> Result<()> {
        if !self.info.map_type.is_per_cpu() {
            return Err(Error::InvalidArgument(format!(
                "map {} is not per-CPU: use get/put",
                self.name
            )));
        }
        Ok(())
    }

    /// Pins the map at `path` (on a bpffs; the parent directory must exist).
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        pin::pin(self.fd.as_fd(), path.as_ref())
    }

    fn check_value(&self, value: &[u8]) -> Result<()> {
        if value.len() != self.info.value_size as usize {
            return Err(Error::InvalidArgument(format!(
                "map {}: value is {} bytes, the map's values are {}",
                self.name,
                value.len(),
                self.info.value_size
            )));
        }
        Ok(())
    }

    fn check_queue(&self, what: &str) -> Result<()> {
        if !matches!(self.info.map_type, QUEUE | STACK) {
            return Err(Error::InvalidArgument(format!(
                "map {}: {what} needs a queue or stack map, this is a {}",
                self.name, self.info.map_type
            )));
        }
        Ok(())
    }

    /// Reads and deletes the value at `key` in one step (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`);
    /// `None` when absent.
    ///
    /// Hash and LRU hash maps need Linux 5.14 (older kernels say `ENOTSUPP`, errno 524, or
    /// EINVAL); queues and stacks (4.20) use [`Map::pop`]. Arrays never support it. Not for
    /// per-CPU maps.
    pub fn lookup_and_delete(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_key(key)?;
        self.check_not_per_cpu()?;
        let mut value = vec![0u8; self.info.value_size as usize];
        Ok(sys::map_lookup_and_delete_elem(self.fd.as_fd(), key, &mut value, 0)?.then_some(value))
    }

    /// Pushes `value` onto a queue or stack map (an update with no key, Linux 4.20). With
    /// [`UpdateFlags::Exist`] a full map drops its oldest element to make room (`BPF_EXIST`);
    /// otherwise a full map fails with E2BIG.
    pub fn push(&self, value: &[u8], flags: UpdateFlags) -> Result<()> {
        self.check_queue("push")?;
        self.check_value(value)?;
        Ok(sys::map_update_elem(
            self.fd.as_fd(),
            &[],
            value,
            flags.raw(),
        )?)
    }

    /// Takes the next value off a queue (oldest) or stack (newest) map
    /// (`BPF_MAP_LOOKUP_AND_DELETE_ELEM` with no key, Linux 4.20); `None` when empty.
    pub fn pop(&self) -> Result<Option<Vec<u8>>> {
        self.check_queue("pop")?;
        let mut value = vec![0u8; self.info.value_size as usize];
        Ok(sys::map_lookup_and_delete_elem(self.fd.as_fd(), &[], &mut value, 0)?.then_some(value))
    }

    /// The value [`Map::pop`] would take, left in place (a lookup with no key, Linux 4.20);
    /// `None` when empty.
    pub fn peek(&self) -> Result<Option<Vec<u8>>> {
        self.check_queue("peek")?;
        let mut value = vec![0u8; self.info.value_size as usize];
        Ok(sys::map_lookup_elem(self.fd.as_fd(), &[], &mut value, 0)?.then_some(value))
    }

    fn check_map_in_map(&self) -> Result<()> {
        if !matches!(
            self.info.map_type,
            MapType::ArrayOfMaps | MapType::HashOfMaps
        ) {
            return Err(Error::InvalidArgument(format!(
                "map {} is a {}, not a map of maps",
                self.name, self.info.map_type
            )));
        }
        Ok(())
    }

    /// Puts `inner` in slot `key` of a map of maps (`ARRAY_OF_MAPS`, Linux 4.12;
    /// `HASH_OF_MAPS`, 4.12): the update's value is `inner`'s fd. `inner` must be shaped like
    /// the template given to [`Map::create_with`] (the kernel says EINVAL otherwise).
    pub fn set_inner(&self, key: &[u8], inner: &Map, flags: UpdateFlags) -> Result<()> {
        self.check_key(key)?;
        self.check_map_in_map()?;
        let fd = inner.fd.as_raw_fd() as u32;
        Ok(sys::map_update_elem(
            self.fd.as_fd(),
            key,
            &fd.to_ne_bytes(),
            flags.raw(),
        )?)
    }

    /// The id of the map in slot `key` of a map of maps (a lookup gives ids, not fds);
    /// `None` when the slot is empty.
    pub fn inner_id(&self, key: &[u8]) -> Result<Option<u32>> {
        self.check_key(key)?;
        self.check_map_in_map()?;
        let mut id = [0u8; 4];
        if !sys::map_lookup_elem(self.fd.as_fd(), key, &mut id, 0)? {
            return Ok(None);
        }
        Ok(Some(u32::from_ne_bytes(id)))
    }

    /// The map in slot `key` of a map of maps, opened by its id ([`Map::from_id`]); `None`
    /// when the slot is empty.
    pub fn get_inner(&self, key: &[u8]) -> Result<Option<Map>> {
        match self.inner_id(key)? {
            Some(id) => Map::from_id(id).map(Some),
            None => Ok(None),
        }
    }

    /// Every (key, value) of the map, read with `BPF_MAP_LOOKUP_BATCH` (Linux 5.6) in chunks
    /// of `chunk` elements (at least 1; grown when a hash bucket holds more).
    ///
    /// Where the kernel has no batch operations for this map type, or none at all (EINVAL,
    /// `ENOTSUPP` (524), EOPNOTSUPP), it falls back to a [`Map::keys`] walk with lookups, which is
    /// not atomic per bucket. Not for per-CPU maps.
    pub fn lookup_batch(&self, chunk: u32) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.batch_read(Cmd::MapLookupBatch, chunk)
    }

    /// Like [`Map::lookup_batch`], deleting what it read (`BPF_MAP_LOOKUP_AND_DELETE_BATCH`,
    /// Linux 5.6, hash maps; arrays do not support it). The fallback deletes each key it read
    /// (deletion failures other than "already gone" are errors).
    pub fn lookup_and_delete_batch(&self, chunk: u32) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.batch_read(Cmd::MapLookupAndDeleteBatch, chunk)
    }

    fn batch_read(&self, cmd: Cmd, chunk: u32) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.check_not_per_cpu()?;
        let ks = self.info.key_size as usize;
        let vs = self.info.value_size as usize;
        let mut count = chunk.max(1);
        let mut out = Vec::new();
        // The kernel's position token: a bucket index (4 bytes) for hash maps, a key for
        // arrays; room for either.
        let tok_len = ks.max(8);
        let mut tok_in = vec![0u8; tok_len];
        let mut tok_out = vec![0u8; tok_len];
        let mut first = true;
        loop {
            let mut keys = vec![0u8; ks * count as usize];
            let mut values = vec![0u8; vs * count as usize];
            let r = sys::map_batch(
                cmd,
                self.fd.as_fd(),
                sys::Batch {
                    in_batch: (!first).then_some(tok_in.as_slice()),
                    out_batch: Some(&mut tok_out),
                    keys: &mut keys,
                    values: &mut values,
                    count,
                    elem_flags: 0,
                },
            );
            let (n, done) = match r {
                Ok(x) => x,
                // A bucket holds more elements than `count`: ask for more at once.
                Err((e, 0)) if e.errno() == Some(libc::ENOSPC) && count < 1 << 20 => {
                    count *= 2;
                    continue;
                }
                Err((e, _)) if first && batch_unsupported(&e) => {
                    return self.batch_read_fallback(cmd == Cmd::MapLookupAndDeleteBatch);
                }
                Err((e, _)) => return Err(e.into()),
            };
            for i in 0..n as usize {
                out.push((
                    keys[i * ks..(i + 1) * ks].to_vec(),
                    values[i * vs..(i + 1) * vs].to_vec(),
                ));
            }
            if done {
                return Ok(out);
            }
            first = false;
            std::mem::swap(&mut tok_in, &mut tok_out);
        }
    }

    fn batch_read_fallback(&self, delete: bool) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        let keys: Vec<Vec<u8>> = self.keys().collect::<Result<_>>()?;
        for k in keys {
            if let Some(v) = self.get(&k)? {
                if delete {
                    self.delete(&k)?;
                }
                out.push((k, v));
            }
        }
        Ok(out)
    }

    /// Stores every (key, value) of `entries` with `BPF_MAP_UPDATE_BATCH` (Linux 5.6), or one
    /// update at a time where the kernel lacks it for this map type (the same errnos as
    /// [`Map::lookup_batch`]). Returns how many were stored; on an error the ones before the
    /// failing element are stored. Not for per-CPU maps.
    ///
    /// The kernel's batch update accepts no `BPF_NOEXIST`/`BPF_EXIST` (EINVAL, whatever
    /// `linux/bpf.h` says), so with [`UpdateFlags::NoExist`] or [`UpdateFlags::Exist`] the
    /// elements are stored one update at a time.
    pub fn update_batch(&self, entries: &[(&[u8], &[u8])], flags: UpdateFlags) -> Result<u32> {
        self.check_not_per_cpu()?;
        let mut keys = Vec::with_capacity(entries.len() * self.info.key_size as usize);
        let mut values = Vec::with_capacity(entries.len() * self.info.value_size as usize);
        for (k, v) in entries {
            self.check_key(k)?;
            self.check_value(v)?;
            keys.extend_from_slice(k);
            values.extend_from_slice(v);
        }
        let count = u32::try_from(entries.len())
            .map_err(|_| Error::InvalidArgument("too many entries for one batch".into()))?;
        if count == 0 {
            return Ok(0);
        }
        if flags != UpdateFlags::Any {
            return self.update_each(entries, flags);
        }
        let r = sys::map_batch(
            Cmd::MapUpdateBatch,
            self.fd.as_fd(),
            sys::Batch {
                in_batch: None,
                out_batch: None,
                keys: &mut keys,
                values: &mut values,
                count,
                elem_flags: flags.raw(),
            },
        );
        match r {
            Ok((n, _)) => Ok(n),
            Err((e, _)) if batch_unsupported(&e) => self.update_each(entries, flags),
            Err((e, _)) => Err(e.into()),
        }
    }

    fn update_each(&self, entries: &[(&[u8], &[u8])], flags: UpdateFlags) -> Result<u32> {
        for (k, v) in entries {
            self.put(k, v, flags)?;
        }
        Ok(entries.len() as u32)
    }

    /// Deletes every key of `keys` with `BPF_MAP_DELETE_BATCH` (Linux 5.6; hash maps), or
    /// one at a time where the kernel lacks it for this map type (as for
    /// [`Map::update_batch`]). A missing key fails the batch with ENOENT (the keys before it
    /// are deleted); the fallback skips missing keys. Returns how many were deleted.
    pub fn delete_batch(&self, keys: &[&[u8]]) -> Result<u32> {
        let mut flat = Vec::with_capacity(keys.len() * self.info.key_size as usize);
        for k in keys {
            self.check_key(k)?;
            flat.extend_from_slice(k);
        }
        let count = u32::try_from(keys.len())
            .map_err(|_| Error::InvalidArgument("too many keys for one batch".into()))?;
        if count == 0 {
            return Ok(0);
        }
        let r = sys::map_batch(
            Cmd::MapDeleteBatch,
            self.fd.as_fd(),
            sys::Batch {
                in_batch: None,
                out_batch: None,
                keys: &mut flat,
                values: &mut [],
                count,
                elem_flags: 0,
            },
        );
        match r {
            Ok((n, false)) => Ok(n),
            Ok((n, true)) => Err(Error::Syscall(sys::SyscallError::new(
                Cmd::MapDeleteBatch.name(),
                std::io::Error::other(format!(
                    "key {n} of the batch is not in the map (the {n} before it were deleted)"
                )),
            ))),
            Err((e, _)) if batch_unsupported(&e) => {
                let mut n = 0;
                for k in keys {
                    if self.delete(k)? {
                        n += 1;
                    }
                }
                Ok(n)
            }
            Err((e, _)) => Err(e.into()),
        }
    }
}

/// `BPF_MAP_TYPE_QUEUE` (Linux 4.20): FIFO of values, no keys ([`Map::push`], [`Map::pop`]).
pub const QUEUE: MapType = MapType::Other(uapi::bpf::BPF_MAP_TYPE_QUEUE);
/// `BPF_MAP_TYPE_STACK` (Linux 4.20): LIFO of values, no keys.
pub const STACK: MapType = MapType::Other(uapi::bpf::BPF_MAP_TYPE_STACK);

/// The kernel's `ENOTSUPP` (kernel-internal, errno 524): an operation the map type lacks.
pub const ENOTSUPP: i32 = 524;

/// Whether a batch command failed because the kernel (EINVAL: no such command before 5.6)
/// or the map type (`ENOTSUPP`, EOPNOTSUPP) lacks it.
fn batch_unsupported(e: &sys::SyscallError) -> bool {
    matches!(
        e.errno(),
        Some(libc::EINVAL) | Some(ENOTSUPP) | Some(libc::EOPNOTSUPP)
    )
}

impl AsFd for Map {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Iterator over a map's keys; see [`Map::keys`].
#[derive(Debug)]
pub struct Keys<'a> {
    map: &'a Map,
    last: Option<Vec<u8>>,
    done: bool,
    count: u64,
}

impl Iterator for Keys<'_> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.count > u64::from(self.map.info.max_entries) {
            return None;
        }
        match self.map.next_key(self.last.as_deref()) {
            Ok(Some(k)) => {
                self.count += 1;
                self.last = Some(k.clone());
                Some(Ok(k))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
