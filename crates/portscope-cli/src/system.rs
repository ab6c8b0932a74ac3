//! Which [`System`] a command runs on: this machine, or the saved `--json`
//! listing `--from-snapshot FILE` names ([`Recorded`]). Every command gets
//! its system here, so each runs the same code on either.

use std::path::Path;
use std::sync::OnceLock;

use portscope::collect::{Native, Recorded, System};
use portscope::services::EphemeralRange;

use crate::Failure;
use crate::cmd::shown_path;

/// The ephemeral range of the system the command runs on, once opened.
static EPHEMERAL: OnceLock<Option<EphemeralRange>> = OnceLock::new();

/// The system to run on: the recording at `from` if given, else this machine.
pub fn open(from: Option<&Path>) -> Result<Box<dyn System>, Failure> {
    let sys: Box<dyn System> = match from {
        Some(path) => {
            let text = read(path)?;
            let snap = crate::snapshot_file::parse(&text).map_err(|e| bad(path, e))?;
            Box::new(Recorded::new(snap))
        }
        None => Box::new(Native::new()),
    };
    let _ = EPHEMERAL.set(sys.ephemeral_range());
    Ok(sys)
}

/// A saved `--json` listing as a system; also whether it carries owner data
/// (some socket has an `owners` list). A file that cannot be read or is not
/// a listing is a usage error naming it.
pub fn recorded(path: &Path) -> Result<(Recorded, bool), Failure> {
    let text = read(path)?;
    let (snap, owners_known) =
        crate::snapshot_file::parse_listing(&text).map_err(|e| bad(path, e))?;
    Ok((Recorded::new(snap), owners_known))
}

fn read(path: &Path) -> Result<String, Failure> {
    crate::input::read_json_text(path).map_err(|e| bad(path, e))
}

/// A file that cannot be read or is not a listing: a usage error naming it.
fn bad(path: &Path, e: String) -> Failure {
    Failure::Usage(format!("{}: {e}", shown_path(path)))
}

/// The ephemeral port range of the system in use (this machine's when no
/// system was opened yet), for service names and port classes.
pub fn ephemeral_range() -> Option<EphemeralRange> {
    *EPHEMERAL.get_or_init(|| Native::new().ephemeral_range())
}
