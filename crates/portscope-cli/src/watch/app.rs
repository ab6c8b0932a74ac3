//! The live view's state machine: refreshes and keys come in, a [`Screen`]
//! goes out. Keeps the selection on the same socket (or process) across
//! refreshes, the scroll position, the filter line, the kill confirmation
//! and the status line.
//!
//! Pure: time is passed in, and the one side effect a key can ask for
//! (signalling a process) is returned as an [`Action`] for the caller to do.

use std::time::{Duration, Instant};

use portscope::filter::Filter;
use portscope::model::Snapshot;
use portscope::services::EphemeralRange;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::draw::{Look, Screen, ScreenRow, StatusKind, body_height};
use super::view::{self, GroupCol, Line, Settings, SockCol, group_spec, sock_spec};
use portscope::track::SocketKey;
use portscope::track::tracker::Tracker;

/// How long an outcome stays in the status line.
const STATUS_FOR: Duration = Duration::from_secs(6);

/// What the caller must do after a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    None,
    /// Leave the view.
    Quit,
    /// A kill is being confirmed: pin this process now, as it is shown, so
    /// that the answer can only reach it (never pid 1 or us).
    Pin {
        /// The process.
        pid: u32,
    },
    /// Send SIGTERM to the process pinned by the last [`Action::Pin`], if it
    /// still holds one of `inodes` (already confirmed).
    Kill {
        /// The process.
        pid: u32,
        /// How to name it in the outcome (`nginx[812]`).
        label: String,
        /// The sockets it was chosen for.
        inodes: Vec<u64>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Mode {
    Normal,
    Filter {
        input: String,
        error: Option<String>,
    },
    Confirm {
        pid: u32,
        label: String,
        inodes: Vec<u64>,
    },
    Help,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Selected {
    Socket(SocketKey),
    Group(Option<u32>),
}

/// The live view.
pub struct App {
    /// Every socket seen lately.
    pub tracker: Tracker,
    /// What the user chose to see.
    pub settings: Settings,
    lines: Vec<Line>,
    selected: usize,
    offset: usize,
    selected_key: Option<Selected>,
    mode: Mode,
    status: Option<(String, StatusKind, Instant)>,
    filter_text: String,
    interval: Duration,
    ephemeral: Option<EphemeralRange>,
    me: u32,
    /// The column and direction of the order last recorded in the tracker.
    sorted_as: Option<(view::SockCol, bool)>,
}

impl App {
    /// A view refreshing every `interval`, starting with `settings`;
    /// `filter_text` is the filter's words as typed.
    pub fn new(settings: Settings, filter_text: String, interval: Duration) -> App {
        App {
            tracker: Tracker::default(),
            settings,
            lines: Vec::new(),
            selected: 0,
            offset: 0,
            selected_key: None,
            mode: Mode::Normal,
            status: None,
            filter_text,
            interval,
            ephemeral: crate::system::ephemeral_range(),
            me: std::process::id(),
            sorted_as: None,
        }
    }

    /// Takes a snapshot taken at `at`.
    pub fn ingest(&mut self, snap: Snapshot, at: Instant) {
        self.tracker.ingest(snap, at);
        self.rebuild(at);
    }

    /// Connections the OS reported closed since the last snapshot (those
    /// no snapshot caught are shown greyed, closed from the start).
    pub fn closed(&mut self, sockets: Vec<portscope::model::Socket>, at: Instant) {
        if sockets.is_empty() {
            return;
        }
        self.tracker.closed_between(sockets, at);
        self.rebuild(at);
    }

    /// Shows `text` in the status line for a while.
    pub fn say(&mut self, text: String, kind: StatusKind, now: Instant) {
        self.status = Some((text, kind, now));
    }

    /// The lines currently shown.
    #[cfg(test)]
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    fn rebuild(&mut self, now: Instant) {
        self.lines = view::build_after(&self.tracker, &self.settings, now, self.sorted_as);
        // The order recorded below covers every row only when every row was shown.
        self.sorted_as = (!self.settings.grouped && self.settings.shows_every_socket())
            .then_some((self.settings.sort, self.settings.reverse));
        if !self.settings.grouped {
            let order: Vec<usize> = self
                .lines
                .iter()
                .filter_map(|l| match l {
                    Line::Socket(i) => Some(*i),
                    Line::Group(_) => None,
                })
                .collect();
            self.tracker.set_ranks(&order);
        }
        // Find the selected row again: a socket by its tracker index (one
        // hash lookup), not by comparing every line's key.
        let found = match self.selected_key.as_ref() {
            Some(Selected::Socket(k)) => self.tracker.position(k).and_then(|row| {
                self.lines
                    .iter()
                    .position(|l| matches!(l, Line::Socket(i) if *i == row))
            }),
            Some(Selected::Group(pid)) => self
                .lines
                .iter()
                .position(|l| matches!(l, Line::Group(g) if g.pid == *pid)),
            None => None,
        };
        match found {
            Some(i) => self.selected = i,
            // The selected row went (or there was none): stay at the same
            // place in the list.
            None => {
                self.selected = self.selected.min(self.lines.len().saturating_sub(1));
                self.remember_selection();
            }
        }
    }

    fn key_of(&self, l: &Line) -> Option<Selected> {
        match l {
            Line::Socket(i) => self
                .tracker
                .rows()
                .get(*i)
                .map(|t| Selected::Socket(t.key.clone())),
            Line::Group(g) => Some(Selected::Group(g.pid)),
        }
    }

    fn remember_selection(&mut self) {
        self.selected_key = self.lines.get(self.selected).and_then(|l| self.key_of(l));
    }

    fn move_by(&mut self, delta: isize) {
        let last = self.lines.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
        self.remember_selection();
    }

    /// Reacts to a key at `now`.
    pub fn key(&mut self, k: KeyEvent, now: Instant, page: usize) -> Action {
        if k.kind == KeyEventKind::Release {
            return Action::None;
        }
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && k.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Help => Action::None,
            Mode::Confirm { pid, label, inodes } => {
                if matches!(k.code, KeyCode::Char('y' | 'Y')) {
                    Action::Kill { pid, label, inodes }
                } else {
                    self.say("nothing signalled".into(), StatusKind::Info, now);
                    Action::None
                }
            }
            Mode::Filter { input, error } => {
                self.filter_key(k, input, error, ctrl, now);
                Action::None
            }
            Mode::Normal => self.normal_key(k, now, page),
        }
    }

    fn filter_key(
        &mut self,
        k: KeyEvent,
        mut input: String,
        error: Option<String>,
        ctrl: bool,
        now: Instant,
    ) {
        match k.code {
            KeyCode::Enter | KeyCode::Esc => {
                if error.is_some() {
                    self.say(
                        format!("kept the last valid filter: {}", self.filter_label()),
                        StatusKind::Info,
                        now,
                    );
                }
                return;
            }
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Char('u') if ctrl => input.clear(),
            KeyCode::Char(c) if !ctrl => input.push(c),
            _ => {}
        }
        let words: Vec<String> = input.split_whitespace().map(str::to_owned).collect();
        let error = match Filter::parse(&words) {
            Ok(f) => {
                self.settings.filter = f;
                self.filter_text = words.join(" ");
                self.rebuild(now);
                None
            }
            Err(e) => Some(e.to_string()),
        };
        self.mode = Mode::Filter { input, error };
    }

    fn normal_key(&mut self, k: KeyEvent, now: Instant, page: usize) -> Action {
        let page = isize::try_from(page.max(1)).unwrap_or(1);
        match k.code {
            KeyCode::Char('q') | KeyCode::Esc => return Action::Quit,
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            // j and k as in vim and less; the kill is on K or x, so a vim
            // user moving up never asks for one.
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::PageDown => self.move_by(page),
            KeyCode::PageUp => self.move_by(-page),
            KeyCode::Home => self.move_by(isize::MIN / 2),
            KeyCode::End => self.move_by(isize::MAX / 2),
            KeyCode::Char('s' | '>') | KeyCode::Right => self.next_sort(1, now),
            KeyCode::Char('<') | KeyCode::Left => self.next_sort(-1, now),
            KeyCode::Char('r') => {
                self.settings.reverse = !self.settings.reverse;
                self.rebuild(now);
            }
            KeyCode::Char('g') => {
                self.settings.grouped = !self.settings.grouped;
                self.selected = 0;
                self.selected_key = None;
                self.offset = 0;
                self.rebuild(now);
            }
            KeyCode::Char('l') => {
                self.settings.listening_only = !self.settings.listening_only;
                self.rebuild(now);
            }
            KeyCode::Char('/') => {
                self.mode = Mode::Filter {
                    input: self.filter_text.clone(),
                    error: None,
                };
            }
            KeyCode::Char('?') | KeyCode::F(1) => self.mode = Mode::Help,
            KeyCode::Char('K' | 'x') => return self.ask_kill(now),
            _ => {}
        }
        Action::None
    }

    fn next_sort(&mut self, step: isize, now: Instant) {
        // Column 0 is the mark; sorting by it is allowed but last.
        fn step_in<T: Copy + PartialEq>(all: &[T], cur: T, step: isize) -> T {
            let n = all.len();
            let i = all.iter().position(|c| *c == cur).unwrap_or(0);
            let n_i = isize::try_from(n).unwrap_or(1);
            let j = (isize::try_from(i).unwrap_or(0) + step).rem_euclid(n_i);
            all.get(usize::try_from(j).unwrap_or(0))
                .copied()
                .unwrap_or(cur)
        }
        if self.settings.grouped {
            self.settings.group_sort = step_in(&GroupCol::ALL, self.settings.group_sort, step);
        } else {
            self.settings.sort = step_in(&SockCol::ALL, self.settings.sort, step);
        }
        self.rebuild(now);
    }

    /// Offers to signal the selected row's process. Never for a row marked
    /// closed: what it showed is gone.
    fn ask_kill(&mut self, now: Instant) -> Action {
        let ctx = &self.tracker.context;
        let (pid, inodes) = match self.lines.get(self.selected) {
            Some(Line::Socket(i)) => {
                let Some(t) = self.tracker.rows().get(*i) else {
                    return Action::None;
                };
                if t.gone.is_some() {
                    self.say(
                        "this socket has closed; nothing to signal".into(),
                        StatusKind::Error,
                        now,
                    );
                    return Action::None;
                }
                (t.socket.owners.first().map(|o| o.pid), vec![t.socket.inode])
            }
            Some(Line::Group(g)) => {
                if g.gone {
                    self.say(
                        "every socket of this process has closed; nothing to signal".into(),
                        StatusKind::Error,
                        now,
                    );
                    return Action::None;
                }
                let inodes = self
                    .tracker
                    .rows()
                    .iter()
                    .filter(|t| t.gone.is_none())
                    .filter(|t| {
                        g.pid
                            .is_some_and(|p| t.socket.owners.iter().any(|o| o.pid == p))
                    })
                    .map(|t| t.socket.inode)
                    .collect();
                (g.pid, inodes)
            }
            None => return Action::None,
        };
        let Some(pid) = pid else {
            self.say(
                "no process is known to hold this socket".into(),
                StatusKind::Error,
                now,
            );
            return Action::None;
        };
        let label = match ctx.processes.get(&pid) {
            Some(p) => format!("{}[{pid}]", p.name.escaped()),
            None => format!("?[{pid}]"),
        };
        if pid == 1 {
            self.say(
                format!("refusing to signal {label} (init)"),
                StatusKind::Error,
                now,
            );
            Action::None
        } else if pid == self.me {
            self.say(
                "refusing to signal portscope itself".into(),
                StatusKind::Error,
                now,
            );
            Action::None
        } else {
            self.mode = Mode::Confirm { pid, label, inodes };
            Action::Pin { pid }
        }
    }

    /// Keeps the selection within the `body` lines shown.
    fn scroll(&mut self, body: usize) {
        let n = self.lines.len();
        if self.selected < self.offset {
            self.offset = self.selected;
        }
        if body > 0 && self.selected >= self.offset + body {
            self.offset = self.selected + 1 - body;
        }
        self.offset = self.offset.min(n.saturating_sub(body));
    }

    /// Whether the view needs tcp_info for every socket: its sort reads
    /// it, or its groups add up rates. Otherwise it reads tcp_info only
    /// for the rows it shows ([`App::read_info`]), and snapshots can come
    /// without it.
    pub fn needs_all_info(&self) -> bool {
        self.settings.grouped || view::order_key(self.settings.sort).needs_tcp_info()
    }

    /// Indices into the tracker's rows of the sockets a screen `height`
    /// lines tall shows, scrolled as [`App::screen`] scrolls.
    pub fn shown_rows(&mut self, height: u16) -> Vec<usize> {
        let body = body_height(height);
        self.scroll(body);
        self.lines
            .iter()
            .skip(self.offset)
            .take(body)
            .filter_map(|l| match l {
                Line::Socket(i) => Some(*i),
                Line::Group(_) => None,
            })
            .collect()
    }

    /// Reads tcp_info at `at`, through `read`, for the sockets a screen
    /// `height` lines tall shows (only those without it, if `missing`),
    /// with their rates since their counters were last read.
    pub fn read_info<E>(
        &mut self,
        height: u16,
        at: Instant,
        missing: bool,
        read: impl FnOnce(&mut [&mut portscope::Socket]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut rows = self.shown_rows(height);
        if missing {
            let all = self.tracker.rows();
            rows.retain(|&i| {
                all.get(i)
                    .is_some_and(|t| t.socket.extra.as_ref().is_none_or(|x| x.tcp_info.is_none()))
            });
        }
        self.tracker.read_info(&rows, at, read)
    }

    fn filter_label(&self) -> String {
        if self.filter_text.is_empty() {
            "(none)".into()
        } else {
            self.filter_text.clone()
        }
    }

    /// The frame for a terminal `height` lines tall at `now`. Scrolls just
    /// enough to keep the selection visible; otherwise the scroll position
    /// stays where it was.
    pub fn screen(&mut self, height: u16, now: Instant) -> Screen {
        let body = body_height(height);
        self.scroll(body);
        let n = self.lines.len();
        let visible = self.lines.get(self.offset..).unwrap_or_default();
        let ctx = &self.tracker.context;
        let arrow = if self.settings.reverse { "▼" } else { "▲" };
        let (columns, headers, rows, sort_name) = if self.settings.grouped {
            let cols = GroupCol::ALL;
            let headers = headers(
                &cols,
                self.settings.group_sort,
                |c| group_spec(c).title,
                arrow,
            );
            let rows = visible
                .iter()
                .take(body)
                .filter_map(|l| match l {
                    Line::Group(g) => Some(ScreenRow {
                        cells: cols.iter().map(|&c| view::group_cell(c, g)).collect(),
                        look: if g.gone {
                            Look::Gone
                        } else if g.new {
                            Look::New
                        } else {
                            Look::Normal
                        },
                    }),
                    Line::Socket(_) => None,
                })
                .collect();
            let name = match group_spec(self.settings.group_sort).title {
                "" => "new/closed",
                t => t,
            };
            (
                cols.iter().map(|&c| group_spec(c)).collect(),
                headers,
                rows,
                name,
            )
        } else {
            let cols = SockCol::ALL;
            let headers = headers(&cols, self.settings.sort, |c| sock_spec(c).title, arrow);
            let rows = visible
                .iter()
                .take(body)
                .filter_map(|l| match l {
                    Line::Socket(i) => self.tracker.rows().get(*i),
                    Line::Group(_) => None,
                })
                .map(|t| ScreenRow {
                    cells: cols
                        .iter()
                        .map(|&c| view::socket_cell(c, t, ctx, self.ephemeral, now))
                        .collect(),
                    look: if t.gone.is_some() {
                        Look::Gone
                    } else if t.is_new(now) {
                        Look::New
                    } else {
                        Look::Normal
                    },
                })
                .collect();
            let name = match sock_spec(self.settings.sort).title {
                "" => "new/closed",
                t => t,
            };
            (
                cols.iter().map(|&c| sock_spec(c)).collect(),
                headers,
                rows,
                name,
            )
        };

        let open = self
            .tracker
            .rows()
            .iter()
            .filter(|t| t.gone.is_none())
            .count();
        let new = self.tracker.rows().iter().filter(|t| t.is_new(now)).count();
        let closed = self.tracker.rows().len() - open;
        let mut title = format!(
            "portscope watch  {open} sockets, {new} new, {closed} closed  shown {n}  every {}",
            secs_label(self.interval)
        );
        if self.tracker.refreshes == 0 {
            title = "portscope watch  collecting…".into();
        }
        let (status, status_kind) = self.status_line(sort_name, arrow, now);
        let keys = "q quit  ? help  / filter  s < > sort  r reverse  g group  l listening  K kill"
            .to_string();
        let empty = if self.tracker.refreshes == 0 {
            String::new()
        } else {
            "no socket matches".into()
        };
        let selected = (n > 0).then(|| self.selected.saturating_sub(self.offset));
        Screen {
            title,
            columns,
            headers,
            rows,
            selected,
            empty,
            status,
            status_kind,
            keys,
            help: (self.mode == Mode::Help).then(help),
        }
    }

    fn status_line(&self, sort: &str, arrow: &str, now: Instant) -> (String, StatusKind) {
        match &self.mode {
            Mode::Filter { input, error } => {
                let mut s = format!("/{input}▏");
                if let Some(e) = error {
                    s.push_str("   ");
                    s.push_str(e);
                    return (s, StatusKind::Error);
                }
                return (s, StatusKind::Prompt);
            }
            Mode::Confirm { label, .. } => {
                return (format!("send SIGTERM to {label}? y/n"), StatusKind::Prompt);
            }
            Mode::Normal | Mode::Help => {}
        }
        if let Some((text, kind, at)) = &self.status
            && now.saturating_duration_since(*at) < STATUS_FOR
        {
            return (text.clone(), *kind);
        }
        let mut s = format!("sort {sort}{arrow}  filter {}", self.filter_label());
        if self.settings.listening_only {
            s.push_str("  [listening only]");
        }
        if self.settings.grouped {
            s.push_str("  [by process]");
        }
        if let Some(note) = self.tracker.context.notes.first() {
            s.push_str("  note: ");
            s.push_str(note);
        }
        (s, StatusKind::Info)
    }
}

fn secs_label(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{s}s")
    }
}

fn help() -> Vec<(String, String)> {
    [
        ("↑ ↓ k j", "move the selection"),
        ("PgUp PgDn", "a page up or down"),
        ("Home End", "first or last row"),
        ("s > →", "sort by the next column"),
        ("< ←", "sort by the previous column"),
        ("r", "reverse the order"),
        ("/", "edit the filter (Enter or Esc to close)"),
        ("g", "group by process"),
        ("l", "listening sockets only"),
        ("K x", "send SIGTERM to the selected row's process"),
        ("?", "this help (any key closes it)"),
        ("q Esc ^C", "quit"),
        ("+ / -", "new socket / closed socket (a few seconds)"),
        ("In/s Out/s", "bytes per second received / acknowledged"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
    .collect()
}

/// Column titles, the sorted one marked with the direction arrow.
fn headers<C: Copy + PartialEq>(
    cols: &[C],
    sorted: C,
    title: impl Fn(C) -> &'static str,
    arrow: &str,
) -> Vec<String> {
    cols.iter()
        .map(|&c| {
            let t = title(c);
            if c == sorted {
                format!("{t}{arrow}")
            } else {
                t.to_string()
            }
        })
        .collect()
}
