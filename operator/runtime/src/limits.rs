//! What one evaluation of one instance may spend: desired objects (count and bytes, across
//! every node) and wall-clock time. The counts are kept as the objects are built, so an
//! expansion stops at the bound instead of after it; the clock is also read inside CEL (see
//! [`kro_cel::Deadline`]), so a slow expression stops by itself.

use std::time::{Duration, Instant};

use kro_graph::Node;
use serde_json::Value;

use crate::Options;
use crate::plan::{Stopped, StoppedBy};

/// `--instance-max-desired-bytes` default: 32 MiB of desired objects per instance (see
/// docs/operations.md for why).
pub const DEFAULT_MAX_DESIRED_BYTES: u64 = 32 * 1024 * 1024;
/// `--instance-max-objects` default: five `forEach` collections at kro's 1,000-item cap.
pub const DEFAULT_MAX_OBJECTS: usize = 5000;

/// The wall-clock limit of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvaluationDeadline {
    /// When the evaluation must stop.
    pub at: Instant,
    /// The time one reconcile may spend evaluating (`--instance-evaluation-timeout`), named in
    /// the message.
    pub timeout: Duration,
}

impl EvaluationDeadline {
    /// A deadline `timeout` from now.
    pub fn after(timeout: Duration) -> Self {
        Self {
            at: Instant::now() + timeout,
            timeout,
        }
    }
}

/// The message of an evaluation stopped at its deadline.
pub(crate) fn deadline_message(timeout: Duration) -> String {
    format!(
        "evaluation stopped at its deadline: one reconcile may spend {} evaluating this instance (--instance-evaluation-timeout), and this one took longer; it is retried with backoff. Make the expressions cheaper (smaller loops, fewer items) or raise the flag",
        human_duration(timeout)
    )
}

fn human_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn human_bytes(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{bytes} bytes ({} MiB)", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// What the evaluation spent so far, against the options' bounds.
pub(crate) struct Limits<'o> {
    pub(crate) options: &'o Options,
    /// Compact JSON bytes of the desired objects so far.
    bytes: u64,
    /// Desired objects so far.
    objects: usize,
    /// The deadline inside CEL, while this evaluation runs.
    cel: Option<kro_cel::Deadline>,
}

impl<'o> Limits<'o> {
    /// Starts counting; sets the CEL deadline on this thread until dropped.
    pub(crate) fn start(options: &'o Options) -> Self {
        Self {
            options,
            bytes: 0,
            objects: 0,
            cel: options
                .deadline
                .map(|deadline| kro_cel::Deadline::start(deadline.at)),
        }
    }

    /// Whether the deadline has passed (by the clock, or inside an expression).
    pub(crate) fn expired(&self) -> bool {
        match self.options.deadline {
            Some(deadline) => {
                self.cel.as_ref().is_some_and(kro_cel::Deadline::passed)
                    || Instant::now() >= deadline.at
            }
            None => false,
        }
    }

    /// The evaluation stopped at the deadline while at `at`.
    pub(crate) fn deadline_stop(&self, at: &str) -> Stopped {
        let timeout = self.options.deadline.map(|d| d.timeout).unwrap_or_default();
        Stopped {
            by: StoppedBy::Deadline,
            at: at.to_string(),
            message: deadline_message(timeout),
        }
    }

    /// Whether `count` more objects fit (checked before a `forEach` expands).
    pub(crate) fn admit(&self, node: &Node, count: usize) -> Result<(), String> {
        let max = self.options.max_objects;
        let total = self.objects.saturating_add(count);
        if total <= max {
            return Ok(());
        }
        let what = if node.kind.is_list() {
            format!("its forEach expands to {count} objects")
        } else {
            "its object".to_string()
        };
        Err(format!(
            "desired objects over budget: {what}, which brings the instance to {total} desired objects ({} before this node), more than the {max} of --instance-max-objects; nothing is applied. Expand fewer items, or raise the flag",
            self.objects
        ))
    }

    /// Whether `partial` more bytes, of an object being built, still fit.
    pub(crate) fn room(&self, partial: u64, item: Option<(usize, usize)>) -> Result<(), String> {
        let total = self.bytes.saturating_add(partial);
        if total <= self.options.max_desired_bytes {
            return Ok(());
        }
        Err(self.over_bytes(total, item))
    }

    /// Counts a finished desired object.
    pub(crate) fn charge(
        &mut self,
        object: &Value,
        item: Option<(usize, usize)>,
    ) -> Result<(), String> {
        self.objects += 1;
        self.bytes = self.bytes.saturating_add(json_size(object));
        if self.bytes <= self.options.max_desired_bytes {
            return Ok(());
        }
        Err(self.over_bytes(self.bytes, item))
    }

    fn over_bytes(&self, total: u64, item: Option<(usize, usize)>) -> String {
        let at = match item {
            Some((index, size)) => format!(" at forEach item {} of {size}", index + 1),
            None => String::new(),
        };
        format!(
            "desired objects over budget: the instance's desired objects come to more than {}{at} ({total} bytes counted so far), the limit of --instance-max-desired-bytes; nothing is applied. Make the objects smaller (large fields copied into many items add up), or raise the flag",
            human_bytes(self.options.max_desired_bytes)
        )
    }
}

/// Counts what it is given.
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(bytes.len() as u64);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The size of `leaf` written as compact JSON (serde_json's own escaping, nothing allocated).
fn leaf_size(leaf: &impl serde::Serialize) -> u64 {
    let mut counter = Counter(0);
    let _ = serde_json::to_writer(&mut counter, leaf);
    counter.0
}

/// The length of `value` as compact JSON (what is sent to the API server and stored), measured
/// without recursion and without writing it.
pub fn json_size(value: &Value) -> u64 {
    let mut total: u64 = 0;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        let size = match value {
            Value::Null => 4,
            Value::Bool(true) => 4,
            Value::Bool(false) => 5,
            Value::Number(number) => leaf_size(number),
            Value::String(string) => leaf_size(string),
            Value::Array(items) => {
                stack.extend(items.iter());
                2 + items.len().saturating_sub(1) as u64
            }
            Value::Object(fields) => {
                let mut size = 2 + fields.len().saturating_sub(1) as u64;
                for (key, field) in fields {
                    size = size.saturating_add(leaf_size(key) + 1);
                    stack.push(field);
                }
                size
            }
        };
        total = total.saturating_add(size);
    }
    total
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::json_size;

    #[test]
    fn json_size_is_the_compact_encoding_length() {
        for value in [
            json!(null),
            json!(true),
            json!(false),
            json!(12),
            json!(-3.5),
            json!(1e300),
            json!("plain"),
            json!("quotes \" and \\ and \n and \u{1} and é"),
            json!([]),
            json!({}),
            json!([1, "two", [3, {"four": 4}], null]),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"x": "y"}},
                "data": {"k": "v\tw", "empty": ""}}),
        ] {
            assert_eq!(
                json_size(&value),
                serde_json::to_string(&value).unwrap().len() as u64,
                "{value}"
            );
        }
    }

    #[test]
    fn json_size_walks_deep_values_without_recursion() {
        let mut deep = json!(0);
        for _ in 0..100_000 {
            deep = serde_json::Value::Array(vec![deep]);
        }
        assert_eq!(json_size(&deep), 200_001);
        // serde_json drops a Value recursively: take it apart by hand.
        let mut rest = deep;
        while let serde_json::Value::Array(mut items) = rest {
            rest = items.pop().unwrap_or_default();
        }
    }
}
