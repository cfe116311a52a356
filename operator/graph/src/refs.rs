//! Reference extraction: the root identifiers an expression reads (resource ids, `schema`,
//! iterators, `each`), with comprehension variables and function namespaces left out.

use std::collections::BTreeSet;

use cel::common::ast::{EntryExpr, Expr, IdedExpr};

/// Namespaces of kro's and CEL's global functions (`hash.sha256(x)` parses as a call on `hash`).
pub const FUNCTION_NAMESPACES: &[&str] = &[
    "hash", "random", "json", "lists", "base64", "strings", "optional", "math", "cel", "sets",
];

/// What an expression uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    /// Root identifiers read (`deployment` in `deployment.status.x`), sorted.
    pub identifiers: BTreeSet<String>,
    /// Functions called (`omit`, `size`, `sha256`, …), sorted.
    pub functions: BTreeSet<String>,
}

impl References {
    /// Whether `omit()` is called.
    pub fn uses_omit(&self) -> bool {
        self.functions.contains("omit")
    }
}

/// The references of a parsed expression.
pub fn references(expr: &IdedExpr) -> References {
    let mut r = References::default();
    let mut scope: Vec<String> = Vec::new();
    walk(expr, &mut scope, &mut r);
    r
}

fn walk(e: &IdedExpr, scope: &mut Vec<String>, r: &mut References) {
    match &e.expr {
        Expr::Ident(name) => {
            if !name.starts_with('@') && !scope.iter().any(|s| s == name) {
                r.identifiers.insert(name.clone());
            }
        }
        Expr::Select(s) => walk(&s.operand, scope, r),
        Expr::Call(c) => {
            r.functions.insert(c.func_name.clone());
            if let Some(t) = &c.target {
                let namespace = matches!(&t.expr, Expr::Ident(n)
                    if FUNCTION_NAMESPACES.contains(&n.as_str()) && !scope.iter().any(|s| s == n));
                if !namespace {
                    walk(t, scope, r);
                }
            }
            for a in &c.args {
                walk(a, scope, r);
            }
        }
        Expr::List(l) => l.elements.iter().for_each(|x| walk(x, scope, r)),
        Expr::Map(m) => {
            for entry in &m.entries {
                match &entry.expr {
                    EntryExpr::MapEntry(me) => {
                        walk(&me.key, scope, r);
                        walk(&me.value, scope, r);
                    }
                    EntryExpr::StructField(sf) => walk(&sf.value, scope, r),
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                match &entry.expr {
                    EntryExpr::MapEntry(me) => {
                        walk(&me.key, scope, r);
                        walk(&me.value, scope, r);
                    }
                    EntryExpr::StructField(sf) => walk(&sf.value, scope, r),
                }
            }
        }
        Expr::Comprehension(c) => {
            walk(&c.iter_range, scope, r);
            walk(&c.accu_init, scope, r);
            let base = scope.len();
            scope.push(c.iter_var.clone());
            if let Some(v2) = &c.iter_var2 {
                scope.push(v2.clone());
            }
            scope.push(c.accu_var.clone());
            walk(&c.loop_cond, scope, r);
            walk(&c.loop_step, scope, r);
            walk(&c.result, scope, r);
            scope.truncate(base);
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(src: &str) -> Vec<String> {
        let env = cel::Env::stdlib();
        let p = env.compile(src).unwrap();
        references(p.expression()).identifiers.into_iter().collect()
    }

    #[test]
    fn references_table() {
        let cases: Vec<(&str, Vec<&str>)> = vec![
            ("schema.spec.name", vec!["schema"]),
            (
                "deployment.status.x > 0 ? a.b : c",
                vec!["a", "c", "deployment"],
            ),
            ("l.all(x, x > y)", vec!["l", "y"]),
            ("l.map(x, l2.filter(z, z == x))", vec!["l", "l2"]),
            ("hash.sha256(schema.spec.name)", vec!["schema"]),
            ("has(cm.data.key)", vec!["cm"]),
            ("{'a': b, c: 'd'}", vec!["b", "c"]),
            ("[a, b][0]", vec!["a", "b"]),
            ("'literal'", vec![]),
        ];
        for (src, want) in cases {
            assert_eq!(ids(src), want, "{src}");
        }
    }
}
