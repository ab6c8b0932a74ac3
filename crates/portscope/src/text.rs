//! Untrusted text: bytes some other party chose (process names, command
//! lines, paths, unix socket names, user names read from files, banners,
//! certificate names), and the one way to show them to a person.
//!
//! [`Text`] has no `Display` and no `&str` accessor meant for people. Human
//! output gets it only through [`Text::escaped`] (or [`Text::bounded`] for
//! values that may be long), which makes every control character and every
//! invalid UTF-8 byte visible and unambiguous:
//!
//! | bytes                         | shown as          |
//! |-------------------------------|-------------------|
//! | `\` (backslash)               | `\\`              |
//! | newline, tab, carriage return | `\n`, `\t`, `\r`  |
//! | other C0 controls, DEL        | `\xNN` (`\x1b`)   |
//! | C1 controls (U+0080–U+009F)   | their UTF-8 bytes, `\xc2\x9b` |
//! | bidi controls (U+202E, …)     | `\u{202e}`        |
//! | invalid UTF-8                 | each byte `\xNN`  |
//! | any other character           | itself            |
//!
//! [`unescape`] turns the escaped form back into the exact bytes, so the
//! escaped form is also what CSV carries.
//!
//! JSON (through `serde`) carries the exact bytes: a string when they are
//! valid UTF-8, and otherwise an object `{"lossy": "caf\ufffd", "hex":
//! "636166ff"}`, the text with U+FFFD for each invalid sequence beside every
//! byte in hex. Both forms read back to the same bytes.
//!
//! ```
//! use portscope::text::{Text, unescape};
//! let t = Text::from("a\x1b[2J\nb\\");
//! assert_eq!(t.escaped().to_string(), r"a\x1b[2J\nb\\");
//! let bad = Text::from(b"caf\xff".to_vec());
//! assert_eq!(bad.escaped().to_string(), r"caf\xff");
//! assert_eq!(unescape(&bad.escaped().to_string()).as_deref(), Some(&b"caf\xff"[..]));
//! ```

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// Bytes chosen by someone else: shown to people only escaped.
///
/// Ordered and compared by bytes.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(Box<[u8]>);

impl Text {
    /// The exact bytes, for matching and machine formats; never print them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when the bytes are valid UTF-8 (then JSON carries them as is).
    pub fn is_utf8(&self) -> bool {
        std::str::from_utf8(&self.0).is_ok()
    }

    /// The text with invalid UTF-8 replaced by U+FFFD: for matching (filters,
    /// globs) and for JSON's `lossy` beside [`Text::hex`]. Control characters
    /// are kept, so it is not for people, and not public: outside this crate
    /// text becomes a `str` only escaped (or as JSON).
    pub(crate) fn to_str_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// The exact bytes as lowercase hex (JSON's lossless form for text that is
    /// not UTF-8).
    ///
    /// ```
    /// use portscope::text::Text;
    /// let t = Text::from(b"a\xff".to_vec());
    /// assert_eq!(t.hex(), "61ff");
    /// assert_eq!(Text::from_hex("61ff"), Some(t));
    /// ```
    pub fn hex(&self) -> String {
        let mut s = String::with_capacity(self.0.len() * 2);
        for b in self.0.iter() {
            let _ = write!(s, "{b:02x}");
        }
        s
    }

    /// Reads [`Text::hex`] back; `None` unless it is an even number of hex digits.
    pub fn from_hex(hex: &str) -> Option<Text> {
        let h = hex.as_bytes();
        if !h.len().is_multiple_of(2) {
            return None;
        }
        let digit = |c: u8| {
            char::from(c)
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok())
        };
        h.chunks_exact(2)
            .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
            .collect::<Option<Vec<u8>>>()
            .map(Text::from)
    }

    /// The text made safe for a person: see the [module docs](self).
    pub fn escaped(&self) -> Escaped<'_> {
        escape(&self.0)
    }

    /// [`Text::escaped`], cut after `max` characters of escaped output with
    /// `…(+N bytes)` saying how many bytes of the value were left out.
    ///
    /// ```
    /// use portscope::text::Text;
    /// let t = Text::from("x".repeat(100));
    /// assert_eq!(t.bounded(4).to_string(), "xxxx…(+96 bytes)");
    /// assert_eq!(Text::from("short").bounded(10).to_string(), "short");
    /// ```
    pub fn bounded(&self, max: usize) -> Bounded<'_> {
        Bounded {
            bytes: &self.0,
            max,
            also: b"",
        }
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.escaped())
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(s.as_bytes().into())
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(s.into_bytes().into_boxed_slice())
    }
}

impl From<&[u8]> for Text {
    fn from(b: &[u8]) -> Text {
        Text(b.into())
    }
}

impl From<Vec<u8>> for Text {
    fn from(b: Vec<u8>) -> Text {
        Text(b.into_boxed_slice())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(s) => ser.serialize_str(s),
            Err(_) => {
                use serde::ser::SerializeStruct;
                let mut obj = ser.serialize_struct("Text", 2)?;
                obj.serialize_field("lossy", &self.to_str_lossy())?;
                obj.serialize_field("hex", &self.hex())?;
                obj.end()
            }
        }
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Text, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Str(String),
            Bytes { hex: String },
        }
        match Wire::deserialize(de)? {
            Wire::Str(s) => Ok(Text::from(s)),
            Wire::Bytes { hex } => Text::from_hex(&hex)
                .ok_or_else(|| serde::de::Error::custom("text: \"hex\" is not hex digits")),
        }
    }
}

/// Escapes bytes that are not (yet) a [`Text`], such as a banner read from
/// the network.
pub fn escape(bytes: &[u8]) -> Escaped<'_> {
    Escaped { bytes, also: b"" }
}

/// Untrusted bytes shown safely: `Display` writes the escaped form.
#[derive(Clone, Copy, Debug)]
pub struct Escaped<'a> {
    bytes: &'a [u8],
    also: &'static [u8],
}

impl Escaped<'_> {
    /// Also escapes these ASCII bytes as `\xNN` (CSV uses it for its own
    /// separators, so a name can't forge one).
    pub fn also(self, bytes: &'static [u8]) -> Self {
        Escaped {
            also: bytes,
            ..self
        }
    }
}

impl fmt::Display for Escaped<'_> {
    /// Honours width and alignment (`{:<20}`), measured on the escaped form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.width().is_some() {
            let mut s = String::new();
            write_escaped(&mut s, self.bytes, self.also, usize::MAX)?;
            return f.pad(&s);
        }
        write_escaped(f, self.bytes, self.also, usize::MAX).map(|_| ())
    }
}

/// A [`Text::bounded`] value.
#[derive(Clone, Copy, Debug)]
pub struct Bounded<'a> {
    bytes: &'a [u8],
    max: usize,
    also: &'static [u8],
}

impl Bounded<'_> {
    /// Also escapes these ASCII bytes, as [`Escaped::also`].
    pub fn also(self, bytes: &'static [u8]) -> Self {
        Bounded {
            also: bytes,
            ..self
        }
    }
}

impl fmt::Display for Bounded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let used = write_escaped(f, self.bytes, self.also, self.max)?;
        let left = self.bytes.len() - used;
        if left > 0 {
            write!(f, "…(+{left} bytes)")?;
        }
        Ok(())
    }
}

/// A character that is printable but reorders or hides text around it.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Writes the escaped form of `bytes`, at most `max` output characters of
/// it (an escape is never split); returns how many input bytes were written.
fn write_escaped(
    f: &mut dyn fmt::Write,
    bytes: &[u8],
    also: &[u8],
    max: usize,
) -> Result<usize, fmt::Error> {
    // Fast path: printable ASCII with nothing to escape is written as is.
    if bytes.len() <= max
        && bytes
            .iter()
            .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\' && !also.contains(&b))
    {
        // All bytes are ASCII, so this is valid UTF-8.
        f.write_str(std::str::from_utf8(bytes).map_err(|_| fmt::Error)?)?;
        return Ok(bytes.len());
    }
    let mut out = 0usize; // characters written
    let mut used = 0usize; // input bytes consumed
    let mut emit = |f: &mut dyn fmt::Write, s: &str, n_in: usize| -> Result<bool, fmt::Error> {
        let n_out = s.chars().count();
        if out + n_out > max {
            return Ok(false);
        }
        f.write_str(s)?;
        out += n_out;
        used += n_in;
        Ok(true)
    };
    let mut buf = String::with_capacity(16);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            buf.clear();
            match c {
                '\\' => buf.push_str(r"\\"),
                '\n' => buf.push_str(r"\n"),
                '\t' => buf.push_str(r"\t"),
                '\r' => buf.push_str(r"\r"),
                c if c.is_control() => {
                    let mut enc = [0u8; 4];
                    for b in c.encode_utf8(&mut enc).bytes() {
                        let _ = write!(buf, "\\x{b:02x}");
                    }
                }
                c if is_bidi_control(c) => {
                    let _ = write!(buf, "\\u{{{:x}}}", u32::from(c));
                }
                c if c.is_ascii() && also.contains(&(c as u8)) => {
                    let _ = write!(buf, "\\x{:02x}", c as u8);
                }
                c => buf.push(c),
            }
            if !emit(f, &buf, c.len_utf8())? {
                return Ok(used);
            }
        }
        for b in chunk.invalid() {
            buf.clear();
            let _ = write!(buf, "\\x{b:02x}");
            if !emit(f, &buf, 1)? {
                return Ok(used);
            }
        }
    }
    Ok(used)
}

/// Turns an escaped form back into the exact bytes; `None` if `s` is not
/// something [`Text::escaped`] could have written.
///
/// ```
/// use portscope::text::unescape;
/// assert_eq!(unescape(r"a\x3bb\n\\").as_deref(), Some(&b"a;b\n\\"[..]));
/// assert_eq!(unescape(r"\u{202e}").as_deref(), Some("\u{202e}".as_bytes()));
/// assert_eq!(unescape(r"\q"), None);
/// ```
pub fn unescape(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.extend_from_slice(rest.get(..i)?.as_bytes());
        let tail = rest.get(i + 1..)?;
        let mut chars = tail.chars();
        let consumed = match chars.next()? {
            '\\' => {
                out.push(b'\\');
                1
            }
            'n' => {
                out.push(b'\n');
                1
            }
            't' => {
                out.push(b'\t');
                1
            }
            'r' => {
                out.push(b'\r');
                1
            }
            'x' => {
                let hex = tail.get(1..3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                3
            }
            'u' => {
                let body = tail.strip_prefix("u{")?;
                let end = body.find('}')?;
                let c = char::from_u32(u32::from_str_radix(body.get(..end)?, 16).ok()?)?;
                let mut enc = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut enc).as_bytes());
                end + 3
            }
            _ => return None,
        };
        rest = tail.get(consumed..)?;
    }
    out.extend_from_slice(rest.as_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(b: &[u8]) -> String {
        escape(b).to_string()
    }

    #[test]
    fn controls_are_visible() {
        assert_eq!(esc(b"\x1b[2J\x1b[H"), r"\x1b[2J\x1b[H");
        assert_eq!(esc(b"a\nb\tc\rd\x07e\x7f\0"), r"a\nb\tc\rd\x07e\x7f\x00");
        assert_eq!(esc("x\u{9b}y".as_bytes()), r"x\xc2\x9by");
        assert_eq!(esc("\u{202e}abc".as_bytes()), r"\u{202e}abc");
        assert_eq!(esc("héllo ✓ 日本".as_bytes()), "héllo ✓ 日本");
        assert_eq!(esc(br"\x1b"), r"\\x1b");
        assert_eq!(esc(b"\xff\xfe"), r"\xff\xfe");
        assert_eq!(escape(b"1:2;3").also(b";:").to_string(), r"1\x3a2\x3b3");
        assert_eq!(format!("[{:<6}]", escape(b"a\n")), r"[a\n   ]");
    }

    #[test]
    fn output_has_no_control_characters() {
        let all: Vec<u8> = (0..=255u8).collect();
        let s = esc(&all);
        assert!(!s.chars().any(char::is_control), "{s}");
        assert_eq!(unescape(&s), Some(all));
    }

    #[test]
    fn bounded_cuts_with_a_count() {
        let t = Text::from("ab\ncd");
        assert_eq!(t.bounded(3).to_string(), r"ab…(+3 bytes)");
        assert_eq!(t.bounded(4).to_string(), r"ab\n…(+2 bytes)");
        assert_eq!(t.bounded(100).to_string(), r"ab\ncd");
        assert_eq!(Text::from("abc").bounded(0).to_string(), "…(+3 bytes)");
    }

    #[test]
    fn hex_round_trips() {
        let t = Text::from(vec![0u8, 0xff, b'a']);
        assert_eq!(Text::from_hex(&t.hex()), Some(t));
        assert_eq!(Text::from_hex("0"), None);
        assert_eq!(Text::from_hex("zz"), None);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_is_exact() {
        let ok = Text::from("a\nb");
        assert_eq!(serde_json::to_string(&ok).expect("json"), r#""a\nb""#);
        let bad = Text::from(b"a\xff".to_vec());
        let j = serde_json::to_string(&bad).expect("json");
        assert_eq!(j, "{\"lossy\":\"a\u{fffd}\",\"hex\":\"61ff\"}");
        for t in [ok, bad] {
            let back: Text =
                serde_json::from_str(&serde_json::to_string(&t).expect("json")).expect("read back");
            assert_eq!(back, t);
        }
    }

    proptest::proptest! {
        #[test]
        fn escape_round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let s = escape(&bytes).also(b";:").to_string();
            proptest::prop_assert!(!s.chars().any(|c| c.is_control()));
            proptest::prop_assert_eq!(unescape(&s), Some(bytes));
        }

        #[test]
        fn unicode_round_trips(s in "\\PC*") {
            let t = Text::from(s.as_str());
            proptest::prop_assert_eq!(unescape(&t.escaped().to_string()), Some(s.into_bytes()));
        }
    }
}
