//! Interface names by index, from an rtnetlink `RTM_GETLINK` dump: what
//! packet sockets are bound to is an index, and people read names.
//!
//! The names are those of the network namespace the route socket was
//! opened in (the calling thread's, for [`link_names`]). Pure parsing in
//! [`parse_link_msg`]; the loop is `transport.rs`'s.

use std::collections::HashMap;

use super::collect::Collect;
use super::transport::Transport;
use super::wire::{Attrs, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_HDRLEN, nl_header, read_u32};
use crate::error::Result;
use crate::text::Text;

// linux/rtnetlink.h, linux/if_link.h
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
/// `struct ifinfomsg`: family, pad, type (u16), index (i32), flags, change.
const IFINFOMSG_LEN: usize = 16;
const IFLA_IFNAME: u16 = 3;

/// Every interface of the calling thread's namespace, index → name.
pub(crate) fn link_names() -> Result<HashMap<u32, Text>> {
    let nl = Transport::open(None, 32 * 1024)?;
    let mut dump = Collect::new(RTM_NEWLINK, |payload, out: &mut HashMap<u32, Text>| {
        if let Some((index, name)) = parse_link_msg(payload) {
            out.insert(index, name);
        }
    });
    nl.dump(&mut nl.lock_buf(), |seq| Ok(link_request(seq)), &mut dump)?;
    Ok(dump.out)
}

fn link_request(seq: u32) -> [u8; NLMSG_HDRLEN + IFINFOMSG_LEN] {
    let mut b = [0u8; NLMSG_HDRLEN + IFINFOMSG_LEN];
    let len = b.len();
    nl_header(&mut b, len, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq);
    b
}

/// One `ifinfomsg` payload: its index and `IFLA_IFNAME` (up to its NUL).
pub(crate) fn parse_link_msg(payload: &[u8]) -> Option<(u32, Text)> {
    let index = read_u32(payload, 4)?;
    Attrs(payload.get(IFINFOMSG_LEN..)?)
        .map_while(std::result::Result::ok)
        .find(|(kind, _)| *kind == IFLA_IFNAME)
        .map(|(_, data)| {
            let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
            (index, Text::from(data.get(..end).unwrap_or_default()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_namespace_has_lo_at_index_1() {
        let names = link_names().expect("rtnetlink");
        assert_eq!(names.get(&1).map(|t| t.as_bytes()), Some(&b"lo"[..]));
    }
}
