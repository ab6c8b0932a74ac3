//! The NAT rule parsers on output recorded here (a podman container
//! publishing 127.0.0.1:18099 → 8080 through netavark's iptables rules)
//! and a native nftables ruleset.

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/nat")
        .join(name);
    std::fs::read(path).expect("fixture")
}

#[test]
fn iptables_save_gives_the_dnat_with_its_container() {
    let text = String::from_utf8(fixture("iptables-save.txt")).expect("utf-8");
    let maps = parse_iptables_save(&text);
    assert_eq!(maps.len(), 1, "{maps:?}");
    let m = &maps[0];
    assert_eq!(m.proto, Proto::Tcp);
    assert_eq!(m.host_addr, Some("127.0.0.1".parse().expect("addr")));
    assert_eq!(m.host_port, 18_099);
    assert_eq!(m.to_addr, "10.88.0.7".parse::<IpAddr>().expect("addr"));
    assert_eq!(m.to_port, 8080);
    assert!(
        m.container_id
            .as_ref()
            .is_some_and(|id| id.as_bytes().starts_with(b"0809c9a2"))
    );
}

#[test]
fn nft_json_native_dnat_only() {
    // Rules made through iptables show their target as an `xt` blob in
    // nft's JSON: those come from iptables-save instead.
    assert!(parse_nft_json(&fixture("nft.json")).is_empty());
    let maps = parse_nft_json(&fixture("nft-native.json"));
    assert_eq!(maps.len(), 2, "{maps:?}");
    assert_eq!(
        (
            maps[0].proto,
            maps[0].host_addr,
            maps[0].host_port,
            maps[0].to_port
        ),
        (
            Proto::Tcp,
            Some("127.0.0.1".parse().expect("addr")),
            18_080,
            8080
        )
    );
    assert_eq!(
        maps[0].to_addr,
        "10.88.0.2".parse::<IpAddr>().expect("addr")
    );
    // No port in the dnat: the matched one.
    assert_eq!(
        (maps[1].proto, maps[1].host_port, maps[1].to_port),
        (Proto::Udp, 5353, 5353)
    );
    assert_eq!(maps[1].host_addr, None);
}

#[test]
fn destinations_and_junk() {
    assert_eq!(
        to_dest("[fd00::2]:80", 1),
        Some(("fd00::2".parse().expect("a"), 80))
    );
    assert_eq!(
        to_dest("10.0.0.2", 53),
        Some(("10.0.0.2".parse().expect("a"), 53))
    );
    assert_eq!(to_dest("10.0.0.2:8000-8010", 1), None);
    let junk =
        "-A X -p tcp --dport 99999 -j DNAT --to-destination 1.2.3.4:5\n-A\n-A Y -j DNAT\n\"\n";
    assert!(parse_iptables_save(junk).is_empty());
    assert!(parse_nft_json(b"{\"nftables\": 3}").is_empty());
    assert!(parse_nft_json(b"\xff").is_empty());
}
