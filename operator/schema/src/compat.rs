//! The breaking-change check kro runs before it updates a generated CRD: compares the old and
//! new OpenAPI schemas and classifies every difference as breaking or not.

use std::collections::BTreeSet;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};

/// Kind of a schema change (names as kro reports them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ChangeType {
    // Breaking.
    PropertyRemoved,
    TypeChanged,
    RequiredAdded,
    EnumRestricted,
    PatternChanged,
    PatternAdded,
    RequiredDefaultRemoved,
    MinimumAdded,
    MinimumIncreased,
    MaximumAdded,
    MaximumDecreased,
    MinLengthAdded,
    MinLengthIncreased,
    MaxLengthAdded,
    MaxLengthDecreased,
    MinItemsAdded,
    MinItemsIncreased,
    MaxItemsAdded,
    MaxItemsDecreased,
    // Breaking only when the new property is required without a default.
    PropertyAdded,
    // Not breaking.
    DescriptionChanged,
    DefaultChanged,
    RequiredRemoved,
    EnumExpanded,
    PatternRemoved,
    MinimumRemoved,
    MinimumDecreased,
    MaximumRemoved,
    MaximumIncreased,
    MinLengthRemoved,
    MinLengthDecreased,
    MaxLengthRemoved,
    MaxLengthIncreased,
    MinItemsRemoved,
    MinItemsDecreased,
    MaxItemsRemoved,
    MaxItemsIncreased,
}

impl ChangeType {
    /// kro's name, e.g. `PROPERTY_REMOVED`.
    pub fn as_str(self) -> &'static str {
        use ChangeType::*;
        match self {
            PropertyRemoved => "PROPERTY_REMOVED",
            TypeChanged => "TYPE_CHANGED",
            RequiredAdded => "REQUIRED_ADDED",
            EnumRestricted => "ENUM_RESTRICTED",
            PatternChanged => "PATTERN_CHANGED",
            PatternAdded => "PATTERN_ADDED",
            RequiredDefaultRemoved => "REQUIRED_DEFAULT_REMOVED",
            MinimumAdded => "MINIMUM_ADDED",
            MinimumIncreased => "MINIMUM_INCREASED",
            MaximumAdded => "MAXIMUM_ADDED",
            MaximumDecreased => "MAXIMUM_DECREASED",
            MinLengthAdded => "MIN_LENGTH_ADDED",
            MinLengthIncreased => "MIN_LENGTH_INCREASED",
            MaxLengthAdded => "MAX_LENGTH_ADDED",
            MaxLengthDecreased => "MAX_LENGTH_DECREASED",
            MinItemsAdded => "MIN_ITEMS_ADDED",
            MinItemsIncreased => "MIN_ITEMS_INCREASED",
            MaxItemsAdded => "MAX_ITEMS_ADDED",
            MaxItemsDecreased => "MAX_ITEMS_DECREASED",
            PropertyAdded => "PROPERTY_ADDED",
            DescriptionChanged => "DESCRIPTION_CHANGED",
            DefaultChanged => "DEFAULT_CHANGED",
            RequiredRemoved => "REQUIRED_REMOVED",
            EnumExpanded => "ENUM_EXPANDED",
            PatternRemoved => "PATTERN_REMOVED",
            MinimumRemoved => "MINIMUM_REMOVED",
            MinimumDecreased => "MINIMUM_DECREASED",
            MaximumRemoved => "MAXIMUM_REMOVED",
            MaximumIncreased => "MAXIMUM_INCREASED",
            MinLengthRemoved => "MIN_LENGTH_REMOVED",
            MinLengthDecreased => "MIN_LENGTH_DECREASED",
            MaxLengthRemoved => "MAX_LENGTH_REMOVED",
            MaxLengthIncreased => "MAX_LENGTH_INCREASED",
            MinItemsRemoved => "MIN_ITEMS_REMOVED",
            MinItemsDecreased => "MIN_ITEMS_DECREASED",
            MaxItemsRemoved => "MAX_ITEMS_REMOVED",
            MaxItemsIncreased => "MAX_ITEMS_INCREASED",
        }
    }
}

/// One difference between the old and the new schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Path in the schema, kro style: `.properties.spec.properties.replicas.minimum`.
    pub path: String,
    /// What changed.
    pub change_type: ChangeType,
    /// Old value, when it has one (JSON text for enum values and defaults).
    pub old_value: String,
    /// New value, when it has one.
    pub new_value: String,
}

impl Change {
    fn new(
        path: String,
        change_type: ChangeType,
        old: impl Into<String>,
        new: impl Into<String>,
    ) -> Self {
        Change {
            path,
            change_type,
            old_value: old.into(),
            new_value: new.into(),
        }
    }

    /// A sentence for users, worded as kro words it.
    pub fn description(&self) -> String {
        use ChangeType::*;
        let prop = self.path.rsplit('.').next().unwrap_or(&self.path);
        let (old, new) = (&self.old_value, &self.new_value);
        match self.change_type {
            PropertyRemoved => format!("Property {prop} was removed"),
            PropertyAdded if new == "required=true" => {
                format!("Required property {prop} was added")
            }
            PropertyAdded => format!("Optional property {prop} was added"),
            TypeChanged => format!("Type changed from {old} to {new}"),
            RequiredAdded => format!("Field {new} is newly required"),
            RequiredRemoved => format!("Field {old} is no longer required"),
            EnumRestricted => format!("Enum value {old} was removed"),
            EnumExpanded => format!("Enum value {new} was added"),
            PatternChanged => format!("Validation pattern changed from {old} to {new}"),
            PatternAdded => format!("Validation pattern {new} was added"),
            PatternRemoved => format!("Validation pattern {old} was removed"),
            RequiredDefaultRemoved => format!("Default value removed from required field {old}"),
            DescriptionChanged => format!("Description field was changed from {old} to {new}"),
            DefaultChanged => format!("Default value was changed from {old} to {new}"),
            MinimumAdded => format!("Minimum constraint {new} was added"),
            MinimumRemoved => format!("Minimum constraint {old} was removed"),
            MinimumIncreased => format!("Minimum was increased from {old} to {new}"),
            MinimumDecreased => format!("Minimum was decreased from {old} to {new}"),
            MaximumAdded => format!("Maximum constraint {new} was added"),
            MaximumRemoved => format!("Maximum constraint {old} was removed"),
            MaximumDecreased => format!("Maximum was decreased from {old} to {new}"),
            MaximumIncreased => format!("Maximum was increased from {old} to {new}"),
            MinLengthAdded => format!("MinLength constraint {new} was added"),
            MinLengthRemoved => format!("MinLength constraint {old} was removed"),
            MinLengthIncreased => format!("MinLength was increased from {old} to {new}"),
            MinLengthDecreased => format!("MinLength was decreased from {old} to {new}"),
            MaxLengthAdded => format!("MaxLength constraint {new} was added"),
            MaxLengthRemoved => format!("MaxLength constraint {old} was removed"),
            MaxLengthDecreased => format!("MaxLength was decreased from {old} to {new}"),
            MaxLengthIncreased => format!("MaxLength was increased from {old} to {new}"),
            MinItemsAdded => format!("MinItems constraint {new} was added"),
            MinItemsRemoved => format!("MinItems constraint {old} was removed"),
            MinItemsIncreased => format!("MinItems was increased from {old} to {new}"),
            MinItemsDecreased => format!("MinItems was decreased from {old} to {new}"),
            MaxItemsAdded => format!("MaxItems constraint {new} was added"),
            MaxItemsRemoved => format!("MaxItems constraint {old} was removed"),
            MaxItemsDecreased => format!("MaxItems was decreased from {old} to {new}"),
            MaxItemsIncreased => format!("MaxItems was increased from {old} to {new}"),
        }
    }
}

/// The result of comparing two schemas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompatReport {
    /// Changes that can make existing instances invalid or change their meaning.
    pub breaking: Vec<Change>,
    /// Changes that keep every existing instance valid.
    pub non_breaking: Vec<Change>,
}

/// How many breaking changes [`CompatReport::summary`] lists before "and N more changes".
pub const MAX_SUMMARY_CHANGES: usize = 3;

impl CompatReport {
    /// No breaking change.
    pub fn is_compatible(&self) -> bool {
        self.breaking.is_empty()
    }

    /// Any change at all.
    pub fn has_changes(&self) -> bool {
        !self.breaking.is_empty() || !self.non_breaking.is_empty()
    }

    /// kro's summary: the first three breaking changes joined by `; `, then
    /// `and N more changes`; `no breaking changes` when compatible.
    pub fn summary(&self) -> String {
        if self.breaking.is_empty() {
            return "no breaking changes".into();
        }
        let mut parts: Vec<String> = self
            .breaking
            .iter()
            .take(MAX_SUMMARY_CHANGES)
            .map(Change::description)
            .collect();
        if self.breaking.len() > MAX_SUMMARY_CHANGES {
            parts.push(format!(
                "and {} more changes",
                self.breaking.len() - MAX_SUMMARY_CHANGES
            ));
        }
        parts.join("; ")
    }

    fn breaking(
        &mut self,
        path: String,
        t: ChangeType,
        old: impl Into<String>,
        new: impl Into<String>,
    ) {
        self.breaking.push(Change::new(path, t, old, new));
    }

    fn non_breaking(
        &mut self,
        path: String,
        t: ChangeType,
        old: impl Into<String>,
        new: impl Into<String>,
    ) {
        self.non_breaking.push(Change::new(path, t, old, new));
    }
}

/// Compares two OpenAPI schemas (e.g. the `openAPIV3Schema` of the old and new instance CRD).
///
/// Beyond kro, `additionalProperties` schemas (SimpleSchema maps) are compared too, so that
/// `map[string]string` → `map[string]integer` is reported as a type change.
pub fn compare_schemas(old: &JSONSchemaProps, new: &JSONSchemaProps) -> CompatReport {
    let mut report = CompatReport::default();
    compare(String::new(), old, new, &mut report);
    report
}

/// The breaking changes between two schemas (see [`compare_schemas`]).
pub fn breaking_changes(old: &JSONSchemaProps, new: &JSONSchemaProps) -> Vec<Change> {
    compare_schemas(old, new).breaking
}

/// Compares the schemas of the stored versions of two CRDs. A CRD without a schema counts as an
/// empty schema.
pub fn compare_crds(
    old: &CustomResourceDefinition,
    new: &CustomResourceDefinition,
) -> CompatReport {
    fn storage_schema(crd: &CustomResourceDefinition) -> JSONSchemaProps {
        crd.spec
            .versions
            .iter()
            .find(|version| version.storage)
            .or_else(|| crd.spec.versions.first())
            .and_then(|version| version.schema.as_ref())
            .and_then(|schema| schema.open_api_v3_schema.clone())
            .unwrap_or_default()
    }
    compare_schemas(&storage_schema(old), &storage_schema(new))
}

fn json_text(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Compares one schema node of the old and new CRD at `path`, recursing into properties,
/// items and additionalProperties.
fn compare(path: String, old: &JSONSchemaProps, new: &JSONSchemaProps, report: &mut CompatReport) {
    use ChangeType::*;
    compare_annotations(&path, old, new, report);
    let old_type = old.type_.clone().unwrap_or_default();
    let new_type = new.type_.clone().unwrap_or_default();
    if old_type != new_type {
        report.breaking(format!("{path}.type"), TypeChanged, old_type, new_type);
        return;
    }
    compare_pattern(&path, old, new, report);
    compare_bounds(&path, old, new, report);
    compare_properties(&path, old, new, report);
    compare_required(&path, old, new, report);
    compare_enum(&path, old, new, report);

    if old_type == "array" {
        compare_items(&path, old, new, report);
    }
    compare_additional_properties(&path, old, new, report);
}

/// `description` and `default`: never breaking.
fn compare_annotations(
    path: &str,
    old: &JSONSchemaProps,
    new: &JSONSchemaProps,
    report: &mut CompatReport,
) {
    use ChangeType::*;
    if old.description != new.description {
        report.non_breaking(
            format!("{path}.description"),
            DescriptionChanged,
            old.description.clone().unwrap_or_default(),
            new.description.clone().unwrap_or_default(),
        );
    }
    if old.default != new.default {
        report.non_breaking(
            format!("{path}.default"),
            DefaultChanged,
            old.default
                .as_ref()
                .map(|default| json_text(&default.0))
                .unwrap_or_default(),
            new.default
                .as_ref()
                .map(|default| json_text(&default.0))
                .unwrap_or_default(),
        );
    }
}

/// `pattern`: adding or changing one is breaking, removing one is not.
fn compare_pattern(
    path: &str,
    old: &JSONSchemaProps,
    new: &JSONSchemaProps,
    report: &mut CompatReport,
) {
    use ChangeType::*;
    match (&old.pattern, &new.pattern) {
        (None, Some(pattern)) => {
            report.breaking(format!("{path}.pattern"), PatternAdded, "", pattern.clone())
        }
        (Some(pattern), None) => report.non_breaking(
            format!("{path}.pattern"),
            PatternRemoved,
            pattern.clone(),
            "",
        ),
        (Some(was), Some(now)) if was != now => report.breaking(
            format!("{path}.pattern"),
            PatternChanged,
            was.clone(),
            now.clone(),
        ),
        _ => {}
    }
}

/// `minimum`/`maximum`, `minLength`/`maxLength`, `minItems`/`maxItems`: tightening is breaking.
fn compare_bounds(
    path: &str,
    old: &JSONSchemaProps,
    new: &JSONSchemaProps,
    report: &mut CompatReport,
) {
    use ChangeType::*;
    compare_lower_bound(
        path,
        "minimum",
        old.minimum,
        new.minimum,
        [
            MinimumAdded,
            MinimumIncreased,
            MinimumRemoved,
            MinimumDecreased,
        ],
        report,
    );
    compare_upper_bound(
        path,
        "maximum",
        old.maximum,
        new.maximum,
        [
            MaximumAdded,
            MaximumDecreased,
            MaximumRemoved,
            MaximumIncreased,
        ],
        report,
    );
    let as_float = |value: Option<i64>| value.map(|count| count as f64);
    compare_lower_bound(
        path,
        "minLength",
        as_float(old.min_length),
        as_float(new.min_length),
        [
            MinLengthAdded,
            MinLengthIncreased,
            MinLengthRemoved,
            MinLengthDecreased,
        ],
        report,
    );
    compare_upper_bound(
        path,
        "maxLength",
        as_float(old.max_length),
        as_float(new.max_length),
        [
            MaxLengthAdded,
            MaxLengthDecreased,
            MaxLengthRemoved,
            MaxLengthIncreased,
        ],
        report,
    );
    compare_lower_bound(
        path,
        "minItems",
        as_float(old.min_items),
        as_float(new.min_items),
        [
            MinItemsAdded,
            MinItemsIncreased,
            MinItemsRemoved,
            MinItemsDecreased,
        ],
        report,
    );
    compare_upper_bound(
        path,
        "maxItems",
        as_float(old.max_items),
        as_float(new.max_items),
        [
            MaxItemsAdded,
            MaxItemsDecreased,
            MaxItemsRemoved,
            MaxItemsIncreased,
        ],
        report,
    );
}

/// The `items` schema of an array.
fn compare_items(
    path: &str,
    old: &JSONSchemaProps,
    new: &JSONSchemaProps,
    report: &mut CompatReport,
) {
    use ChangeType::*;
    match (item_schema(old), item_schema(new)) {
        (Some(old_items), Some(new_items)) => {
            compare(format!("{path}.items"), old_items, new_items, report)
        }
        (Some(_), None) => report.breaking(format!("{path}.items"), PropertyRemoved, "", ""),
        (None, Some(_)) => report.non_breaking(format!("{path}.items"), PropertyAdded, "", ""),
        (None, None) => {}
    }
}

/// The `additionalProperties` schema of a map.
fn compare_additional_properties(
    path: &str,
    old: &JSONSchemaProps,
    new: &JSONSchemaProps,
    report: &mut CompatReport,
) {
    use ChangeType::*;
    match (additional_schema(old), additional_schema(new)) {
        (Some(old_extra), Some(new_extra)) => compare(
            format!("{path}.additionalProperties"),
            old_extra,
            new_extra,
            report,
        ),
        (Some(_), None) => report.breaking(
            format!("{path}.additionalProperties"),
            PropertyRemoved,
            "",
            "",
        ),
        (None, Some(_)) => report.non_breaking(
            format!("{path}.additionalProperties"),
            PropertyAdded,
            "",
            "",
        ),
        (None, None) => {}
    }
}

fn fmt_num(value: f64) -> String {
    format!("{value}")
}

/// A lower bound (minimum, minLength, minItems): adding or raising it is breaking.
fn compare_lower_bound(
    path: &str,
    field: &str,
    old: Option<f64>,
    new: Option<f64>,
    [added, increased, removed, decreased]: [ChangeType; 4],
    report: &mut CompatReport,
) {
    let at = format!("{path}.{field}");
    match (old, new) {
        (None, Some(now)) => report.breaking(at, added, "", fmt_num(now)),
        (Some(was), None) => report.non_breaking(at, removed, fmt_num(was), ""),
        (Some(was), Some(now)) if now > was => {
            report.breaking(at, increased, fmt_num(was), fmt_num(now))
        }
        (Some(was), Some(now)) if now < was => {
            report.non_breaking(at, decreased, fmt_num(was), fmt_num(now))
        }
        _ => {}
    }
}

/// An upper bound (maximum, maxLength, maxItems): adding or lowering it is breaking.
fn compare_upper_bound(
    path: &str,
    field: &str,
    old: Option<f64>,
    new: Option<f64>,
    [added, decreased, removed, increased]: [ChangeType; 4],
    report: &mut CompatReport,
) {
    let at = format!("{path}.{field}");
    match (old, new) {
        (None, Some(now)) => report.breaking(at, added, "", fmt_num(now)),
        (Some(was), None) => report.non_breaking(at, removed, fmt_num(was), ""),
        (Some(was), Some(now)) if now < was => {
            report.breaking(at, decreased, fmt_num(was), fmt_num(now))
        }
        (Some(was), Some(now)) if now > was => {
            report.non_breaking(at, increased, fmt_num(was), fmt_num(now))
        }
        _ => {}
    }
}

fn item_schema(schema: &JSONSchemaProps) -> Option<&JSONSchemaProps> {
    match &schema.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => Some(item),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => items.first(),
        None => None,
    }
}

fn additional_schema(schema: &JSONSchemaProps) -> Option<&JSONSchemaProps> {
    match &schema.additional_properties {
        Some(JSONSchemaPropsOrBool::Schema(additional)) => Some(additional),
        _ => None,
    }
}

fn required_set(schema: &JSONSchemaProps) -> BTreeSet<&str> {
    schema
        .required
        .iter()
        .flatten()
        .map(String::as_str)
        .collect()
}

fn compare_properties(
    path: &str,
    old: &JSONSchemaProps,
    new: &JSONSchemaProps,
    report: &mut CompatReport,
) {
    let empty = Default::default();
    let old_props = old.properties.as_ref().unwrap_or(&empty);
    let new_props = new.properties.as_ref().unwrap_or(&empty);
    for (name, old_prop) in old_props {
        let at = format!("{path}.properties.{name}");
        match new_props.get(name) {
            None => report.breaking(at, ChangeType::PropertyRemoved, "", ""),
            Some(new_prop) => compare(at, old_prop, new_prop, report),
        }
    }
    let new_required = required_set(new);
    for (name, new_prop) in new_props {
        if old_props.contains_key(name) {
            continue;
        }
        let at = format!("{path}.properties.{name}");
        if new_required.contains(name.as_str()) && new_prop.default.is_none() {
            report.breaking(
                at,
                ChangeType::PropertyAdded,
                "required=false",
                "required=true",
            );
        } else {
            report.non_breaking(at, ChangeType::PropertyAdded, "", "");
        }
    }
}

fn compare_required(
    path: &str,
    old: &JSONSchemaProps,
    new: &JSONSchemaProps,
    report: &mut CompatReport,
) {
    let old_req = required_set(old);
    let new_req = required_set(new);
    if old_req.is_empty() && new_req.is_empty() {
        return;
    }
    let empty = Default::default();
    let old_props = old.properties.as_ref().unwrap_or(&empty);
    let new_props = new.properties.as_ref().unwrap_or(&empty);
    let at = format!("{path}.required");
    for req in &new_req {
        if old_props.contains_key(*req) && !old_req.contains(req) {
            report.breaking(at.clone(), ChangeType::RequiredAdded, "", *req);
        }
    }
    for req in &old_req {
        if !new_req.contains(req) {
            report.non_breaking(at.clone(), ChangeType::RequiredRemoved, *req, "");
        }
    }
    for req in &new_req {
        if !old_props.contains_key(*req) || !old_req.contains(req) {
            continue;
        }
        let had_default = old_props
            .get(*req)
            .is_some_and(|prop| prop.default.is_some());
        let has_default = new_props
            .get(*req)
            .is_some_and(|prop| prop.default.is_some());
        if had_default && !has_default {
            report.breaking(at.clone(), ChangeType::RequiredDefaultRemoved, *req, "");
        }
    }
}

fn compare_enum(
    path: &str,
    old: &JSONSchemaProps,
    new: &JSONSchemaProps,
    report: &mut CompatReport,
) {
    let (Some(old_enum), Some(new_enum)) = (&old.enum_, &new.enum_) else {
        return;
    };
    if old_enum.is_empty() || new_enum.is_empty() {
        return;
    }
    let old_set: BTreeSet<String> = old_enum.iter().map(|value| json_text(&value.0)).collect();
    let new_set: BTreeSet<String> = new_enum.iter().map(|value| json_text(&value.0)).collect();
    let at = format!("{path}.enum");
    for value in old_set.difference(&new_set) {
        report.breaking(at.clone(), ChangeType::EnumRestricted, value.clone(), "");
    }
    for value in new_set.difference(&old_set) {
        report.non_breaking(at.clone(), ChangeType::EnumExpanded, "", value.clone());
    }
}
