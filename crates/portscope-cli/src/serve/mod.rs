//! `portscope serve`: one long-running process that refreshes the sockets
//! on its own schedule (a thread running the library's `Refresher`,
//! `state::collector`) and answers HTTP from what the latest refresh
//! published: Prometheus metrics (`metrics`), a read-only JSON API and
//! events stream (`api`), and a live page (`page`).
//!
//! HTTP/1.1 on hyper, one task per connection, with bounds: at most
//! [`MAX_CONNECTIONS`] connections, request heads of at most 16 KiB read
//! within [`HEAD_TIMEOUT`]. SIGTERM and SIGINT end it cleanly. It logs one
//! line when it starts, when it stops, and on each new kind of error.

mod api;
mod events;
mod labels;
mod metrics;
mod page;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use portscope::collect::{Options, System};
use tokio::sync::{Notify, Semaphore};

use crate::Failure;

/// Most connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 256;
/// How long a client may take to send a request's head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head read (hyper's buffer).
const MAX_HEAD: usize = 16 * 1024;

/// The validated settings of `serve`.
#[derive(Debug)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Time between refreshes.
    pub every: Duration,
    /// The bearer token required for data, if any.
    pub token: Option<String>,
    /// How many processes get their own socket-count series.
    pub top: usize,
    /// What each refresh collects.
    pub opts: Options,
}

/// Serves until SIGTERM or SIGINT.
pub fn run(sys: Arc<dyn System>, cfg: Config) -> Result<(), Failure> {
    let listener = std::net::TcpListener::bind(cfg.listen).map_err(|e| {
        Failure::Usage(format!("--listen {}: cannot listen there: {e}", cfg.listen))
    })?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let shared = Arc::new(state::empty(sys.ephemeral_range()));
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let (feed, no_feed) = events::Feed::new(&*sys, cfg.opts.netns);
    let collector = {
        let shared = Arc::clone(&shared);
        let sys = Arc::clone(&sys);
        let (opts, every, top) = (cfg.opts, cfg.every, cfg.top);
        std::thread::Builder::new()
            .name("collect".into())
            .spawn(move || state::collector(&*sys, opts, every, top, &shared, &stop_rx, feed))?
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    crate::say(format_args!(
        "serve: listening on http://{local}/ (refresh every {:?}, {})",
        cfg.every,
        if cfg.token.is_some() {
            "bearer token required"
        } else {
            "no token"
        }
    ));
    if let Some(why) = no_feed {
        crate::say(format_args!(
            "serve: no socket-destroy notifications ({why}): closed connections are counted from the refreshes, without their bytes"
        ));
    }
    let app = api::App::new(Arc::clone(&shared), cfg.token);
    // SIGTERM and SIGINT through signal-hook on a thread of their own, not
    // tokio's signal driver: enabling that feature would give every tokio
    // runtime in the binary (the scanner's) a driver that needs spare fds.
    let stop = Arc::new(Notify::new());
    let which = Arc::new(std::sync::atomic::AtomicI32::new(0));
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])?;
    let signals_handle = signals.handle();
    {
        let (stop, which) = (Arc::clone(&stop), Arc::clone(&which));
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    which.store(sig, std::sync::atomic::Ordering::Relaxed);
                    stop.notify_one();
                }
            })?;
    }
    let res = rt.block_on(accept_loop(listener, api::router(app), &stop, &which));
    signals_handle.close();
    let _ = stop_tx.send(());
    let _ = collector.join();
    // Streams still open end with the runtime.
    rt.shutdown_timeout(Duration::from_secs(1));
    match &res {
        Ok(why) => crate::say(format_args!("serve: stopped ({why})")),
        Err(e) => crate::say(format_args!("serve: stopped: {e}")),
    }
    res.map(|_| ()).map_err(Failure::from)
}

/// The name of the signal `which` holds.
fn signal_name(which: &std::sync::atomic::AtomicI32) -> &'static str {
    match which.load(std::sync::atomic::Ordering::Relaxed) {
        signal_hook::consts::SIGTERM => "SIGTERM",
        signal_hook::consts::SIGINT => "SIGINT",
        _ => "signal",
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    router: axum::Router,
    stop: &Notify,
    which: &std::sync::atomic::AtomicI32,
) -> std::io::Result<&'static str> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut last_error: Option<std::io::ErrorKind> = None;
    loop {
        let permit = tokio::select! {
            () = stop.notified() => return Ok(signal_name(which)),
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return Ok("closed"),
            },
        };
        let stream = tokio::select! {
            () = stop.notified() => return Ok(signal_name(which)),
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of fds and the like: say so once, back off.
                    if last_error != Some(e.kind()) {
                        crate::say(format_args!("serve: accept failed: {e}"));
                        last_error = Some(e.kind());
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        last_error = None;
        let svc = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), svc);
            // A client that goes away mid-answer is no error of ours.
            let _ = conn.await;
            drop(permit);
        });
    }
}
