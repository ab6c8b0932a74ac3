//! `portscope audit`: what this machine exposes, as findings grouped by
//! severity; the rules table (`--rules`); what changed since a baseline
//! (`--baseline`); an exit code for CI (`--fail-on`).
//!
//! The judging is the library's (`portscope::audit`); this file gathers the
//! inputs, compares with a baseline and renders. It does not scan.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;
use std::process::ExitCode;

use anstyle::{AnsiColor, Style};
use portscope::Text;
use portscope::audit::{self, Finding, FindingKey, RULES, Report, Severity};
use portscope::collect::host::HostFacts;
use portscope::collect::{self, Options, SourceChoice, System};
use portscope::model::{Proto, Query, Snapshot, StateSet, TcpState};
use serde::{Deserialize, Serialize};

use crate::Failure;
use crate::args::{AuditArgs, ColorArg, SeverityArg};
use crate::cmd::shown_path;

/// A finding as JSON: written by `--json`, read back from a baseline.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct FindingOut {
    /// The identity: `rule proto addr:port process`.
    id: String,
    rule: String,
    severity: String,
    #[serde(default)]
    title: String,
    proto: String,
    local: LocalOut,
    #[serde(default)]
    inode: u64,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    reach: String,
    #[serde(default)]
    reachable_on: Vec<AddrOut>,
    /// Process names, as in the identity (`-` for none).
    #[serde(default)]
    process: String,
    #[serde(default)]
    processes: Vec<ProcessOut>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    advice: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct LocalOut {
    addr: IpAddr,
    port: u16,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct AddrOut {
    addr: IpAddr,
    interface: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ProcessOut {
    pid: u32,
    name: Text,
    #[serde(default)]
    user: Option<Text>,
    #[serde(default)]
    uid: Option<u32>,
    #[serde(default)]
    euser: Option<Text>,
    #[serde(default)]
    euid: Option<u32>,
    #[serde(default)]
    exe: Option<Text>,
    #[serde(default)]
    cmdline: Text,
}

impl FindingOut {
    fn new(f: &Finding, snap: &Snapshot) -> FindingOut {
        FindingOut {
            id: f.key().to_string(),
            rule: f.rule.id.to_string(),
            severity: f.severity().as_str().to_string(),
            title: f.rule.title.to_string(),
            proto: f.proto.as_str().to_string(),
            local: LocalOut {
                addr: f.addr,
                port: f.port,
            },
            inode: f.inode,
            service: f.service.map(str::to_string),
            reach: f.reach.as_str().to_string(),
            reachable_on: f
                .reachable_on
                .iter()
                .map(|a| AddrOut {
                    addr: a.addr,
                    interface: a.interface.clone(),
                })
                .collect(),
            process: f.process.clone(),
            processes: f
                .pids
                .iter()
                .map(|pid| {
                    let p = snap.processes.get(pid);
                    ProcessOut {
                        pid: *pid,
                        name: p.map(|p| p.name.clone()).unwrap_or_default(),
                        user: p.and_then(|p| p.user.clone()),
                        uid: p.and_then(|p| p.uid),
                        euser: p.and_then(|p| p.euser.clone()),
                        euid: p.and_then(|p| p.euid),
                        exe: p.and_then(|p| p.exe.clone()),
                        cmdline: p.map(|p| p.cmdline.clone()).unwrap_or_default(),
                    }
                })
                .collect(),
            message: f.message.clone(),
            advice: f.rule.advice.to_string(),
        }
    }

    /// The identity, from the fields (not the `id` text), so a baseline
    /// written by hand or by an older version compares the same.
    fn key(&self) -> Option<FindingKey> {
        let proto = match self.proto.as_str() {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            _ => return None,
        };
        Some(FindingKey {
            rule: self.rule.clone(),
            proto,
            addr: self.local.addr,
            port: self.local.port,
            process: if self.process.is_empty() {
                "-".into()
            } else {
                self.process.clone()
            },
        })
    }

    fn level(&self) -> Option<Severity> {
        Severity::from_name(&self.severity)
    }
}

#[derive(Serialize)]
struct RuleOut {
    id: &'static str,
    severity: &'static str,
    title: &'static str,
    test: &'static str,
    advice: &'static str,
}

#[derive(Serialize, Deserialize)]
struct AuditOut {
    summary: SummaryOut,
    host_addresses: Vec<AddrOut>,
    skipped: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<BaselineOut>,
    findings: Vec<FindingOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gone: Option<Vec<FindingOut>>,
}

#[derive(Serialize, Deserialize)]
struct SummaryOut {
    listeners: usize,
    loopback: usize,
    all_interfaces: usize,
    address: usize,
    /// Reported findings by severity.
    findings: BTreeMap<String, usize>,
}

#[derive(Serialize, Deserialize)]
struct BaselineOut {
    file: String,
    new: usize,
    gone: usize,
}

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
    let snap = collect::take(&*sys, &options())?;
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
        summary: summary(&report, &shown),
        host_addresses: facts
            .addresses
            .iter()
            .map(|a| AddrOut {
                addr: a.addr,
                interface: a.interface.clone(),
            })
            .collect(),
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

/// Listening TCP and UDP sockets of both families, with owners.
fn options() -> Options {
    Options {
        query: Query {
            tcp: true,
            udp: true,
            raw: false,
            unix: false,
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

/// Reads a saved `--json` listing; also says whether it carries owner data.
/// `text` is the file's content when the caller has read it already.
fn read_listing(path: &Path, text: Option<&str>) -> Result<(Snapshot, bool), Failure> {
    let bad = |e: String| Failure::Usage(format!("{}: {e}", shown_path(path)));
    let owned;
    let text = match text {
        Some(t) => t,
        None => {
            owned = crate::input::read_json_text(path).map_err(bad)?;
            &owned
        }
    };
    let (mut snap, owners_known) = crate::snapshot_file::parse_listing(text).map_err(bad)?;
    snap.sockets.retain(|s| options().query.wants(s));
    Ok((snap, owners_known))
}

/// The baseline's findings: as saved by `audit --json`, or worked out from a
/// saved listing by the same rules (the host's addresses do not change a
/// finding's identity, so the listing's own facts suffice).
fn read_baseline(path: &Path, now: &HostFacts, skip: &[&str]) -> Result<Vec<FindingOut>, Failure> {
    let bad = |e: String| Failure::Usage(format!("--baseline {}: {e}", shown_path(path)));
    let text = crate::input::read_json_text(path).map_err(bad)?;
    baseline_from_text(path, &text, now, skip)
}

/// A baseline file's content as `--baseline` reads it, for the fuzz target:
/// how many findings it holds, or the one line the user would see.
#[doc(hidden)]
pub fn baseline_findings(text: &str) -> Result<usize, String> {
    let now = HostFacts::from_snapshot(&Snapshot::default());
    match baseline_from_text(Path::new("baseline.json"), text, &now, &[]) {
        Ok(f) => Ok(f.len()),
        Err(Failure::Usage(m)) => Err(m),
        Err(other) => Err(format!("{other:?}")),
    }
}

fn baseline_from_text(
    path: &Path,
    text: &str,
    now: &HostFacts,
    skip: &[&str],
) -> Result<Vec<FindingOut>, Failure> {
    let bad = |e: String| Failure::Usage(format!("--baseline {}: {e}", shown_path(path)));
    // An object is a saved audit, an array a listing; each is parsed into
    // its own types (never a generic JSON tree, which takes many times the
    // text's size).
    if text.trim_start().starts_with('{') {
        let saved: AuditOut = serde_json::from_str(text)
            .map_err(|e| bad(format!("not a saved `audit --json`: {e}")))?;
        if saved.baseline.is_some() {
            return Err(bad(
                "this audit was itself run against a baseline and lists only changes; save a plain `audit --json`".into(),
            ));
        }
        return Ok(saved.findings);
    }
    let (snap, owners_known) = read_listing(path, Some(text))
        .map_err(|_| bad("neither a saved `audit --json` nor a `--json` listing".into()))?;
    let mut facts = HostFacts::from_snapshot(&snap);
    facts.ephemeral = now.ephemeral;
    facts.v6_dual_stack = now.v6_dual_stack;
    let mut skip = skip.to_vec();
    if !owners_known {
        skip.push("no-owner");
    }
    let report = audit::audit(&snap, &facts, &skip);
    Ok(report
        .findings
        .iter()
        .map(|f| FindingOut::new(f, &snap))
        .collect())
}

fn summary(report: &Report, shown: &[FindingOut]) -> SummaryOut {
    let mut findings: BTreeMap<String, usize> = Severity::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    for f in shown {
        *findings.entry(f.severity.clone()).or_default() += 1;
    }
    SummaryOut {
        listeners: report.summary.listeners,
        loopback: report.summary.loopback,
        all_interfaces: report.summary.all_interfaces,
        address: report.summary.address,
        findings,
    }
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
        let rules: Vec<RuleOut> = RULES
            .iter()
            .map(|r| RuleOut {
                id: r.id,
                severity: r.severity.as_str(),
                title: r.title,
                test: r.test,
                advice: r.advice,
            })
            .collect();
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
