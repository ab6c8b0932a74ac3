//! Turns a [`Screen`] (the view-model: visible rows as text, status, keys)
//! into ratatui widgets. Pure: no state, no input, no clock; tested with
//! ratatui's `TestBackend`.
//!
//! Not here: deciding what is shown (`view.rs`) or reacting to keys (`app.rs`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::view::ColumnSpec;

/// Lines around the table: title above; status and keys below; the header.
const CHROME: u16 = 4;

/// How many table rows fit in a terminal `height` lines tall.
pub fn body_height(height: u16) -> usize {
    usize::from(height.saturating_sub(CHROME))
}

/// How a row looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    /// Plain.
    Normal,
    /// Just appeared: highlighted.
    New,
    /// Closed: greyed until it goes.
    Gone,
}

/// One visible row: a cell per column of [`Screen::columns`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScreenRow {
    /// Cell texts.
    pub cells: Vec<String>,
    /// Its look.
    pub look: Look,
}

/// What the status line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusKind {
    /// Settings in effect, or an outcome.
    Info,
    /// Something failed (a filter error, a refused kill).
    Error,
    /// Waiting for typed input or an answer.
    Prompt,
}

/// Everything one frame shows, as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Screen {
    /// The top line.
    pub title: String,
    /// Every column the view has; those that do not fit are left out, the
    /// last ones first.
    pub columns: Vec<ColumnSpec>,
    /// Header texts (the sorted column carries its arrow).
    pub headers: Vec<String>,
    /// The visible rows, top to bottom.
    pub rows: Vec<ScreenRow>,
    /// Which visible row is selected.
    pub selected: Option<usize>,
    /// Shown in place of rows when there are none.
    pub empty: String,
    /// The status line.
    pub status: String,
    /// Its kind (colour).
    pub status_kind: StatusKind,
    /// The key reminder at the bottom.
    pub keys: String,
    /// The help box, when open.
    pub help: Option<Vec<(String, String)>>,
}

/// Draws one frame.
pub fn draw(f: &mut Frame<'_>, s: &Screen) {
    let [title, body, status, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    f.render_widget(
        Paragraph::new(s.title.as_str()).style(Style::new().add_modifier(Modifier::BOLD)),
        title,
    );
    draw_table(f, s, body);
    let status_style = match s.status_kind {
        StatusKind::Info => Style::new(),
        StatusKind::Error => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        StatusKind::Prompt => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
    };
    f.render_widget(
        Paragraph::new(s.status.as_str()).style(status_style),
        status,
    );
    f.render_widget(
        Paragraph::new(s.keys.as_str()).style(Style::new().add_modifier(Modifier::REVERSED)),
        keys,
    );
    if let Some(help) = &s.help {
        draw_help(f, help, f.area());
    }
}

fn draw_table(f: &mut Frame<'_>, s: &Screen, area: Rect) {
    let ideal: Vec<u16> = s
        .columns
        .iter()
        .enumerate()
        .map(|(c, spec)| {
            let widest = s
                .rows
                .iter()
                .filter_map(|r| r.cells.get(c))
                .map(|t| t.width())
                .chain(s.headers.get(c).map(|h| h.width()))
                .max()
                .unwrap_or(0);
            // A header (with its sort arrow) may be wider than the column's
            // usual widest; it gets its room when there is room.
            let head = s.headers.get(c).map_or(0, |h| h.width());
            let max = spec.max.max(spec.min).max(u16::try_from(head).unwrap_or(0));
            u16::try_from(widest)
                .unwrap_or(u16::MAX)
                .clamp(spec.min, max)
        })
        .collect();
    let widths = fit(&s.columns, &ideal, area.width);
    let shown: Vec<(usize, u16)> = widths
        .iter()
        .enumerate()
        .filter_map(|(c, w)| w.map(|w| (c, w)))
        .collect();
    let cells = |texts: &[String]| -> Vec<Cell<'static>> {
        shown
            .iter()
            .map(|&(c, w)| {
                let spec = s.columns.get(c).copied();
                let text = texts.get(c).map(String::as_str).unwrap_or("");
                let (right, middle) = spec.map_or((false, false), |sp| (sp.right, sp.middle));
                Cell::from(fit_text(text, usize::from(w), right, middle))
            })
            .collect()
    };
    let header = Row::new(cells(&s.headers)).style(
        Style::new()
            .add_modifier(Modifier::BOLD)
            .add_modifier(Modifier::UNDERLINED),
    );
    let constraints: Vec<Constraint> = shown.iter().map(|&(_, w)| Constraint::Length(w)).collect();
    let rows: Vec<Row<'static>> = s
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut style = match r.look {
                Look::Normal => Style::new(),
                Look::New => Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
                Look::Gone => Style::new().fg(Color::DarkGray),
            };
            if s.selected == Some(i) {
                style = style.add_modifier(Modifier::REVERSED);
            }
            Row::new(cells(&r.cells)).style(style)
        })
        .collect();
    let table = Table::new(rows, constraints)
        .header(header)
        .column_spacing(1);
    f.render_widget(table, area);
    if s.rows.is_empty() && area.height > 1 {
        let below = Rect {
            y: area.y.saturating_add(1),
            height: area.height - 1,
            ..area
        };
        f.render_widget(
            Paragraph::new(s.empty.as_str()).style(Style::new().fg(Color::DarkGray)),
            below,
        );
    }
}

/// Column widths for a `width`-column terminal: columns are taken in order
/// while their narrowest form fits (one column of space between them), then
/// the room left grows them toward their ideal width, first columns first.
/// `None` for a column left out.
pub fn fit(columns: &[ColumnSpec], ideal: &[u16], width: u16) -> Vec<Option<u16>> {
    let mut out: Vec<Option<u16>> = vec![None; columns.len()];
    let mut used: u16 = 0;
    for (c, spec) in columns.iter().enumerate() {
        let gap = u16::from(used > 0);
        let need = spec.min.saturating_add(gap);
        if used.saturating_add(need) <= width {
            used += need;
            out[c] = Some(spec.min);
        }
    }
    let mut room = width.saturating_sub(used);
    for (c, w) in out.iter_mut().enumerate() {
        let (Some(w), Some(&want)) = (w.as_mut(), ideal.get(c)) else {
            continue;
        };
        let grow = want.saturating_sub(*w).min(room);
        *w += grow;
        room -= grow;
    }
    out
}

/// `text` fitted to `w` columns: padded (right-aligned numbers), or cut with
/// `…` at the end, or in the middle for addresses so the port stays.
pub fn fit_text(text: &str, w: usize, right: bool, middle: bool) -> String {
    let tw = text.width();
    if tw <= w {
        let pad = " ".repeat(w - tw);
        return if right {
            format!("{pad}{text}")
        } else {
            text.to_string()
        };
    }
    if w == 0 {
        return String::new();
    }
    if middle && w >= 8 {
        // Keep the port (from the last ':') whole when it fits, and as much
        // of the head as fits before an ellipsis.
        let tail = match text.rfind(':') {
            Some(i) if text.len() - i <= w - 2 => text.get(i..).unwrap_or(""),
            _ => take_tail(text, 6.min(w - 2)),
        };
        let head = take_head(text, w - 1 - tail.width());
        return format!("{head}…{tail}");
    }
    format!("{}…", take_head(text, w - 1))
}

fn take_head(s: &str, w: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.width().unwrap_or(0);
        if used > w {
            return s.get(..i).unwrap_or("");
        }
    }
    s
}

fn take_tail(s: &str, w: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices().rev() {
        used += c.width().unwrap_or(0);
        if used > w {
            return s.get(i + c.len_utf8()..).unwrap_or("");
        }
    }
    s
}

fn draw_help(f: &mut Frame<'_>, help: &[(String, String)], area: Rect) {
    let key_w = help.iter().map(|(k, _)| k.width()).max().unwrap_or(0);
    let lines: Vec<Line<'_>> = help
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(
                    format!("{k:<key_w$}  "),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(what.as_str()),
            ])
        })
        .collect();
    let widest = help
        .iter()
        .map(|(_, w)| w.width())
        .max()
        .unwrap_or(0)
        .saturating_add(key_w + 6);
    let w = u16::try_from(widest).unwrap_or(u16::MAX).min(area.width);
    let h = u16::try_from(help.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::ALL).title(" Keys ")),
        r,
    );
}
