//! The syscall layer: the only place that calls `bpf(2)` and the only `unsafe` in the crate.
//!
//! Each command has one function taking typed arguments, filling a zeroed `#[repr(C)]`
//! attribute struct ([`attr`]) and handing its bytes to [`bpf`]. File descriptors come back as
//! close-on-exec [`OwnedFd`]s that are never 0 (see [`own_fd`]). Failures are
//! [`SyscallError`]s naming the command.
//!
//! [`bpf`] dispatches to the real syscall, or, while a test has installed one with
//! [`with_fake`], to a fake that sees the command and the attribute bytes and returns a canned
//! result. Attribute encoding is asserted offline that way (see this module's tests).

pub mod attr;
pub(crate) mod caps;
pub mod consts;
mod error;
pub mod mmap;
pub mod netlink;
pub mod perf;
pub mod pod;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

pub use attr::Pod;
use attr::*;
pub use consts::Cmd;

pub use error::SyscallError;

/// A replacement for the real syscall: gets the command and the attribute bytes (which it may
/// change, as the kernel does), returns what `bpf()` would.
pub type FakeSyscall = Box<dyn FnMut(Cmd, &mut [u8]) -> io::Result<i64>>;

thread_local! {
    static FAKE: RefCell<Option<FakeSyscall>> = const { RefCell::new(None) };
}

/// Runs `f` with every `bpf()` call of this thread going to `fake` instead of the kernel.
///
/// For tests of this crate. A fake that returns a file descriptor must return one it owns and
/// gives away (for example `File::open("/dev/null")?.into_raw_fd()`), since the caller closes it.
#[cfg(test)]
pub fn with_fake<R>(
    fake: impl FnMut(Cmd, &mut [u8]) -> io::Result<i64> + 'static,
    f: impl FnOnce() -> R,
) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            FAKE.with(|c| *c.borrow_mut() = None);
        }
    }
    FAKE.with(|c| *c.borrow_mut() = Some(Box::new(fake)));
    let _reset = Reset;
    f()
}

/// Copies `len` bytes at user address `ptr` (for fakes in tests: the pointers in an attribute
/// are valid while the call runs).
#[cfg(test)]
pub fn peek(ptr: u64, len: usize) -> Vec<u8> {
    if ptr == 0 || len == 0 {
        return Vec::new();
    }
    // SAFETY: tests call this only from inside a fake, with a pointer and length taken from an
    // attribute built by this module, whose buffers are alive for the duration of the call.
    unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len).to_vec() }
}

/// Writes `bytes` at user address `ptr` (for fakes in tests, like the kernel's copy_to_user).
#[cfg(test)]
pub fn poke(ptr: u64, bytes: &[u8]) {
    if ptr == 0 {
        return;
    }
    // SAFETY: as for `peek`; the fake writes at most the buffer length the attribute names.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr as usize as *mut u8, bytes.len()) }
}

/// Calls `bpf(cmd, attr, sizeof attr)` (or the installed fake) and returns its result.
pub fn bpf<T: Pod>(cmd: Cmd, attr: &mut T) -> Result<i64, SyscallError> {
    let bytes = bytes_of_mut(attr);
    let faked = FAKE.with(|c| c.borrow_mut().as_mut().map(|fake| fake(cmd, bytes)));
    let res = match faked {
        Some(r) => r,
        None => {
            // SAFETY: `bytes` is a live, fully initialised attribute of the size passed; every
            // pointer inside it was set by this module from a live buffer whose length the
            // kernel is told in the same attribute (or implied by the map's key/value size,
            // checked by the callers of the element functions).
            let r = unsafe {
                libc::syscall(
                    libc::SYS_bpf,
                    cmd as u32 as libc::c_int,
                    bytes.as_mut_ptr(),
                    bytes.len() as libc::c_uint,
                )
            };
            if r < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(r as i64)
            }
        }
    };
    res.map_err(|io_error| SyscallError::new(cmd.name(), io_error))
}

/// Takes ownership of a file descriptor the kernel just returned. An fd of 0 (possible when a
/// process closed stdin) is moved above 2 with `F_DUPFD_CLOEXEC`, so that no bpf object ever
/// sits on a standard stream.
pub fn own_fd(raw: i64, call: &'static str) -> Result<OwnedFd, SyscallError> {
    let raw = RawFd::try_from(raw).map_err(|_| {
        SyscallError::new(
            call,
            io::Error::new(io::ErrorKind::InvalidData, "fd out of range"),
        )
    })?;
    // SAFETY: the kernel (or a test fake, by contract) just created this fd for us; nobody
    // else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    if raw > 2 {
        return Ok(fd);
    }
    // SAFETY: fcntl on an fd we own, creating a new fd that we then own.
    let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(SyscallError::new(
            "fcntl(F_DUPFD_CLOEXEC)",
            io::Error::last_os_error(),
        ));
    }
    drop(fd);
    // SAFETY: fcntl just returned this new fd.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// `flock(2)` on `fd` with `op` (`LOCK_EX`, `LOCK_EX | LOCK_NB`, …), retried on `EINTR`.
pub fn flock(fd: BorrowedFd<'_>, op: i32) -> Result<(), SyscallError> {
    loop {
        // SAFETY: flock on an fd the caller keeps open for the call; no memory is passed.
        if unsafe { libc::flock(fd.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let io_error = io::Error::last_os_error();
        if io_error.raw_os_error() != Some(libc::EINTR) {
            return Err(SyscallError::new("flock", io_error));
        }
    }
}

fn raw(fd: BorrowedFd<'_>) -> u32 {
    fd.as_raw_fd() as u32
}

fn ptr<T>(p: *const T) -> u64 {
    p as usize as u64
}

/// The address of `b`, or 0 (NULL) for an empty slice: maps with no key (queues, stacks)
/// must get a NULL key, and the kernel reads nothing through an empty buffer.
fn ptr_or_null(b: &[u8]) -> u64 {
    if b.is_empty() {
        0
    } else {
        ptr(b.as_ptr())
    }
}

fn is_errno(e: &SyscallError, errno: i32) -> bool {
    e.io_error.raw_os_error() == Some(errno)
}

/// `BPF_MAP_CREATE`.
pub fn map_create(attr: &MapCreateAttr) -> Result<OwnedFd, SyscallError> {
    let mut a = *attr;
    let fd = bpf(Cmd::MapCreate, &mut a)?;
    own_fd(fd, Cmd::MapCreate.name())
}

/// `BPF_BTF_LOAD`, with an optional log buffer (level 1). Returns the BTF fd, or the error.
pub fn btf_load(btf: &[u8], log: Option<&mut [u8]>) -> Result<OwnedFd, SyscallError> {
    let mut a = BtfLoadAttr {
        btf: ptr(btf.as_ptr()),
        btf_size: u32::try_from(btf.len()).unwrap_or(u32::MAX),
        ..Default::default()
    };
    if let Some(buf) = log {
        if let Some(first) = buf.first_mut() {
            *first = 0;
        }
        a.btf_log_level = 1;
        a.btf_log_size = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        a.btf_log_buf = ptr(buf.as_mut_ptr());
    }
    let fd = bpf(Cmd::BtfLoad, &mut a)?;
    own_fd(fd, Cmd::BtfLoad.name())
}

/// `BPF_MAP_FREEZE`.
pub fn map_freeze(fd: BorrowedFd<'_>) -> Result<(), SyscallError> {
    let mut a = MapElemAttr {
        map_fd: raw(fd),
        ..Default::default()
    };
    bpf(Cmd::MapFreeze, &mut a)?;
    Ok(())
}

/// `BPF_MAP_LOOKUP_ELEM`: `Ok(false)` when the key is absent (ENOENT).
///
/// The caller guarantees `key` and `value` have the map's key size and (per-CPU) value size.
pub(crate) fn map_lookup_elem(
    fd: BorrowedFd<'_>,
    key: &[u8],
    value: &mut [u8],
    flags: u64,
) -> Result<bool, SyscallError> {
    map_read(Cmd::MapLookupElem, fd, key, value, flags)
}

/// A command that reads one element into `value` (lookup, lookup-and-delete): `Ok(false)` on
/// ENOENT. An empty `key` is passed as NULL.
fn map_read(
    cmd: Cmd,
    fd: BorrowedFd<'_>,
    key: &[u8],
    value: &mut [u8],
    flags: u64,
) -> Result<bool, SyscallError> {
    let mut a = MapElemAttr {
        map_fd: raw(fd),
        key: ptr_or_null(key),
        value: ptr(value.as_mut_ptr()),
        flags,
        ..Default::default()
    };
    match bpf(cmd, &mut a) {
        Ok(_) => Ok(true),
        Err(e) if is_errno(&e, libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `BPF_MAP_UPDATE_ELEM`. The caller guarantees the slice sizes as for lookup.
pub(crate) fn map_update_elem(
    fd: BorrowedFd<'_>,
    key: &[u8],
    value: &[u8],
    flags: u64,
) -> Result<(), SyscallError> {
    let mut a = MapElemAttr {
        map_fd: raw(fd),
        key: ptr_or_null(key),
        value: ptr(value.as_ptr()),
        flags,
        ..Default::default()
    };
    bpf(Cmd::MapUpdateElem, &mut a).map(|_| ())
}

/// `BPF_MAP_DELETE_ELEM`: `Ok(false)` when the key was absent. The caller guarantees the key
/// size.
pub(crate) fn map_delete_elem(fd: BorrowedFd<'_>, key: &[u8]) -> Result<bool, SyscallError> {
    let mut a = MapElemAttr {
        map_fd: raw(fd),
        key: ptr(key.as_ptr()),
        ..Default::default()
    };
    match bpf(Cmd::MapDeleteElem, &mut a) {
        Ok(_) => Ok(true),
        Err(e) if is_errno(&e, libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`: `Ok(false)` when the key is absent or the queue/stack
/// is empty (ENOENT). An empty `key` is passed as NULL (queues and stacks). The caller
/// guarantees the slice sizes as for lookup.
pub(crate) fn map_lookup_and_delete_elem(
    fd: BorrowedFd<'_>,
    key: &[u8],
    value: &mut [u8],
    flags: u64,
) -> Result<bool, SyscallError> {
    map_read(Cmd::MapLookupAndDeleteElem, fd, key, value, flags)
}

/// Buffers of one `BPF_MAP_*_BATCH` call. The caller guarantees: `keys` holds `count` keys
/// and `values` `count` values (per-CPU: each of every possible CPU, 8-byte strided) of the
/// map's sizes; `in_batch` and `out_batch`, when given, hold at least one key (the kernel
/// uses a key-sized token for hash maps and a 4-byte index for arrays).
#[derive(Debug)]
pub(crate) struct Batch<'a> {
    pub in_batch: Option<&'a [u8]>,
    pub out_batch: Option<&'a mut [u8]>,
    pub keys: &'a mut [u8],
    pub values: &'a mut [u8],
    pub count: u32,
    pub elem_flags: u64,
}

/// `BPF_MAP_{LOOKUP,LOOKUP_AND_DELETE,UPDATE,DELETE}_BATCH`. Returns how many elements the
/// kernel processed and whether it reached the end of the map (ENOENT from a lookup, which
/// still counts the elements it filled). On another error, the count processed before it
/// goes with the error.
pub(crate) fn map_batch(
    cmd: Cmd,
    fd: BorrowedFd<'_>,
    b: Batch<'_>,
) -> Result<(u32, bool), (SyscallError, u32)> {
    let mut a = MapBatchAttr {
        in_batch: b.in_batch.map_or(0, |k| ptr(k.as_ptr())),
        out_batch: b.out_batch.map_or(0, |k| ptr(k.as_mut_ptr())),
        keys: ptr_or_null(b.keys),
        values: ptr_or_null(b.values),
        count: b.count,
        map_fd: raw(fd),
        elem_flags: b.elem_flags,
        flags: 0,
    };
    match bpf(cmd, &mut a) {
        Ok(_) => Ok((a.count, false)),
        Err(e) if is_errno(&e, libc::ENOENT) => Ok((a.count, true)),
        Err(e) => Err((e, a.count)),
    }
}

/// What `BPF_PROG_TEST_RUN` gets and gives back: the buffers (input read, output written;
/// empty for none) and the counts.
#[derive(Debug)]
pub(crate) struct TestRun<'a> {
    pub data_in: &'a [u8],
    pub data_out: &'a mut [u8],
    pub ctx_in: &'a [u8],
    pub ctx_out: &'a mut [u8],
    pub repeat: u32,
    pub flags: u32,
    pub cpu: u32,
}

/// The answer of `BPF_PROG_TEST_RUN`: return value, bytes the kernel wrote (or wanted to
/// write) to the two output buffers, and the average duration in ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TestRunOut {
    pub retval: u32,
    pub data_size_out: u32,
    pub ctx_size_out: u32,
    pub duration: u32,
}

/// `BPF_PROG_TEST_RUN` of `prog`. The caller guarantees nothing: every buffer goes with its
/// length.
pub(crate) fn prog_test_run(
    prog: BorrowedFd<'_>,
    t: TestRun<'_>,
) -> Result<TestRunOut, SyscallError> {
    let len = |b: usize| u32::try_from(b).unwrap_or(u32::MAX);
    let mut a = TestRunAttr {
        prog_fd: raw(prog),
        data_size_in: len(t.data_in.len()),
        data_size_out: len(t.data_out.len()),
        data_in: ptr_or_null(t.data_in),
        data_out: if t.data_out.is_empty() {
            0
        } else {
            ptr(t.data_out.as_mut_ptr())
        },
        repeat: t.repeat,
        ctx_size_in: len(t.ctx_in.len()),
        ctx_size_out: len(t.ctx_out.len()),
        ctx_in: ptr_or_null(t.ctx_in),
        ctx_out: if t.ctx_out.is_empty() {
            0
        } else {
            ptr(t.ctx_out.as_mut_ptr())
        },
        flags: t.flags,
        cpu: t.cpu,
        ..Default::default()
    };
    bpf(Cmd::ProgTestRun, &mut a)?;
    Ok(TestRunOut {
        retval: a.retval,
        data_size_out: a.data_size_out,
        ctx_size_out: a.ctx_size_out,
        duration: a.duration,
    })
}

/// `BPF_MAP_GET_NEXT_KEY`: the key after `key` (the first key for `None`) into `next`;
/// `Ok(false)` at the end (ENOENT). The caller guarantees both key sizes.
pub(crate) fn map_get_next_key(
    fd: BorrowedFd<'_>,
    key: Option<&[u8]>,
    next: &mut [u8],
) -> Result<bool, SyscallError> {
    let mut a = MapElemAttr {
        map_fd: raw(fd),
        key: key.map_or(0, |k| ptr(k.as_ptr())),
        value: ptr(next.as_mut_ptr()),
        ..Default::default()
    };
    match bpf(Cmd::MapGetNextKey, &mut a) {
        Ok(_) => Ok(true),
        Err(e) if is_errno(&e, libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// What `BPF_PROG_LOAD` needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProgLoad<'a> {
    /// `enum bpf_prog_type`.
    pub prog_type: u32,
    /// `enum bpf_attach_type` (0 when the type does not need one).
    pub expected_attach_type: u32,
    /// Up to 15 bytes are passed.
    pub name: &'a str,
    /// The license, e.g. `c"GPL"`.
    pub license: &'a CStr,
    /// Instruction bytes, 8 per slot.
    pub insns: &'a [u8],
    /// `BPF_F_*` program flags.
    pub prog_flags: u32,
    /// The program's BTF (`prog_btf_fd`) and its `func_info` records (instruction index,
    /// FUNC type id), when it has them.
    pub btf: Option<(BorrowedFd<'a>, &'a [(u32, u32)])>,
    /// `bpf_line_info` records as (insn_off, file_name_off, line_off, line_col), with `btf`.
    pub line_info: &'a [[u32; 4]],
    /// `attach_btf_id`: the BTF type id of the attach target (0: none).
    pub attach_btf_id: u32,
    /// The word shared by `attach_prog_fd` and `attach_btf_obj_fd`: the target program, or
    /// the module BTF object `attach_btf_id` belongs to.
    pub attach_fd: Option<BorrowedFd<'a>>,
    /// `fd_array`: the fds that `BPF_PSEUDO_MAP_IDX` loads and module kfunc calls index
    /// (not passed when empty).
    pub fd_array: &'a [BorrowedFd<'a>],
}

/// How many times `BPF_PROG_LOAD` is retried when the kernel says EAGAIN.
pub const PROG_LOAD_EAGAIN_RETRIES: usize = 5;

/// `BPF_PROG_LOAD`, with an optional verifier log buffer at `log_level`. Returns the program
/// fd, or the error and the log size the kernel says it needed (`log_true_size`, 6.4+; 0 when
/// unknown). EAGAIN is retried up to [`PROG_LOAD_EAGAIN_RETRIES`] times.
pub fn prog_load(
    req: &ProgLoad<'_>,
    log: Option<(&mut [u8], u32)>,
) -> Result<OwnedFd, (SyscallError, u32)> {
    let mut a = ProgLoadAttr {
        prog_type: req.prog_type,
        insn_cnt: (req.insns.len() / 8) as u32,
        insns: ptr(req.insns.as_ptr()),
        license: ptr(req.license.as_ptr()),
        prog_flags: req.prog_flags,
        prog_name: obj_name(req.name),
        expected_attach_type: req.expected_attach_type,
        attach_btf_id: req.attach_btf_id,
        attach_prog_fd: req.attach_fd.map_or(0, raw),
        ..Default::default()
    };
    let fd_array: Vec<i32> = req.fd_array.iter().map(|fd| fd.as_raw_fd()).collect();
    if !fd_array.is_empty() {
        a.fd_array = ptr(fd_array.as_ptr());
    }
    let func_info: Vec<u8> = req
        .btf
        .map(|(_, recs)| {
            recs.iter()
                .flat_map(|(off, id)| off.to_ne_bytes().into_iter().chain(id.to_ne_bytes()))
                .collect()
        })
        .unwrap_or_default();
    let line_info: Vec<u8> = req
        .line_info
        .iter()
        .flat_map(|r| r.iter().flat_map(|w| w.to_ne_bytes()))
        .collect();
    if let Some((fd, recs)) = req.btf {
        a.prog_btf_fd = raw(fd);
        if !recs.is_empty() {
            a.func_info_rec_size = 8;
            a.func_info = ptr(func_info.as_ptr());
            a.func_info_cnt = recs.len() as u32;
        }
        if !req.line_info.is_empty() {
            a.line_info_rec_size = 16;
            a.line_info = ptr(line_info.as_ptr());
            a.line_info_cnt = req.line_info.len() as u32;
        }
    }
    if let Some((buf, level)) = log {
        if let Some(first) = buf.first_mut() {
            *first = 0;
        }
        a.log_level = level;
        a.log_size = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        a.log_buf = ptr(buf.as_mut_ptr());
    }
    let mut tries = 0;
    loop {
        let mut attempt = a;
        match bpf(Cmd::ProgLoad, &mut attempt) {
            Ok(fd) => return own_fd(fd, Cmd::ProgLoad.name()).map_err(|e| (e, 0)),
            Err(e) if is_errno(&e, libc::EAGAIN) && tries < PROG_LOAD_EAGAIN_RETRIES => {
                tries += 1;
            }
            Err(e) => return Err((e, attempt.log_true_size)),
        }
    }
}

/// `BPF_OBJ_PIN`: pins `fd` at `path` on a bpffs.
pub fn obj_pin(fd: BorrowedFd<'_>, path: &CStr) -> Result<(), SyscallError> {
    let mut a = ObjAttr {
        pathname: ptr(path.as_ptr()),
        bpf_fd: raw(fd),
        file_flags: 0,
    };
    bpf(Cmd::ObjPin, &mut a).map(|_| ())
}

/// `BPF_OBJ_GET`: opens the object pinned at `path`.
pub fn obj_get(path: &CStr, file_flags: u32) -> Result<OwnedFd, SyscallError> {
    let mut a = ObjAttr {
        pathname: ptr(path.as_ptr()),
        bpf_fd: 0,
        file_flags,
    };
    let fd = bpf(Cmd::ObjGet, &mut a)?;
    own_fd(fd, Cmd::ObjGet.name())
}

/// `BPF_PROG_ATTACH` of `prog` to `target` (a cgroup or a map). With `replace`, the kernel
/// swaps that program for `prog` atomically (`BPF_F_REPLACE` is added to `flags`).
pub fn prog_attach(
    target: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
    replace: Option<BorrowedFd<'_>>,
) -> Result<(), SyscallError> {
    let mut a = ProgAttachAttr {
        target_fd: raw(target),
        attach_bpf_fd: raw(prog),
        attach_type,
        attach_flags: flags | replace.map_or(0, |_| consts::BPF_F_REPLACE),
        replace_bpf_fd: replace.map_or(0, raw),
    };
    bpf(Cmd::ProgAttach, &mut a).map(|_| ())
}

/// `BPF_PROG_DETACH` of exactly `prog` (when given) from `target`.
pub fn prog_detach(
    target: BorrowedFd<'_>,
    prog: Option<BorrowedFd<'_>>,
    attach_type: u32,
) -> Result<(), SyscallError> {
    let mut a = ProgAttachAttr {
        target_fd: raw(target),
        attach_bpf_fd: prog.map_or(0, raw),
        attach_type,
        ..Default::default()
    };
    bpf(Cmd::ProgDetach, &mut a).map(|_| ())
}

/// The answer of `BPF_PROG_QUERY`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryResult {
    /// The attach flags of the attachment point (`BPF_F_ALLOW_MULTI`, …).
    pub attach_flags: u32,
    /// The ids of the attached programs, in run order.
    pub prog_ids: Vec<u32>,
}

/// `BPF_PROG_QUERY`: the programs attached to `target` for `attach_type`.
pub fn prog_query(
    target: BorrowedFd<'_>,
    attach_type: u32,
    query_flags: u32,
) -> Result<QueryResult, SyscallError> {
    let mut ids: Vec<u32> = Vec::new();
    for _ in 0..4 {
        let mut a = QueryAttr {
            target_fd: raw(target),
            attach_type,
            query_flags,
            prog_cnt: ids.len() as u32,
            prog_ids: if ids.is_empty() {
                0
            } else {
                ptr(ids.as_mut_ptr())
            },
            ..Default::default()
        };
        match bpf(Cmd::ProgQuery, &mut a) {
            Ok(_) if ids.is_empty() && a.prog_cnt > 0 => {
                ids = vec![0; a.prog_cnt as usize];
            }
            Ok(_) => {
                ids.truncate(a.prog_cnt as usize);
                return Ok(QueryResult {
                    attach_flags: a.attach_flags,
                    prog_ids: ids,
                });
            }
            // More programs appeared between the two calls.
            Err(e) if is_errno(&e, libc::ENOSPC) => {
                ids = vec![0; (a.prog_cnt as usize).max(ids.len() * 2)];
            }
            Err(e) => return Err(e),
        }
    }
    Err(SyscallError::new(
        Cmd::ProgQuery.name(),
        io::Error::other("program list kept changing"),
    ))
}

/// `BPF_LINK_CREATE`.
pub fn link_create(
    prog: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
) -> Result<OwnedFd, SyscallError> {
    link_create_raw(raw(prog), raw(target), attach_type, flags)
}

/// `BPF_LINK_CREATE` with raw fd numbers (feature probes pass an invalid target on purpose).
pub fn link_create_raw(
    prog: u32,
    target: u32,
    attach_type: u32,
    flags: u32,
) -> Result<OwnedFd, SyscallError> {
    link_create_ext(prog, target, attach_type, flags, LinkExtra::None)
}

/// The per-attach-type part of `BPF_LINK_CREATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LinkExtra {
    /// Nothing (cgroup, sockmap, netns, XDP links).
    #[default]
    None,
    /// `target_btf_id` (freplace and iterator-less tracing targets).
    TargetBtfId(u32),
    /// `perf_event.bpf_cookie` (5.15), read by the program with `bpf_get_attach_cookie`.
    PerfEventCookie(u64),
    /// `tracing.target_btf_id` and `tracing.cookie` (5.19).
    Tracing {
        /// BTF id of the target (0: the one given at load time).
        target_btf_id: u32,
        /// The cookie.
        cookie: u64,
    },
    /// `tcx.relative_fd` (or id, with `BPF_F_ID`) and `tcx.expected_revision` (6.6).
    Tcx {
        /// The program or link (by fd, or id with `BPF_F_ID`) that `BPF_F_BEFORE` or
        /// `BPF_F_AFTER` refer to; 0 for none.
        relative_fd: u32,
        /// Fail with ESTALE unless the attach point is at this revision (0: any).
        expected_revision: u64,
    },
}

/// `BPF_LINK_CREATE` with the per-attach-type union filled from `extra`. `target` is an fd or,
/// for XDP and tcx, an ifindex.
pub fn link_create_ext(
    prog: u32,
    target: u32,
    attach_type: u32,
    flags: u32,
    extra: LinkExtra,
) -> Result<OwnedFd, SyscallError> {
    let mut a = LinkCreateAttr {
        prog_fd: prog,
        target_fd: target,
        attach_type,
        flags,
        ..Default::default()
    };
    match extra {
        LinkExtra::None => {}
        LinkExtra::TargetBtfId(id) => a.target_btf_id = id,
        LinkExtra::PerfEventCookie(c) => a.set_u64_at_16(c),
        LinkExtra::Tracing {
            target_btf_id,
            cookie,
        } => {
            a.target_btf_id = target_btf_id;
            a.extra_u64 = cookie;
        }
        LinkExtra::Tcx {
            relative_fd,
            expected_revision,
        } => {
            a.target_btf_id = relative_fd;
            a.extra_u64 = expected_revision;
        }
    }
    let fd = bpf(Cmd::LinkCreate, &mut a)?;
    own_fd(fd, Cmd::LinkCreate.name())
}

/// `BPF_RAW_TRACEPOINT_OPEN`: attaches `prog` to the raw tracepoint `name`, or, with `None`,
/// a BTF-typed program (tp_btf, fentry, fexit, fmod_ret, lsm) to the target it was loaded
/// for. Returns the link fd.
pub fn raw_tracepoint_open(
    name: Option<&CStr>,
    prog: BorrowedFd<'_>,
) -> Result<OwnedFd, SyscallError> {
    let mut a = RawTracepointAttr {
        name: name.map_or(0, |n| ptr(n.as_ptr())),
        prog_fd: raw(prog),
        _pad0: 0,
    };
    let fd = bpf(Cmd::RawTracepointOpen, &mut a)?;
    own_fd(fd, Cmd::RawTracepointOpen.name())
}

/// `setsockopt(sock, SOL_SOCKET, SO_ATTACH_BPF, &prog_fd)`, or `SO_DETACH_BPF` for `None`.
pub fn socket_bpf(sock: BorrowedFd<'_>, prog: Option<BorrowedFd<'_>>) -> Result<(), SyscallError> {
    let (opt, call) = match prog {
        Some(_) => (consts::SO_ATTACH_BPF, "setsockopt(SO_ATTACH_BPF)"),
        None => (consts::SO_DETACH_BPF, "setsockopt(SO_DETACH_BPF)"),
    };
    let val: libc::c_int = prog.map_or(0, |p| p.as_raw_fd());
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from `val`, which lives for the call.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&val as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(SyscallError::new(call, io::Error::last_os_error()));
    }
    Ok(())
}

/// `BPF_LINK_UPDATE`: replaces the link's program by `new_prog`; with `old_prog`, only if
/// that is still the link's program (`BPF_F_REPLACE`).
pub fn link_update(
    link: BorrowedFd<'_>,
    new_prog: BorrowedFd<'_>,
    old_prog: Option<BorrowedFd<'_>>,
) -> Result<(), SyscallError> {
    let mut a = LinkUpdateAttr {
        link_fd: raw(link),
        new_prog_fd: raw(new_prog),
        flags: old_prog.map_or(0, |_| consts::BPF_F_REPLACE),
        old_prog_fd: old_prog.map_or(0, raw),
    };
    bpf(Cmd::LinkUpdate, &mut a).map(|_| ())
}

/// `BPF_LINK_DETACH`: detaches the link's program now, even if the link is pinned.
pub fn link_detach(link: BorrowedFd<'_>) -> Result<(), SyscallError> {
    let mut a = LinkDetachAttr { link_fd: raw(link) };
    bpf(Cmd::LinkDetach, &mut a).map(|_| ())
}

/// `BPF_ENABLE_STATS` with `BPF_STATS_RUN_TIME`: the kernel counts every program's run time
/// and runs (`bpf_prog_info.run_time_ns`, `run_cnt`) while the returned fd is open (5.8).
pub fn enable_stats_run_time() -> Result<OwnedFd, SyscallError> {
    let mut a = EnableStatsAttr {
        stats_type: uapi::bpf::BPF_STATS_RUN_TIME,
    };
    let fd = bpf(Cmd::EnableStats, &mut a)?;
    own_fd(fd, "BPF_ENABLE_STATS")
}

/// `BPF_OBJ_GET_INFO_BY_FD` into a zeroed `T`.
pub fn obj_info<T: Pod>(fd: BorrowedFd<'_>) -> Result<T, SyscallError> {
    let mut info = T::default();
    let mut a = InfoAttr {
        bpf_fd: raw(fd),
        info_len: std::mem::size_of::<T>() as u32,
        info: ptr(bytes_of_mut(&mut info).as_mut_ptr()),
    };
    bpf(Cmd::ObjGetInfoByFd, &mut a)?;
    Ok(info)
}

/// `BPF_OBJ_GET_INFO_BY_FD` into `info`, whose pointer fields say where the kernel writes
/// arrays (map ids, instructions).
fn obj_info_into<T: Pod>(fd: BorrowedFd<'_>, info: &mut T) -> Result<(), SyscallError> {
    let mut a = InfoAttr {
        bpf_fd: raw(fd),
        info_len: std::mem::size_of::<T>() as u32,
        info: ptr(bytes_of_mut(info).as_mut_ptr()),
    };
    bpf(Cmd::ObjGetInfoByFd, &mut a)?;
    Ok(())
}

/// `BPF_OBJ_GET_INFO_BY_FD` for a program, with the ids of the maps it uses.
pub fn prog_info(fd: BorrowedFd<'_>) -> Result<(ProgInfoRaw, Vec<u32>), SyscallError> {
    let first: ProgInfoRaw = obj_info(fd)?;
    if first.nr_map_ids == 0 {
        return Ok((first, Vec::new()));
    }
    let mut ids = vec![0u32; first.nr_map_ids as usize];
    let mut info = ProgInfoRaw {
        nr_map_ids: ids.len() as u32,
        map_ids: ptr(ids.as_mut_ptr()),
        ..Default::default()
    };
    obj_info_into(fd, &mut info)?;
    ids.truncate((info.nr_map_ids as usize).min(ids.len()));
    info.map_ids = 0;
    Ok((info, ids))
}

/// `BPF_OBJ_GET_INFO_BY_FD` for a program's translated (`xlated`) instructions: what the
/// kernel holds after verification, with map pointers shown as map ids.
pub fn prog_xlated(fd: BorrowedFd<'_>) -> Result<Vec<u8>, SyscallError> {
    let first: ProgInfoRaw = obj_info(fd)?;
    let mut insns = vec![0u8; first.xlated_prog_len as usize];
    if insns.is_empty() {
        return Ok(insns);
    }
    let mut info = ProgInfoRaw {
        xlated_prog_len: insns.len() as u32,
        xlated_prog_insns: ptr(insns.as_mut_ptr()),
        ..Default::default()
    };
    obj_info_into(fd, &mut info)?;
    insns.truncate((info.xlated_prog_len as usize).min(insns.len()));
    Ok(insns)
}

/// Which kind of object an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// A program.
    Prog,
    /// A map.
    Map,
    /// A link.
    Link,
    /// A BTF object (the kernel's, a module's, or one loaded with `BPF_BTF_LOAD`).
    Btf,
}

/// `BPF_{PROG,MAP,LINK}_GET_FD_BY_ID`.
pub fn get_fd_by_id(kind: IdKind, id: u32) -> Result<OwnedFd, SyscallError> {
    let cmd = match kind {
        IdKind::Prog => Cmd::ProgGetFdById,
        IdKind::Map => Cmd::MapGetFdById,
        IdKind::Link => Cmd::LinkGetFdById,
        IdKind::Btf => Cmd::BtfGetFdById,
    };
    let mut a = GetIdAttr {
        start_id: id,
        ..Default::default()
    };
    let fd = bpf(cmd, &mut a)?;
    own_fd(fd, cmd.name())
}

/// `BPF_{PROG,MAP,LINK}_GET_NEXT_ID`: the next id after `start` (0 for the first), `None` at
/// the end.
pub fn get_next_id(kind: IdKind, start: u32) -> Result<Option<u32>, SyscallError> {
    let cmd = match kind {
        IdKind::Prog => Cmd::ProgGetNextId,
        IdKind::Map => Cmd::MapGetNextId,
        IdKind::Link => Cmd::LinkGetNextId,
        IdKind::Btf => Cmd::BtfGetNextId,
    };
    let mut a = GetIdAttr {
        start_id: start,
        ..Default::default()
    };
    match bpf(cmd, &mut a) {
        Ok(_) => Ok(Some(a.next_id)),
        Err(e) if is_errno(&e, libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `BPF_OBJ_GET_INFO_BY_FD` for a BTF object, with its name (`"vmlinux"`, a module's name, or
/// empty for BTF loaded by a program).
pub fn btf_info(fd: BorrowedFd<'_>) -> Result<(BtfInfoRaw, String), SyscallError> {
    // MODULE_NAME_LEN is 56 bytes; leave room for a NUL.
    let mut name = [0u8; 64];
    let mut info = BtfInfoRaw {
        name: ptr(name.as_mut_ptr()),
        name_len: name.len() as u32,
        ..Default::default()
    };
    obj_info_into(fd, &mut info)?;
    info.name = 0;
    Ok((info, name_str(&name)))
}
