//! Cost limits: a per-evaluation budget, charged by calls the compiler weaves into the program.
//!
//! cel 0.15 has no cost tracking, so a compiled program is instrumented: every comprehension
//! iteration costs 1, values built inside comprehensions (`+`) and the results of functions that
//! can grow their input (`join`, `replace`, `format`, `base64.encode`, `merge`, ...) cost
//! 1 + their size (string/bytes length, list/map size), and `lists.range(n)` and
//! `random.seededString(n, _)` cost `n` before they allocate. The instrumentation keeps the
//! shapes cel's interpreter optimises (`map`/`filter` append in place). The budget is a
//! thread-local set for the duration of one evaluation.

use std::cell::Cell;

use cel::ExecutionError;
use cel::common::ast::{CallExpr, EntryExpr, Expr, IdedExpr, operators};
use cel::common::types;
use cel::common::types::{CelBytes, CelString};
use cel::common::value::{CowVal, Val};

use crate::decl::Decl;

/// The default budget of one evaluation, in cost units (Kubernetes' per-expression limit for
/// validation rules is of the same order).
pub const DEFAULT_COST_LIMIT: u64 = 1_000_000;

#[derive(Clone, Copy, Debug)]
struct Budget {
    used: u64,
    limit: u64,
    exceeded: bool,
}

thread_local! {
    static BUDGET: Cell<Budget> = const { Cell::new(Budget { used: 0, limit: u64::MAX, exceeded: false }) };
}

/// Charges `units` against the current evaluation's budget.
pub(crate) fn charge(units: u64, function: &str) -> Result<(), ExecutionError> {
    BUDGET.with(|b| {
        let mut budget = b.get();
        budget.used = budget.used.saturating_add(units);
        if budget.used > budget.limit {
            budget.exceeded = true;
            b.set(budget);
            return Err(ExecutionError::function_error(
                function,
                format!("cost limit of {} exceeded", budget.limit),
            ));
        }
        b.set(budget);
        Ok(())
    })
}

/// The budget of one evaluation; restores the previous one when finished.
pub(crate) struct Metered {
    previous: Budget,
}

impl Metered {
    pub(crate) fn start(limit: u64) -> Metered {
        let previous = BUDGET.with(|b| {
            b.replace(Budget {
                used: 0,
                limit,
                exceeded: false,
            })
        });
        Metered { previous }
    }

    /// Ends the evaluation: `(units used, whether the limit was exceeded)`.
    pub(crate) fn finish(self) -> (u64, bool) {
        let b = BUDGET.with(|b| b.replace(self.previous));
        (b.used, b.exceeded)
    }
}

/// A size measure of a value for the cost budget: string and bytes length, list and map size.
pub(crate) fn size_of(v: &dyn Val) -> u64 {
    if let Some(s) = v.downcast_ref::<CelString>() {
        return s.inner().len() as u64;
    }
    if let Some(b) = v.downcast_ref::<CelBytes>() {
        return b.inner().len() as u64;
    }
    v.as_sizer()
        .map_or(1, |s| u64::try_from(*s.size().inner()).unwrap_or(0))
}

const COST: &str = "@cost";
const TICK: &str = "@tick";
const PRE: &str = "@pre";

fn cost<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let v = args.remove(0);
    charge(1 + size_of(v.as_ref()), "cost")?;
    Ok(v)
}

fn tick<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    charge(1, "cost")?;
    Ok(args.remove(0))
}

fn pre<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let v = args.remove(0);
    if let Some(n) = v.downcast_ref::<types::CelInt>() {
        charge(n.inner().unsigned_abs(), "cost")?;
    }
    Ok(v)
}

pub(crate) fn decls() -> Vec<Decl> {
    vec![
        Decl::global_alt(COST, "cost", vec![types::DYN_TYPE], cost),
        Decl::global_alt(TICK, "tick", vec![types::DYN_TYPE], tick),
        Decl::global_alt(PRE, "pre", vec![types::DYN_TYPE], pre),
    ]
}

/// Functions whose result is no bigger than their inputs (or constant-size): not charged.
const BOUNDED: &[&str] = &[
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "duration",
    "timestamp",
    "dyn",
    "type",
    "getFullYear",
    "getMonth",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
    "hasValue",
    "value",
    "orValue",
    "or",
    "of",
    "ofNonZeroValue",
    "none",
    "charAt",
    "indexOf",
    "lastIndexOf",
    "lowerAscii",
    "upperAscii",
    "trim",
    "reverse",
    "substring",
    "slice",
    "sort",
    "distinct",
    "isSorted",
    "sum",
    "min",
    "max",
    "first",
    "last",
    "find",
    "url",
    "isURL",
    "getScheme",
    "getHost",
    "getHostname",
    "getPort",
    "getEscapedPath",
    "ip",
    "isIP",
    "isCanonical",
    "family",
    "isUnspecified",
    "isLoopback",
    "isLinkLocalMulticast",
    "isLinkLocalUnicast",
    "isGlobalUnicast",
    "cidr",
    "isCIDR",
    "containsIP",
    "containsCIDR",
    "prefixLength",
    "masked",
    "semver",
    "isSemver",
    "major",
    "minor",
    "patch",
    "isGreaterThan",
    "isLessThan",
    "compareTo",
    "quantity",
    "isQuantity",
    "add",
    "sub",
    "asInteger",
    "asApproximateFloat",
    "isInteger",
    "sign",
    "sha256",
    "md5",
    "fnv64a",
    "seededInt",
    "seededString",
    "unmarshal",
    "omit",
    "condition",
    "unwrap",
    "unwrapOpt",
];

fn wrap(e: IdedExpr, f: &str) -> IdedExpr {
    IdedExpr {
        id: e.id,
        expr: Expr::Call(CallExpr {
            func_name: f.to_owned(),
            target: None,
            args: vec![e],
        }),
    }
}

fn is_accu(e: &IdedExpr, accu: &str) -> bool {
    matches!(&e.expr, Expr::Ident(n) if n == accu)
}

fn is_append(step: &IdedExpr, accu: &str) -> bool {
    match &step.expr {
        Expr::Call(c)
            if c.func_name == operators::ADD && c.target.is_none() && c.args.len() == 2 =>
        {
            is_accu(&c.args[0], accu) && matches!(c.args[1].expr, Expr::List(_))
        }
        _ => false,
    }
}

/// `accu + [items]`: the list literal's elements.
fn append_items<'a>(step: &'a mut IdedExpr, accu: &str) -> Option<&'a mut Vec<IdedExpr>> {
    match &mut step.expr {
        Expr::Call(c)
            if c.func_name == operators::ADD && c.target.is_none() && c.args.len() == 2 =>
        {
            if !is_accu(&c.args[0], accu) {
                return None;
            }
            match &mut c.args[1].expr {
                Expr::List(l) => Some(&mut l.elements),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Rewrites `e` so that evaluating it charges the budget; see the module documentation.
pub(crate) fn instrument(e: &mut IdedExpr, in_loop: bool) {
    match &mut e.expr {
        Expr::Comprehension(c) => {
            instrument(&mut c.iter_range, true);
            instrument(&mut c.accu_init, true);
            let accu = c.accu_var.clone();
            let append_shape = is_accu(&c.result, &accu)
                && matches!(c.loop_cond.expr, Expr::Literal(_))
                && (is_append(&c.loop_step, &accu)
                    || matches!(&c.loop_step.expr, Expr::Call(call)
                        if call.func_name == operators::CONDITIONAL
                            && call.args.len() == 3
                            && is_accu(&call.args[2], &accu)
                            && is_append(&call.args[1], &accu)));
            if append_shape {
                let (guard, step) = match &mut c.loop_step.expr {
                    Expr::Call(call) if call.func_name == operators::CONDITIONAL => {
                        let (g, rest) = call.args.split_at_mut(1);
                        (Some(&mut g[0]), &mut rest[0])
                    }
                    _ => (None, &mut c.loop_step),
                };
                if let Some(g) = guard {
                    instrument(g, true);
                    *g = wrap(std::mem::take(g), TICK);
                }
                if let Some(items) = append_items(step, &accu) {
                    for item in items.iter_mut() {
                        instrument(item, true);
                        *item = wrap(std::mem::take(item), COST);
                    }
                }
            } else {
                instrument(&mut c.loop_cond, true);
                c.loop_cond = wrap(std::mem::take(&mut c.loop_cond), TICK);
                instrument(&mut c.loop_step, true);
                instrument(&mut c.result, true);
            }
        }
        Expr::Call(c) => {
            if let Some(t) = c.target.as_mut() {
                instrument(t, in_loop);
            }
            for a in c.args.iter_mut() {
                instrument(a, in_loop);
            }
            let name = c.func_name.as_str();
            let namespace = match c.target.as_deref().map(|t| &t.expr) {
                Some(Expr::Ident(n)) => Some(n.as_str()),
                _ => None,
            };
            if name == "range" && namespace == Some("lists") && c.args.len() == 1 {
                c.args[0] = wrap(std::mem::take(&mut c.args[0]), PRE);
                return;
            }
            let is_operator = name.starts_with('_')
                || name.starts_with('@')
                || name.starts_with('!')
                || name.starts_with('-');
            let charged = if is_operator {
                in_loop && name == operators::ADD
            } else {
                !BOUNDED.contains(&name)
            };
            if charged {
                *e = wrap(std::mem::take(e), COST);
            }
        }
        Expr::Select(s) => instrument(&mut s.operand, in_loop),
        Expr::List(l) => l.elements.iter_mut().for_each(|x| instrument(x, in_loop)),
        Expr::Map(m) => {
            for en in m.entries.iter_mut() {
                if let EntryExpr::MapEntry(me) = &mut en.expr {
                    instrument(&mut me.key, in_loop);
                    instrument(&mut me.value, in_loop);
                }
            }
        }
        Expr::Struct(s) => {
            for en in s.entries.iter_mut() {
                if let EntryExpr::StructField(f) = &mut en.expr {
                    instrument(&mut f.value, in_loop);
                }
            }
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}
