//! Proof before the kernel: the bypass programs run under rbpf with emulated helpers and
//! maps, driven by a connection simulator, checked by properties.
//!
//! - [`uapi`]: the header's numbers and layouts, written independently of `programs`.
//! - [`ctx`]: context images laid out as `struct bpf_sock_ops` / `struct sk_msg_md`.
//! - [`maps`]: hash, LPM trie, per-CPU array and sockhash with kernel semantics.
//! - [`kernel`]: the thread-local emulated kernel and the helpers.
//! - [`check`]: the static check that guards rbpf's differences from the kernel.
//! - [`vm`]: loading and running a program.
//! - [`sim`]: the connection simulator.
//! - [`mutants`]: deliberately wrong variants of the programs (mutation evidence).
//!
//! See `docs/verification.md` for what this proves and what only the kernel can tell.

pub mod check;
pub mod ctx;
pub mod kernel;
pub mod maps;
pub mod mutants;
pub mod sim;
pub mod uapi;
pub mod vm;
