//! `struct tcp_info` (`INET_DIAG_INFO`) and the `SK_MEMINFO_*` array
//! (`INET_DIAG_SKMEMINFO`, `UNIX_DIAG_MEMINFO`), read from attribute bytes;
//! and [`Netlink::tcp_info_of`], tcp_info for chosen sockets by exact match.
//!
//! A short struct from an older kernel reads as zeros past its end: it
//! never costs the socket (the crate we do not use drops it,
//! rust-netlink/netlink-packet-sock-diag#22).

use super::Netlink;
use super::inet::parse_inet_extra;
use super::requests::{SOCK_DIAG_BY_FAMILY, info_request};
use super::wire::{NLMSG_ERROR, NLMSG_HDRLEN, NlHeader, align4, cookie_at, read_u32, read_u64};
use crate::error::Result;
use crate::model::{Detail, Proto, SkMemInfo, Socket, TcpInfo};

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

/// Sockets asked about in one `sendto`: their answers (about 300 bytes
/// each) fit the socket's receive buffer many times over.
const INFO_BATCH: usize = 64;

impl Netlink {
    /// Reads the tcp_info (and congestion algorithm) of each TCP socket in
    /// `sockets` by exact match rather than a dump, so a few sockets among
    /// 100k cost a few requests. Each found socket's `extra` is replaced
    /// by what the kernel said; one that closed meanwhile (or was replaced
    /// on the same ports: its cookie differs) is left with `extra: None`.
    /// A socket without a cookie (from /proc) is matched by its ends alone.
    /// Other sockets are left alone.
    pub fn tcp_info_of(&self, sockets: &mut [&mut Socket]) -> Result<()> {
        let detail = Detail {
            info: true,
            ..Detail::default()
        };
        let mut buf = self.nl.lock_buf();
        let mut tcp: Vec<&mut Socket> = sockets
            .iter_mut()
            .filter(|s| s.proto == Proto::Tcp)
            .map(|s| &mut **s)
            .collect();
        for batch in tcp.chunks_mut(INFO_BATCH) {
            let first = self.nl.next_seq();
            let mut req = Vec::with_capacity(batch.len() * 72);
            for (i, s) in batch.iter_mut().enumerate() {
                s.extra = None;
                let seq = first.wrapping_add(u32::try_from(i).unwrap_or(0));
                req.extend(info_request(seq, s).iter().flatten());
            }
            // Reserve the batch's sequence numbers.
            for _ in 1..batch.len() {
                self.nl.next_seq();
            }
            self.nl.send(&req)?;
            // The kernel answers each request while handling the send, so
            // every answer is queued by now: read until the queue is empty.
            let mut answered = 0;
            while answered < batch.len() {
                let Some(n) = self.nl.recv_queued(&mut buf)? else {
                    break;
                };
                let mut rest = buf.get(..n).unwrap_or_default();
                while !rest.is_empty() {
                    let h = NlHeader::read(rest)?;
                    let msg = rest.get(NLMSG_HDRLEN..h.len).unwrap_or_default();
                    rest = rest.get(align4(h.len)..).unwrap_or_default();
                    let Some(s) = usize::try_from(h.seq.wrapping_sub(first))
                        .ok()
                        .and_then(|i| batch.get_mut(i))
                    else {
                        continue; // an answer to an earlier request
                    };
                    match h.kind {
                        SOCK_DIAG_BY_FAMILY => {
                            answered += 1;
                            // Without a cookie (read from /proc) the
                            // addresses alone chose it.
                            if s.cookie == 0 || cookie_at(msg, 44) == Some(s.cookie) {
                                s.extra = parse_inet_extra(msg, detail);
                            }
                        }
                        NLMSG_ERROR => answered += 1,
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}
