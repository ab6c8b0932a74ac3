//! The optional per-socket details (`-i`, `-m`, `-O`) as text, spelled as
//! `ss -i`, `ss -m` and `ss -o` spell them so the two can be read side by
//! side. (Their JSON objects `tcp_info`, `memory` and `timer` are
//! `portscope::json`'s.)
//!
//! Not here: collecting the details (the library), choosing when to show
//! them (the table renderer).

use std::fmt::Write as _;

use portscope::model::{CongName, Detail, SkMemInfo, SocketExtra, TcpInfo, Timer};

/// The kernel's "no threshold yet" value for `snd_ssthresh`; ss hides it.
const INFINITE_SSTHRESH: u32 = 0xffff;

/// Appends the details `detail` asks for, space-separated, as ss prints
/// them: `timer:(…)`, `skmem:(…)`, then the TCP internals (`listening`:
/// the socket is a TCP listener, whose tcp_info ss shows less of).
pub fn push_text(buf: &mut String, x: &SocketExtra, detail: Detail, listening: bool) {
    let start = buf.len();
    let sep = |buf: &mut String| {
        if buf.len() > start {
            buf.push(' ');
        }
    };
    if detail.timers
        && let Some(t) = &x.timer
    {
        sep(buf);
        push_timer(buf, t);
    }
    if detail.memory
        && let Some(m) = &x.memory
    {
        sep(buf);
        push_memory(buf, m);
    }
    if detail.info
        && let Some(i) = &x.tcp_info
    {
        sep(buf);
        push_tcp_info(buf, i, x.congestion.as_ref(), listening);
    }
}

/// `timer:(keepalive,119min,0)`.
pub fn push_timer(buf: &mut String, t: &Timer) {
    let _ = write!(buf, "timer:({},", t.kind.as_str());
    push_ms_timer(buf, t.expires_ms);
    let _ = write!(buf, ",{})", t.retrans);
}

/// A timeout as ss's `print_ms_timer` writes it: `119min`, `1min43sec`,
/// `9.500ms` (seconds and milliseconds), `59sec`, `200ms`.
pub fn push_ms_timer(buf: &mut String, ms: u64) {
    let mut secs = ms / 1000;
    let minutes = secs / 60;
    secs %= 60;
    let mut msecs = ms % 1000;
    if minutes > 0 {
        msecs = 0;
        let _ = write!(buf, "{minutes}min");
        if minutes > 9 {
            secs = 0;
        }
    }
    if secs > 0 {
        if secs > 9 {
            msecs = 0;
        }
        let _ = write!(buf, "{secs}{}", if msecs > 0 { "." } else { "sec" });
    }
    if msecs > 0 {
        let _ = write!(buf, "{msecs:03}ms");
    }
}

/// `skmem:(r0,rb131072,t0,tb2626560,f0,w0,o0,bl0,d0)`.
pub fn push_memory(buf: &mut String, m: &SkMemInfo) {
    let _ = write!(
        buf,
        "skmem:(r{},rb{},t{},tb{},f{},w{},o{},bl{},d{})",
        m.rmem_alloc,
        m.rcvbuf,
        m.wmem_alloc,
        m.sndbuf,
        m.fwd_alloc,
        m.wmem_queued,
        m.optmem,
        m.backlog,
        m.drops
    );
}

/// A rate in bits per second as ss (iproute2 6.x) writes it: a whole number.
fn push_bw(buf: &mut String, bps: f64) {
    let _ = write!(buf, "{bps:.0}");
}

/// Microseconds as milliseconds, shortest form (`0.046`, `204`).
fn ms(us: u32) -> f64 {
    f64::from(us) / 1000.0
}

/// The TCP internals in ss -i's order and spelling; for a listener, what ss
/// prints for one.
pub fn push_tcp_info(buf: &mut String, i: &TcpInfo, cong: Option<&CongName>, listener: bool) {
    // TCPI_OPT_* bits.
    let mut words: Vec<String> = Vec::new();
    if i.options & 1 != 0 {
        words.push("ts".into());
    }
    if i.options & 2 != 0 {
        words.push("sack".into());
    }
    if i.options & 8 != 0 {
        words.push("ecn".into());
    }
    if let Some(c) = cong.map(CongName::as_str).filter(|c| !c.is_empty()) {
        words.push(c.into());
    }
    if i.options & 4 != 0 {
        words.push(format!("wscale:{},{}", i.snd_wscale, i.rcv_wscale));
    }
    if i.rto_us != 0 {
        words.push(format!("rto:{}", ms(i.rto_us)));
    }
    if i.backoff != 0 {
        words.push(format!("backoff:{}", i.backoff));
    }
    if i.rtt_us != 0 {
        words.push(format!("rtt:{}/{}", ms(i.rtt_us), ms(i.rttvar_us)));
    }
    if i.ato_us != 0 {
        words.push(format!("ato:{}", ms(i.ato_us)));
    }
    let num = |words: &mut Vec<String>, name: &str, v: u64| {
        if v != 0 {
            words.push(format!("{name}:{v}"));
        }
    };
    num(&mut words, "mss", u64::from(i.snd_mss));
    num(&mut words, "pmtu", u64::from(i.pmtu));
    num(&mut words, "rcvmss", u64::from(i.rcv_mss));
    num(&mut words, "advmss", u64::from(i.advmss));
    num(&mut words, "cwnd", u64::from(i.snd_cwnd));
    if i.snd_ssthresh < INFINITE_SSTHRESH {
        num(&mut words, "ssthresh", u64::from(i.snd_ssthresh));
    }
    num(&mut words, "bytes_sent", i.bytes_sent);
    num(&mut words, "bytes_retrans", i.bytes_retrans);
    num(&mut words, "bytes_acked", i.bytes_acked);
    num(&mut words, "bytes_received", i.bytes_received);
    num(&mut words, "segs_out", u64::from(i.segs_out));
    num(&mut words, "segs_in", u64::from(i.segs_in));
    num(&mut words, "data_segs_out", u64::from(i.data_segs_out));
    num(&mut words, "data_segs_in", u64::from(i.data_segs_in));
    let mut w = String::new();
    if i.rtt_us != 0 && i.snd_cwnd != 0 && i.snd_mss != 0 {
        let send_bps =
            f64::from(i.snd_cwnd) * f64::from(i.snd_mss) * 8_000_000.0 / f64::from(i.rtt_us);
        w.push_str("send ");
        push_bw(&mut w, send_bps);
        w.push_str("bps");
        words.push(std::mem::take(&mut w));
    }
    num(&mut words, "lastsnd", u64::from(i.last_data_sent_ms));
    num(&mut words, "lastrcv", u64::from(i.last_data_recv_ms));
    num(&mut words, "lastack", u64::from(i.last_ack_recv_ms));
    // u64::MAX is the kernel's "no pacing": ss prints nothing for it.
    if i.pacing_rate != 0 && i.pacing_rate != u64::MAX {
        w.push_str("pacing_rate ");
        push_bw(&mut w, i.pacing_rate as f64 * 8.0);
        w.push_str("bps");
        if i.max_pacing_rate != 0 && i.max_pacing_rate != u64::MAX {
            w.push('/');
            push_bw(&mut w, i.max_pacing_rate as f64 * 8.0);
            w.push_str("bps");
        }
        words.push(std::mem::take(&mut w));
    }
    if i.delivery_rate != 0 {
        w.push_str("delivery_rate ");
        push_bw(&mut w, i.delivery_rate as f64 * 8.0);
        w.push_str("bps");
        words.push(std::mem::take(&mut w));
    }
    num(&mut words, "delivered", u64::from(i.delivered));
    num(&mut words, "delivered_ce", u64::from(i.delivered_ce));
    if i.delivery_rate_app_limited {
        words.push("app_limited".into());
    }
    if i.busy_time_us != 0 {
        words.push(format!("busy:{}ms", i.busy_time_us / 1000));
    }
    // On a listener the kernel puts the accept queue's length and limit in
    // unacked and sacked (Recv-Q and Send-Q already show them); ss prints
    // neither there.
    if !listener {
        num(&mut words, "unacked", u64::from(i.unacked));
    }
    if i.retrans != 0 || i.total_retrans != 0 {
        words.push(format!("retrans:{}/{}", i.retrans, i.total_retrans));
    }
    num(&mut words, "lost", u64::from(i.lost));
    if !listener {
        num(&mut words, "sacked", u64::from(i.sacked));
    }
    num(&mut words, "dsack_dups", u64::from(i.dsack_dups));
    if i.reordering != 3 && i.reordering != 0 {
        words.push(format!("reordering:{}", i.reordering));
    }
    num(&mut words, "reord_seen", u64::from(i.reord_seen));
    if i.rcv_rtt_us != 0 {
        words.push(format!("rcv_rtt:{}", ms(i.rcv_rtt_us)));
    }
    num(&mut words, "rcv_space", u64::from(i.rcv_space));
    num(&mut words, "rcv_ssthresh", u64::from(i.rcv_ssthresh));
    num(&mut words, "notsent", u64::from(i.notsent_bytes));
    if i.min_rtt_us != 0 {
        words.push(format!("minrtt:{}", ms(i.min_rtt_us)));
    }
    num(&mut words, "rcv_ooopack", u64::from(i.rcv_ooopack));
    num(&mut words, "snd_wnd", u64::from(i.snd_wnd));
    buf.push_str(&words.join(" "));
}

#[cfg(test)]
mod tests {
    use super::*;
    use portscope::model::TimerKind;

    fn timer(ms: u64) -> String {
        let mut b = String::new();
        push_ms_timer(&mut b, ms);
        b
    }

    #[test]
    fn timers_read_as_ss_writes_them() {
        // Cases worked through ss's print_ms_timer by hand.
        assert_eq!(timer(9500), "9.500ms");
        assert_eq!(timer(200), "200ms");
        assert_eq!(timer(59_000), "59sec");
        assert_eq!(timer(12_340), "12sec");
        assert_eq!(timer(103_000), "1min43sec");
        assert_eq!(timer(7_140_000), "119min");
        assert_eq!(timer(0), "");
        let mut b = String::new();
        push_timer(
            &mut b,
            &Timer {
                kind: TimerKind::Keepalive,
                expires_ms: 9500,
                retrans: 0,
            },
        );
        assert_eq!(b, "timer:(keepalive,9.500ms,0)");
    }

    #[test]
    fn tcp_info_text_has_ss_words() {
        let i = TcpInfo {
            options: 1 | 2 | 4,
            snd_wscale: 7,
            rcv_wscale: 7,
            rto_us: 204_000,
            rtt_us: 46,
            rttvar_us: 23,
            snd_mss: 32768,
            snd_cwnd: 10,
            snd_ssthresh: 0x7fff_ffff,
            bytes_acked: 1001,
            total_retrans: 2,
            ..TcpInfo::default()
        };
        let cong = CongName::from_bytes(b"cubic");
        let mut b = String::new();
        push_tcp_info(&mut b, &i, Some(&cong), false);
        assert!(
            b.starts_with("ts sack cubic wscale:7,7 rto:204 rtt:0.046/0.023 mss:32768 cwnd:10 bytes_acked:1001 send "),
            "{b}"
        );
        assert!(b.contains("retrans:0/2"), "{b}");
        assert!(!b.contains("ssthresh"), "{b}");
    }

    #[test]
    fn a_listener_shows_what_ss_shows() {
        // A listener's tcp_info as this kernel gives it: no pacing
        // (u64::MAX), the accept queue's limit in sacked.
        let i = TcpInfo {
            snd_cwnd: 10,
            pacing_rate: u64::MAX,
            max_pacing_rate: u64::MAX,
            sacked: 77,
            unacked: 1,
            ..TcpInfo::default()
        };
        let cong = CongName::from_bytes(b"bbr");
        let mut b = String::new();
        push_tcp_info(&mut b, &i, Some(&cong), true);
        assert_eq!(b, "bbr cwnd:10");
        b.clear();
        push_tcp_info(&mut b, &i, Some(&cong), false);
        assert_eq!(b, "bbr cwnd:10 unacked:1 sacked:77");
    }

    #[test]
    fn only_asked_details_are_written() {
        let x = SocketExtra {
            memory: Some(SkMemInfo {
                rcvbuf: 5,
                ..SkMemInfo::default()
            }),
            timer: Some(Timer {
                kind: TimerKind::TimeWait,
                expires_ms: 59_000,
                retrans: 0,
            }),
            ..SocketExtra::default()
        };
        let mut b = String::new();
        let all = Detail {
            info: true,
            memory: true,
            timers: true,
        };
        push_text(&mut b, &x, all, false);
        assert_eq!(
            b,
            "timer:(timewait,59sec,0) skmem:(r0,rb5,t0,tb0,f0,w0,o0,bl0,d0)"
        );
        b.clear();
        push_text(
            &mut b,
            &x,
            Detail {
                memory: true,
                ..Detail::default()
            },
            false,
        );
        assert_eq!(b, "skmem:(r0,rb5,t0,tb0,f0,w0,o0,bl0,d0)");
    }
}
