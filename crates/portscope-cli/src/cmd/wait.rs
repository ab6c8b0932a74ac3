//! `portscope wait PORT|SERVICE…`: poll until every port is listening (or,
//! `--state free`, none is held), for scripts that start a stack. Each check
//! is one socket dump asking the kernel for the states that matter; the
//! owner walk (the expensive part) is made once, at the timeout, to say who
//! holds what.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use portscope::collect::{self, System};
use portscope::model::{Proto, Query, Socket, StateSet, TcpState};

use crate::Failure;
use crate::args::{WaitArgs, WaitState};
use crate::cmd::who::{self, PortSpec};
use crate::config::ListConfig;
use crate::render::Context;
use crate::report::Report;

/// The most a `--timeout` may be: a day. Longer is surely a typo.
const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Parses `30s`, `500ms`, `2m`, `1h`, or a number of seconds (`1.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    // Quoted in the errors: what the user typed, escaped for the terminal.
    let text = portscope::text::escape(text.as_bytes());
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" | "" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "'{text}' is not a duration (use e.g. 30s, 500ms, 2m)"
            ));
        }
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (use e.g. 30s, 500ms, 2m)"))?;
    let secs = n * scale;
    if !secs.is_finite() || secs < 0.0 || secs > MAX_WAIT.as_secs_f64() {
        return Err(format!("'{text}': a duration from 0 to 24h"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Whether `spec` has a listener: a TCP LISTEN socket, or a bound and
/// unconnected UDP one, on its ports.
fn listening(spec: &PortSpec, sockets: &[Socket]) -> bool {
    sockets
        .iter()
        .any(|s| spec.matches(s) && s.is_listening() && s.local.port() != Some(0))
}

/// Whether a socket holds its local port: anything but TIME_WAIT (no
/// process holds it; a new bind with SO_REUSEADDR succeeds) and request
/// sockets (they live under their listener).
fn holds(s: &Socket) -> bool {
    !matches!(s.state, TcpState::TimeWait | TcpState::NewSynRecv)
}

fn shown(spec: &PortSpec) -> String {
    let ports = if spec.low == spec.high {
        spec.low.to_string()
    } else {
        format!("{}-{}", spec.low, spec.high)
    };
    match spec.proto {
        Some(Proto::Tcp) => format!("{ports}/tcp"),
        Some(Proto::Udp) => format!("{ports}/udp"),
        _ => ports,
    }
}

/// What one word asks for: the ports a number or range gives, or every
/// port and transport the registry gives a service name; it is listening
/// when one of them is, free when all are.
struct Want {
    word: String,
    specs: Vec<PortSpec>,
}

fn parse_wants(words: &[String]) -> Result<Vec<Want>, String> {
    let mut out = Vec::new();
    for word in words {
        for item in word.split(',').filter(|i| !i.is_empty()) {
            out.push(Want {
                word: item.to_string(),
                specs: who::parse_one(item)?,
            });
        }
    }
    if out.is_empty() {
        return Err("no port given".into());
    }
    Ok(out)
}

/// Runs `wait`.
pub fn run(args: &WaitArgs) -> Result<ExitCode, Failure> {
    let wants = parse_wants(&args.ports).map_err(Failure::Usage)?;
    let specs: Vec<PortSpec> = wants.iter().flat_map(|w| w.specs.clone()).collect();
    let timeout =
        parse_duration(&args.timeout).map_err(|e| Failure::Usage(format!("--timeout {e}")))?;
    let interval = parse_duration(&args.interval)
        .map_err(|e| Failure::Usage(format!("--interval {e}")))?
        .max(Duration::from_millis(10));
    let recorded = args.from_snapshot.is_some();
    let sys = crate::system::open(args.from_snapshot.as_deref())?;
    let sys = &*sys;
    let mut opts = ListConfig::with_owners().collect;
    opts.owners = false;
    opts.netns = crate::netns_pick::scope(args.ns.netns.as_deref(), sys)?;
    opts.query = Query {
        tcp: specs.iter().any(|s| s.proto != Some(Proto::Udp)),
        udp: specs.iter().any(|s| s.proto != Some(Proto::Tcp)),
        raw: false,
        unix: false,
        ..Query::default()
    };
    if args.state == WaitState::Listen {
        // Only listeners matter: the kernel leaves out every connection.
        opts.query.states = StateSet::only(TcpState::Listen).with(TcpState::Close);
    }
    let deadline = Instant::now() + timeout;
    loop {
        let snap = collect::take(sys, &opts)?;
        let missing: Vec<&Want> = match args.state {
            WaitState::Listen => wants
                .iter()
                .filter(|w| !w.specs.iter().any(|p| listening(p, &snap.sockets)))
                .collect(),
            WaitState::Free => wants
                .iter()
                .filter(|w| {
                    w.specs
                        .iter()
                        .any(|p| snap.sockets.iter().any(|s| p.matches(s) && holds(s)))
                })
                .collect(),
        };
        if missing.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        let now = Instant::now();
        // A recording never changes: what it lacks now it lacks at the
        // timeout, so the answer is given at once.
        if now >= deadline || recorded {
            if !args.quiet {
                timed_out(sys, args, &missing, recorded)?;
            }
            return Ok(ExitCode::from(1));
        }
        std::thread::sleep(interval.min(deadline - now));
    }
}

/// Says, at the timeout, which ports are not ready and who holds them.
fn timed_out(
    sys: &dyn System,
    args: &WaitArgs,
    missing: &[&Want],
    recorded: bool,
) -> Result<(), Failure> {
    let list: Vec<String> = missing
        .iter()
        .map(|w| {
            let ports: Vec<String> = w.specs.iter().map(shown).collect();
            let ports = ports.join("|");
            if ports == w.word {
                ports
            } else {
                format!("{} ({ports})", portscope::text::escape(w.word.as_bytes()))
            }
        })
        .collect();
    let what = match args.state {
        WaitState::Listen => "not listening",
        WaitState::Free => "still held",
    };
    let when = if recorded {
        "in the recording".to_string()
    } else {
        format!("timed out after {}", args.timeout.trim())
    };
    crate::say(format_args!("{when}: {what}: {}", list.join(", ")));
    let cfg = ListConfig::with_owners();
    let owned: Vec<PortSpec> = missing.iter().flat_map(|w| w.specs.clone()).collect();
    let mut snap = who::holders(sys, &cfg, &owned)?;
    snap.sockets.retain(holds);
    if snap.sockets.is_empty() {
        return Ok(());
    }
    let ctx = Context::new(&snap, &cfg);
    let groups = who::group(&snap);
    let mut report = Report::new();
    report.write(|out| who::write_text(out, &ctx, &groups))?;
    report.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("3 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("999h").is_err());
        assert!(parse_duration("").is_err());
    }
}
