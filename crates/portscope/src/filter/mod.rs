//! The filter language: what `ss` accepts after its options, with the same
//! meaning, plus a few predicates about owners and services.
//!
//! ```text
//! [ state STATE | exclude STATE ]... [ EXPRESSION ]
//! ```
//!
//! - `state`/`exclude` (also `excl`) take ss's state names (`established`,
//!   `syn-sent`, `syn-recv`, `fin-wait-1`, `fin-wait-2`, `time-wait`,
//!   `closed`, `close-wait`, `last-ack`, `listening`, `closing`) or groups
//!   (`all`, `connected`, `synchronized`, `bucket`, `big`), and come before
//!   the expression, as in ss. The first `state` starts from no state, the
//!   first `exclude` from all; later words add or remove.
//! - Predicates: `src`/`dst` `[=|!=] HOST`, `sport`/`dport`
//!   `[=|!=|<|>|<=|>=] PORT` (also `eq ne neq lt gt le leq ge geq`), `dev`
//!   `NAME|INDEX`; and, beyond ss, `process GLOB`, `pid N`, `user NAME|UID`,
//!   `service NAME`, `class system|user|dynamic`.
//! - Operands: `:PORT`, `:SERVICE`, `ADDR`, `ADDR:PORT`, `CIDR`, `[V6]`,
//!   `[V6]:PORT`, `*`, `*:PORT`, `localhost`, `unix:GLOB`, and the family
//!   prefixes `inet:`/`inet6:`. Host names are resolved (every address)
//!   once the binary installs a lookup ([`set_host_lookup`]); until then
//!   they are an error.
//! - `and`/`&`/`&&`, `or`/`|`/`||` and juxtaposition (meaning `and`) have
//!   equal precedence and group from the left; `not`/`!` binds to the next
//!   term; parentheses group. So `a or b and c` is `(a or b) and c`, as in ss.
//!
//! Words may hold several tokens (`sport>:1024`, `'( sport = :22 )'`); every
//! token keeps its column so errors can point at it.
//!
//! This module parses and judges; it does not collect sockets or print.

mod ast;
mod eval;
mod glob;
mod hint;
mod lexer;
mod operand;
mod parser;
mod states;
pub use operand::{HostLookup, set_host_lookup};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

use std::fmt;

use crate::model::{Family, Query, Snapshot, Socket, StateSet};

use ast::Expr;
use eval::Mode;
use hint::Families;

/// A parsed filter: a state selection and an expression.
///
/// ```
/// use portscope::filter::Filter;
/// let words: Vec<String> = ["state", "listening", "sport", "<", ":1024"]
///     .iter().map(|s| s.to_string()).collect();
/// let f = Filter::parse(&words)?;
/// assert_eq!(f.expression_text(), "state listening sport < :1024");
/// assert!(f.states().is_some());
/// # Ok::<(), portscope::filter::FilterError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Filter {
    text: String,
    expr: Option<Expr>,
    /// `user NAME` words naming no user of this machine, with their columns.
    unknown_users: Vec<(String, usize)>,
    states: Option<StateSet>,
    family: Option<Family>,
    /// Judge IP sockets as the kernel and as ss's user space both do (see `eval`).
    dual: bool,
    hint: QueryHint,
}

/// What a filter lets the collector skip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryHint {
    /// False when no IPv4 socket can match.
    pub ipv4: bool,
    /// False when no IPv6 socket can match.
    pub ipv6: bool,
    /// False when no unix socket can match.
    pub unix: bool,
    /// The states selected by `state`/`exclude` words, if any.
    pub states: Option<StateSet>,
    /// True when the expression needs the processes that own sockets
    /// (`process`, `pid`, `user`), so the owner walk cannot be skipped.
    pub needs_owners: bool,
}

impl Default for QueryHint {
    fn default() -> Self {
        QueryHint {
            ipv4: true,
            ipv6: true,
            unix: true,
            states: None,
            needs_owners: false,
        }
    }
}

impl QueryHint {
    /// Narrows `query` to what the filter can match: families it rules out
    /// are dropped, and its state selection, if any, replaces the query's
    /// (as ss's state words replace the default and `-l`/`-a`).
    pub fn apply(&self, mut query: Query) -> Query {
        query.ipv4 &= self.ipv4;
        query.ipv6 &= self.ipv6;
        query.unix &= self.unix;
        if let Some(states) = self.states {
            query.states = states;
        }
        query
    }
}

impl Filter {
    /// Parses shell words as ss receives them after its options. No words
    /// give a filter that matches every socket and selects no states.
    pub fn parse(words: &[String]) -> Result<Filter, FilterError> {
        let text = words.join(" ");
        let end_col = text.chars().count() + 1;
        let tokens = lexer::tokenize(words);
        let parsed = parser::parse(&tokens, end_col).map_err(|f| FilterError {
            message: f.message,
            column: f.column,
            text: text.clone(),
        })?;

        let kernel = !parsed.has_dev;
        let mut families = parsed
            .expr
            .as_ref()
            .map_or(Families::ALL, |e| hint::possible(e, kernel));
        if let Some(f) = parsed.family {
            families = families.and(Families::only(f));
        }
        let hint = QueryHint {
            ipv4: families.inet,
            ipv6: families.inet6,
            unix: families.unix,
            states: parsed.states,
            needs_owners: parsed.expr.as_ref().is_some_and(hint::needs_owners),
        };
        let dual = kernel && parsed.expr.as_ref().is_some_and(hint::has_addresses);
        Ok(Filter {
            text,
            expr: parsed.expr,
            unknown_users: parsed.unknown_users,
            states: parsed.states,
            family: parsed.family,
            dual,
            hint,
        })
    }

    /// The states chosen by `state`/`exclude` words; `None` when there were
    /// none, and the caller applies its default (ss: connected sockets, or
    /// what `-l`/`-a` say). Request sockets (NEW_SYN_RECV) go with SYN-RECV.
    pub fn states(&self) -> Option<StateSet> {
        self.states
    }

    /// An error for a `user NAME` that names nobody: no user of this
    /// machine, and no process in `snap` runs as it (a recording from
    /// another machine may hold users this one lacks). Call it once the
    /// snapshot is taken; a misspelt name then fails with its column
    /// instead of silently matching nothing.
    pub fn check_users(&self, snap: &Snapshot) -> Result<(), FilterError> {
        for (name, column) in &self.unknown_users {
            let seen = snap.processes.values().any(|p| {
                [&p.user, &p.euser]
                    .into_iter()
                    .any(|u| u.as_ref().is_some_and(|u| u.as_bytes() == name.as_bytes()))
            });
            if !seen {
                return Err(FilterError {
                    message: format!("unknown user '{name}'"),
                    column: *column,
                    text: self.text.clone(),
                });
            }
        }
        Ok(())
    }

    /// What can be pushed into the kernel request.
    pub fn query_hint(&self) -> QueryHint {
        self.hint
    }

    /// Whether `s` passes the filter: its state is selected (when states
    /// were given), its family is the one an `inet:`/`inet6:`/`unix:`
    /// operand named (ss narrows the whole listing so), and the expression
    /// holds. `snap` supplies the owners' process details.
    pub fn matches(&self, s: &Socket, snap: &Snapshot) -> bool {
        if self.states.is_some_and(|st| !st.contains(s.state)) {
            return false;
        }
        if self.family.is_some_and(|f| f != s.family) {
            return false;
        }
        let Some(expr) = &self.expr else {
            return true;
        };
        let ip = s.family != Family::Unix;
        if self.dual && ip {
            eval::eval(expr, s, snap, Mode::Kernel) && eval::eval(expr, s, snap, Mode::User)
        } else {
            eval::eval(expr, s, snap, Mode::User)
        }
    }

    /// The expression as given: the words joined by single spaces.
    pub fn expression_text(&self) -> &str {
        &self.text
    }

    /// True when the filter has an expression (not only state words, or nothing).
    pub fn has_expression(&self) -> bool {
        self.expr.is_some()
    }
}

/// A filter that could not be parsed, with where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    /// What is wrong.
    pub message: String,
    /// 1-based column (in characters) in `text`; one past the end when
    /// something is missing at the end.
    pub column: usize,
    /// The whole expression (the words joined by single spaces).
    pub text: String,
}

impl FilterError {
    /// Two lines: the expression, and a caret under the column.
    ///
    /// ```
    /// use portscope::filter::Filter;
    /// let words: Vec<String> = ["sport", "=", ":99999"].iter().map(|s| s.to_string()).collect();
    /// let err = Filter::parse(&words).unwrap_err();
    /// assert_eq!(err.caret_lines(), "sport = :99999\n         ^");
    /// ```
    pub fn caret_lines(&self) -> String {
        // The expression is the user's: shown escaped (a terminal escape or
        // a line break in it made visible), the caret under the escaped
        // form. Tabs are kept so the caret lines up under them.
        let shown = |c: char| -> String {
            let mut b = [0u8; 4];
            match c {
                '\t' => "\t".to_string(),
                c => crate::text::escape(c.encode_utf8(&mut b).as_bytes()).to_string(),
            }
        };
        let mut line = String::with_capacity(self.text.len());
        let mut pad = String::new();
        let before = self.column.saturating_sub(1);
        for (i, c) in self.text.chars().enumerate() {
            let s = shown(c);
            if i < before {
                if c == '\t' {
                    pad.push('\t');
                } else {
                    pad.extend(std::iter::repeat_n(' ', s.chars().count()));
                }
            }
            line.push_str(&s);
        }
        let past = before.saturating_sub(self.text.chars().count());
        pad.extend(std::iter::repeat_n(' ', past));
        format!("{line}\n{pad}^")
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "filter: {} at column {}", self.message, self.column)
    }
}

impl std::error::Error for FilterError {}

/// A parse failure before the expression text is attached.
#[derive(Debug)]
pub(crate) struct Fail {
    message: String,
    column: usize,
}

impl Fail {
    fn new(message: impl Into<String>, column: usize) -> Fail {
        Fail {
            message: message.into(),
            column,
        }
    }
}
