//! Namespace confinement: what a namespaced instance may reach in the `instance` and `any`
//! modes (children, cluster-scoped kinds, externalRefs, Secret reads).
//!
//! In `instance` mode an RGD whose resources name another namespace literally, or use a
//! cluster-scoped kind that is not allowlisted, is refused when it is compiled
//! ([`accept_rgd`]); and every plan is checked before anything of it is read or written
//! ([`InstanceRun::confine`]): children outside the instance's namespace, cluster-scoped
//! children and externalRefs of kinds not allowlisted, and externalRefs in another namespace
//! are taken out of the plan, pruning is held back, and `ResourcesReady` (and `Ready`) say
//! what was refused, with reason `NamespaceConfinement`. An externalRef by selector without a
//! namespace reads the instance's namespace, not every namespace. `any` mode changes nothing.

use std::collections::BTreeMap;

use kro_api::condition::types;
use kro_api::{Condition, ConditionStatus, Conditions, InstanceState};
use kro_graph::{CompileErrors, CompiledGraph};
use kro_runtime::Plan;
use kube::runtime::events::EventType;

use super::InstanceRun;
use super::status::publish;
use crate::options::{GroupKinds, NamespaceConfinement, Options};

/// The reason of `ResourcesReady=False` when the mode refused part of the plan.
pub(crate) const REASON: &str = "NamespaceConfinement";

/// The compiled RGD, or, in `instance` mode, the errors of every resource that reaches out of
/// the instance's namespace in a way visible in the RGD itself.
pub(crate) fn accept_rgd(
    graph: CompiledGraph,
    opts: &Options,
) -> Result<CompiledGraph, CompileErrors> {
    if opts.namespace_confinement != NamespaceConfinement::Instance {
        return Ok(graph);
    }
    let allowed = |api_version: &str, kind: &str| {
        opts.allowed_cluster_scoped_kinds
            .contains(api_version, kind)
    };
    let errors = kro_graph::confine::refusals(&graph, &allowed);
    if errors.is_empty() {
        return Ok(graph);
    }
    Err(CompileErrors {
        errors,
        warnings: graph.warnings.clone(),
    })
}

/// Whether the kinds of a plan are namespaced, by `(apiVersion, kind)`.
type Scopes = BTreeMap<(String, String), bool>;

/// Takes out of `plan` what an instance in `namespace` may not reach, and returns why, one
/// message per refused object. Kinds missing from `scopes` count as namespaced.
fn confine_plan(
    plan: &mut Plan,
    namespace: &str,
    scopes: &Scopes,
    allowed: &GroupKinds,
) -> Vec<String> {
    let namespaced = |api_version: &str, kind: &str| {
        scopes
            .get(&(api_version.to_string(), kind.to_string()))
            .copied()
            .unwrap_or(true)
    };
    let mut refused = Vec::new();
    plan.apply.retain(|desired| {
        let (api_version, kind) = (desired.api_version(), desired.kind());
        let why = if namespaced(api_version, kind) {
            let other = desired.namespace().unwrap_or_default();
            (other != namespace).then(|| {
                format!(
                    "{}: {kind} {other}/{} is outside the instance's namespace {namespace:?}",
                    desired.node_id,
                    desired.name()
                )
            })
        } else {
            (!allowed.contains(api_version, kind)).then(|| {
                format!(
                    "{}: {kind} {} is cluster-scoped and {} is not in --allowed-cluster-scoped-kinds",
                    desired.node_id,
                    desired.name(),
                    kind_dot_group(api_version, kind)
                )
            })
        };
        refused.extend(why.clone());
        why.is_none()
    });
    plan.external_reads.retain_mut(|read| {
        let (api_version, kind) = (read.api_version.as_str(), read.kind.as_str());
        let target = read.name.as_deref().unwrap_or("(by selector)");
        let why = if namespaced(api_version, kind) {
            match read.namespace.as_deref() {
                None => {
                    read.namespace = Some(namespace.to_string());
                    None
                }
                Some(other) if other != namespace => Some(format!(
                    "{}: externalRef {kind} {other}/{target} is outside the instance's namespace {namespace:?}",
                    read.node_id
                )),
                Some(_) => None,
            }
        } else {
            (!allowed.contains(api_version, kind)).then(|| {
                format!(
                    "{}: externalRef {kind} {target} is cluster-scoped and {} is not in --allowed-cluster-scoped-kinds",
                    read.node_id,
                    kind_dot_group(api_version, kind)
                )
            })
        };
        refused.extend(why.clone());
        why.is_none()
    });
    if !refused.is_empty() {
        refuse(plan, &refused);
    }
    refused
}

/// What the instance reports when part of its plan was refused: nothing pruned, state
/// `ERROR`, `ResourcesReady` and `Ready` False with reason `NamespaceConfinement`.
fn refuse(plan: &mut Plan, refused: &[String]) {
    plan.prune_allowed = false;
    plan.state = InstanceState::Error;
    let message = message(refused);
    let mut saw_resources_ready = false;
    for condition in plan
        .conditions
        .iter_mut()
        .filter(|c| c.type_ == types::RESOURCES_READY || c.type_ == types::READY)
    {
        saw_resources_ready |= condition.type_ == types::RESOURCES_READY;
        *condition = Condition::new(
            condition.type_.clone(),
            ConditionStatus::False,
            REASON,
            message.clone(),
        );
    }
    if !saw_resources_ready {
        plan.conditions.push(Condition::new(
            types::RESOURCES_READY,
            ConditionStatus::False,
            REASON,
            message,
        ));
    }
}

/// The condition message: what was refused and by which setting.
fn message(refused: &[String]) -> String {
    format!(
        "refused by --namespace-confinement=instance (a namespaced instance reaches only its own namespace): {}",
        refused.join("; ")
    )
}

/// `Kind.group` as kubectl and `--allowed-cluster-scoped-kinds` spell it.
fn kind_dot_group(api_version: &str, kind: &str) -> String {
    match api_version.rsplit_once('/') {
        Some((group, _version)) => format!("{kind}.{group}"),
        None => kind.to_string(),
    }
}

impl InstanceRun<'_> {
    /// In `instance` mode, takes out of `plan` what this instance may not reach before it is
    /// observed or applied (see the module doc); a Warning event says so the first time.
    pub(super) async fn confine(&mut self, plan: &mut Plan) {
        let opts = &self.ctx.shared.opts;
        if opts.namespace_confinement != NamespaceConfinement::Instance
            || !self.ctx.graph.instance.namespaced
            || self.identity.namespace.is_empty()
        {
            return;
        }
        let mut scopes = Scopes::new();
        let kinds = plan
            .apply
            .iter()
            .map(|desired| (desired.api_version(), desired.kind()))
            .chain(
                plan.external_reads
                    .iter()
                    .map(|read| (read.api_version.as_str(), read.kind.as_str())),
            );
        for (api_version, kind) in kinds {
            let key = (api_version.to_string(), kind.to_string());
            if scopes.contains_key(&key) {
                continue;
            }
            let namespaced = match self.ctx.shared.resolve(api_version, kind).await {
                Ok(resolved) => resolved.namespaced,
                Err(_) => self
                    .ctx
                    .graph
                    .nodes
                    .iter()
                    .find(|node| node.api_version == api_version && node.object_kind == kind)
                    .is_none_or(|node| node.namespaced),
            };
            scopes.insert(key, namespaced);
        }
        let refused = confine_plan(
            plan,
            &self.identity.namespace,
            &scopes,
            &opts.allowed_cluster_scoped_kinds,
        );
        if refused.is_empty() || self.passes > 1 {
            return;
        }
        let message = message(&refused);
        let reported = Conditions::from_status(&self.live.data)
            .get(types::RESOURCES_READY)
            .is_some_and(|c| {
                c.reason.as_deref() == Some(REASON) && c.message.as_deref() == Some(&message)
            });
        if !reported {
            tracing::warn!(instance = %self.identity.name, namespace = %self.identity.namespace, "{message}");
            publish(self.ctx, &self.live, EventType::Warning, REASON, message).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::parse_group_kinds;
    use kro_runtime::{DesiredObject, ExternalRead};
    use serde_json::json;

    /// A plan as the runtime makes it (so fields added to `Plan` later need nothing here),
    /// with these objects and reads, everything ready.
    fn plan(apply: Vec<DesiredObject>, external_reads: Vec<ExternalRead>) -> Plan {
        let mut plan = empty_plan();
        plan.apply = apply;
        plan.external_reads = external_reads;
        plan.prune_allowed = true;
        plan.state = InstanceState::Active;
        plan.conditions = vec![
            Condition::new(
                types::RESOURCES_READY,
                ConditionStatus::True,
                "AllResourcesReady",
                "",
            ),
            Condition::new(types::READY, ConditionStatus::True, "Ready", ""),
        ];
        plan
    }

    fn empty_plan() -> Plan {
        kro_runtime::evaluate(
            &kro_graph::compile(
                &json!({"spec": {"schema": {"apiVersion": "v1alpha1", "kind": "T", "spec": {}},
                    "resources": []}}),
                &kro_graph::NoSchemas,
                &kro_graph::CompileOptions::default(),
            )
            .expect("compiles"),
            &json!({"apiVersion": "kro.run/v1alpha1", "kind": "T",
                "metadata": {"name": "t", "namespace": "team-a", "uid": "u"}, "spec": {}}),
            &kro_runtime::Observed::new(),
        )
    }

    fn child(node: &str, api_version: &str, kind: &str, namespace: Option<&str>) -> DesiredObject {
        let mut metadata = json!({"name": format!("{node}-obj")});
        if let Some(namespace) = namespace {
            metadata["namespace"] = json!(namespace);
        }
        DesiredObject {
            node_id: node.into(),
            collection_index: None,
            object: json!({"apiVersion": api_version, "kind": kind, "metadata": metadata}),
        }
    }

    fn read(node: &str, namespace: Option<&str>, name: Option<&str>) -> ExternalRead {
        ExternalRead {
            node_id: node.into(),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: namespace.map(str::to_string),
            name: name.map(str::to_string),
            selector: name.is_none().then(|| json!({"matchLabels": {"a": "b"}})),
        }
    }

    fn scopes() -> Scopes {
        [
            (("v1".into(), "ConfigMap".into()), true),
            (("v1".into(), "Namespace".into()), false),
            (
                ("rbac.authorization.k8s.io/v1".into(), "ClusterRole".into()),
                false,
            ),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn children_outside_the_namespace_and_cluster_scoped_kinds_are_taken_out() {
        let mut plan = plan(
            vec![
                child("mine", "v1", "ConfigMap", Some("team-a")),
                child("victim", "v1", "ConfigMap", Some("other")),
                child("tenantNs", "v1", "Namespace", None),
                child("role", "rbac.authorization.k8s.io/v1", "ClusterRole", None),
            ],
            Vec::new(),
        );
        let allowed = parse_group_kinds("Namespace").expect("valid");
        let refused = confine_plan(&mut plan, "team-a", &scopes(), &allowed);
        let kept: Vec<_> = plan.apply.iter().map(|d| d.node_id.as_str()).collect();
        assert_eq!(kept, ["mine", "tenantNs"]);
        assert_eq!(
            refused,
            [
                "victim: ConfigMap other/victim-obj is outside the instance's namespace \"team-a\"",
                "role: ClusterRole role-obj is cluster-scoped and ClusterRole.rbac.authorization.k8s.io is not in --allowed-cluster-scoped-kinds",
            ]
        );
        assert!(!plan.prune_allowed, "nothing is pruned while refused");
        assert_eq!(plan.state, InstanceState::Error);
        for condition in &plan.conditions {
            assert_eq!(condition.status, ConditionStatus::False, "{condition:?}");
            assert_eq!(condition.reason.as_deref(), Some(REASON));
            let text = condition.message.as_deref().unwrap_or_default();
            assert!(
                text.contains("--namespace-confinement=instance")
                    && text.contains("ConfigMap other/victim-obj"),
                "{text}"
            );
        }
    }

    #[test]
    fn external_refs_stay_in_the_namespace_and_selectors_default_to_it() {
        let mut plan = plan(
            Vec::new(),
            vec![
                read("byName", Some("team-a"), Some("settings")),
                read("bySelector", None, None),
                read("elsewhere", Some("platform"), Some("settings")),
            ],
        );
        let refused = confine_plan(&mut plan, "team-a", &scopes(), &GroupKinds::default());
        assert_eq!(
            refused,
            [
                "elsewhere: externalRef ConfigMap platform/settings is outside the instance's namespace \"team-a\""
            ]
        );
        let reads: Vec<_> = plan
            .external_reads
            .iter()
            .map(|r| (r.node_id.as_str(), r.namespace.as_deref()))
            .collect();
        assert_eq!(
            reads,
            [("byName", Some("team-a")), ("bySelector", Some("team-a"))]
        );
    }

    #[test]
    fn a_confined_plan_is_left_alone() {
        let mut plan = plan(
            vec![child("mine", "v1", "ConfigMap", Some("team-a"))],
            vec![read("byName", Some("team-a"), Some("settings"))],
        );
        let before = plan.clone();
        assert!(confine_plan(&mut plan, "team-a", &scopes(), &GroupKinds::default()).is_empty());
        assert_eq!(plan, before);
    }

    #[test]
    fn rgds_are_refused_only_in_instance_mode() {
        let graph = kro_graph::compile(
            &json!({"spec": {
                "schema": {"apiVersion": "v1alpha1", "kind": "T", "spec": {}},
                "resources": [{"id": "pinned", "template": {"apiVersion": "v1",
                    "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "other"}}}]
            }}),
            &kro_graph::NoSchemas,
            &kro_graph::CompileOptions::default(),
        )
        .expect("compiles");
        assert!(accept_rgd(graph.clone(), &Options::default()).is_ok());
        let confined = Options {
            namespace_confinement: NamespaceConfinement::Instance,
            ..Options::default()
        };
        let errors = accept_rgd(graph, &confined).expect_err("refused");
        let text = errors.to_string();
        assert!(
            text.contains("\"pinned\"") && text.contains("metadata.namespace"),
            "{text}"
        );
    }
}
