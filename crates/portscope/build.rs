//! Generates the service table from the IANA registry CSV.
//!
//! The registry is turned into Rust source in `OUT_DIR/services_table.rs`,
//! which `src/services.rs` includes. Doing the work here means the binary
//! carries a ready, sorted table and never parses anything at start-up.
//!
//! Output:
//! - `STRINGS` (from `services_strings.txt`): every distinct name and
//!   description, concatenated.
//! - `RECORDS`: every named row that has a port, sorted by (first) port, rows
//!   of one port in registry order (the first one listed is the primary name).
//!   A row without a transport is an old assignment made for both TCP and UDP,
//!   so it becomes two records. Strings are offsets into `STRINGS`, not
//!   `&str`: a table of 12k pointers would cost the binary one 24-byte
//!   relocation per pointer (over 1 MB in all), and the loader the work of
//!   applying them on every start.
//! - `PORTS`: the records' ports as a dense array, for the binary search.
//! - `TCP_NAMED`, `UDP_NAMED`: bitmaps of the ports with a TCP / UDP entry.
//! - `RANGES`: `(low, high, index into RECORDS)` for the few rows that cover a
//!   port range (x11 is 6000-6063); the entry itself sits at its low port.
//!   Keeping ranges as ranges instead of one entry per port keeps the table
//!   small and `by_name("x11")` short.
//! - `RESERVED`: `(low, high, transport bits)` of the unnamed rows IANA
//!   marks "Reserved" (port 0 among them), so that `explain` can tell a
//!   reserved port from an unassigned one. Bits: tcp 1, udp 2, sctp 4, dccp 8.
//! - `NAME_INDEX`: indices into `RECORDS` sorted by ASCII-lower-cased name
//!   (then index), for binary search by name.

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;

/// The transports the registry uses, spelled as the runtime enum variants.
const TRANSPORTS: [(&str, &str); 4] = [
    ("tcp", "Tcp"),
    ("udp", "Udp"),
    ("sctp", "Sctp"),
    ("dccp", "Dccp"),
];

struct Row {
    name: String,
    low: u16,
    high: u16,
    transport: &'static str,
    description: String,
}

fn main() -> Result<(), Box<dyn Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let csv_path = manifest.join("data/iana-service-names-port-numbers.csv");
    println!("cargo:rerun-if-changed={}", csv_path.display());
    println!("cargo:rerun-if-changed=build.rs");

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(&csv_path)
        .map_err(|e| format!("reading {}: {e}", csv_path.display()))?;

    let mut rows: Vec<Row> = Vec::new();
    // (low, high, transport bits) of the unnamed "Reserved" rows (port 0,
    // and ports IANA holds back): a port there is reserved, not unassigned.
    let mut reserved: Vec<(u16, u16, u8)> = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record?;
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let name = field(0);
        let port = field(1);
        if name.is_empty() && !port.is_empty() && field(3).eq_ignore_ascii_case("reserved") {
            let (low, high) = parse_ports(port)
                .ok_or_else(|| format!("CSV record {}: bad port {port:?}", line + 2))?;
            let bits = match field(2).to_ascii_lowercase().as_str() {
                "" => 0b11,
                "tcp" => 0b1,
                "udp" => 0b10,
                "sctp" => 0b100,
                "dccp" => 0b1000,
                other => {
                    return Err(
                        format!("CSV record {}: unknown transport {other:?}", line + 2).into(),
                    );
                }
            };
            reserved.push((low, high, bits));
            continue;
        }
        // Other unnamed rows are Unassigned; rows without a port are
        // service names registered for SRV lookups only. Neither names a port.
        if name.is_empty() || port.is_empty() {
            continue;
        }
        let (low, high) = parse_ports(port)
            .ok_or_else(|| format!("CSV record {}: bad port {port:?}", line + 2))?;
        let description = field(3).split_whitespace().collect::<Vec<_>>().join(" ");
        let proto = field(2).to_ascii_lowercase();
        let transports: Vec<&'static str> = if proto.is_empty() {
            vec!["Tcp", "Udp"]
        } else {
            let variant = TRANSPORTS
                .iter()
                .find(|(csv, _)| *csv == proto)
                .map(|(_, variant)| *variant)
                .ok_or_else(|| format!("CSV record {}: unknown transport {proto:?}", line + 2))?;
            vec![variant]
        };
        for transport in transports {
            rows.push(Row {
                name: name.to_owned(),
                low,
                high,
                transport,
                description: description.clone(),
            });
        }
    }

    // Stable: rows of one port keep registry order.
    rows.sort_by_key(|r| r.low);
    if rows.len() >= usize::from(u16::MAX) {
        return Err("service table no longer fits u16 indices".into());
    }

    // One pool for every name and description; identical strings (the tcp
    // and udp rows of one service) are stored once.
    let mut pool = String::new();
    let mut pooled: HashMap<String, (u32, u16)> = HashMap::new();
    let mut intern = |text: &str| -> Result<(u32, u16), Box<dyn Error>> {
        if let Some(&at) = pooled.get(text) {
            return Ok(at);
        }
        let at = (u32::try_from(pool.len())?, u16::try_from(text.len())?);
        pool.push_str(text);
        pooled.insert(text.to_owned(), at);
        Ok(at)
    };

    let mut out = String::with_capacity(rows.len() * 64);
    writeln!(
        out,
        "// Generated by build.rs from data/iana-service-names-port-numbers.csv. Do not edit."
    )?;
    writeln!(
        out,
        "static STRINGS: &str = include_str!(concat!(env!(\"OUT_DIR\"), \"/services_strings.txt\"));"
    )?;
    writeln!(out, "static RECORDS: [Record; {}] = [", rows.len())?;
    for r in &rows {
        let (name_at, name_len) = intern(&r.name)?;
        let (description_at, description_len) = intern(&r.description)?;
        writeln!(
            out,
            "Record{{port:{},transport:Transport::{},name_at:{name_at},name_len:{name_len},\
             description_at:{description_at},description_len:{description_len}}},",
            r.low, r.transport
        )?;
    }
    writeln!(out, "];")?;

    writeln!(out, "static PORTS: [u16; {}] = [", rows.len())?;
    for chunk in rows.chunks(32) {
        let line: Vec<String> = chunk.iter().map(|r| r.low.to_string()).collect();
        writeln!(out, "{},", line.join(","))?;
    }
    writeln!(out, "];")?;

    // Which ports have a TCP / UDP entry (ranges included): most sockets
    // sit on unnamed ephemeral ports, and a bit test answers those without
    // a search.
    for (table, transport) in [("TCP_NAMED", "Tcp"), ("UDP_NAMED", "Udp")] {
        let mut bits = vec![0u64; 1024];
        for r in rows.iter().filter(|r| r.transport == transport) {
            for port in r.low..=r.high {
                bits[usize::from(port / 64)] |= 1 << (port % 64);
            }
        }
        writeln!(out, "static {table}: [u64; 1024] = [")?;
        for chunk in bits.chunks(16) {
            let line: Vec<String> = chunk.iter().map(|b| format!("{b:#x}")).collect();
            writeln!(out, "{},", line.join(","))?;
        }
        writeln!(out, "];")?;
    }

    let ranges: Vec<(usize, &Row)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.high > r.low)
        .collect();
    writeln!(out, "static RANGES: [PortRange; {}] = [", ranges.len())?;
    for (i, r) in ranges {
        writeln!(out, "PortRange{{low:{},high:{},entry:{i}}},", r.low, r.high)?;
    }
    writeln!(out, "];")?;

    // Rows of one range merged into one transport mask, sorted by low port.
    reserved.sort_unstable();
    let mut merged: Vec<(u16, u16, u8)> = Vec::new();
    for (low, high, bits) in reserved {
        match merged.last_mut() {
            Some(last) if last.0 == low && last.1 == high => last.2 |= bits,
            _ => merged.push((low, high, bits)),
        }
    }
    writeln!(
        out,
        "static RESERVED: [(u16, u16, u8); {}] = [",
        merged.len()
    )?;
    for (low, high, bits) in merged {
        writeln!(out, "({low},{high},{bits:#x}),")?;
    }
    writeln!(out, "];")?;

    let mut index: Vec<usize> = (0..rows.len()).collect();
    index.sort_by_cached_key(|&i| (rows[i].name.to_ascii_lowercase(), i));
    writeln!(out, "static NAME_INDEX: [u16; {}] = [", index.len())?;
    for chunk in index.chunks(32) {
        let line: Vec<String> = chunk.iter().map(|i| i.to_string()).collect();
        writeln!(out, "{},", line.join(","))?;
    }
    writeln!(out, "];")?;

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("services_strings.txt"), pool)?;
    std::fs::write(out_dir.join("services_table.rs"), out)?;
    Ok(())
}

/// `"22"` -> (22, 22); `"6000-6063"` -> (6000, 6063).
fn parse_ports(text: &str) -> Option<(u16, u16)> {
    let (low, high) = match text.split_once('-') {
        Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
        None => {
            let p = text.parse().ok()?;
            (p, p)
        }
    };
    (low <= high).then_some((low, high))
}
