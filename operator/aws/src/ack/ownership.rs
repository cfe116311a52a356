//! Who may make the controller write to an AWS resource: the ownership marker in
//! `status.ackResourceMetadata.identifier` (never the finalizer, which anyone who creates the
//! object can write), the adoption gate (`--enable-resource-adoption`), and the decision table
//! that turns what AWS has and how the object is marked into what one sync does.

use super::annotations::AdoptionPolicy;
use super::types::AckResourceMetadata;

/// True when the object manages the AWS resource `id`: it carries the kind's finalizer and its
/// status (written only by the controller) names `id` as the resource it created or adopted.
///
/// Migration: objects synced by a kro-rs from before the marker have no
/// `ackResourceMetadata.identifier`; for them an ARN in the status that names `id` (it ends in
/// `:id` or `/id`) counts, since only a sync of a resource the controller managed wrote it. Every
/// status the controller writes now carries the field (empty for read-only objects), so this
/// fallback never applies to an object it has synced since.
pub(crate) fn owns(has_finalizer: bool, meta: Option<&AckResourceMetadata>, id: &str) -> bool {
    if !has_finalizer || id.is_empty() {
        return false;
    }
    let Some(meta) = meta else {
        return false;
    };
    match meta.identifier.as_deref() {
        Some(marker) => marker == id,
        None => meta.arn.as_deref().is_some_and(|arn| arn_names(arn, id)),
    }
}

/// True when `arn`'s resource part is exactly `id` (`arn:aws:s3:::id`, `...:db:id`, `.../id`).
fn arn_names(arn: &str, id: &str) -> bool {
    arn.starts_with("arn:")
        && arn
            .strip_suffix(id)
            .is_some_and(|head| head.ends_with(':') || head.ends_with('/'))
}

/// What one sync does, from what AWS has and how the object is marked (ACK's rules, with
/// ownership proven by the status marker instead of the finalizer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing in AWS: write the marker and the finalizer, then create.
    Create,
    /// `adopt` but nothing in AWS: wait (ACK: "adopted resource not found").
    AdoptedMissing,
    /// Ours (marker and finalizer): update to match the spec.
    Update,
    /// `adopt`: import AWS's state into the spec, change nothing in AWS.
    Import,
    /// `adopt-or-create` on an existing resource: take it over, then update AWS to the spec.
    AdoptThenUpdate,
    /// Exists in AWS but not ours and no adoption: terminal "Resource already exists".
    Unmanaged,
    /// An adoption annotation on an object that does not manage its resource yet, while
    /// adoption is turned off for the operator: terminal, nothing is read into or written to AWS.
    AdoptionDisabled,
}

/// The decision table. `owned` is [`owns`]; `adoption_enabled` is `--enable-resource-adoption`.
pub(crate) fn decide(
    exists: bool,
    owned: bool,
    adoption: Option<AdoptionPolicy>,
    adoption_enabled: bool,
) -> Decision {
    if !owned && adoption.is_some() && !adoption_enabled {
        return Decision::AdoptionDisabled;
    }
    match (exists, owned, adoption) {
        (false, _, Some(AdoptionPolicy::Adopt)) => Decision::AdoptedMissing,
        (false, _, _) => Decision::Create,
        (true, true, _) => Decision::Update,
        (true, false, Some(AdoptionPolicy::Adopt)) => Decision::Import,
        (true, false, Some(AdoptionPolicy::AdoptOrCreate)) => Decision::AdoptThenUpdate,
        (true, false, None) => Decision::Unmanaged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(identifier: Option<&str>, arn: Option<&str>) -> AckResourceMetadata {
        AckResourceMetadata {
            arn: arn.map(str::to_owned),
            owner_account_id: "123456789012".into(),
            region: "us-west-2".into(),
            identifier: identifier.map(str::to_owned),
            partition: None,
        }
    }

    #[test]
    fn ownership_needs_the_status_marker_not_just_the_finalizer() {
        let marked = meta(Some("b1"), None);
        let synced = meta(Some("b1"), Some("arn:aws:s3:::b1"));
        let legacy = meta(None, Some("arn:aws:s3:::b1"));
        let legacy_db = meta(None, Some("arn:aws:rds:us-west-2:123456789012:db:db1"));
        let read_only = meta(Some(""), Some("arn:aws:s3:::b1"));
        let legacy_no_arn = meta(None, None);
        let cases = [
            // A user-written finalizer on a fresh object: status is empty.
            (true, None, "b1", false),
            // Marker written before the create: ours, even before the first full sync.
            (true, Some(&marked), "b1", true),
            (true, Some(&synced), "b1", true),
            // The marker names another resource (spec.name changed to someone else's bucket).
            (true, Some(&synced), "prod-bucket", false),
            // No finalizer: not (or no longer) managed.
            (false, Some(&synced), "b1", false),
            // Migration: synced by an older kro-rs, the ARN names the resource.
            (true, Some(&legacy), "b1", true),
            (true, Some(&legacy_db), "db1", true),
            (true, Some(&legacy), "b", false),
            (true, Some(&legacy), "other", false),
            (true, Some(&legacy_no_arn), "b1", false),
            // A read-only object's status never proves ownership.
            (true, Some(&read_only), "b1", false),
            (true, Some(&marked), "", false),
        ];
        for (finalizer, m, id, want) in cases {
            assert_eq!(owns(finalizer, m, id), want, "{finalizer} {m:?} {id}");
        }
    }

    #[test]
    fn decision_table() {
        use AdoptionPolicy::*;
        use Decision::*;
        let cases = [
            // exists, owned, adoption, adoption enabled -> decision
            (false, false, None, true, Create),
            (false, true, None, true, Create),
            (false, false, Some(AdoptOrCreate), true, Create),
            (false, true, Some(Adopt), true, AdoptedMissing),
            (false, false, Some(Adopt), true, AdoptedMissing),
            (true, true, None, true, Update),
            (true, true, Some(Adopt), true, Update),
            (true, false, Some(Adopt), true, Import),
            (true, false, Some(AdoptOrCreate), true, AdoptThenUpdate),
            (true, false, None, true, Unmanaged),
            // Adoption turned off: any adoption annotation on an object that is not managed.
            (true, false, Some(Adopt), false, AdoptionDisabled),
            (true, false, Some(AdoptOrCreate), false, AdoptionDisabled),
            (false, false, Some(AdoptOrCreate), false, AdoptionDisabled),
            (false, false, Some(Adopt), false, AdoptionDisabled),
            // ... but an object that already manages its resource keeps working.
            (true, true, Some(Adopt), false, Update),
            (true, false, None, false, Unmanaged),
            (false, false, None, false, Create),
        ];
        for (exists, owned, adoption, enabled, want) in cases {
            assert_eq!(
                decide(exists, owned, adoption, enabled),
                want,
                "{exists} {owned} {adoption:?} {enabled}"
            );
        }
    }
}
