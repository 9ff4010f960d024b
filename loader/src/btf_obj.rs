//! A program's own BTF in the kernel (`BPF_BTF_LOAD`): the type information an object
//! carries in its `.BTF` section, which the kernel needs for bpf-to-bpf callbacks
//! (`func_info`), for maps whose values hold timers or spin locks, and which makes global
//! functions verifiable one by one, as libbpf loads them.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::sys;

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
