//! What an expression reads: its free root identifiers and the static field paths under them,
//! for the graph's dependency edges. Names bound by comprehensions (`all`, `map`, `cel.bind`,
//! two-variable macros, ...) are not references.

use std::collections::BTreeSet;
use std::fmt;

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue, operators};

/// A static field path read by an expression: `schema.spec.name` is root `schema` with fields
/// `["spec", "name"]`. Index expressions with a constant string (`a['b']`) and optional selects
/// (`a.?b`) extend the path; anything dynamic ends it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath {
    /// The identifier the path starts from.
    pub root: String,
    /// The fields selected under it, outermost first.
    pub fields: Vec<String>,
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.root)?;
        for field in &self.fields {
            write!(f, ".{field}")?;
        }
        Ok(())
    }
}

/// Everything an expression reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct References {
    /// Free root identifiers (`schema`, resource ids, iterators, `each`, `runtime`).
    pub identifiers: BTreeSet<String>,
    /// The longest static field paths read under them.
    pub paths: BTreeSet<FieldPath>,
    /// Functions called, by name (qualified: `random.seededString`), operators excluded.
    pub functions: BTreeSet<String>,
}

impl References {
    /// Whether the expression reads `name`.
    pub fn reads(&self, name: &str) -> bool {
        self.identifiers.contains(name)
    }
}

/// Namespaces of global functions: `optional.of(x)` is a function, not a read of `optional`.
pub(crate) const FUNCTION_NAMESPACES: &[&str] = &[
    "optional", "lists", "base64", "hash", "random", "json", "strings", "ip", "math", "cel",
];

/// The qualified name when `target.f(...)` is a namespaced global function call.
pub(crate) fn namespaced_call(target: &IdedExpr, func: &str, scope: &[String]) -> Option<String> {
    match &target.expr {
        Expr::Ident(ns)
            if FUNCTION_NAMESPACES.contains(&ns.as_str())
                && !scope.iter().any(|bound| bound == ns) =>
        {
            Some(format!("{ns}.{func}"))
        }
        _ => None,
    }
}

/// Collects the references of a (macro-expanded) expression.
pub(crate) fn collect(e: &IdedExpr) -> References {
    let mut out = References::default();
    let mut scope = Vec::new();
    walk(e, &mut scope, &mut out);
    out
}

/// `(root, fields, dynamic parts)` when `e` is a select/index chain rooted at an identifier.
fn path_of(e: &IdedExpr) -> Option<(&str, Vec<String>, Vec<&IdedExpr>)> {
    let mut fields: Vec<String> = Vec::new();
    let mut dynamic: Vec<&IdedExpr> = Vec::new();
    let mut cur = e;
    loop {
        match &cur.expr {
            Expr::Ident(ident) => {
                fields.reverse();
                return Some((ident.as_str(), fields, dynamic));
            }
            Expr::Select(select) => {
                fields.push(select.field.clone());
                cur = &select.operand;
            }
            Expr::Call(call)
                if call.target.is_none()
                    && call.args.len() == 2
                    && [
                        operators::INDEX,
                        operators::OPT_INDEX,
                        operators::OPT_SELECT,
                    ]
                    .contains(&call.func_name.as_str()) =>
            {
                match &call.args[1].expr {
                    Expr::Literal(LiteralValue::String(key)) => fields.push(key.inner().to_owned()),
                    _ => {
                        fields.clear();
                        dynamic.push(&call.args[1]);
                    }
                }
                cur = &call.args[0];
            }
            _ => return None,
        }
    }
}

fn walk(e: &IdedExpr, scope: &mut Vec<String>, out: &mut References) {
    if !matches!(e.expr, Expr::Ident(_))
        && let Some((root, fields, dynamic)) = path_of(e)
    {
        if !scope.iter().any(|bound| bound == root) && !root.starts_with('@') {
            out.identifiers.insert(root.to_owned());
            out.paths.insert(FieldPath {
                root: root.to_owned(),
                fields,
            });
        }
        for part in dynamic {
            walk(part, scope, out);
        }
        return;
    }
    match &e.expr {
        Expr::Ident(ident) => {
            if !scope.iter().any(|bound| bound == ident)
                && !ident.starts_with('@')
                && !ident.starts_with('#')
            {
                out.identifiers.insert(ident.clone());
                out.paths.insert(FieldPath {
                    root: ident.clone(),
                    fields: Vec::new(),
                });
            }
        }
        Expr::Call(call) => {
            let name = call.func_name.as_str();
            let mut target = call.target.as_deref();
            if let Some(operand) = target
                && let Some(qualified) = namespaced_call(operand, name, scope)
            {
                out.functions.insert(qualified);
                target = None;
            } else if !name.starts_with('_') && !name.starts_with('@') && !name.starts_with('!') {
                out.functions.insert(name.to_owned());
            }
            if name == crate::library::macros::NEW_CONDITION {
                out.functions.insert("runtime.newCondition".to_owned());
            }
            if name == crate::library::macros::MATCHES {
                out.functions.insert("matches".to_owned());
            }
            if let Some(operand) = target {
                walk(operand, scope, out);
            }
            for arg in &call.args {
                walk(arg, scope, out);
            }
        }
        Expr::Select(select) => walk(&select.operand, scope, out),
        Expr::List(list) => list.elements.iter().for_each(|item| walk(item, scope, out)),
        Expr::Map(map) => {
            for en in &map.entries {
                if let EntryExpr::MapEntry(me) = &en.expr {
                    walk(&me.key, scope, out);
                    walk(&me.value, scope, out);
                }
            }
        }
        Expr::Struct(message) => {
            for en in &message.entries {
                if let EntryExpr::StructField(f) = &en.expr {
                    walk(&f.value, scope, out);
                }
            }
        }
        Expr::Comprehension(comp) => {
            walk(&comp.iter_range, scope, out);
            walk(&comp.accu_init, scope, out);
            let depth = scope.len();
            scope.push(comp.iter_var.clone());
            if let Some(v2) = &comp.iter_var2 {
                scope.push(v2.clone());
            }
            scope.push(comp.accu_var.clone());
            walk(&comp.loop_cond, scope, out);
            walk(&comp.loop_step, scope, out);
            walk(&comp.result, scope, out);
            scope.truncate(depth);
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}
