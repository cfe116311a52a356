//! Label, annotation, finalizer and field-manager keys kro writes on RGDs, generated CRDs,
//! instances and managed resources, with their fixed values.

/// Prefix of every public kro label and annotation (`kro.run/`).
pub const KRO_PREFIX: &str = "kro.run/";
/// Prefix of kro's internal labels and annotations (`internal.kro.run/`).
pub const INTERNAL_KRO_PREFIX: &str = "internal.kro.run/";
/// Label and annotation key prefixes that RGD templates may not set ("reserved for internal use").
pub const RESERVED_PREFIXES: [&str; 2] = [KRO_PREFIX, INTERNAL_KRO_PREFIX];

/// API group of kro's internal kinds (GraphRevision).
pub const INTERNAL_GROUP: &str = "internal.kro.run";

/// Finalizer kro puts on RGDs, GraphRevisions and instances.
pub const FINALIZER: &str = "kro.run/finalizer";

/// Field managers kro uses for server-side apply.
pub mod field_managers {
    /// Applies managed resources (children); also [`crate::FIELD_MANAGER`].
    pub const APPLYSET: &str = "kro.run/applyset";
    /// Applies the ApplySet parent metadata (labels and annotations) on the instance.
    pub const APPLYSET_PARENT: &str = "kro.run/applyset-parent";
    /// Applies the finalizer and ownership labels on the instance.
    pub const LABELLER: &str = "kro.run/labeller";
}

/// Label keys kro sets.
pub mod labels {
    /// `"true"` on everything kro owns: generated CRDs, GraphRevisions, instances, children.
    pub const OWNED: &str = "kro.run/owned";
    /// The kro version that wrote the object (`+` replaced by `-` to stay a valid label value).
    pub const KRO_VERSION: &str = "kro.run/kro-version";
    /// UID of the RGD (on generated CRDs and instances).
    pub const RESOURCE_GRAPH_DEFINITION_ID: &str = "kro.run/resource-graph-definition-id";
    /// Name of the RGD (on generated CRDs, GraphRevisions and instances).
    pub const RESOURCE_GRAPH_DEFINITION_NAME: &str = "kro.run/resource-graph-definition-name";
    /// Hash of the RGD spec a GraphRevision snapshots.
    pub const GRAPH_REVISION_HASH: &str = "kro.run/graph-revision-hash";
    /// UID of the instance that owns a managed resource.
    pub const INSTANCE_ID: &str = "kro.run/instance-id";
    /// Name of the instance that owns a managed resource.
    pub const INSTANCE_NAME: &str = "kro.run/instance-name";
    /// Namespace of the owning instance (only for namespaced instances).
    pub const INSTANCE_NAMESPACE: &str = "kro.run/instance-namespace";
    /// API group of the owning instance.
    pub const INSTANCE_GROUP: &str = "kro.run/instance-group";
    /// API version of the owning instance.
    pub const INSTANCE_VERSION: &str = "kro.run/instance-version";
    /// Kind of the owning instance.
    pub const INSTANCE_KIND: &str = "kro.run/instance-kind";
    /// The `spec.resources[].id` a managed resource was rendered from.
    pub const NODE_ID: &str = "kro.run/node-id";
    /// Position of a forEach item in its collection.
    pub const COLLECTION_INDEX: &str = "kro.run/collection-index";
    /// Size of the forEach collection an item belongs to.
    pub const COLLECTION_SIZE: &str = "kro.run/collection-size";
    /// Standard managed-by label; kro sets it to [`MANAGED_BY_VALUE`] and reads it as ownership
    /// when `kro.run/owned` is absent.
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    /// Value of [`MANAGED_BY`] on kro's children.
    pub const MANAGED_BY_VALUE: &str = "kro";
    /// Value of [`OWNED`] on kro-owned objects.
    pub const OWNED_VALUE: &str = "true";
    /// ApplySet id on the parent (the instance):
    /// `applyset-<base64url-nopad(sha256("<name>.<namespace>.<kind>.<group>"))>-v1`.
    pub const APPLYSET_ID: &str = "applyset.kubernetes.io/id";
    /// ApplySet membership label on every applied child; its value is the parent's ApplySet id.
    pub const APPLYSET_PART_OF: &str = "applyset.kubernetes.io/part-of";
}

/// Annotation keys kro reads or sets.
pub mod annotations {
    /// On an RGD: `"true"` lets kro apply instance-CRD changes the compatibility check flags as
    /// breaking.
    pub const ALLOW_BREAKING_CHANGES: &str = "kro.run/allow-breaking-changes";
    /// On an instance: [`RECONCILE_SUSPENDED`] (or legacy [`RECONCILE_DISABLED`]), compared
    /// case-insensitively, stops reconciliation of its resources.
    pub const RECONCILE: &str = "kro.run/reconcile";
    /// Value of [`RECONCILE`] that suspends reconciliation.
    pub const RECONCILE_SUSPENDED: &str = "suspended";
    /// Legacy value of [`RECONCILE`] that also suspends reconciliation.
    pub const RECONCILE_DISABLED: &str = "disabled";
    /// On a generated CRD printed by the CLI: the CLI version.
    pub const CLI_VERSION: &str = "kro.run/cli-version";
    /// ApplySet tooling on the parent: `kro/<version>`.
    pub const APPLYSET_TOOLING: &str = "applyset.kubernetes.io/tooling";
    /// ApplySet group-kinds on the parent: sorted, comma-separated `Kind` or `Kind.group`.
    pub const APPLYSET_CONTAINS_GROUP_KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";
    /// ApplySet namespaces on the parent: sorted, comma-separated, without the parent's own.
    pub const APPLYSET_ADDITIONAL_NAMESPACES: &str = "applyset.kubernetes.io/additional-namespaces";
    /// Hash of the parent's ApplySet inventory:
    /// `sha256:` + base64url-nopad(sha256(id ␀ group-kinds ␀ namespaces)).
    pub const APPLYSET_INVENTORY_HASH: &str = "internal.kro.run/applyset-inventory-hash";
    /// Deletion wave of a managed resource (integer ≥ 1; higher waves are deleted first).
    pub const APPLY_ORDER: &str = "internal.kro.run/apply-order";
    /// On a managed resource whose RGD resource says `deletionPolicy: Orphan`: [`ORPHAN`]. Such a
    /// resource is released (kro's labels removed), not deleted, on instance deletion and prune.
    pub const DELETION_POLICY: &str = "internal.kro.run/deletion-policy";
    /// Value of [`DELETION_POLICY`] on a resource kro orphans.
    pub const ORPHAN: &str = "Orphan";
    /// On an object kro took over instead of creating it (`adoptionPolicy: AdoptOrCreate`):
    /// [`ADOPTED_VALUE`]. An adopted object is released, never deleted, when the instance goes.
    pub const ADOPTED: &str = "internal.kro.run/adopted";
    /// Value of [`ADOPTED`].
    pub const ADOPTED_VALUE: &str = "true";
}

/// Whether a label or annotation key uses a prefix reserved for kro (`kro.run/` or
/// `internal.kro.run/`).
pub fn is_reserved_key(key: &str) -> bool {
    RESERVED_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// `version` as a label value: kro replaces `+` (build metadata) with `-`.
pub fn version_label_value(version: &str) -> String {
    version.replace('+', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_keys() {
        for (key, reserved) in [
            ("kro.run/owned", true),
            ("internal.kro.run/apply-order", true),
            ("app.kubernetes.io/name", false),
            ("example.kro.run/x", false),
            ("kro.run", false),
        ] {
            assert_eq!(is_reserved_key(key), reserved, "{key}");
        }
    }

    #[test]
    fn version_label() {
        assert_eq!(version_label_value("v0.9.3+abc"), "v0.9.3-abc");
        assert_eq!(version_label_value("v0.9.3"), "v0.9.3");
    }
}
