//! `portscope watch`: the live view. Builds its settings from the flags,
//! refuses to start without a terminal, and hands over to `watch::run`.
//! (What one refresh costs is measured by bench/watch.sh, with the
//! library's `watch_bench` example.)

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use portscope::collect::Options;
use portscope::filter::Filter;
use portscope::model::Detail;

use crate::Failure;
use crate::args::WatchArgs;
use crate::watch::app::App;
use crate::watch::run;
use crate::watch::view::Settings;

/// Runs the live view.
pub fn run(a: &WatchArgs) -> Result<ExitCode, Failure> {
    let every = crate::config::interval("--interval", a.interval).map_err(Failure::Usage)?;
    let filter = Filter::parse(&a.filter)
        .map_err(|e| Failure::Usage(format!("{e}\n{}", e.caret_lines())))?;
    // The filter is applied on our side only, so editing it in the view can
    // widen as well as narrow what is shown. Rtt, retransmits and
    // throughput need tcp_info: in every snapshot when the order or the
    // grouping reads it, otherwise read for the rows shown (`watch::run`).
    let mut opts = Options {
        query: crate::config::select_query(&a.select),
        owners: true,
        source: crate::config::source_choice(a.source),
        detail: Detail::default(),
        ..Options::default()
    };
    let settings = Settings {
        filter,
        listening_only: a.listening,
        ..Settings::default()
    };
    let sys: std::sync::Arc<dyn portscope::collect::System> =
        crate::system::open(a.from_snapshot.as_deref())?.into();
    opts.netns = crate::netns_pick::scope(a.ns.netns.as_deref(), &*sys)?;
    let app = App::new(settings, a.filter.join(" "), every);
    if !io::stdout().is_terminal() {
        return Err(Failure::Usage(
            "watch draws on a terminal, and stdout is not one (use `portscope -c` for a repeating listing)"
                .into(),
        ));
    }
    run::run(sys, app, opts, every)?;
    Ok(ExitCode::SUCCESS)
}
