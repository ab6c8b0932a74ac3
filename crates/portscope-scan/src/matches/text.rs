//! Recognisers of line-based protocols: greetings a server sends as text
//! (SSH, FTP, SMTP, POP3, IMAP, XMPP, Redis, memcached, NATS, rsync, VNC) and
//! HTTP replies (servers, Elasticsearch). Each checks the framing before it
//! reads a product or version, so random text names nothing.

use super::{Found, first_line, printable_line, version_token};

pub(super) fn ssh(d: &[u8]) -> Option<Found> {
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
pub(super) fn server_software(s: &str) -> Found {
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

pub(super) fn http(d: &[u8]) -> Option<Found> {
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

pub(super) fn vnc(d: &[u8]) -> Option<Found> {
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

pub(super) fn rsync(d: &[u8]) -> Option<Found> {
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
pub(super) fn json_str(t: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\":");
    let at = t.find(&pat)? + pat.len();
    let rest = t.get(at..)?.trim_start().strip_prefix('"')?;
    let end = rest.find(['"', '\\'])?;
    Some(rest.get(..end)?.to_string())
}

pub(super) fn nats(d: &[u8]) -> Option<Found> {
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

pub(super) fn redis(d: &[u8]) -> Option<Found> {
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

pub(super) fn memcached(d: &[u8]) -> Option<Found> {
    if !printable_line(d) || !d.ends_with(b"\r\n") {
        return None;
    }
    let line = first_line(d);
    let v = version_token(line.strip_prefix("VERSION ")?)?;
    Some(Found::pv("memcached", Some(v)))
}

/// Mail servers by the name they greet with: (word, product).
pub(super) fn mail_product(text: &str, kind: &str) -> Option<String> {
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

pub(super) fn pop3(d: &[u8]) -> Option<Found> {
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

pub(super) fn imap(d: &[u8]) -> Option<Found> {
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

pub(super) fn xmpp(d: &[u8]) -> Option<Found> {
    let t = String::from_utf8_lossy(d);
    (t.starts_with("<?xml") && t.contains("<stream:stream")).then(Found::default)
}

pub(super) fn ftp_or_smtp(d: &[u8]) -> Option<Found> {
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

pub(super) fn elasticsearch(d: &[u8]) -> Option<Found> {
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
