//! [`PerfBuffer`]: the user-space reader of a `BPF_MAP_TYPE_PERF_EVENT_ARRAY` map, which
//! programs write with `bpf_perf_event_output` (Linux 4.4; `BPF_F_CURRENT_CPU`).
//!
//! For each online CPU (`/sys/devices/system/cpu/online`) the reader opens a software perf
//! event `PERF_COUNT_SW_BPF_OUTPUT` with `PERF_SAMPLE_RAW` samples and a wake-up per sample,
//! maps its ring (one metadata page and 2^n data pages), stores the event's fd in the map at
//! the CPU's index and enables it. Reading follows the perf ring protocol: an acquire load of
//! `data_head`, records copied out (a record may wrap around the end of the data area), then
//! a release store of `data_tail`. Records are [`PerfEvent::Sample`]s (the raw data, which the
//! kernel pads so that its 4-byte size and data end 8-byte aligned: the program's bytes come
//! first, then up to 7 padding bytes) and [`PerfEvent::Lost`] (how many samples the kernel
//! dropped because the ring was full; reported when room is available again).
//!
//! Dropping the reader deletes its entries from the map and closes the events.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::map::{Map, MapType, UpdateFlags};
use crate::sys::mmap::{page_size, Epoll, Mmap};
use crate::sys::perf::{self, PerfEventAttr};

/// `BPF_F_CURRENT_CPU`: the `flags` of `bpf_perf_event_output` that select the current
/// CPU's entry of the perf event array.
pub const F_CURRENT_CPU: u64 = crate::sys::consts::BPF_F_CURRENT_CPU;

/// One record read from a CPU's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PerfEvent {
    /// A sample: what the program passed to `bpf_perf_event_output` (plus alignment padding,
    /// see the module docs).
    Sample {
        /// The CPU whose buffer it came from.
        cpu: u32,
        /// The raw data.
        data: Vec<u8>,
    },
    /// The kernel dropped samples: the ring was full.
    Lost {
        /// The CPU whose buffer overflowed.
        cpu: u32,
        /// How many samples were dropped.
        count: u64,
    },
}

#[derive(Debug)]
struct CpuBuf {
    cpu: u32,
    // Declared before `fd` so that it is unmapped first.
    mmap: Mmap,
    fd: OwnedFd,
}

/// The reader of a perf event array; see the [module docs](self).
#[derive(Debug)]
pub struct PerfBuffer {
    map: Map,
    bufs: Vec<CpuBuf>,
    epoll: Epoll,
    page: usize,
    data_size: usize,
    lost: u64,
}

/// The CPU numbers of a kernel CPU list such as `0-3,8,10-11` (`None` when malformed).
pub fn parse_cpu_ids(text: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if b < a || b - a > 1 << 16 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The online CPUs (`/sys/devices/system/cpu/online`).
pub fn online_cpus() -> Result<Vec<u32>> {
    let path = "/sys/devices/system/cpu/online";
    let text = fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
    parse_cpu_ids(&text).ok_or_else(|| {
        Error::io(
            "parsing",
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, text.trim().to_string()),
        )
    })
}

impl PerfBuffer {
    /// Opens, maps (2^`page_shift` data pages per CPU) and enables one BPF output event per
    /// online CPU, stored in `map` (a [`MapType::PerfEventArray`] with at least as many
    /// entries as the highest online CPU number + 1). The reader keeps its own fd of the map.
    pub fn new(map: &Map, page_shift: u32) -> Result<PerfBuffer> {
        if map.map_type() != MapType::PerfEventArray {
            return Err(Error::InvalidArgument(format!(
                "map {} is a {}, not a perf_event_array",
                map.name(),
                map.map_type()
            )));
        }
        if page_shift > 16 {
            return Err(Error::InvalidArgument(format!(
                "perf buffer of 2^{page_shift} pages per CPU is too large"
            )));
        }
        let page = page_size();
        let data_size = page << page_shift;
        let mut reader = PerfBuffer {
            map: map.try_clone()?,
            bufs: Vec::new(),
            epoll: Epoll::new()?,
            page,
            data_size,
            lost: 0,
        };
        let attr = PerfEventAttr {
            type_: perf::PERF_TYPE_SOFTWARE,
            size: perf::PERF_ATTR_SIZE_VER7,
            config: perf::PERF_COUNT_SW_BPF_OUTPUT,
            sample_period: 1,
            sample_type: perf::PERF_SAMPLE_RAW,
            wakeup_events: 1,
            ..Default::default()
        };
        for cpu in online_cpus()? {
            if cpu >= map.max_entries() {
                return Err(Error::InvalidArgument(format!(
                    "perf event array {} has {} entries, CPU {cpu} is online",
                    map.name(),
                    map.max_entries()
                )));
            }
            let fd = perf::perf_event_open(&attr, -1, cpu as i32, None, 0)?;
            let mmap = Mmap::map(fd.as_fd(), page + data_size, 0, true)?;
            reader.epoll.add(fd.as_fd(), u64::from(cpu))?;
            let raw = fd.as_raw_fd() as u32;
            reader
                .map
                .put(&cpu.to_ne_bytes(), &raw.to_ne_bytes(), UpdateFlags::Any)?;
            // Pushed before enabling, so that Drop removes the entry whatever fails next.
            reader.bufs.push(CpuBuf { cpu, mmap, fd });
            let buf = reader.bufs.last().map(|b| b.fd.as_fd());
            if let Some(fd) = buf {
                perf::perf_event_enable(fd, true)?;
            }
        }
        Ok(reader)
    }

    /// The CPUs read, in order.
    pub fn cpus(&self) -> Vec<u32> {
        self.bufs.iter().map(|b| b.cpu).collect()
    }

    /// The data area of each CPU's ring, in bytes.
    pub fn data_size(&self) -> usize {
        self.data_size
    }

    /// The samples reported lost so far (the sum of the [`PerfEvent::Lost`] counts read).
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Waits until a CPU's buffer has data (epoll over all CPUs' events) or `timeout`
    /// passes (`None`: forever); `true` when some buffer has data.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        if self.bufs.iter().any(|b| self.available(b) > 0) {
            return Ok(true);
        }
        let ms = timeout.map_or(-1, |t| i32::try_from(t.as_millis()).unwrap_or(i32::MAX));
        Ok(!self.epoll.wait(self.bufs.len(), ms)?.is_empty())
    }

    fn available(&self, b: &CpuBuf) -> u64 {
        let head = b.mmap.load_acquire_u64(perf::MMAP_PAGE_DATA_HEAD);
        let tail = b.mmap.load_acquire_u64(perf::MMAP_PAGE_DATA_TAIL);
        head.wrapping_sub(tail)
    }

    /// Copies `len` bytes at ring position `pos` (wrapping around the data area).
    fn copy(&self, b: &CpuBuf, pos: u64, len: usize) -> Vec<u8> {
        let off = (pos as usize) & (self.data_size - 1);
        let first = len.min(self.data_size - off);
        let mut out = b.mmap.bytes(self.page + off, first).to_vec();
        if first < len {
            out.extend_from_slice(b.mmap.bytes(self.page, len - first));
        }
        out
    }

    /// Reads every record available now from every CPU's buffer, in CPU order, and hands
    /// them back to the kernel.
    pub fn read_events(&mut self) -> Vec<PerfEvent> {
        let mut out = Vec::new();
        for b in &self.bufs {
            let head = b.mmap.load_acquire_u64(perf::MMAP_PAGE_DATA_HEAD);
            let mut tail = b.mmap.load_acquire_u64(perf::MMAP_PAGE_DATA_TAIL);
            while tail < head {
                let hdr = self.copy(b, tail, 8);
                let kind = u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
                let size = u16::from_ne_bytes([hdr[6], hdr[7]]) as usize;
                if size < 8 || size > self.data_size || (size as u64) > head - tail {
                    // Not a record the kernel writes: give up on what is there.
                    tail = head;
                    break;
                }
                let rec = self.copy(b, tail, size);
                match kind {
                    perf::PERF_RECORD_SAMPLE if size >= 12 => {
                        let n = u32::from_ne_bytes([rec[8], rec[9], rec[10], rec[11]]) as usize;
                        let n = n.min(size - 12);
                        out.push(PerfEvent::Sample {
                            cpu: b.cpu,
                            data: rec[12..12 + n].to_vec(),
                        });
                    }
                    perf::PERF_RECORD_LOST if size >= 24 => {
                        let mut c = [0u8; 8];
                        c.copy_from_slice(&rec[16..24]);
                        let count = u64::from_ne_bytes(c);
                        self.lost += count;
                        out.push(PerfEvent::Lost { cpu: b.cpu, count });
                    }
                    _ => {}
                }
                tail += size as u64;
            }
            b.mmap.store_release_u64(perf::MMAP_PAGE_DATA_TAIL, tail);
        }
        out
    }
}

impl Drop for PerfBuffer {
    fn drop(&mut self) {
        for b in &self.bufs {
            let _ = perf::perf_event_enable(b.fd.as_fd(), false);
            let _ = self.map.delete(&b.cpu.to_ne_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_id_lists() {
        assert_eq!(parse_cpu_ids("0-1\n"), Some(vec![0, 1]));
        assert_eq!(parse_cpu_ids("0"), Some(vec![0]));
        assert_eq!(parse_cpu_ids("0-2,8,10-11"), Some(vec![0, 1, 2, 8, 10, 11]));
        assert_eq!(parse_cpu_ids(""), None);
        assert_eq!(parse_cpu_ids("3-1"), None);
        assert_eq!(parse_cpu_ids("x"), None);
        assert_eq!(parse_cpu_ids("0-4294967295"), None);
    }
}
