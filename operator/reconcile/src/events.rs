//! Kubernetes events: one publisher over kube's [`Recorder`], with notes cut to the 1 KiB that
//! events.k8s.io accepts, and a failure to publish logged instead of failing the reconcile.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder};

/// Longest note events.k8s.io accepts, in bytes.
pub const MAX_NOTE_BYTES: usize = 1024;

/// What a cut note ends with.
pub const TRUNCATED: &str = "… (truncated)";

/// `note` as events.k8s.io accepts it: unchanged when it fits in [`MAX_NOTE_BYTES`], otherwise
/// cut at a character boundary and ended with [`TRUNCATED`], [`MAX_NOTE_BYTES`] at most in all.
pub fn truncate_note(mut note: String) -> String {
    if note.len() <= MAX_NOTE_BYTES {
        return note;
    }
    let mut end = MAX_NOTE_BYTES - TRUNCATED.len();
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    note.truncate(end);
    note.push_str(TRUNCATED);
    note
}

/// Publishes an event about the object `regarding` (action `Reconcile`), its note cut by
/// [`truncate_note`]. A failure to publish is logged at debug level: an event is never worth
/// failing a reconcile for.
pub async fn publish(
    recorder: &Recorder,
    regarding: &ObjectReference,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(truncate_note(note)),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(error) = recorder.publish(&event, regarding).await {
        tracing::debug!(%error, reason, "cannot publish event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_notes_are_unchanged() {
        assert_eq!(truncate_note(String::new()), "");
        assert_eq!(
            truncate_note("Created bucket b1".into()),
            "Created bucket b1"
        );
        let exact = "a".repeat(MAX_NOTE_BYTES);
        assert_eq!(truncate_note(exact.clone()), exact);
        let exact_multibyte = "é".repeat(MAX_NOTE_BYTES / 2);
        assert_eq!(exact_multibyte.len(), MAX_NOTE_BYTES);
        assert_eq!(truncate_note(exact_multibyte.clone()), exact_multibyte);
    }

    #[test]
    fn long_ascii_notes_are_cut_with_a_marker() {
        let cut = truncate_note("a".repeat(MAX_NOTE_BYTES + 1));
        assert_eq!(cut.len(), MAX_NOTE_BYTES);
        assert!(cut.ends_with(TRUNCATED), "{cut}");
        assert!(cut.starts_with("aaa"));
        let cut = truncate_note("x".repeat(10 * MAX_NOTE_BYTES));
        assert_eq!(cut.len(), MAX_NOTE_BYTES);
    }

    #[test]
    fn long_multibyte_notes_are_cut_at_a_char_boundary() {
        for unit in ["é", "€", "🦀", "a€"] {
            let note = unit.repeat(MAX_NOTE_BYTES);
            let cut = truncate_note(note.clone());
            assert!(cut.len() <= MAX_NOTE_BYTES, "{unit}: {}", cut.len());
            assert!(cut.len() > MAX_NOTE_BYTES - TRUNCATED.len() - 4, "{unit}");
            assert!(cut.ends_with(TRUNCATED), "{unit}");
            let kept = &cut[..cut.len() - TRUNCATED.len()];
            assert!(note.starts_with(kept), "{unit}");
        }
        // 1025 bytes: one two-byte character past the limit.
        let note = format!("{}é", "a".repeat(MAX_NOTE_BYTES - 1));
        assert_eq!(note.len(), MAX_NOTE_BYTES + 1);
        let cut = truncate_note(note);
        assert!(cut.len() <= MAX_NOTE_BYTES && cut.ends_with(TRUNCATED));
    }
}
