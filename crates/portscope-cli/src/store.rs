//! The history database `events --record` appends to and `history` reads:
//! SQLite (rusqlite, compiled in) in WAL mode, one table of events with
//! indexes on time, ports, remote address and process, each row holding the
//! event's JSON line as `events --json` writes it (so `history` prints
//! exactly what was seen) beside the columns queries select on.
//!
//! Crash safety: every batch is one transaction, committed before it is
//! printed; a recorder killed at any point leaves the file whole (WAL) and
//! loses only the batch it was writing. A restart appends to the same file.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use portscope::events::{Event, EventKind};
use rusqlite::{Connection, OpenFlags, params};

use crate::Failure;
use crate::cmd::shown_path;

/// The schema; `IF NOT EXISTS` so a restart continues the same file.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    event TEXT NOT NULL,
    proto TEXT,
    local_addr TEXT,
    local_port INTEGER,
    remote_addr TEXT,
    remote_port INTEGER,
    state TEXT,
    pid INTEGER,
    process BLOB,
    netns INTEGER,
    duration_ms INTEGER,
    bytes_sent INTEGER,
    bytes_received INTEGER,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_time ON events(time_ms);
CREATE INDEX IF NOT EXISTS events_local_port ON events(local_port);
CREATE INDEX IF NOT EXISTS events_remote_port ON events(remote_port);
CREATE INDEX IF NOT EXISTS events_remote_addr ON events(remote_addr);
CREATE INDEX IF NOT EXISTS events_process ON events(process);
";

/// The default database: /var/lib/portscope/events.db as root, else
/// `$XDG_STATE_HOME/portscope/events.db` (`~/.local/state/…`).
pub fn default_path() -> Option<PathBuf> {
    if rustix::process::geteuid().is_root() {
        return Some(PathBuf::from("/var/lib/portscope/events.db"));
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(base.join("portscope/events.db"))
}

fn db_error(path: &Path, e: impl std::fmt::Display) -> Failure {
    Failure::Usage(format!("{}: {e}", shown_path(path)))
}

/// A history database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

fn ms_of(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    /// Opens (creating it and its folder if need be) the database to record into.
    pub fn create(path: &Path) -> Result<Store, Failure> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| db_error(dir, e))?;
        }
        let conn = Connection::open(path).map_err(|e| db_error(path, e))?;
        let setup = || -> rusqlite::Result<()> {
            conn.busy_timeout(Duration::from_secs(5))?;
            // Before the first table: lets retention give pages back.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            // In WAL mode a commit survives the process being killed; only
            // a power loss can take the last commits back.
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.execute_batch(SCHEMA)
        };
        setup().map_err(|e| db_error(path, e))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing database to read.
    pub fn open_read(path: &Path) -> Result<Store, Failure> {
        if !path.exists() {
            return Err(Failure::Usage(format!(
                "{}: no history there (record one with `portscope events --record`)",
                shown_path(path)
            )));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| db_error(path, e))?;
        let _ = conn.busy_timeout(Duration::from_secs(5));
        // A file that is not a history fails here, not halfway through.
        conn.query_row("SELECT count(*) FROM events LIMIT 1", [], |_| Ok(()))
            .map_err(|e| db_error(path, format!("not a portscope history: {e}")))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Appends the events, with their JSON lines, in one transaction.
    pub fn append(&mut self, events: &[(&Event, &[u8])]) -> Result<(), Failure> {
        let path = self.path.clone();
        let mut run = || -> rusqlite::Result<()> {
            let tx = self.conn.transaction()?;
            {
                let mut ins = tx.prepare_cached(
                    "INSERT INTO events (time_ms, event, proto, local_addr, local_port, \
                     remote_addr, remote_port, state, pid, process, netns, duration_ms, \
                     bytes_sent, bytes_received, json) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                )?;
                for (e, json) in events {
                    let s = &e.socket;
                    let lost = e.kind == EventKind::Lost;
                    let p = e.processes.first();
                    ins.execute(params![
                        ms_of(e.time),
                        e.kind.as_str(),
                        (!lost).then(|| s.proto.as_str()),
                        (!lost)
                            .then(|| s.local.addr().map(|a| a.to_string()))
                            .flatten(),
                        (!lost).then(|| s.local.port()).flatten(),
                        (!lost)
                            .then(|| s.remote.addr().map(|a| a.to_string()))
                            .flatten(),
                        (!lost).then(|| s.remote.port()).flatten(),
                        (!lost).then(|| s.state.name_for(s.proto)),
                        p.map(|p| p.pid),
                        p.map(|p| p.name.as_bytes()),
                        e.netns.map(to_i64),
                        e.duration_ms.map(to_i64),
                        e.bytes_sent.map(to_i64),
                        e.bytes_received.map(to_i64),
                        String::from_utf8_lossy(json.strip_suffix(b"\n").unwrap_or(json)),
                    ])?;
                }
            }
            tx.commit()
        };
        run().map_err(|e| db_error(&path, e))
    }

    /// Deletes events older than `keep`, then the oldest until the file is
    /// under `max_bytes`, and gives the pages back.
    pub fn retain(&mut self, keep: Duration, max_bytes: Option<u64>) -> Result<u64, Failure> {
        let path = self.path.clone();
        let cutoff = ms_of(SystemTime::now()) - i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
        let run = || -> rusqlite::Result<u64> {
            let mut deleted = self
                .conn
                .execute("DELETE FROM events WHERE time_ms < ?1", [cutoff])?
                as u64;
            if let Some(max) = max_bytes {
                for _ in 0..64 {
                    let used = self.used_bytes()?;
                    if used <= max {
                        break;
                    }
                    let rows: i64 =
                        self.conn
                            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
                    if rows == 0 {
                        break;
                    }
                    // Delete the share of rows the excess is, and a little more.
                    let share = (used - max) as f64 / used as f64;
                    let n = ((rows as f64 * share).ceil() as i64 + rows / 50).clamp(1, rows);
                    deleted += self.conn.execute(
                        "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?1)",
                        [n],
                    )? as u64;
                    self.conn.execute_batch("PRAGMA incremental_vacuum;")?;
                    self.conn
                        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
                }
            }
            if deleted > 0 {
                self.conn.execute_batch("PRAGMA incremental_vacuum;")?;
            }
            Ok(deleted)
        };
        run().map_err(|e| db_error(&path, e))
    }

    /// Bytes the database holds in use (pages not free), WAL included.
    fn used_bytes(&self) -> rusqlite::Result<u64> {
        let page: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let count: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: i64 = self
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        let wal = std::fs::metadata(format!("{}-wal", self.path.display())).map_or(0, |m| m.len());
        Ok(u64::try_from((count - free) * page).unwrap_or(0) + wal)
    }

    /// The JSON lines of the events between `since` and `until` (ms since
    /// the epoch), oldest first, of the kinds given (all when empty); the
    /// latest `limit` when given. `each` returns false to stop.
    pub fn query(
        &self,
        since: Option<i64>,
        until: Option<i64>,
        kinds: &[EventKind],
        limit: Option<u64>,
        mut each: impl FnMut(&str) -> Result<bool, Failure>,
    ) -> Result<(), Failure> {
        let mut sql = String::from("SELECT json FROM events WHERE time_ms >= ?1 AND time_ms < ?2");
        if !kinds.is_empty() {
            let names: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.as_str())).collect();
            sql.push_str(&format!(" AND event IN ({})", names.join(",")));
        }
        // With a limit, the latest rows are taken and put back in order.
        let inner = match limit {
            Some(n) => format!(
                "SELECT json FROM ({} ORDER BY time_ms DESC, id DESC LIMIT {n}) ORDER BY time_ms, id",
                sql.replace("SELECT json", "SELECT json, id, time_ms")
            ),
            None => format!("{sql} ORDER BY time_ms, id"),
        };
        let path = self.path.clone();
        let mut stmt = self.conn.prepare(&inner).map_err(|e| db_error(&path, e))?;
        let mut rows = stmt
            .query(params![
                since.unwrap_or(i64::MIN),
                until.unwrap_or(i64::MAX)
            ])
            .map_err(|e| db_error(&path, e))?;
        while let Some(row) = rows.next().map_err(|e| db_error(&path, e))? {
            let json: String = row.get(0).map_err(|e| db_error(&path, e))?;
            if !each(&json)? {
                break;
            }
        }
        Ok(())
    }
}
