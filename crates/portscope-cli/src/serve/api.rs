//! The routes: `/metrics`, the read-only JSON API under `/api/v1/`, the
//! page at `/`. Every handler reads what the latest refresh published;
//! none collects. Only GET (and HEAD) exist: nothing here changes the
//! machine.

// A check that fails returns the answer to send; boxing it buys nothing.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::{self, Stream};
use portscope::filter::Filter;
use portscope::json::Listing;
use portscope::model::{Detail, Snapshot};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};

use super::page;
use super::state::{Batch, Shared};

/// Most events streams open at once; more get 503.
const MAX_STREAMS: usize = 32;
/// Longest filter accepted, in bytes.
const MAX_FILTER: usize = 4096;

/// What every handler can reach.
#[derive(Clone)]
pub struct App {
    /// The collector's results.
    pub shared: Arc<Shared>,
    /// The bearer token `/metrics` and `/api/` require, if any.
    pub token: Option<Arc<str>>,
    /// Permits for events streams.
    pub streams: Arc<Semaphore>,
}

impl App {
    /// The handlers' state.
    pub fn new(shared: Arc<Shared>, token: Option<String>) -> App {
        App {
            shared,
            token: token.map(Into::into),
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
        }
    }
}

/// The router.
pub fn router(app: App) -> Router {
    let data = Router::new()
        .route("/metrics", get(metrics))
        .route("/api/v1/snapshot", get(snapshot))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/explain/{port}", get(explain))
        .route("/api/v1/events", get(events))
        .route_layer(middleware::from_fn_with_state(app.clone(), authorize));
    Router::new()
        .route("/", get(page::index))
        .route("/page.js", get(page::script))
        .route("/page.css", get(page::style))
        .route("/api/v1/openapi.json", get(page::openapi))
        .merge(data)
        .fallback(not_found)
        .with_state(app)
}

/// A JSON error body `{"error": …}` with `status`.
pub fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": msg.into() });
    (status, json_headers(), body.to_string()).into_response()
}

fn json_headers() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such resource")
}

/// Compares without stopping at the first difference, so the time taken
/// says nothing about how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authorize(State(app): State<App>, req: Request, next: Next) -> Response {
    if let Some(token) = &app.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
        if !given.is_some_and(|g| same(g, token.as_bytes())) {
            let mut r = error(StatusCode::UNAUTHORIZED, "a bearer token is required");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"portscope\""),
            );
            return r;
        }
    }
    next.run(req).await
}

/// Rejects query parameters other than `allowed`.
fn only(q: &HashMap<String, String>, allowed: &[&str]) -> Result<(), Response> {
    match q.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(error(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown query parameter '{}'",
                portscope::text::escape(k.as_bytes())
            ),
        )),
        None => Ok(()),
    }
}

/// The filter of `?filter=`, if given; a parse error is a 400 carrying
/// the message, the column and the caret lines.
fn filter_of(q: &HashMap<String, String>) -> Result<Option<Filter>, Response> {
    let Some(text) = q.get("filter").map(|t| t.trim()) else {
        return Ok(None);
    };
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > MAX_FILTER {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("filter longer than {MAX_FILTER} bytes"),
        ));
    }
    let words: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    match Filter::parse(&words) {
        Ok(f) => Ok(Some(f)),
        Err(e) => {
            let body = serde_json::json!({
                "error": e.to_string(),
                "message": e.message,
                "column": e.column,
                "caret": e.caret_lines(),
            });
            Err((StatusCode::BAD_REQUEST, json_headers(), body.to_string()).into_response())
        }
    }
}

async fn metrics(State(app): State<App>, headers: HeaderMap) -> Response {
    let latest = app.shared.latest();
    let open = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let (ctype, body) = if open {
        (
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            latest.openmetrics.clone(),
        )
    } else {
        (
            "text/plain; version=0.0.4; charset=utf-8",
            latest.text.clone(),
        )
    };
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(ctype))],
        body,
    )
        .into_response()
}

/// The query of a route that takes only `?filter=`: the filter, or the 400
/// for a malformed query, another parameter or a bad expression.
fn filter_query(
    q: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Option<Filter>, Response> {
    let Ok(Query(q)) = q else {
        return Err(error(StatusCode::BAD_REQUEST, "malformed query string"));
    };
    only(&q, &["filter"])?;
    filter_of(&q)
}

async fn snapshot(
    State(app): State<App>,
    q: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let filter = match filter_query(q) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let latest = app.shared.latest();
    let ephemeral = app.shared.ephemeral;
    let Some(filter) = filter else {
        if let Some(done) = latest.listing.get() {
            return (json_headers(), done.clone()).into_response();
        }
        let done = tokio::task::spawn_blocking(move || {
            latest
                .listing
                .get_or_init(|| {
                    let mut out = Vec::with_capacity(latest.snap.sockets.len() * 300);
                    let _ = listing(&latest.snap, ephemeral).write(&mut out, |_| None);
                    out.into()
                })
                .clone()
        })
        .await;
        return match done {
            Ok(body) => (json_headers(), body).into_response(),
            Err(_) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "writing the listing failed",
            ),
        };
    };
    let done = tokio::task::spawn_blocking(move || {
        let snap = &latest.snap;
        let part = Snapshot {
            sockets: snap
                .sockets
                .iter()
                .filter(|s| filter.matches(s, snap))
                .cloned()
                .collect(),
            processes: snap.processes.clone(),
            user_names: snap.user_names.clone(),
            ..Snapshot::default()
        };
        let mut out = Vec::new();
        let _ = listing(&part, ephemeral).write(&mut out, |_| None);
        out
    })
    .await;
    match done {
        Ok(out) => (json_headers(), Bytes::from(out)).into_response(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "filtering failed"),
    }
}

fn listing(snap: &Snapshot, ephemeral: Option<portscope::services::EphemeralRange>) -> Listing<'_> {
    Listing {
        snap,
        owners: true,
        detail: Detail::default(),
        ephemeral,
    }
}

async fn audit(State(app): State<App>) -> Response {
    (json_headers(), app.shared.latest().audit.clone()).into_response()
}

async fn explain(State(app): State<App>, Path(target): Path<String>) -> Response {
    if target.len() > 64 {
        return error(StatusCode::BAD_REQUEST, "port or service name too long");
    }
    let snap = Arc::clone(&app.shared.latest().snap);
    match crate::cmd::explain::json_on(&target, &snap) {
        Ok(v) => (json_headers(), v.to_string()).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

/// What an events stream still has to send.
struct Stream_ {
    rx: broadcast::Receiver<Arc<Batch>>,
    filter: Option<Filter>,
    ephemeral: Option<portscope::services::EphemeralRange>,
    pending: std::collections::VecDeque<Event>,
    _permit: OwnedSemaphorePermit,
}

async fn events(
    State(app): State<App>,
    q: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let filter = match filter_query(q) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Ok(permit) = Arc::clone(&app.streams).try_acquire_owned() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("at most {MAX_STREAMS} event streams at once"),
        );
    };
    let st = Stream_ {
        rx: app.shared.events.subscribe(),
        filter,
        ephemeral: app.shared.ephemeral,
        pending: std::collections::VecDeque::new(),
        _permit: permit,
    };
    let mut resp = Sse::new(event_stream(st))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn event_stream(st: Stream_) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(st, |mut st| async move {
        loop {
            if let Some(ev) = st.pending.pop_front() {
                return Some((Ok(ev), st));
            }
            match st.rx.recv().await {
                Ok(batch) => {
                    let snap = &batch.ctx;
                    let list = listing(snap, st.ephemeral);
                    for c in &batch.changes {
                        if c.kind() == "resync" {
                            // The OS dropped notifications: closes were missed.
                            let n = c.event.lost.map_or_else(String::new, |n| n.to_string());
                            st.pending
                                .push_back(Event::default().event("resync").data(n));
                            continue;
                        }
                        let s = &c.event.socket;
                        // A socket gone is matched as it was last seen too:
                        // that is the row a reader's filter chose.
                        if let Some(f) = &st.filter
                            && !f.matches(s, snap)
                            && !c.as_seen().is_some_and(|seen| f.matches(&seen, snap))
                        {
                            continue;
                        }
                        let Ok(data) = serde_json::to_string(&list.socket(s)) else {
                            continue;
                        };
                        st.pending
                            .push_back(Event::default().event(c.kind()).data(data));
                    }
                }
                // Too slow a reader missed changes: it must reload the
                // snapshot to be right again.
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    st.pending
                        .push_back(Event::default().event("resync").data(n.to_string()));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}
