//! Kernel quirks the bypass cannot avoid, found by trying them (never by kernel version).
//!
//! One is known: the **EAGAIN quirk** of the sockmap receive path. A socket in a sockmap or
//! sockhash (every bypassed socket) reads through the kernel's `tcp_bpf_recvmsg`. When a
//! blocking `recv()` finds no message it waits once on the socket's wait queue; if it is
//! woken without data it returns `-EAGAIN` instead of waiting again, as plain TCP does. The
//! socket's wait queue is shared with write-space wake-ups, so a thread blocked in `recv()`
//! fails with EAGAIN when another thread writes to the same socket (or merely changes its
//! send buffer). No byte is lost (the next `recv()` goes on), but a blocking application that
//! never expects EAGAIN from a blocking socket may treat it as fatal. Neither the programs nor
//! the loader can change this: the receive function is chosen by the kernel for every socket
//! in a sockmap, whatever program is attached.
//!
//! The self-test ([`recv_eagain_selftest`]) provokes exactly that wake-up, deterministically:
//! a loopback TCP pair made by this process, the reading socket put into a throwaway,
//! unpinned SOCKHASH (no program attached, no cgroup touched, nothing pinned: everything is
//! freed with its file descriptors), a thread blocked in `recv()` with a 2 s receive timeout,
//! and another thread calling `setsockopt(SO_SNDBUF)` on the same socket, which wakes the
//! socket's wait queue without bringing data. A plain TCP socket keeps waiting (checked first,
//! as a control); an affected kernel returns EAGAIN long before the timeout.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use loader::{Map, MapSpec, MapType, UpdateFlags};

/// How many times the self-test provokes the wake-up on bypass-like sockets.
pub const TRIALS: u32 = 3;

/// The receive timeout of the blocked reader: an EAGAIN this late is a timeout, not the quirk.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// What the EAGAIN self-test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EagainQuirk {
    /// `Some(true)`: a blocking `recv()` on a socket in a sockmap returned EAGAIN after a
    /// wake-up without data; `Some(false)`: it kept waiting in every trial; `None`: the test
    /// could not tell (see `detail`).
    pub affected: Option<bool>,
    /// Trials run on a socket in a sockhash.
    pub trials: u32,
    /// Trials in which `recv()` returned EAGAIN early.
    pub eagain: u32,
    /// One line on what happened.
    pub detail: String,
}

impl EagainQuirk {
    /// The warning `load` and `probe` print when the kernel is affected.
    pub const EFFECT: &'static str =
        "on this kernel a blocking recv() on a bypassed socket can fail with EAGAIN \
         (no data lost) when another thread writes to the same socket; blocking applications \
         that read and write one socket from two threads may treat that as an error. \
         Non-blocking (epoll/poll) applications are unaffected. Exclude affected services \
         with --exclude-port (see docs/operations.md, \"Kernel quirks\")";
}

/// What one reader saw.
enum ReadOutcome {
    /// `recv()` returned EAGAIN/EWOULDBLOCK after this long.
    Eagain(Duration),
    /// `recv()` returned data.
    Data,
    /// Any other error.
    Error(std::io::Error),
}

/// Runs the self-test: one control trial on plain TCP, then [`TRIALS`] trials on sockets in a
/// throwaway sockhash. Takes about half a second; never longer than a few seconds.
pub fn recv_eagain_selftest() -> EagainQuirk {
    match run_selftest() {
        Ok(q) => q,
        Err(e) => EagainQuirk {
            affected: None,
            trials: 0,
            eagain: 0,
            detail: format!("self-test could not run: {e:#}"),
        },
    }
}

fn run_selftest() -> Result<EagainQuirk> {
    // Control: plain TCP must keep waiting through the same wake-up.
    let (a, b) = tcp_pair()?;
    match trial(&a, &b)? {
        ReadOutcome::Data => {}
        ReadOutcome::Eagain(t) => {
            return Ok(EagainQuirk {
                affected: None,
                trials: 0,
                eagain: 0,
                detail: format!(
                    "inconclusive: plain TCP (the control) also returned EAGAIN after {} ms",
                    t.as_millis()
                ),
            })
        }
        ReadOutcome::Error(e) => {
            return Ok(EagainQuirk {
                affected: None,
                trials: 0,
                eagain: 0,
                detail: format!("inconclusive: the control read failed: {e}"),
            })
        }
    }
    drop((a, b));

    let map = Map::create(&MapSpec::new(
        "tb_quirk_test",
        MapType::SockHash,
        4,
        8,
        2 * TRIALS,
    ))
    .context("creating a throwaway sockhash")?;
    let mut eagain = 0;
    let mut first_wait = None;
    for i in 0..TRIALS {
        let (a, b) = tcp_pair()?;
        for (k, s) in [(2 * i, &a), (2 * i + 1, &b)] {
            map.put(
                &k.to_ne_bytes(),
                &(s.as_raw_fd() as u64).to_ne_bytes(),
                UpdateFlags::Any,
            )
            .context("putting a test socket into the sockhash")?;
        }
        match trial(&a, &b)? {
            ReadOutcome::Eagain(t) => {
                eagain += 1;
                first_wait.get_or_insert(t);
            }
            ReadOutcome::Data => {}
            ReadOutcome::Error(e) => {
                return Ok(EagainQuirk {
                    affected: None,
                    trials: i,
                    eagain,
                    detail: format!("inconclusive: a read failed with {e}"),
                })
            }
        }
    }
    let detail = match first_wait {
        Some(t) => format!(
            "blocking recv() on a socket in a sockhash returned EAGAIN in {eagain} of {TRIALS} trials \
             (after {} ms, on a send-buffer wake-up without data); plain TCP kept waiting",
            t.as_millis()
        ),
        None => format!(
            "blocking recv() on a socket in a sockhash kept waiting through a wake-up without \
             data in {TRIALS} of {TRIALS} trials"
        ),
    };
    Ok(EagainQuirk {
        affected: Some(eagain > 0),
        trials: TRIALS,
        eagain,
        detail,
    })
}

/// A connected loopback TCP pair (client, accepted server socket).
fn tcp_pair() -> Result<(TcpStream, TcpStream)> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a loopback listener")?;
    let addr = l.local_addr()?;
    let c = TcpStream::connect(addr).context("connecting over loopback")?;
    let (s, _) = l.accept().context("accepting over loopback")?;
    Ok((c, s))
}

/// Blocks a reader on `reader`, pokes its wait queue with `SO_SNDBUF` from this thread until
/// the reader returns (or 400 ms pass), then sends one byte from `peer` so a reader that kept
/// waiting gets data. Returns what the reader's first `recv()` did, after draining that byte.
fn trial(reader: &TcpStream, peer: &TcpStream) -> Result<ReadOutcome> {
    reader.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut r = reader.try_clone()?;
    let done = Arc::new(AtomicBool::new(false));
    let done2 = done.clone();
    let handle = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        let start = Instant::now();
        let out = match r.read(&mut buf) {
            Ok(_) => ReadOutcome::Data,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    && start.elapsed() < READ_TIMEOUT / 2 =>
            {
                ReadOutcome::Eagain(start.elapsed())
            }
            Err(e) => ReadOutcome::Error(e),
        };
        done2.store(true, Ordering::SeqCst);
        out
    });
    let fd = reader.as_raw_fd();
    let start = Instant::now();
    // Let the reader fall asleep, then wake its wait queue without data, repeatedly.
    std::thread::sleep(Duration::from_millis(30));
    let mut size: libc::c_int = 64 * 1024;
    while !done.load(Ordering::SeqCst) && start.elapsed() < Duration::from_millis(400) {
        size ^= 4096;
        // SAFETY: setsockopt on a socket this process owns, with a c_int option value.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                &size as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // End a reader that kept waiting; after an EAGAIN, check the byte still arrives.
    (&*peer)
        .write_all(b"x")
        .context("writing the wake-up byte")?;
    let out = handle
        .join()
        .map_err(|_| anyhow::anyhow!("the reader thread panicked"))?;
    if let ReadOutcome::Eagain(_) = out {
        let mut b = [0u8; 1];
        let mut r = reader;
        match r.read(&mut b) {
            Ok(1) => {}
            other => anyhow::bail!("after the EAGAIN the pending byte did not arrive: {other:?}"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effect_names_the_symptom_and_the_workaround() {
        assert!(EagainQuirk::EFFECT.contains("EAGAIN"));
        assert!(EagainQuirk::EFFECT.contains("--exclude-port"));
    }

    /// Needs root and bpf(); skips otherwise (fails under TCPBYPASS_REQUIRE_KERNEL=1).
    #[test]
    fn selftest_answers_quickly_and_consistently() {
        if !loader::testing::kernel_or_skip("selftest_answers_quickly_and_consistently") {
            return;
        }
        let t = Instant::now();
        let q = recv_eagain_selftest();
        assert!(t.elapsed() < Duration::from_secs(10), "{q:?}");
        assert!(q.affected.is_some(), "inconclusive: {q:?}");
        assert_eq!(q.trials, TRIALS, "{q:?}");
        // Deterministic: either every trial saw it or none did.
        assert!(q.eagain == 0 || q.eagain == TRIALS, "{q:?}");
    }
}
