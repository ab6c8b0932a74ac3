//! `portscope serve`: checks the flags (a loopback address, or a token, or
//! an explicit `--allow-unauthenticated`), reads the token, and hands over
//! to the server in `crate::serve`.

use std::net::SocketAddr;
use std::process::ExitCode;

use portscope::collect::Options;
use portscope::model::Detail;

use crate::Failure;
use crate::args::ServeArgs;
use crate::cmd::shown_path;
use crate::serve::Config;

/// The longest token file read: a token is a line, not a document.
const MAX_TOKEN_FILE: u64 = 4096;

/// Runs `serve` until SIGTERM or SIGINT.
pub fn run(a: &ServeArgs) -> Result<ExitCode, Failure> {
    let mut cfg = config(a)?;
    let sys: std::sync::Arc<dyn portscope::collect::System> =
        crate::system::open(a.from_snapshot.as_deref())?.into();
    cfg.opts.netns = crate::netns_pick::scope(a.ns.netns.as_deref(), &*sys)?;
    crate::serve::run(sys, cfg)?;
    Ok(ExitCode::SUCCESS)
}

/// The validated settings of `serve`.
pub fn config(a: &ServeArgs) -> Result<Config, Failure> {
    let listen: SocketAddr = a.listen.parse().map_err(|_| {
        Failure::Usage(format!(
            "--listen takes ADDR:PORT (e.g. 127.0.0.1:9911 or [::1]:9911), not '{}'",
            portscope::text::escape(a.listen.as_bytes())
        ))
    })?;
    let every = crate::config::interval("--interval", a.interval).map_err(Failure::Usage)?;
    let token = match &a.token_file {
        Some(path) => Some(read_token(path)?),
        None => None,
    };
    if !listen.ip().is_loopback() && token.is_none() && !a.allow_unauthenticated {
        return Err(Failure::Usage(format!(
            "--listen {listen} is not a loopback address: give --token-file FILE, or say --allow-unauthenticated"
        )));
    }
    if a.top == 0 || a.top > 10_000 {
        return Err(Failure::Usage(format!(
            "--top takes 1 to 10000 processes, not {}",
            a.top
        )));
    }
    let opts = Options {
        query: crate::config::select_query(&a.select),
        owners: true,
        source: crate::config::source_choice(a.source),
        // No tcp_info: the bytes of closed connections come with their
        // destroy notifications, and accept queues from the base message.
        detail: Detail::default(),
        ..Options::default()
    };
    Ok(Config {
        listen,
        every,
        token,
        top: a.top,
        opts,
    })
}

/// The token in `path`: its content without surrounding whitespace; an
/// empty, unreadable or oversized file is a usage error.
fn read_token(path: &std::path::Path) -> Result<String, Failure> {
    use std::io::Read;
    let bad = |e: String| Failure::Usage(format!("--token-file {}: {e}", shown_path(path)));
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut raw = Vec::new();
    file.take(MAX_TOKEN_FILE + 1)
        .read_to_end(&mut raw)
        .map_err(|e| bad(e.to_string()))?;
    if raw.len() as u64 > MAX_TOKEN_FILE {
        return Err(bad(format!("longer than {MAX_TOKEN_FILE} bytes")));
    }
    let text = String::from_utf8(raw).map_err(|_| bad("not UTF-8".into()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(bad("empty".into()));
    }
    if token.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return Err(bad(
            "a token is printable ASCII without spaces (it goes in an HTTP header)".into(),
        ));
    }
    Ok(token.to_string())
}
