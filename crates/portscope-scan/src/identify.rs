//! Which protocol a service speaks, and which software version it gives
//! away, from the bytes it sent: its greeting, or its answer to a probe.
//! Pure functions over bytes, shared by `scan` and anything else that wants
//! to name what answers on a port. No I/O here.

use portscope::Text;

/// A recognised protocol and, when the service told, its software version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Protocol name: `ssh`, `http`, `tls`, `redis`, `smtp`…
    pub protocol: &'static str,
    /// The software and version the service announced, as it spelled it
    /// (the server's choice: shown to people only escaped).
    pub version: Option<Text>,
}

impl Identity {
    fn new(protocol: &'static str, version: Option<String>) -> Identity {
        Identity {
            protocol,
            version: version.filter(|v| !v.is_empty()).map(Text::from),
        }
    }
}

/// Names the protocol of whatever a TCP service sent (first bytes of a
/// greeting, or of a reply to one of the probes in `probe`).
pub fn from_tcp(data: &[u8]) -> Option<Identity> {
    if data.is_empty() {
        return None;
    }
    if is_tls_record(data) {
        return Some(Identity::new("tls", None));
    }
    // Telnet option negotiation: IAC followed by WILL/WONT/DO/DONT.
    if data.len() >= 2 && data[0] == 0xff && (0xfb..=0xfe).contains(&data[1]) {
        return Some(Identity::new("telnet", None));
    }
    if let Some(id) = mysql(data) {
        return Some(id);
    }
    let line = first_line(data);
    if let Some(rest) = line.strip_prefix("SSH-") {
        // SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13: software after the protocol version.
        let version = rest.split_once('-').map(|(_, sw)| sw.trim().to_string());
        return Some(Identity::new("ssh", version));
    }
    if line.starts_with("HTTP/") {
        return Some(Identity::new("http", header(data, "server")));
    }
    if let Some(rest) = line.strip_prefix("RFB ") {
        return Some(Identity::new("vnc", Some(format!("RFB {}", rest.trim()))));
    }
    if let Some(rest) = line.strip_prefix("@RSYNCD:") {
        return Some(Identity::new("rsync", Some(rest.trim().to_string())));
    }
    if line.starts_with("AMQP") {
        return Some(Identity::new("amqp", None));
    }
    if line == "+PONG" || line.starts_with("-NOAUTH") || line.starts_with("-DENIED Redis") {
        return Some(Identity::new("redis", None));
    }
    if line.starts_with("-ERR wrong number of arguments")
        || line.starts_with("-ERR unknown command")
    {
        return Some(Identity::new("redis", None));
    }
    if let Some(rest) = line.strip_prefix("VERSION ") {
        return Some(Identity::new(
            "memcached",
            Some(format!("memcached {}", rest.trim())),
        ));
    }
    if let Some(rest) = line.strip_prefix("+OK") {
        return Some(Identity::new("pop3", software(rest)));
    }
    if let Some(rest) = line.strip_prefix("* OK") {
        let rest = rest.trim_start();
        let rest = match rest.strip_prefix('[') {
            Some(r) => r.split_once(']').map_or("", |(_, after)| after),
            None => rest,
        };
        return Some(Identity::new("imap", software(rest)));
    }
    if line.starts_with("<?xml") && text(data).contains("stream") {
        return Some(Identity::new("xmpp", None));
    }
    if let Some(rest) = line
        .strip_prefix("220-")
        .or_else(|| line.strip_prefix("220 "))
    {
        let lower = rest.to_ascii_lowercase();
        if lower.contains("ftp") {
            return Some(Identity::new("ftp", software(rest)));
        }
        if lower.contains("smtp") || lower.contains("mail") {
            return Some(Identity::new("smtp", software(rest)));
        }
        return Some(Identity::new("ftp-or-smtp", software(rest)));
    }
    None
}

/// Whether the bytes open a TLS record (handshake or alert, any version).
pub fn is_tls_record(data: &[u8]) -> bool {
    data.len() >= 3 && matches!(data[0], 0x15 | 0x16) && data[1] == 0x03 && data[2] <= 0x04
}

/// The MySQL/MariaDB greeting: a 3-byte length, sequence 0, protocol 10,
/// then the server version as a C string.
fn mysql(data: &[u8]) -> Option<Identity> {
    if data.len() < 6 || data[3] != 0 {
        return None;
    }
    let len = usize::from(data[0]) | usize::from(data[1]) << 8 | usize::from(data[2]) << 16;
    if !(2..=4096).contains(&len) {
        return None;
    }
    match data[4] {
        0x0a => {
            let body = data.get(5..)?;
            let end = body.iter().position(|&b| b == 0)?;
            let v = std::str::from_utf8(body.get(..end)?).ok()?;
            if v.is_empty() || !v.starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
            let name = if v.to_ascii_lowercase().contains("mariadb") {
                "MariaDB"
            } else {
                "MySQL"
            };
            Some(Identity::new("mysql", Some(format!("{name} {v}"))))
        }
        // An error packet: refused this host, too many connections…
        0xff if data.len() >= 7 => Some(Identity::new("mysql", None)),
        _ => None,
    }
}

/// The first line, lossily decoded.
fn first_line(data: &[u8]) -> String {
    let end = data
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .unwrap_or(data.len());
    String::from_utf8_lossy(data.get(..end).unwrap_or(data)).into_owned()
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// An HTTP header's value (name matched without case).
pub fn header(data: &[u8], name: &str) -> Option<String> {
    let t = text(data);
    let head = t.split("\r\n\r\n").next().unwrap_or("");
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// A greeting's free text, which is where servers name their software (at
/// most 80 characters).
fn software(rest: &str) -> Option<String> {
    let rest = rest.trim();
    if rest.is_empty() {
        return None;
    }
    Some(rest.chars().take(80).collect())
}

/// The bytes as one printable line for people: ASCII kept, line breaks shown
/// as `\n`, anything else as `\xNN`; at most `max` input bytes.
pub fn printable(data: &[u8], max: usize) -> String {
    let data = data.get(..max.min(data.len())).unwrap_or(data);
    let mut trimmed = data;
    while let [rest @ .., b'\r' | b'\n' | b' ' | 0] = trimmed {
        trimmed = rest;
    }
    let mut s = String::with_capacity(trimmed.len());
    let mut i = 0;
    while i < trimmed.len() {
        let b = trimmed[i];
        match b {
            b'\r' if trimmed.get(i + 1) == Some(&b'\n') => {
                s.push_str("\\n");
                i += 1;
            }
            b'\n' => s.push_str("\\n"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
        i += 1;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(data: &[u8]) -> (Option<&'static str>, Option<String>) {
        match from_tcp(data) {
            Some(i) => (
                Some(i.protocol),
                i.version
                    .map(|v| String::from_utf8(v.as_bytes().to_vec()).expect("UTF-8")),
            ),
            None => (None, None),
        }
    }

    #[test]
    fn greetings() {
        assert_eq!(
            id(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n"),
            (Some("ssh"), Some("OpenSSH_9.6p1 Ubuntu-3ubuntu13".into()))
        );
        assert_eq!(
            id(b"HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: x\r\n\r\n"),
            (Some("http"), Some("nginx/1.24.0".into()))
        );
        assert_eq!(id(b"HTTP/1.0 404 Not Found\r\n\r\n"), (Some("http"), None));
        assert_eq!(
            id(b"220 mail.example ESMTP Postfix (Debian)\r\n").0,
            Some("smtp")
        );
        assert_eq!(id(b"220 (vsFTPd 3.0.5)\r\n").0, Some("ftp"));
        assert_eq!(id(b"+OK Dovecot ready.\r\n").0, Some("pop3"));
        assert_eq!(
            id(b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"),
            (Some("imap"), Some("Dovecot ready.".into()))
        );
        assert_eq!(
            id(b"RFB 003.008\n"),
            (Some("vnc"), Some("RFB 003.008".into()))
        );
        assert_eq!(id(b"+PONG\r\n").0, Some("redis"));
        assert_eq!(id(b"-NOAUTH Authentication required.\r\n").0, Some("redis"));
        assert_eq!(id(b"\xff\xfd\x18\xff\xfd\x20").0, Some("telnet"));
        assert_eq!(id(b"\x15\x03\x03\x00\x02\x02\x46").0, Some("tls"));
        assert_eq!(id(b"@RSYNCD: 31.0\n").0, Some("rsync"));
        assert_eq!(id(b"hello there\r\n"), (None, None));
        assert_eq!(id(b""), (None, None));
    }

    #[test]
    fn mysql_greeting() {
        let mut pkt = vec![0x4a, 0, 0, 0, 0x0a];
        pkt.extend_from_slice(b"8.0.36-0ubuntu0.24.04.1\0");
        pkt.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(
            id(&pkt),
            (Some("mysql"), Some("MySQL 8.0.36-0ubuntu0.24.04.1".into()))
        );
        let mut maria = vec![0x4a, 0, 0, 0, 0x0a];
        maria.extend_from_slice(b"5.5.5-10.11.6-MariaDB-0+deb12u1\0");
        assert_eq!(
            id(&maria).1.unwrap(),
            "MariaDB 5.5.5-10.11.6-MariaDB-0+deb12u1"
        );
    }

    #[test]
    fn garbage_never_panics() {
        for n in 0..64u8 {
            let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37).wrapping_add(n)).collect();
            let _ = from_tcp(&data);
            let _ = printable(&data, 16);
        }
    }

    #[test]
    fn printable_escapes() {
        assert_eq!(printable(b"SSH-2.0-x\r\n", 256), "SSH-2.0-x");
        assert_eq!(printable(b"a\r\nb\x01\\", 256), "a\\nb\\x01\\\\");
        assert_eq!(printable(b"abcdef", 3), "abc");
    }
}
