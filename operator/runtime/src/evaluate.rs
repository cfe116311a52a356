//! Per-instance evaluation: walks the compiled graph in topological order against the instance
//! and the observed objects, and returns the plan (kro.md 4.3-4.6, 5.3-5.5).

use std::collections::{BTreeMap, BTreeSet};

use kro_api::condition::{messages, reasons, types};
use kro_api::{Condition, ConditionStatus, InstanceState, NodeState};
use kro_cel::{Activation, CelError, CelValue, Rendered};
use kro_graph::{
    CompiledExpr, CompiledGraph, CompiledValue, Node, NodeKind, TemplateField, TemplatePart,
};
use serde_json::{Map, Value};

use crate::limits::{
    DEFAULT_MAX_DESIRED_BYTES, DEFAULT_MAX_OBJECTS, EvaluationDeadline, Limits, json_size,
};
use crate::metadata::{InstanceIdentity, applyset_parent, label_child, record_deletion_policy};
use crate::plan::{
    DesiredObject, ExternalRead, NodeStatus, Observed, ObservedNode, Plan, Stopped, StoppedBy,
};

/// Runtime limits and the version written on children.
#[derive(Debug, Clone)]
pub struct Options {
    /// `kro.run/kro-version` label value.
    pub kro_version: String,
    /// `--rgd-max-collection-size` (default 1000).
    pub max_collection_size: usize,
    /// `--instance-max-desired-bytes`: the compact JSON bytes of every desired object of the
    /// instance together.
    pub max_desired_bytes: u64,
    /// `--instance-max-objects`: desired objects of the instance, every node together.
    pub max_objects: usize,
    /// When the evaluation must stop (`--instance-evaluation-timeout`); `None`: no deadline.
    pub deadline: Option<EvaluationDeadline>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            kro_version: env!("CARGO_PKG_VERSION").to_string(),
            max_collection_size: 1000,
            max_desired_bytes: DEFAULT_MAX_DESIRED_BYTES,
            max_objects: DEFAULT_MAX_OBJECTS,
            deadline: None,
        }
    }
}

/// Why a value could not be computed.
enum Stop {
    /// Data not there yet: wait and retry.
    Pending(String),
    /// A real error.
    Failed(String),
    /// The instance's budget of desired objects is spent: the whole evaluation stops.
    OverBudget(String),
}

/// The node's outcome for a stop, or the budget message that stops the whole evaluation.
fn settle(stop: Stop) -> Result<Outcome, String> {
    match stop {
        Stop::Pending(message) => Ok(waiting(message)),
        Stop::Failed(message) => Ok(error(message)),
        Stop::OverBudget(message) => Err(message),
    }
}

impl From<CelError> for Stop {
    fn from(e: CelError) -> Self {
        if e.is_data_pending() {
            Stop::Pending(e.to_string())
        } else {
            Stop::Failed(e.to_string())
        }
    }
}

struct Outcome {
    state: NodeState,
    ready: bool,
    skipped: bool,
    message: Option<String>,
}

/// Evaluates with default options.
pub fn evaluate(graph: &CompiledGraph, instance: &Value, observed: &Observed) -> Plan {
    evaluate_with(graph, instance, observed, &Options::default())
}

fn instance_identity(graph: &CompiledGraph, instance: &Value) -> InstanceIdentity {
    let string_at = |pointer: &str| {
        instance
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    InstanceIdentity {
        name: string_at("/metadata/name"),
        namespace: if graph.instance.namespaced {
            string_at("/metadata/namespace")
        } else {
            String::new()
        },
        uid: string_at("/metadata/uid"),
        group: graph.instance.group.clone(),
        version: graph.instance.version.clone(),
        kind: graph.instance.kind.clone(),
    }
}

/// Evaluates one instance.
pub fn evaluate_with(
    graph: &CompiledGraph,
    instance: &Value,
    observed: &Observed,
    options: &Options,
) -> Plan {
    let identity = instance_identity(graph, instance);
    let mut schema = instance.clone();
    if let Some(fields) = schema.as_object_mut() {
        fields.remove("status");
    }
    // Variables visible to expressions: `schema` and every node with a value, each converted
    // to CEL once.
    let mut vars = Activation::new();
    vars.bind("schema", CelValue::from_json(&schema));

    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut apply = Vec::new();
    let mut external_reads = Vec::new();
    let mut pending = false;
    let mut failed = false;
    let mut limits = Limits::start(options);
    let mut stopped = None;

    for node in &graph.nodes {
        if limits.expired() {
            stopped = Some(limits.deadline_stop(&node.id));
            break;
        }
        let evaluated = evaluate_node(
            node,
            &identity,
            observed,
            &mut limits,
            &mut vars,
            &outcomes,
            &mut apply,
            &mut external_reads,
        );
        // An expression stopped by the deadline may have been turned into a value by `||` or
        // `&&`: the deadline stops the node whatever its outcome says.
        let outcome = match evaluated {
            _ if limits.expired() => {
                stopped = Some(limits.deadline_stop(&node.id));
                break;
            }
            Ok(outcome) => outcome,
            Err(message) => {
                stopped = Some(Stopped {
                    by: StoppedBy::Budget,
                    at: node.id.clone(),
                    message,
                });
                break;
            }
        };
        match outcome.state {
            NodeState::Error => failed = true,
            NodeState::InProgress => pending = true,
            _ => {}
        }
        outcomes.insert(node.id.clone(), outcome);
    }
    if let Some(stopped) = stopped {
        return stopped_plan(graph, instance, &identity, &outcomes, stopped);
    }

    let nodes: Vec<NodeStatus> = graph
        .nodes
        .iter()
        .filter_map(|node| {
            outcomes.get(&node.id).map(|outcome| NodeStatus {
                id: node.id.clone(),
                state: outcome.state,
                ready: outcome.ready,
                message: outcome.message.clone(),
            })
        })
        .collect();

    // Projected status fields; those whose data is pending are left out.
    let mut status = Value::Object(Map::new());
    for field in &graph.status_fields {
        if let Ok(Some(value)) = resolve_value(&field.value, &vars) {
            set_path(&mut status, field, value);
        }
    }

    let generation = instance
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let mut conditions = conditions(&nodes, generation);
    if !graph.status_conditions.is_empty() {
        let (author, author_failed, author_pending) =
            author_conditions(graph, &vars, &conditions, instance, generation);
        conditions = author;
        failed |= author_failed;
        pending |= author_pending;
    }
    if limits.expired() {
        let stopped = limits.deadline_stop("status");
        return stopped_plan(graph, instance, &identity, &outcomes, stopped);
    }
    let state = if failed {
        InstanceState::Error
    } else if nodes.iter().all(|node| node.ready) {
        InstanceState::Active
    } else {
        InstanceState::InProgress
    };
    if let Some(fields) = status.as_object_mut() {
        fields.insert("state".into(), Value::String(state.as_str().into()));
        fields.insert(
            "conditions".into(),
            serde_json::to_value(&conditions).unwrap_or(Value::Array(Vec::new())),
        );
    }

    Plan {
        applyset: applyset_parent(&identity, &apply),
        apply,
        external_reads,
        nodes,
        state,
        conditions,
        status,
        prune_allowed: !pending && !failed,
        requeue: pending,
        stopped: None,
    }
}

/// The plan of an evaluation that stopped before the end: nothing to apply or read, no prune,
/// state `ERROR` with the reason on the node it stopped at (or in `Ready` when it stopped in
/// the status), and the status fields projected before kept as they were.
fn stopped_plan(
    graph: &CompiledGraph,
    instance: &Value,
    identity: &InstanceIdentity,
    outcomes: &BTreeMap<String, Outcome>,
    stopped: Stopped,
) -> Plan {
    let mut nodes: Vec<NodeStatus> = graph
        .nodes
        .iter()
        .filter_map(|node| {
            outcomes.get(&node.id).map(|outcome| NodeStatus {
                id: node.id.clone(),
                state: outcome.state,
                ready: outcome.ready,
                message: outcome.message.clone(),
            })
        })
        .collect();
    nodes.push(NodeStatus {
        id: stopped.at.clone(),
        state: NodeState::Error,
        ready: false,
        message: Some(stopped.message.clone()),
    });
    let generation = instance
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let conditions = conditions(&nodes, generation);
    nodes.retain(|node| outcomes.contains_key(&node.id) || graph.node(&node.id).is_some());
    let mut status = instance
        .get("status")
        .filter(|status| status.is_object())
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    if let Some(fields) = status.as_object_mut() {
        fields.insert(
            "state".into(),
            Value::String(InstanceState::Error.as_str().into()),
        );
        fields.insert(
            "conditions".into(),
            serde_json::to_value(&conditions).unwrap_or(Value::Array(Vec::new())),
        );
    }
    Plan {
        applyset: applyset_parent(identity, &[]),
        apply: Vec::new(),
        external_reads: Vec::new(),
        nodes,
        state: InstanceState::Error,
        conditions,
        status,
        prune_allowed: false,
        requeue: false,
        stopped: Some(stopped),
    }
}

/// Readiness of node `id` given its objects as just applied or read (kro evaluates readyWhen on
/// the apply results too): `SYNCED` or `WAITING_FOR_READINESS` (or `ERROR` when a readyWhen
/// fails to evaluate). `None` for an unknown id.
pub fn readiness_of(graph: &CompiledGraph, id: &str, objects: &[Value]) -> Option<NodeStatus> {
    let node = graph.node(id)?;
    let values: Vec<CelValue> = objects.iter().map(|object| to_cel(node, object)).collect();
    let var = if node.kind.is_list() { "each" } else { id };
    let outcome = readiness(node, var, values);
    Some(NodeStatus {
        id: id.to_string(),
        state: outcome.state,
        ready: outcome.ready,
        message: outcome.message,
    })
}

fn waiting(message: String) -> Outcome {
    Outcome {
        state: NodeState::InProgress,
        ready: false,
        skipped: false,
        message: Some(message),
    }
}

fn error(message: String) -> Outcome {
    Outcome {
        state: NodeState::Error,
        ready: false,
        skipped: false,
        message: Some(message),
    }
}

/// One node's outcome; `Err` with the message when the instance's budget of desired objects
/// is spent (the whole evaluation stops).
#[allow(clippy::too_many_arguments)]
fn evaluate_node(
    node: &Node,
    identity: &InstanceIdentity,
    observed: &Observed,
    limits: &mut Limits<'_>,
    vars: &mut Activation,
    outcomes: &BTreeMap<String, Outcome>,
    apply: &mut Vec<DesiredObject>,
    external_reads: &mut Vec<ExternalRead>,
) -> Result<Outcome, String> {
    // Exclusion is contagious.
    if let Some(dependency) = node.dependencies.iter().find(|dependency| {
        outcomes
            .get(*dependency)
            .is_some_and(|outcome| outcome.skipped)
    }) {
        return Ok(Outcome {
            state: NodeState::Skipped,
            ready: true,
            skipped: true,
            message: Some(format!("dependency {dependency:?} is not included")),
        });
    }

    // includeWhen: waits for the resources it reads, then all must be true.
    for cond in &node.include_when {
        if let Some(dependency) = not_ready(cond, outcomes) {
            return Ok(waiting(format!(
                "includeWhen waits for {dependency:?} to be ready: {}",
                cond.source()
            )));
        }
        match eval_bool(cond, vars) {
            Ok(true) => {}
            Ok(false) => {
                return Ok(Outcome {
                    state: NodeState::Skipped,
                    ready: true,
                    skipped: true,
                    message: Some(format!("includeWhen is false: {}", cond.source())),
                });
            }
            Err(stop) => return settle(stop),
        }
    }

    if let Some(dependency) = node.dependencies.iter().find(|dependency| {
        !outcomes
            .get(*dependency)
            .is_some_and(|outcome| outcome.ready)
    }) {
        return Ok(waiting(format!(
            "waiting for dependency {dependency:?} to be ready"
        )));
    }

    match node.kind {
        NodeKind::External | NodeKind::ExternalCollection => Ok(evaluate_external(
            node,
            identity,
            observed,
            vars,
            external_reads,
        )),
        NodeKind::Resource => {
            limits.admit(node, 1)?;
            let mut object = match resolve_template(node, vars, Some((&*limits, None))) {
                Ok(object) => object,
                Err(stop) => return settle(stop),
            };
            default_namespace(node, &mut object, identity);
            label_child(
                &mut object,
                identity,
                &identity.applyset_id(),
                &node.id,
                None,
                node.apply_order,
                &limits.options.kro_version,
            );
            record_deletion_policy(&mut object, node.deletion_policy);
            limits.charge(&object, None)?;
            apply.push(DesiredObject {
                node_id: node.id.clone(),
                collection_index: None,
                object,
            });
            Ok(match observed.nodes.get(&node.id) {
                Some(ObservedNode::Object(observed_object)) => {
                    let value = to_cel(node, observed_object);
                    vars.bind(node.id.clone(), value.clone());
                    readiness(node, &node.id, [value])
                }
                _ => Outcome {
                    state: NodeState::WaitingForReadiness,
                    ready: false,
                    skipped: false,
                    message: Some("waiting for the object to be created".into()),
                },
            })
        }
        NodeKind::Collection => evaluate_collection(node, identity, observed, limits, vars, apply),
    }
}

fn not_ready(expr: &CompiledExpr, outcomes: &BTreeMap<String, Outcome>) -> Option<String> {
    expr.references()
        .identifiers
        .iter()
        .find(|identifier| {
            outcomes
                .get(*identifier)
                .is_some_and(|outcome| !outcome.ready)
        })
        .cloned()
}

fn eval(expr: &CompiledExpr, vars: &Activation) -> Result<Rendered, Stop> {
    Ok(expr.program().eval_json(vars)?)
}

fn eval_bool(expr: &CompiledExpr, vars: &Activation) -> Result<bool, Stop> {
    Ok(expr.program().eval_bool(vars)?)
}

/// `Ok(None)` means the field is omitted.
fn resolve_value(value: &CompiledValue, vars: &Activation) -> Result<Option<Value>, Stop> {
    match value {
        CompiledValue::Expr(expr) => match eval(expr, vars)? {
            Rendered::Value(resolved) => Ok(Some(resolved)),
            Rendered::Omit => Ok(None),
        },
        CompiledValue::Template(parts) => {
            let mut rendered = String::new();
            for part in parts {
                match part {
                    TemplatePart::Text(text) => rendered.push_str(text),
                    TemplatePart::Expr(expr) => match eval(expr, vars)? {
                        Rendered::Value(Value::String(string)) => rendered.push_str(&string),
                        Rendered::Omit => {
                            return Err(Stop::Failed(format!(
                                "expression {:?}: omit() cannot be used inside a string template",
                                expr.source()
                            )));
                        }
                        Rendered::Value(other) => {
                            return Err(Stop::Failed(format!(
                                "expression {:?} in a string template must return a string, got {}; wrap it in string()",
                                expr.source(),
                                kro_cel::describe::describe_json(&other)
                            )));
                        }
                    },
                }
            }
            Ok(Some(Value::String(rendered)))
        }
    }
}

fn set_path(root: &mut Value, field: &TemplateField, value: Value) {
    let mut cur = root;
    let segs = &field.path.0;
    for (i, segment) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match segment {
            kro_graph::Segment::Field(key) => {
                if !cur.is_object() {
                    *cur = Value::Object(Map::new());
                }
                let Some(fields) = cur.as_object_mut() else {
                    return;
                };
                if last {
                    fields.insert(key.clone(), value);
                    return;
                }
                cur = fields.entry(key.clone()).or_insert(Value::Null);
            }
            kro_graph::Segment::Index(idx) => {
                let Some(elements) = cur.as_array_mut() else {
                    return;
                };
                let Some(slot) = elements.get_mut(*idx) else {
                    return;
                };
                if last {
                    *slot = value;
                    return;
                }
                cur = slot;
            }
        }
    }
}

/// The node's template with every field resolved. With `budget`, each resolved value is
/// measured as it is set, so a template that would pass the instance's byte budget stops at the
/// field that passes it (`item` names the forEach item in the message).
fn resolve_template(
    node: &Node,
    vars: &Activation,
    budget: Option<(&Limits<'_>, Option<(usize, usize)>)>,
) -> Result<Value, Stop> {
    let mut object = node.template.clone();
    let mut omitted = Vec::new();
    let mut partial: u64 = 0;
    for field in &node.fields {
        match resolve_value(&field.value, vars)? {
            Some(value) => {
                if let Some((limits, item)) = budget {
                    partial = partial.saturating_add(json_size(&value));
                    limits.room(partial, item).map_err(Stop::OverBudget)?;
                }
                set_path(&mut object, field, value);
            }
            None => omitted.push(field),
        }
    }
    // Remove omitted fields last, deepest and last list elements first, so indexes stay valid.
    for field in omitted.iter().rev() {
        remove_path(&mut object, field);
    }
    Ok(object)
}

fn remove_path(root: &mut Value, field: &TemplateField) {
    let Some((last, parent)) = field.path.0.split_last() else {
        return;
    };
    let parent_path = kro_graph::FieldPath(parent.to_vec());
    match (parent_path.get_mut(root), last) {
        (Some(Value::Object(fields)), kro_graph::Segment::Field(key)) => {
            fields.remove(key);
        }
        (Some(Value::Array(elements)), kro_graph::Segment::Index(i)) if *i < elements.len() => {
            elements.remove(*i);
        }
        _ => {}
    }
}

fn default_namespace(node: &Node, object: &mut Value, identity: &InstanceIdentity) {
    if !node.namespaced || identity.namespace.is_empty() {
        return;
    }
    let has = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .is_some_and(|namespace| !namespace.is_empty());
    if !has && let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert(
            "namespace".into(),
            Value::String(identity.namespace.clone()),
        );
    }
}

/// Readiness of observed objects: with no readyWhen, existing is enough.
fn readiness(node: &Node, var: &str, objects: impl IntoIterator<Item = CelValue>) -> Outcome {
    if node.ready_when.is_empty() {
        return Outcome {
            state: NodeState::Synced,
            ready: true,
            skipped: false,
            message: None,
        };
    }
    for object in objects {
        let mut vars = Activation::new();
        vars.bind(var, object);
        for cond in &node.ready_when {
            match eval_bool(cond, &vars) {
                Ok(true) => {}
                Ok(false) => {
                    return Outcome {
                        state: NodeState::WaitingForReadiness,
                        ready: false,
                        skipped: false,
                        message: Some(format!("readyWhen is false: {}", cond.source())),
                    };
                }
                Err(Stop::Pending(message)) => {
                    return Outcome {
                        state: NodeState::WaitingForReadiness,
                        ready: false,
                        skipped: false,
                        message: Some(message),
                    };
                }
                Err(Stop::Failed(message) | Stop::OverBudget(message)) => return error(message),
            }
        }
    }
    Outcome {
        state: NodeState::Synced,
        ready: true,
        skipped: false,
        message: None,
    }
}

fn evaluate_external(
    node: &Node,
    identity: &InstanceIdentity,
    observed: &Observed,
    vars: &mut Activation,
    external_reads: &mut Vec<ExternalRead>,
) -> Outcome {
    let object = match resolve_template(node, vars, None) {
        Ok(object) => object,
        Err(Stop::Pending(message)) => return waiting(message),
        Err(Stop::Failed(message) | Stop::OverBudget(message)) => return error(message),
    };
    let meta = object.get("metadata").cloned().unwrap_or(Value::Null);
    let mut namespace = meta
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|namespace| !namespace.is_empty())
        .map(str::to_string);
    let selector = meta
        .get("selector")
        .filter(|value| !value.is_null())
        .cloned();
    if namespace.is_none()
        && node.namespaced
        && selector.is_none()
        && !identity.namespace.is_empty()
    {
        namespace = Some(identity.namespace.clone());
    }
    external_reads.push(ExternalRead {
        node_id: node.id.clone(),
        api_version: node.api_version.clone(),
        kind: node.object_kind.clone(),
        namespace,
        name: meta.get("name").and_then(Value::as_str).map(str::to_string),
        selector,
    });
    match (node.kind, observed.nodes.get(&node.id)) {
        (NodeKind::External, Some(ObservedNode::Object(observed_object))) => {
            let value = to_cel(node, observed_object);
            vars.bind(node.id.clone(), value.clone());
            readiness(node, &node.id, [value])
        }
        (NodeKind::ExternalCollection, Some(ObservedNode::List(items))) => {
            let values: Vec<CelValue> = items.iter().map(|object| to_cel(node, object)).collect();
            vars.bind(node.id.clone(), CelValue::list(values.iter().cloned()));
            readiness(node, "each", values)
        }
        _ => waiting(format!(
            "waiting for external reference {:?}: not found",
            node.id
        )),
    }
}

fn evaluate_collection(
    node: &Node,
    identity: &InstanceIdentity,
    observed: &Observed,
    limits: &mut Limits<'_>,
    vars: &mut Activation,
    apply: &mut Vec<DesiredObject>,
) -> Result<Outcome, String> {
    let mut dims: Vec<(String, Vec<CelValue>)> = Vec::new();
    for dimension in &node.for_each {
        match dimension.expr.program().eval_list(vars).map_err(Stop::from) {
            Ok(items) => dims.push((dimension.name.clone(), items)),
            Err(Stop::Pending(message)) => return Ok(waiting(message)),
            Err(Stop::Failed(message) | Stop::OverBudget(message)) => {
                return Ok(error(format!(
                    "forEach iterator {:?}: {message}",
                    dimension.name
                )));
            }
        }
    }
    let size = dims
        .iter()
        .try_fold(1usize, |acc, (_, list)| acc.checked_mul(list.len()))
        .unwrap_or(usize::MAX);
    let options = limits.options;
    if size > options.max_collection_size {
        return Ok(error(format!(
            "collection size of {size} is over the maximum collection size of {}",
            options.max_collection_size
        )));
    }
    // The count is known before any item is built.
    limits.admit(node, size)?;
    let applyset_id = identity.applyset_id();
    let mut items = Vec::with_capacity(size);
    let mut seen = BTreeSet::new();
    let mut local = vars.clone();
    for i in 0..size {
        if limits.expired() {
            return Ok(error(format!(
                "stopped at forEach item {} of {size}",
                i + 1
            )));
        }
        // Cartesian product, first dimension outermost.
        let mut rest = i;
        let mut picks = Vec::with_capacity(dims.len());
        for (name, list) in dims.iter().rev() {
            let len = list.len();
            picks.push((name.clone(), list[rest % len].clone()));
            rest /= len;
        }
        for (name, value) in picks {
            local.bind(name, value);
        }
        let mut object = match resolve_template(node, &local, Some((&*limits, Some((i, size))))) {
            Ok(object) => object,
            Err(stop) => return settle(stop),
        };
        default_namespace(node, &mut object, identity);
        let key = (
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        );
        if !seen.insert(key.clone()) {
            return Ok(error(format!(
                "duplicate identity: {} {} {}/{} is produced by more than one forEach item; include every iterator in metadata.name",
                node.api_version, node.object_kind, key.0, key.1
            )));
        }
        label_child(
            &mut object,
            identity,
            &applyset_id,
            &node.id,
            Some((i, size)),
            node.apply_order,
            &options.kro_version,
        );
        record_deletion_policy(&mut object, node.deletion_policy);
        limits.charge(&object, Some((i, size)))?;
        items.push(DesiredObject {
            node_id: node.id.clone(),
            collection_index: Some(i),
            object,
        });
    }

    Ok(collection_readiness(node, observed, items, vars, apply))
}

/// A collection's items go to `apply`; the observed ones (matched by namespace/name, in
/// desired order) are bound as the node's list, and the node is ready once all are observed
/// and pass `readyWhen`.
fn collection_readiness(
    node: &Node,
    observed: &Observed,
    items: Vec<DesiredObject>,
    vars: &mut Activation,
    apply: &mut Vec<DesiredObject>,
) -> Outcome {
    // Match observed items to desired ones by namespace/name, in desired order.
    let observed_items: Vec<Value> = match observed.nodes.get(&node.id) {
        Some(ObservedNode::List(list)) => list.clone(),
        Some(ObservedNode::Object(object)) => vec![object.clone()],
        None => Vec::new(),
    };
    let mut matched = Vec::new();
    for item in &items {
        if let Some(observed_item) = observed_items.iter().find(|observed_item| {
            observed_item
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                == Some(item.name())
                && observed_item
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    == item.namespace()
        }) {
            matched.push(observed_item.clone());
        }
    }
    let desired = items.len();
    apply.extend(items);
    let values: Vec<CelValue> = matched.iter().map(|object| to_cel(node, object)).collect();
    vars.bind(node.id.clone(), CelValue::list(values.iter().cloned()));
    if matched.len() < desired {
        return Outcome {
            state: NodeState::WaitingForReadiness,
            ready: false,
            skipped: false,
            message: Some(format!(
                "waiting for collection items: {} of {desired} observed",
                matched.len()
            )),
        };
    }
    readiness(node, "each", values)
}

/// An observed object as CEL, typed by the node's schema when known (so `format: byte`
/// fields are bytes, dates are timestamps, as in kro).
fn to_cel(node: &Node, object: &Value) -> CelValue {
    // Only the parts some expression reads are converted.
    let object = &node.readable_part(object);
    match &node.schema {
        Some(schema) => CelValue::from_json_with_schema(object, schema),
        None => CelValue::from_json(object),
    }
}

/// Evaluates the author's `status.conditions` (which replace kro's built-in ones). Returns the
/// conditions, whether an expression failed, and whether one waited on data (its previous
/// conditions are kept).
fn author_conditions(
    graph: &CompiledGraph,
    vars: &Activation,
    builtin: &[Condition],
    instance: &Value,
    generation: i64,
) -> (Vec<Condition>, bool, bool) {
    let mut act = vars.clone();
    act.bind_runtime(
        builtin
            .iter()
            .filter_map(|condition| serde_json::to_value(condition).ok())
            .collect(),
    );
    let mut items = Vec::new();
    let mut failed = false;
    let mut pending = false;
    for expr in &graph.status_conditions {
        match expr.program().eval_json(&act) {
            Ok(Rendered::Value(Value::Array(list))) => items.extend(list),
            Ok(Rendered::Value(condition @ Value::Object(_))) => items.push(condition),
            Ok(_) => failed = true,
            Err(err) if err.is_data_pending() => pending = true,
            Err(_) => failed = true,
        }
    }
    let text = |item: &Value, key: &str| {
        item.get(key)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .map(str::to_string)
    };
    let mut out: Vec<Condition> = Vec::new();
    for item in items {
        let Some(type_) = text(&item, "type") else {
            failed = true;
            continue;
        };
        let status = match text(&item, "status").as_deref() {
            Some("True") => ConditionStatus::True,
            Some("False") => ConditionStatus::False,
            Some("Unknown") => ConditionStatus::Unknown,
            _ => {
                failed = true;
                continue;
            }
        };
        if out.iter().any(|condition| condition.type_ == type_) {
            failed = true;
            continue;
        }
        out.push(Condition {
            type_,
            status,
            last_transition_time: None,
            reason: text(&item, "reason"),
            message: text(&item, "message"),
            observed_generation: generation,
        });
    }
    if pending
        && let Some(previous) = instance
            .pointer("/status/conditions")
            .and_then(Value::as_array)
    {
        for previous_condition in previous {
            if let Ok(condition) = serde_json::from_value::<Condition>(previous_condition.clone())
                && !out.iter().any(|existing| existing.type_ == condition.type_)
            {
                out.push(condition);
            }
        }
    }
    (out, failed, pending)
}

fn conditions(nodes: &[NodeStatus], generation: i64) -> Vec<Condition> {
    let stamp = |mut condition: Condition| {
        condition.observed_generation = generation;
        condition
    };
    let managed = stamp(Condition::new(
        types::INSTANCE_MANAGED,
        ConditionStatus::True,
        reasons::MANAGED,
        messages::INSTANCE_MANAGED,
    ));
    let resolved = stamp(Condition::new(
        types::GRAPH_RESOLVED,
        ConditionStatus::True,
        reasons::RESOLVED,
        messages::GRAPH_RESOLVED,
    ));
    let errors: Vec<String> = nodes
        .iter()
        .filter(|node| node.state == NodeState::Error)
        .map(|node| format!("{}: {}", node.id, node.message.clone().unwrap_or_default()))
        .collect();
    let waiting: Vec<&str> = nodes
        .iter()
        .filter(|node| !node.ready && node.state != NodeState::Error)
        .map(|node| node.id.as_str())
        .collect();
    let resources = if !errors.is_empty() {
        Condition::new(
            types::RESOURCES_READY,
            ConditionStatus::False,
            reasons::NOT_READY,
            format!("resource error: {}", errors.join("; ")),
        )
    } else if !waiting.is_empty() {
        Condition::new(
            types::RESOURCES_READY,
            ConditionStatus::False,
            reasons::NOT_READY,
            format!("awaiting resource readiness: {}", waiting.join(", ")),
        )
    } else {
        Condition::new(
            types::RESOURCES_READY,
            ConditionStatus::True,
            reasons::ALL_RESOURCES_READY,
            messages::ALL_RESOURCES_READY,
        )
    };
    let resources = stamp(resources);
    let ready = if resources.is_true() {
        Condition::new(types::READY, ConditionStatus::True, reasons::READY, "")
    } else {
        let mut condition = resources.clone();
        condition.type_ = types::READY.into();
        condition
    };
    vec![managed, resolved, resources, stamp(ready)]
}
