//! One test per row of the match table, on replies recorded from real
//! servers (Debian 12's daemons on loopback, see tests/real_services.rs in
//! the CLI crate) or, where no daemon was at hand, written from the
//! protocol's specification; and the property that random bytes are never
//! named.

use super::*;
use proptest::prelude::*;

/// protocol, product, version, info
type Named = (&'static str, Option<String>, Option<String>, Option<String>);

fn id(reply: &[u8], probe: Option<Probe>) -> Option<Named> {
    let s = |t: Option<Text>| t.map(|t| String::from_utf8_lossy(t.as_bytes()).into_owned());
    identify(reply, probe).map(|i| (i.protocol, s(i.product), s(i.version), s(i.info)))
}

fn pv(reply: &[u8], probe: Option<Probe>) -> (&'static str, Option<String>, Option<String>) {
    let (p, prod, v, _) = id(reply, probe).expect("identified");
    (p, prod, v)
}

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[test]
fn every_row_has_a_test_below() {
    // Keep this list in step with the table: a new row needs a test here.
    let tested = [
        "tls",
        "telnet",
        "mysql",
        "ssh",
        "http",
        "vnc",
        "rsync",
        "nats",
        "redis",
        "memcached",
        "pop3",
        "imap",
        "xmpp",
        "ftp",
        "amqp",
        "dns",
        "ldap",
        "postgresql",
        "smux",
        "mqtt",
        "smb",
        "rdp",
        "kafka",
        "mongodb",
        "elasticsearch",
    ];
    for r in TABLE {
        assert!(
            tested.contains(&r.protocol),
            "row {} has no test",
            r.protocol
        );
    }
}

#[test]
fn tls_and_telnet() {
    assert_eq!(pv(b"\x15\x03\x03\x00\x02\x02\x46", None).0, "tls");
    assert_eq!(
        pv(b"\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03", None).0,
        "tls"
    );
    assert_eq!(
        identify(b"\x16\x03\x03\x00\x7a\x01", None),
        None,
        "a ClientHello"
    );
    assert_eq!(pv(b"\xff\xfd\x18\xff\xfd\x20", None).0, "telnet");
    assert_eq!(pv(b"\xff\xfb\x01", None).0, "telnet");
    assert_eq!(identify(b"\xff\xfb\x01junk", None), None);
}

#[test]
fn ssh() {
    assert_eq!(
        id(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", None),
        Some((
            "ssh",
            some("OpenSSH"),
            some("9.2p1"),
            some("Debian-2+deb12u3")
        ))
    );
    assert_eq!(
        pv(b"SSH-2.0-dropbear_2022.83\r\n", None),
        ("ssh", some("dropbear"), some("2022.83"))
    );
    assert_eq!(pv(b"SSH-2.0-Go\r\n", None), ("ssh", some("Go"), None));
    assert_eq!(identify(b"SSH-9.9-x\r\n", None), None);
}

#[test]
fn http() {
    let r = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: x\r\n\r\n";
    assert_eq!(
        pv(r, Some(Probe::HttpHead)),
        ("http", some("nginx"), some("1.22.1"))
    );
    let a = b"HTTP/1.1 200 OK\r\nServer: Apache/2.4.57 (Debian)\r\n\r\n";
    assert_eq!(
        id(a, Some(Probe::HttpHead)),
        Some(("http", some("Apache httpd"), some("2.4.57"), some("Debian")))
    );
    assert_eq!(
        pv(b"HTTP/1.0 404 Not Found\r\n\r\n", None),
        ("http", None, None)
    );
    assert_eq!(identify(b"HTTP/x\r\n", None), None);
}

#[test]
fn mysql_and_mariadb() {
    let mut maria = vec![0x5b, 0, 0, 0, 0x0a];
    maria.extend_from_slice(b"5.5.5-10.11.6-MariaDB-0+deb12u1\0");
    maria.extend_from_slice(&[
        0x1f, 0, 0, 0, b'a', b'b', b'c', b'd', b'e', b'f', b'g', b'h', 0,
    ]);
    maria.resize(0x5b + 4, 0);
    assert_eq!(
        id(&maria, None),
        Some(("mysql", some("MariaDB"), some("10.11.6"), some("0+deb12u1")))
    );
    let mut my = vec![0x4a, 0, 0, 0, 0x0a];
    my.extend_from_slice(b"8.0.36-0ubuntu0.24.04.1\0");
    my.resize(0x4a + 4, 0);
    assert_eq!(
        pv(&my, None),
        ("mysql", some("MySQL"), some("8.0.36-0ubuntu0.24.04.1"))
    );
    // Host not allowed: an error packet with a SQL state.
    let err = b"\x45\x00\x00\x00\xff\x6a\x04#HY000Host '10.0.0.2' is not allowed";
    assert_eq!(pv(err, None).0, "mysql");
}

#[test]
fn vnc_rsync_nats() {
    assert_eq!(
        id(b"RFB 003.008\n", None),
        Some(("vnc", None, None, some("protocol 3.8")))
    );
    assert_eq!(
        id(b"@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4\n", None),
        Some(("rsync", some("rsync"), None, some("protocol 32.0")))
    );
    let n = b"INFO {\"server_id\":\"NCX\",\"server_name\":\"NCX\",\"version\":\"2.9.10\",\"proto\":1,\"go\":\"go1.19.8\",\"host\":\"127.0.0.1\",\"port\":4222}\r\n";
    assert_eq!(pv(n, None), ("nats", some("nats-server"), some("2.9.10")));
}

#[test]
fn redis() {
    let info = b"$300\r\n# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\nredis_mode:standalone\r\n";
    assert_eq!(
        pv(info, Some(Probe::RedisInfo)),
        ("redis", some("Redis"), some("7.0.15"))
    );
    assert_eq!(
        pv(
            b"-NOAUTH Authentication required.\r\n",
            Some(Probe::RedisInfo)
        ),
        ("redis", some("Redis"), None)
    );
    assert_eq!(pv(b"+PONG\r\n", Some(Probe::RedisInfo)).0, "redis");
    assert_eq!(identify(b"+PONG\r\n", None), None);
}

#[test]
fn memcached() {
    assert_eq!(
        pv(b"VERSION 1.6.18\r\n", Some(Probe::MemcachedVersion)),
        ("memcached", some("memcached"), some("1.6.18"))
    );
    assert_eq!(identify(b"ERROR\r\n", Some(Probe::MemcachedVersion)), None);
}

#[test]
fn mail() {
    assert_eq!(
        pv(b"+OK Dovecot (Debian) ready.\r\n", None),
        ("pop3", some("Dovecot pop3d"), None)
    );
    assert_eq!(
        pv(b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n", None),
        ("imap", some("Dovecot imapd"), None)
    );
    assert_eq!(
        pv(b"220 scan.test ESMTP Postfix (Debian/GNU)\r\n", None),
        ("smtp", some("Postfix smtpd"), None)
    );
    assert_eq!(
        pv(
            b"220 mx.example ESMTP Exim 4.96 Tue, 01 Dec 2026 12:00:00 +0000\r\n",
            None
        ),
        ("smtp", some("Exim smtpd"), some("4.96"))
    );
    assert_eq!(
        pv(
            b"<?xml version='1.0'?><stream:stream xmlns='jabber:client'>",
            None
        )
        .0,
        "xmpp"
    );
}

#[test]
fn ftp() {
    assert_eq!(
        pv(b"220 (vsFTPd 3.0.3)\r\n", None),
        ("ftp", some("vsftpd"), some("3.0.3"))
    );
    assert_eq!(
        pv(
            b"220 ProFTPD 1.3.8 Server (Debian) [::ffff:127.0.0.1]\r\n",
            None
        ),
        ("ftp", some("ProFTPD"), some("1.3.8"))
    );
    assert_eq!(
        pv(b"220 Welcome to the FTP service\r\n", None),
        ("ftp", None, None)
    );
    assert_eq!(pv(b"220 hello\r\n", None).0, "ftp-or-smtp");
}

#[test]
fn amqp() {
    assert_eq!(pv(b"AMQP\x00\x00\x09\x01", Some(Probe::Amqp)).0, "amqp");
    // Connection.Start from RabbitMQ, cut after the fields we read.
    let mut f = vec![1, 0, 0, 0, 0, 1, 0, 0, 10, 0, 10, 0, 9, 0, 0, 0, 0];
    f.extend_from_slice(b"\x07productS\x00\x00\x00\x08RabbitMQ\x07versionS\x00\x00\x00\x063.10.8");
    assert_eq!(
        pv(&f, Some(Probe::Amqp)),
        ("amqp", some("RabbitMQ"), some("3.10.8"))
    );
}

#[test]
fn dns_over_tcp() {
    // dnsmasq's answer to version.bind CHAOS TXT, with the length prefix.
    let mut m = dns_version_query(DNS_ID);
    m[2] = 0x84; // response, authoritative
    m[7] = 1; // one answer
    m.extend_from_slice(b"\xc0\x0c\x00\x10\x00\x03\x00\x00\x00\x00\x00\x0d\x0cdnsmasq-2.89");
    let mut tcp = u16::try_from(m.len())
        .expect("short")
        .to_be_bytes()
        .to_vec();
    tcp.extend_from_slice(&m);
    assert_eq!(
        pv(&tcp, Some(Probe::DnsTcp)),
        ("dns", some("dnsmasq"), some("2.89"))
    );
    // REFUSED: still DNS.
    let mut r = dns_version_query(DNS_ID);
    r[2] = 0x80;
    r[3] = 0x05;
    let mut tcp = u16::try_from(r.len())
        .expect("short")
        .to_be_bytes()
        .to_vec();
    tcp.extend_from_slice(&r);
    assert_eq!(pv(&tcp, Some(Probe::DnsTcp)), ("dns", None, None));
    // The query itself is not an answer.
    let q = Probe::DnsTcp.request();
    assert_eq!(identify(&q, Some(Probe::DnsTcp)), None);
}

#[test]
fn ldap() {
    // slapd 2.5: bindResponse success, then the rootDSE entry.
    let bind = b"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00";
    let mut r = bind.to_vec();
    r.extend_from_slice(b"\x30\x37\x02\x01\x02\x64\x32\x04\x00\x30\x2e\x30\x2c\x04\x0bobjectClass\x31\x1d\x04\x03top\x04\x0fOpenLDAProotDSE");
    assert_eq!(pv(&r, Some(Probe::Ldap)), ("ldap", some("OpenLDAP"), None));
    assert_eq!(pv(bind, Some(Probe::Ldap)), ("ldap", None, None));
    let mut v = bind.to_vec();
    v.extend_from_slice(
        b"\x04\x0avendorName\x31\x0d\x04\x0b389 Project\x04\x0dvendorVersion\x31\x08\x04\x06v2.3.1",
    );
    assert_eq!(
        pv(&v, Some(Probe::Ldap)).1,
        some("389 Project"),
        "the value's length is taken from its header"
    );
}

#[test]
fn postgres() {
    let mut r = b"N".to_vec();
    r.extend_from_slice(b"E\x00\x00\x00\x67SFATAL\x00VFATAL\x00C28000\x00Mno pg_hba.conf entry for host \"127.0.0.1\"\x00Fauth.c\x00L543\x00RClientAuthentication\x00\x00");
    assert_eq!(
        pv(&r, Some(Probe::Postgres)),
        ("postgresql", some("PostgreSQL"), None)
    );
    let md5 = b"NR\x00\x00\x00\x0c\x00\x00\x00\x05\x01\x02\x03\x04";
    assert_eq!(pv(md5, Some(Probe::Postgres)).0, "postgresql");
    let mut tls = b"S".to_vec();
    tls.extend_from_slice(&md5[1..]);
    assert_eq!(pv(&tls, Some(Probe::Postgres)).0, "postgresql");
    assert_eq!(identify(b"N", Some(Probe::Postgres)), None);
    assert_eq!(identify(b"S", Some(Probe::Postgres)), None);
    assert_eq!(identify(b"S", None), None, "one byte means nothing unasked");
}

#[test]
fn smux_and_mqtt() {
    assert_eq!(pv(b"A\x01\x02", Some(Probe::Smux)), ("smux", None, None));
    assert_eq!(identify(b"A\x01\x02", None), None);
    assert_eq!(
        id(b"\x20\x02\x00\x05", Some(Probe::Mqtt)),
        Some(("mqtt", None, None, some("anonymous client refused")))
    );
    assert_eq!(
        id(b"\x20\x02\x00\x00", Some(Probe::Mqtt)).map(|i| i.3),
        Some(some("anonymous client accepted"))
    );
}

#[test]
fn smb_rdp_kafka_mongo_elasticsearch() {
    // Samba 4.17's SMB2 answer to the SMB1 negotiate (header only).
    let mut smb2 = vec![0, 0, 0, 0x40];
    smb2.extend_from_slice(b"\xfeSMB\x40\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00");
    smb2.resize(0x44, 0);
    assert_eq!(
        id(&smb2, Some(Probe::Smb)),
        Some(("smb", None, None, some("SMB2+")))
    );
    let mut smb1 = vec![0, 0, 0, 0x25];
    smb1.extend_from_slice(b"\xffSMB\x72");
    smb1.resize(0x29, 0);
    assert_eq!(id(&smb1, Some(Probe::Smb)).map(|i| i.3), Some(some("SMB1")));
    // xrdp's Connection Confirm choosing TLS.
    let cc = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x00\x08\x00\x01\x00\x00\x00";
    assert_eq!(
        id(cc, Some(Probe::Rdp)),
        Some(("rdp", None, None, some("TLS")))
    );
    let mut k = vec![0, 0, 0, 12];
    k.extend_from_slice(&KAFKA_CORRELATION.to_be_bytes());
    k.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    assert_eq!(
        pv(&k, Some(Probe::Kafka)),
        ("kafka", some("Apache Kafka"), None)
    );
    let mut m = Vec::new();
    m.extend_from_slice(&0i32.to_le_bytes());
    m.extend_from_slice(&7i32.to_le_bytes());
    m.extend_from_slice(&MONGO_REQUEST_ID.to_le_bytes());
    m.extend_from_slice(&2013i32.to_le_bytes());
    m.extend_from_slice(&[0, 0, 0, 0, 0, 30, 0, 0, 0]);
    m.extend_from_slice(b"\x02version\x00\x06\x00\x00\x007.0.4\x00\x00");
    let len = i32::try_from(m.len()).expect("short").to_le_bytes();
    m[..4].copy_from_slice(&len);
    assert_eq!(
        pv(&m, Some(Probe::Mongo)),
        ("mongodb", some("MongoDB"), some("7.0.4"))
    );
    let es = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\"name\":\"n1\",\"cluster_name\":\"elasticsearch\",\"version\":{\"number\":\"8.11.1\",\"build_flavor\":\"default\"},\"tagline\":\"You Know, for Search\"}";
    assert_eq!(
        pv(es, Some(Probe::HttpGet)),
        ("elasticsearch", some("Elasticsearch"), some("8.11.1"))
    );
    // A plain web server answering GET / is HTTP, by the greeting rows.
    assert_eq!(
        pv(
            b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n<html>",
            Some(Probe::HttpGet)
        )
        .0,
        "http"
    );
}

#[test]
fn port_hints_pick_the_probe() {
    assert_eq!(probes_for_port(5432).collect::<Vec<_>>(), [Probe::Postgres]);
    assert_eq!(probes_for_port(389).collect::<Vec<_>>(), [Probe::Ldap]);
    assert_eq!(probes_for_port(53).collect::<Vec<_>>(), [Probe::DnsTcp]);
    assert_eq!(probes_for_port(1).count(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// Random replies are never identified, whatever probe drew them. The
    /// one exception is a reply made only of telnet negotiations (IAC,
    /// WILL/WONT/DO/DONT, an option): three bytes such as `ff fb 00` are a
    /// real server's whole greeting, and random bytes hit one now and then.
    #[test]
    fn random_bytes_are_never_named(reply in proptest::collection::vec(any::<u8>(), 0..600)) {
        let negotiation = |c: &[u8]| c.len() == 3 && c[0] == 0xff && (0xfb..=0xfe).contains(&c[1]);
        prop_assume!(reply.is_empty() || !reply.chunks(3).all(negotiation));
        for probe in std::iter::once(None).chain(Probe::ALL.map(Some)) {
            let got = identify(&reply, probe);
            prop_assert!(got.is_none(), "{:?} named {:?}", probe, got);
        }
    }
}
