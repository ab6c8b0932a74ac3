//! `portscope completions SHELL` and `portscope man`: the shell completion
//! scripts and the manual page, generated from the clap definitions that
//! also make `--help`, so the three cannot disagree.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::Failure;
use crate::args::{Args, ShellArg};

/// Writes the completion script for `shell` to stdout.
pub fn completions(shell: ShellArg) -> Result<ExitCode, Failure> {
    let shell = match shell {
        ShellArg::Bash => Shell::Bash,
        ShellArg::Zsh => Shell::Zsh,
        ShellArg::Fish => Shell::Fish,
        ShellArg::Elvish => Shell::Elvish,
        ShellArg::Powershell => Shell::PowerShell,
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Args::command(), "portscope", &mut buf);
    write_all(&buf)
}

/// Writes the manual page, section 1, to stdout: the main page, then each
/// command's options as a section of its own.
pub fn man() -> Result<ExitCode, Failure> {
    let buf = man_page()?;
    write_all(&buf)
}

/// The manual page as roff. One page rather than one per command: `man
/// portscope` then shows everything, as `--help` of each command does.
fn man_page() -> io::Result<Vec<u8>> {
    let cmd = Args::command();
    let mut buf = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    man.render_synopsis_section(&mut buf)?;
    man.render_description_section(&mut buf)?;
    man.render_options_section(&mut buf)?;
    // Each command gets a section here rather than a page of its own, so
    // clap_mangen's list of `portscope-who(1)` pages is left out.
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = sub.get_name();
        writeln!(buf, ".SH \"PORTSCOPE {}\"", name.to_uppercase())?;
        let sub = sub.clone().bin_name(format!("portscope {name}"));
        let sub_man = clap_mangen::Man::new(sub);
        // The command's synopsis, description and options, under its heading.
        let mut part = Vec::new();
        sub_man.render_synopsis_section(&mut part)?;
        sub_man.render_description_section(&mut part)?;
        sub_man.render_options_section(&mut part)?;
        buf.extend(demote_sections(&part));
    }
    let mut notes = Vec::new();
    man.render_extra_section(&mut notes)?;
    buf.extend(rename_section(&notes, "EXTRA", "NOTES"));
    man.render_version_section(&mut buf)?;
    Ok(buf)
}

/// A command's `.SH` headings become `.SS` sub-headings under its section.
fn demote_sections(roff: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(roff);
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        match line.strip_prefix(".SH ") {
            Some(rest) => {
                out.push_str(".SS ");
                out.push_str(rest);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out.into_bytes()
}

/// `.SH FROM` becomes `.SH TO`.
fn rename_section(roff: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(roff);
    text.replace(&format!(".SH {from}\n"), &format!(".SH {to}\n"))
        .into_bytes()
}

fn write_all(buf: &[u8]) -> Result<ExitCode, Failure> {
    let mut out = io::stdout().lock();
    out.write_all(buf)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
