//! The operator's logs, as a test can read them. Every in-process operator logs through one
//! process-wide subscriber (set up by [`init`]): lines at the `RUST_LOG` level go to the test
//! output as before, and while a [`Capture`] is alive, what `kro run --log-level debug` would
//! write (every operator in the process) is also written to a shared buffer. Tests
//! run in parallel, so a capture holds other tests' lines too: look for values unique to the
//! test (a random canary), never for the absence of ordinary lines.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, Once};

use tracing_subscriber::filter::{DynFilterFn, EnvFilter, FilterExt, LevelFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// How many captures are alive; nothing is buffered while it is 0.
static CAPTURES: AtomicUsize = AtomicUsize::new(0);
/// Every captured line, from the first live capture on.
static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());

fn buffer() -> MutexGuard<'static, Vec<u8>> {
    BUFFER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Installs the process-wide subscriber (once; later calls do nothing).
pub(crate) fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let shown = tracing_subscriber::fmt::layer()
            .with_test_writer()
            .with_filter(EnvFilter::from_default_env());
        let captured = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(CaptureWriter)
            .with_filter(
                // What `kro run --log-level debug` writes, while a capture is alive.
                EnvFilter::new(kro_controller::telemetry::level_directives("debug")).and(
                    DynFilterFn::new(|_, _| CAPTURES.load(Ordering::Relaxed) > 0)
                        .with_max_level_hint(LevelFilter::DEBUG),
                ),
            );
        let _ = tracing_subscriber::registry()
            .with(shown)
            .with(captured)
            .try_init();
    });
}

/// Writes formatted lines into [`BUFFER`].
#[derive(Clone, Copy)]
struct CaptureWriter;

impl std::io::Write for CaptureWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        buffer().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CaptureWriter {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// Captures the logs of every operator in the process from its start until it is dropped.
pub(crate) struct Capture {
    start: usize,
}

impl Capture {
    /// Starts capturing (installing the subscriber if no operator did yet).
    pub(crate) fn start() -> Self {
        init();
        let all = buffer();
        CAPTURES.fetch_add(1, Ordering::SeqCst);
        Capture { start: all.len() }
    }

    /// Everything logged since the capture started.
    pub(crate) fn text(&self) -> String {
        let all = buffer();
        String::from_utf8_lossy(&all[self.start.min(all.len())..]).into_owned()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // The last capture to go empties the buffer (under its lock, so that a capture starting
        // meanwhile measures its start after the clearing).
        let mut all = buffer();
        if CAPTURES.fetch_sub(1, Ordering::SeqCst) == 1 {
            all.clear();
        }
    }
}
