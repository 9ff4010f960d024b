//! A bpf object never lands on fd 0, even when the process closed stdin: this binary has a
//! single test, because it closes its own fd 0.

use std::os::fd::{AsFd, AsRawFd};

use loader::testing::kernel_or_skip;
use loader::{Map, MapSpec, MapType};

#[test]
fn bpf_fds_never_take_fd_zero() {
    if !kernel_or_skip("bpf_fds_never_take_fd_zero") {
        return;
    }
    // Free fd 0 so that the kernel hands it out next.
    let _ = nix::unistd::close(0);
    let m = Map::create(&MapSpec::new("fd_zero", MapType::Array, 4, 4, 1)).unwrap();
    let fd = m.as_fd().as_raw_fd();
    assert!(fd > 2, "map fd {fd}");
    let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).unwrap();
    assert_ne!(flags & libc::FD_CLOEXEC, 0, "the moved fd is close-on-exec");
    // fd 0 was released again.
    assert_eq!(
        nix::fcntl::fcntl(0, nix::fcntl::FcntlArg::F_GETFD),
        Err(nix::errno::Errno::EBADF)
    );
    // The map still works through the moved fd.
    m.put(
        &0u32.to_le_bytes(),
        &5u32.to_le_bytes(),
        loader::UpdateFlags::Any,
    )
    .unwrap();
    assert_eq!(
        m.get(&0u32.to_le_bytes()).unwrap().unwrap(),
        5u32.to_le_bytes()
    );
}
