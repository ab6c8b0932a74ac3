//! Linux: this host's interface addresses (an rtnetlink `RTM_GETADDR` dump,
//! or `/proc/net/if_inet6` and `/proc/net/fib_trie` when netlink is
//! refused), whether a process's executable is really gone, and the
//! `bindv6only` default.
//!
//! All of it is per network namespace: what the calling process sees. The
//! parsers are pure functions over bytes and text; the rtnetlink dump goes
//! through the sock_diag collector's netlink transport and attribute
//! reader (`netlink/transport.rs`, `netlink/wire.rs`). Not here: sockets
//! (`netlink/`, `procnet/`) and judging them (`crate::audit`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::ffi::OsStrExt;

use crate::collect::host::HostAddr;
use crate::error::{Error, Result};

// One netlink loop in the crate: the sock_diag collector's.
use super::netlink::Progress;
use super::netlink::collect::Collect;
use super::netlink::transport::{Dump, Transport};
use super::netlink::wire::{
    AF_INET, AF_INET6, Attrs, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_HDRLEN, nl_header, read_u32,
};

// rtnetlink ABI (linux/rtnetlink.h, linux/if_addr.h).
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
/// `struct ifaddrmsg`: family, prefixlen, flags, scope (u8 each), index (u32).
const IFADDRMSG_LEN: usize = 8;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;

/// One dump's replies are small (a message per address); this holds
/// hundreds of addresses per read.
const RECV_BUF: usize = 32 * 1024;

/// This host's non-loopback interface addresses, from rtnetlink; when the
/// kernel refuses rtnetlink, from `/proc/net`, with a note saying so.
pub fn addresses() -> Result<(Vec<HostAddr>, Option<String>)> {
    match netlink_addresses() {
        Ok(a) => Ok((a, None)),
        Err(e) => {
            let v6 = read_proc("/proc/net/if_inet6")?;
            let v4 = read_proc("/proc/net/fib_trie")?;
            let mut all: Vec<HostAddr> = parse_fib_trie_local(&v4)
                .into_iter()
                .map(|addr| HostAddr {
                    addr,
                    interface: String::new(),
                    index: 0,
                })
                .collect();
            all.extend(parse_if_inet6(&v6));
            all.retain(|a| !is_loopback(a.addr));
            Ok((all, Some(format!("{e}; read /proc/net for addresses"))))
        }
    }
}

fn read_proc(path: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// Whether an address only ever reaches this host (127/8, ::1, and
/// v4-mapped 127/8).
pub fn is_loopback(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
    }
}

fn netlink_addresses() -> Result<Vec<HostAddr>> {
    // NETLINK_ROUTE is protocol 0, which rustix spells `None`.
    let nl = Transport::open(None, RECV_BUF)?;
    let mut dump = Collect::new(RTM_NEWADDR, read_ifaddr);
    nl.dump(&mut nl.lock_buf(), |seq| Ok(addr_request(seq)), &mut dump)?;
    let mut out = dump.out;
    let names = interface_names(&out);
    for a in &mut out {
        if a.interface.is_empty()
            && let Some(n) = names.get(&a.index)
        {
            a.interface.clone_from(n);
        }
    }
    out.retain(|a| !is_loopback(a.addr));
    Ok(out)
}

/// Names for interface indexes: IPv4 addresses carry a label, IPv6 ones do
/// not; `/proc/net/if_inet6` names every interface with an IPv6 address.
fn interface_names(addrs: &[HostAddr]) -> HashMap<u32, String> {
    let mut names: HashMap<u32, String> = std::fs::read_to_string("/proc/net/if_inet6")
        .map(|t| {
            parse_if_inet6(&t)
                .into_iter()
                .map(|a| (a.index, a.interface))
                .collect()
        })
        .unwrap_or_default();
    for a in addrs {
        if !a.interface.is_empty() {
            // An IPv4 label may be an alias (`eth0:1`); the device is before the colon.
            let dev = a.interface.split(':').next().unwrap_or(&a.interface);
            names.entry(a.index).or_insert_with(|| dev.to_string());
        }
    }
    names
}

/// What an `RTM_NEWADDR` message adds to the addresses.
fn read_ifaddr(payload: &[u8], out: &mut Vec<HostAddr>) {
    out.extend(parse_ifaddr(payload));
}

/// An `RTM_GETADDR` dump request for every family.
fn addr_request(seq: u32) -> [u8; NLMSG_HDRLEN + IFADDRMSG_LEN] {
    let mut b = [0u8; NLMSG_HDRLEN + IFADDRMSG_LEN];
    let len = b.len();
    nl_header(&mut b, len, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq);
    // ifaddrmsg all zero: AF_UNSPEC, every interface.
    b
}

/// Parses one buffer of an `RTM_GETADDR` dump reply, appending every
/// address (loopback included) to `out`. Returns `true` once the dump is
/// done. Messages of another sequence number are skipped.
pub fn parse_addr_dump(buf: &[u8], seq: u32, out: &mut Vec<HostAddr>) -> Result<bool> {
    let mut dump = Collect::resume(RTM_NEWADDR, read_ifaddr, seq, std::mem::take(out));
    let res = dump.feed(buf);
    *out = dump.out;
    Ok(res? == Progress::Done)
}

/// One `ifaddrmsg` and its attributes. For IPv4, `IFA_LOCAL` is the
/// interface's own address (`IFA_ADDRESS` is the peer's on point-to-point
/// links); IPv6 sends only `IFA_ADDRESS`.
fn parse_ifaddr(p: &[u8]) -> Option<HostAddr> {
    let family = *p.first()?;
    let index = read_u32(p, 4)?;
    let mut address = None;
    let mut local = None;
    let mut label = String::new();
    for attr in Attrs(p.get(IFADDRMSG_LEN..).unwrap_or_default()) {
        let Ok((kind, data)) = attr else { break };
        match kind {
            IFA_ADDRESS => address = ip_of(family, data),
            IFA_LOCAL => local = ip_of(family, data),
            IFA_LABEL => {
                let name = data.split(|&b| b == 0).next().unwrap_or_default();
                label = String::from_utf8_lossy(name).into_owned();
            }
            _ => {}
        }
    }
    Some(HostAddr {
        addr: local.or(address)?,
        interface: label,
        index,
    })
}

fn ip_of(family: u8, data: &[u8]) -> Option<IpAddr> {
    match family {
        AF_INET => {
            let b: [u8; 4] = data.get(..4)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(b)))
        }
        AF_INET6 => {
            let b: [u8; 16] = data.get(..16)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// Parses `/proc/net/if_inet6`: address (32 hex digits), index, prefix
/// length, scope, flags, interface name. Lines that do not fit are skipped.
///
/// ```
/// use portscope::collect::linux::host::parse_if_inet6;
/// let a = parse_if_inet6("fd000000000000000000000000000002 02 40 00 80     eth0\n");
/// assert_eq!(a[0].addr.to_string(), "fd00::2");
/// assert_eq!((a[0].index, a[0].interface.as_str()), (2, "eth0"));
/// ```
pub fn parse_if_inet6(text: &str) -> Vec<HostAddr> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [hex, index, _, _, _, name] = f.as_slice() else {
                return None;
            };
            let bits = u128::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() == 32)?;
            Some(HostAddr {
                addr: IpAddr::V6(Ipv6Addr::from(bits)),
                interface: (*name).to_string(),
                index: u32::from_str_radix(index, 16).ok()?,
            })
        })
        .collect()
}

/// This host's own IPv4 addresses from `/proc/net/fib_trie`: each leaf
/// (`|-- 192.0.2.2`) followed by a `/32 host LOCAL` route. Each address
/// shows up once per routing table; the result has no duplicates.
///
/// ```
/// use portscope::collect::linux::host::parse_fib_trie_local;
/// let t = "  |-- 192.0.2.0\n     /24 link UNICAST\n  |-- 192.0.2.2\n     /32 host LOCAL\n";
/// assert_eq!(parse_fib_trie_local(t), vec!["192.0.2.2".parse::<std::net::IpAddr>().unwrap()]);
/// ```
pub fn parse_fib_trie_local(text: &str) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    let mut leaf: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("|-- ") {
            leaf = rest.trim().parse().ok();
        } else if t.starts_with("/32 host LOCAL")
            && let Some(a) = leaf
            && !out.contains(&IpAddr::V4(a))
        {
            out.push(IpAddr::V4(a));
        }
    }
    out
}

/// Whether the executable of `pid`, whose `/proc/<pid>/exe` link reads
/// `link`, is really gone. The kernel marks a gone file by appending
/// ` (deleted)`; a file whose name merely ends that way is told apart by
/// finding it at that path with the running executable's inode.
///
/// `None` when the process is gone or its executable cannot be examined.
pub fn exe_deleted(pid: u32, link: &[u8]) -> Option<bool> {
    if !link.ends_with(b" (deleted)") {
        return Some(false);
    }
    let running = rustix::fs::stat(format!("/proc/{pid}/exe")).ok()?;
    if running.st_nlink == 0 {
        return Some(true);
    }
    Some(match rustix::fs::stat(std::ffi::OsStr::from_bytes(link)) {
        Ok(st) => !(st.st_dev == running.st_dev && st.st_ino == running.st_ino),
        Err(_) => true,
    })
}

/// Whether the executable of `pid`, at `path` as its `/proc/<pid>/exe`
/// link names it, sits in a directory that every user may write to (mode
/// `o+w`, sticky or not), or below one: then anyone could have put it there.
/// The directories are looked at through `/proc/<pid>/root`, so a
/// container's `/tmp` is its own. The file itself need not exist any more
/// (a deleted executable's directory still tells). `None` when no directory
/// of the path can be examined (not absolute, or every stat fails).
pub fn world_writable_dir(pid: u32, path: &[u8]) -> Option<bool> {
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
    if !path.is_absolute() {
        return None;
    }
    let root = std::path::PathBuf::from(format!("/proc/{pid}/root"));
    let mut seen = false;
    for dir in path.ancestors().skip(1) {
        let inside = root.join(dir.strip_prefix("/").unwrap_or(dir));
        let Ok(st) = rustix::fs::stat(&inside) else {
            continue;
        };
        seen = true;
        let mode = rustix::fs::Mode::from_raw_mode(st.st_mode);
        let is_dir =
            rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory;
        if is_dir && mode.contains(rustix::fs::Mode::WOTH) {
            return Some(true);
        }
    }
    seen.then_some(false)
}

/// Whether `::` listeners accept IPv4 by default (`net.ipv6.bindv6only` is
/// 0). An unreadable setting is taken as the kernel default, 0.
pub fn v6_dual_stack() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").map_or(true, |t| t.trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::linux::netlink::wire::{NLMSG_DONE, NLMSG_ERROR};

    fn nlmsg(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDRLEN + payload.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    fn rta(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(data);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a
    }

    fn ifaddr(family: u8, index: u32, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut p = vec![family, 24, 0, 0];
        p.extend_from_slice(&index.to_ne_bytes());
        for a in attrs {
            p.extend_from_slice(a);
        }
        p
    }

    #[test]
    fn address_dump_parses_v4_local_label_and_v6() {
        let mut buf = nlmsg(
            RTM_NEWADDR,
            7,
            &ifaddr(
                AF_INET,
                3,
                &[
                    rta(IFA_ADDRESS, &[10, 0, 0, 9]),
                    rta(IFA_LOCAL, &[10, 0, 0, 1]),
                    rta(IFA_LABEL, b"ppp0\0"),
                ],
            ),
        );
        let v6: Ipv6Addr = "fd00::2".parse().unwrap();
        buf.extend(nlmsg(
            RTM_NEWADDR,
            7,
            &ifaddr(AF_INET6, 2, &[rta(IFA_ADDRESS, &v6.octets())]),
        ));
        // A stale reply from another request is skipped.
        buf.extend(nlmsg(
            RTM_NEWADDR,
            6,
            &ifaddr(AF_INET, 9, &[rta(IFA_LOCAL, &[1, 2, 3, 4])]),
        ));
        let mut out = Vec::new();
        assert!(!parse_addr_dump(&buf, 7, &mut out).unwrap());
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].addr, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!((out[0].index, out[0].interface.as_str()), (3, "ppp0"));
        assert_eq!(out[1].addr, IpAddr::V6(v6));
        assert!(parse_addr_dump(&nlmsg(NLMSG_DONE, 7, &[0; 4]), 7, &mut out).unwrap());
        let err = nlmsg(NLMSG_ERROR, 7, &(-13i32).to_ne_bytes());
        assert!(parse_addr_dump(&err, 7, &mut out).is_err());
    }

    #[test]
    fn address_dump_never_panics_on_truncation() {
        let buf = nlmsg(
            RTM_NEWADDR,
            1,
            &ifaddr(AF_INET6, 2, &[rta(IFA_ADDRESS, &[0xfd; 16])]),
        );
        for cut in 0..buf.len() {
            let mut out = Vec::new();
            let _ = parse_addr_dump(&buf[..cut], 1, &mut out);
            let _ = parse_ifaddr(&buf[NLMSG_HDRLEN.min(cut)..cut]);
        }
    }

    #[test]
    fn live_addresses_agree_with_proc() {
        let (addrs, _) = addresses().expect("addresses");
        assert!(addrs.iter().all(|a| !is_loopback(a.addr)));
        // Every global IPv6 address /proc knows is in the netlink answer.
        let text = std::fs::read_to_string("/proc/net/if_inet6").expect("if_inet6");
        for a in parse_if_inet6(&text) {
            if !is_loopback(a.addr) {
                assert!(addrs.iter().any(|b| b.addr == a.addr), "{a:?} missing");
            }
        }
        let trie = std::fs::read_to_string("/proc/net/fib_trie").expect("fib_trie");
        for a in parse_fib_trie_local(&trie) {
            if !is_loopback(a) {
                assert!(addrs.iter().any(|b| b.addr == a), "{a} missing");
            }
        }
    }

    #[test]
    fn if_inet6_skips_bad_lines() {
        let t = "zz 01 80 10 80 lo\n00000000000000000000000000000001 01 80 10 80       lo\nshort\n";
        let a = parse_if_inet6(t);
        assert_eq!(a.len(), 1);
        assert!(is_loopback(a[0].addr));
    }

    #[test]
    fn world_writable_directories_are_found_by_mode() {
        use std::os::unix::fs::PermissionsExt;
        let me = std::process::id();
        let base = std::path::PathBuf::from(format!("/run/ps-ww-{me}"));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("open/deep")).unwrap();
        std::fs::create_dir_all(base.join("closed")).unwrap();
        let mode = |p: &str, m| {
            std::fs::set_permissions(base.join(p), std::fs::Permissions::from_mode(m)).unwrap()
        };
        mode(".", 0o755);
        mode("open", 0o777); // not sticky: anyone may replace what is in it
        mode("open/deep", 0o755);
        mode("closed", 0o755);
        let at = |rest: &str| {
            let p = format!("{}/{rest}", base.display());
            world_writable_dir(me, p.as_bytes())
        };
        let run_open = std::fs::metadata("/run").unwrap().permissions().mode() & 0o002 != 0;
        let results = (at("open/x"), at("open/deep/x"), at("closed/x (gone)"));
        let _ = std::fs::remove_dir_all(&base);
        assert_eq!(results.0, Some(true));
        assert_eq!(results.1, Some(true), "below a world-writable directory");
        assert_eq!(results.2, Some(run_open));
        assert_eq!(world_writable_dir(me, b"/tmp/x"), Some(true));
        assert_eq!(world_writable_dir(me, b"relative/x"), None);
    }

    #[test]
    fn deleted_is_told_from_a_name_ending_in_the_mark() {
        let me = std::process::id();
        let link = std::fs::read_link(format!("/proc/{me}/exe")).unwrap();
        assert_eq!(exe_deleted(me, link.as_os_str().as_bytes()), Some(false));

        // A program whose file name ends in " (deleted)" is not gone...
        let dir = std::env::temp_dir().join(format!("ps-host-{me}"));
        std::fs::create_dir_all(&dir).unwrap();
        let odd = dir.join("sleep (deleted)");
        std::fs::copy("/bin/sleep", &odd).unwrap();
        // Just copied, the file can be briefly busy (ETXTBSY) while another
        // test thread forks with its write fd; that passes.
        let mut tries = 0;
        let mut child = loop {
            match std::process::Command::new(&odd).arg("30").spawn() {
                Err(e) if e.raw_os_error() == Some(26) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other.unwrap(),
            }
        };
        let pid = child.id();
        let read = || {
            std::fs::read_link(format!("/proc/{pid}/exe"))
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        assert_eq!(
            exe_deleted(pid, read().as_bytes()),
            Some(false),
            "{}",
            read()
        );
        // ...until it is removed.
        std::fs::remove_file(&odd).unwrap();
        let gone = read();
        assert!(gone.ends_with(" (deleted) (deleted)"), "{gone}");
        assert_eq!(exe_deleted(pid, gone.as_bytes()), Some(true));
        child.kill().unwrap();
        child.wait().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
