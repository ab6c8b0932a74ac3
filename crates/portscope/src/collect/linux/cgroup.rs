//! Who is behind a process: its container (docker, podman, containerd and
//! CRI-O under Kubernetes, LXC, flatpak, snap) or systemd unit, read from
//! `/proc/<pid>/cgroup` (v1 and v2 forms) and named from the runtime's own
//! state files ([`StateFiles`]). No daemon is ever called.
//!
//! [`behind`] is a pure function of the cgroup file's bytes and a
//! [`StateFiles`] root, so recorded fixtures (tests/fixtures/cgroup/) drive
//! it in tests. Not here: the namespace a socket lives in (`netns.rs`).

use std::path::PathBuf;

use serde_json::Value;

use crate::model::{Container, Runtime};
use crate::text::Text;

/// What a process's cgroup says about where it runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Behind {
    /// The container, if it runs in one.
    pub container: Option<Container>,
    /// The systemd unit, if its cgroup is one.
    pub unit: Option<Text>,
}

/// Where the runtimes keep their state: `/` on a live host, a fixture
/// directory in tests.
#[derive(Clone, Debug)]
pub struct StateFiles {
    root: PathBuf,
}

impl StateFiles {
    /// The state files of this host.
    pub fn host() -> StateFiles {
        StateFiles::at("/")
    }

    /// State files under `root` (which stands for `/`).
    pub fn at(root: impl Into<PathBuf>) -> StateFiles {
        StateFiles { root: root.into() }
    }

    /// Reads a small JSON state file; `None` when missing, unreadable, too
    /// big or not JSON.
    fn json(&self, rel: &str) -> Option<Value> {
        const MAX: u64 = 16 << 20;
        let path = self.root.join(rel.trim_start_matches('/'));
        let f = std::fs::File::open(path).ok()?;
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX + 1), &mut buf).ok()?;
        if buf.len() as u64 > MAX {
            return None;
        }
        serde_json::from_slice(&buf).ok()
    }
}

/// What the cgroup file `cgroup` (the bytes of `/proc/<pid>/cgroup`) says
/// about its process, with names and images from `state`.
pub fn behind(cgroup: &[u8], state: &StateFiles) -> Behind {
    let paths = paths(cgroup);
    let container = paths.iter().find_map(|p| container_of(p));
    let container = container.map(|c| named(c, state));
    // The unit: the systemd hierarchy (v1 `name=systemd`, or v2's `0::`).
    let unit = paths
        .iter()
        .rev()
        .find_map(|p| unit_of(p))
        .map(|u| Text::from(u.as_bytes()));
    Behind { container, unit }
}

/// The cgroup paths of the file, the systemd ones (v2 `0::`, v1
/// `name=systemd`) last, so that a unit is read from them first by `rev()`.
fn paths(cgroup: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(cgroup);
    let mut others = Vec::new();
    let mut systemd = Vec::new();
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (Some(_id), Some(ctl), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if ctl.is_empty() || ctl == "name=systemd" {
            systemd.push(path.to_owned());
        } else {
            others.push(path.to_owned());
        }
    }
    // A v2-only or v1 systemd path of `/` says nothing; the controllers'
    // paths may (cgroupfs managers put containers there).
    others.extend(systemd);
    others
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The id in `<prefix><id>[.scope]`.
fn id_after<'a>(component: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = component.strip_prefix(prefix)?;
    let id = rest.strip_suffix(".scope").unwrap_or(rest);
    is_id(id).then_some(id)
}

/// The container a cgroup path names, known by runtime and id.
fn container_of(path: &str) -> Option<Container> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let kube = parts.iter().any(|p| p.starts_with("kubepods"));
    for (i, part) in parts.iter().enumerate().rev() {
        if let Some(id) = id_after(part, "docker-") {
            return Some(Container::new(Runtime::Docker, id));
        }
        if let Some(id) = id_after(part, "libpod-") {
            return Some(Container::new(Runtime::Podman, id));
        }
        if let Some(id) = id_after(part, "cri-containerd-") {
            return Some(Container::new(Runtime::Containerd, id));
        }
        if let Some(id) = id_after(part, "crio-") {
            return Some(Container::new(Runtime::CriO, id));
        }
        if is_id(part) {
            let parent = i.checked_sub(1).and_then(|j| parts.get(j)).copied();
            match parent {
                Some("docker") => return Some(Container::new(Runtime::Docker, *part)),
                Some("libpod_parent") => return Some(Container::new(Runtime::Podman, *part)),
                // cgroupfs Kubernetes: kubepods/<qos>/pod<uid>/<id>; the
                // runtime is told by its state files (see `named`).
                Some(p) if kube && p.starts_with("pod") => {
                    return Some(Container::new(Runtime::Containerd, *part));
                }
                _ => {}
            }
        }
        if let Some(name) = part
            .strip_prefix("lxc.payload.")
            .or_else(|| part.strip_prefix("lxc.monitor."))
        {
            return Some(Container::new(Runtime::Lxc, name));
        }
        if (*part == "lxc" || *part == "lxc.payload")
            && let Some(name) = parts.get(i + 1)
        {
            return Some(Container::new(Runtime::Lxc, *name));
        }
        if let Some(app) = flatpak_app(part) {
            return Some(Container::new(Runtime::Flatpak, app));
        }
        if let Some(app) = snap_app(part) {
            return Some(Container::new(Runtime::Snap, app));
        }
    }
    None
}

/// `app-flatpak-org.example.App-1234.scope` → `org.example.App`.
fn flatpak_app(part: &str) -> Option<&str> {
    let rest = part.strip_prefix("app-flatpak-")?.strip_suffix(".scope")?;
    let (app, num) = rest.rsplit_once('-')?;
    (num.bytes().all(|b| b.is_ascii_digit()) && !app.is_empty()).then_some(app)
}

/// `snap.firefox.firefox.<uuid>.scope` or `snap.lxd.daemon.service` → the
/// snap name (`firefox`, `lxd`).
fn snap_app(part: &str) -> Option<&str> {
    let rest = part.strip_prefix("snap.")?;
    if !(rest.ends_with(".scope") || rest.ends_with(".service")) {
        return None;
    }
    let name = rest.split('.').next()?;
    (!name.is_empty()).then_some(name)
}

/// The deepest systemd unit of a path (`nginx.service`, `session-3.scope`,
/// `user@1000.service`'s `app.slice/foo.service` is `foo.service`).
fn unit_of(path: &str) -> Option<&str> {
    path.split('/').rev().find(|p| {
        let unit = [".service", ".scope", ".socket", ".mount", ".swap"]
            .iter()
            .any(|s| p.len() > s.len() && p.ends_with(s));
        // A slice is a grouping, not a unit a program runs as.
        unit && !p.ends_with(".slice")
    })
}

/// `c` with its name, image and pod from the runtime's state files, where
/// they can be read.
fn named(mut c: Container, state: &StateFiles) -> Container {
    let id = String::from_utf8_lossy(c.id.as_bytes()).into_owned();
    match c.runtime {
        Runtime::Docker => {
            if let Some(v) = state.json(&format!("/var/lib/docker/containers/{id}/config.v2.json"))
            {
                c.name = str_at(&v, &["Name"]).map(|n| Text::from(n.trim_start_matches('/')));
                c.image = str_at(&v, &["Config", "Image"]).map(Text::from);
                let labels = v.get("Config").and_then(|c| c.get("Labels"));
                kube_from(&mut c, labels);
            }
        }
        Runtime::Podman => podman(&mut c, &id, state),
        Runtime::Containerd | Runtime::CriO => cri(&mut c, &id, state),
        Runtime::Lxc | Runtime::Flatpak | Runtime::Snap => c.name = Some(c.id.clone()),
    }
    c
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for k in path {
        v = v.get(k)?;
    }
    v.as_str().filter(|s| !s.is_empty())
}

/// Podman: containers/storage's `containers.json` (names, and the image
/// name in its metadata), then the OCI config's annotations.
fn podman(c: &mut Container, id: &str, state: &StateFiles) {
    for db in [
        "/var/lib/containers/storage/overlay-containers/containers.json",
        "/run/containers/storage/overlay-containers/containers.json",
    ] {
        let Some(Value::Array(all)) = state.json(db) else {
            continue;
        };
        let Some(entry) = all.iter().find(|e| str_at(e, &["id"]) == Some(id)) else {
            continue;
        };
        let meta: Option<Value> =
            str_at(entry, &["metadata"]).and_then(|m| serde_json::from_str(m).ok());
        c.name = entry
            .get("names")
            .and_then(|n| n.get(0))
            .and_then(Value::as_str)
            .or_else(|| meta.as_ref().and_then(|m| str_at(m, &["name"])))
            .map(Text::from);
        c.image = meta
            .as_ref()
            .and_then(|m| str_at(m, &["image-name"]))
            .map(Text::from);
        break;
    }
    let config = state.json(&format!(
        "/var/lib/containers/storage/overlay-containers/{id}/userdata/config.json"
    ));
    kube_from(c, config.as_ref().and_then(|v| v.get("annotations")));
}

/// containerd and CRI-O: the OCI config's Kubernetes annotations.
fn cri(c: &mut Container, id: &str, state: &StateFiles) {
    let containerd = [
        format!("/run/containerd/io.containerd.runtime.v2.task/k8s.io/{id}/config.json"),
        format!("/run/containerd/io.containerd.runtime.v2.task/default/{id}/config.json"),
    ];
    let crio = [
        format!("/run/containers/storage/overlay-containers/{id}/userdata/config.json"),
        format!("/var/lib/containers/storage/overlay-containers/{id}/userdata/config.json"),
    ];
    for (runtime, path) in containerd
        .iter()
        .map(|p| (Runtime::Containerd, p))
        .chain(crio.iter().map(|p| (Runtime::CriO, p)))
    {
        let Some(v) = state.json(path) else {
            continue;
        };
        c.runtime = runtime;
        kube_from(c, v.get("annotations"));
        return;
    }
}

/// Names from Kubernetes annotations or labels (CRI and dockershim
/// spellings), where they say more than is known.
fn kube_from(c: &mut Container, ann: Option<&Value>) {
    let Some(ann) = ann else {
        return;
    };
    let get = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| ann.get(*k).and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .map(Text::from)
    };
    if c.name.is_none() {
        c.name = get(&[
            "io.kubernetes.cri.container-name",
            "io.kubernetes.container.name",
        ]);
    }
    if c.image.is_none() {
        c.image = get(&[
            "io.kubernetes.cri.image-name",
            "io.kubernetes.cri-o.ImageName",
        ]);
    }
    c.pod = c
        .pod
        .take()
        .or_else(|| get(&["io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"]));
    c.pod_namespace = c.pod_namespace.take().or_else(|| {
        get(&[
            "io.kubernetes.cri.sandbox-namespace",
            "io.kubernetes.pod.namespace",
        ])
    });
}

#[cfg(test)]
mod tests;
