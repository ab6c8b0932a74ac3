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

/// Writes the JSON array, streamed one object at a time.
pub fn write(out: &mut dyn Write, ctx: &Context<'_>) -> io::Result<()> {
    listing(ctx, ctx.cfg.owners).write(out, |i| {
        ctx.marks.and_then(|m| m.get(i)).map(|m| match m {
            Mark::Added => "+",
            Mark::Removed => "-",
            Mark::Same => "=",
        })
    })
}
