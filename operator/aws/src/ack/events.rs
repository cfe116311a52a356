//! The Kubernetes events the ACK controllers publish, decided purely from what one reconcile
//! did and how the object's conditions were before it: something a user should know about
//! (created, adopted, updated, deleted, an error that appeared or changed, back in sync),
//! never a repeat of the same state at every resync.

use kro_reconcile::events::truncate_note;

use super::condition::{self, Condition, Outcome};

/// Something one reconcile did in AWS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Happened {
    /// The AWS resource `id` was created in `region`.
    Created { id: String, region: String },
    /// The existing AWS resource `id` was taken over (adoption annotations).
    Adopted { id: String },
    /// AWS calls that brought `id` in line with the spec.
    Updated { id: String, calls: Vec<String> },
    /// The AWS resource was deleted (`existed`: false when there was nothing left to delete).
    Deleted { id: String, existed: bool },
    /// The object went away but the AWS resource was kept (deletion policy retain, read-only).
    Retained { id: String },
    /// The object went away without touching `id`, which it never created or adopted.
    NotManaged { id: String },
}

/// One event to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Note {
    /// `Warning` rather than `Normal`.
    pub warning: bool,
    /// The event's reason (CamelCase, what `kubectl get events` shows in REASON).
    pub reason: &'static str,
    /// The event's message.
    pub note: String,
}

fn normal(reason: &'static str, note: String) -> Note {
    Note {
        warning: false,
        reason,
        note: truncate_note(note),
    }
}

fn warning(reason: &'static str, note: String) -> Note {
    Note {
        warning: true,
        reason,
        note: truncate_note(note),
    }
}

fn was(previous: &[Condition], type_: &str, status: &str, message: Option<&str>) -> bool {
    previous.iter().any(|c| {
        c.type_ == type_
            && c.status.as_str() == status
            && message.is_none_or(|m| c.message.as_deref() == Some(m))
    })
}

/// The events of one reconcile of a `kind` object: one per thing done in AWS, then one for the
/// outcome when it differs from what the conditions said before (`outcome` is `None` when the
/// reconcile wrote no conditions, e.g. a finished deletion).
pub(crate) fn notes(
    kind: &str,
    happened: &[Happened],
    outcome: Option<&Outcome>,
    previous: &[Condition],
) -> Vec<Note> {
    let mut out: Vec<Note> = happened
        .iter()
        .map(|h| match h {
            Happened::Created { id, region } => normal(
                "Created",
                format!("Created {kind} {id:?} in AWS region {region}"),
            ),
            Happened::Adopted { id } => normal(
                "Adopted",
                format!("Adopted the existing AWS {kind} {id:?}"),
            ),
            Happened::Updated { id, calls } => normal(
                "Updated",
                format!(
                    "Updated {kind} {id:?} in AWS to match the spec: {}",
                    calls.join(", ")
                ),
            ),
            Happened::Deleted { id, existed: true } => {
                normal("Deleted", format!("Deleted {kind} {id:?} from AWS"))
            }
            Happened::Deleted { id, existed: false } => normal(
                "Deleted",
                format!("{kind} {id:?} was already gone from AWS"),
            ),
            Happened::Retained { id } => normal(
                "Retained",
                format!(
                    "Kept {kind} {id:?} in AWS: the deletion policy is retain (or the object is read-only)"
                ),
            ),
            Happened::NotManaged { id } => normal(
                "NotManaged",
                format!(
                    "Left {kind} {id:?} in AWS untouched: this object never created or adopted it, and a finalizer alone does not make it managed"
                ),
            ),
        })
        .collect();
    match outcome {
        Some(Outcome::Synced) if !was(previous, condition::RESOURCE_SYNCED, "True", None) => {
            out.push(normal("Synced", condition::SYNCED_MESSAGE.to_owned()));
        }
        Some(Outcome::Recoverable(msg))
            if !was(previous, condition::RECOVERABLE, "True", Some(msg)) =>
        {
            out.push(warning("RecoverableError", format!("{msg} (retrying)")));
        }
        Some(Outcome::Terminal(msg)) if !was(previous, condition::TERMINAL, "True", Some(msg)) => {
            out.push(warning(
                "TerminalError",
                format!("{msg} (not retried until the spec or annotations change)"),
            ));
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use kro_reconcile::events::{MAX_NOTE_BYTES, TRUNCATED};

    use super::*;

    fn c(type_: &str, status: &str, message: &str) -> Condition {
        let status = match status {
            "True" => condition::Status::True,
            "False" => condition::Status::False,
            _ => condition::Status::Unknown,
        };
        Condition::with_status(type_, status).with_message(message)
    }

    fn reasons(n: &[Note]) -> Vec<(&str, bool)> {
        n.iter().map(|n| (n.reason, n.warning)).collect()
    }

    #[test]
    fn a_create_that_syncs_says_created_then_synced() {
        let h = [Happened::Created {
            id: "b1".into(),
            region: "us-west-2".into(),
        }];
        let n = notes("Bucket", &h, Some(&Outcome::Synced), &[]);
        assert_eq!(reasons(&n), [("Created", false), ("Synced", false)]);
        assert_eq!(n[0].note, "Created Bucket \"b1\" in AWS region us-west-2");
    }

    #[test]
    fn a_resync_with_nothing_new_says_nothing() {
        let synced = [c(
            condition::RESOURCE_SYNCED,
            "True",
            condition::SYNCED_MESSAGE,
        )];
        assert!(notes("Bucket", &[], Some(&Outcome::Synced), &synced).is_empty());
        let rec = [c(condition::RECOVERABLE, "True", "boom")];
        assert!(
            notes(
                "Bucket",
                &[],
                Some(&Outcome::Recoverable("boom".into())),
                &rec
            )
            .is_empty()
        );
        let term = [c(condition::TERMINAL, "True", "bad")];
        assert!(notes("Bucket", &[], Some(&Outcome::Terminal("bad".into())), &term).is_empty());
        assert!(notes("Bucket", &[], Some(&Outcome::NotSynced("wait".into())), &[]).is_empty());
    }

    #[test]
    fn an_error_that_appears_or_changes_is_a_warning() {
        let rec = [c(condition::RECOVERABLE, "True", "old")];
        let n = notes(
            "DBInstance",
            &[],
            Some(&Outcome::Recoverable("new".into())),
            &rec,
        );
        assert_eq!(reasons(&n), [("RecoverableError", true)]);
        assert_eq!(n[0].note, "new (retrying)");
        let n = notes(
            "DBInstance",
            &[],
            Some(&Outcome::Terminal("bad".into())),
            &rec,
        );
        assert_eq!(reasons(&n), [("TerminalError", true)]);
        assert!(n[0].note.starts_with("bad (not retried"));
    }

    #[test]
    fn an_update_names_the_calls_and_long_notes_are_cut() {
        let h = [Happened::Updated {
            id: "g".into(),
            calls: vec!["PutBucketTagging".into(), "PutBucketVersioning".into()],
        }];
        let synced = [c(condition::RESOURCE_SYNCED, "True", "x")];
        let n = notes("Bucket", &h, Some(&Outcome::Synced), &synced);
        assert_eq!(
            n[0].note,
            "Updated Bucket \"g\" in AWS to match the spec: PutBucketTagging, PutBucketVersioning"
        );
        let long = "é".repeat(2000);
        let n = notes("Bucket", &[], Some(&Outcome::Terminal(long)), &[]);
        assert!(n[0].note.len() <= MAX_NOTE_BYTES && n[0].note.ends_with(TRUNCATED));
    }
}
