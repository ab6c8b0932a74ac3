//! Standard output for commands that act (signal, close) as well as talk:
//! what they did is reported as far as the reader lets it be, and a reader
//! that leaves early (`| head -1`) never stops the acting half-way.

use std::io::{self, Write};

use crate::Failure;

/// Standard output for a command that must go on after the reader left:
/// once a write fails on a closed pipe, the rest of the output is dropped
/// (the signals still go out) and the failure is returned at the end, where
/// a closed pipe ends the run quietly. Any other write error stops the run.
pub struct Report {
    out: io::BufWriter<io::StdoutLock<'static>>,
    closed: Option<io::Error>,
}

impl Report {
    pub fn new() -> Report {
        Report {
            out: io::BufWriter::new(io::stdout().lock()),
            closed: None,
        }
    }

    /// Writes (and flushes) one piece of output, unless the reader has gone.
    pub fn write(
        &mut self,
        f: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), Failure> {
        if self.closed.is_some() {
            return Ok(());
        }
        match f(&mut self.out).and_then(|()| self.out.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = Some(e);
                Ok(())
            }
            Err(e) => Err(Failure::Output(e)),
        }
    }

    /// One line of output.
    pub fn line(&mut self, text: std::fmt::Arguments<'_>) -> Result<(), Failure> {
        self.write(|out| writeln!(out, "{text}"))
    }

    /// Whether the reader has gone.
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// The closed pipe, if the reader left early.
    pub fn finish(mut self) -> Result<(), Failure> {
        match self.closed.take() {
            Some(e) => Err(Failure::Output(e)),
            None => Ok(()),
        }
    }
}
