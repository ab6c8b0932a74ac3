//! The match table: every service the scanner can name, in one place. A
//! row says which protocol it names, which ports hint at it, which exchange
//! draws the reply it reads (the greeting, or one of the [`Probe`]s), how
//! that reply is recognised and how product and version are read out of it.
//! Pure functions over bytes; the talking is `probe`'s and `udp`'s job.
//!
//! Recognisers are strict: each checks the framing of its protocol (lengths,
//! tags, magic numbers), so random bytes name nothing (a property test
//! holds them to it). A greeting row reads what a service says unasked and
//! also any probe's reply (an HTTP server answers every probe in HTTP); a
//! probe row reads only the reply to its own probe, since a one-byte `N` or
//! a bare `ERROR` means something only as the answer to that question.

use portscope::Text;

use crate::probe::Probe;

/// A recognised protocol and what the service gave away about its software.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Protocol name: `ssh`, `http`, `tls`, `redis`, `smtp`…
    pub protocol: &'static str,
    /// The software, cleaned of greeting text: `vsftpd`, `OpenSSH`,
    /// `Postfix smtpd` (the server's choice: shown to people only escaped).
    pub product: Option<Text>,
    /// The software's version: `3.0.3`, `9.2p1`.
    pub version: Option<Text>,
    /// Anything else the reply told that is not the product's version: a
    /// protocol version (`protocol 32.0`), a distribution tag.
    pub info: Option<Text>,
}

impl Identity {
    /// An identity with only a protocol.
    pub fn bare(protocol: &'static str) -> Identity {
        Identity {
            protocol,
            product: None,
            version: None,
            info: None,
        }
    }

    fn with(protocol: &'static str, f: Found) -> Identity {
        let clean = |s: Option<String>| {
            s.map(|s| s.trim().chars().take(80).collect::<String>())
                .filter(|s| !s.is_empty())
                .map(Text::from)
        };
        Identity {
            protocol: f.protocol.unwrap_or(protocol),
            product: clean(f.product),
            version: clean(f.version),
            info: clean(f.info),
        }
    }
}

/// What a row's parser read out of a reply it recognised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// A protocol other than the row's (a greeting that only a closer look
    /// tells apart, as FTP from SMTP).
    pub protocol: Option<&'static str>,
    /// See [`Identity::product`].
    pub product: Option<String>,
    /// See [`Identity::version`].
    pub version: Option<String>,
    /// See [`Identity::info`].
    pub info: Option<String>,
}

impl Found {
    fn product(p: &str) -> Found {
        Found {
            product: Some(p.to_string()),
            ..Found::default()
        }
    }
    fn pv(p: impl Into<String>, v: Option<String>) -> Found {
        Found {
            product: Some(p.into()),
            version: v,
            ..Found::default()
        }
    }
}

/// One row of the match table.
#[derive(Clone, Copy)]
pub struct Row {
    /// The protocol the row names.
    pub protocol: &'static str,
    /// Ports where the service usually is: their probe goes first there.
    pub ports: &'static [u16],
    /// The exchange whose reply the row reads: `None` for what the service
    /// says unasked (also read in any probe's reply).
    pub probe: Option<Probe>,
    /// How the reply is recognised.
    pub recognised: &'static str,
    /// How product and version are read out.
    pub extracted: &'static str,
    /// The recogniser and extractor: `None` when the reply is not this protocol.
    pub parse: fn(&[u8]) -> Option<Found>,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("protocol", &self.protocol)
            .field("probe", &self.probe)
            .finish_non_exhaustive()
    }
}

/// The table. Order matters among greeting rows: the first that
/// recognises a reply names it.
pub static TABLE: &[Row] = &[
    Row {
        protocol: "tls",
        ports: &[],
        probe: None,
        recognised: "a TLS record header: handshake (22) or alert (21), version 3.x",
        extracted: "nothing: the TLS probe reads the certificate and what speaks inside",
        parse: tls_record,
    },
    Row {
        protocol: "telnet",
        ports: &[23],
        probe: None,
        recognised: "IAC followed by WILL/WONT/DO/DONT",
        extracted: "nothing",
        parse: telnet,
    },
    Row {
        protocol: "mysql",
        ports: &[3306],
        probe: None,
        recognised: "a MySQL packet (3-byte length, sequence 0) of protocol 10 with a server version string, or an error packet",
        extracted: "MariaDB or MySQL from the version string; the version without MariaDB's 5.5.5- prefix",
        parse: mysql,
    },
    Row {
        protocol: "ssh",
        ports: &[22],
        probe: None,
        recognised: "the identification line SSH-<proto>-<software>",
        extracted: "product and version split at the software's first _ (OpenSSH_9.2p1), the comment after a space as info",
        parse: ssh,
    },
    Row {
        protocol: "http",
        ports: &[80, 8000, 8008, 8080, 8888],
        probe: None,
        recognised: "a status line HTTP/<major>.<minor> <3 digits>, answering HEAD / (or any probe)",
        extracted: "the Server header: product before /, version after it up to a space",
        parse: http,
    },
    Row {
        protocol: "vnc",
        ports: &[5900, 5901],
        probe: None,
        recognised: "RFB <3 digits>.<3 digits>\\n",
        extracted: "the RFB protocol version as info",
        parse: vnc,
    },
    Row {
        protocol: "rsync",
        ports: &[873],
        probe: None,
        recognised: "@RSYNCD: <protocol version>",
        extracted: "product rsync, the protocol version as info (the checksum list left out)",
        parse: rsync,
    },
    Row {
        protocol: "nats",
        ports: &[4222],
        probe: None,
        recognised: "INFO followed by a JSON object with server_id",
        extracted: "product nats-server, version from the JSON's \"version\"",
        parse: nats,
    },
    Row {
        protocol: "redis",
        ports: &[6379, 6380, 16379, 26379],
        probe: Some(Probe::RedisInfo),
        recognised: "the bulk reply to INFO server (# Server, redis_version:), -NOAUTH, -DENIED Redis, or Redis's own -ERR wording",
        extracted: "product Redis, version from redis_version (only without auth)",
        parse: redis,
    },
    Row {
        protocol: "memcached",
        ports: &[11211],
        probe: Some(Probe::MemcachedVersion),
        recognised: "VERSION <digits and dots> in answer to version",
        extracted: "product memcached, the version after VERSION",
        parse: memcached,
    },
    Row {
        protocol: "pop3",
        ports: &[110],
        probe: None,
        recognised: "+OK at the start of the greeting",
        extracted: "the server software named in the greeting (Dovecot pop3d, Cyrus pop3d, Courier pop3d)",
        parse: pop3,
    },
    Row {
        protocol: "imap",
        ports: &[143],
        probe: None,
        recognised: "* OK at the start of the greeting",
        extracted: "the server software named in the greeting (Dovecot imapd, Cyrus imapd, Courier imapd)",
        parse: imap,
    },
    Row {
        protocol: "xmpp",
        ports: &[5222, 5269],
        probe: None,
        recognised: "an XML declaration followed by a stream element",
        extracted: "nothing",
        parse: xmpp,
    },
    Row {
        protocol: "ftp",
        ports: &[21],
        probe: None,
        recognised: "a 220 greeting naming FTP (an SMTP greeting names SMTP or a mail server: protocol smtp; neither: ftp-or-smtp)",
        extracted: "the known servers' names and versions: vsFTPd, ProFTPD, Pure-FTPd, Postfix, Exim, Sendmail, OpenSMTPD",
        parse: ftp_or_smtp,
    },
    Row {
        protocol: "amqp",
        ports: &[5672],
        probe: Some(Probe::Amqp),
        recognised: "AMQP<0><major><minor><rev> (a protocol mismatch) or a Connection.Start method frame",
        extracted: "product and version from the server-properties table",
        parse: amqp,
    },
    Row {
        protocol: "dns",
        ports: &[53, 5353],
        probe: Some(Probe::DnsTcp),
        recognised: "a 2-byte length then a DNS response (QR set) with the query's id",
        extracted: "the version.bind TXT record: dnsmasq-2.89 as product dnsmasq version 2.89, other texts as info",
        parse: dns_tcp,
    },
    Row {
        protocol: "ldap",
        ports: &[389, 3268, 636, 3269],
        probe: Some(Probe::Ldap),
        recognised: "an LDAPMessage (SEQUENCE, message id 1) holding a bindResponse",
        extracted: "vendorName and vendorVersion of the rootDSE when published; OpenLDAP by its OpenLDAProotDSE object class",
        parse: ldap,
    },
    Row {
        protocol: "postgresql",
        ports: &[5432],
        probe: Some(Probe::Postgres),
        recognised: "N or S answering the SSLRequest, then an ErrorResponse or an authentication request answering a startup message",
        extracted: "product PostgreSQL; the error's severity and routine say the server, no version is given before login",
        parse: postgres,
    },
    Row {
        protocol: "smux",
        ports: &[199],
        probe: Some(Probe::Smux),
        recognised: "a SMUX ClosePDU (application 1, one byte of reason) answering an empty request",
        extracted: "nothing: the multiplexer names no software",
        parse: smux,
    },
    Row {
        protocol: "mqtt",
        ports: &[1883],
        probe: Some(Probe::Mqtt),
        recognised: "a CONNACK (0x20, length 2, flags 0 or 1, return code 0-5) answering CONNECT",
        extracted: "whether the broker accepted an anonymous client, as info",
        parse: mqtt,
    },
    Row {
        protocol: "smb",
        ports: &[445, 139],
        probe: Some(Probe::Smb),
        recognised: "a NetBIOS session message holding an SMB1 (\\xffSMB) or SMB2 (\\xfeSMB) negotiate response",
        extracted: "the dialect family (SMB1, SMB2+) as info",
        parse: smb,
    },
    Row {
        protocol: "rdp",
        ports: &[3389],
        probe: Some(Probe::Rdp),
        recognised: "a TPKT header (3, 0, length) holding an X.224 Connection Confirm (0xd0)",
        extracted: "the security the server chose (TLS, CredSSP, RDP) as info",
        parse: rdp,
    },
    Row {
        protocol: "kafka",
        ports: &[9092],
        probe: Some(Probe::Kafka),
        recognised: "a length-framed response echoing the ApiVersions request's correlation id, error 0 or 35",
        extracted: "product Apache Kafka",
        parse: kafka,
    },
    Row {
        protocol: "mongodb",
        ports: &[27017, 27018],
        probe: Some(Probe::Mongo),
        recognised: "an OP_MSG (2013) or OP_REPLY (1) answering the request id of buildInfo",
        extracted: "product MongoDB, the version string of buildInfo",
        parse: mongo,
    },
    Row {
        protocol: "elasticsearch",
        ports: &[9200],
        probe: Some(Probe::HttpGet),
        recognised: "an HTTP 200 whose JSON body has cluster_name and version.number",
        extracted: "Elasticsearch or OpenSearch (version.distribution), version.number",
        parse: elasticsearch,
    },
];

/// Names what sent `reply`: the reply to `probe`, or the greeting when
/// `None`. Rows of that probe first, then the greeting rows.
pub fn identify(reply: &[u8], probe: Option<Probe>) -> Option<Identity> {
    if reply.is_empty() {
        return None;
    }
    let own = TABLE.iter().filter(|r| probe.is_some() && r.probe == probe);
    let greeting = TABLE.iter().filter(|r| r.probe.is_none());
    own.chain(greeting)
        .find_map(|r| (r.parse)(reply).map(|f| Identity::with(r.protocol, f)))
}

/// The probes that rows hint at for `port`, in table order.
pub fn probes_for_port(port: u16) -> impl Iterator<Item = Probe> {
    TABLE
        .iter()
        .filter(move |r| r.ports.contains(&port))
        .filter_map(|r| r.probe)
}

// ---- the recognisers -------------------------------------------------------

/// The first line, lossily decoded.
fn first_line(data: &[u8]) -> String {
    let end = data
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .unwrap_or(data.len());
    String::from_utf8_lossy(data.get(..end).unwrap_or(data)).into_owned()
}

/// Whether every byte of the first line is printable ASCII (greetings are).
fn printable_line(data: &[u8]) -> bool {
    let end = data
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .unwrap_or(data.len());
    data.get(..end)
        .is_some_and(|l| l.iter().all(|&b| (0x20..0x7f).contains(&b) || b == b'\t'))
}

/// `tok` up to the first byte not in a version (digits, letters, `.-_+~`).
fn version_token(s: &str) -> Option<String> {
    let v: String = s
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ".-_+~".contains(*c))
        .collect();
    v.starts_with(|c: char| c.is_ascii_digit()).then_some(v)
}

fn tls_record(d: &[u8]) -> Option<Found> {
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

fn telnet(d: &[u8]) -> Option<Found> {
    // Option negotiation: IAC, WILL/WONT/DO/DONT, an option; at least two
    // such, or a reply made only of them.
    let is_opt = |c: &[u8]| c.len() == 3 && c[0] == 0xff && (0xfb..=0xfe).contains(&c[1]);
    let lead = d.chunks(3).take_while(|c| is_opt(c)).count();
    let ok = lead >= 2 || (lead >= 1 && d.len() == lead * 3);
    ok.then(Found::default)
}

fn mysql(d: &[u8]) -> Option<Found> {
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

fn ssh(d: &[u8]) -> Option<Found> {
    // No printable-only check: `SSH-2.0-` is sure enough, and a server that
    // puts escapes in its version is still SSH (shown escaped).
    let line = first_line(d);
    let rest = line.strip_prefix("SSH-")?;
    let (proto, software) = rest.split_once('-')?;
    if !matches!(proto, "1.99" | "2.0" | "1.5") {
        return None;
    }
    let (sw, comment) = match software.split_once(' ') {
        Some((s, c)) => (s, Some(c.trim().to_string())),
        None => (software, None),
    };
    let (product, version) = match sw.split_once('_') {
        Some((p, v)) => (p.to_string(), Some(v.to_string())),
        None => (sw.to_string(), None),
    };
    Some(Found {
        product: Some(product).filter(|p| !p.is_empty()),
        version,
        info: comment,
        ..Found::default()
    })
}

/// An HTTP header's value (name matched without case).
pub fn header(data: &[u8], name: &str) -> Option<String> {
    let t = String::from_utf8_lossy(data);
    let head = t.split("\r\n\r\n").next().unwrap_or("");
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// `nginx/1.22.1`, `Apache/2.4.57 (Debian)`: product and version.
fn server_software(s: &str) -> Found {
    let first = s.split_whitespace().next().unwrap_or("");
    let (p, v) = match first.split_once('/') {
        Some((p, v)) => (p, version_token(v)),
        None => (first, None),
    };
    let product = match p {
        "Apache" => "Apache httpd",
        other => other,
    };
    let rest = s
        .get(first.len()..)
        .map(str::trim)
        .filter(|r| !r.is_empty());
    Found {
        product: Some(product.to_string()).filter(|p| !p.is_empty()),
        version: v,
        info: rest.map(|r| r.trim_matches(|c| c == '(' || c == ')').to_string()),
        ..Found::default()
    }
}

fn http(d: &[u8]) -> Option<Found> {
    let line = first_line(d);
    let rest = line.strip_prefix("HTTP/")?;
    let b = rest.as_bytes();
    let ok = b.len() >= 7
        && b[0].is_ascii_digit()
        && (b[1] == b'.' && b[2].is_ascii_digit() && b[3] == b' '
            || b[1] == b' '
                && rest
                    .get(2..5)
                    .is_some_and(|c| c.bytes().all(|x| x.is_ascii_digit())));
    if !ok || !printable_line(d) {
        return None;
    }
    Some(header(d, "server").map_or_else(Found::default, |s| server_software(&s)))
}

fn vnc(d: &[u8]) -> Option<Found> {
    let b = d.get(..12)?;
    let ok = b.starts_with(b"RFB ")
        && b[4..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'.'
        && b[8..11].iter().all(u8::is_ascii_digit)
        && b[11] == b'\n';
    if !ok {
        return None;
    }
    let major: u32 = std::str::from_utf8(&b[4..7]).ok()?.parse().ok()?;
    let minor: u32 = std::str::from_utf8(&b[8..11]).ok()?.parse().ok()?;
    Some(Found {
        info: Some(format!("protocol {major}.{minor}")),
        ..Found::default()
    })
}

fn rsync(d: &[u8]) -> Option<Found> {
    if !printable_line(d) {
        return None;
    }
    let line = first_line(d);
    let rest = line.strip_prefix("@RSYNCD: ")?;
    let v = version_token(rest)?;
    Some(Found {
        product: Some("rsync".into()),
        info: Some(format!("protocol {v}")),
        ..Found::default()
    })
}

/// The string value of `"key":"…"` in a flat JSON text (no unescaping:
/// versions hold no escapes; one that does is cut at the backslash).
fn json_str(t: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\":");
    let at = t.find(&pat)? + pat.len();
    let rest = t.get(at..)?.trim_start().strip_prefix('"')?;
    let end = rest.find(['"', '\\'])?;
    Some(rest.get(..end)?.to_string())
}

fn nats(d: &[u8]) -> Option<Found> {
    if !printable_line(d) {
        return None;
    }
    let line = first_line(d);
    let json = line.strip_prefix("INFO ")?.trim();
    if !json.starts_with('{') || !json.contains("\"server_id\"") {
        return None;
    }
    Some(Found::pv(
        "nats-server",
        json_str(json, "version").and_then(|v| version_token(&v)),
    ))
}

fn redis(d: &[u8]) -> Option<Found> {
    let line = first_line(d);
    if let Some(n) = line.strip_prefix('$')
        && n.parse::<u32>().is_ok()
    {
        let t = String::from_utf8_lossy(d);
        if !t.contains("# Server") {
            return None;
        }
        let v = t
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .and_then(version_token);
        let product = if t.contains("valkey_version:") {
            "Valkey"
        } else {
            "Redis"
        };
        return Some(Found::pv(product, v));
    }
    let known = line == "+PONG"
        || line.starts_with("-NOAUTH Authentication required")
        || line.starts_with("-DENIED Redis")
        || line.starts_with("-ERR unknown command")
        || line.starts_with("-ERR wrong number of arguments");
    known.then(|| Found::product("Redis"))
}

fn memcached(d: &[u8]) -> Option<Found> {
    if !printable_line(d) || !d.ends_with(b"\r\n") {
        return None;
    }
    let line = first_line(d);
    let v = version_token(line.strip_prefix("VERSION ")?)?;
    Some(Found::pv("memcached", Some(v)))
}

/// Mail servers by the name they greet with: (word, product).
fn mail_product(text: &str, kind: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    for (word, name) in [
        ("dovecot", "Dovecot"),
        ("cyrus", "Cyrus"),
        ("courier", "Courier"),
        ("uw imap", "UW"),
    ] {
        if lower.contains(word) {
            return Some(format!("{name} {kind}"));
        }
    }
    None
}

fn pop3(d: &[u8]) -> Option<Found> {
    if !printable_line(d) {
        return None;
    }
    let line = first_line(d);
    let rest = line.strip_prefix("+OK")?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    Some(Found {
        product: mail_product(rest, "pop3d"),
        ..Found::default()
    })
}

fn imap(d: &[u8]) -> Option<Found> {
    if !printable_line(d) {
        return None;
    }
    let line = first_line(d);
    let rest = line
        .strip_prefix("* OK")
        .or_else(|| line.strip_prefix("* PREAUTH"))?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    Some(Found {
        product: mail_product(rest, "imapd"),
        ..Found::default()
    })
}

fn xmpp(d: &[u8]) -> Option<Found> {
    let t = String::from_utf8_lossy(d);
    (t.starts_with("<?xml") && t.contains("<stream:stream")).then(Found::default)
}

fn ftp_or_smtp(d: &[u8]) -> Option<Found> {
    if !printable_line(d) {
        return None;
    }
    let line = first_line(d);
    let rest = line
        .strip_prefix("220-")
        .or_else(|| line.strip_prefix("220 "))
        .or_else(|| (line == "220").then_some(""))?;
    let lower = rest.to_ascii_lowercase();
    let after = |word: &str| -> Option<String> {
        let i = lower.find(&word.to_ascii_lowercase())? + word.len();
        version_token(rest.get(i..)?)
    };
    // FTP servers first: their greetings name the software plainly.
    if lower.contains("vsftpd") {
        return Some(Found::pv("vsftpd", after("vsftpd ")));
    }
    if lower.contains("proftpd") {
        return Some(Found::pv("ProFTPD", after("proftpd ")));
    }
    if lower.contains("pure-ftpd") {
        return Some(Found::product("Pure-FTPd"));
    }
    if lower.contains("filezilla") {
        return Some(Found::pv("FileZilla ftpd", after("filezilla server ")));
    }
    let smtp = |product: Option<String>, version: Option<String>| Found {
        protocol: Some("smtp"),
        product,
        version,
        ..Found::default()
    };
    if lower.contains("postfix") {
        return Some(smtp(Some("Postfix smtpd".into()), None));
    }
    if lower.contains("exim") {
        return Some(smtp(Some("Exim smtpd".into()), after("exim ")));
    }
    if lower.contains("sendmail") {
        return Some(smtp(Some("Sendmail".into()), after("sendmail ")));
    }
    if lower.contains("opensmtpd") {
        return Some(smtp(Some("OpenSMTPD".into()), None));
    }
    if lower.contains("ftp") {
        return Some(Found::default());
    }
    if lower.contains("smtp") || lower.contains("mail") {
        return Some(smtp(None, None));
    }
    Some(Found {
        protocol: Some("ftp-or-smtp"),
        ..Found::default()
    })
}

/// A length-prefixed (`u32`, big-endian) long string after `key` in an
/// AMQP field table: `<len u8>key 'S' <len u32> value`.
fn amqp_field(d: &[u8], key: &[u8]) -> Option<String> {
    let mut pat = vec![u8::try_from(key.len()).ok()?];
    pat.extend_from_slice(key);
    pat.push(b'S');
    let at = d.windows(pat.len()).position(|w| w == pat.as_slice())? + pat.len();
    let len = u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?);
    let len = usize::try_from(len).ok()?.min(80);
    let v = d.get(at + 4..at + 4 + len)?;
    std::str::from_utf8(v).ok().map(str::to_string)
}

fn amqp(d: &[u8]) -> Option<Found> {
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
fn skip_name(m: &[u8], mut i: usize) -> Option<usize> {
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

fn dns_tcp(d: &[u8]) -> Option<Found> {
    let len = usize::from(u16::from_be_bytes([*d.first()?, *d.get(1)?]));
    let m = d.get(2..)?;
    if len < 12 || m.len() < len.min(m.len()) || len > 65535 {
        return None;
    }
    dns_response(m.get(..len.min(m.len()))?, DNS_ID)
}

/// A BER length at `i`: (length, index after it).
fn ber_len(d: &[u8], i: usize) -> Option<(usize, usize)> {
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
fn ldap_attr(d: &[u8], name: &[u8]) -> Option<String> {
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

fn ldap(d: &[u8]) -> Option<Found> {
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
fn pg_message(d: &[u8]) -> Option<(u8, &[u8])> {
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
fn postgres(d: &[u8]) -> Option<Found> {
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

fn smux(d: &[u8]) -> Option<Found> {
    // The ClosePDU names no software: the protocol is all it tells.
    (d.len() == 3 && d[0] == 0x41 && d[1] == 0x01 && d[2] <= 5).then(Found::default)
}

fn mqtt(d: &[u8]) -> Option<Found> {
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

fn smb(d: &[u8]) -> Option<Found> {
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

fn rdp(d: &[u8]) -> Option<Found> {
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

fn kafka(d: &[u8]) -> Option<Found> {
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

fn mongo(d: &[u8]) -> Option<Found> {
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

fn elasticsearch(d: &[u8]) -> Option<Found> {
    let line = first_line(d);
    if !line.starts_with("HTTP/1.") || !line.contains(" 200") {
        return None;
    }
    let t = String::from_utf8_lossy(d);
    let body = t.split_once("\r\n\r\n")?.1;
    if !body.trim_start().starts_with('{') || !body.contains("\"cluster_name\"") {
        return None;
    }
    let version = body
        .find("\"version\"")
        .and_then(|i| json_str(body.get(i..)?, "number"))
        .and_then(|v| version_token(&v))?;
    let product = match json_str(body, "distribution").as_deref() {
        Some("opensearch") => "OpenSearch",
        _ => "Elasticsearch",
    };
    Some(Found::pv(product, Some(version)))
}

#[cfg(test)]
mod tests;
