//! Splits filter words into tokens, each with its column in the expression.
//!
//! ss splits its arguments only at blanks; we also split at operator
//! characters, so `sport>:1024` and `(sport = :22)` work, while every command
//! line ss accepts tokenizes the same way. This module only cuts text: it does
//! not know which word may follow which (see `parser`).

/// Comparison operators, in ss's spellings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    /// `=`, `==`, `eq`.
    Eq,
    /// `!=`, `ne`, `neq`.
    Ne,
    /// `<`, `lt`.
    Lt,
    /// `>`, `gt`.
    Gt,
    /// `<=`, `le`, `leq`.
    Le,
    /// `>=`, `ge`, `geq`.
    Ge,
}

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `!`, `not`.
    Not,
    /// `&`, `&&`, `and`.
    And,
    /// `|`, `||`, `or`.
    Or,
    /// A comparison operator.
    Op(CmpOp),
    /// Anything else: a keyword or an operand.
    Word,
}

/// One token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    /// What it is.
    pub kind: Kind,
    /// Its text, with backslash escapes removed.
    pub text: String,
    /// 1-based column (in characters) of its first character in the joined expression.
    pub col: usize,
}

const OPERATOR_CHARS: &[char] = &['(', ')', '!', '=', '<', '>', '&', '|'];

/// Cuts `words` into tokens. Columns count characters of `words.join(" ")`.
pub(crate) fn tokenize(words: &[String]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut base = 1;
    for word in words {
        lex_word(word, base, &mut out);
        base += word.chars().count() + 1;
    }
    out
}

fn lex_word(word: &str, base: usize, out: &mut Vec<Token>) {
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let col = base + i;
        let next = chars.get(i + 1).copied();
        let two = |kind| (kind, 2);
        let op = match (c, next) {
            ('!', Some('=')) => Some(two(Kind::Op(CmpOp::Ne))),
            ('=', Some('=')) => Some(two(Kind::Op(CmpOp::Eq))),
            ('<', Some('=')) => Some(two(Kind::Op(CmpOp::Le))),
            ('>', Some('=')) => Some(two(Kind::Op(CmpOp::Ge))),
            ('&', Some('&')) => Some(two(Kind::And)),
            ('|', Some('|')) => Some(two(Kind::Or)),
            ('(', _) => Some((Kind::LParen, 1)),
            (')', _) => Some((Kind::RParen, 1)),
            ('!', _) => Some((Kind::Not, 1)),
            ('=', _) => Some((Kind::Op(CmpOp::Eq), 1)),
            ('<', _) => Some((Kind::Op(CmpOp::Lt), 1)),
            ('>', _) => Some((Kind::Op(CmpOp::Gt), 1)),
            ('&', _) => Some((Kind::And, 1)),
            ('|', _) => Some((Kind::Or, 1)),
            _ => None,
        };
        if let Some((kind, len)) = op {
            out.push(Token {
                kind,
                text: chars[i..i + len].iter().collect(),
                col,
            });
            i += len;
            continue;
        }
        // A unix socket pattern may hold any character but a blank (paths,
        // `[!a-z]` globs), so it runs to the next blank as it does in ss.
        let to_blank = starts_with(&chars[i..], "unix:");
        let mut text = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() || (!to_blank && OPERATOR_CHARS.contains(&c)) {
                break;
            }
            if c == '\\' {
                // As in ss: a backslash makes the next character literal.
                i += 1;
                if let Some(&escaped) = chars.get(i) {
                    text.push(escaped);
                    i += 1;
                }
                continue;
            }
            text.push(c);
            i += 1;
        }
        // A lone backslash leaves nothing; ss skips empty tokens too.
        if !text.is_empty() {
            out.push(Token {
                kind: keyword_kind(&text),
                text,
                col,
            });
        }
    }
}

fn starts_with(chars: &[char], prefix: &str) -> bool {
    let mut it = chars.iter();
    prefix.chars().all(|p| it.next() == Some(&p))
}

/// The words ss itself treats as operators wherever they appear.
fn keyword_kind(word: &str) -> Kind {
    match word {
        "not" => Kind::Not,
        "and" => Kind::And,
        "or" => Kind::Or,
        "eq" => Kind::Op(CmpOp::Eq),
        "ne" | "neq" => Kind::Op(CmpOp::Ne),
        "lt" => Kind::Op(CmpOp::Lt),
        "gt" => Kind::Op(CmpOp::Gt),
        "le" | "leq" => Kind::Op(CmpOp::Le),
        "ge" | "geq" => Kind::Op(CmpOp::Ge),
        _ => Kind::Word,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|s| s.to_string()).collect()
    }

    fn kinds_texts_cols(ws: &[&str]) -> Vec<(Kind, String, usize)> {
        tokenize(&words(ws))
            .into_iter()
            .map(|t| (t.kind, t.text, t.col))
            .collect()
    }

    #[test]
    fn separate_words_keep_columns() {
        let toks = kinds_texts_cols(&["sport", "=", ":22"]);
        assert_eq!(
            toks,
            vec![
                (Kind::Word, "sport".into(), 1),
                (Kind::Op(CmpOp::Eq), "=".into(), 7),
                (Kind::Word, ":22".into(), 9),
            ]
        );
    }

    #[test]
    fn operators_split_inside_a_word() {
        let toks = kinds_texts_cols(&["sport>:1024"]);
        assert_eq!(
            toks,
            vec![
                (Kind::Word, "sport".into(), 1),
                (Kind::Op(CmpOp::Gt), ">".into(), 6),
                (Kind::Word, ":1024".into(), 7),
            ]
        );
        let toks = kinds_texts_cols(&["(sport!=:22)||!dst=[::1]:80"]);
        let kinds: Vec<Kind> = toks.iter().map(|t| t.0).collect();
        assert_eq!(
            kinds,
            vec![
                Kind::LParen,
                Kind::Word,
                Kind::Op(CmpOp::Ne),
                Kind::Word,
                Kind::RParen,
                Kind::Or,
                Kind::Not,
                Kind::Word,
                Kind::Op(CmpOp::Eq),
                Kind::Word,
            ]
        );
        assert_eq!(toks[9].1, "[::1]:80");
        assert_eq!(toks[9].2, 20);
    }

    #[test]
    fn blanks_inside_a_word_split_it() {
        let toks = kinds_texts_cols(&["( sport = :22 )"]);
        let cols: Vec<usize> = toks.iter().map(|t| t.2).collect();
        assert_eq!(cols, vec![1, 3, 9, 11, 15]);
    }

    #[test]
    fn every_operator_spelling() {
        let cases: &[(&str, Kind)] = &[
            ("=", Kind::Op(CmpOp::Eq)),
            ("==", Kind::Op(CmpOp::Eq)),
            ("eq", Kind::Op(CmpOp::Eq)),
            ("!=", Kind::Op(CmpOp::Ne)),
            ("ne", Kind::Op(CmpOp::Ne)),
            ("neq", Kind::Op(CmpOp::Ne)),
            ("<", Kind::Op(CmpOp::Lt)),
            ("lt", Kind::Op(CmpOp::Lt)),
            (">", Kind::Op(CmpOp::Gt)),
            ("gt", Kind::Op(CmpOp::Gt)),
            ("<=", Kind::Op(CmpOp::Le)),
            ("le", Kind::Op(CmpOp::Le)),
            ("leq", Kind::Op(CmpOp::Le)),
            (">=", Kind::Op(CmpOp::Ge)),
            ("ge", Kind::Op(CmpOp::Ge)),
            ("geq", Kind::Op(CmpOp::Ge)),
            ("!", Kind::Not),
            ("not", Kind::Not),
            ("&", Kind::And),
            ("&&", Kind::And),
            ("and", Kind::And),
            ("|", Kind::Or),
            ("||", Kind::Or),
            ("or", Kind::Or),
            ("(", Kind::LParen),
            (")", Kind::RParen),
            ("sport", Kind::Word),
            ("AND", Kind::Word),
        ];
        for (text, kind) in cases {
            let toks = tokenize(&words(&[text]));
            assert_eq!(toks.len(), 1, "{text}");
            assert_eq!(toks[0].kind, *kind, "{text}");
        }
    }

    #[test]
    fn unix_patterns_run_to_the_blank() {
        let toks = kinds_texts_cols(&["src", "unix:/run/a(1)*[!x]", ")"]);
        assert_eq!(toks[1], (Kind::Word, "unix:/run/a(1)*[!x]".into(), 5));
        assert_eq!(toks[2].0, Kind::RParen);
    }

    #[test]
    fn backslash_escapes() {
        let toks = kinds_texts_cols(&["a\\(b\\ c", "d\\", "\\"]);
        assert_eq!(toks.len(), 2);
        assert_eq!(toks[0], (Kind::Word, "a(b c".into(), 1));
        assert_eq!(toks[1], (Kind::Word, "d".into(), 9));
    }

    #[test]
    fn empty_and_blank_words() {
        assert!(tokenize(&words(&[])).is_empty());
        assert!(tokenize(&words(&["", "  "])).is_empty());
        let toks = kinds_texts_cols(&["", "x"]);
        assert_eq!(toks, vec![(Kind::Word, "x".into(), 2)]);
    }

    #[test]
    fn columns_count_characters() {
        let toks = kinds_texts_cols(&["é", "x"]);
        assert_eq!(toks[1].2, 3);
    }
}
