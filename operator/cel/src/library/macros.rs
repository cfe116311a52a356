//! Parse-time macros cel 0.15 lacks: two-variable comprehensions, `cel.bind`, and kro's
//! `runtime.newCondition({type: ..., status: ...})` bare-key rewrite.
//!
//! The two-variable forms (`all`, `exists`, `existsOne`/`exists_one`, `transformList`,
//! `transformMap`, `transformMapEntry` with `(k, v, ...)`) become one-variable comprehensions
//! over `@entries(target)` (a list of `[key or index, value]` pairs) with `k`/`v` replaced by
//! `@it[0]`/`@it[1]`, as cel 0.15's interpreter ignores `iter_var2`.

use cel::common::ast::{
    CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr, ListExpr, LiteralValue, MapExpr,
    operators,
};
use cel::parser::{Macro, MacroExprHelper, ParseError};

/// The comprehension variable the two-variable macros iterate with.
pub(crate) const IT: &str = "@it";
/// The accumulator every macro uses, as cel's own macros do.
pub(crate) const RESULT: &str = "@result";
/// Internal function: `[key, value]` pairs of a list or map.
pub(crate) const ENTRIES: &str = "@entries";
/// Internal function: map with one more entry, error on a duplicate key.
pub(crate) const MAP_INSERT: &str = "@mapInsert";
/// Internal function produced by the `runtime.newCondition` macro.
pub(crate) const NEW_CONDITION: &str = "@newCondition";

fn ident(h: &mut MacroExprHelper<'_>, n: &str) -> IdedExpr {
    h.next_expr(Expr::Ident(n.to_string()))
}

fn call(
    h: &mut MacroExprHelper<'_>,
    f: &str,
    target: Option<IdedExpr>,
    args: Vec<IdedExpr>,
) -> IdedExpr {
    h.next_expr(Expr::Call(CallExpr {
        func_name: f.to_string(),
        target: target.map(Box::new),
        args,
    }))
}

fn lit_bool(h: &mut MacroExprHelper<'_>, b: bool) -> IdedExpr {
    h.next_expr(Expr::Literal(LiteralValue::Boolean(b.into())))
}

fn lit_int(h: &mut MacroExprHelper<'_>, i: i64) -> IdedExpr {
    h.next_expr(Expr::Literal(LiteralValue::Int(i.into())))
}

fn index(h: &mut MacroExprHelper<'_>, target: IdedExpr, i: i64) -> IdedExpr {
    let i = lit_int(h, i);
    call(h, operators::INDEX, None, vec![target, i])
}

/// Replaces free `k`/`v` with `@it[0]`/`@it[1]`, leaving names shadowed by inner
/// comprehensions alone.
fn subst(h: &mut MacroExprHelper<'_>, e: &mut IdedExpr, k: Option<&str>, v: Option<&str>) {
    match &mut e.expr {
        Expr::Ident(n) if Some(n.as_str()) == k || Some(n.as_str()) == v => {
            let idx = if Some(n.as_str()) == k { 0 } else { 1 };
            let it = ident(h, IT);
            *e = index(h, it, idx);
        }
        Expr::Call(c) => {
            if let Some(t) = c.target.as_mut() {
                subst(h, t, k, v);
            }
            for a in c.args.iter_mut() {
                subst(h, a, k, v);
            }
        }
        Expr::Select(s) => subst(h, &mut s.operand, k, v),
        Expr::List(l) => l.elements.iter_mut().for_each(|x| subst(h, x, k, v)),
        Expr::Map(m) => {
            for en in m.entries.iter_mut() {
                if let EntryExpr::MapEntry(me) = &mut en.expr {
                    subst(h, &mut me.key, k, v);
                    subst(h, &mut me.value, k, v);
                }
            }
        }
        Expr::Comprehension(c) => {
            subst(h, &mut c.iter_range, k, v);
            subst(h, &mut c.accu_init, k, v);
            let shadowed = |name: Option<&str>| {
                name.filter(|n| *n != c.iter_var && *n != c.accu_var)
                    .map(str::to_owned)
            };
            let (k2, v2) = (shadowed(k), shadowed(v));
            subst(h, &mut c.loop_cond, k2.as_deref(), v2.as_deref());
            subst(h, &mut c.loop_step, k2.as_deref(), v2.as_deref());
            subst(h, &mut c.result, k2.as_deref(), v2.as_deref());
        }
        _ => {}
    }
}

fn var_name(e: &IdedExpr) -> Option<String> {
    match &e.expr {
        Expr::Ident(n) => Some(n.clone()),
        _ => None,
    }
}

#[derive(Clone, Copy)]
enum TwoVar {
    All,
    Exists,
    ExistsOne,
    TransformList,
    TransformMap,
    TransformMapEntry,
}

type Expansion = Result<Option<IdedExpr>, ParseError>;

fn two_var(
    kind: TwoVar,
) -> impl Fn(&mut MacroExprHelper<'_>, &mut Option<IdedExpr>, &mut Vec<IdedExpr>) -> Expansion
+ Send
+ Sync
+ 'static {
    move |h, target, args| {
        let (Some(k), Some(v)) = (var_name(&args[0]), var_name(&args[1])) else {
            let id = args[0].id;
            return Err(h.new_error(id, "argument must be a simple name"));
        };
        if k == v {
            let id = args[1].id;
            return Err(h.new_error(
                id,
                format!("duplicate variable name: {v}; the two variables must differ"),
            ));
        }
        let Some(target) = target.take() else {
            return Ok(None);
        };
        let mut rest: Vec<IdedExpr> = args.drain(2..).collect();
        args.clear();
        for e in rest.iter_mut() {
            subst(h, e, Some(&k), Some(&v));
        }
        let range = call(h, ENTRIES, None, vec![target]);
        let result = ident(h, RESULT);
        let (init, cond, step) = match kind {
            TwoVar::All | TwoVar::Exists => {
                let pred = rest.pop().unwrap_or_default();
                let acc = ident(h, RESULT);
                let (init, op, cond_arg) = match kind {
                    TwoVar::All => (lit_bool(h, true), operators::LOGICAL_AND, acc),
                    _ => {
                        let not = call(h, operators::LOGICAL_NOT, None, vec![acc]);
                        (lit_bool(h, false), operators::LOGICAL_OR, not)
                    }
                };
                let cond = call(h, operators::NOT_STRICTLY_FALSE, None, vec![cond_arg]);
                let acc2 = ident(h, RESULT);
                let step = call(h, op, None, vec![acc2, pred]);
                (init, cond, step)
            }
            TwoVar::ExistsOne => {
                let pred = rest.pop().unwrap_or_default();
                let acc = ident(h, RESULT);
                let one = lit_int(h, 1);
                let plus = call(h, operators::ADD, None, vec![acc, one]);
                let acc2 = ident(h, RESULT);
                let step = call(h, operators::CONDITIONAL, None, vec![pred, plus, acc2]);
                let init = lit_int(h, 0);
                let cond = lit_bool(h, true);
                let acc3 = ident(h, RESULT);
                let one2 = lit_int(h, 1);
                let result = call(h, operators::EQUALS, None, vec![acc3, one2]);
                return Ok(Some(h.next_expr(Expr::Comprehension(Box::new(
                    ComprehensionExpr {
                        iter_range: range,
                        iter_var: IT.into(),
                        iter_var2: None,
                        accu_var: RESULT.into(),
                        accu_init: init,
                        loop_cond: cond,
                        loop_step: step,
                        result,
                    },
                )))));
            }
            TwoVar::TransformList | TwoVar::TransformMap | TwoVar::TransformMapEntry => {
                let value = rest.pop().unwrap_or_default();
                let filter = rest.pop();
                let acc = ident(h, RESULT);
                let (init, step) = match kind {
                    TwoVar::TransformList => {
                        let l = h.next_expr(Expr::List(ListExpr::new(vec![value])));
                        let init = h.next_expr(Expr::List(ListExpr::new(vec![])));
                        (init, call(h, operators::ADD, None, vec![acc, l]))
                    }
                    TwoVar::TransformMap => {
                        let it = ident(h, IT);
                        let key = index(h, it, 0);
                        let init = h.next_expr(Expr::Map(MapExpr { entries: vec![] }));
                        (init, call(h, MAP_INSERT, None, vec![acc, key, value]))
                    }
                    _ => {
                        let init = h.next_expr(Expr::Map(MapExpr { entries: vec![] }));
                        (init, call(h, MAP_INSERT, None, vec![acc, value]))
                    }
                };
                let step = match filter {
                    Some(f) => {
                        let acc = ident(h, RESULT);
                        call(h, operators::CONDITIONAL, None, vec![f, step, acc])
                    }
                    None => step,
                };
                (init, lit_bool(h, true), step)
            }
        };
        Ok(Some(h.next_expr(Expr::Comprehension(Box::new(
            ComprehensionExpr {
                iter_range: range,
                iter_var: IT.into(),
                iter_var2: None,
                accu_var: RESULT.into(),
                accu_init: init,
                loop_cond: cond,
                loop_step: step,
                result,
            },
        )))))
    }
}

/// `cel.bind(var, init, expr)`, expanded as cel-go does: a comprehension over no elements whose
/// accumulator is `var`.
fn cel_bind(
    h: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    if !matches!(target.as_ref().map(|t| &t.expr), Some(Expr::Ident(n)) if n == "cel") {
        return Ok(None);
    }
    let Some(var) = var_name(&args[0]) else {
        let id = args[0].id;
        return Err(h.new_error(id, "cel.bind() variable name must be a simple identifier"));
    };
    target.take();
    let result = args.pop().unwrap_or_default();
    let init = args.pop().unwrap_or_default();
    args.clear();
    let range = h.next_expr(Expr::List(ListExpr::new(vec![])));
    let cond = lit_bool(h, false);
    let step = ident(h, &var);
    Ok(Some(h.next_expr(Expr::Comprehension(Box::new(
        ComprehensionExpr {
            iter_range: range,
            iter_var: "#unused".into(),
            iter_var2: None,
            accu_var: var,
            accu_init: init,
            loop_cond: cond,
            loop_step: step,
            result,
        },
    )))))
}

/// The keys `runtime.newCondition` accepts.
pub(crate) const CONDITION_KEYS: [&str; 4] = ["type", "status", "reason", "message"];

/// `runtime.newCondition({type: 'Ready', status: 'True', reason: r, message: m})`: bare
/// identifier keys become string keys; keys are validated; a literal status must be `True`,
/// `False` or `Unknown`.
fn new_condition(
    h: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    if !matches!(target.as_ref().map(|t| &t.expr), Some(Expr::Ident(n)) if n == "runtime") {
        return Ok(None);
    }
    let arg_id = args[0].id;
    let Expr::Map(map) = &args[0].expr else {
        return Err(h.new_error(
            arg_id,
            "runtime.newCondition: argument must be a map literal, e.g. {type: 'Ready', status: 'True', reason: 'R', message: 'M'}",
        ));
    };
    let mut seen: Vec<String> = Vec::new();
    let mut checks: Vec<(u64, String)> = Vec::new();
    for entry in &map.entries {
        let EntryExpr::MapEntry(me) = &entry.expr else {
            continue;
        };
        let key = match &me.key.expr {
            Expr::Ident(n) => n.clone(),
            _ => {
                return Err(h.new_error(
                    me.key.id,
                    "runtime.newCondition: keys must be bare identifiers (type, status, reason, message); quoted or computed keys are not allowed",
                ));
            }
        };
        if !CONDITION_KEYS.contains(&key.as_str()) {
            return Err(h.new_error(
                me.key.id,
                format!(
                    "runtime.newCondition: unknown key {key:?} (allowed: type, status, reason, message)"
                ),
            ));
        }
        if seen.contains(&key) {
            return Err(h.new_error(
                me.key.id,
                format!("runtime.newCondition: duplicate key {key:?}"),
            ));
        }
        if key == "status"
            && let Expr::Literal(LiteralValue::String(s)) = &me.value.expr
            && !["True", "False", "Unknown"].contains(&s.inner())
        {
            checks.push((
                me.value.id,
                format!(
                    "runtime.newCondition: status must be one of True, False, Unknown (got {:?})",
                    s.inner()
                ),
            ));
        }
        seen.push(key);
    }
    if let Some((id, msg)) = checks.pop() {
        return Err(h.new_error(id, msg));
    }
    for required in ["type", "status"] {
        if !seen.iter().any(|k| k == required) {
            return Err(h.new_error(
                arg_id,
                format!("runtime.newCondition: '{required}' is required"),
            ));
        }
    }
    let runtime = target.take().unwrap_or_default();
    let mut arg = args.pop().unwrap_or_default();
    args.clear();
    if let Expr::Map(map) = &mut arg.expr {
        for entry in map.entries.iter_mut() {
            if let EntryExpr::MapEntry(me) = &mut entry.expr
                && let Expr::Ident(n) = &me.key.expr
            {
                let lit = Expr::Literal(LiteralValue::String(n.clone().into()));
                me.key = h.next_expr(lit);
            }
        }
    }
    Ok(Some(call(h, NEW_CONDITION, None, vec![runtime, arg])))
}

/// Internal function `matches` calls become: the same semantics (the `regex` crate), with the
/// compiled pattern cached instead of rebuilt on every call.
pub(crate) const MATCHES: &str = "@matches";

/// `s.matches(re)` and `matches(s, re)` become `@matches(s, re)`.
fn matches_cached(
    h: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    let mut operands: Vec<IdedExpr> = Vec::with_capacity(2);
    if let Some(t) = target.take() {
        operands.push(t);
    }
    operands.append(args);
    Ok(Some(call(h, MATCHES, None, operands)))
}

/// Every macro this module adds.
pub(crate) fn macros() -> Vec<Macro> {
    let mut out = vec![
        Macro::receiver("all", 3, two_var(TwoVar::All)),
        Macro::receiver("exists", 3, two_var(TwoVar::Exists)),
        Macro::receiver("existsOne", 3, two_var(TwoVar::ExistsOne)),
        Macro::receiver("exists_one", 3, two_var(TwoVar::ExistsOne)),
        Macro::receiver("bind", 3, cel_bind),
        Macro::receiver("newCondition", 1, new_condition),
        Macro::receiver("matches", 1, matches_cached),
        Macro::global("matches", 2, matches_cached),
    ];
    for (name, kind) in [
        ("transformList", TwoVar::TransformList),
        ("transformMap", TwoVar::TransformMap),
        ("transformMapEntry", TwoVar::TransformMapEntry),
    ] {
        out.push(Macro::receiver(name, 3, two_var(kind)));
        out.push(Macro::receiver(name, 4, two_var(kind)));
    }
    out
}
