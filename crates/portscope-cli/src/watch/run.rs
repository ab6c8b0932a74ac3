//! Running the live view: snapshots are taken on a collector thread and
//! sent, immutable, over a channel to the main thread, which owns the
//! terminal, draws, and handles keys read by an input thread.
//!
//! The terminal is put back as it was on every way out: a normal quit, a
//! SIGTERM/SIGHUP/SIGINT, an error, and a panic (ratatui's `try_init` installs a hook that restores
//! it before the panic message is printed).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use portscope::collect::{
    Options, PinError, ProcessHandle, Refresher, Signal, SignalOutcome, System,
};
use portscope::model::Detail;
use portscope::model::Snapshot;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event as TermEvent, KeyEvent};

use super::app::{Action, App};
use super::draw::{self, StatusKind};

/// What reaches the main thread.
enum Event {
    /// A snapshot, with when it was taken.
    Refresh(Box<Snapshot>, Instant),
    /// Sockets the OS freed since the last snapshot, with when.
    Closed(Vec<portscope::model::Socket>, Instant),
    /// Taking a snapshot failed.
    CollectFailed(String),
    /// A key.
    Key(KeyEvent),
    /// The terminal changed size.
    Resize,
    /// The terminal can no longer be read.
    InputFailed(String),
}

/// What the main thread tells the collector.
enum Control {
    /// Refresh now rather than at the next interval (after a kill).
    Now,
}

/// How often the screen is redrawn without news, so highlights fade on time.
const TICK: Duration = Duration::from_millis(250);

/// Runs the view until the user quits. Takes over the terminal and gives
/// it back on every way out.
pub fn run(sys: Arc<dyn System>, app: App, opts: Options, every: Duration) -> io::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let res = event_loop(&mut terminal, sys, app, opts, every);
    ratatui::restore();
    res
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    sys: Arc<dyn System>,
    mut app: App,
    opts: Options,
    every: Duration,
) -> io::Result<()> {
    let (tx, rx) = mpsc::channel::<Event>();
    let (ctl_tx, ctl_rx) = mpsc::channel::<Control>();
    let stop = Arc::new(AtomicBool::new(false));
    // Whether snapshots carry tcp_info for every socket; when not, the rows
    // shown get theirs by exact match (`info`).
    let all_info = Arc::new(AtomicBool::new(app.needs_all_info()));
    // Whether the system can read tcp_info by exact match at all (netlink
    // refused: no); an empty request opens what it needs.
    let info = sys.tcp_info(&mut []).is_ok();
    {
        let tx = tx.clone();
        let all_info = Arc::clone(&all_info);
        let sys = Arc::clone(&sys);
        std::thread::Builder::new()
            .name("collect".into())
            .spawn(move || collector(&*sys, &opts, every, &tx, &ctl_rx, &all_info))?;
    }
    {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("input".into())
            .spawn(move || input(&tx, &stop))?;
    }
    // SIGTERM, SIGHUP (the terminal went away) and a SIGINT from outside end
    // the view like `q`, so the terminal is given back in those cases too.
    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&signalled))?;
    }
    // The process a kill prompt is about, pinned when the prompt opened.
    let mut pinned: Option<(u32, Result<ProcessHandle, PinError>)> = None;
    let res = (|| -> io::Result<()> {
        let mut height = terminal.size()?.height;
        loop {
            if signalled.load(Ordering::Relaxed) {
                return Ok(());
            }
            terminal.draw(|f| {
                height = f.area().height;
                let screen = app.screen(height, Instant::now());
                draw::draw(f, &screen);
            })?;
            let ev = match rx.recv_timeout(TICK) {
                Ok(ev) => ev,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            let now = Instant::now();
            let (at, missing) = match &ev {
                Event::Refresh(_, at) => (*at, false),
                _ => (now, true),
            };
            match ev {
                Event::Refresh(snap, at) => app.ingest(*snap, at),
                Event::Closed(sockets, at) => app.closed(sockets, at),
                Event::CollectFailed(e) => app.say(e, StatusKind::Error, now),
                Event::Resize => {}
                Event::InputFailed(e) => return Err(io::Error::other(e)),
                Event::Key(k) => match app.key(k, now, draw::body_height(height)) {
                    Action::None => {}
                    Action::Quit => return Ok(()),
                    Action::Pin { pid } => pinned = Some((pid, sys.pin(pid))),
                    Action::Kill { pid, label, inodes } => {
                        let (text, kind) = match pinned.take() {
                            Some((p, handle)) if p == pid => terminate(&handle, &label, &inodes),
                            _ => (
                                format!("{label}: not pinned; not signalled"),
                                StatusKind::Error,
                            ),
                        };
                        app.say(text, kind, now);
                        // Show the outcome's effect without waiting a whole interval.
                        let _ = ctl_tx.send(Control::Now);
                    }
                },
            }
            // tcp_info for the rows now shown: after a refresh all of them,
            // after a key or a resize those that have none yet.
            let all = app.needs_all_info();
            all_info.store(all, Ordering::Relaxed);
            if !all
                && info
                && let Err(e) = app.read_info(height, at, missing, |s| sys.tcp_info(s))
            {
                app.say(format!("reading tcp_info: {e}"), StatusKind::Error, now);
            }
        }
    })();
    // The collector ends when its channel closes (ctl_tx dropped with this
    // frame); the input thread polls this flag.
    stop.store(true, Ordering::Relaxed);
    res
}

/// Sends SIGTERM to the pinned process if it still holds one of `inodes`,
/// and says what came of it.
fn terminate(
    handle: &Result<ProcessHandle, PinError>,
    label: &str,
    inodes: &[u64],
) -> (String, StatusKind) {
    let h = match handle {
        Ok(h) => h,
        Err(PinError::Gone) => {
            return (
                format!("{label} exited meanwhile; not signalled"),
                StatusKind::Info,
            );
        }
        Err(e) => return (format!("{label}: {e}"), StatusKind::Error),
    };
    match h.signal_if_holding(inodes, Signal::TERM) {
        SignalOutcome::Sent => (format!("sent SIGTERM to {label}"), StatusKind::Info),
        SignalOutcome::ExitedMeanwhile => (
            format!("{label} exited meanwhile; not signalled"),
            StatusKind::Info,
        ),
        SignalOutcome::NoLongerHolds => (
            format!("{label} no longer holds the socket; not signalled"),
            StatusKind::Info,
        ),
        SignalOutcome::NotPermitted => (
            format!("not permitted to signal {label} (another user's process?)"),
            StatusKind::Error,
        ),
        SignalOutcome::Recorded => (
            format!("{label} is recorded: nothing to signal"),
            StatusKind::Info,
        ),
        SignalOutcome::Failed(e) => (format!("signalling {label} failed: {e}"), StatusKind::Error),
    }
}

fn collector(
    sys: &dyn System,
    opts: &Options,
    every: Duration,
    tx: &Sender<Event>,
    ctl: &Receiver<Control>,
    all_info: &AtomicBool,
) {
    let mut refresher = Refresher::new(sys, *opts);
    // Connections that open and close between two refreshes are seen only
    // through the destroy notifications; without them (a recording, a
    // kernel without them) the view shows what the snapshots catch.
    let mut destroyed = sys.subscribe(None).ok();
    let mut freed = Vec::new();
    loop {
        if let Some(sub) = destroyed.as_mut() {
            freed.clear();
            // Whatever is queued, without waiting; a loss only loses rows.
            for _ in 0..64 {
                match sub.wait(Duration::ZERO, &mut freed) {
                    Ok(portscope::collect::Received::Sockets(_)) => {}
                    Ok(portscope::collect::Received::Lost(_)) => {}
                    Ok(portscope::collect::Received::Timeout) | Err(_) => break,
                }
            }
            freed.retain(|s| opts.query.wants(s));
            if !freed.is_empty()
                && tx
                    .send(Event::Closed(std::mem::take(&mut freed), Instant::now()))
                    .is_err()
            {
                return;
            }
        }
        refresher.set_detail(Detail {
            info: all_info.load(Ordering::Relaxed),
            ..opts.detail
        });
        let at = Instant::now();
        let ev = match refresher.take() {
            Ok(snap) => Event::Refresh(Box::new(snap), at),
            Err(e) => Event::CollectFailed(e.to_string()),
        };
        if tx.send(ev).is_err() {
            return;
        }
        match ctl.recv_timeout(every.saturating_sub(at.elapsed())) {
            Ok(Control::Now) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn input(tx: &Sender<Event>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let ev = match event::poll(Duration::from_millis(100)) {
            Ok(false) => continue,
            Ok(true) => match event::read() {
                Ok(TermEvent::Key(k)) => Event::Key(k),
                Ok(TermEvent::Resize(..)) => Event::Resize,
                Ok(_) => continue,
                Err(e) => Event::InputFailed(e.to_string()),
            },
            Err(e) => Event::InputFailed(e.to_string()),
        };
        let failed = matches!(ev, Event::InputFailed(_));
        if tx.send(ev).is_err() || failed {
            return;
        }
    }
}
