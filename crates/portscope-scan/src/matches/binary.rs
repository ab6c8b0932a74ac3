//! Recognisers of binary protocols: length-prefixed or tagged replies (TLS
//! records, telnet option negotiation, MySQL, AMQP, DNS, LDAP's BER,
//! PostgreSQL, SNMP SMUX, MQTT, SMB, RDP, Kafka, MongoDB). Each checks
//! lengths, tags and magic numbers before it reads anything.

use super::{Found, version_token};

pub(super) fn tls_record(d: &[u8]) -> Option<Found> {
    // The record's length is plausible, and it holds an alert (2 bytes) or
    // a handshake message a server sends first (ServerHello, 2).
    let len = usize::from(u16::from_be_bytes([*d.get(3)?, *d.get(4)?]));
    let ok = crate::identify::is_tls_record(d)
        && match d[0] {
            0x15 => len == 2 && d.get(5).is_none_or(|&l| l <= 2),
            _ => (4..=18432).contains(&len) && d.get(5).is_none_or(|&t| t == 2),
        };
    ok.then(Found::default)
}

pub(super) fn telnet(d: &[u8]) -> Option<Found> {
    // Option negotiation: IAC, WILL/WONT/DO/DONT, an option; at least two
    // such, or a reply made only of them.
    let is_opt = |c: &[u8]| c.len() == 3 && c[0] == 0xff && (0xfb..=0xfe).contains(&c[1]);
    let lead = d.chunks(3).take_while(|c| is_opt(c)).count();
    let ok = lead >= 2 || (lead >= 1 && d.len() == lead * 3);
    ok.then(Found::default)
}

pub(super) fn mysql(d: &[u8]) -> Option<Found> {
    if d.len() < 7 || d[3] != 0 {
        return None;
    }
    let len = usize::from(d[0]) | usize::from(d[1]) << 8 | usize::from(d[2]) << 16;
    if !(2..=4096).contains(&len) {
        return None;
    }
    match d[4] {
        0x0a => {
            let body = d.get(5..)?;
            let end = body.iter().position(|&b| b == 0)?;
            let v = std::str::from_utf8(body.get(..end)?).ok()?;
            // A version string is short, printable and starts with a digit,
            // and the packet holds the 4-byte thread id after it.
            if v.is_empty()
                || v.len() > 100
                || !v.starts_with(|c: char| c.is_ascii_digit())
                || !v.bytes().all(|b| (0x21..0x7f).contains(&b))
                || len < end + 2 + 4
            {
                return None;
            }
            if let Some(i) = v.find("-MariaDB") {
                let ver = v.get(..i).unwrap_or(v);
                let ver = ver.strip_prefix("5.5.5-").unwrap_or(ver);
                let rest = v.get(i + "-MariaDB".len()..).unwrap_or("");
                let info = rest.trim_start_matches('-');
                return Some(Found {
                    product: Some("MariaDB".into()),
                    version: Some(ver.to_string()),
                    info: Some(info.to_string()),
                    ..Found::default()
                });
            }
            Some(Found::pv("MySQL", Some(v.to_string())))
        }
        // An error packet: this host refused, too many connections… The
        // error code (2 bytes) then, in protocol 4.1, '#' and a SQL state.
        0xff if len >= 9 && d.get(7) == Some(&b'#') => Some(Found::default()),
        _ => None,
    }
}

/// A length-prefixed (`u32`, big-endian) long string after `key` in an
/// AMQP field table: `<len u8>key 'S' <len u32> value`.
pub(super) fn amqp_field(d: &[u8], key: &[u8]) -> Option<String> {
    let mut pat = vec![u8::try_from(key.len()).ok()?];
    pat.extend_from_slice(key);
    pat.push(b'S');
    let at = d.windows(pat.len()).position(|w| w == pat.as_slice())? + pat.len();
    let len = u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?);
    let len = usize::try_from(len).ok()?.min(80);
    let v = d.get(at + 4..at + 4 + len)?;
    std::str::from_utf8(v).ok().map(str::to_string)
}

pub(super) fn amqp(d: &[u8]) -> Option<Found> {
    if d.len() == 8 && d.starts_with(b"AMQP\0") {
        return Some(Found::default());
    }
    // A method frame on channel 0: type 1, channel 0, size, class 10
    // (connection) method 10 (start), versions 0-9.
    let b = d.get(..13)?;
    let size = u32::from_be_bytes([b[3], b[4], b[5], b[6]]);
    if b[0] != 1 || b[1] != 0 || b[2] != 0 || b[7..11] != [0, 10, 0, 10] || size < 6 {
        return None;
    }
    let product = amqp_field(d, b"product");
    let version = amqp_field(d, b"version").and_then(|v| version_token(&v));
    Some(Found {
        product,
        version,
        info: Some(format!("AMQP {}-{}", b[11], b[12])),
        ..Found::default()
    })
}

/// The query id [`Probe::DnsTcp`] and the UDP DNS probe use.
pub const DNS_ID: u16 = 0x7073;

/// The `version.bind` CHAOS TXT query with id `id`.
pub fn dns_version_query(id: u16) -> Vec<u8> {
    let [hi, lo] = id.to_be_bytes();
    let mut q = vec![hi, lo, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(b"\x07version\x04bind\x00");
    q.extend_from_slice(&[0x00, 0x10, 0x00, 0x03]); // TXT, CH
    q
}

/// Skips a (possibly compressed) domain name at `i`; the index after it.
pub(super) fn skip_name(m: &[u8], mut i: usize) -> Option<usize> {
    for _ in 0..128 {
        let len = *m.get(i)?;
        match len {
            0 => return Some(i + 1),
            l if l & 0xc0 == 0xc0 => return Some(i + 2),
            l if l < 64 => i += 1 + usize::from(l),
            _ => return None,
        }
    }
    None
}

/// Checks a DNS response to the query with `id` and reads the first TXT
/// answer. `None` if it is not a response to that query.
pub fn dns_response(m: &[u8], id: u16) -> Option<Found> {
    let h = m.get(..12)?;
    if h[..2] != id.to_be_bytes() || h[2] & 0x80 == 0 || (h[2] >> 3) & 0x0f > 6 {
        return None;
    }
    let qd = u16::from_be_bytes([h[4], h[5]]);
    let an = u16::from_be_bytes([h[6], h[7]]);
    // The question is echoed in every answer to it (FORMERR aside).
    if qd > 1 {
        return None;
    }
    let mut i = 12;
    if qd == 1 {
        i = skip_name(m, i)? + 4;
        if i > m.len() {
            return None;
        }
    }
    let mut txt = None;
    if an > 0 {
        let j = skip_name(m, i)?;
        let rr = m.get(j..j + 10)?;
        let rtype = u16::from_be_bytes([rr[0], rr[1]]);
        let rdlen = usize::from(u16::from_be_bytes([rr[8], rr[9]]));
        let rdata = m.get(j + 10..j + 10 + rdlen)?;
        if rtype == 16 {
            let n = usize::from(*rdata.first()?);
            txt = rdata
                .get(1..1 + n)
                .map(|t| String::from_utf8_lossy(t).into_owned());
        }
    }
    let Some(t) = txt else {
        return Some(Found::default());
    };
    if let Some(v) = t.strip_prefix("dnsmasq-") {
        return Some(Found::pv("dnsmasq", version_token(v)));
    }
    if let Some(v) = t.strip_prefix("unbound ") {
        return Some(Found::pv("Unbound", version_token(v)));
    }
    if let Some(v) = t.strip_prefix("PowerDNS Recursor ") {
        return Some(Found::pv("PowerDNS Recursor", version_token(v)));
    }
    if let Some(v) = version_token(&t)
        && t.len() == v.len()
    {
        // BIND answers with its bare version.
        return Some(Found::pv("ISC BIND", Some(v)));
    }
    Some(Found {
        info: Some(t),
        ..Found::default()
    })
}

pub(super) fn dns_tcp(d: &[u8]) -> Option<Found> {
    let len = usize::from(u16::from_be_bytes([*d.first()?, *d.get(1)?]));
    let m = d.get(2..)?;
    if len < 12 || m.len() < len.min(m.len()) || len > 65535 {
        return None;
    }
    dns_response(m.get(..len.min(m.len()))?, DNS_ID)
}

/// A BER length at `i`: (length, index after it).
pub(super) fn ber_len(d: &[u8], i: usize) -> Option<(usize, usize)> {
    let b = *d.get(i)?;
    if b < 0x80 {
        return Some((usize::from(b), i + 1));
    }
    let n = usize::from(b & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for k in 0..n {
        len = len << 8 | usize::from(*d.get(i + 1 + k)?);
    }
    Some((len, i + 1 + n))
}

/// The values of attribute `name` in an LDAP SearchResultEntry, by looking
/// for the octet string `name` followed by a SET of octet strings.
pub(super) fn ldap_attr(d: &[u8], name: &[u8]) -> Option<String> {
    let mut pat = vec![0x04, u8::try_from(name.len()).ok()?];
    pat.extend_from_slice(name);
    let at = d.windows(pat.len()).position(|w| w == pat.as_slice())? + pat.len();
    if *d.get(at)? != 0x31 {
        return None;
    }
    let (_, i) = ber_len(d, at + 1)?;
    if *d.get(i)? != 0x04 {
        return None;
    }
    let (len, j) = ber_len(d, i + 1)?;
    let v = d.get(j..j + len.min(120))?;
    Some(String::from_utf8_lossy(v).into_owned())
}

pub(super) fn ldap(d: &[u8]) -> Option<Found> {
    // LDAPMessage ::= SEQUENCE { messageID 1, bindResponse [APPLICATION 1] }
    if *d.first()? != 0x30 {
        return None;
    }
    let (len, i) = ber_len(d, 1)?;
    if len < 7 || d.get(i..i + 3)? != [0x02, 0x01, 0x01] || *d.get(i + 3)? != 0x61 {
        return None;
    }
    let (_, j) = ber_len(d, i + 4)?;
    // resultCode ENUMERATED
    if *d.get(j)? != 0x0a {
        return None;
    }
    let vendor = ldap_attr(d, b"vendorName");
    let version = ldap_attr(d, b"vendorVersion");
    let openldap = d.windows(15).any(|w| w == b"OpenLDAProotDSE");
    let product = vendor.or_else(|| openldap.then(|| "OpenLDAP".to_string()));
    Some(Found {
        product,
        version,
        ..Found::default()
    })
}

/// A PostgreSQL backend message of type `t`, length-checked.
pub(super) fn pg_message(d: &[u8]) -> Option<(u8, &[u8])> {
    let t = *d.first()?;
    let len = u32::from_be_bytes(d.get(1..5)?.try_into().ok()?);
    let len = usize::try_from(len).ok()?;
    if !(4..=8192).contains(&len) {
        return None;
    }
    let body = d.get(5..(1 + len).min(d.len()))?;
    Some((t, body))
}

/// The reply [`Probe::Postgres`] gathers: the SSLRequest's answer (`N` or
/// `S`), then the startup message's answer (sent inside TLS after `S`).
pub(super) fn postgres(d: &[u8]) -> Option<Found> {
    // After S the startup message went inside TLS: its answer follows.
    let (&first, rest) = d.split_first()?;
    if first != b'N' && first != b'S' {
        return None;
    }
    let (t, body) = pg_message(rest)?;
    match t {
        // ErrorResponse: fields of <code><C string>; a PostgreSQL error
        // carries severity S, code C, message M and usually routine R.
        b'E' => {
            let mut sev = None;
            let mut code = None;
            for f in body.split(|&b| b == 0) {
                match f.split_first() {
                    Some((b'S', v)) => sev = Some(String::from_utf8_lossy(v).into_owned()),
                    Some((b'C', v)) => code = Some(String::from_utf8_lossy(v).into_owned()),
                    _ => {}
                }
            }
            let ok = sev.is_some_and(|s| matches!(s.as_str(), "FATAL" | "ERROR" | "PANIC"))
                && code
                    .is_some_and(|c| c.len() == 5 && c.bytes().all(|b| b.is_ascii_alphanumeric()));
            ok.then(|| Found::product("PostgreSQL"))
        }
        // AuthenticationRequest: a 4-byte method.
        b'R' if body.len() >= 4 => Some(Found::product("PostgreSQL")),
        _ => None,
    }
}

pub(super) fn smux(d: &[u8]) -> Option<Found> {
    // The ClosePDU names no software: the protocol is all it tells.
    (d.len() == 3 && d[0] == 0x41 && d[1] == 0x01 && d[2] <= 5).then(Found::default)
}

pub(super) fn mqtt(d: &[u8]) -> Option<Found> {
    if d.len() != 4 || d[0] != 0x20 || d[1] != 0x02 || d[2] > 1 || d[3] > 5 {
        return None;
    }
    let info = match d[3] {
        0 => "anonymous client accepted",
        4 | 5 => "anonymous client refused",
        _ => "connection refused",
    };
    Some(Found {
        info: Some(info.into()),
        ..Found::default()
    })
}

pub(super) fn smb(d: &[u8]) -> Option<Found> {
    if *d.first()? != 0 {
        return None;
    }
    let len =
        usize::from(*d.get(1)?) << 16 | usize::from(*d.get(2)?) << 8 | usize::from(*d.get(3)?);
    let h = d.get(4..9)?;
    if !(32..=1 << 17).contains(&len) {
        return None;
    }
    let info = match h {
        [0xff, b'S', b'M', b'B', 0x72] => "SMB1",
        [0xfe, b'S', b'M', b'B', _] if d.get(16..18) == Some(&[0, 0][..]) => "SMB2+",
        _ => return None,
    };
    Some(Found {
        info: Some(info.into()),
        ..Found::default()
    })
}

pub(super) fn rdp(d: &[u8]) -> Option<Found> {
    let h = d.get(..11)?;
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if h[0] != 3 || h[1] != 0 || len != d.len() || usize::from(h[4]) + 5 != len || h[5] != 0xd0 {
        return None;
    }
    // An RDP_NEG_RSP (type 2) names the protocol chosen; a failure (3) too.
    let info = match (d.get(11), d.get(15)) {
        (Some(2), Some(0)) => Some("standard RDP security"),
        (Some(2), Some(1)) => Some("TLS"),
        (Some(2), Some(2 | 8 | 10)) => Some("CredSSP"),
        (Some(3), _) => Some("negotiation failure"),
        _ => None,
    };
    Some(Found {
        info: info.map(str::to_string),
        ..Found::default()
    })
}

/// The correlation id of [`Probe::Kafka`].
pub const KAFKA_CORRELATION: i32 = 0x7073_6361;

pub(super) fn kafka(d: &[u8]) -> Option<Found> {
    let len = usize::try_from(u32::from_be_bytes(d.get(..4)?.try_into().ok()?)).ok()?;
    if !(6..=1 << 20).contains(&len) || len + 4 < d.len() {
        return None;
    }
    let corr = i32::from_be_bytes(d.get(4..8)?.try_into().ok()?);
    let err = i16::from_be_bytes(d.get(8..10)?.try_into().ok()?);
    (corr == KAFKA_CORRELATION && (err == 0 || err == 35)).then(|| Found::product("Apache Kafka"))
}

/// The request id of [`Probe::Mongo`].
pub const MONGO_REQUEST_ID: i32 = 0x7073_0001;

pub(super) fn mongo(d: &[u8]) -> Option<Found> {
    let int =
        |i: usize| -> Option<i32> { Some(i32::from_le_bytes(d.get(i..i + 4)?.try_into().ok()?)) };
    let len = usize::try_from(int(0)?).ok()?;
    if !(16..=1 << 24).contains(&len) || len < d.len() {
        return None;
    }
    if int(8)? != MONGO_REQUEST_ID || !matches!(int(12)?, 1 | 2013) {
        return None;
    }
    let key = b"\x02version\x00";
    let version = d.windows(key.len()).position(|w| w == key).and_then(|at| {
        let i = at + key.len();
        let n = usize::try_from(int(i)?).ok()?;
        let v = d.get(i + 4..i + 4 + n.saturating_sub(1))?;
        std::str::from_utf8(v).ok().and_then(version_token)
    });
    Some(Found::pv("MongoDB", version))
}
