//! Which protocol a service speaks, and which software version it gives
//! away, from the bytes it sent: its greeting, or its answer to a probe.
//! Pure functions over bytes, shared by `scan` and anything else that wants
//! to name what answers on a port. No I/O here.

pub use crate::matches::{Identity, header};

/// Names the protocol of whatever a TCP service sent unasked (its
/// greeting), by the greeting rows of the [match table](crate::matches).
pub fn from_tcp(data: &[u8]) -> Option<Identity> {
    crate::matches::identify(data, None)
}

/// Whether the bytes open a TLS record (handshake or alert, any version).
pub fn is_tls_record(data: &[u8]) -> bool {
    data.len() >= 3 && matches!(data[0], 0x15 | 0x16) && data[1] == 0x03 && data[2] <= 0x04
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
