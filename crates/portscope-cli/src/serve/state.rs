//! The collector thread and what it publishes: one immutable [`Published`]
//! per refresh (snapshot, audit, both metric expositions, and the
//! unfiltered listing, serialized by the first request that wants it)
//! swapped in whole, so a request only reads
//! what the latest refresh left, and a [`Batch`] of changes broadcast to
//! the events streams.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use portscope::audit::{self, Report};
use portscope::collect::{Options, Refresher, System};
use portscope::json::{AddrOut, AuditOut, FindingOut, SummaryOut};
use portscope::model::Snapshot;
use portscope::services::EphemeralRange;
use portscope::track::tracker::Tracker;
use tokio::sync::broadcast;

use super::events::{self, Change};
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

/// The changes one refresh brought, with the processes they name.
pub struct Batch {
    /// The changes.
    pub changes: Vec<Change>,
    /// Processes of the sockets open and recently closed (no sockets).
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

/// Refreshes every `every` until `stop` says so (or its sender is dropped),
/// publishing each result in `shared`.
pub fn collector(
    sys: &dyn System,
    opts: Options,
    every: Duration,
    top: usize,
    shared: &Shared,
    stop: &Receiver<()>,
) {
    let mut refresher = Refresher::new(sys, opts);
    let mut tracker = Tracker::default();
    let mut states = HashMap::new();
    let mut totals = Totals::default();
    let mut last_error: Option<String> = None;
    loop {
        let started = Instant::now();
        match refresher.take() {
            Ok(snap) => {
                if last_error.take().is_some() {
                    crate::say(format_args!("serve: refreshing works again"));
                }
                let took = started.elapsed().as_secs_f64();
                publish(
                    sys,
                    shared,
                    snap,
                    &mut tracker,
                    &mut states,
                    &mut totals,
                    top,
                    took,
                );
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
                let om = render(&old.snap, &totals, top, started.elapsed().as_secs_f64());
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
        match stop.recv_timeout(every.saturating_sub(started.elapsed())) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn render(snap: &Snapshot, totals: &Totals, top: usize, took: f64) -> String {
    let report = audit::audit(
        &listeners(snap),
        &portscope::collect::host::HostFacts::from_snapshot(snap),
        &[],
    );
    metrics::render(&Inputs {
        snap,
        totals,
        audit: &report,
        top,
        refresh_seconds: took,
        refreshed_at: unix_now(),
    })
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

#[allow(clippy::too_many_arguments)]
fn publish(
    sys: &dyn System,
    shared: &Shared,
    snap: Snapshot,
    tracker: &mut Tracker,
    states: &mut HashMap<portscope::track::SocketKey, events::Seen>,
    totals: &mut Totals,
    top: usize,
    took: f64,
) {
    let at = Instant::now();
    tracker.ingest(snap.clone(), at);
    let changes = events::from_tracker(tracker, at, states);
    let ctx = Arc::new(tracker.context.clone());
    totals.add(&changes, &ctx);
    totals.see_listeners(&snap, unix_now());

    let judged = listeners(&snap);
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
    let audit_json = serde_json::to_vec(&doc).unwrap_or_default();

    let om = metrics::render(&Inputs {
        snap: &snap,
        totals,
        audit: &report,
        top,
        refresh_seconds: took,
        refreshed_at: unix_now(),
    });
    let refreshes = shared.latest().refreshes + 1;
    shared.publish(Published {
        snap: Arc::new(snap),
        listing: Arc::new(OnceLock::new()),
        audit: audit_json.into(),
        text: metrics::to_prometheus_text(&om).into(),
        openmetrics: om.into(),
        refreshes,
    });
    if !changes.is_empty() {
        // No receivers is fine: nobody is watching.
        let _ = shared.events.send(Arc::new(Batch { changes, ctx }));
    }
}
