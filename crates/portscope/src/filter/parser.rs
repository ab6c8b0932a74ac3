//! Turns tokens into a state selection and an expression, following ss's
//! grammar (iproute2 `misc/ssfilter.y` and the `state`/`exclude` loop of
//! `misc/ss.c`):
//!
//! ```text
//! filter   := { ("state" | "exclude" | "excl") STATE } [ list ]
//! list     := term { [ "and" | "&" | "&&" | "or" | "|" | "||" ] term }
//! term     := "(" list ")" | ("!" | "not") term | predicate
//! predicate:= ("src" | "dst") [ "=" | "!=" ] HOST
//!           | ("sport" | "dport") [ "=" | "!=" | "<" | ">" | "<=" | ">=" ] PORT
//!           | "dev" [ "=" | "!=" ] NAME|INDEX
//!           | ("process" | "pid" | "user" | "service" | "class") [ "=" | "!=" ] VALUE
//!           | ("netns" | "container") [ "=" | "!=" ] NAME
//! ```
//!
//! `and` and `or` have the same precedence and group from the left, a term
//! with no operator before it is joined with `and`, and `!` binds to the
//! single term after it — all as in ss. Evaluation is elsewhere (`eval`).

use super::Fail;
use super::ast::{Atom, BoolOp, Expr, Order, Side};
use super::glob::Glob;
use super::lexer::{CmpOp, Kind, Token};
use super::operand::{self, HostOperand};
use super::states;
use crate::model::{Family, StateSet};
use crate::services::{self, PortClass};

/// Deepest nesting of parentheses and `not`s accepted; keeps recursion bounded.
const MAX_DEPTH: usize = 256;

/// What a filter says.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// The expression, if any.
    pub expr: Option<Expr>,
    /// States selected by `state`/`exclude` words, if any.
    pub states: Option<StateSet>,
    /// The only family to show, when an `inet:`, `inet6:` or `unix:` operand
    /// named one (ss narrows the whole listing to it; the last one wins).
    pub family: Option<Family>,
    /// True if a `dev` predicate is present: ss then cannot hand the
    /// expression to the kernel and judges it in user space only.
    pub has_dev: bool,
}

/// Parses `tokens`; `end_col` is the column just past the expression's end.
pub(crate) fn parse(tokens: &[Token], end_col: usize) -> Result<Parsed, Fail> {
    let mut p = Parser {
        toks: tokens,
        pos: 0,
        end_col,
        depth: 0,
        out: Parsed::default(),
    };
    p.state_words()?;
    if p.peek().is_some() {
        let expr = p.list()?;
        if let Some(t) = p.peek() {
            // `list` stops only at the end or at a ')'.
            return Err(Fail::new("unmatched ')'", t.col));
        }
        p.out.expr = Some(expr);
    }
    Ok(p.out)
}

struct Parser<'a> {
    toks: &'a [Token],
    pos: usize,
    end_col: usize,
    depth: usize,
    out: Parsed,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<&'a Token> {
        let t = self.toks.get(self.pos);
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    /// ss reads `state X` and `exclude X` pairs only before the expression.
    fn state_words(&mut self) -> Result<(), Fail> {
        while let Some(word) = self.peek() {
            let exclude = match (word.kind, word.text.as_str()) {
                (Kind::Word, "state") => false,
                (Kind::Word, "exclude" | "excl") => true,
                _ => break,
            };
            self.pos += 1;
            let name = self.operand(word, "a state name")?;
            let Some(set) = states::lookup(&name.text) else {
                return Err(Fail::new(
                    format!("unknown state '{}' (known: {})", name.text, states::NAMES),
                    name.col,
                ));
            };
            // The first state word starts from nothing, the first exclude
            // from everything; later words add or remove.
            let current = self.out.states;
            let updated = if exclude {
                StateSet(current.unwrap_or(states::ALL).0 & !set.0)
            } else {
                StateSet(current.unwrap_or(StateSet::NONE).0 | set.0)
            };
            self.out.states = Some(states::normalize(updated));
        }
        Ok(())
    }

    /// The word after `after`, which must be an operand (not an operator).
    fn operand(&mut self, after: &Token, what: &str) -> Result<&'a Token, Fail> {
        match self.next() {
            Some(t) if t.kind == Kind::Word => Ok(t),
            Some(t) => Err(Fail::new(
                format!("expected {what} after '{}', found '{}'", after.text, t.text),
                t.col,
            )),
            None => Err(Fail::new(
                format!("expected {what} after '{}'", after.text),
                self.end_col,
            )),
        }
    }

    fn list(&mut self) -> Result<Expr, Fail> {
        let first = self.term(None)?;
        let mut rest = Vec::new();
        while let Some(t) = self.peek() {
            let op = match t.kind {
                Kind::RParen => break,
                Kind::And => Some(BoolOp::And),
                Kind::Or => Some(BoolOp::Or),
                _ => None,
            };
            match op {
                Some(op) => {
                    self.pos += 1;
                    rest.push((op, self.term(Some(t))?));
                }
                // Two terms side by side mean `and`.
                None => rest.push((BoolOp::And, self.term(None)?)),
            }
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Expr::Seq {
                first: Box::new(first),
                rest,
            }
        })
    }

    fn term(&mut self, after: Option<&Token>) -> Result<Expr, Fail> {
        let Some(t) = self.next() else {
            let message = match after {
                Some(op) => format!("expected an expression after '{}'", op.text),
                None => "expected an expression".to_string(),
            };
            return Err(Fail::new(message, self.end_col));
        };
        match t.kind {
            Kind::LParen => {
                if self.peek().is_some_and(|n| n.kind == Kind::RParen) {
                    return Err(Fail::new("empty parentheses", t.col));
                }
                let inner = self.nested(t, |p| p.list())?;
                match self.next() {
                    Some(close) if close.kind == Kind::RParen => Ok(inner),
                    Some(other) => Err(Fail::new("expected ')'", other.col)),
                    None => Err(Fail::new("unclosed '('", t.col)),
                }
            }
            Kind::Not => {
                let inner = self.nested(t, |p| p.term(Some(t)))?;
                Ok(Expr::Not(Box::new(inner)))
            }
            Kind::RParen => Err(Fail::new(
                match after {
                    Some(op) => format!("expected an expression after '{}', found ')'", op.text),
                    None => "unmatched ')'".to_string(),
                },
                t.col,
            )),
            Kind::And | Kind::Or => Err(Fail::new(
                match after {
                    Some(op) => format!(
                        "expected an expression after '{}', found '{}'",
                        op.text, t.text
                    ),
                    None => format!("expected an expression before '{}'", t.text),
                },
                t.col,
            )),
            Kind::Op(_) => Err(Fail::new(
                format!(
                    "unexpected '{}': expected a keyword such as sport, dport, src or dst before it",
                    t.text
                ),
                t.col,
            )),
            Kind::Word => self.predicate(t),
        }
    }

    fn nested<T>(
        &mut self,
        at: &Token,
        f: impl FnOnce(&mut Self) -> Result<T, Fail>,
    ) -> Result<T, Fail> {
        if self.depth >= MAX_DEPTH {
            return Err(Fail::new("expression is nested too deeply", at.col));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// An optional `=`/`!=` after `kw`; true for `!=`.
    fn eq_or_ne(&mut self, kw: &'a Token) -> Result<(bool, &'a Token), Fail> {
        match self.peek() {
            Some(t) if t.kind == Kind::Op(CmpOp::Eq) => {
                self.pos += 1;
                Ok((false, t))
            }
            Some(t) if t.kind == Kind::Op(CmpOp::Ne) => {
                self.pos += 1;
                Ok((true, t))
            }
            Some(t) if matches!(t.kind, Kind::Op(_)) => Err(Fail::new(
                format!("'{}' compares only with = or !=", kw.text),
                t.col,
            )),
            _ => Ok((false, kw)),
        }
    }

    fn predicate(&mut self, kw: &'a Token) -> Result<Expr, Fail> {
        let atom = |atom, negate| Ok(Expr::Atom { atom, negate });
        match kw.text.as_str() {
            "src" | "dst" => {
                let side = if kw.text == "src" {
                    Side::Local
                } else {
                    Side::Remote
                };
                let (negate, prev) = self.eq_or_ne(kw)?;
                let tok = self.operand(prev, "an address")?;
                match operand::host_operand(tok)? {
                    HostOperand::Inet {
                        port,
                        addrs,
                        family,
                    } => {
                        if family.is_some() {
                            self.out.family = family;
                        }
                        atom(Atom::Host { side, port, addrs }, negate)
                    }
                    HostOperand::Unix { pattern } => {
                        self.out.family = Some(Family::Unix);
                        // ss matches unix names with fnmatch(FNM_CASEFOLD).
                        let glob = Glob::new(&pattern, true);
                        atom(Atom::Unix { side, glob }, negate)
                    }
                }
            }
            "sport" | "dport" => {
                let side = if kw.text == "sport" {
                    Side::Local
                } else {
                    Side::Remote
                };
                let (op, prev) = match self.peek() {
                    Some(t) => match t.kind {
                        Kind::Op(op) => {
                            self.pos += 1;
                            (op, t)
                        }
                        _ => (CmpOp::Eq, kw),
                    },
                    None => (CmpOp::Eq, kw),
                };
                let tok = self.operand(prev, "a port")?;
                let port = operand::port_operand(tok)?;
                let order = match op {
                    CmpOp::Eq | CmpOp::Ne => {
                        let host = Atom::Host {
                            side,
                            port,
                            addrs: Vec::new(),
                        };
                        return atom(host, op == CmpOp::Ne);
                    }
                    CmpOp::Lt => Order::Lt,
                    CmpOp::Le => Order::Le,
                    CmpOp::Gt => Order::Gt,
                    CmpOp::Ge => Order::Ge,
                };
                let Some(port) = port else {
                    return Err(Fail::new(
                        format!("'{}' needs a port number, not '*'", prev.text),
                        tok.col,
                    ));
                };
                atom(Atom::PortCmp { side, order, port }, false)
            }
            "dev" => {
                let (negate, prev) = self.eq_or_ne(kw)?;
                let tok = self.operand(prev, "an interface name or index")?;
                let ifindex = interface_index(&tok.text).ok_or_else(|| {
                    Fail::new(format!("unknown network interface '{}'", tok.text), tok.col)
                })?;
                self.out.has_dev = true;
                atom(Atom::Dev { ifindex }, negate)
            }
            "process" => {
                let (negate, prev) = self.eq_or_ne(kw)?;
                let tok = self.operand(prev, "a process name")?;
                atom(
                    Atom::Process {
                        glob: Glob::new(&tok.text, false),
                    },
                    negate,
                )
            }
            "pid" => {
                let (negate, prev) = self.eq_or_ne(kw)?;
                let tok = self.operand(prev, "a process id")?;
                let pid = decimal_u32(&tok.text).ok_or_else(|| {
                    Fail::new(format!("'{}' is not a process id", tok.text), tok.col)
                })?;
                atom(Atom::Pid { pid }, negate)
            }
            "user" => {
                let (negate, prev) = self.eq_or_ne(kw)?;
                let tok = self.operand(prev, "a user name or uid")?;
                let user = match decimal_u32(&tok.text) {
                    Some(uid) => Atom::User {
                        uid: Some(uid),
                        name: None,
                    },
                    None if tok.text.chars().all(|c| c.is_ascii_digit()) => {
                        return Err(Fail::new(
                            format!("uid {} is out of range", tok.text),
                            tok.col,
                        ));
                    }
                    None => Atom::User {
                        uid: uzers::get_user_by_name(&tok.text).map(|u| u.uid()),
                        name: Some(tok.text.clone()),
                    },
                };
                atom(user, negate)
            }
            "service" => {
                let (negate, prev) = self.eq_or_ne(kw)?;
                let tok = self.operand(prev, "a service name")?;
                if services::by_name(&tok.text).is_empty() {
                    return Err(Fail::new(
                        format!("unknown service name '{}'", tok.text),
                        tok.col,
                    ));
                }
                atom(
                    Atom::Service {
                        name: tok.text.to_ascii_lowercase(),
                    },
                    negate,
                )
            }
            "class" => {
                let (negate, prev) = self.eq_or_ne(kw)?;
                let tok = self.operand(prev, "a port class")?;
                let class = match tok.text.to_ascii_lowercase().as_str() {
                    "system" => PortClass::System,
                    "user" => PortClass::User,
                    "dynamic" => PortClass::Dynamic,
                    _ => {
                        return Err(Fail::new(
                            format!(
                                "unknown port class '{}' (known: system, user, dynamic)",
                                tok.text
                            ),
                            tok.col,
                        ));
                    }
                };
                atom(Atom::Class { class }, negate)
            }
            "netns" => {
                let (negate, prev) = self.eq_or_ne(kw)?;
                let tok = self.operand(prev, "a namespace name, host or inode")?;
                atom(
                    Atom::Netns {
                        glob: Glob::new(&tok.text, false),
                    },
                    negate,
                )
            }
            "container" => {
                let (negate, prev) = self.eq_or_ne(kw)?;
                let tok = self.operand(prev, "a container name or id")?;
                atom(
                    Atom::Container {
                        glob: Glob::new(&tok.text, false),
                        text: tok.text.to_ascii_lowercase(),
                    },
                    negate,
                )
            }
            "state" | "exclude" | "excl" => Err(Fail::new(
                format!("'{}' must come before the expression", kw.text),
                kw.col,
            )),
            "autobound" | "fwmark" | "cgroup" => {
                Err(Fail::new(format!("'{}' is not supported", kw.text), kw.col))
            }
            _ => Err(Fail::new(
                format!(
                    "unknown word '{}': expected src, dst, sport, dport, dev, process, pid, user, service, class, netns or container",
                    kw.text
                ),
                kw.col,
            )),
        }
    }
}

fn decimal_u32(text: &str) -> Option<u32> {
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// An interface's index from its name (as the kernel lists it under
/// /sys/class/net), else the text read as a number, as ss does.
fn interface_index(name: &str) -> Option<u32> {
    let plausible = !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name.contains(['/', '\0']);
    if plausible {
        let path = format!("/sys/class/net/{name}/ifindex");
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(index) = text.trim().parse()
        {
            return Some(index);
        }
    }
    operand::c_number(name).and_then(|n| u32::try_from(n).ok())
}
