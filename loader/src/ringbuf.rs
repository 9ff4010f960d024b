//! [`RingBuf`]: the user-space reader of a `BPF_MAP_TYPE_RINGBUF` map (Linux 5.8), which
//! programs write with `bpf_ringbuf_output` or `bpf_ringbuf_reserve` + `bpf_ringbuf_submit`.
//!
//! The map is shared memory: a consumer page (the reader's position, mapped read-write), then
//! a producer page (the writers' position) and the data area, mapped read-only. The kernel
//! maps the data area twice in a row, so a record that wraps around the end is contiguous in
//! memory and can be lent out as one slice.
//!
//! Each record starts with an 8-byte header: a 32-bit length whose top bits are
//! `BPF_RINGBUF_BUSY_BIT` (still being written) and `BPF_RINGBUF_DISCARD_BIT` (discarded,
//! skipped), then the kernel's page offset; the data follows; records are 8-byte aligned.
//! The producer position is read with an acquire load, each header with an acquire load
//! (the kernel commits it with a release), and the consumer position is published with a
//! release store once a record is done with (when its [`Record`] is dropped).
//!
//! ```no_run
//! # fn f(map: &loader::Map) -> loader::Result<()> {
//! use std::time::Duration;
//! let mut rb = loader::ringbuf::RingBuf::new(map)?;
//! loop {
//!     while let Some(rec) = rb.next() {
//!         println!("{} bytes: {:?}", rec.len(), &rec[..]);
//!     }
//!     rb.wait(Some(Duration::from_secs(1)))?;
//! }
//! # }
//! ```

use std::ops::Deref;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::map::{Map, MapType};
use crate::sys::consts::{BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT, BPF_RINGBUF_HDR_SZ};
use crate::sys::mmap::{page_size, Epoll, Mmap};

/// The reader of a ring buffer map.
#[derive(Debug)]
pub struct RingBuf {
    fd: OwnedFd,
    consumer: Mmap,
    producer: Mmap,
    page: usize,
    size: usize,
    /// The consumer position: ours, mirrored in the consumer page.
    pos: u64,
    epoll: Epoll,
}

impl RingBuf {
    /// Maps `map` (a [`MapType::RingBuf`]) for reading. The reader keeps its own fd of the map.
    /// Only one reader of a ring buffer should consume at a time.
    pub fn new(map: &Map) -> Result<RingBuf> {
        if map.map_type() != MapType::RingBuf {
            return Err(Error::InvalidArgument(format!(
                "map {} is a {}, not a ringbuf",
                map.name(),
                map.map_type()
            )));
        }
        let fd = map
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io("duplicating fd of map", map.name(), e))?;
        let page = page_size();
        let size = map.max_entries() as usize;
        if !size.is_power_of_two() || size % page != 0 {
            return Err(Error::InvalidArgument(format!(
                "ringbuf {}: size {size} is not a power-of-2 multiple of the page size",
                map.name()
            )));
        }
        let consumer = Mmap::map(fd.as_fd(), page, 0, true)?;
        let producer = Mmap::map(fd.as_fd(), page + 2 * size, page, false)?;
        let epoll = Epoll::new()?;
        epoll.add(fd.as_fd(), 0)?;
        let pos = consumer.load_acquire_u64(0);
        Ok(RingBuf {
            fd,
            consumer,
            producer,
            page,
            size,
            pos,
            epoll,
        })
    }

    /// The data area's size in bytes (the map's `max_entries`).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Bytes written by producers and not yet consumed (headers and padding included).
    pub fn pending(&self) -> u64 {
        self.producer.load_acquire_u64(0).wrapping_sub(self.pos)
    }

    /// The next record, or `None` when there is none yet (or the next one is still being
    /// written). Discarded records are skipped. The record's space goes back to the writers
    /// when the returned [`Record`] is dropped.
    #[allow(clippy::should_implement_trait)] // a lending iterator, which Iterator cannot be
    pub fn next(&mut self) -> Option<Record<'_>> {
        loop {
            let prod = self.producer.load_acquire_u64(0);
            if self.pos >= prod {
                return None;
            }
            let off = (self.pos as usize) & (self.size - 1);
            let hdr = self.producer.load_acquire_u32(self.page + off);
            if hdr & BPF_RINGBUF_BUSY_BIT != 0 {
                return None;
            }
            let len = (hdr & !(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) as usize;
            let hdr_sz = BPF_RINGBUF_HDR_SZ as usize;
            if len + hdr_sz > self.size {
                // Not a record the kernel can write; stop rather than read past the area.
                return None;
            }
            let next = self.pos + (len + hdr_sz).div_ceil(8) as u64 * 8;
            if hdr & BPF_RINGBUF_DISCARD_BIT != 0 {
                self.pos = next;
                self.consumer.store_release_u64(0, next);
                continue;
            }
            let data = self.producer.bytes(self.page + off + hdr_sz, len);
            return Some(Record {
                data,
                consumer: &self.consumer,
                pos: &mut self.pos,
                next,
            });
        }
    }

    /// Waits until the kernel says there is data (epoll on the map fd, `EPOLLIN`) or
    /// `timeout` passes (`None`: forever); `true` when there is data. The kernel wakes readers
    /// when a record is committed to a buffer the reader had emptied (or as `BPF_RB_*` flags
    /// of the writer say), so read everything with [`RingBuf::next`] before waiting again.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        if self.pending() > 0 {
            return Ok(true);
        }
        let ms = timeout.map_or(-1, |t| i32::try_from(t.as_millis()).unwrap_or(i32::MAX));
        Ok(!self.epoll.wait(1, ms)?.is_empty())
    }

    /// Reads every record available now, calling `f` with each; returns how many.
    pub fn drain(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        while let Some(r) = self.next() {
            f(&r);
            n += 1;
        }
        n
    }
}

impl AsFd for RingBuf {
    /// The reader's fd of the map (to poll it in your own event loop).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// One record of a [`RingBuf`], borrowed from the shared memory; its space is released to the
/// writers when this is dropped.
#[derive(Debug)]
pub struct Record<'a> {
    data: &'a [u8],
    consumer: &'a Mmap,
    pos: &'a mut u64,
    next: u64,
}

impl Deref for Record<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.data
    }
}

impl Drop for Record<'_> {
    fn drop(&mut self) {
        *self.pos = self.next;
        self.consumer.store_release_u64(0, self.next);
    }
}
