//! XDP programs on a network device through an XDP link (`BPF_LINK_CREATE` with
//! `target_ifindex`, Linux 5.9). There is no netlink fallback for older kernels: without XDP
//! links, [`attach`] fails with a [`crate::FeatureError::Missing`].

use crate::attach::check_type;
use crate::attach::raw::{link_create, LinkExtra, LinkTarget};
use crate::error::Result;
use crate::features::{self, Feature};
use crate::link::Link;
use crate::program::{AttachType, Program, ProgramType};
use crate::sys::consts;

/// Where XDP runs (`XDP_FLAGS_*_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XdpMode {
    /// The kernel's choice: native when the driver supports it, else generic.
    #[default]
    Auto,
    /// Generic XDP on the `sk_buff` path (`XDP_FLAGS_SKB_MODE`), any device.
    Skb,
    /// Native XDP in the driver (`XDP_FLAGS_DRV_MODE`).
    Driver,
    /// Offloaded to the NIC (`XDP_FLAGS_HW_MODE`).
    Hardware,
}

impl XdpMode {
    /// The `XDP_FLAGS_*` bits.
    pub fn flags(self) -> u32 {
        match self {
            XdpMode::Auto => 0,
            XdpMode::Skb => consts::XDP_FLAGS_SKB_MODE,
            XdpMode::Driver => consts::XDP_FLAGS_DRV_MODE,
            XdpMode::Hardware => consts::XDP_FLAGS_HW_MODE,
        }
    }
}

/// Attaches the XDP program `prog` to the device with index `ifindex` in `mode`, as a link
/// (Linux 5.9; [`Feature::XdpLink`]). The device must be in the calling thread's network
/// namespace. EBUSY when another program is attached there already.
pub fn attach(prog: &Program, ifindex: u32, mode: XdpMode) -> Result<Link> {
    check_type(prog, ProgramType::Xdp, "an XDP link")?;
    features::require(Feature::XdpLink)?;
    link_create(
        prog,
        LinkTarget::Ifindex(ifindex),
        AttachType::Xdp,
        mode.flags(),
        LinkExtra::None,
    )
}
