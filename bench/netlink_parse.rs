// Parse cost of 100k sock_diag messages: netlink-packet-sock-diag against
// portscope's reader. Not built with the workspace; see bench/NETLINK-PARSE.md.
use std::time::Instant;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_sock_diag::SockDiagMessage;
use portscope::collect::linux::netlink::{DumpKind, DumpReader};
use portscope::model::{Detail, Proto};

fn msgs(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 16 <= bytes.len() {
        let len = u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = u16::from_ne_bytes(bytes[at + 4..at + 6].try_into().unwrap());
        if len < 16 { break; }
        if kind == 20 { out.push(bytes[at..at + len].to_vec()); }
        at += (len + 3) & !3;
    }
    out
}

/// 100k messages in kernel-sized (32 KiB) buffers, with a DONE at the end.
fn population(one: &[Vec<u8>], n: usize) -> Vec<Vec<u8>> {
    let mut bufs = vec![Vec::new()];
    for i in 0..n {
        let m = &one[i % one.len()];
        if bufs.last().unwrap().len() + m.len() > 32 * 1024 { bufs.push(Vec::new()); }
        let b = bufs.last_mut().unwrap();
        b.extend_from_slice(m);
        while b.len() % 4 != 0 { b.push(0); }
    }
    let mut done = Vec::new();
    done.extend_from_slice(&20u32.to_ne_bytes());
    done.extend_from_slice(&3u16.to_ne_bytes());
    done.extend_from_slice(&2u16.to_ne_bytes());
    done.extend_from_slice(&[0; 12]);
    bufs.push(done);
    bufs
}

fn crate_parse(bufs: &[Vec<u8>]) -> (usize, usize) {
    let (mut ok, mut bad) = (0, 0);
    for b in bufs {
        let mut at = 0;
        while at < b.len() {
            let len = u32::from_ne_bytes(b[at..at + 4].try_into().unwrap()) as usize;
            match NetlinkMessage::<SockDiagMessage>::deserialize(&b[at..at + len]) {
                Ok(m) => if let NetlinkPayload::InnerMessage(_) = m.payload { ok += 1 },
                Err(_) => bad += 1,
            }
            at += (len + 3) & !3;
        }
    }
    (ok, bad)
}

fn ours(bufs: &[Vec<u8>], kind: DumpKind, detail: Detail) -> usize {
    let mut out = Vec::with_capacity(100_000);
    let mut r = DumpReader::new(kind).with_detail(detail);
    for b in bufs { r.feed(b, &mut out).unwrap(); }
    out.len()
}

fn time<T: std::fmt::Debug>(name: &str, f: impl Fn() -> T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..15 {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    println!("{name:<44} {:>8.2} ms  {:?}", best * 1e3, last.unwrap());
}

fn main() {
    let fx = std::env::args().nth(1).expect("the fixtures folder: crates/portscope/tests/fixtures/netlink");
    let tcp = msgs(&std::fs::read(format!("{fx}/tcp4.bin")).unwrap());
    let info = msgs(&std::fs::read(format!("{fx}/tcp4_info.bin")).unwrap());
    let unix = msgs(&std::fs::read(format!("{fx}/unix.bin")).unwrap());
    let n = 100_000;
    let plain = population(&tcp, n);
    let detailed = population(&info, n);
    let unixes = population(&unix, n);
    let d = Detail { info: true, ..Detail::default() };
    time("tcp, no attributes: crate", || crate_parse(&plain));
    time("tcp, no attributes: portscope", || ours(&plain, DumpKind::Inet(Proto::Tcp), Detail::default()));
    time("tcp + tcp_info + cong: crate", || crate_parse(&detailed));
    time("tcp + tcp_info + cong: portscope", || ours(&detailed, DumpKind::Inet(Proto::Tcp), d));
    time("unix: crate", || crate_parse(&unixes));
    time("unix: portscope", || ours(&unixes, DumpKind::Unix, Detail::default()));
    // A kernel older than the crate's struct tcp_info: cut INET_DIAG_INFO to 104 bytes (4.1-era).
    let short: Vec<Vec<u8>> = info.iter().map(|m| shorten_info(m, 104)).collect();
    let short = population(&short, n);
    time("short tcp_info (104 B): crate", || crate_parse(&short));
    time("short tcp_info (104 B): portscope", || ours(&short, DumpKind::Inet(Proto::Tcp), d));
    // A unix socket bound with a name that is not valid UTF-8 and an abstract one.
    let odd: Vec<Vec<u8>> = unix.iter().map(|m| rename_unix(m, b"/tmp/caf\xe9\0")).collect();
    let odd = population(&odd, n);
    time("unix, non-UTF-8 path: crate", || crate_parse(&odd));
    time("unix, non-UTF-8 path: portscope", || ours(&odd, DumpKind::Unix, Detail::default()));
    let nonul: Vec<Vec<u8>> = unix.iter().map(|m| rename_unix(m, b"/tmp/x")).collect();
    let nonul = population(&nonul, n);
    time("unix, path without NUL: crate", || crate_parse(&nonul));
    time("unix, path without NUL: portscope", || ours(&nonul, DumpKind::Unix, Detail::default()));
}

fn rebuild(m: &[u8], head: usize, f: impl Fn(u16, &[u8]) -> Option<Vec<u8>>) -> Vec<u8> {
    let mut out = m[..16 + head].to_vec();
    let mut at = 16 + head;
    while at + 4 <= m.len() {
        let len = u16::from_ne_bytes(m[at..at + 2].try_into().unwrap()) as usize;
        let kind = u16::from_ne_bytes(m[at + 2..at + 4].try_into().unwrap());
        if len < 4 || at + len > m.len() { break; }
        let data = f(kind, &m[at + 4..at + len]).unwrap_or_else(|| m[at + 4..at + len].to_vec());
        out.extend_from_slice(&((data.len() + 4) as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&data);
        while out.len() % 4 != 0 { out.push(0); }
        at += (len + 3) & !3;
    }
    let l = out.len() as u32;
    out[0..4].copy_from_slice(&l.to_ne_bytes());
    out
}
fn shorten_info(m: &[u8], n: usize) -> Vec<u8> {
    rebuild(m, 72, |k, d| (k == 2).then(|| d[..n.min(d.len())].to_vec()))
}
fn rename_unix(m: &[u8], name: &[u8]) -> Vec<u8> {
    rebuild(m, 16, |k, _| (k == 0).then(|| name.to_vec()))
}
