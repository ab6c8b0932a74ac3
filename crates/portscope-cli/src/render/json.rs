//! JSON: one array, one object per socket, in the schema of
//! `portscope::json` (README's JSON section, `schema/listing.schema.json`).
//! Complete: every owner is listed.

use std::io::{self, Write};

use portscope::json::{Listing, SocketOut};
use portscope::model::Socket;

use super::Context;
use portscope::track::Mark;

/// The listing settings of `ctx` as the library's [`Listing`]; `owners`
/// says whether owners were looked up.
fn listing<'a>(ctx: &Context<'a>, owners: bool) -> Listing<'a> {
    Listing {
        snap: ctx.snap,
        owners,
        detail: ctx.cfg.collect.detail,
        ephemeral: ctx.ephemeral,
    }
}

/// The JSON object for one socket; `owners_known` says whether owners were looked up.
/// The details the listing asked for (`-i`, `-m`, `-O`) are `tcp_info`,
/// `memory` and `timer`: an object, or null where the socket has none.
pub fn socket_json<'a>(s: &'a Socket, ctx: &Context<'a>, owners_known: bool) -> SocketOut<'a> {
    listing(ctx, owners_known).socket(s)
}

/// Writes the JSON array, streamed one object at a time; for a `-c`
/// round (`ctx.time` set), NDJSON instead: one object a line, each with
/// the round's `"time"` first, so a reader can take the stream line by line.
pub fn write(out: &mut dyn Write, ctx: &Context<'_>) -> io::Result<()> {
    if let Some(time) = ctx.time {
        return write_lines(out, ctx, time);
    }
    listing(ctx, ctx.cfg.owners).write(out, |i| change_mark(ctx, i))
}

/// The `--changes` mark of socket `i`, as JSON and CSV write it.
pub(super) fn change_mark(ctx: &Context<'_>, i: usize) -> Option<&'static str> {
    ctx.marks.and_then(|m| m.get(i)).map(|m| match m {
        Mark::Added => "+",
        Mark::Removed => "-",
        Mark::Same => "=",
    })
}

/// NDJSON: each socket's object on its own line, `"time"` prepended.
fn write_lines(out: &mut dyn Write, ctx: &Context<'_>, time: &str) -> io::Result<()> {
    let list = listing(ctx, ctx.cfg.owners);
    let head = format!("{{\"time\":{},", serde_json::to_string(time)?);
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    for (i, s) in ctx.snap.sockets.iter().enumerate() {
        buf.clear();
        let mut obj = list.socket(s);
        obj.change = change_mark(ctx, i);
        serde_json::to_writer(&mut buf, &obj)?;
        // The object's own `{` is replaced by the one that opens `time`.
        out.write_all(head.as_bytes())?;
        out.write_all(buf.get(1..).unwrap_or_default())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
