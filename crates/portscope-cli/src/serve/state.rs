//! The collector thread and what it publishes: one immutable [`Published`]
//! per refresh (snapshot, audit, both metric expositions, and the
//! unfiltered listing, serialized by the first request that wants it)
//! swapped in whole, so a request only reads
//! what the latest refresh left, and a [`Batch`] of changes broadcast to
//! the events streams.

use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use portscope::audit::{self, Report};
use portscope::collect::{Options, Refresher, System};
use portscope::json::{AddrOut, AuditOut, FindingOut, SummaryOut};
use portscope::model::Snapshot;
use portscope::services::EphemeralRange;
use tokio::sync::broadcast;

use super::events::{Change, Feed};
use super::metrics::{self, Inputs, Totals};

/// What the latest refresh left for requests to read.
pub struct Published {
    /// The snapshot, with owners.
    pub snap: Arc<Snapshot>,
    /// `snap` as the listing's JSON array, once a request asked for it
    /// (at 100k sockets it is ~60 MB: not worth writing every refresh).
    pub listing: Arc<OnceLock<Bytes>>,
    /// The audit document, as `portscope audit --json` writes it.
    pub audit: Bytes,
    /// `/metrics` in OpenMetrics.
    pub openmetrics: Bytes,
    /// `/metrics` in the Prometheus text format 0.0.4.
    pub text: Bytes,
    /// How many refreshes succeeded so far (0: none yet).
    pub refreshes: u64,
}

/// Changes (a refresh's, or closes the OS reported between two), with
/// the processes they name.
pub struct Batch {
    /// The changes.
    pub changes: Vec<Change>,
    /// The changes' processes (no sockets).
    pub ctx: Arc<Snapshot>,
}

/// What the server shares between the collector and the requests.
pub struct Shared {
    /// The latest refresh's results.
    pub latest: RwLock<Arc<Published>>,
    /// Changes, for the events streams.
    pub events: broadcast::Sender<Arc<Batch>>,
    /// This machine's ephemeral port range.
    pub ephemeral: Option<EphemeralRange>,
}

impl Shared {
    /// The latest published refresh.
    pub fn latest(&self) -> Arc<Published> {
        match self.latest.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn publish(&self, p: Published) {
        let p = Arc::new(p);
        match self.latest.write() {
            Ok(mut g) => *g = p,
            Err(poisoned) => *poisoned.into_inner() = p,
        }
    }
}

/// An empty start, before the first refresh.
pub fn empty(ephemeral: Option<EphemeralRange>) -> Shared {
    let snap = Snapshot::default();
    let audit = Report::default();
    let om = metrics::render(&Inputs {
        snap: &snap,
        totals: &Totals::default(),
        audit: &audit,
        top: 1,
        refresh_seconds: 0.0,
        refreshed_at: 0.0,
    });
    let (tx, _) = broadcast::channel(64);
    Shared {
        latest: RwLock::new(Arc::new(Published {
            listing: Arc::new(OnceLock::from(Bytes::from_static(b"[\n]\n"))),
            audit: Bytes::from_static(b"{}"),
            text: metrics::to_prometheus_text(&om).into(),
            openmetrics: om.into(),
            snap: Arc::new(snap),
            refreshes: 0,
        })),
        events: tx,
        ephemeral,
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// How often the collector looks at its stop channel and passes on the
/// closes the OS reported between two refreshes.
const TICK: Duration = Duration::from_millis(250);

/// How long an audit is reused while the listeners stay the same (the
/// host's addresses, which it also judges, may change meanwhile).
const AUDIT_FOR: Duration = Duration::from_secs(60);

/// Refreshes every `every` until `stop` says so (or its sender is dropped),
/// publishing each result in `shared`; between refreshes, passes on the
/// closes the OS reports through `feed` (subscribed before the first
/// refresh, so that no close in between is missed).
pub fn collector(
    sys: &dyn System,
    opts: Options,
    every: Duration,
    top: usize,
    shared: &Shared,
    stop: &Receiver<()>,
    mut feed: Feed,
) {
    let mut refresher = Refresher::new(sys, opts);
    let mut totals = Totals::default();
    let mut audit = Audit::default();
    let mut changes = Vec::new();
    let mut last_error: Option<String> = None;
    loop {
        let started = Instant::now();
        match refresher.take() {
            Ok(snap) => {
                if last_error.take().is_some() {
                    crate::say(format_args!("serve: refreshing works again"));
                }
                feed.on_snapshot(&snap, &mut changes);
                totals.add(&changes);
                totals.events_lost = feed.lost;
                totals.see_listeners(&snap, unix_now());
                audit.update(sys, &snap);
                let took = started.elapsed().as_secs_f64();
                publish(shared, snap, &audit, &totals, top, took);
                send(shared, &mut changes);
            }
            Err(e) => {
                totals.refresh_errors += 1;
                let msg = e.to_string();
                if last_error.as_deref() != Some(&msg) {
                    crate::say(format_args!("serve: refresh failed: {msg}"));
                }
                last_error = Some(msg);
                // The count of errors is news for the metrics.
                let old = shared.latest();
                let om = metrics::render(&Inputs {
                    snap: &old.snap,
                    totals: &totals,
                    audit: &audit.report,
                    top,
                    refresh_seconds: started.elapsed().as_secs_f64(),
                    refreshed_at: unix_now(),
                });
                shared.publish(Published {
                    snap: Arc::clone(&old.snap),
                    listing: Arc::clone(&old.listing),
                    audit: old.audit.clone(),
                    text: metrics::to_prometheus_text(&om).into(),
                    openmetrics: om.into(),
                    refreshes: old.refreshes,
                });
            }
        }
        let next = started + every;
        loop {
            let left = next.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let slice = left.min(TICK);
            if feed.subscribed() {
                if let Err(e) = feed.wait(slice, &mut changes) {
                    crate::say(format_args!(
                        "serve: socket-destroy notifications stopped ({e}): closed connections are counted from the refreshes, without their bytes"
                    ));
                }
                // Closes are news for the page at once; the counters take
                // them now and show them from the next refresh.
                totals.add(&changes);
                totals.events_lost = feed.lost;
                send(shared, &mut changes);
                match stop.try_recv() {
                    Err(TryRecvError::Empty) => {}
                    Ok(()) | Err(TryRecvError::Disconnected) => return,
                }
            } else {
                match stop.recv_timeout(slice) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        }
    }
}

/// Broadcasts `changes` (and empties it) to the events streams.
fn send(shared: &Shared, changes: &mut Vec<Change>) {
    if changes.is_empty() {
        return;
    }
    let changes = std::mem::take(changes);
    // Each event carries its owners: they are the processes the stream's
    // filter and socket objects look up.
    let mut ctx = Snapshot::default();
    for c in &changes {
        for p in &c.event.processes {
            ctx.processes.entry(p.pid).or_insert_with(|| p.clone());
        }
    }
    // No receivers is fine: nobody is watching.
    let _ = shared.events.send(Arc::new(Batch {
        changes,
        ctx: Arc::new(ctx),
    }));
}

/// The audit of the listeners, made again only when they changed (or it
/// is [`AUDIT_FOR`] old): at 100k sockets the listeners are a few, and the
/// same from one refresh to the next.
#[derive(Default)]
struct Audit {
    /// What the listeners were, as a fingerprint.
    key: Option<u64>,
    at: Option<Instant>,
    report: Report,
    /// The audit document.
    doc: Bytes,
}

impl Audit {
    fn update(&mut self, sys: &dyn System, snap: &Snapshot) {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for s in snap.sockets.iter().filter(|s| metrics::is_listener(s)) {
            (s.cookie, s.proto, s.state, &s.local, s.inode).hash(&mut h);
            for o in &s.owners {
                o.pid.hash(&mut h);
                if let Some(p) = snap.processes.get(&o.pid) {
                    (&p.name, &p.exe).hash(&mut h);
                }
            }
        }
        let key = h.finish();
        let fresh = self.at.is_some_and(|t| t.elapsed() < AUDIT_FOR);
        if self.key == Some(key) && fresh {
            return;
        }
        let judged = listeners(snap);
        let facts = sys.host_facts(&judged);
        let report = audit::audit(&judged, &facts, &[]);
        let findings: Vec<FindingOut> = report
            .findings
            .iter()
            .map(|f| FindingOut::new(f, &judged))
            .collect();
        let doc = AuditOut {
            summary: SummaryOut::new(&report, &findings),
            host_addresses: facts.addresses.iter().map(AddrOut::from).collect(),
            skipped: Vec::new(),
            baseline: None,
            findings,
            gone: None,
        };
        self.doc = serde_json::to_vec(&doc).unwrap_or_default().into();
        self.report = report;
        self.key = Some(key);
        self.at = Some(Instant::now());
    }
}

/// The listening sockets of `snap` (what the audit judges), with its processes.
fn listeners(snap: &Snapshot) -> Snapshot {
    Snapshot {
        sockets: snap
            .sockets
            .iter()
            .filter(|s| metrics::is_listener(s))
            .cloned()
            .collect(),
        processes: snap.processes.clone(),
        hidden: snap.hidden.clone(),
        user_names: snap.user_names.clone(),
        source: snap.source,
        notes: snap.notes.clone(),
        ..Snapshot::default()
    }
}

fn publish(shared: &Shared, snap: Snapshot, audit: &Audit, totals: &Totals, top: usize, took: f64) {
    let om = metrics::render(&Inputs {
        snap: &snap,
        totals,
        audit: &audit.report,
        top,
        refresh_seconds: took,
        refreshed_at: unix_now(),
    });
    let refreshes = shared.latest().refreshes + 1;
    shared.publish(Published {
        snap: Arc::new(snap),
        listing: Arc::new(OnceLock::new()),
        audit: audit.doc.clone(),
        text: metrics::to_prometheus_text(&om).into(),
        openmetrics: om.into(),
        refreshes,
    });
}
