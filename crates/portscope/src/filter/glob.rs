//! Shell-style wildcard matching for `process` names and `unix:` patterns:
//! `*`, `?`, `[abc]`, `[a-z]`, `[!x]`/`[^x]`, and `\` to quote.
//!
//! Like fnmatch without FNM_PATHNAME: `*` also matches `/`. Runs in
//! O(pattern × text) time whatever the input, so hostile patterns cannot
//! stall a listing.

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Star,
    Any,
    Lit(char),
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Glob {
    pieces: Vec<Piece>,
    fold_case: bool,
}

impl Glob {
    /// Compiles `pattern`; with `fold_case`, letters match either case.
    pub(crate) fn new(pattern: &str, fold_case: bool) -> Glob {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pieces = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '*' => {
                    if pieces.last() != Some(&Piece::Star) {
                        pieces.push(Piece::Star);
                    }
                }
                '?' => pieces.push(Piece::Any),
                '\\' => {
                    let lit = chars.get(i).copied().unwrap_or('\\');
                    i += 1;
                    pieces.push(Piece::Lit(lit));
                }
                '[' => match class(&chars[i..]) {
                    Some((piece, used)) => {
                        pieces.push(piece);
                        i += used;
                    }
                    // An unclosed '[' is an ordinary character, as in fnmatch.
                    None => pieces.push(Piece::Lit('[')),
                },
                c => pieces.push(Piece::Lit(c)),
            }
        }
        Glob { pieces, fold_case }
    }

    /// Whether the whole of `text` matches. Allocates nothing: it runs once
    /// per socket.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let (mut p, mut t) = (0, 0);
        // Where to resume after the last '*': (piece after it, byte offset in text).
        let mut resume: Option<(usize, usize)> = None;
        while let Some(c) = text[t..].chars().next() {
            match self.pieces.get(p) {
                Some(Piece::Star) => {
                    resume = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                Some(piece) if self.one(piece, c) => {
                    p += 1;
                    t += c.len_utf8();
                    continue;
                }
                _ => {}
            }
            let Some((rp, rt)) = resume else {
                return false;
            };
            // Let the last '*' swallow one more character and retry.
            let skipped = text[rt..].chars().next().map_or(1, char::len_utf8);
            p = rp;
            t = rt + skipped;
            resume = Some((rp, t));
        }
        self.pieces
            .get(p..)
            .is_some_and(|tail| tail.iter().all(|piece| *piece == Piece::Star))
    }

    fn one(&self, piece: &Piece, c: char) -> bool {
        match piece {
            Piece::Star => false,
            Piece::Any => true,
            Piece::Lit(l) => self.same(*l, c),
            Piece::Class { negated, ranges } => {
                let hit = ranges.iter().any(|&(lo, hi)| {
                    (lo..=hi).contains(&c)
                        || (self.fold_case
                            && ((lo..=hi).contains(&c.to_ascii_lowercase())
                                || (lo..=hi).contains(&c.to_ascii_uppercase())))
                });
                hit != *negated
            }
        }
    }

    fn same(&self, a: char, b: char) -> bool {
        a == b || (self.fold_case && a.eq_ignore_ascii_case(&b))
    }
}

/// Reads a bracket class starting just after its '['; returns it and how
/// many characters it used (including the closing ']').
fn class(chars: &[char]) -> Option<(Piece, usize)> {
    let mut i = 0;
    let negated = matches!(chars.first(), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(i)?;
        // A ']' right after the opening is a member, not the end.
        if c == ']' && !first {
            return Some((Piece::Class { negated, ranges }, i + 1));
        }
        first = false;
        let lo = c;
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&h| h != ']') {
            let hi = chars[i + 2];
            ranges.push((lo, hi));
            i += 3;
        } else {
            ranges.push((lo, lo));
            i += 1;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::Glob;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p, false).matches(t)
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("sshd", "sshd"));
        assert!(!m("sshd", "sshd2"));
        assert!(m("ssh*", "sshd"));
        assert!(m("ssh*", "ssh"));
        assert!(m("*d", "sshd"));
        assert!(m("s?hd", "sshd"));
        assert!(!m("s?hd", "shd"));
        assert!(m("*", ""));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("*/run/*", "/x/run/y"));
        assert!(m("**a", "a"));
    }

    #[test]
    fn classes_and_escapes() {
        assert!(m("[abc]x", "bx"));
        assert!(!m("[abc]x", "dx"));
        assert!(m("[a-c]", "b"));
        assert!(m("[!a-c]", "d"));
        assert!(!m("[^a-c]", "a"));
        assert!(m("[]]", "]"));
        assert!(m("[", "["));
        assert!(m("a[", "a["));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "x"));
        assert!(m("x\\", "x\\"));
    }

    #[test]
    fn case_folding() {
        assert!(Glob::new("/RUN/*", true).matches("/run/x"));
        assert!(!Glob::new("/RUN/*", false).matches("/run/x"));
        assert!(Glob::new("[A-Z]x", true).matches("qx"));
    }

    #[test]
    fn many_stars_stay_fast() {
        let pattern = "*a".repeat(200);
        let text = "a".repeat(199) + "b";
        assert!(!m(&pattern, &text));
    }
}
