//! The bypass programs, written in the `asm` DSL: a `sock_ops` program that puts established
//! same-host TCP sockets in a SOCKHASH and pairs each client with its server, and an `sk_msg`
//! program that redirects every `sendmsg` of a paired socket into its peer's receive queue.
//!
//! This crate owns the programs ([`sock_ops()`], [`sk_msg()`]), the maps they use
//! ([`maps()`], [`names`]), their statistics ([`Counter`]), the user-space construction of
//! every key ([`key`]) and the kernel UAPI numbers they rely on ([`uapi`]). It knows nothing of
//! system calls: the `loader` crate creates the maps and loads the programs.
//!
//! ```
//! let cfg = programs::Config::default();
//! let sock_ops = programs::sock_ops(&cfg)?;
//! let sk_msg = programs::sk_msg(&cfg)?;
//! // Every map a program references is defined in `maps()`.
//! for name in sock_ops.map_names().into_iter().chain(sk_msg.map_names()) {
//!     assert!(programs::maps().iter().any(|m| m.name == name));
//! }
//! # Ok::<(), asm::AsmError>(())
//! ```

#![warn(missing_docs)]

mod counters;
mod emit;
pub mod key;
mod maps;
mod sk_msg;
mod sock_ops;
pub mod uapi;

pub use counters::Counter;
pub use key::KeyError;
pub use maps::{map, maps, names, MapDef, MapKind, MAX_CONFIG_ENTRIES, MAX_CONNS};
pub use sk_msg::sk_msg;
pub use sock_ops::sock_ops;

/// How to build the programs for the running kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Config {
    /// Whether `bpf_get_netns_cookie` may be called from `sock_ops` and `sk_msg` (the loader
    /// probes it). With cookies, keys carry the socket's network namespace, so loopback
    /// connections in different namespaces cannot be confused and loopback is bypassed;
    /// without, every cookie is 0 and connections with a loopback address are left alone.
    pub netns_cookie: bool,
}

impl Default for Config {
    /// Cookies on (every kernel since 5.15 allows them in both program types).
    fn default() -> Self {
        Config { netns_cookie: true }
    }
}

#[cfg(test)]
mod tests;
