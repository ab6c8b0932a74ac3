//! `struct tcp_info` (`INET_DIAG_INFO`) and the `SK_MEMINFO_*` array
//! (`INET_DIAG_SKMEMINFO`, `UNIX_DIAG_MEMINFO`), read from attribute bytes.
//!
//! A short struct from an older kernel reads as zeros past its end: it
//! never costs the socket (the crate we do not use drops it,
//! rust-netlink/netlink-packet-sock-diag#22).

use super::wire::{read_u32, read_u64};
use crate::model::{SkMemInfo, TcpInfo};

/// Size of `struct tcp_info` up to and including `tcpi_snd_wnd` (kernel 5.x+).
pub(crate) const TCP_INFO_KNOWN: usize = 232;

/// Reads a `struct tcp_info`, treating bytes the kernel did not send as 0
/// (older kernels send a shorter struct; that must never lose the socket).
pub fn parse_tcp_info(bytes: &[u8]) -> TcpInfo {
    let mut b = [0u8; TCP_INFO_KNOWN];
    for (d, s) in b.iter_mut().zip(bytes) {
        *d = *s;
    }
    let u32_at = |at| read_u32(&b, at).unwrap_or(0);
    let u64_at = |at| read_u64(&b, at).unwrap_or(0);
    // Byte 6 holds two 4-bit fields, snd_wscale first: in the low nibble on
    // little-endian hosts and the high one on big-endian (C bit-field order).
    let (snd_wscale, rcv_wscale) = if cfg!(target_endian = "little") {
        (b[6] & 0x0f, b[6] >> 4)
    } else {
        (b[6] >> 4, b[6] & 0x0f)
    };
    let app_limited = if cfg!(target_endian = "little") {
        b[7] & 0x01 != 0
    } else {
        b[7] & 0x80 != 0
    };
    TcpInfo {
        len: bytes.len(),
        ca_state: b[1],
        retransmits: b[2],
        backoff: b[4],
        options: b[5],
        snd_wscale,
        rcv_wscale,
        delivery_rate_app_limited: app_limited,
        rto_us: u32_at(8),
        ato_us: u32_at(12),
        snd_mss: u32_at(16),
        rcv_mss: u32_at(20),
        unacked: u32_at(24),
        sacked: u32_at(28),
        lost: u32_at(32),
        retrans: u32_at(36),
        last_data_sent_ms: u32_at(44),
        last_data_recv_ms: u32_at(52),
        last_ack_recv_ms: u32_at(56),
        pmtu: u32_at(60),
        rcv_ssthresh: u32_at(64),
        rtt_us: u32_at(68),
        rttvar_us: u32_at(72),
        snd_ssthresh: u32_at(76),
        snd_cwnd: u32_at(80),
        advmss: u32_at(84),
        reordering: u32_at(88),
        rcv_rtt_us: u32_at(92),
        rcv_space: u32_at(96),
        total_retrans: u32_at(100),
        pacing_rate: u64_at(104),
        max_pacing_rate: u64_at(112),
        bytes_acked: u64_at(120),
        bytes_received: u64_at(128),
        segs_out: u32_at(136),
        segs_in: u32_at(140),
        notsent_bytes: u32_at(144),
        min_rtt_us: u32_at(148),
        data_segs_in: u32_at(152),
        data_segs_out: u32_at(156),
        delivery_rate: u64_at(160),
        busy_time_us: u64_at(168),
        rwnd_limited_us: u64_at(176),
        sndbuf_limited_us: u64_at(184),
        delivered: u32_at(192),
        delivered_ce: u32_at(196),
        bytes_sent: u64_at(200),
        bytes_retrans: u64_at(208),
        dsack_dups: u32_at(216),
        reord_seen: u32_at(220),
        rcv_ooopack: u32_at(224),
        snd_wnd: u32_at(228),
    }
}

/// Reads an `SK_MEMINFO_*` array (`INET_DIAG_SKMEMINFO`, `UNIX_DIAG_MEMINFO`);
/// entries the kernel did not send read 0.
pub fn parse_skmeminfo(bytes: &[u8]) -> SkMemInfo {
    let at = |i: usize| read_u32(bytes, i * 4).unwrap_or(0);
    SkMemInfo {
        rmem_alloc: at(0),
        rcvbuf: at(1),
        wmem_alloc: at(2),
        sndbuf: at(3),
        fwd_alloc: at(4),
        wmem_queued: at(5),
        optmem: at(6),
        backlog: at(7),
        drops: at(8),
    }
}
