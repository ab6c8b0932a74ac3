//! `portscope watch`: the live view. Builds its settings from the flags,
//! refuses to start without a terminal, and hands over to `watch::run`; or,
//! with the hidden `--bench N`, times N refreshes without a terminal.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use portscope::collect::{Options, Refresher};
use portscope::filter::Filter;
use portscope::model::Detail;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::Failure;
use crate::args::WatchArgs;
use crate::watch::app::App;
use crate::watch::view::Settings;
use crate::watch::{draw, run};

/// Runs the live view.
pub fn run(a: &WatchArgs) -> Result<ExitCode, Failure> {
    let every = crate::config::interval("--interval", a.interval).map_err(Failure::Usage)?;
    let filter = Filter::parse(&a.filter)
        .map_err(|e| Failure::Usage(format!("{e}\n{}", e.caret_lines())))?;
    // The filter is applied on our side only, so editing it in the view can
    // widen as well as narrow what is shown; rtt, retransmits and
    // throughput need tcp_info.
    let opts = Options {
        query: crate::config::select_query(&a.select),
        owners: true,
        source: crate::config::source_choice(a.source),
        detail: Detail {
            info: true,
            ..Detail::default()
        },
    };
    let settings = Settings {
        filter,
        listening_only: a.listening,
        ..Settings::default()
    };
    let sys: std::sync::Arc<dyn portscope::collect::System> =
        crate::system::open(a.from_snapshot.as_deref())?.into();
    let app = App::new(settings, a.filter.join(" "), every);
    if let Some(n) = a.bench {
        return bench(&*sys, app, &opts, n);
    }
    if !io::stdout().is_terminal() {
        return Err(Failure::Usage(
            "watch draws on a terminal, and stdout is not one (use `portscope -c` for a repeating listing)"
                .into(),
        ));
    }
    run::run(sys, app, opts, every)?;
    Ok(ExitCode::SUCCESS)
}

/// Times `n` refreshes as the view does them (snapshot with tcp_info and
/// owners — the fd walk when due —, ingest, filter and sort, one frame drawn
/// at 200x50 off-screen) and prints the CPU and wall time of each part as
/// JSON lines.
fn bench(
    sys: &dyn portscope::collect::System,
    mut app: App,
    opts: &Options,
    n: u32,
) -> Result<ExitCode, Failure> {
    let mut term = Terminal::new(TestBackend::new(200, 50))
        .map_err(|e| Failure::Output(io::Error::other(e.to_string())))?;
    let mut out = io::stdout().lock();
    let mut refresher = Refresher::new(sys, *opts);
    for round in 0..n {
        let cpu0 = cpu_time();
        let t0 = Instant::now();
        let snap = refresher.take()?;
        let sockets = snap.sockets.len();
        let (cpu1, t1) = (cpu_time(), Instant::now());
        app.ingest(snap, t0);
        let cpu2 = cpu_time();
        term.draw(|f| {
            let s = app.screen(f.area().height, Instant::now());
            draw::draw(f, &s);
        })
        .map_err(|e| Failure::Output(io::Error::other(e.to_string())))?;
        let (cpu3, t3) = (cpu_time(), Instant::now());
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        writeln!(
            out,
            "{{\"round\":{round},\"sockets\":{sockets},\"lines\":{},\"walked\":{},\
             \"collect_cpu_ms\":{:.3},\"collect_wall_ms\":{:.3},\
             \"ingest_cpu_ms\":{:.3},\"draw_cpu_ms\":{:.3},\
             \"total_cpu_ms\":{:.3},\"total_wall_ms\":{:.3}}}",
            app.lines().len(),
            refresher.walked(),
            ms(cpu1 - cpu0),
            ms(t1 - t0),
            ms(cpu2 - cpu1),
            ms(cpu3 - cpu2),
            ms(cpu3 - cpu0),
            ms(t3 - t0),
        )?;
        // Rates need time between refreshes, as in the live view.
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(ExitCode::SUCCESS)
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
