//! `portscope audit`: what this machine exposes, as findings grouped by
//! severity; the rules table (`--rules`); what changed since a baseline
//! (`--baseline`); an exit code for CI (`--fail-on`).
//!
//! The judging is the library's (`portscope::audit`); this file gathers the
//! inputs, compares with a baseline and renders. It does not scan.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anstyle::{AnsiColor, Style};
use portscope::Text;
use portscope::audit::{self, FindingKey, RULES, Severity};
use portscope::collect::host::HostFacts;
use portscope::collect::{self, Options, SourceChoice, System};
use portscope::json::{AddrOut, AuditOut, BaselineOut, FindingOut, RuleOut, SummaryOut};
use portscope::model::{Query, Snapshot, StateSet, TcpState};

use crate::Failure;
use crate::args::{AuditArgs, ColorArg, SeverityArg};
use crate::cmd::shown_path;

/// Runs `audit`.
pub fn run(args: &AuditArgs) -> Result<ExitCode, Failure> {
    let mut skip: Vec<&str> = Vec::new();
    for id in &args.skip {
        let id = id.trim();
        if audit::rule(id).is_none() {
            return Err(Failure::Usage(format!(
                "--skip: unknown rule '{id}' (see portscope audit --rules)"
            )));
        }
        skip.push(id);
    }
    let color = colour_wanted(args.color);
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.rules {
        write_rules(&mut out, args.json, color)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }

    let (sys, owners_known): (Box<dyn System>, bool) = match &args.from_snapshot {
        Some(path) => {
            let (rec, owners_known) = crate::system::recorded(path)?;
            (Box::new(rec), owners_known)
        }
        None => (crate::system::open(None)?, true),
    };
    let mut opts = options();
    opts.netns = crate::netns_pick::scope(args.ns.netns.as_deref(), &*sys)?;
    let snap = collect::take(&*sys, &opts)?;
    let facts = sys.host_facts(&snap);
    if !owners_known && !skip.contains(&"no-owner") {
        // A listing saved without owners says nothing about them.
        crate::say(format_args!(
            "note: the snapshot has no owner data; rule no-owner skipped"
        ));
        skip.push("no-owner");
    }
    for note in snap.notes.iter().chain(&facts.notes) {
        crate::say(format_args!("note: {note}"));
    }
    // A filter is unread when neither the dump (packet_diag) nor the
    // socket itself (through an owner's descriptor) said what it is.
    let asked = |s: &portscope::model::Socket| {
        s.extra
            .as_ref()
            .and_then(|x| x.sock_filter)
            .filter(|f| f.reason().is_none())
    };
    let unread = snap
        .sockets
        .iter()
        .filter(|s| {
            (s.packet().is_some_and(|p| p.filter.is_none())
                || s.proto == portscope::model::Proto::Raw)
                && asked(s).is_none()
        })
        .count();
    if unread > 0 && !skip.contains(&"packet-filter-unknown") {
        crate::say(format_args!(
            "note: the BPF filters of {unread} packet or raw socket(s) could not be read (that needs root, and an owner that can be seen); rule packet-filter-unknown did not judge them"
        ));
    }
    let report = audit::audit(&snap, &facts, &skip);
    let current: Vec<FindingOut> = report
        .findings
        .iter()
        .map(|f| FindingOut::new(f, &snap))
        .collect();

    let (shown, gone, baseline) = match &args.baseline {
        None => (current, None, None),
        Some(path) => {
            let before = read_baseline(path, &facts, &skip)?;
            let keys: Vec<FindingKey> = before.iter().filter_map(FindingOut::key).collect();
            let with_keys: Vec<&FindingOut> = before.iter().filter(|f| f.key().is_some()).collect();
            let (new, gone_at) = audit::compare(&report.findings, &keys);
            let new_ids: Vec<FindingKey> = new.iter().map(|f| f.key()).collect();
            let shown: Vec<FindingOut> = current
                .into_iter()
                .filter(|f| f.key().is_some_and(|k| new_ids.contains(&k)))
                .collect();
            let gone: Vec<FindingOut> = gone_at
                .into_iter()
                .filter_map(|i| with_keys.get(i).map(|f| (*f).clone()))
                .collect();
            let info = BaselineOut {
                file: path.display().to_string(),
                new: shown.len(),
                gone: gone.len(),
            };
            (shown, Some(gone), Some(info))
        }
    };

    let doc = AuditOut {
        summary: SummaryOut::new(&report, &shown),
        host_addresses: facts.addresses.iter().map(AddrOut::from).collect(),
        skipped: skip.iter().map(|s| s.to_string()).collect(),
        baseline,
        findings: shown,
        gone,
    };
    if args.json {
        serde_json::to_writer_pretty(&mut out, &doc).map_err(io::Error::from)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &doc, color)?;
    }
    out.flush()?;
    drop(out);
    if snap.hidden.processes > 0 {
        crate::say(format_args!(
            "owners of {} socket(s) hidden: {} process(es) could not be read (run as root to see them)",
            snap.hidden.sockets, snap.hidden.processes
        ));
    }

    let failing = args.fail_on.map(level).is_some_and(|at| {
        doc.findings
            .iter()
            .any(|f| f.level().is_some_and(|l| l >= at))
    });
    Ok(if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn level(s: SeverityArg) -> Severity {
    match s {
        SeverityArg::Info => Severity::Info,
        SeverityArg::Low => Severity::Low,
        SeverityArg::Medium => Severity::Medium,
        SeverityArg::High => Severity::High,
    }
}

/// Listening TCP and UDP sockets of both families, packet sockets, and raw
/// sockets (judged for their filters alone), with owners.
fn options() -> Options {
    Options {
        query: Query {
            tcp: true,
            udp: true,
            raw: true,
            unix: false,
            packet: true,
            netlink: false,
            mptcp: false,
            ipv4: true,
            ipv6: true,
            // LISTEN for TCP; CLOSE is how the kernel reports unconnected UDP.
            states: StateSet::only(TcpState::Listen).with(TcpState::Close),
        },
        owners: true,
        source: SourceChoice::Auto,
        ..Options::default()
    }
}

/// The baseline's findings (see [`portscope::json::read_baseline`]).
fn read_baseline(path: &Path, now: &HostFacts, skip: &[&str]) -> Result<Vec<FindingOut>, Failure> {
    let bad = |e: String| Failure::Usage(format!("--baseline {}: {e}", shown_path(path)));
    let text = crate::input::read_json_text(path).map_err(bad)?;
    baseline_from_text(&text, now, skip).map_err(bad)
}

/// A baseline file's content as `--baseline` reads it, for the fuzz target:
/// how many findings it holds, or the one line the user would see.
#[doc(hidden)]
pub fn baseline_findings(text: &str) -> Result<usize, String> {
    let now = HostFacts::from_snapshot(&Snapshot::default());
    baseline_from_text(text, &now, &[]).map(|f| f.len())
}

fn baseline_from_text(
    text: &str,
    now: &HostFacts,
    skip: &[&str],
) -> Result<Vec<FindingOut>, String> {
    portscope::json::read_baseline(text, now, skip)
}

/// Resolves the colour choice as the listing does: `auto` colours only a
/// terminal, and NO_COLOR / CLICOLOR_FORCE are honoured.
fn colour_wanted(choice: ColorArg) -> bool {
    let choice = match choice {
        ColorArg::Auto => anstream::AutoStream::choice(&io::stdout()),
        ColorArg::Always => anstream::ColorChoice::Always,
        ColorArg::Never => anstream::ColorChoice::Never,
    };
    !matches!(choice, anstream::ColorChoice::Never)
}

fn style(level: Severity) -> Style {
    match level {
        Severity::High => Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
        Severity::Medium => Style::new().bold().fg_color(Some(AnsiColor::Yellow.into())),
        Severity::Low => Style::new().fg_color(Some(AnsiColor::Cyan.into())),
        Severity::Info => Style::new().dimmed(),
    }
}

fn painted(text: &str, st: Style, color: bool) -> String {
    if color {
        format!("{st}{text}{st:#}")
    } else {
        text.to_string()
    }
}

fn write_rules(out: &mut dyn Write, json: bool, color: bool) -> io::Result<()> {
    if json {
        let rules: Vec<RuleOut> = RULES.iter().map(RuleOut::from).collect();
        serde_json::to_writer_pretty(&mut *out, &rules).map_err(io::Error::from)?;
        return writeln!(out);
    }
    let width = RULES.iter().map(|r| r.id.len()).max().unwrap_or(0);
    for (i, r) in RULES.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        let sev = format!("{:<6}", r.severity.as_str());
        writeln!(
            out,
            "{:<width$}  {}  {}",
            r.id,
            painted(&sev, style(r.severity), color),
            r.title
        )?;
        writeln!(out, "  test:   {}", r.test)?;
        writeln!(out, "  advice: {}", r.advice)?;
    }
    Ok(())
}

fn write_text(out: &mut dyn Write, doc: &AuditOut, color: bool) -> io::Result<()> {
    let s = &doc.summary;
    writeln!(
        out,
        "{} listener(s): {} loopback only, {} on all interfaces, {} on one address",
        s.listeners, s.loopback, s.all_interfaces, s.address
    )?;
    if doc.host_addresses.is_empty() {
        writeln!(
            out,
            "this host's addresses: none besides loopback (or unknown)"
        )?;
    } else {
        let list: Vec<String> = doc
            .host_addresses
            .iter()
            .map(|a| {
                format!(
                    "{} ({})",
                    a.addr,
                    portscope::text::escape(a.interface.as_bytes())
                )
            })
            .collect();
        writeln!(out, "this host's addresses: {}", list.join(", "))?;
    }
    if !doc.skipped.is_empty() {
        writeln!(out, "skipped rules: {}", doc.skipped.join(", "))?;
    }
    let new_word = match &doc.baseline {
        Some(b) => {
            writeln!(out, "since {}: {} new, {} gone", b.file, b.new, b.gone)?;
            "new "
        }
        None => "",
    };
    if doc.findings.is_empty() {
        writeln!(out, "\nno {new_word}findings")?;
    }
    write_groups(out, &doc.findings, new_word, color)?;
    if let Some(gone) = &doc.gone
        && !gone.is_empty()
    {
        writeln!(out, "\nGONE since the baseline ({})", gone.len())?;
        for f in gone {
            writeln!(out, "  [{}] {}  {}", f.severity, f.id, f.message)?;
        }
    }
    Ok(())
}

/// Findings by severity (most severe first), then by rule, with each rule's
/// advice once.
fn write_groups(
    out: &mut dyn Write,
    findings: &[FindingOut],
    new_word: &str,
    color: bool,
) -> io::Result<()> {
    for level in Severity::ALL.iter().rev() {
        let at: Vec<&FindingOut> = findings
            .iter()
            .filter(|f| f.level() == Some(*level))
            .collect();
        if at.is_empty() {
            continue;
        }
        let head = format!(
            "{}{} ({})",
            new_word.to_uppercase(),
            level.as_str().to_uppercase(),
            at.len()
        );
        writeln!(out, "\n{}", painted(&head, style(*level), color))?;
        let mut rules: Vec<&str> = Vec::new();
        for f in &at {
            if !rules.contains(&f.rule.as_str()) {
                rules.push(&f.rule);
            }
        }
        for rule in rules {
            let of_rule: Vec<&&FindingOut> = at.iter().filter(|f| f.rule == rule).collect();
            let title = of_rule.first().map(|f| f.title.as_str()).unwrap_or("");
            writeln!(out, "  {title} [{rule}]")?;
            for f in &of_rule {
                writeln!(out, "    - {}", f.message)?;
                // The full list is in --json; a prefork server has dozens.
                for p in f.processes.iter().take(3) {
                    let shown =
                        |t: Option<&Text>| t.map_or("?".to_string(), |t| t.escaped().to_string());
                    let exe = shown(p.exe.as_ref());
                    let user = shown(p.euser.as_ref().or(p.user.as_ref()));
                    writeln!(
                        out,
                        "      {}[{}] user {user}, exe {exe}",
                        p.name.escaped(),
                        p.pid
                    )?;
                }
                if f.processes.len() > 3 {
                    writeln!(out, "      and {} more", f.processes.len() - 3)?;
                }
            }
            if let Some(f) = of_rule.first()
                && !f.advice.is_empty()
            {
                writeln!(out, "    advice: {}", f.advice)?;
            }
        }
    }
    Ok(())
}
