//! What every fuzz target shares: the bounds of one input and the decoding of structured input.
//!
//! Each input is bounded to 64 MiB and 100 ms:
//! - memory: the global allocator ([`cap::Cap`]) refuses any allocation that would take the
//!   bytes live during the input more than [`INPUT_MEMORY`] past what was live before it; the
//!   refusal aborts the process (`memory allocation of N bytes failed`), which libFuzzer records
//!   as a crash with the input. libFuzzer's own `-malloc_limit_mb` needs a sanitizer's malloc
//!   hooks, which a `-s none` build does not have; `-rss_limit_mb` is kept as a backstop for the
//!   whole process.
//! - time: CEL evaluation and instance evaluation run under their own wall-clock deadlines
//!   ([`kro_cel::Deadline`], [`kro_runtime::EvaluationDeadline`]) set to [`INPUT_TIME`], as the
//!   operator runs them; libFuzzer's `-timeout` (whole seconds only) is set to 1 s and catches
//!   anything the deadlines do not reach (parsing, schema expansion, graph compile).

use std::alloc::System;
use std::time::{Duration, Instant};

use cap::Cap;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// The memory one input may hold at once on top of what the process held before it.
pub const INPUT_MEMORY: usize = 64 << 20;
/// The wall-clock deadline of one input's CEL and instance evaluation.
pub const INPUT_TIME: Duration = Duration::from_millis(100);

/// The bounds of one input, in force until dropped.
#[derive(Debug)]
pub struct Bounded {
    _deadline: kro_cel::Deadline,
}

impl Drop for Bounded {
    fn drop(&mut self) {
        // Whatever the input left allocated belongs to libFuzzer's next round.
        let _ = ALLOCATOR.set_limit(usize::MAX);
    }
}

/// Starts the bounds of one input: 64 MiB more than is allocated now, CEL deadline in 100 ms.
pub fn bound() -> Bounded {
    let _ = ALLOCATOR.set_limit(ALLOCATOR.allocated().saturating_add(INPUT_MEMORY));
    Bounded {
        _deadline: kro_cel::Deadline::start(Instant::now() + INPUT_TIME),
    }
}

/// The instance evaluation deadline of one input.
pub fn evaluation_deadline() -> kro_runtime::EvaluationDeadline {
    kro_runtime::EvaluationDeadline::after(INPUT_TIME)
}

/// The input as a JSON document, or `None` (inputs that are not JSON are not interesting to the
/// targets that take documents; serde_json is not what is fuzzed).
pub fn json(data: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice(data).ok()
}
