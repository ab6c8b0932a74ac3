//! `portscope explain PORT|SERVICE`: everything known about a port — registry
//! entries, class, ephemeral range, who uses it here, and what it exposes.

use std::io::{self, Write};
use std::process::ExitCode;

use portscope::collect;
use portscope::exposure::{self, Exposure};
use portscope::model::{Proto, Snapshot};
use portscope::services::{self, PortClass, Service, Transport};
use serde::Serialize;

use crate::Failure;
use crate::args::ExplainArgs;
use crate::config::ListConfig;
use crate::render::{self, Context};

/// How many ports one `explain` takes: a range of them is a page each, and
/// more than this is not something anyone reads.
const MAX_TARGETS: usize = 1024;

/// One port to explain, and the transport the user named, if any.
struct Target {
    port: u16,
    transport: Option<Transport>,
}

fn parse_target(text: &str) -> Result<Vec<Target>, String> {
    let (body, transport) = match text.rsplit_once('/') {
        Some((b, t)) => {
            let t: Transport = t
                .parse()
                .map_err(|_| format!("'{text}': unknown protocol '{t}'"))?;
            (b, Some(t))
        }
        None => (text, None),
    };
    if let Ok(port) = body.parse::<u16>() {
        return Ok(vec![Target { port, transport }]);
    }
    if let Some((lo, hi)) = body.split_once('-')
        && !lo.is_empty()
        && lo.chars().chain(hi.chars()).all(|c| c.is_ascii_digit())
    {
        let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) else {
            return Err(format!("'{body}' is not a port range (0-65535)"));
        };
        if lo > hi {
            return Err(format!(
                "'{body}': the range's first port is above its last"
            ));
        }
        return Ok((lo..=hi).map(|port| Target { port, transport }).collect());
    }
    if body.chars().all(|c| c.is_ascii_digit()) && !body.is_empty() {
        return Err(format!("'{body}' is not a port (0-65535)"));
    }
    let mut ports: Vec<u16> = services::by_name(body)
        .iter()
        .filter(|s| transport.is_none_or(|t| t == s.transport))
        .map(|s| s.port)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    if ports.is_empty() {
        return Err(format!(
            "'{body}' is neither a port nor a known service name"
        ));
    }
    Ok(ports
        .into_iter()
        .map(|port| Target { port, transport })
        .collect())
}

#[derive(Serialize)]
struct EntryJson {
    name: &'static str,
    transport: &'static str,
    description: &'static str,
}

#[derive(Serialize)]
struct ExposureJson {
    what: &'static str,
    cleartext: bool,
    secure_alternative: Option<u16>,
    note: &'static str,
}

#[derive(Serialize)]
struct ExplainJson<S: Serialize> {
    port: u16,
    registry: Vec<EntryJson>,
    /// Transports IANA lists the port as Reserved for (port 0, and ports
    /// held back): reserved, not unassigned.
    reserved: Vec<&'static str>,
    /// What the port means besides the registry (port 0: "any port").
    note: Option<&'static str>,
    class: &'static str,
    class_meaning: &'static str,
    ephemeral_range: Option<[u16; 2]>,
    in_ephemeral_range: Option<bool>,
    in_use: Vec<S>,
    exposure: Option<ExposureJson>,
}

/// Runs `explain`.
pub fn run(args: &ExplainArgs) -> Result<ExitCode, Failure> {
    let mut targets = Vec::new();
    for text in args.targets.iter().filter(|t| !t.is_empty()) {
        let more = parse_target(text).map_err(Failure::Usage)?;
        if targets.len() + more.len() > MAX_TARGETS {
            return Err(Failure::Usage(format!(
                "explain takes at most {MAX_TARGETS} ports at once ('{text}' goes over)"
            )));
        }
        targets.extend(more);
    }
    if targets.is_empty() {
        return Err(Failure::Usage(
            "explain needs a port or a service name".into(),
        ));
    }
    let mut cfg = ListConfig::with_owners();
    let sys = crate::system::open(args.from_snapshot.as_deref())?;
    cfg.collect.netns = crate::netns_pick::scope(args.ns.netns.as_deref(), &*sys)?;
    let mut snap = collect::take(&*sys, &cfg.collect)?;
    snap.sockets.retain(|s| {
        s.local
            .port()
            .is_some_and(|p| targets.iter().any(|t| t.port == p))
    });
    let ctx = Context::new(&snap, &cfg);
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        let items: Vec<_> = targets.iter().map(|t| json_for(t, &ctx)).collect();
        serde_json::to_writer_pretty(&mut out, &items).map_err(io::Error::from)?;
        writeln!(out)?;
    } else {
        for (i, t) in targets.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            write_text(&mut out, t, &ctx)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn entries(t: &Target) -> Vec<&'static Service> {
    services::all_for_port(t.port)
        .into_iter()
        .filter(|s| t.transport.is_none_or(|want| want == s.transport))
        .collect()
}

/// What binding port 0 means: said for `explain 0`, which no service uses.
const PORT_ZERO: &str = "binding port 0 asks the kernel for any free port (one from the ephemeral range); no socket listens on port 0 itself, and a packet to it is refused or dropped";

/// The transports IANA reserves this port for, those the user asked about.
fn reserved(t: &Target) -> Vec<Transport> {
    services::reserved_for(t.port)
        .into_iter()
        .filter(|x| t.transport.is_none_or(|want| want == *x))
        .collect()
}

fn proto_of(t: Transport) -> Option<Proto> {
    match t {
        Transport::Tcp => Some(Proto::Tcp),
        Transport::Udp => Some(Proto::Udp),
        _ => None,
    }
}

fn in_use<'a>(t: &Target, snap: &'a Snapshot) -> Vec<&'a portscope::Socket> {
    snap.sockets
        .iter()
        .filter(|s| s.local.port() == Some(t.port))
        .filter(|s| {
            t.transport
                .is_none_or(|want| proto_of(want) == Some(s.proto))
        })
        .collect()
}

/// The exposure note for the port, unless the user asked about a transport
/// the note is not about (8080/udp is not the HTTP alternate port).
fn exposure_for(t: &Target) -> Option<&'static Exposure> {
    exposure::for_port(t.port).filter(|e| {
        t.transport
            .is_none_or(|want| e.transport.split('/').any(|x| x == want.as_str()))
    })
}

fn write_text(out: &mut dyn Write, t: &Target, ctx: &Context<'_>) -> io::Result<()> {
    let suffix = t
        .transport
        .map(|x| format!("/{}", x.as_str()))
        .unwrap_or_default();
    writeln!(out, "Port {}{suffix}", t.port)?;
    let list = entries(t);
    let reserved = reserved(t);
    if list.is_empty() && reserved.is_empty() {
        writeln!(out, "  registry   no IANA assignment")?;
    } else if list.is_empty() {
        let names: Vec<&str> = reserved.iter().map(|x| x.as_str()).collect();
        writeln!(
            out,
            "  registry   {:<5} reserved by IANA (not assigned to any service)",
            names.join("/")
        )?;
    } else {
        for (i, s) in list.iter().enumerate() {
            let label = if i == 0 { "registry" } else { "" };
            writeln!(
                out,
                "  {label:<10} {:<5} {:<16} {}",
                s.transport.as_str(),
                s.name,
                s.description
            )?;
        }
    }
    let class = PortClass::of(t.port);
    writeln!(
        out,
        "  class      {}: {}",
        class.as_str(),
        class.description()
    )?;
    if t.port == 0 {
        writeln!(out, "  note       {PORT_ZERO}")?;
    }
    match ctx.ephemeral {
        Some(r) if r.contains(t.port) => writeln!(
            out,
            "  ephemeral  yes: this host picks source ports for outgoing connections from {}-{}, so a client may hold it briefly",
            r.low, r.high
        )?,
        Some(r) => writeln!(
            out,
            "  ephemeral  no (this host's ephemeral range is {}-{})",
            r.low, r.high
        )?,
        None => writeln!(
            out,
            "  ephemeral  unknown (not readable here, or not recorded)"
        )?,
    }
    let used = in_use(t, ctx.snap);
    if used.is_empty() {
        writeln!(out, "  here       nothing on this machine uses it now")?;
    } else {
        for (i, s) in used.iter().enumerate() {
            let label = if i == 0 { "here" } else { "" };
            let mut owner = String::new();
            render::push_owners(&mut owner, s, ctx.snap);
            writeln!(
                out,
                "  {label:<10} {:<5} {:<24} {:<24} {:<12} {owner}",
                render::table::proto_label(s),
                s.shown_local().to_string(),
                s.shown_remote().to_string(),
                s.state.name_for(s.proto),
            )?;
        }
    }
    if let Some(e) = exposure_for(t) {
        writeln!(out, "  exposure   {} ({}): {}", e.what, e.transport, e.note)?;
        if let Some(alt) = e.secure_alternative {
            writeln!(out, "             encrypted alternative: port {alt}")?;
        }
    }
    Ok(())
}

fn json_for<'a>(t: &Target, ctx: &Context<'a>) -> ExplainJson<impl Serialize + 'a> {
    let class = PortClass::of(t.port);
    ExplainJson {
        port: t.port,
        registry: entries(t)
            .into_iter()
            .map(|s| EntryJson {
                name: s.name,
                transport: s.transport.as_str(),
                description: s.description,
            })
            .collect(),
        reserved: reserved(t).into_iter().map(|x| x.as_str()).collect(),
        note: (t.port == 0).then_some(PORT_ZERO),
        class: class.as_str(),
        class_meaning: class.description(),
        ephemeral_range: ctx.ephemeral.map(|r| [r.low, r.high]),
        in_ephemeral_range: ctx.ephemeral.map(|r| r.contains(t.port)),
        in_use: in_use(t, ctx.snap)
            .into_iter()
            .map(|s| render::json::socket_json(s, ctx, true))
            .collect(),
        exposure: exposure_for(t).map(|e| ExposureJson {
            what: e.what,
            cleartext: e.cleartext,
            secure_alternative: e.secure_alternative,
            note: e.note,
        }),
    }
}

/// `explain TARGET --json` on a snapshot already taken (the server's
/// `/api/v1/explain/{port}`): the same array of objects, or the one-line
/// complaint about the target.
#[cfg(feature = "serve")]
pub fn json_on(target: &str, snap: &Snapshot) -> Result<serde_json::Value, String> {
    let targets = parse_target(target)?;
    let cfg = ListConfig::with_owners();
    let snap = Snapshot {
        sockets: snap
            .sockets
            .iter()
            .filter(|s| {
                s.local
                    .port()
                    .is_some_and(|p| targets.iter().any(|t| t.port == p))
            })
            .cloned()
            .collect(),
        processes: snap.processes.clone(),
        user_names: snap.user_names.clone(),
        ..Snapshot::default()
    };
    let ctx = Context::new(&snap, &cfg);
    let items: Vec<_> = targets.iter().map(|t| json_for(t, &ctx)).collect();
    serde_json::to_value(&items).map_err(|e| e.to_string())
}
