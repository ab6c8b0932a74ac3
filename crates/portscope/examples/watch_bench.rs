//! The cost of one `portscope watch` refresh, for bench/watch.sh: what the
//! live view does every interval with the library (snapshot with owners,
//! tracking, the default order started from the last one, tcp_info read by
//! cookie for the page shown), timed N times without a terminal; one JSON
//! line of CPU and wall times per round on stdout.
//!
//!   cargo run --release -p portscope --example watch_bench -- [ROUNDS] [--all-info] [--always-sort]
//!
//! `--all-info` asks every snapshot for tcp_info, as the view does when it
//! is sorted by a tcp_info column or grouped by process. As the view does,
//! a refresh that changed nothing the order reads
//! ([`Tracker::settled`]) keeps the last order instead of sorting again;
//! `--always-sort` sorts every time, as a refresh on a busy machine (some
//! socket always changes) does. Drawing the frame
//! (about 1 ms at 200x50 in the binary) is not included.

use std::io::{self, Write as _};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use portscope::collect::{Native, Options, Refresher, System};
use portscope::model::Detail;
use portscope::order::{Key, Order, Row, Ties};
use portscope::track::tracker::Tracker;

/// Lines of the table in a 50-line terminal.
const PAGE: usize = 46;

fn main() -> ExitCode {
    let mut rounds = 12u32;
    let mut all_info = false;
    let mut always_sort = false;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--all-info" => all_info = true,
            "--always-sort" => always_sort = true,
            n => match n.parse() {
                Ok(n) => rounds = n,
                Err(_) => {
                    eprintln!(
                        "watch_bench: usage: watch_bench [ROUNDS] [--all-info] [--always-sort]"
                    );
                    return ExitCode::from(2);
                }
            },
        }
    }
    match run(rounds, all_info, always_sort) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("watch_bench: {e}");
            ExitCode::from(3)
        }
    }
}

fn run(rounds: u32, all_info: bool, always_sort: bool) -> Result<(), Box<dyn std::error::Error>> {
    let opts = Options {
        owners: true,
        detail: Detail {
            info: all_info,
            ..Detail::default()
        },
        ..Options::default()
    };
    let sys = Native::new();
    let mut refresher = Refresher::new(&sys, opts);
    let mut tracker = Tracker::default();
    let key = Key::Proto;
    let order = Order::new(key).ties(Ties::Address);
    let mut out = io::stdout().lock();
    for round in 0..rounds {
        let cpu0 = cpu_time();
        let t0 = Instant::now();
        let snap = refresher.take()?;
        let sockets = snap.sockets.len();
        let (cpu1, t1) = (cpu_time(), Instant::now());
        tracker.ingest(snap, t0);
        // What the view's build does with no filter: every row, from the
        // last order, sorted.
        let mut idx: Vec<usize> = (0..tracker.rows().len()).collect();
        tracker.in_last_order(&mut idx);
        // The order recorded last round holds when nothing it reads changed.
        let sorted = always_sort || round == 0 || !tracker.settled() || !key.steady();
        let shown = if sorted {
            let perm = {
                let rows: Vec<Row<'_>> = idx
                    .iter()
                    .filter_map(|&i| tracker.rows().get(i))
                    .map(|t| Row {
                        socket: &t.socket,
                        rate: t.rate,
                        gone: t.gone.is_some(),
                    })
                    .collect();
                order.permutation(&rows, &tracker.context)
            };
            perm.iter().filter_map(|&k| idx.get(k).copied()).collect()
        } else {
            idx
        };
        tracker.set_ranks(&shown);
        if !all_info {
            let page = shown.get(..PAGE.min(shown.len())).unwrap_or_default();
            tracker.read_info(page, t0, |s| sys.tcp_info(s))?;
        }
        let (cpu2, t2) = (cpu_time(), Instant::now());
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let line = format!(
            "{{\"round\":{round},\"sockets\":{sockets},\"lines\":{},\"walked\":{},\"sorted\":{sorted},\
             \"collect_cpu_ms\":{:.3},\"collect_wall_ms\":{:.3},\
             \"ingest_cpu_ms\":{:.3},\"draw_cpu_ms\":0,\
             \"total_cpu_ms\":{:.3},\"total_wall_ms\":{:.3}}}",
            shown.len(),
            refresher.walked(),
            ms(cpu1 - cpu0),
            ms(t1 - t0),
            ms(cpu2 - cpu1),
            ms(cpu2 - cpu0),
            ms(t2 - t0),
        );
        match writeln!(out, "{line}") {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            r => r?,
        }
        // Rates need time between refreshes, as in the live view.
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// CPU time (user + system) of this process so far, every thread included:
/// the snapshot's owner walk runs on a second thread.
fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}
