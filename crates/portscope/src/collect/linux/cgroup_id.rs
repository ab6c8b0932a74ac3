//! Cgroup v2 ids (what inet_diag's `INET_DIAG_CGROUP_ID` gives) to their
//! paths: on cgroup2 an id is the inode of the cgroup's directory, so the
//! hierarchy is walked once, cached, and walked again only when an id is
//! not in the cache (a cgroup made since).
//!
//! Not here: what a path says (container, unit): `cgroup.rs`.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::model::Cgroup;

use super::cgroup::{self, StateFiles};

/// At most this many directories are walked: a hierarchy bigger than that
/// is cut, not followed without end.
const MAX_DIRS: usize = 200_000;

/// id -> path below the root, from the last walk, and the ids that walk
/// did not find (a cgroup removed since its socket was made): those do
/// not make the next call walk again.
static CACHE: Mutex<Option<Walked>> = Mutex::new(None);

/// One walk's paths by id, and the ids it was asked for and did not find.
type Walked = (HashMap<u64, String>, std::collections::HashSet<u64>);

/// The mount point of the cgroup v2 hierarchy and the cgroup it shows as
/// its root, from `/proc/self/mountinfo`; `/sys/fs/cgroup` preferred.
fn mount() -> Option<(PathBuf, String)> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<(PathBuf, String)> = None;
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if right.split_whitespace().next() != Some("cgroup2") {
            continue;
        }
        let f: Vec<&str> = left.split_whitespace().collect();
        let (Some(root), Some(point)) = (f.get(3), f.get(4)) else {
            continue;
        };
        let root = if *root == "/" {
            String::new()
        } else {
            (*root).to_string()
        };
        let found = (PathBuf::from(unescape(point)), root);
        if found.0 == Path::new("/sys/fs/cgroup") {
            return Some(found);
        }
        best.get_or_insert(found);
    }
    best
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Every directory under `top` by inode, as paths below the root.
fn walk(top: &Path, root: &str) -> HashMap<u64, String> {
    let mut out = HashMap::new();
    let mut todo = vec![(top.to_path_buf(), String::new())];
    while let Some((dir, rel)) = todo.pop() {
        if out.len() >= MAX_DIRS {
            break;
        }
        let Ok(meta) = std::fs::metadata(&dir) else {
            continue;
        };
        let path = format!("{root}{rel}");
        out.insert(meta.ino(), if path.is_empty() { "/".into() } else { path });
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let name = e.file_name().to_string_lossy().into_owned();
                todo.push((e.path(), format!("{rel}/{name}")));
            }
        }
    }
    out
}

/// What each of `ids` names, leaving out those no directory has and the
/// root cgroup (which says nothing).
pub fn resolve(ids: &[u64]) -> HashMap<u64, Cgroup> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return out;
    }
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let missing = cache.as_ref().is_none_or(|(paths, missed)| {
        ids.iter()
            .any(|id| !paths.contains_key(id) && !missed.contains(id))
    });
    if missing && let Some((point, root)) = mount() {
        let paths = walk(&point, &root);
        let missed = ids
            .iter()
            .copied()
            .filter(|id| !paths.contains_key(id))
            .collect();
        *cache = Some((paths, missed));
    }
    let Some((paths, _)) = cache.as_ref() else {
        return out;
    };
    let state = StateFiles::host();
    for id in ids {
        let Some(path) = paths.get(id).filter(|p| p.as_str() != "/") else {
            continue;
        };
        let b = cgroup::behind(format!("0::{path}\n").as_bytes(), &state);
        out.insert(
            *id,
            Cgroup {
                path: crate::text::Text::from(path.as_bytes()),
                container: b.container,
                unit: b.unit,
            },
        );
    }
    out
}
