//! The join on model values: a conmon holding the host port, a docker-proxy
//! naming the inner address, a DNAT rule with no host socket, and decoys
//! (the same inner port in another container's namespace).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::*;
use crate::model::{Endpoint, Family, Netns, Owner, Process, Runtime, TcpState};

const WEB: &str = "7cac9f3560b60ee875f1422befadb1c0d6488ec21be2f49336fcc566dac5e83d";
const DECOY: &str = "0809c9a2a1d54b4b15b2fa202fb6fc2fd2d972f202ab719941fc269e9edcfd29";

fn container(id: &str, name: &str) -> Container {
    Container {
        name: Some(Text::from(name)),
        image: Some(Text::from("localhost/bb:latest")),
        ..Container::new(Runtime::Podman, id)
    }
}

fn listener(port: u16, ns: &Arc<Netns>, pid: u32, v6: bool) -> Socket {
    let (family, local) = if v6 {
        (Family::Inet6, Endpoint::v6(Ipv6Addr::UNSPECIFIED, port))
    } else {
        (Family::Inet, Endpoint::v4(Ipv4Addr::LOCALHOST, port))
    };
    Socket {
        family,
        local,
        state: TcpState::Listen,
        inode: u64::from(pid) * 10 + u64::from(port),
        owners: vec![Owner { pid, fd: 3 }],
        netns: Some(Arc::clone(ns)),
        ..Socket::default()
    }
}

fn proc_(pid: u32, name: &str, cmdline: &str, c: Option<Container>) -> Process {
    Process {
        pid,
        name: Text::from(name),
        cmdline: Text::from(cmdline),
        container: c,
        ..Process::default()
    }
}

fn machine() -> Snapshot {
    let host = Arc::new(Netns::host(1));
    let web_ns = Arc::new(Netns {
        inode: 2,
        name: Some(Text::from("web")),
        host: false,
        container: Some(container(WEB, "web")),
    });
    let decoy_ns = Arc::new(Netns {
        inode: 3,
        name: None,
        host: false,
        container: Some(container(DECOY, "decoy")),
    });
    let mut snap = Snapshot::default();
    for p in [
        proc_(
            10,
            "conmon",
            &format!("/usr/bin/conmon --api-version 1 -c {WEB} -n web"),
            None,
        ),
        proc_(
            20,
            "busybox",
            "/bin/busybox httpd -f -p 8080",
            Some(container(WEB, "web")),
        ),
        proc_(
            30,
            "busybox",
            "/bin/busybox httpd -f -p 8080",
            Some(container(DECOY, "decoy")),
        ),
        proc_(
            40,
            "docker-proxy",
            "/usr/bin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 9000 -container-ip 172.17.0.2 -container-port 8080",
            None,
        ),
        proc_(50, "sshd", "sshd -D", None),
    ] {
        snap.processes.insert(p.pid, p);
    }
    snap.sockets = vec![
        listener(18_080, &host, 10, false),
        listener(8080, &web_ns, 20, true),
        listener(8080, &decoy_ns, 30, true),
        listener(9000, &host, 40, false),
        listener(22, &host, 50, false),
    ];
    snap
}

#[test]
fn conmon_is_joined_to_its_container_not_the_decoy() {
    let snap = machine();
    let f = of_socket(&snap, &[], &snap.sockets[0]).expect("a published port");
    assert_eq!(f.by, vec![10]);
    assert_eq!(f.host_port, 18_080);
    let c = f.container.expect("container");
    assert_eq!(c.name, Some(Text::from("web")));
    assert_eq!(f.inner.len(), 1);
    assert_eq!(f.inner[0].owners[0].pid, 20);
}

#[test]
fn a_rule_narrows_conmon_to_the_port() {
    let snap = machine();
    let map = PortMap {
        proto: Proto::Tcp,
        host_addr: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        host_port: 18_080,
        to_addr: "10.88.0.2".parse().expect("addr"),
        to_port: 8080,
        container_id: Some(Text::from(WEB)),
    };
    let f = of_socket(&snap, std::slice::from_ref(&map), &snap.sockets[0]).expect("published");
    assert_eq!(f.map, Some(map.clone()));
    assert_eq!(
        f.inner.iter().map(|s| s.owners[0].pid).collect::<Vec<_>>(),
        vec![20]
    );
    // The same rule with no host socket at all (no userland proxy).
    let f = of_map(&snap, &map);
    assert!(f.by.is_empty());
    assert_eq!(
        f.container.and_then(|c| c.name.clone()),
        Some(Text::from("web"))
    );
    assert_eq!(f.inner.len(), 1);
}

#[test]
fn ambiguous_without_a_container_is_left_unjoined() {
    let snap = machine();
    // docker-proxy says 172.17.0.2:8080; both namespaces listen on *:8080
    // and neither is known to be that address: no guess.
    let f = of_socket(&snap, &[], &snap.sockets[3]).expect("published");
    assert_eq!(f.by, vec![40]);
    assert!(f.inner.is_empty());
    assert!(f.container.is_none());
}

#[test]
fn ordinary_listeners_are_not_published() {
    let snap = machine();
    assert!(of_socket(&snap, &[], &snap.sockets[4]).is_none());
    // Inner listeners themselves are not host ports.
    assert!(of_socket(&snap, &[], &snap.sockets[1]).is_none());
}
