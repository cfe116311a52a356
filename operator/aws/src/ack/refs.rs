//! ACK resource references (`*Ref: {from: {name, namespace}}`): read the referenced object
//! through the API server and take one field once it is synced.

use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersionKind;

use kro_api::Conditions;

use super::condition::{self, Status};
use super::runtime::SyncError;
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

/// Resolves one reference to its value, or a `References` error saying what is missing.
pub(crate) async fn resolve(
    client: &kube::Client,
    own_namespace: &str,
    field: &str,
    wrapper: &AwsResourceReferenceWrapper,
    target: RefTarget,
) -> Result<String, SyncError> {
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
    if !conditions.is_true(condition::RESOURCE_SYNCED) {
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
