//! The labels and annotations kro writes on managed children and the ApplySet metadata of the
//! parent (kro.md 5.4).

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kro_api::metadata::{annotations, labels, version_label_value};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::plan::{ApplySetParent, DesiredObject};

/// Who the children belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceIdentity {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (empty for cluster-scoped instances).
    pub namespace: String,
    /// `metadata.uid`.
    pub uid: String,
    /// Group of the instance kind.
    pub group: String,
    /// Version of the instance kind.
    pub version: String,
    /// The instance kind.
    pub kind: String,
}

impl InstanceIdentity {
    /// The ApplySet id: `applyset-<base64url(sha256("<name>.<namespace>.<kind>.<group>"))>-v1`.
    pub fn applyset_id(&self) -> String {
        let key = format!(
            "{}.{}.{}.{}",
            self.name, self.namespace, self.kind, self.group
        );
        let digest = Sha256::digest(key.as_bytes());
        format!("applyset-{}-v1", URL_SAFE_NO_PAD.encode(digest))
    }
}

fn object_mut<'a>(value: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let fields = value.as_object_mut()?;
    let entry = fields
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut()
}

/// Adds kro's labels and annotations to a child object (`applyset_id` is
/// [`InstanceIdentity::applyset_id`], computed once per evaluation).
#[allow(clippy::too_many_arguments)]
pub fn label_child(
    object: &mut Value,
    instance: &InstanceIdentity,
    applyset_id: &str,
    node_id: &str,
    collection: Option<(usize, usize)>,
    apply_order: u32,
    kro_version: &str,
) {
    let Some(meta) = object_mut(object, "metadata") else {
        return;
    };
    let meta = &mut Value::Object(std::mem::take(meta));
    if let Some(child_labels) = object_mut(meta, "labels") {
        let mut put = |key: &str, value: String| {
            child_labels.insert(key.to_string(), Value::String(value));
        };
        put(labels::OWNED, labels::OWNED_VALUE.into());
        put(labels::KRO_VERSION, version_label_value(kro_version));
        put(labels::MANAGED_BY, labels::MANAGED_BY_VALUE.into());
        put(labels::INSTANCE_ID, instance.uid.clone());
        put(labels::INSTANCE_NAME, instance.name.clone());
        if !instance.namespace.is_empty() {
            put(labels::INSTANCE_NAMESPACE, instance.namespace.clone());
        }
        put(labels::INSTANCE_GROUP, instance.group.clone());
        put(labels::INSTANCE_VERSION, instance.version.clone());
        put(labels::INSTANCE_KIND, instance.kind.clone());
        put(labels::NODE_ID, node_id.to_string());
        if let Some((index, size)) = collection {
            put(labels::COLLECTION_INDEX, index.to_string());
            put(labels::COLLECTION_SIZE, size.to_string());
        }
        put(labels::APPLYSET_PART_OF, applyset_id.to_string());
    }
    if let Some(child_annotations) = object_mut(meta, "annotations") {
        child_annotations.insert(
            annotations::APPLY_ORDER.to_string(),
            Value::String(apply_order.to_string()),
        );
    }
    if let (Some(fields), Value::Object(done)) = (object.as_object_mut(), std::mem::take(meta)) {
        fields.insert("metadata".into(), Value::Object(done));
    }
}

/// Records a node's `deletionPolicy: Orphan` on its child as `internal.kro.run/deletion-policy`
/// (kro's annotation), so the object itself says it is released, not deleted; nothing for the
/// default `Delete`.
pub fn record_deletion_policy(object: &mut Value, policy: kro_api::DeletionPolicy) {
    if policy != kro_api::DeletionPolicy::Orphan {
        return;
    }
    let Some(meta) = object_mut(object, "metadata") else {
        return;
    };
    let meta = &mut Value::Object(std::mem::take(meta));
    if let Some(child_annotations) = object_mut(meta, "annotations") {
        child_annotations.insert(
            annotations::DELETION_POLICY.to_string(),
            Value::String(annotations::ORPHAN.to_string()),
        );
    }
    if let (Some(fields), Value::Object(done)) = (object.as_object_mut(), std::mem::take(meta)) {
        fields.insert("metadata".into(), Value::Object(done));
    }
}

/// `Kind` for the core group, `Kind.group` otherwise.
fn group_kind(api_version: &str, kind: &str) -> String {
    match api_version.rsplit_once('/') {
        Some((group, _)) => format!("{kind}.{group}"),
        None => kind.to_string(),
    }
}

/// The ApplySet annotations of the parent for the objects about to be applied.
pub fn applyset_parent(instance: &InstanceIdentity, objects: &[DesiredObject]) -> ApplySetParent {
    let gks: BTreeSet<String> = objects
        .iter()
        .map(|desired| group_kind(desired.api_version(), desired.kind()))
        .collect();
    let namespaces: BTreeSet<String> = objects
        .iter()
        .filter_map(|desired| desired.namespace())
        .filter(|ns| *ns != instance.namespace && !ns.is_empty())
        .map(str::to_string)
        .collect();
    ApplySetParent {
        id: instance.applyset_id(),
        contains_group_kinds: gks.into_iter().collect::<Vec<_>>().join(","),
        additional_namespaces: namespaces.into_iter().collect::<Vec<_>>().join(","),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inst() -> InstanceIdentity {
        InstanceIdentity {
            name: "demo".into(),
            namespace: "default".into(),
            uid: "uid-1".into(),
            group: "kro.run".into(),
            version: "v1alpha1".into(),
            kind: "WebApp".into(),
        }
    }

    #[test]
    fn applyset_id_is_sha256_base64url() {
        // sha256("demo.default.WebApp.kro.run"), base64url without padding.
        let id = inst().applyset_id();
        assert!(id.starts_with("applyset-") && id.ends_with("-v1"));
        assert_eq!(id.len(), "applyset-".len() + 43 + "-v1".len());
        let other = InstanceIdentity {
            name: "demo2".into(),
            ..inst()
        };
        assert_ne!(id, other.applyset_id());
    }

    #[test]
    fn labels_children() {
        let mut object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"app": "a"}}});
        label_child(
            &mut object,
            &inst(),
            "set-id",
            "config",
            Some((1, 3)),
            2,
            "v0.1.0+dev",
        );
        let child_labels = &object["metadata"]["labels"];
        assert_eq!(child_labels["app"], "a");
        assert_eq!(child_labels["kro.run/owned"], "true");
        assert_eq!(child_labels["kro.run/kro-version"], "v0.1.0-dev");
        assert_eq!(child_labels["kro.run/node-id"], "config");
        assert_eq!(child_labels["kro.run/collection-index"], "1");
        assert_eq!(child_labels["kro.run/collection-size"], "3");
        assert_eq!(child_labels["kro.run/instance-namespace"], "default");
        assert_eq!(
            object["metadata"]["annotations"]["internal.kro.run/apply-order"],
            "2"
        );
    }
}
