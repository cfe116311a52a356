//! ACK's conditions and the pure rules that turn one reconcile's outcome into the
//! `status.conditions` list (reset every sync, as ACK's runtime does). The entries are
//! [`kro_api::Condition`]s (ACK's shape: `observedGeneration` is never set, so never written);
//! [`conditions_schema`] is the schema ACK's CRDs publish for them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
pub use kro_api::Condition;
/// Three-valued condition status (`True`, `False`, `Unknown`).
pub use kro_api::ConditionStatus as Status;
use kro_api::Conditions;
use schemars::{Schema, SchemaGenerator, json_schema};

/// `ACK.ResourceSynced`: the AWS resource matches the spec.
pub const RESOURCE_SYNCED: &str = "ACK.ResourceSynced";
/// `ACK.Terminal`: an error that retrying cannot fix; the spec must change.
pub const TERMINAL: &str = "ACK.Terminal";
/// `ACK.Recoverable`: an error that is retried with backoff.
pub const RECOVERABLE: &str = "ACK.Recoverable";
/// `ACK.ReferencesResolved`: every `*Ref` field points at a synced resource.
pub const REFERENCES_RESOLVED: &str = "ACK.ReferencesResolved";
/// `ACK.LateInitialized`: server defaults were copied into the spec.
pub const LATE_INITIALIZED: &str = "ACK.LateInitialized";
/// `Ready`: summary of the others.
pub const READY: &str = "Ready";

/// Message of `ACK.ResourceSynced=True`.
pub const SYNCED_MESSAGE: &str = "Resource synced successfully";
/// Message of `ACK.ResourceSynced=Unknown` after a recoverable error.
pub const UNKNOWN_SYNC_MESSAGE: &str =
    "Unable to determine if desired resource state matches latest observed state";
/// Message of `ACK.ResourceSynced=False` after a terminal error.
pub const TERMINAL_SYNC_MESSAGE: &str = "Resource not synced";
/// Reason of `ACK.ResourceSynced=False` after a terminal error.
pub const TERMINAL_SYNC_REASON: &str = "resource is in terminal condition";

/// The schema of an ACK kind's `status.conditions` (use with `#[schemars(schema_with)]`):
/// ACK's `Condition`, which is [`Condition`] without `observedGeneration`, every field a string.
pub fn conditions_schema(_: &mut SchemaGenerator) -> Schema {
    let optional = |description: &str| {
        json_schema!({
            "description": description,
            "nullable": true,
            "type": "string",
        })
    };
    json_schema!({
        "items": {
            "description": "One entry of `status.conditions`, shaped like ACK's `Condition`.",
            "properties": {
                "lastTransitionTime": optional("When the condition last changed status (RFC 3339)."),
                "message": optional("Details for humans."),
                "reason": optional("Why the condition has its status."),
                "status": {
                    "description": "`True`, `False` or `Unknown`.",
                    "type": "string",
                },
                "type": {
                    "description": "Type of the condition, e.g. `ACK.ResourceSynced`.",
                    "type": "string",
                },
            },
            "required": ["status", "type"],
            "type": "object",
        },
        "type": "array",
    })
}

/// How one reconcile ended, as far as conditions are concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The AWS resource matches the spec.
    Synced,
    /// Not yet in sync, no error (waiting for a state, just created, ...).
    NotSynced(String),
    /// A retryable error, with its message.
    Recoverable(String),
    /// An error that needs a spec change, with its message.
    Terminal(String),
}

/// What else the reconcile learned that shows up as conditions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extras {
    /// `Some` when the kind has `*Ref` fields set: resolved or the failure message and status.
    pub references: Option<Result<(), (Status, String)>>,
    /// `Some` when the kind late-initializes fields: true when done.
    pub late_initialized: Option<bool>,
}

fn cond(type_: &str, status: Status, reason: Option<&str>, message: Option<&str>) -> Condition {
    Condition {
        reason: reason.map(str::to_owned),
        message: message.map(str::to_owned),
        ..Condition::with_status(type_, status)
    }
}

/// The full condition list after one reconcile. `previous` keeps `lastTransitionTime` of
/// conditions whose status did not change; others get `now`.
pub fn build(
    outcome: &Outcome,
    extras: &Extras,
    previous: &[Condition],
    now: &Time,
) -> Vec<Condition> {
    let mut out = Vec::new();
    if let Some(refs) = &extras.references {
        out.push(match refs {
            Ok(()) => cond(REFERENCES_RESOLVED, Status::True, None, None),
            Err((status, msg)) => cond(
                REFERENCES_RESOLVED,
                *status,
                Some("Reference resolution failed"),
                Some(msg),
            ),
        });
    }
    match outcome {
        Outcome::Synced => out.push(cond(
            RESOURCE_SYNCED,
            Status::True,
            None,
            Some(SYNCED_MESSAGE),
        )),
        Outcome::NotSynced(msg) => out.push(cond(RESOURCE_SYNCED, Status::False, None, Some(msg))),
        Outcome::Recoverable(msg) => {
            out.push(cond(RECOVERABLE, Status::True, None, Some(msg)));
            out.push(cond(
                RESOURCE_SYNCED,
                Status::Unknown,
                None,
                Some(UNKNOWN_SYNC_MESSAGE),
            ));
        }
        Outcome::Terminal(msg) => {
            out.push(cond(TERMINAL, Status::True, None, Some(msg)));
            out.push(cond(
                RESOURCE_SYNCED,
                Status::False,
                Some(TERMINAL_SYNC_REASON),
                Some(TERMINAL_SYNC_MESSAGE),
            ));
        }
    }
    match extras.late_initialized {
        Some(true) => out.push(cond(
            LATE_INITIALIZED,
            Status::True,
            None,
            Some("Late initialization successful"),
        )),
        Some(false) => out.push(cond(
            LATE_INITIALIZED,
            Status::False,
            None,
            Some("Unable to complete Read operation required for late initialization"),
        )),
        None => {}
    }
    out.push(ready(outcome));
    Conditions::merge(previous, out, now).into_vec()
}

/// `Ready` mirrors Terminal, else Recoverable, else ResourceSynced (ACK's rule).
fn ready(outcome: &Outcome) -> Condition {
    match outcome {
        Outcome::Synced => cond(READY, Status::True, None, Some(SYNCED_MESSAGE)),
        Outcome::NotSynced(msg) => cond(READY, Status::False, None, Some(msg)),
        Outcome::Recoverable(msg) => cond(READY, Status::False, Some(RECOVERABLE), Some(msg)),
        Outcome::Terminal(msg) => cond(READY, Status::False, Some(TERMINAL), Some(msg)),
    }
}

/// The status of condition `type_` in `conditions`, if present.
pub fn status_of(conditions: &[Condition], type_: &str) -> Option<&'static str> {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(c: &[Condition]) -> Vec<(String, String, Option<String>, Option<String>)> {
        c.iter()
            .map(|c| {
                (
                    c.type_.clone(),
                    c.status.to_string(),
                    c.reason.clone(),
                    c.message.clone(),
                )
            })
            .collect()
    }

    type Expected<'a> = (&'a str, &'a str, Option<String>, Option<String>);

    fn at(text: &str) -> Time {
        Time(text.parse().unwrap())
    }

    /// `lastTransitionTime` as written on the wire.
    fn stamped(c: &Condition) -> serde_json::Value {
        serde_json::to_value(c).unwrap()["lastTransitionTime"].clone()
    }

    fn s(x: &str) -> Option<String> {
        Some(x.to_string())
    }

    #[test]
    fn conditions_for_each_outcome() {
        let none = Extras::default();
        let cases: Vec<(Outcome, Extras, Vec<Expected>)> = vec![
            (
                Outcome::Synced,
                none.clone(),
                vec![
                    (RESOURCE_SYNCED, "True", None, s(SYNCED_MESSAGE)),
                    (READY, "True", None, s(SYNCED_MESSAGE)),
                ],
            ),
            (
                Outcome::NotSynced("DB instance is in 'creating' status".into()),
                none.clone(),
                vec![
                    (
                        RESOURCE_SYNCED,
                        "False",
                        None,
                        s("DB instance is in 'creating' status"),
                    ),
                    (
                        READY,
                        "False",
                        None,
                        s("DB instance is in 'creating' status"),
                    ),
                ],
            ),
            (
                Outcome::Recoverable("Throttling: slow down".into()),
                none.clone(),
                vec![
                    (RECOVERABLE, "True", None, s("Throttling: slow down")),
                    (RESOURCE_SYNCED, "Unknown", None, s(UNKNOWN_SYNC_MESSAGE)),
                    (READY, "False", s(RECOVERABLE), s("Throttling: slow down")),
                ],
            ),
            (
                Outcome::Terminal("InvalidParameterValue: bad engine".into()),
                none.clone(),
                vec![
                    (
                        TERMINAL,
                        "True",
                        None,
                        s("InvalidParameterValue: bad engine"),
                    ),
                    (
                        RESOURCE_SYNCED,
                        "False",
                        s(TERMINAL_SYNC_REASON),
                        s(TERMINAL_SYNC_MESSAGE),
                    ),
                    (
                        READY,
                        "False",
                        s(TERMINAL),
                        s("InvalidParameterValue: bad engine"),
                    ),
                ],
            ),
            (
                Outcome::Synced,
                Extras {
                    references: Some(Ok(())),
                    late_initialized: Some(true),
                },
                vec![
                    (REFERENCES_RESOLVED, "True", None, None),
                    (RESOURCE_SYNCED, "True", None, s(SYNCED_MESSAGE)),
                    (
                        LATE_INITIALIZED,
                        "True",
                        None,
                        s("Late initialization successful"),
                    ),
                    (READY, "True", None, s(SYNCED_MESSAGE)),
                ],
            ),
            (
                Outcome::Recoverable("DBSubnetGroup ns/x is not synced".into()),
                Extras {
                    references: Some(Err((
                        Status::Unknown,
                        "DBSubnetGroup ns/x is not synced".into(),
                    ))),
                    late_initialized: None,
                },
                vec![
                    (
                        REFERENCES_RESOLVED,
                        "Unknown",
                        s("Reference resolution failed"),
                        s("DBSubnetGroup ns/x is not synced"),
                    ),
                    (
                        RECOVERABLE,
                        "True",
                        None,
                        s("DBSubnetGroup ns/x is not synced"),
                    ),
                    (RESOURCE_SYNCED, "Unknown", None, s(UNKNOWN_SYNC_MESSAGE)),
                    (
                        READY,
                        "False",
                        s(RECOVERABLE),
                        s("DBSubnetGroup ns/x is not synced"),
                    ),
                ],
            ),
        ];
        for (outcome, extras, want) in cases {
            let got = build(&outcome, &extras, &[], &at("2026-01-01T00:00:00Z"));
            let want: Vec<_> = want
                .into_iter()
                .map(|(t, st, r, m)| (t.to_string(), st.to_string(), r, m))
                .collect();
            assert_eq!(summary(&got), want, "{outcome:?}");
            assert!(got.iter().all(|c| stamped(c) == "2026-01-01T00:00:00Z"));
        }
    }

    #[test]
    fn transition_time_kept_only_while_status_is_unchanged() {
        let (t1, t2, t3) = (
            at("2026-01-01T00:00:01Z"),
            at("2026-01-01T00:00:02Z"),
            at("2026-01-01T00:00:03Z"),
        );
        let first = build(&Outcome::Synced, &Extras::default(), &[], &t1);
        let again = build(&Outcome::Synced, &Extras::default(), &first, &t2);
        assert_eq!(
            again, first,
            "an unchanged outcome leaves the conditions byte-identical"
        );
        let failed = build(
            &Outcome::Recoverable("x".into()),
            &Extras::default(),
            &first,
            &t3,
        );
        let synced = failed.iter().find(|c| c.type_ == RESOURCE_SYNCED).unwrap();
        assert_eq!(synced.last_transition_time, Some(t3));
        assert_eq!(status_of(&failed, READY), Some("False"));
        assert_eq!(
            status_of(&failed, TERMINAL),
            None,
            "conditions are reset each sync"
        );
    }
}
