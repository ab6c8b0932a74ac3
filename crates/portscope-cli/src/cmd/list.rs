//! The listing: take a snapshot, keep what was asked for, sort, render.

use std::io::{self, Write};
use std::process::ExitCode;

use portscope::collect;

use crate::Failure;
use crate::config::ListConfig;
use crate::render;

/// Lists sockets as configured.
pub fn run(cfg: &ListConfig) -> Result<ExitCode, Failure> {
    let mut snap = match &cfg.from_snapshot {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
            let mut snap = crate::snapshot_file::parse(&text)
                .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
            snap.sockets.retain(|s| cfg.collect.query.wants(s));
            snap
        }
        None => collect::take(&cfg.collect)?,
    };
    if cfg.filter.has_expression() || cfg.filter.states().is_some() {
        let sockets = std::mem::take(&mut snap.sockets);
        snap.sockets = sockets
            .into_iter()
            .filter(|s| cfg.filter.matches(s, &snap))
            .collect();
    }
    if cfg.listening_only {
        snap.sockets.retain(|s| s.is_listening());
    }
    for note in &snap.notes {
        eprintln!("portscope: note: {note}");
    }
    if let Some((key, reverse)) = cfg.sort {
        render::sort(&mut snap, key, reverse);
    }
    let stdout = io::stdout().lock();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout);
    render::write(&mut out, &snap, cfg)?;
    out.flush()?;
    if cfg.owners && snap.hidden.processes > 0 {
        eprintln!(
            "portscope: owners of {} socket(s) hidden: {} process(es) could not be read (run as root to see them)",
            snap.hidden.sockets, snap.hidden.processes
        );
    }
    Ok(ExitCode::SUCCESS)
}
