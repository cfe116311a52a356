//! Argo CD's health checks as Argo CD runs them: the `argocd-cm` snippet in `docs/argocd/` is
//! generated from the `.lua` files beside it, a script is chosen for an object the way Argo CD
//! chooses (a `resource.customizations.health.<group>_<kind>` key first, then the wildcard
//! `<group>/<kind>` patterns of `resource.customizations`), and it runs in a Lua 5.1 VM with only
//! the libraries Argo CD opens (base, table, package: no string library), with `obj` converted
//! from JSON as Argo CD converts it (objects to tables, arrays to 1-based tables, null to nil).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use mlua::{Lua, LuaOptions, StdLib, Table};
use serde_json::Value;

/// `docs/argocd/` in the repository.
pub(crate) fn docs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/argocd")
}

/// The checked-in health script `docs/argocd/health/<name>.lua`.
pub(crate) fn script(name: &str) -> String {
    let path = docs_dir().join("health").join(format!("{name}.lua"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Which script serves which kinds: `(argocd-cm key, script name)`. Keys with a `/` go into the
/// `resource.customizations` block (the only place Argo CD accepts wildcards); the others are
/// `resource.customizations.health.<group>_<kind>` keys.
pub(crate) const ENTRIES: [(&str, &str); 7] = [
    ("kro.run/*", "instance"),
    ("kro.run_ResourceGraphDefinition", "rgd"),
    ("s3.services.k8s.aws_Bucket", "ack"),
    ("rds.services.k8s.aws_DBSubnetGroup", "ack"),
    ("rds.services.k8s.aws_DBParameterGroup", "ack"),
    ("rds.services.k8s.aws_DBClusterParameterGroup", "ack"),
    ("rds.services.k8s.aws_DBInstance", "dbinstance"),
];

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `docs/argocd/argocd-cm.yaml` the scripts make.
pub(crate) fn render_configmap() -> String {
    let mut out = String::from(
        "# Generated from docs/argocd/health/*.lua by the kro-e2e test argocd_health\n\
         # (UPDATE_ARGOCD=1 cargo test -p kro-e2e --test e2e argocd_health:: regenerates it).\n\
         # Merge the data keys into the argocd-cm ConfigMap of your Argo CD install (2.6 or later\n\
         # for the kro.run/* wildcard). See docs/argocd.md.\n\
         apiVersion: v1\n\
         kind: ConfigMap\n\
         metadata:\n  name: argocd-cm\n  namespace: argocd\n  labels:\n    \
         app.kubernetes.io/name: argocd-cm\n    app.kubernetes.io/part-of: argocd\n\
         data:\n",
    );
    let wildcard: Vec<_> = ENTRIES.iter().filter(|(k, _)| k.contains('/')).collect();
    if !wildcard.is_empty() {
        out.push_str("  resource.customizations: |\n");
        for (key, name) in wildcard {
            out.push_str(&format!("    {key}:\n      health.lua: |\n"));
            out.push_str(&indent(&script(name), 8));
            out.push('\n');
        }
    }
    for (key, name) in ENTRIES.iter().filter(|(k, _)| !k.contains('/')) {
        out.push_str(&format!("  resource.customizations.health.{key}: |\n"));
        out.push_str(&indent(&script(name), 4));
        out.push('\n');
    }
    out
}

/// The health scripts of an `argocd-cm` ConfigMap, as Argo CD reads them.
pub(crate) struct HealthConfig {
    /// `<group>_<kind>` → script, from `resource.customizations.health.*` keys.
    keys: BTreeMap<String, String>,
    /// `<group>/<kind>` pattern (may hold `*`) → script, from `resource.customizations`.
    patterns: Vec<(String, String)>,
}

impl HealthConfig {
    /// Parses the ConfigMap YAML.
    pub(crate) fn parse(yaml: &str) -> Result<Self> {
        let cm: Value = serde_saphyr::from_str(yaml).context("argocd-cm is not YAML")?;
        let data = cm["data"].as_object().context("argocd-cm has no data")?;
        let mut keys = BTreeMap::new();
        let mut patterns = Vec::new();
        for (k, v) in data {
            let v = v.as_str().context("data values are strings")?;
            if let Some(gk) = k.strip_prefix("resource.customizations.health.") {
                keys.insert(gk.to_owned(), v.to_owned());
            } else if k == "resource.customizations" {
                let block: BTreeMap<String, Value> =
                    serde_saphyr::from_str(v).context("resource.customizations is not YAML")?;
                for (pattern, custom) in block {
                    if let Some(lua) = custom["health.lua"].as_str() {
                        patterns.push((pattern, lua.to_owned()));
                    }
                }
            }
        }
        Ok(Self { keys, patterns })
    }

    /// Loads `docs/argocd/argocd-cm.yaml`.
    pub(crate) fn load() -> Result<Self> {
        let path = docs_dir().join("argocd-cm.yaml");
        Self::parse(&std::fs::read_to_string(&path).context("reading argocd-cm.yaml")?)
    }

    /// Every script with where it is configured (`<group>_<kind>` or the pattern).
    pub(crate) fn scripts(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .keys
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.extend(self.patterns.iter().cloned());
        out
    }

    /// The script Argo CD runs for `group`/`kind`: the exact key, else the first matching
    /// wildcard pattern.
    pub(crate) fn script_for(&self, group: &str, kind: &str) -> Option<&str> {
        if let Some(s) = self.keys.get(&format!("{group}_{kind}")) {
            return Some(s);
        }
        let gk = format!("{group}/{kind}");
        self.patterns
            .iter()
            .find(|(p, _)| glob(p, &gk))
            .map(|(_, s)| s.as_str())
    }

    /// Evaluates the script for `obj` (by its apiVersion and kind).
    pub(crate) fn health(&self, obj: &Value) -> Result<Health> {
        let api_version = obj["apiVersion"].as_str().context("apiVersion")?;
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let kind = obj["kind"].as_str().context("kind")?;
        let Some(script) = self.script_for(group, kind) else {
            bail!("no health check for {group}/{kind}");
        };
        evaluate(script, obj)
    }
}

/// `*` matches any run of characters (Argo CD matches keys with a glob).
fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, tail)) => {
            let Some(rest) = s.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|i| rest.is_char_boundary(*i))
                .any(|i| glob(tail, &rest[i..]))
        }
    }
}

/// What a health script returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Health {
    pub(crate) status: String,
    pub(crate) message: String,
}

/// The statuses Argo CD accepts from a script (any other becomes Unknown).
pub(crate) const STATUSES: [&str; 6] = [
    "Healthy",
    "Progressing",
    "Degraded",
    "Suspended",
    "Missing",
    "Unknown",
];

/// Runs a health script on `obj` as Argo CD does.
pub(crate) fn evaluate(script: &str, obj: &Value) -> Result<Health> {
    let lua = Lua::new_with(StdLib::TABLE | StdLib::PACKAGE, LuaOptions::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let globals = lua.globals();
    let o = to_lua(&lua, obj).map_err(|e| anyhow::anyhow!("{e}"))?;
    globals.set("obj", o).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hs: Table = lua
        .load(script)
        .eval()
        .map_err(|e| anyhow::anyhow!("health script failed: {e}"))?;
    let status: String = hs.get("status").map_err(|e| anyhow::anyhow!("{e}"))?;
    let message: Option<String> = hs.get("message").map_err(|e| anyhow::anyhow!("{e}"))?;
    if !STATUSES.contains(&status.as_str()) {
        bail!("invalid health status {status:?}");
    }
    Ok(Health {
        status,
        message: message.unwrap_or_default(),
    })
}

/// JSON to Lua as Argo CD's `decodeValue`: objects and arrays become tables (arrays 1-based),
/// numbers Lua numbers, null nil.
fn to_lua(lua: &Lua, v: &Value) -> mlua::Result<mlua::Value> {
    Ok(match v {
        Value::Null => mlua::Value::Nil,
        Value::Bool(b) => mlua::Value::Boolean(*b),
        Value::Number(n) => mlua::Value::Number(n.as_f64().unwrap_or_default()),
        Value::String(s) => mlua::Value::String(lua.create_string(s)?),
        Value::Array(items) => {
            let t = lua.create_table()?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item)?)?;
            }
            mlua::Value::Table(t)
        }
        Value::Object(map) => {
            let t = lua.create_table()?;
            for (k, item) in map {
                t.raw_set(k.as_str(), to_lua(lua, item)?)?;
            }
            mlua::Value::Table(t)
        }
    })
}

/// The health of a live object, as it would appear in Argo CD with the checked-in snippet.
pub(crate) fn health_of(obj: &Value) -> Health {
    HealthConfig::load().unwrap().health(obj).unwrap()
}

/// Strips what changes from run to run (uid, times, resourceVersion, managedFields), so a
/// captured object makes a stable fixture.
pub(crate) fn fixture_of(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(md) = v["metadata"].as_object_mut() {
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
            "ownerReferences",
        ] {
            md.remove(k);
        }
    }
    if let Some(conds) = v
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    {
        for c in conds {
            if let Some(c) = c.as_object_mut() {
                c.remove("lastTransitionTime");
            }
        }
    }
    v
}

/// When `CAPTURE_ARGOCD_FIXTURES=1`, writes the live object (stripped) to
/// `e2e/tests/fixtures/argocd/<file>` so the cluster-free test can replay it.
pub(crate) fn capture(file: &str, obj: &Value) {
    if std::env::var_os("CAPTURE_ARGOCD_FIXTURES").is_some_and(|v| v == "1") {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/argocd");
        std::fs::create_dir_all(&dir).unwrap();
        let yaml = serde_saphyr::to_string(&fixture_of(obj)).unwrap();
        std::fs::write(dir.join(file), yaml).unwrap();
    }
}
