//! Cost limits: a per-evaluation budget, charged by calls the compiler weaves into the program.
//!
//! cel 0.15 has no cost tracking, so a compiled program is instrumented. Work is charged before
//! it is done, by the size of what it reads (strings and bytes by length, lists and maps by
//! their elements, all the way down; see [`deep_size`]):
//! - every comprehension iteration costs 1;
//! - `==`, `!=`, `<`, `<=`, `>`, `>=`, `+` and `in` charge their operands (literals are free;
//!   `in` on a map charges only the key), `[...]` charges a string key;
//! - every function charges its receiver and arguments before it runs (`contains`, `indexOf`,
//!   `matches`, `find`, `reverse`, `split`, `json.marshal`, ...), `size` only a string's length,
//!   `sort` its input times the log of its length, `format` its format string by the longest
//!   output each clause can make;
//! - `distinct`, `replace` and `join` run kro-cel's own implementations, which charge their exact
//!   output size before allocating it (`distinct` is linear, hashing CEL values);
//! - values built inside comprehensions and the results of functions that build values cost
//!   1 + their size afterwards; `lists.range(n)` and `random.seededString(n, _)` cost `n` before
//!   they allocate.
//!
//! The instrumentation keeps the shapes cel's interpreter optimises (`map`/`filter` append in
//! place). The budget is a thread-local set for the duration of one evaluation.
//!
//! A wall-clock [`Deadline`] can be set over every evaluation on a thread: the same charges
//! look at the clock (every [`DEADLINE_CHECK_EVERY`] charges, and before every large one), so
//! an evaluation running on a thread nobody can cancel stops by itself once the deadline has
//! passed, with [`crate::CelError::DeadlineExceeded`]. Between two looks it does at most the
//! work those charges paid for.

use std::cell::Cell;
use std::time::Instant;

use cel::ExecutionError;
use cel::common::ast::{CallExpr, EntryExpr, Expr, IdedExpr, operators};
use cel::common::types;
use cel::common::types::{
    CelBool, CelBytes, CelDouble, CelInt, CelList, CelMap, CelOptional, CelString, CelUInt,
};
use cel::common::value::{CowVal, Val};

use crate::decl::{Decl, arg_str as string_arg};

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

/// How many charges may pass between two looks at the clock.
pub const DEADLINE_CHECK_EVERY: u32 = 256;
/// A charge of at least this many units looks at the clock before the work it pays for.
const DEADLINE_CHECK_UNITS: u64 = 4096;

#[derive(Clone, Copy, Debug)]
struct Clock {
    at: Option<Instant>,
    charges: u32,
    passed: bool,
}

thread_local! {
    static DEADLINE: Cell<Clock> = const { Cell::new(Clock { at: None, charges: 0, passed: false }) };
}

/// A wall-clock deadline over every evaluation on this thread, from [`Deadline::start`] until
/// the guard is dropped (the previous deadline, if any, is restored then). Once the deadline
/// has passed, every charge fails, so loops unwind at once.
#[derive(Debug)]
pub struct Deadline {
    previous: Clock,
}

impl Deadline {
    /// Sets `at` as the deadline of the evaluations on this thread.
    pub fn start(at: Instant) -> Deadline {
        let previous = DEADLINE.with(|d| {
            d.replace(Clock {
                at: Some(at),
                charges: 0,
                passed: false,
            })
        });
        Deadline { previous }
    }

    /// Whether an evaluation under this deadline was stopped by it.
    pub fn passed(&self) -> bool {
        deadline_passed()
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(self.previous));
    }
}

/// Whether the current thread's deadline stopped an evaluation.
pub(crate) fn deadline_passed() -> bool {
    DEADLINE.with(|d| d.get().passed)
}

/// Fails once the current thread's deadline has passed (looking at the clock only every
/// [`DEADLINE_CHECK_EVERY`] charges, or before a charge of [`DEADLINE_CHECK_UNITS`] or more).
fn check_deadline(units: u64, function: &str) -> Result<(), ExecutionError> {
    DEADLINE.with(|d| {
        let mut clock = d.get();
        let Some(at) = clock.at else {
            return Ok(());
        };
        if !clock.passed {
            clock.charges = clock.charges.wrapping_add(1);
            let look = clock.charges % DEADLINE_CHECK_EVERY == 0 || units >= DEADLINE_CHECK_UNITS;
            clock.passed = look && Instant::now() >= at;
            d.set(clock);
            if !clock.passed {
                return Ok(());
            }
        }
        Err(ExecutionError::function_error(
            function,
            "the evaluation deadline has passed",
        ))
    })
}

/// Charges `units` against the current evaluation's budget.
pub(crate) fn charge(units: u64, function: &str) -> Result<(), ExecutionError> {
    check_deadline(units, function)?;
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

/// What is left of the current evaluation's budget.
fn remaining() -> u64 {
    BUDGET.with(|b| {
        let budget = b.get();
        budget.limit.saturating_sub(budget.used)
    })
}

/// A size measure of a value for the cost budget: string and bytes length plus 1 for every
/// value, walking into lists, maps (keys and values) and optionals without recursion. Stops
/// counting once past `cap`, so measuring never costs more than the budget it checks.
pub(crate) fn deep_size<'a, 'v>(v: &'a (dyn Val + 'v), cap: u64) -> u64 {
    let mut total: u64 = 0;
    let mut stack: Vec<&'a (dyn Val + 'v)> = vec![v];
    while let Some(v) = stack.pop() {
        total = total.saturating_add(1 + flat_len(v));
        if total > cap {
            return total;
        }
        if let Some(list) = v.downcast_ref::<CelList>() {
            stack.extend(list.inner().iter().map(|item| item.as_ref()));
        } else if let Some(map) = v.downcast_ref::<CelMap>() {
            for (key, value) in map.inner() {
                stack.push(key.inner());
                stack.push(value.as_ref());
            }
        } else if let Some(inner) = v.downcast_ref::<CelOptional>().and_then(|o| o.option()) {
            stack.push(inner);
        }
    }
    total
}

/// A shallow size measure of a value: string and bytes length, list and map size.
pub(crate) fn size_of(v: &dyn Val) -> u64 {
    let flat = flat_len(v);
    if flat > 0 {
        return flat;
    }
    v.as_sizer()
        .map_or(1, |s| u64::try_from(*s.size().inner()).unwrap_or(0))
}

/// String and bytes length, 0 for anything else.
fn flat_len(v: &dyn Val) -> u64 {
    if let Some(s) = v.downcast_ref::<CelString>() {
        return s.inner().len() as u64;
    }
    if let Some(b) = v.downcast_ref::<CelBytes>() {
        return b.inner().len() as u64;
    }
    0
}

const COST: &str = "@cost";
const TICK: &str = "@tick";
const PRE: &str = "@pre";
/// Charges its argument's [`deep_size`] and passes it through.
const SIZE: &str = "@size";
/// Charges a string's or bytes' length (1 for anything else) and passes it through.
const FLAT: &str = "@flat";
/// The right side of `in`: a map charges 1 (a hash lookup), anything else its deep size.
const CONTAINER: &str = "@container";
/// The receiver of `sort`: deep size times the log of the length.
const SORTED: &str = "@sorted";
/// The receiver of `format`: its length plus the longest output each `%` clause can make.
const FORMAT: &str = "@format";
/// kro-cel's `distinct`, `replace` and `join`, which charge before they allocate.
pub(crate) const DISTINCT: &str = "@distinct";
pub(crate) const REPLACE: &str = "@replace";
pub(crate) const JOIN: &str = "@join";

type R<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

fn cost<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let v = args.remove(0);
    charge(deep_size(v.as_ref(), remaining()).max(1), "cost")?;
    Ok(v)
}

fn size<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let v = args.remove(0);
    charge(deep_size(v.as_ref(), remaining()), "cost")?;
    Ok(v)
}

fn flat<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let v = args.remove(0);
    charge(1 + flat_len(v.as_ref()), "cost")?;
    Ok(v)
}

fn container<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let v = args.remove(0);
    if v.downcast_ref::<CelMap>().is_some() {
        charge(1, "cost")?;
    } else {
        charge(deep_size(v.as_ref(), remaining()), "cost")?;
    }
    Ok(v)
}

fn sorted<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let v = args.remove(0);
    let len = v
        .downcast_ref::<CelList>()
        .map_or(1, |l| l.inner().len() as u64);
    let log = u64::from(64 - len.leading_zeros()).max(1);
    charge(
        deep_size(v.as_ref(), remaining()).saturating_mul(log),
        "cost",
    )?;
    Ok(v)
}

/// The longest output one `format` clause can make: cel's largest precision (100) plus the
/// digits of the largest double.
const LONGEST_CLAUSE: u64 = 100 + 330;

fn format<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let v = args.remove(0);
    if let Some(s) = v.downcast_ref::<CelString>() {
        let clauses = s.inner().matches('%').count() as u64;
        charge(
            (s.inner().len() as u64).saturating_add(clauses.saturating_mul(LONGEST_CLAUSE)),
            "format",
        )?;
    }
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
    use types::DYN_TYPE;
    vec![
        Decl::global_alt(COST, "cost", vec![DYN_TYPE], cost),
        Decl::global_alt(TICK, "tick", vec![DYN_TYPE], tick),
        Decl::global_alt(PRE, "pre", vec![DYN_TYPE], pre),
        Decl::global_alt(SIZE, "size", vec![DYN_TYPE], size),
        Decl::global_alt(FLAT, "flat", vec![DYN_TYPE], flat),
        Decl::global_alt(CONTAINER, "container", vec![DYN_TYPE], container),
        Decl::global_alt(SORTED, "sorted", vec![DYN_TYPE], sorted),
        Decl::global_alt(FORMAT, "format", vec![DYN_TYPE], format),
        Decl::global_alt(DISTINCT, "distinct", vec![DYN_TYPE], distinct),
        Decl::global_alt(
            REPLACE,
            "replace",
            vec![DYN_TYPE, DYN_TYPE, DYN_TYPE],
            replace,
        ),
        Decl::global_alt(
            REPLACE,
            "replace_n",
            vec![DYN_TYPE, DYN_TYPE, DYN_TYPE, DYN_TYPE],
            replace,
        ),
        Decl::global_alt(JOIN, "join", vec![DYN_TYPE], join),
        Decl::global_alt(JOIN, "join_sep", vec![DYN_TYPE, DYN_TYPE], join),
    ]
}

/// `s.replace(from, to[, n])` with cel's semantics (all occurrences, or the first `n` when
/// `n >= 0`; an empty `from` matches between every character), charged its scan and its exact
/// output length before the result is allocated.
fn replace<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let s = string_arg(&args, 0, "replace")?;
    let from = string_arg(&args, 1, "replace")?;
    let to = string_arg(&args, 2, "replace")?;
    let limit = match args.get(3) {
        Some(_) => usize::try_from(crate::decl::arg_int(&args, 3, "replace")?).ok(),
        None => None,
    };
    charge(s.len() as u64 + 1, "replace")?;
    let found = if from.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(from).count()
    };
    let replaced = limit.map_or(found, |n| n.min(found)) as u64;
    let out = (s.len() as u64)
        .saturating_sub(replaced.saturating_mul(from.len() as u64))
        .saturating_add(replaced.saturating_mul(to.len() as u64));
    charge(out, "replace")?;
    let result = match limit {
        Some(n) => s.replacen(from, to, n),
        None => s.replace(from, to),
    };
    Ok(CowVal::owned(CelString::from(result)))
}

/// `list.join([sep])`: the strings of `list`, `sep` between each, charged the exact output
/// length before it is allocated.
fn join<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let sep = match args.get(1) {
        Some(_) => string_arg(&args, 1, "join")?,
        None => "",
    };
    let list = args[0].as_ref();
    let mut parts: Vec<&str> = Vec::new();
    let mut items = list
        .as_iterable()
        .ok_or_else(|| {
            ExecutionError::function_error(
                "join",
                format!("expected a list of strings, got {}", list.get_type().name()),
            )
        })?
        .iter();
    while let Some(item) = items.next() {
        let part = item.downcast_ref::<CelString>().ok_or_else(|| {
            ExecutionError::function_error(
                "join",
                format!(
                    "expected a list of strings, found {}",
                    item.get_type().name()
                ),
            )
        })?;
        parts.push(part.inner());
    }
    let total = parts
        .iter()
        .map(|p| p.len() as u64)
        .fold(0u64, u64::saturating_add)
        .saturating_add((parts.len().saturating_sub(1) as u64).saturating_mul(sep.len() as u64));
    charge(total.saturating_add(1), "join")?;
    Ok(CowVal::owned(CelString::from(parts.join(sep))))
}

/// `list.distinct()`: the first of each set of equal elements, in order, with CEL's equality
/// (`1`, `1u` and `1.0` are one element), in linear time: elements are hashed by a canonical
/// key, and only values without one (NaN, timestamps, Kubernetes types, ...) are compared
/// pairwise, each comparison charged.
fn distinct<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let list = args[0].as_ref();
    let list = list.downcast_ref::<CelList>().ok_or_else(|| {
        ExecutionError::function_error(
            "distinct",
            format!("expected a list, got {}", list.get_type().name()),
        )
    })?;
    charge(deep_size(args[0].as_ref(), remaining()), "distinct")?;
    let items: Vec<&(dyn Val + 'v)> = list.inner().iter().map(|item| item.as_ref()).collect();
    let keep = distinct_positions(&items)?;
    Ok(CowVal::owned(CelList::from(
        keep.into_iter()
            .map(|i| items[i].clone_as_boxed())
            .collect::<Vec<_>>(),
    )))
}

/// A hashable stand-in for a CEL value with the same equality.
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key<'a> {
    Null,
    Bool(bool),
    /// int, uint and integral doubles, compared by value.
    Number(i128),
    /// Other doubles (not NaN), by their bits.
    Double(u64),
    Str(&'a str),
    Bytes(&'a [u8]),
    List(Vec<Key<'a>>),
    /// Entries sorted by key.
    Map(Vec<(Key<'a>, Key<'a>)>),
    Optional(Option<Box<Key<'a>>>),
}

/// The key of `v`, or `None` when it has none (see [`distinct`]).
fn key_of<'a>(v: &'a dyn Val) -> Option<Key<'a>> {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || key_here(v))
}

fn key_here<'a>(v: &'a dyn Val) -> Option<Key<'a>> {
    if let Some(s) = v.downcast_ref::<CelString>() {
        return Some(Key::Str(s.inner()));
    }
    if let Some(i) = v.downcast_ref::<CelInt>() {
        return Some(Key::Number(i128::from(*i.inner())));
    }
    if let Some(u) = v.downcast_ref::<CelUInt>() {
        return Some(Key::Number(i128::from(*u.inner())));
    }
    if let Some(d) = v.downcast_ref::<CelDouble>() {
        let d = *d.inner();
        if d.is_nan() {
            return None;
        }
        if d.fract() == 0.0 && d.abs() < 1.0e38 {
            return Some(Key::Number(d as i128));
        }
        return Some(Key::Double(d.to_bits()));
    }
    if let Some(b) = v.downcast_ref::<CelBool>() {
        return Some(Key::Bool(*b.inner()));
    }
    if let Some(b) = v.downcast_ref::<CelBytes>() {
        return Some(Key::Bytes(b.inner()));
    }
    if let Some(list) = v.downcast_ref::<CelList>() {
        return list
            .inner()
            .iter()
            .map(|item| key_of(item.as_ref()))
            .collect::<Option<Vec<_>>>()
            .map(Key::List);
    }
    if let Some(map) = v.downcast_ref::<CelMap>() {
        let mut entries = map
            .inner()
            .iter()
            .map(|(k, val)| Some((key_of(k.inner())?, key_of(val.as_ref())?)))
            .collect::<Option<Vec<_>>>()?;
        entries.sort();
        return Some(Key::Map(entries));
    }
    if let Some(optional) = v.downcast_ref::<CelOptional>() {
        return match optional.option() {
            Some(inner) => Some(Key::Optional(Some(Box::new(key_of(inner)?)))),
            None => Some(Key::Optional(None)),
        };
    }
    if v.get_type().kind() == types::Kind::NullType {
        return Some(Key::Null);
    }
    None
}

/// Indexes of the first of each set of equal items, in order.
pub(crate) fn distinct_positions<'v>(
    items: &[&(dyn Val + 'v)],
) -> Result<Vec<usize>, ExecutionError> {
    let mut seen: std::collections::HashSet<Key<'_>> = std::collections::HashSet::new();
    let mut unhashable: Vec<usize> = Vec::new();
    let mut keep = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match key_of(*item) {
            Some(key) => {
                if seen.insert(key) {
                    keep.push(i);
                }
            }
            None => {
                charge(unhashable.len() as u64, "distinct")?;
                if !unhashable.iter().any(|&j| item.equals(items[j])) {
                    unhashable.push(i);
                    keep.push(i);
                }
            }
        }
    }
    Ok(keep)
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

/// Identifiers that name a function namespace when they are a call's target
/// (`lists.range(n)`, `optional.of(x)`): the interpreter resolves these by the target's name,
/// so they are never wrapped.
const NAMESPACES: &[&str] = &[
    "lists", "strings", "base64", "optional", "random", "hash", "json", "ip", "runtime", "math",
    "sets", "cel",
];

/// Functions whose work does not grow with their arguments: not pre-charged.
const CONSTANT_TIME: &[&str] = &["hasValue", "type", "none"];

/// Routes `distinct`, `replace` and `join` calls to kro-cel's charged implementations.
fn redirect(c: &mut CallExpr) -> bool {
    let own = match (c.func_name.as_str(), c.target.is_some(), c.args.len()) {
        ("distinct", true, 0) => DISTINCT,
        ("replace", true, 2 | 3) => REPLACE,
        ("join", true, 0 | 1) => JOIN,
        _ => return false,
    };
    let Some(target) = c.target.take() else {
        return false;
    };
    c.func_name = own.to_owned();
    c.args.insert(0, *target);
    true
}

/// Wraps a call's operands so the work it does on them is charged before it runs.
fn pre_charge(c: &mut CallExpr, qualified: bool) {
    let all = |c: &mut CallExpr, f: &str| {
        for a in c.args.iter_mut() {
            charge_operand(a, f);
        }
    };
    let name = c.func_name.clone();
    match name.as_str() {
        operators::EQUALS
        | operators::NOT_EQUALS
        | operators::LESS
        | operators::LESS_EQUALS
        | operators::GREATER
        | operators::GREATER_EQUALS
        | operators::ADD => all(c, SIZE),
        operators::IN if c.args.len() == 2 => {
            charge_operand(&mut c.args[0], SIZE);
            charge_operand(&mut c.args[1], CONTAINER);
        }
        operators::INDEX | operators::OPT_INDEX if c.args.len() == 2 => {
            charge_operand(&mut c.args[1], FLAT);
        }
        crate::library::macros::ENTRIES | crate::library::macros::MATCHES => all(c, SIZE),
        "size" => {
            if let Some(t) = c.target.as_deref_mut() {
                charge_operand(t, FLAT);
            }
            all(c, FLAT);
        }
        "sort" | "@sortByAssociatedKeys" | "format" => {
            if let Some(t) = c.target.as_deref_mut() {
                charge_operand(t, if name == "format" { FORMAT } else { SORTED });
            }
            all(c, SIZE);
        }
        other if other.starts_with(['_', '@', '!', '-']) || CONSTANT_TIME.contains(&other) => {}
        _ => {
            if !qualified && let Some(t) = c.target.as_deref_mut() {
                charge_operand(t, SIZE);
            }
            all(c, SIZE);
        }
    }
}

/// Wraps `e` in the charging function `f`, unless it is a literal (bounded by the
/// expression's length).
fn charge_operand(e: &mut IdedExpr, f: &str) {
    if !matches!(e.expr, Expr::Literal(_)) {
        *e = wrap(std::mem::take(e), f);
    }
}

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
pub(crate) fn instrument(e: &mut IdedExpr) {
    match &mut e.expr {
        Expr::Comprehension(c) => {
            instrument(&mut c.iter_range);
            instrument(&mut c.accu_init);
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
                    instrument(g);
                    *g = wrap(std::mem::take(g), TICK);
                }
                if let Some(items) = append_items(step, &accu) {
                    for item in items.iter_mut() {
                        instrument(item);
                        *item = wrap(std::mem::take(item), COST);
                    }
                }
            } else {
                instrument(&mut c.loop_cond);
                c.loop_cond = wrap(std::mem::take(&mut c.loop_cond), TICK);
                instrument(&mut c.loop_step);
                instrument(&mut c.result);
            }
        }
        Expr::Call(c) => {
            if let Some(t) = c.target.as_mut() {
                instrument(t);
            }
            for a in c.args.iter_mut() {
                instrument(a);
            }
            let namespace = match c.target.as_deref().map(|t| &t.expr) {
                Some(Expr::Ident(n)) if NAMESPACES.contains(&n.as_str()) => Some(n.clone()),
                _ => None,
            };
            if c.func_name == "range" && namespace.as_deref() == Some("lists") && c.args.len() == 1
            {
                c.args[0] = wrap(std::mem::take(&mut c.args[0]), PRE);
                return;
            }
            if namespace.is_none() && redirect(c) {
                return;
            }
            pre_charge(c, namespace.is_some());
            let name = c.func_name.as_str();
            let is_operator = name.starts_with('_')
                || name.starts_with('@')
                || name.starts_with('!')
                || name.starts_with('-');
            if !is_operator && !BOUNDED.contains(&name) {
                *e = wrap(std::mem::take(e), COST);
            }
        }
        Expr::Select(s) => instrument(&mut s.operand),
        Expr::List(l) => l.elements.iter_mut().for_each(instrument),
        Expr::Map(m) => {
            for en in m.entries.iter_mut() {
                if let EntryExpr::MapEntry(me) = &mut en.expr {
                    instrument(&mut me.key);
                    instrument(&mut me.value);
                }
            }
        }
        Expr::Struct(s) => {
            for en in s.entries.iter_mut() {
                if let EntryExpr::StructField(f) = &mut en.expr {
                    instrument(&mut f.value);
                }
            }
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{Metered, distinct_positions};
    use crate::{Activation, CelValue, Environment};
    use cel::common::value::Val;

    /// Values whose CEL equality has corners: numbers across types, NaN, nested containers,
    /// maps with int and uint keys, optionals, timestamps with different offsets.
    const POOL: &[&str] = &[
        "1",
        "1u",
        "1.0",
        "-0.0",
        "0",
        "0u",
        "2.5",
        "'a'",
        "'b'",
        "''",
        "b'a'",
        "true",
        "false",
        "null",
        "[1]",
        "[1.0]",
        "[1, 'a']",
        "[]",
        "{}",
        "{1: 'a'}",
        "{1u: 'a'}",
        "{'k': [1, 'a']}",
        "{'k': [1.0, 'a']}",
        "double('NaN')",
        "[double('NaN')]",
        "optional.of(1)",
        "optional.of(1.0)",
        "optional.none()",
        "timestamp('2020-01-01T00:00:00Z')",
        "duration('1s')",
        "duration('1000ms')",
        "{'t': duration('1s')}",
        "{'t': duration('1000ms')}",
    ];

    fn pool() -> Vec<CelValue> {
        let env = Environment::new();
        POOL.iter()
            .filter_map(|e| env.compile(e).ok()?.eval(&Activation::new()).ok())
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn distinct_keeps_what_pairwise_equality_keeps(picks in prop::collection::vec(0..64usize, 0..24)) {
            let values = pool();
            let items: Vec<&dyn Val> = picks.iter().map(|&i| values[i % values.len()].0.as_ref()).collect();
            let mut reference: Vec<usize> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if !reference.iter().any(|&j| item.equals(items[j])) {
                    reference.push(i);
                }
            }
            let metered = Metered::start(u64::MAX);
            let got = distinct_positions(&items);
            metered.finish();
            prop_assert_eq!(got.ok(), Some(reference));
        }
    }
}
