//! One process's details beyond a listing's (`/proc/<pid>/stat`, `cgroup`,
//! the executable's directory) for `portscope pid`, and the list of pids.
//! Parsed as bytes: a process chooses its own name, which `stat` embeds.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::model::ProcessDetails;
use crate::text::Text;

/// The kernel's USER_HZ: `/proc` gives times in these ticks, and the value
/// is fixed at 100 in the ABI of every architecture Linux runs on today.
const TICKS_PER_SEC: u64 = 100;

/// What `/proc/<pid>/stat` gives: parent, threads, start (ticks after boot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    /// Parent pid.
    pub ppid: Option<u32>,
    /// Threads.
    pub threads: Option<u32>,
    /// Start time, in clock ticks since boot.
    pub start_ticks: Option<u64>,
}

/// Parses `/proc/<pid>/stat`. The name field (in parentheses) may hold any
/// bytes, spaces and `)` included, so the fields are counted from the last `)`.
///
/// ```
/// use portscope::collect::linux::process::parse_stat;
/// let raw = b"42 (a) b) c) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 3 0 12345 0 0";
/// let s = parse_stat(raw);
/// assert_eq!((s.ppid, s.threads, s.start_ticks), (Some(7), Some(3), Some(12345)));
/// assert_eq!(parse_stat(b"garbage"), Default::default());
/// ```
pub fn parse_stat(raw: &[u8]) -> Stat {
    let Some(close) = raw.iter().rposition(|&b| b == b')') else {
        return Stat::default();
    };
    let rest = &raw[close + 1..];
    let fields: Vec<&[u8]> = rest
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
        .collect();
    // Fields after the name, numbered from 3 (state) as proc(5) numbers them.
    let field = |n: usize| -> Option<&[u8]> { fields.get(n.checked_sub(3)?).copied() };
    let num = |n: usize| -> Option<u64> { std::str::from_utf8(field(n)?).ok()?.parse().ok() };
    Stat {
        ppid: num(4).and_then(|v| u32::try_from(v).ok()),
        threads: num(20).and_then(|v| u32::try_from(v).ok()),
        start_ticks: num(22),
    }
}

/// The cgroup path from `/proc/<pid>/cgroup`: the unified hierarchy's
/// (`0::/path`), else the first line's.
///
/// ```
/// use portscope::collect::linux::process::parse_cgroup;
/// let v1 = b"12:pids:/user.slice\n0::/system.slice/nginx.service\n";
/// assert_eq!(parse_cgroup(v1).unwrap().as_bytes(), b"/system.slice/nginx.service");
/// assert_eq!(parse_cgroup(b"3:cpu:/a\n").unwrap().as_bytes(), b"/a");
/// assert!(parse_cgroup(b"").is_none());
/// ```
pub fn parse_cgroup(raw: &[u8]) -> Option<Text> {
    let path = |line: &[u8]| -> Option<Vec<u8>> {
        let mut parts = line.splitn(3, |&b| b == b':');
        let id = parts.next()?;
        let _controllers = parts.next()?;
        let p = parts.next()?;
        Some([id, b":", p].concat())
    };
    let lines: Vec<Vec<u8>> = raw
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(path)
        .collect();
    let pick = lines
        .iter()
        .find(|l| l.starts_with(b"0:"))
        .or(lines.first())?;
    let at = pick.iter().position(|&b| b == b':')?;
    Some(Text::from(&pick[at + 1..]))
}

/// The boot time (`btime`, seconds since the epoch) from `/proc/stat`.
pub fn parse_btime(raw: &[u8]) -> Option<u64> {
    raw.split(|&b| b == b'\n').find_map(|l| {
        let v = l.strip_prefix(b"btime ")?;
        std::str::from_utf8(v).ok()?.trim().parse().ok()
    })
}

/// The details of process `pid` under `proc_root`; `None` when it has gone.
pub fn details(proc_root: &Path, pid: u32) -> Option<ProcessDetails> {
    let dir = proc_root.join(pid.to_string());
    let stat = parse_stat(&fs::read(dir.join("stat")).ok()?);
    let btime = fs::read(proc_root.join("stat"))
        .ok()
        .and_then(|b| parse_btime(&b));
    let start_unix = match (btime, stat.start_ticks) {
        (Some(b), Some(t)) => Some(b + t / TICKS_PER_SEC),
        _ => None,
    };
    let cgroup = fs::read(dir.join("cgroup"))
        .ok()
        .and_then(|b| parse_cgroup(&b));
    let (exe_deleted, exe_dir_world_writable) = match fs::read_link(dir.join("exe")) {
        Ok(p) => {
            let bytes = p.as_os_str().as_bytes();
            let deleted = bytes.ends_with(b" (deleted)");
            let file = if deleted {
                Path::new(std::ffi::OsStr::from_bytes(
                    &bytes[..bytes.len() - b" (deleted)".len()],
                ))
            } else {
                p.as_path()
            };
            let ww = file
                .parent()
                .and_then(|d| fs::metadata(d).ok())
                .map(|m| m.permissions().mode() & 0o002 != 0);
            (deleted, ww)
        }
        Err(_) => (false, None),
    };
    Some(ProcessDetails {
        ppid: stat.ppid,
        start_unix,
        threads: stat.threads,
        cgroup,
        exe_deleted,
        exe_dir_world_writable,
    })
}

/// Every pid under `proc_root`, in order.
pub fn pids(proc_root: &Path) -> Result<Vec<u32>> {
    let rd = fs::read_dir(proc_root).map_err(|e| Error::ProcWalk {
        path: proc_root.to_path_buf(),
        source: e,
    })?;
    let mut v: Vec<u32> = rd
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    v.sort_unstable();
    Ok(v)
}
