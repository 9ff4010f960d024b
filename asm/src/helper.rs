//! Kernel helper function ids.
//!
//! The list is `__BPF_FUNC_MAPPER` of the UAPI header `linux/bpf.h` (Linux 6.1 headers, ids
//! 0..=209): the position of a helper in that list is its id. A [`Helper`] is what a
//! `call` instruction with `src = 0` names in its immediate.

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
    /// `bpf_unspec` (id 0).
    Unspec = 0,
    /// `bpf_map_lookup_elem` (id 1).
    MapLookupElem = 1,
    /// `bpf_map_update_elem` (id 2).
    MapUpdateElem = 2,
    /// `bpf_map_delete_elem` (id 3).
    MapDeleteElem = 3,
    /// `bpf_probe_read` (id 4).
    ProbeRead = 4,
    /// `bpf_ktime_get_ns` (id 5).
    KtimeGetNs = 5,
    /// `bpf_trace_printk` (id 6).
    TracePrintk = 6,
    /// `bpf_get_prandom_u32` (id 7).
    GetPrandomU32 = 7,
    /// `bpf_get_smp_processor_id` (id 8).
    GetSmpProcessorId = 8,
    /// `bpf_skb_store_bytes` (id 9).
    SkbStoreBytes = 9,
    /// `bpf_l3_csum_replace` (id 10).
    L3CsumReplace = 10,
    /// `bpf_l4_csum_replace` (id 11).
    L4CsumReplace = 11,
    /// `bpf_tail_call` (id 12).
    TailCall = 12,
    /// `bpf_clone_redirect` (id 13).
    CloneRedirect = 13,
    /// `bpf_get_current_pid_tgid` (id 14).
    GetCurrentPidTgid = 14,
    /// `bpf_get_current_uid_gid` (id 15).
    GetCurrentUidGid = 15,
    /// `bpf_get_current_comm` (id 16).
    GetCurrentComm = 16,
    /// `bpf_get_cgroup_classid` (id 17).
    GetCgroupClassid = 17,
    /// `bpf_skb_vlan_push` (id 18).
    SkbVlanPush = 18,
    /// `bpf_skb_vlan_pop` (id 19).
    SkbVlanPop = 19,
    /// `bpf_skb_get_tunnel_key` (id 20).
    SkbGetTunnelKey = 20,
    /// `bpf_skb_set_tunnel_key` (id 21).
    SkbSetTunnelKey = 21,
    /// `bpf_perf_event_read` (id 22).
    PerfEventRead = 22,
    /// `bpf_redirect` (id 23).
    Redirect = 23,
    /// `bpf_get_route_realm` (id 24).
    GetRouteRealm = 24,
    /// `bpf_perf_event_output` (id 25).
    PerfEventOutput = 25,
    /// `bpf_skb_load_bytes` (id 26).
    SkbLoadBytes = 26,
    /// `bpf_get_stackid` (id 27).
    GetStackid = 27,
    /// `bpf_csum_diff` (id 28).
    CsumDiff = 28,
    /// `bpf_skb_get_tunnel_opt` (id 29).
    SkbGetTunnelOpt = 29,
    /// `bpf_skb_set_tunnel_opt` (id 30).
    SkbSetTunnelOpt = 30,
    /// `bpf_skb_change_proto` (id 31).
    SkbChangeProto = 31,
    /// `bpf_skb_change_type` (id 32).
    SkbChangeType = 32,
    /// `bpf_skb_under_cgroup` (id 33).
    SkbUnderCgroup = 33,
    /// `bpf_get_hash_recalc` (id 34).
    GetHashRecalc = 34,
    /// `bpf_get_current_task` (id 35).
    GetCurrentTask = 35,
    /// `bpf_probe_write_user` (id 36).
    ProbeWriteUser = 36,
    /// `bpf_current_task_under_cgroup` (id 37).
    CurrentTaskUnderCgroup = 37,
    /// `bpf_skb_change_tail` (id 38).
    SkbChangeTail = 38,
    /// `bpf_skb_pull_data` (id 39).
    SkbPullData = 39,
    /// `bpf_csum_update` (id 40).
    CsumUpdate = 40,
    /// `bpf_set_hash_invalid` (id 41).
    SetHashInvalid = 41,
    /// `bpf_get_numa_node_id` (id 42).
    GetNumaNodeId = 42,
    /// `bpf_skb_change_head` (id 43).
    SkbChangeHead = 43,
    /// `bpf_xdp_adjust_head` (id 44).
    XdpAdjustHead = 44,
    /// `bpf_probe_read_str` (id 45).
    ProbeReadStr = 45,
    /// `bpf_get_socket_cookie` (id 46).
    GetSocketCookie = 46,
    /// `bpf_get_socket_uid` (id 47).
    GetSocketUid = 47,
    /// `bpf_set_hash` (id 48).
    SetHash = 48,
    /// `bpf_setsockopt` (id 49).
    Setsockopt = 49,
    /// `bpf_skb_adjust_room` (id 50).
    SkbAdjustRoom = 50,
    /// `bpf_redirect_map` (id 51).
    RedirectMap = 51,
    /// `bpf_sk_redirect_map` (id 52).
    SkRedirectMap = 52,
    /// `bpf_sock_map_update` (id 53).
    SockMapUpdate = 53,
    /// `bpf_xdp_adjust_meta` (id 54).
    XdpAdjustMeta = 54,
    /// `bpf_perf_event_read_value` (id 55).
    PerfEventReadValue = 55,
    /// `bpf_perf_prog_read_value` (id 56).
    PerfProgReadValue = 56,
    /// `bpf_getsockopt` (id 57).
    Getsockopt = 57,
    /// `bpf_override_return` (id 58).
    OverrideReturn = 58,
    /// `bpf_sock_ops_cb_flags_set` (id 59).
    SockOpsCbFlagsSet = 59,
    /// `bpf_msg_redirect_map` (id 60).
    MsgRedirectMap = 60,
    /// `bpf_msg_apply_bytes` (id 61).
    MsgApplyBytes = 61,
    /// `bpf_msg_cork_bytes` (id 62).
    MsgCorkBytes = 62,
    /// `bpf_msg_pull_data` (id 63).
    MsgPullData = 63,
    /// `bpf_bind` (id 64).
    Bind = 64,
    /// `bpf_xdp_adjust_tail` (id 65).
    XdpAdjustTail = 65,
    /// `bpf_skb_get_xfrm_state` (id 66).
    SkbGetXfrmState = 66,
    /// `bpf_get_stack` (id 67).
    GetStack = 67,
    /// `bpf_skb_load_bytes_relative` (id 68).
    SkbLoadBytesRelative = 68,
    /// `bpf_fib_lookup` (id 69).
    FibLookup = 69,
    /// `bpf_sock_hash_update` (id 70).
    SockHashUpdate = 70,
    /// `bpf_msg_redirect_hash` (id 71).
    MsgRedirectHash = 71,
    /// `bpf_sk_redirect_hash` (id 72).
    SkRedirectHash = 72,
    /// `bpf_lwt_push_encap` (id 73).
    LwtPushEncap = 73,
    /// `bpf_lwt_seg6_store_bytes` (id 74).
    LwtSeg6StoreBytes = 74,
    /// `bpf_lwt_seg6_adjust_srh` (id 75).
    LwtSeg6AdjustSrh = 75,
    /// `bpf_lwt_seg6_action` (id 76).
    LwtSeg6Action = 76,
    /// `bpf_rc_repeat` (id 77).
    RcRepeat = 77,
    /// `bpf_rc_keydown` (id 78).
    RcKeydown = 78,
    /// `bpf_skb_cgroup_id` (id 79).
    SkbCgroupId = 79,
    /// `bpf_get_current_cgroup_id` (id 80).
    GetCurrentCgroupId = 80,
    /// `bpf_get_local_storage` (id 81).
    GetLocalStorage = 81,
    /// `bpf_sk_select_reuseport` (id 82).
    SkSelectReuseport = 82,
    /// `bpf_skb_ancestor_cgroup_id` (id 83).
    SkbAncestorCgroupId = 83,
    /// `bpf_sk_lookup_tcp` (id 84).
    SkLookupTcp = 84,
    /// `bpf_sk_lookup_udp` (id 85).
    SkLookupUdp = 85,
    /// `bpf_sk_release` (id 86).
    SkRelease = 86,
    /// `bpf_map_push_elem` (id 87).
    MapPushElem = 87,
    /// `bpf_map_pop_elem` (id 88).
    MapPopElem = 88,
    /// `bpf_map_peek_elem` (id 89).
    MapPeekElem = 89,
    /// `bpf_msg_push_data` (id 90).
    MsgPushData = 90,
    /// `bpf_msg_pop_data` (id 91).
    MsgPopData = 91,
    /// `bpf_rc_pointer_rel` (id 92).
    RcPointerRel = 92,
    /// `bpf_spin_lock` (id 93).
    SpinLock = 93,
    /// `bpf_spin_unlock` (id 94).
    SpinUnlock = 94,
    /// `bpf_sk_fullsock` (id 95).
    SkFullsock = 95,
    /// `bpf_tcp_sock` (id 96).
    TcpSock = 96,
    /// `bpf_skb_ecn_set_ce` (id 97).
    SkbEcnSetCe = 97,
    /// `bpf_get_listener_sock` (id 98).
    GetListenerSock = 98,
    /// `bpf_skc_lookup_tcp` (id 99).
    SkcLookupTcp = 99,
    /// `bpf_tcp_check_syncookie` (id 100).
    TcpCheckSyncookie = 100,
    /// `bpf_sysctl_get_name` (id 101).
    SysctlGetName = 101,
    /// `bpf_sysctl_get_current_value` (id 102).
    SysctlGetCurrentValue = 102,
    /// `bpf_sysctl_get_new_value` (id 103).
    SysctlGetNewValue = 103,
    /// `bpf_sysctl_set_new_value` (id 104).
    SysctlSetNewValue = 104,
    /// `bpf_strtol` (id 105).
    Strtol = 105,
    /// `bpf_strtoul` (id 106).
    Strtoul = 106,
    /// `bpf_sk_storage_get` (id 107).
    SkStorageGet = 107,
    /// `bpf_sk_storage_delete` (id 108).
    SkStorageDelete = 108,
    /// `bpf_send_signal` (id 109).
    SendSignal = 109,
    /// `bpf_tcp_gen_syncookie` (id 110).
    TcpGenSyncookie = 110,
    /// `bpf_skb_output` (id 111).
    SkbOutput = 111,
    /// `bpf_probe_read_user` (id 112).
    ProbeReadUser = 112,
    /// `bpf_probe_read_kernel` (id 113).
    ProbeReadKernel = 113,
    /// `bpf_probe_read_user_str` (id 114).
    ProbeReadUserStr = 114,
    /// `bpf_probe_read_kernel_str` (id 115).
    ProbeReadKernelStr = 115,
    /// `bpf_tcp_send_ack` (id 116).
    TcpSendAck = 116,
    /// `bpf_send_signal_thread` (id 117).
    SendSignalThread = 117,
    /// `bpf_jiffies64` (id 118).
    Jiffies64 = 118,
    /// `bpf_read_branch_records` (id 119).
    ReadBranchRecords = 119,
    /// `bpf_get_ns_current_pid_tgid` (id 120).
    GetNsCurrentPidTgid = 120,
    /// `bpf_xdp_output` (id 121).
    XdpOutput = 121,
    /// `bpf_get_netns_cookie` (id 122).
    GetNetnsCookie = 122,
    /// `bpf_get_current_ancestor_cgroup_id` (id 123).
    GetCurrentAncestorCgroupId = 123,
    /// `bpf_sk_assign` (id 124).
    SkAssign = 124,
    /// `bpf_ktime_get_boot_ns` (id 125).
    KtimeGetBootNs = 125,
    /// `bpf_seq_printf` (id 126).
    SeqPrintf = 126,
    /// `bpf_seq_write` (id 127).
    SeqWrite = 127,
    /// `bpf_sk_cgroup_id` (id 128).
    SkCgroupId = 128,
    /// `bpf_sk_ancestor_cgroup_id` (id 129).
    SkAncestorCgroupId = 129,
    /// `bpf_ringbuf_output` (id 130).
    RingbufOutput = 130,
    /// `bpf_ringbuf_reserve` (id 131).
    RingbufReserve = 131,
    /// `bpf_ringbuf_submit` (id 132).
    RingbufSubmit = 132,
    /// `bpf_ringbuf_discard` (id 133).
    RingbufDiscard = 133,
    /// `bpf_ringbuf_query` (id 134).
    RingbufQuery = 134,
    /// `bpf_csum_level` (id 135).
    CsumLevel = 135,
    /// `bpf_skc_to_tcp6_sock` (id 136).
    SkcToTcp6Sock = 136,
    /// `bpf_skc_to_tcp_sock` (id 137).
    SkcToTcpSock = 137,
    /// `bpf_skc_to_tcp_timewait_sock` (id 138).
    SkcToTcpTimewaitSock = 138,
    /// `bpf_skc_to_tcp_request_sock` (id 139).
    SkcToTcpRequestSock = 139,
    /// `bpf_skc_to_udp6_sock` (id 140).
    SkcToUdp6Sock = 140,
    /// `bpf_get_task_stack` (id 141).
    GetTaskStack = 141,
    /// `bpf_load_hdr_opt` (id 142).
    LoadHdrOpt = 142,
    /// `bpf_store_hdr_opt` (id 143).
    StoreHdrOpt = 143,
    /// `bpf_reserve_hdr_opt` (id 144).
    ReserveHdrOpt = 144,
    /// `bpf_inode_storage_get` (id 145).
    InodeStorageGet = 145,
    /// `bpf_inode_storage_delete` (id 146).
    InodeStorageDelete = 146,
    /// `bpf_d_path` (id 147).
    DPath = 147,
    /// `bpf_copy_from_user` (id 148).
    CopyFromUser = 148,
    /// `bpf_snprintf_btf` (id 149).
    SnprintfBtf = 149,
    /// `bpf_seq_printf_btf` (id 150).
    SeqPrintfBtf = 150,
    /// `bpf_skb_cgroup_classid` (id 151).
    SkbCgroupClassid = 151,
    /// `bpf_redirect_neigh` (id 152).
    RedirectNeigh = 152,
    /// `bpf_per_cpu_ptr` (id 153).
    PerCpuPtr = 153,
    /// `bpf_this_cpu_ptr` (id 154).
    ThisCpuPtr = 154,
    /// `bpf_redirect_peer` (id 155).
    RedirectPeer = 155,
    /// `bpf_task_storage_get` (id 156).
    TaskStorageGet = 156,
    /// `bpf_task_storage_delete` (id 157).
    TaskStorageDelete = 157,
    /// `bpf_get_current_task_btf` (id 158).
    GetCurrentTaskBtf = 158,
    /// `bpf_bprm_opts_set` (id 159).
    BprmOptsSet = 159,
    /// `bpf_ktime_get_coarse_ns` (id 160).
    KtimeGetCoarseNs = 160,
    /// `bpf_ima_inode_hash` (id 161).
    ImaInodeHash = 161,
    /// `bpf_sock_from_file` (id 162).
    SockFromFile = 162,
    /// `bpf_check_mtu` (id 163).
    CheckMtu = 163,
    /// `bpf_for_each_map_elem` (id 164).
    ForEachMapElem = 164,
    /// `bpf_snprintf` (id 165).
    Snprintf = 165,
    /// `bpf_sys_bpf` (id 166).
    SysBpf = 166,
    /// `bpf_btf_find_by_name_kind` (id 167).
    BtfFindByNameKind = 167,
    /// `bpf_sys_close` (id 168).
    SysClose = 168,
    /// `bpf_timer_init` (id 169).
    TimerInit = 169,
    /// `bpf_timer_set_callback` (id 170).
    TimerSetCallback = 170,
    /// `bpf_timer_start` (id 171).
    TimerStart = 171,
    /// `bpf_timer_cancel` (id 172).
    TimerCancel = 172,
    /// `bpf_get_func_ip` (id 173).
    GetFuncIp = 173,
    /// `bpf_get_attach_cookie` (id 174).
    GetAttachCookie = 174,
    /// `bpf_task_pt_regs` (id 175).
    TaskPtRegs = 175,
    /// `bpf_get_branch_snapshot` (id 176).
    GetBranchSnapshot = 176,
    /// `bpf_trace_vprintk` (id 177).
    TraceVprintk = 177,
    /// `bpf_skc_to_unix_sock` (id 178).
    SkcToUnixSock = 178,
    /// `bpf_kallsyms_lookup_name` (id 179).
    KallsymsLookupName = 179,
    /// `bpf_find_vma` (id 180).
    FindVma = 180,
    /// `bpf_loop` (id 181).
    Loop = 181,
    /// `bpf_strncmp` (id 182).
    Strncmp = 182,
    /// `bpf_get_func_arg` (id 183).
    GetFuncArg = 183,
    /// `bpf_get_func_ret` (id 184).
    GetFuncRet = 184,
    /// `bpf_get_func_arg_cnt` (id 185).
    GetFuncArgCnt = 185,
    /// `bpf_get_retval` (id 186).
    GetRetval = 186,
    /// `bpf_set_retval` (id 187).
    SetRetval = 187,
    /// `bpf_xdp_get_buff_len` (id 188).
    XdpGetBuffLen = 188,
    /// `bpf_xdp_load_bytes` (id 189).
    XdpLoadBytes = 189,
    /// `bpf_xdp_store_bytes` (id 190).
    XdpStoreBytes = 190,
    /// `bpf_copy_from_user_task` (id 191).
    CopyFromUserTask = 191,
    /// `bpf_skb_set_tstamp` (id 192).
    SkbSetTstamp = 192,
    /// `bpf_ima_file_hash` (id 193).
    ImaFileHash = 193,
    /// `bpf_kptr_xchg` (id 194).
    KptrXchg = 194,
    /// `bpf_map_lookup_percpu_elem` (id 195).
    MapLookupPercpuElem = 195,
    /// `bpf_skc_to_mptcp_sock` (id 196).
    SkcToMptcpSock = 196,
    /// `bpf_dynptr_from_mem` (id 197).
    DynptrFromMem = 197,
    /// `bpf_ringbuf_reserve_dynptr` (id 198).
    RingbufReserveDynptr = 198,
    /// `bpf_ringbuf_submit_dynptr` (id 199).
    RingbufSubmitDynptr = 199,
    /// `bpf_ringbuf_discard_dynptr` (id 200).
    RingbufDiscardDynptr = 200,
    /// `bpf_dynptr_read` (id 201).
    DynptrRead = 201,
    /// `bpf_dynptr_write` (id 202).
    DynptrWrite = 202,
    /// `bpf_dynptr_data` (id 203).
    DynptrData = 203,
    /// `bpf_tcp_raw_gen_syncookie_ipv4` (id 204).
    TcpRawGenSyncookieIpv4 = 204,
    /// `bpf_tcp_raw_gen_syncookie_ipv6` (id 205).
    TcpRawGenSyncookieIpv6 = 205,
    /// `bpf_tcp_raw_check_syncookie_ipv4` (id 206).
    TcpRawCheckSyncookieIpv4 = 206,
    /// `bpf_tcp_raw_check_syncookie_ipv6` (id 207).
    TcpRawCheckSyncookieIpv6 = 207,
    /// `bpf_ktime_get_tai_ns` (id 208).
    KtimeGetTaiNs = 208,
    /// `bpf_user_ringbuf_drain` (id 209).
    UserRingbufDrain = 209,
}

/// Every helper in id order; `ALL[id]` is the helper with that id.
pub const ALL: &[Helper] = &[
    Helper::Unspec,
    Helper::MapLookupElem,
    Helper::MapUpdateElem,
    Helper::MapDeleteElem,
    Helper::ProbeRead,
    Helper::KtimeGetNs,
    Helper::TracePrintk,
    Helper::GetPrandomU32,
    Helper::GetSmpProcessorId,
    Helper::SkbStoreBytes,
    Helper::L3CsumReplace,
    Helper::L4CsumReplace,
    Helper::TailCall,
    Helper::CloneRedirect,
    Helper::GetCurrentPidTgid,
    Helper::GetCurrentUidGid,
    Helper::GetCurrentComm,
    Helper::GetCgroupClassid,
    Helper::SkbVlanPush,
    Helper::SkbVlanPop,
    Helper::SkbGetTunnelKey,
    Helper::SkbSetTunnelKey,
    Helper::PerfEventRead,
    Helper::Redirect,
    Helper::GetRouteRealm,
    Helper::PerfEventOutput,
    Helper::SkbLoadBytes,
    Helper::GetStackid,
    Helper::CsumDiff,
    Helper::SkbGetTunnelOpt,
    Helper::SkbSetTunnelOpt,
    Helper::SkbChangeProto,
    Helper::SkbChangeType,
    Helper::SkbUnderCgroup,
    Helper::GetHashRecalc,
    Helper::GetCurrentTask,
    Helper::ProbeWriteUser,
    Helper::CurrentTaskUnderCgroup,
    Helper::SkbChangeTail,
    Helper::SkbPullData,
    Helper::CsumUpdate,
    Helper::SetHashInvalid,
    Helper::GetNumaNodeId,
    Helper::SkbChangeHead,
    Helper::XdpAdjustHead,
    Helper::ProbeReadStr,
    Helper::GetSocketCookie,
    Helper::GetSocketUid,
    Helper::SetHash,
    Helper::Setsockopt,
    Helper::SkbAdjustRoom,
    Helper::RedirectMap,
    Helper::SkRedirectMap,
    Helper::SockMapUpdate,
    Helper::XdpAdjustMeta,
    Helper::PerfEventReadValue,
    Helper::PerfProgReadValue,
    Helper::Getsockopt,
    Helper::OverrideReturn,
    Helper::SockOpsCbFlagsSet,
    Helper::MsgRedirectMap,
    Helper::MsgApplyBytes,
    Helper::MsgCorkBytes,
    Helper::MsgPullData,
    Helper::Bind,
    Helper::XdpAdjustTail,
    Helper::SkbGetXfrmState,
    Helper::GetStack,
    Helper::SkbLoadBytesRelative,
    Helper::FibLookup,
    Helper::SockHashUpdate,
    Helper::MsgRedirectHash,
    Helper::SkRedirectHash,
    Helper::LwtPushEncap,
    Helper::LwtSeg6StoreBytes,
    Helper::LwtSeg6AdjustSrh,
    Helper::LwtSeg6Action,
    Helper::RcRepeat,
    Helper::RcKeydown,
    Helper::SkbCgroupId,
    Helper::GetCurrentCgroupId,
    Helper::GetLocalStorage,
    Helper::SkSelectReuseport,
    Helper::SkbAncestorCgroupId,
    Helper::SkLookupTcp,
    Helper::SkLookupUdp,
    Helper::SkRelease,
    Helper::MapPushElem,
    Helper::MapPopElem,
    Helper::MapPeekElem,
    Helper::MsgPushData,
    Helper::MsgPopData,
    Helper::RcPointerRel,
    Helper::SpinLock,
    Helper::SpinUnlock,
    Helper::SkFullsock,
    Helper::TcpSock,
    Helper::SkbEcnSetCe,
    Helper::GetListenerSock,
    Helper::SkcLookupTcp,
    Helper::TcpCheckSyncookie,
    Helper::SysctlGetName,
    Helper::SysctlGetCurrentValue,
    Helper::SysctlGetNewValue,
    Helper::SysctlSetNewValue,
    Helper::Strtol,
    Helper::Strtoul,
    Helper::SkStorageGet,
    Helper::SkStorageDelete,
    Helper::SendSignal,
    Helper::TcpGenSyncookie,
    Helper::SkbOutput,
    Helper::ProbeReadUser,
    Helper::ProbeReadKernel,
    Helper::ProbeReadUserStr,
    Helper::ProbeReadKernelStr,
    Helper::TcpSendAck,
    Helper::SendSignalThread,
    Helper::Jiffies64,
    Helper::ReadBranchRecords,
    Helper::GetNsCurrentPidTgid,
    Helper::XdpOutput,
    Helper::GetNetnsCookie,
    Helper::GetCurrentAncestorCgroupId,
    Helper::SkAssign,
    Helper::KtimeGetBootNs,
    Helper::SeqPrintf,
    Helper::SeqWrite,
    Helper::SkCgroupId,
    Helper::SkAncestorCgroupId,
    Helper::RingbufOutput,
    Helper::RingbufReserve,
    Helper::RingbufSubmit,
    Helper::RingbufDiscard,
    Helper::RingbufQuery,
    Helper::CsumLevel,
    Helper::SkcToTcp6Sock,
    Helper::SkcToTcpSock,
    Helper::SkcToTcpTimewaitSock,
    Helper::SkcToTcpRequestSock,
    Helper::SkcToUdp6Sock,
    Helper::GetTaskStack,
    Helper::LoadHdrOpt,
    Helper::StoreHdrOpt,
    Helper::ReserveHdrOpt,
    Helper::InodeStorageGet,
    Helper::InodeStorageDelete,
    Helper::DPath,
    Helper::CopyFromUser,
    Helper::SnprintfBtf,
    Helper::SeqPrintfBtf,
    Helper::SkbCgroupClassid,
    Helper::RedirectNeigh,
    Helper::PerCpuPtr,
    Helper::ThisCpuPtr,
    Helper::RedirectPeer,
    Helper::TaskStorageGet,
    Helper::TaskStorageDelete,
    Helper::GetCurrentTaskBtf,
    Helper::BprmOptsSet,
    Helper::KtimeGetCoarseNs,
    Helper::ImaInodeHash,
    Helper::SockFromFile,
    Helper::CheckMtu,
    Helper::ForEachMapElem,
    Helper::Snprintf,
    Helper::SysBpf,
    Helper::BtfFindByNameKind,
    Helper::SysClose,
    Helper::TimerInit,
    Helper::TimerSetCallback,
    Helper::TimerStart,
    Helper::TimerCancel,
    Helper::GetFuncIp,
    Helper::GetAttachCookie,
    Helper::TaskPtRegs,
    Helper::GetBranchSnapshot,
    Helper::TraceVprintk,
    Helper::SkcToUnixSock,
    Helper::KallsymsLookupName,
    Helper::FindVma,
    Helper::Loop,
    Helper::Strncmp,
    Helper::GetFuncArg,
    Helper::GetFuncRet,
    Helper::GetFuncArgCnt,
    Helper::GetRetval,
    Helper::SetRetval,
    Helper::XdpGetBuffLen,
    Helper::XdpLoadBytes,
    Helper::XdpStoreBytes,
    Helper::CopyFromUserTask,
    Helper::SkbSetTstamp,
    Helper::ImaFileHash,
    Helper::KptrXchg,
    Helper::MapLookupPercpuElem,
    Helper::SkcToMptcpSock,
    Helper::DynptrFromMem,
    Helper::RingbufReserveDynptr,
    Helper::RingbufSubmitDynptr,
    Helper::RingbufDiscardDynptr,
    Helper::DynptrRead,
    Helper::DynptrWrite,
    Helper::DynptrData,
    Helper::TcpRawGenSyncookieIpv4,
    Helper::TcpRawGenSyncookieIpv6,
    Helper::TcpRawCheckSyncookieIpv4,
    Helper::TcpRawCheckSyncookieIpv6,
    Helper::KtimeGetTaiNs,
    Helper::UserRingbufDrain,
];

const NAMES: &[&str] = &[
    "bpf_unspec",
    "bpf_map_lookup_elem",
    "bpf_map_update_elem",
    "bpf_map_delete_elem",
    "bpf_probe_read",
    "bpf_ktime_get_ns",
    "bpf_trace_printk",
    "bpf_get_prandom_u32",
    "bpf_get_smp_processor_id",
    "bpf_skb_store_bytes",
    "bpf_l3_csum_replace",
    "bpf_l4_csum_replace",
    "bpf_tail_call",
    "bpf_clone_redirect",
    "bpf_get_current_pid_tgid",
    "bpf_get_current_uid_gid",
    "bpf_get_current_comm",
    "bpf_get_cgroup_classid",
    "bpf_skb_vlan_push",
    "bpf_skb_vlan_pop",
    "bpf_skb_get_tunnel_key",
    "bpf_skb_set_tunnel_key",
    "bpf_perf_event_read",
    "bpf_redirect",
    "bpf_get_route_realm",
    "bpf_perf_event_output",
    "bpf_skb_load_bytes",
    "bpf_get_stackid",
    "bpf_csum_diff",
    "bpf_skb_get_tunnel_opt",
    "bpf_skb_set_tunnel_opt",
    "bpf_skb_change_proto",
    "bpf_skb_change_type",
    "bpf_skb_under_cgroup",
    "bpf_get_hash_recalc",
    "bpf_get_current_task",
    "bpf_probe_write_user",
    "bpf_current_task_under_cgroup",
    "bpf_skb_change_tail",
    "bpf_skb_pull_data",
    "bpf_csum_update",
    "bpf_set_hash_invalid",
    "bpf_get_numa_node_id",
    "bpf_skb_change_head",
    "bpf_xdp_adjust_head",
    "bpf_probe_read_str",
    "bpf_get_socket_cookie",
    "bpf_get_socket_uid",
    "bpf_set_hash",
    "bpf_setsockopt",
    "bpf_skb_adjust_room",
    "bpf_redirect_map",
    "bpf_sk_redirect_map",
    "bpf_sock_map_update",
    "bpf_xdp_adjust_meta",
    "bpf_perf_event_read_value",
    "bpf_perf_prog_read_value",
    "bpf_getsockopt",
    "bpf_override_return",
    "bpf_sock_ops_cb_flags_set",
    "bpf_msg_redirect_map",
    "bpf_msg_apply_bytes",
    "bpf_msg_cork_bytes",
    "bpf_msg_pull_data",
    "bpf_bind",
    "bpf_xdp_adjust_tail",
    "bpf_skb_get_xfrm_state",
    "bpf_get_stack",
    "bpf_skb_load_bytes_relative",
    "bpf_fib_lookup",
    "bpf_sock_hash_update",
    "bpf_msg_redirect_hash",
    "bpf_sk_redirect_hash",
    "bpf_lwt_push_encap",
    "bpf_lwt_seg6_store_bytes",
    "bpf_lwt_seg6_adjust_srh",
    "bpf_lwt_seg6_action",
    "bpf_rc_repeat",
    "bpf_rc_keydown",
    "bpf_skb_cgroup_id",
    "bpf_get_current_cgroup_id",
    "bpf_get_local_storage",
    "bpf_sk_select_reuseport",
    "bpf_skb_ancestor_cgroup_id",
    "bpf_sk_lookup_tcp",
    "bpf_sk_lookup_udp",
    "bpf_sk_release",
    "bpf_map_push_elem",
    "bpf_map_pop_elem",
    "bpf_map_peek_elem",
    "bpf_msg_push_data",
    "bpf_msg_pop_data",
    "bpf_rc_pointer_rel",
    "bpf_spin_lock",
    "bpf_spin_unlock",
    "bpf_sk_fullsock",
    "bpf_tcp_sock",
    "bpf_skb_ecn_set_ce",
    "bpf_get_listener_sock",
    "bpf_skc_lookup_tcp",
    "bpf_tcp_check_syncookie",
    "bpf_sysctl_get_name",
    "bpf_sysctl_get_current_value",
    "bpf_sysctl_get_new_value",
    "bpf_sysctl_set_new_value",
    "bpf_strtol",
    "bpf_strtoul",
    "bpf_sk_storage_get",
    "bpf_sk_storage_delete",
    "bpf_send_signal",
    "bpf_tcp_gen_syncookie",
    "bpf_skb_output",
    "bpf_probe_read_user",
    "bpf_probe_read_kernel",
    "bpf_probe_read_user_str",
    "bpf_probe_read_kernel_str",
    "bpf_tcp_send_ack",
    "bpf_send_signal_thread",
    "bpf_jiffies64",
    "bpf_read_branch_records",
    "bpf_get_ns_current_pid_tgid",
    "bpf_xdp_output",
    "bpf_get_netns_cookie",
    "bpf_get_current_ancestor_cgroup_id",
    "bpf_sk_assign",
    "bpf_ktime_get_boot_ns",
    "bpf_seq_printf",
    "bpf_seq_write",
    "bpf_sk_cgroup_id",
    "bpf_sk_ancestor_cgroup_id",
    "bpf_ringbuf_output",
    "bpf_ringbuf_reserve",
    "bpf_ringbuf_submit",
    "bpf_ringbuf_discard",
    "bpf_ringbuf_query",
    "bpf_csum_level",
    "bpf_skc_to_tcp6_sock",
    "bpf_skc_to_tcp_sock",
    "bpf_skc_to_tcp_timewait_sock",
    "bpf_skc_to_tcp_request_sock",
    "bpf_skc_to_udp6_sock",
    "bpf_get_task_stack",
    "bpf_load_hdr_opt",
    "bpf_store_hdr_opt",
    "bpf_reserve_hdr_opt",
    "bpf_inode_storage_get",
    "bpf_inode_storage_delete",
    "bpf_d_path",
    "bpf_copy_from_user",
    "bpf_snprintf_btf",
    "bpf_seq_printf_btf",
    "bpf_skb_cgroup_classid",
    "bpf_redirect_neigh",
    "bpf_per_cpu_ptr",
    "bpf_this_cpu_ptr",
    "bpf_redirect_peer",
    "bpf_task_storage_get",
    "bpf_task_storage_delete",
    "bpf_get_current_task_btf",
    "bpf_bprm_opts_set",
    "bpf_ktime_get_coarse_ns",
    "bpf_ima_inode_hash",
    "bpf_sock_from_file",
    "bpf_check_mtu",
    "bpf_for_each_map_elem",
    "bpf_snprintf",
    "bpf_sys_bpf",
    "bpf_btf_find_by_name_kind",
    "bpf_sys_close",
    "bpf_timer_init",
    "bpf_timer_set_callback",
    "bpf_timer_start",
    "bpf_timer_cancel",
    "bpf_get_func_ip",
    "bpf_get_attach_cookie",
    "bpf_task_pt_regs",
    "bpf_get_branch_snapshot",
    "bpf_trace_vprintk",
    "bpf_skc_to_unix_sock",
    "bpf_kallsyms_lookup_name",
    "bpf_find_vma",
    "bpf_loop",
    "bpf_strncmp",
    "bpf_get_func_arg",
    "bpf_get_func_ret",
    "bpf_get_func_arg_cnt",
    "bpf_get_retval",
    "bpf_set_retval",
    "bpf_xdp_get_buff_len",
    "bpf_xdp_load_bytes",
    "bpf_xdp_store_bytes",
    "bpf_copy_from_user_task",
    "bpf_skb_set_tstamp",
    "bpf_ima_file_hash",
    "bpf_kptr_xchg",
    "bpf_map_lookup_percpu_elem",
    "bpf_skc_to_mptcp_sock",
    "bpf_dynptr_from_mem",
    "bpf_ringbuf_reserve_dynptr",
    "bpf_ringbuf_submit_dynptr",
    "bpf_ringbuf_discard_dynptr",
    "bpf_dynptr_read",
    "bpf_dynptr_write",
    "bpf_dynptr_data",
    "bpf_tcp_raw_gen_syncookie_ipv4",
    "bpf_tcp_raw_gen_syncookie_ipv6",
    "bpf_tcp_raw_check_syncookie_ipv4",
    "bpf_tcp_raw_check_syncookie_ipv6",
    "bpf_ktime_get_tai_ns",
    "bpf_user_ringbuf_drain",
];

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
    fn ids_match_uapi_header_for_the_bypass_helpers() {
        assert_eq!(Helper::MapLookupElem.id(), 1);
        assert_eq!(Helper::GetSocketCookie.id(), 46);
        assert_eq!(Helper::SockHashUpdate.id(), 70);
        assert_eq!(Helper::MsgRedirectHash.id(), 71);
        assert_eq!(Helper::GetNetnsCookie.id(), 122);
        assert_eq!(Helper::UserRingbufDrain.id(), 209);
    }
}
