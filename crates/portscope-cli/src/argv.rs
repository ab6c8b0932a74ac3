//! The command line as clap is to read it. Options may come anywhere (the
//! filter positionals are plain, not trailing), and one rewrite makes that
//! safe for `-c [SECONDS]`: see [`join_seconds`]. Not the flags themselves
//! (`args.rs`).

use std::ffi::OsString;

use clap::{CommandFactory, Parser};

use crate::args::Args;

/// Parses this process's command line. Options may come anywhere, before
/// or after the filter words, as with ss; `--` ends them.
pub fn parse() -> Result<Args, clap::Error> {
    Args::try_parse_from(join_seconds(std::env::args_os()))
}

/// `-c`/`--continuous` takes its optional SECONDS from the next word only
/// when that word is a number: `-c 2` becomes `-c=2` (clap is told to take
/// the value only after `=`), while in `-c sport = :80` the filter keeps
/// `sport`. Also for a cluster ending in c (`-tnc 2`). Nothing after `--`
/// or in a subcommand's arguments is touched.
pub fn join_seconds(argv: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut it = argv.into_iter().peekable();
    let mut out: Vec<OsString> = it.next().into_iter().collect();
    let is_subcommand = |w: &OsString| {
        Args::command()
            .get_subcommands()
            .any(|c| w.to_str() == Some(c.get_name()))
    };
    if it.peek().is_some_and(is_subcommand) {
        out.extend(it);
        return out;
    }
    while let Some(word) = it.next() {
        if word == "--" {
            out.push(word);
            out.extend(it);
            break;
        }
        let text = word.to_str().unwrap_or("");
        // `-c2`, `-tnc0.5`: the value is glued on; clap wants `=` before it.
        if let Some(joined) = glued_seconds(text) {
            out.push(joined.into());
            continue;
        }
        let takes_seconds = text == "--continuous" || short_cluster_ending_in_c(text);
        match it.next_if(|n| takes_seconds && n.to_str().is_some_and(is_seconds)) {
            Some(seconds) => {
                let mut joined = word;
                joined.push("=");
                joined.push(seconds);
                out.push(joined);
            }
            None => out.push(word),
        }
    }
    out
}

/// A number of seconds as typed: digits and a dot (not `inf`, not `-1`).
fn is_seconds(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_digit() || c == '.') && w.parse::<f64>().is_ok()
}

/// `-c`, `-tnc`: short flags, the last of them c.
fn short_cluster_ending_in_c(w: &str) -> bool {
    w.strip_prefix('-')
        .filter(|r| !r.starts_with('-'))
        .and_then(|r| r.strip_suffix('c'))
        .is_some_and(|flags| flags.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// `-c2` → `-c=2`, `-tnc0.5` → `-tnc=0.5`; `None` for anything else.
fn glued_seconds(w: &str) -> Option<String> {
    let rest = w.strip_prefix('-').filter(|r| !r.starts_with('-'))?;
    let at = rest.find('c')?;
    let (flags, value) = (&rest[..at], &rest[at + 1..]);
    (flags.chars().all(|c| c.is_ascii_alphanumeric()) && is_seconds(value))
        .then(|| format!("-{flags}c={value}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(words: &[&str]) -> Vec<String> {
        let argv = std::iter::once("portscope")
            .chain(words.iter().copied())
            .map(OsString::from);
        join_seconds(argv)
            .into_iter()
            .skip(1)
            .map(|w| w.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn seconds_are_joined_only_when_a_number_follows() {
        assert_eq!(joined(&["-c", "2", "-t"]), ["-c=2", "-t"]);
        assert_eq!(joined(&["-tnc", "0.5"]), ["-tnc=0.5"]);
        assert_eq!(joined(&["--continuous", "3"]), ["--continuous=3"]);
        assert_eq!(joined(&["-c2"]), ["-c=2"]);
        assert_eq!(joined(&["-tc0.5"]), ["-tc=0.5"]);
        assert_eq!(
            joined(&["-c", "sport", "=", ":80"]),
            ["-c", "sport", "=", ":80"]
        );
        assert_eq!(joined(&["-c", "inf"]), ["-c", "inf"]);
        assert_eq!(joined(&["-c", "-1"]), ["-c", "-1"]);
        assert_eq!(joined(&["-c", "--", "2"]), ["-c", "--", "2"]);
        assert_eq!(joined(&["--", "-c", "2"]), ["--", "-c", "2"]);
        // A subcommand's words are its own.
        assert_eq!(
            joined(&["scan", "h", "-pc", "2"]),
            ["scan", "h", "-pc", "2"]
        );
        // Not a cluster of flags.
        assert_eq!(joined(&["--sync", "2"]), ["--sync", "2"]);
    }

    #[test]
    fn options_after_the_filter_parse() {
        let a = Args::try_parse_from(join_seconds(
            ["portscope", "-tlnp", "sport", "=", ":22", "--json", "-c"].map(OsString::from),
        ))
        .expect("parses");
        assert_eq!(a.list.filter, ["sport", "=", ":22"]);
        assert!(a.list.json && a.list.select.tcp && a.list.listening);
        assert_eq!(a.list.continuous, Some(1.0));
        let a = Args::try_parse_from(["portscope", "--", "sport", "--json"]).expect("parses");
        assert_eq!(a.list.filter, ["sport", "--json"]);
        assert!(!a.list.json);
    }
}
