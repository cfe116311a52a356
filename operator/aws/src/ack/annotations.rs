//! ACK's annotations (region, deletion policy, adoption, read-only) and their parsing.

use std::collections::BTreeMap;

/// Region of one resource, overriding the controller's default.
pub const REGION: &str = "services.k8s.aws/region";
/// `delete` (default) or `retain`: whether deleting the object deletes the AWS resource.
pub const DELETION_POLICY: &str = "services.k8s.aws/deletion-policy";
/// `adopt` or `adopt-or-create`.
pub const ADOPTION_POLICY: &str = "services.k8s.aws/adoption-policy";
/// JSON object with the identifiers of the resource to adopt, e.g. `{"name": "my-bucket"}`.
pub const ADOPTION_FIELDS: &str = "services.k8s.aws/adoption-fields";
/// Written by the controller once a resource has been adopted.
pub const ADOPTED: &str = "services.k8s.aws/adopted";
/// `"true"`: never create, update or delete; only refresh status.
pub const READ_ONLY: &str = "services.k8s.aws/read-only";
/// On a Namespace: the region of its AWS objects that carry no [`REGION`] annotation.
pub const DEFAULT_REGION: &str = "services.k8s.aws/default-region";
/// On a Namespace: the AWS account of its objects (ACK's cross-account resource management).
pub const OWNER_ACCOUNT_ID: &str = "services.k8s.aws/owner-account-id";

/// What happens to the AWS resource when its object is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// Delete the AWS resource (ACK's default).
    #[default]
    Delete,
    /// Keep the AWS resource; only the object goes away.
    Retain,
}

/// How an existing AWS resource is taken over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdoptionPolicy {
    /// Import the AWS state into the spec; never create.
    Adopt,
    /// The spec is the source of truth: create when absent, else adopt and update.
    AdoptOrCreate,
}

/// A malformed ACK annotation, with what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationError {
    /// deletion-policy is neither delete nor retain.
    #[error("annotation {DELETION_POLICY}={0:?} is not valid: write \"delete\" or \"retain\"")]
    DeletionPolicy(String),
    /// The namespace's `<service>.services.k8s.aws/deletion-policy` is neither delete nor retain.
    #[error(
        "annotation {key}={value:?} on Namespace {namespace} is not valid: write \"delete\" or \"retain\""
    )]
    NamespaceDeletionPolicy {
        /// The annotation, e.g. `s3.services.k8s.aws/deletion-policy`.
        key: String,
        /// The namespace carrying it.
        namespace: String,
        /// What it says.
        value: String,
    },
    /// adoption-policy is neither adopt nor adopt-or-create.
    #[error(
        "annotation {ADOPTION_POLICY}={0:?} is not valid: write \"adopt\" or \"adopt-or-create\""
    )]
    AdoptionPolicy(String),
    /// adoption-fields is not a JSON object of strings.
    #[error(
        "annotation {ADOPTION_FIELDS} must be a JSON object of strings such as {{\"{1}\": \"...\"}}: {0}"
    )]
    AdoptionFields(String, &'static str),
}

impl std::str::FromStr for DeletionPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "delete" => Ok(DeletionPolicy::Delete),
            "retain" => Ok(DeletionPolicy::Retain),
            other => Err(format!(
                "{other:?} is not a deletion policy: write delete or retain"
            )),
        }
    }
}

/// The namespace annotation that sets the deletion policy of one service's resources in that
/// namespace: `<group>/deletion-policy`, e.g. `s3.services.k8s.aws/deletion-policy`.
pub fn namespace_deletion_policy_key(group: &str) -> String {
    format!("{group}/deletion-policy")
}

/// The deletion policy, as ACK picks it: the resource's annotation, else the namespace's
/// `<group>/deletion-policy` annotation (`namespace` is its name and annotations), else the
/// controller default (`--deletion-policy`).
pub fn deletion_policy(
    annotations: &BTreeMap<String, String>,
    namespace: Option<(&str, &BTreeMap<String, String>)>,
    group: &str,
    default: DeletionPolicy,
) -> Result<DeletionPolicy, AnnotationError> {
    match annotations.get(DELETION_POLICY).map(|s| s.trim()) {
        None | Some("") => {}
        Some(other) => {
            return other
                .parse()
                .map_err(|_| AnnotationError::DeletionPolicy(other.into()));
        }
    }
    let key = namespace_deletion_policy_key(group);
    match namespace.and_then(|(ns, a)| Some((ns, a.get(&key)?.trim()))) {
        None | Some((_, "")) => Ok(default),
        Some((ns, value)) => value
            .parse()
            .map_err(|_| AnnotationError::NamespaceDeletionPolicy {
                key,
                namespace: ns.to_owned(),
                value: value.to_owned(),
            }),
    }
}

/// The adoption policy, if any.
pub fn adoption_policy(
    annotations: &BTreeMap<String, String>,
) -> Result<Option<AdoptionPolicy>, AnnotationError> {
    match annotations.get(ADOPTION_POLICY).map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some("adopt") => Ok(Some(AdoptionPolicy::Adopt)),
        Some("adopt-or-create") => Ok(Some(AdoptionPolicy::AdoptOrCreate)),
        Some(other) => Err(AnnotationError::AdoptionPolicy(other.into())),
    }
}

/// The identifier `key` from the adoption-fields annotation, if the annotation is present.
pub fn adoption_field(
    annotations: &BTreeMap<String, String>,
    key: &'static str,
) -> Result<Option<String>, AnnotationError> {
    let Some(raw) = annotations.get(ADOPTION_FIELDS) else {
        return Ok(None);
    };
    let map: BTreeMap<String, String> = serde_json::from_str(raw)
        .map_err(|e| AnnotationError::AdoptionFields(e.to_string(), key))?;
    Ok(map.get(key).filter(|v| !v.is_empty()).cloned())
}

/// True when the object has been adopted already.
pub fn is_adopted(annotations: &BTreeMap<String, String>) -> bool {
    annotations.get(ADOPTED).is_some_and(|v| v == "true")
}

/// True when the object is read-only.
pub fn is_read_only(annotations: &BTreeMap<String, String>) -> bool {
    annotations.get(READ_ONLY).is_some_and(|v| v == "true")
}

/// The object's own `services.k8s.aws/region`, if set.
pub fn object_region(annotations: &BTreeMap<String, String>) -> Option<&str> {
    annotations
        .get(REGION)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
}

/// A Namespace's `services.k8s.aws/default-region`, if set.
pub fn namespace_default_region(namespace: &BTreeMap<String, String>) -> Option<String> {
    namespace
        .get(DEFAULT_REGION)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The region of a resource, as ACK picks it: the object's annotation, else its Namespace's
/// `services.k8s.aws/default-region`, else the controller default; once the resource exists
/// (status), that region must stay the one picked. Returns an error message when the pick moved
/// away from where the resource exists (ACK makes that terminal).
pub fn region(
    annotations: &BTreeMap<String, String>,
    namespace_default: Option<&str>,
    status_region: Option<&str>,
    default: &str,
) -> Result<String, String> {
    let from_namespace = namespace_default.map(str::trim).filter(|s| !s.is_empty());
    let desired = object_region(annotations)
        .or(from_namespace)
        .unwrap_or(default);
    match status_region {
        Some(existing) if !existing.is_empty() && existing != desired => Err(format!(
            "Resource already exists in region {existing}, but the desired state specifies region \
             {desired}; set annotation {REGION} (or the Namespace's {DEFAULT_REGION}) back to \
             {existing}"
        )),
        Some(existing) if !existing.is_empty() => Ok(existing.to_owned()),
        _ => Ok(desired.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn deletion_policy_table() {
        let cases = [
            (vec![], DeletionPolicy::Delete, Ok(DeletionPolicy::Delete)),
            (vec![], DeletionPolicy::Retain, Ok(DeletionPolicy::Retain)),
            (
                vec![(DELETION_POLICY, "retain")],
                DeletionPolicy::Delete,
                Ok(DeletionPolicy::Retain),
            ),
            (
                vec![(DELETION_POLICY, "delete")],
                DeletionPolicy::Retain,
                Ok(DeletionPolicy::Delete),
            ),
            (
                vec![(DELETION_POLICY, "keep")],
                DeletionPolicy::Delete,
                Err(AnnotationError::DeletionPolicy("keep".into())),
            ),
        ];
        for (a, default, want) in cases {
            assert_eq!(
                deletion_policy(&ann(&a), None, "s3.services.k8s.aws", default),
                want,
                "{a:?}"
            );
        }
        let err = deletion_policy(
            &ann(&[(DELETION_POLICY, "keep")]),
            None,
            "s3.services.k8s.aws",
            DeletionPolicy::Delete,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("\"delete\" or \"retain\""), "{err}");
    }

    /// ACK's precedence: object annotation > namespace `<group>/deletion-policy` > flag.
    #[test]
    fn deletion_policy_precedence_with_the_namespace() {
        use DeletionPolicy::{Delete, Retain};
        let s3 = "s3.services.k8s.aws";
        let ns_retain = ann(&[("s3.services.k8s.aws/deletion-policy", "retain")]);
        let ns_other_service = ann(&[("rds.services.k8s.aws/deletion-policy", "retain")]);
        let ns_delete = ann(&[("s3.services.k8s.aws/deletion-policy", " delete ")]);
        let obj_delete = ann(&[(DELETION_POLICY, "delete")]);
        let obj_retain = ann(&[(DELETION_POLICY, "retain")]);
        let none = ann(&[]);
        let cases = [
            (&none, &ns_retain, Delete, Retain),
            (&none, &ns_other_service, Delete, Delete),
            (&none, &ns_delete, Retain, Delete),
            (&obj_delete, &ns_retain, Retain, Delete),
            (&obj_retain, &ns_delete, Delete, Retain),
            (&none, &none, Retain, Retain),
        ];
        for (obj, ns, flag, want) in cases {
            assert_eq!(
                deletion_policy(obj, Some(("team-a", ns)), s3, flag),
                Ok(want),
                "{obj:?} {ns:?} {flag:?}"
            );
        }
        let bad = ann(&[("s3.services.k8s.aws/deletion-policy", "keep")]);
        let err = deletion_policy(&none, Some(("team-a", &bad)), s3, Delete).unwrap_err();
        assert_eq!(
            err.to_string(),
            "annotation s3.services.k8s.aws/deletion-policy=\"keep\" on Namespace team-a is not \
             valid: write \"delete\" or \"retain\""
        );
        assert_eq!("retain".parse(), Ok(Retain));
        assert!("Retain".parse::<DeletionPolicy>().is_err());
    }

    #[test]
    fn adoption_table() {
        assert_eq!(adoption_policy(&ann(&[])), Ok(None));
        assert_eq!(
            adoption_policy(&ann(&[(ADOPTION_POLICY, "adopt")])),
            Ok(Some(AdoptionPolicy::Adopt))
        );
        assert_eq!(
            adoption_policy(&ann(&[(ADOPTION_POLICY, "adopt-or-create")])),
            Ok(Some(AdoptionPolicy::AdoptOrCreate))
        );
        assert!(adoption_policy(&ann(&[(ADOPTION_POLICY, "yes")])).is_err());
        let f = ann(&[(ADOPTION_FIELDS, r#"{"name": "existing"}"#)]);
        assert_eq!(adoption_field(&f, "name"), Ok(Some("existing".into())));
        assert_eq!(adoption_field(&f, "dbInstanceIdentifier"), Ok(None));
        assert_eq!(adoption_field(&ann(&[]), "name"), Ok(None));
        let bad = adoption_field(&ann(&[(ADOPTION_FIELDS, "name=x")]), "name").unwrap_err();
        assert!(bad.to_string().contains(r#"{"name": "..."}"#), "{bad}");
    }

    #[test]
    fn region_table() {
        let r = ann(&[(REGION, "eu-west-1")]);
        assert_eq!(
            region(&ann(&[]), None, None, "us-west-2"),
            Ok("us-west-2".into())
        );
        assert_eq!(region(&r, None, None, "us-west-2"), Ok("eu-west-1".into()));
        assert_eq!(
            region(&r, None, Some("eu-west-1"), "us-west-2"),
            Ok("eu-west-1".into())
        );
        assert_eq!(
            region(&ann(&[]), None, Some(""), "us-west-2"),
            Ok("us-west-2".into())
        );
        let moved = region(&r, None, Some("us-west-2"), "us-west-2").unwrap_err();
        assert!(
            moved.contains("already exists in region us-west-2"),
            "{moved}"
        );
    }

    /// ACK's precedence: object annotation > Namespace default-region > controller default; the
    /// region a resource exists in never moves.
    #[test]
    fn region_precedence_with_the_namespace() {
        let obj = ann(&[(REGION, "eu-west-1")]);
        let none = ann(&[]);
        let cases = [
            (&obj, Some("ap-south-1"), None, Ok("eu-west-1")),
            (&none, Some("ap-south-1"), None, Ok("ap-south-1")),
            (&none, Some(" "), None, Ok("us-west-2")),
            (&none, None, None, Ok("us-west-2")),
            (
                &none,
                Some("ap-south-1"),
                Some("ap-south-1"),
                Ok("ap-south-1"),
            ),
            (&obj, Some("ap-south-1"), Some("eu-west-1"), Ok("eu-west-1")),
            (&none, Some("ap-south-1"), Some("us-west-2"), Err(())),
        ];
        for (a, ns, status, want) in cases {
            let got = region(a, ns, status, "us-west-2");
            match want {
                Ok(w) => assert_eq!(got, Ok(w.to_owned()), "{a:?} {ns:?} {status:?}"),
                Err(()) => {
                    let msg = got.unwrap_err();
                    assert!(msg.contains(DEFAULT_REGION), "{msg}");
                }
            }
        }
        let ns = ann(&[(DEFAULT_REGION, " eu-central-1 ")]);
        assert_eq!(namespace_default_region(&ns), Some("eu-central-1".into()));
        assert_eq!(namespace_default_region(&none), None);
    }

    #[test]
    fn flags() {
        assert!(is_adopted(&ann(&[(ADOPTED, "true")])));
        assert!(!is_adopted(&ann(&[])));
        assert!(is_read_only(&ann(&[(READ_ONLY, "true")])));
        assert!(!is_read_only(&ann(&[(READ_ONLY, "false")])));
    }
}
