//! ACK resource references (`*Ref: {from: {name, namespace}}`): read the referenced object
//! through the API server and take one field once it is synced.

use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersionKind;

use kro_api::Conditions;

use super::condition::{self, Status};
use super::runtime::{SyncCx, SyncError};
use super::types::AwsResourceReferenceWrapper;

/// Where a reference points: the kind and the JSON path of the value taken from it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RefTarget {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    /// Path of the value in the referenced object, e.g. `["spec", "name"]`.
    pub path: &'static [&'static str],
}

/// Resolves one reference to its value, or a `References` error saying what is missing. A
/// reference into another namespace than `cx.namespace` is refused (`ACK.ReferencesResolved`
/// False, terminal) unless the operator runs with `--enable-cross-namespace`.
pub(crate) async fn resolve(
    cx: &SyncCx<'_>,
    field: &str,
    wrapper: &AwsResourceReferenceWrapper,
    target: RefTarget,
) -> Result<String, SyncError> {
    resolve_with(cx, field, wrapper, target, true).await
}

/// [`resolve`], taking the value as soon as the target has it when `require_synced` is false
/// (ACK's `skip_resource_state_validations`, for references that may form cycles, such as a
/// security group rule naming another group that names this one).
pub(crate) async fn resolve_with(
    cx: &SyncCx<'_>,
    field: &str,
    wrapper: &AwsResourceReferenceWrapper,
    target: RefTarget,
    require_synced: bool,
) -> Result<String, SyncError> {
    let client = &cx.ctx.client;
    let own_namespace = cx.namespace.as_str();
    let from = wrapper.from.as_ref();
    let Some(name) = from.and_then(|f| f.name.clone()).filter(|n| !n.is_empty()) else {
        return Err(SyncError::Terminal(format!(
            "{field}.from.name is empty: name the {} to refer to",
            target.kind
        )));
    };
    let ns = from
        .and_then(|f| f.namespace.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| own_namespace.to_owned());
    if ns != own_namespace && !cx.ctx.opts.enable_cross_namespace {
        return Err(cross_namespace_refused(
            field,
            target.kind,
            &format!("{ns}/{name}"),
            own_namespace,
        ));
    }
    let gvk = GroupVersionKind::gvk(target.group, target.version, target.kind);
    let ar = ApiResource::from_gvk_with_plural(&gvk, target.plural);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
    let missing = |why: &str| {
        SyncError::References(
            Status::Unknown,
            format!("{field}: {} {ns}/{name} {why}", target.kind),
        )
    };
    let obj = match api.get_opt(&name).await {
        Ok(Some(o)) => o,
        Ok(None) => return Err(missing("does not exist yet")),
        Err(kube::Error::Api(s)) if s.code == 404 => {
            return Err(missing("cannot be read: its CRD is not installed"));
        }
        Err(e) => return Err(SyncError::Kube(e)),
    };
    let conditions = Conditions::from_list(obj.data.pointer("/status/conditions"));
    if conditions.is_true(condition::TERMINAL) {
        return Err(SyncError::References(
            Status::False,
            format!(
                "{field}: {} {ns}/{name} is in terminal condition",
                target.kind
            ),
        ));
    }
    if require_synced && !conditions.is_true(condition::RESOURCE_SYNCED) {
        return Err(missing("is not synced yet"));
    }
    let mut cur = &obj.data;
    for p in target.path {
        cur = match cur.get(p) {
            Some(v) => v,
            None => return Err(missing(&format!("has no {} yet", target.path.join(".")))),
        };
    }
    cur.as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| missing(&format!("has no {} yet", target.path.join("."))))
}

/// The error of a reference to `target` (`namespace/name`) from an object in namespace `own`
/// while cross-namespace references are off.
pub(crate) fn cross_namespace_refused(
    field: &str,
    kind: &str,
    target: &str,
    own: &str,
) -> SyncError {
    SyncError::References(
        Status::False,
        format!(
            "{field}.from.namespace: cross-namespace references are not allowed: {kind} {target} \
             is outside this object's namespace {own}; refer to a {kind} in {own} (omit the \
             namespace), or ask the operator's administrator to start kro run with \
             --enable-cross-namespace"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cross_namespace_reference_is_terminal_and_names_field_and_flag() {
        let e = cross_namespace_refused(
            "spec.dbSubnetGroupRef",
            "DBSubnetGroup",
            "prod/subnets",
            "team-a",
        );
        let SyncError::References(status, msg) = &e else {
            panic!("want a References error, got {e:?}");
        };
        assert_eq!(*status, Status::False);
        assert!(
            msg.starts_with("spec.dbSubnetGroupRef.from.namespace: "),
            "{msg}"
        );
        assert!(msg.contains("--enable-cross-namespace"), "{msg}");
        assert!(
            msg.contains("DBSubnetGroup prod/subnets is outside"),
            "{msg}"
        );
        assert!(msg.contains("namespace team-a"), "{msg}");
    }
}
