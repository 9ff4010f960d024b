//! A program's own BTF in the kernel (`BPF_BTF_LOAD`): the type information an object
//! carries in its `.BTF` section, which the kernel needs for bpf-to-bpf callbacks
//! (`func_info`), for maps whose values hold timers or spin locks, and which makes global
//! functions verifiable one by one, as libbpf loads them.
//!
//! A [`BtfObject`] is also how the kernel's own BTF objects are held: vmlinux's and each
//! module's ([`BtfObject::kernel`], found by name among the kernel's BTF ids), which a
//! program load names as `attach_btf_obj_fd` or in `fd_array` for a module's function.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use crate::btf::BtfError;
use crate::error::{Error, Result};
use crate::sys::{self, IdKind};

/// The largest log kept when the kernel refuses a BTF blob.
const LOG_SIZE: usize = 64 * 1024;

/// BTF loaded into the kernel. Cloning shares the fd; the kernel object lives while a clone,
/// a program or a map that uses it does.
#[derive(Debug, Clone)]
pub struct BtfObject {
    fd: Arc<OwnedFd>,
}

impl PartialEq for BtfObject {
    fn eq(&self, other: &BtfObject) -> bool {
        Arc::ptr_eq(&self.fd, &other.fd)
    }
}

impl Eq for BtfObject {}

impl BtfObject {
    /// Loads raw BTF (header, types, strings). On refusal the error carries the kernel's
    /// BTF log (its last line says why).
    pub fn load(raw: &[u8]) -> Result<BtfObject> {
        crate::env::raise_memlock();
        match sys::btf_load(raw, None) {
            Ok(fd) => Ok(BtfObject { fd: Arc::new(fd) }),
            Err(first) => {
                let mut buf = vec![0u8; LOG_SIZE];
                match sys::btf_load(raw, Some(&mut buf)) {
                    Ok(fd) => Ok(BtfObject { fd: Arc::new(fd) }),
                    Err(_) => {
                        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
                        let log = String::from_utf8_lossy(&buf[..end]);
                        let last = log.lines().rev().find(|l| !l.trim().is_empty());
                        Err(match last {
                            Some(why) => Error::Object {
                                object: format!("loading BTF (the kernel says: {why})"),
                                source: Box::new(first.into()),
                            },
                            None => first.into(),
                        })
                    }
                }
            }
        }
    }
}

/// What the kernel says about a BTF object (`struct bpf_btf_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtfInfo {
    /// Kernel-wide id.
    pub id: u32,
    /// `"vmlinux"`, a module's name, or empty for BTF a program loaded (5.11+; empty before).
    pub name: String,
    /// Whether the kernel made it (vmlinux or a module) rather than `BPF_BTF_LOAD` (5.11+).
    pub kernel_btf: bool,
    /// Size of the raw BTF in bytes.
    pub size: u32,
}

impl BtfObject {
    /// Wraps a BTF object fd.
    pub fn from_fd(fd: OwnedFd) -> BtfObject {
        BtfObject { fd: Arc::new(fd) }
    }

    /// Opens the BTF object with kernel id `id` (`BPF_BTF_GET_FD_BY_ID`, Linux 5.4).
    pub fn from_id(id: u32) -> Result<BtfObject> {
        Ok(BtfObject::from_fd(sys::get_fd_by_id(IdKind::Btf, id)?))
    }

    /// The kernel's info: id, name, whether it is kernel BTF.
    pub fn info(&self) -> Result<BtfInfo> {
        let (raw, name) = sys::btf_info(self.fd.as_fd())?;
        Ok(BtfInfo {
            id: raw.id,
            name,
            kernel_btf: raw.kernel_btf != 0,
            size: raw.btf_size,
        })
    }

    /// The kernel's BTF object named `name`: `"vmlinux"` or a module's name, as in
    /// `/sys/kernel/btf`. Found by walking the BTF ids (`BPF_BTF_GET_NEXT_ID`, opening each
    /// and reading its info); needs Linux 5.11 (BTF objects have names from then on). Fails
    /// with [`BtfError::NoSuchModule`] when no kernel BTF object has that name.
    pub fn kernel(name: &str) -> Result<BtfObject> {
        let mut id = 0;
        while let Some(next) = sys::get_next_id(IdKind::Btf, id)? {
            if next <= id {
                break;
            }
            id = next;
            let fd = match sys::get_fd_by_id(IdKind::Btf, id) {
                Ok(fd) => fd,
                // Freed since the id was listed.
                Err(e) if e.errno() == Some(libc::ENOENT) => continue,
                Err(e) => return Err(e.into()),
            };
            let (info, found) = sys::btf_info(fd.as_fd())?;
            if info.kernel_btf != 0 && found == name {
                return Ok(BtfObject::from_fd(fd));
            }
        }
        Err(BtfError::NoSuchModule(name.to_string()).into())
    }
}

impl AsFd for BtfObject {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// What a program load passes of its BTF: the blob and one `func_info` record per function
/// (instruction index, FUNC type id), the first at 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramBtf {
    /// The BTF the type ids refer to.
    pub btf: BtfObject,
    /// `(instruction index, FUNC type id)`, in increasing index order.
    pub func_info: Vec<(u32, u32)>,
    /// `bpf_line_info` records in increasing instruction order (empty: none).
    pub line_info: Vec<bpfobj::debug_info::LineInfo>,
}

/// What a map creation passes of its BTF (`btf_fd`, `btf_key_type_id`, `btf_value_type_id`).
#[derive(Debug, Clone, Copy)]
pub struct MapBtf<'a> {
    /// The BTF the type ids refer to.
    pub btf: BorrowedFd<'a>,
    /// The key's type id (0: none).
    pub key_type_id: u32,
    /// The value's type id.
    pub value_type_id: u32,
}

/// BTF of a map's key and value loaded into the kernel, to create maps that exist only with
/// BTF: socket (5.2), inode (5.10), task (5.11) and cgroup (6.2) local storage. The key and
/// value are opaque bytes ([`bpfobj::debug_info::map_types`]); values holding timers or spin
/// locks need their real types (an object's `.BTF`) instead.
///
/// ```no_run
/// use loader::{btf_obj::OpaqueMapBtf, Map, MapSpec, MapType};
/// let btf = OpaqueMapBtf::load(4, 16)?;
/// let spec = MapSpec::new("sk_stg", MapType::Other(uapi::bpf::BPF_MAP_TYPE_SK_STORAGE), 4, 16, 0)
///     .with_flags(loader::map_flags::NO_PREALLOC);
/// let map = Map::create_with(&spec, None, Some(btf.map_btf()))?;
/// # Ok::<(), loader::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct OpaqueMapBtf {
    btf: BtfObject,
    key_type_id: u32,
    value_type_id: u32,
}

impl OpaqueMapBtf {
    /// Builds and loads BTF for `key_size`-byte keys and `value_size`-byte values.
    pub fn load(key_size: u32, value_size: u32) -> Result<OpaqueMapBtf> {
        let t = bpfobj::debug_info::map_types(key_size, value_size)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        Ok(OpaqueMapBtf {
            btf: BtfObject::load(&t.btf)?,
            key_type_id: t.key_type_id,
            value_type_id: t.value_type_id,
        })
    }

    /// What [`crate::Map::create_with`] takes.
    pub fn map_btf(&self) -> MapBtf<'_> {
        MapBtf {
            btf: self.btf.as_fd(),
            key_type_id: self.key_type_id,
            value_type_id: self.value_type_id,
        }
    }
}
