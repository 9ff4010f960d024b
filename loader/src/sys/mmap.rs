//! Shared mappings of kernel buffers (ring buffer maps, perf event buffers) and `epoll`: the
//! `mmap(2)`, `munmap(2)` and `epoll_*(2)` calls, and the atomic and plain reads of mapped
//! memory the readers need. Offsets are checked against the mapping's length; an access
//! outside it is an internal bug and panics rather than touching foreign memory.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::SyscallError;

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf reads a constant of the system; no memory is passed.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n <= 0 {
        4096
    } else {
        n as usize
    }
}

/// A `MAP_SHARED` mapping of `len` bytes of an fd, unmapped on drop.
#[derive(Debug)]
pub struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; every access goes through `&self`
// methods that use atomics (for the words the kernel updates) or read regions the kernel has
// handed over.
unsafe impl Send for Mmap {}

impl Mmap {
    /// Maps `len` bytes of `fd` at file offset `offset` (a multiple of the page size),
    /// read-only or read-write.
    pub fn map(
        fd: BorrowedFd<'_>,
        len: usize,
        offset: usize,
        writable: bool,
    ) -> Result<Mmap, SyscallError> {
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        let off = libc::off_t::try_from(offset)
            .map_err(|_| SyscallError::new("mmap", io::Error::from_raw_os_error(libc::EINVAL)))?;
        // SAFETY: a new shared mapping chosen by the kernel (NULL hint), of an fd the caller
        // keeps open for the call; nothing existing is replaced.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                off,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(SyscallError::new("mmap", io::Error::last_os_error()));
        }
        let ptr = NonNull::new(p.cast::<u8>())
            .ok_or_else(|| SyscallError::new("mmap", io::Error::other("mapped at address 0")))?;
        Ok(Mmap { ptr, len })
    }

    fn check(&self, off: usize, size: usize, align: usize) {
        assert!(
            off.checked_add(size).is_some_and(|end| end <= self.len) && off % align == 0,
            "mapped access at {off}+{size} outside a {}-byte mapping or misaligned",
            self.len
        );
    }

    /// Acquire load of the 8-byte word at `off` (a position the kernel publishes).
    pub fn load_acquire_u64(&self, off: usize) -> u64 {
        self.check(off, 8, 8);
        // SAFETY: in bounds and 8-aligned (checked; mappings are page-aligned); the word is
        // only ever accessed atomically by the kernel and by us.
        unsafe { AtomicU64::from_ptr(self.ptr.as_ptr().add(off).cast()) }.load(Ordering::Acquire)
    }

    /// Release store of the 8-byte word at `off` (a position we publish to the kernel).
    /// The mapping must be writable there.
    pub fn store_release_u64(&self, off: usize, v: u64) {
        self.check(off, 8, 8);
        // SAFETY: as for `load_acquire_u64`; callers only store into writable mappings.
        unsafe { AtomicU64::from_ptr(self.ptr.as_ptr().add(off).cast()) }
            .store(v, Ordering::Release)
    }

    /// Acquire load of the 4-byte word at `off` (a ring buffer record's length word, which
    /// the kernel commits with a release store).
    pub fn load_acquire_u32(&self, off: usize) -> u32 {
        self.check(off, 4, 4);
        // SAFETY: in bounds and 4-aligned (checked).
        unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().add(off).cast()) }.load(Ordering::Acquire)
    }

    /// The `len` bytes at `off`. The caller reads only regions the kernel has handed over
    /// (published before an acquire load and not reusable until the caller's next release
    /// store), so they do not change while borrowed.
    pub fn bytes(&self, off: usize, len: usize) -> &[u8] {
        self.check(off, len, 1);
        // SAFETY: in bounds (checked); the mapping lives as long as `self`; the kernel does not
        // write the region while the caller holds it (see above).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(off), len) }
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping this value owns; no borrow of it outlives `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// An epoll instance (close-on-exec) watching fds for `EPOLLIN`, each with a token.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    /// A new epoll instance.
    pub fn new() -> Result<Epoll, SyscallError> {
        // SAFETY: creates a new fd, which we then own.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(SyscallError::new(
                "epoll_create1",
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: epoll_create1 just returned this fd.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Watches `fd` for readability, reporting `token`. The caller keeps `fd` open while it
    /// is watched (closing it removes it from the set).
    pub fn add(&self, fd: BorrowedFd<'_>, token: u64) -> Result<(), SyscallError> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `ev` is a live epoll_event for the call; both fds are open.
        let r = unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut ev,
            )
        };
        if r < 0 {
            return Err(SyscallError::new("epoll_ctl", io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Waits up to `timeout_ms` (-1: forever) and returns the tokens of the ready fds (empty
    /// on timeout or when a signal interrupted the wait).
    pub fn wait(&self, max: usize, timeout_ms: i32) -> Result<Vec<u64>, SyscallError> {
        let max = max.clamp(1, 1024);
        let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; max];
        // SAFETY: `evs` has room for `max` events, the count passed.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                evs.as_mut_ptr(),
                max as libc::c_int,
                timeout_ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                return Ok(Vec::new());
            }
            return Err(SyscallError::new("epoll_wait", e));
        }
        Ok(evs[..n as usize].iter().map(|e| e.u64).collect())
    }
}
