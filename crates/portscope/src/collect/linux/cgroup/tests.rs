//! The cgroup parser on recorded cgroup files, with the runtimes' state
//! files beside them (tests/fixtures/cgroup/<case>/{cgroup,root/}).

use super::*;

fn case(name: &str) -> Behind {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cgroup")
        .join(name);
    let cgroup = std::fs::read(dir.join("cgroup")).expect("fixture cgroup file");
    behind(&cgroup, &StateFiles::at(dir.join("root")))
}

fn text(s: &str) -> Option<Text> {
    Some(Text::from(s))
}

const PODMAN: &str = "7cac9f3560b60ee875f1422befadb1c0d6488ec21be2f49336fcc566dac5e83d";

#[test]
fn podman_cgroupfs_names_from_the_storage_database() {
    for case_name in ["podman", "podman-systemd"] {
        let b = case(case_name);
        let c = b.container.expect(case_name);
        assert_eq!(c.runtime, Runtime::Podman);
        assert_eq!(c.id, Text::from(PODMAN));
        assert_eq!(c.name, text("psxprobe"), "{case_name}");
        assert_eq!(c.image, text("localhost/psx-probe:latest"));
        assert_eq!((c.pod, c.pod_namespace), (None, None));
    }
    // cgroupfs: no unit; systemd manager: the container's own scope.
    assert_eq!(case("podman").unit, None);
    assert_eq!(
        case("podman-systemd").unit,
        text(&format!("libpod-{PODMAN}.scope"))
    );
}

#[test]
fn docker_both_drivers() {
    for name in ["docker-v1", "docker-v2"] {
        let c = case(name).container.expect(name);
        assert_eq!(c.runtime, Runtime::Docker);
        assert_eq!(c.name, text("web"), "{name}");
        assert_eq!(c.image, text("nginx:1.27"));
        assert!(c.id.as_bytes().starts_with(b"a3f1c0de"));
    }
}

#[test]
fn kubernetes_pods_from_cri_annotations() {
    for name in ["k8s-containerd", "k8s-cgroupfs"] {
        let c = case(name).container.expect(name);
        assert_eq!(c.runtime, Runtime::Containerd, "{name}");
        assert_eq!(c.name, text("api"));
        assert_eq!(c.image, text("registry.example/api:2.1"));
        assert_eq!(c.pod, text("api-7d9f8-x2k4q"));
        assert_eq!(c.pod_namespace, text("shop"));
    }
    let c = case("crio").container.expect("crio");
    assert_eq!(c.runtime, Runtime::CriO);
    assert_eq!(c.name, text("dns"));
    assert_eq!(c.image, text("registry.example/coredns:1.11"));
    assert_eq!(c.pod, text("coredns-5d78c9869d-abcde"));
    assert_eq!(c.pod_namespace, text("kube-system"));
}

#[test]
fn lxc_and_the_unit_inside_it() {
    for name in ["lxc-v1", "lxc-v2"] {
        let b = case(name);
        let c = b.container.expect(name);
        assert_eq!(c.runtime, Runtime::Lxc);
        assert_eq!(c.name, text("web01"));
        assert_eq!(b.unit, text("nginx.service"), "{name}");
    }
}

#[test]
fn systemd_units() {
    for (name, unit) in [
        ("service-v2", "nginx.service"),
        ("service-v1", "ssh.service"),
        ("socket-unit", "systemd-journald-dev-log.socket"),
        ("user-slice", "app-gnome-firefox-2231.scope"),
    ] {
        let b = case(name);
        assert_eq!(b.container, None, "{name}");
        assert_eq!(b.unit, text(unit), "{name}");
    }
    assert_eq!(case("none"), Behind::default());
}

#[test]
fn sandboxes() {
    let f = case("flatpak").container.expect("flatpak");
    assert_eq!(
        (f.runtime, f.name),
        (Runtime::Flatpak, text("org.mozilla.firefox"))
    );
    let s = case("snap").container.expect("snap");
    assert_eq!((s.runtime, s.name), (Runtime::Snap, text("firefox")));
}

#[test]
fn missing_state_files_leave_names_unknown() {
    let cg = format!("0::/system.slice/docker-{PODMAN}.scope\n");
    let b = behind(cg.as_bytes(), &StateFiles::at("/nonexistent"));
    let c = b.container.expect("docker");
    assert_eq!(c.label(), Text::from(&PODMAN[..12]));
    assert_eq!((c.runtime, c.name, c.image), (Runtime::Docker, None, None));
}

#[test]
fn garbage_is_nothing() {
    for junk in [
        &b""[..],
        b"\xff\xfe",
        b"::::",
        b"0::/docker/short",
        b"\n\n:x",
    ] {
        assert_eq!(
            behind(junk, &StateFiles::at("/nonexistent")).container,
            None
        );
    }
}
