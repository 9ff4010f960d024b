//! Kernel helper function ids.
//!
//! The list is the `uapi` crate's (`uapi::for_each_helper!`, the helper list of the UAPI header
//! `linux/bpf.h`, Linux 6.1 headers, ids 0..=209, checked against the vendored header): the
//! position of a helper in that list is its id. A [`Helper`] is what a
//! `call` instruction with `src = 0` names in its immediate.

/// Generates [`Helper`], [`ALL`] and `NAMES` from the one list `uapi::for_each_helper!`.
macro_rules! helper_table {
    ($( ($variant:ident, $id:literal, $name:ident) ),* $(,)?) => {
        /// A kernel helper function, by its UAPI id (`BPF_FUNC_*`).
        ///
        /// ```
        /// use asm::Helper;
        /// assert_eq!(Helper::SockHashUpdate.id(), 70);
        /// assert_eq!(Helper::SockHashUpdate.name(), "bpf_sock_hash_update");
        /// assert_eq!(Helper::from_id(71), Some(Helper::MsgRedirectHash));
        /// assert_eq!(Helper::from_id(100_000), None);
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        #[non_exhaustive]
        pub enum Helper {
            $(
                #[doc = concat!("`bpf_", stringify!($name), "` (id ", stringify!($id), ").")]
                $variant = $id,
            )*
        }

        /// Every helper in id order; `ALL[id]` is the helper with that id.
        pub const ALL: &[Helper] = &[ $( Helper::$variant ),* ];

        /// The helpers' kernel names, in id order.
        const NAMES: &[&str] = &[ $( concat!("bpf_", stringify!($name)) ),* ];
    };
}

uapi::for_each_helper!(helper_table);

impl Helper {
    /// The helper's UAPI id, the immediate of its `call` instruction.
    pub const fn id(self) -> u32 {
        self as u32
    }

    /// The helper for a UAPI id, or `None` for an id this crate does not know.
    pub fn from_id(id: u32) -> Option<Helper> {
        ALL.get(usize::try_from(id).ok()?).copied()
    }

    /// The kernel's name of the helper, as `bpftool` prints it (`bpf_sock_hash_update`).
    pub fn name(self) -> &'static str {
        NAMES[self as usize]
    }

    /// The helper with a kernel name (with or without the `bpf_` prefix).
    pub fn from_name(name: &str) -> Option<Helper> {
        let name = name.strip_prefix("bpf_").unwrap_or(name);
        NAMES.iter().position(|n| &n[4..] == name).map(|i| ALL[i])
    }
}

impl std::fmt::Display for Helper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.name(), self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positions() {
        for (i, h) in ALL.iter().enumerate() {
            assert_eq!(h.id() as usize, i);
            assert_eq!(Helper::from_name(h.name()), Some(*h));
        }
    }

    #[test]
    fn ids_match_uapi_header_for_every_helper() {
        let header = uapi::header::helper_ids(uapi::headers::BPF_H);
        assert_eq!(header.len(), ALL.len());
        for (h, (name, id)) in ALL.iter().zip(&header) {
            assert_eq!(i128::from(h.id()), *id, "{name}");
            assert_eq!(&h.name()[4..], name.as_str());
        }
        assert_eq!(Helper::SockHashUpdate.id(), 70);
    }
}
