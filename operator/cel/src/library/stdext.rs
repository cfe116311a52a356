//! Functions cel 0.15 lacks from cel-go and Kubernetes: optional v2 (`first`, `last`,
//! `optional.unwrap`, `unwrapOpt`), the Kubernetes list library (`isSorted`, `sum`, `min`,
//! `max`, `indexOf`, `lastIndexOf`) and the Kubernetes regex library (`find`, `findAll`).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use cel::ExecutionError;
use cel::common::types::{
    self, CelDuration, CelInt, CelList, CelOptional, CelString, CelUInt, Kind,
};
use cel::common::value::{CowVal, Val};

use crate::decl::{Decl, arg_int, arg_str};

type R<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

fn list<'a, 'v>(v: &'a (dyn Val + 'v), f: &str) -> Result<&'a CelList<'v>, ExecutionError> {
    v.downcast_ref::<CelList>().ok_or_else(|| {
        ExecutionError::function_error(f, format!("expected a list, got {}", v.get_type().name()))
    })
}

fn first<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let l = list(args[0].as_ref(), "first")?;
    Ok(CowVal::owned(match l.inner().first() {
        Some(v) => CelOptional::of(v.clone_as_boxed()),
        None => CelOptional::none(),
    }))
}

fn last<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let l = list(args[0].as_ref(), "last")?;
    Ok(CowVal::owned(match l.inner().last() {
        Some(v) => CelOptional::of(v.clone_as_boxed()),
        None => CelOptional::none(),
    }))
}

fn unwrap_opt<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let l = list(args[0].as_ref(), "optional.unwrap")?;
    let mut out: Vec<Box<dyn Val + 'v>> = Vec::new();
    for item in l.inner() {
        let opt = item.downcast_ref::<CelOptional>().ok_or_else(|| {
            ExecutionError::function_error(
                "optional.unwrap",
                format!(
                    "expected a list of optionals, found {}",
                    item.get_type().name()
                ),
            )
        })?;
        if let Some(v) = opt.option() {
            out.push(v.clone_as_boxed());
        }
    }
    Ok(CowVal::owned(CelList::from(out)))
}

fn compare(a: &dyn Val, b: &dyn Val, f: &str) -> Result<Ordering, ExecutionError> {
    a.as_comparer()
        .ok_or_else(|| {
            ExecutionError::function_error(
                f,
                format!("values of type {} cannot be compared", a.get_type().name()),
            )
        })?
        .compare(b)
}

fn is_sorted<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let l = list(args[0].as_ref(), "isSorted")?;
    let items = l.inner();
    for w in items.windows(2) {
        if compare(w[0].as_ref(), w[1].as_ref(), "isSorted")? == Ordering::Greater {
            return Ok(CowVal::owned(types::CelBool::from(false)));
        }
    }
    Ok(CowVal::owned(types::CelBool::from(true)))
}

fn sum<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let l = list(args[0].as_ref(), "sum")?;
    let items = l.inner();
    let Some(head) = items.first() else {
        return Ok(CowVal::owned(CelInt::from(0)));
    };
    let mut acc: Box<dyn Val + 'v> = head.clone_as_boxed();
    for item in &items[1..] {
        let adder = acc.as_adder().ok_or_else(|| {
            ExecutionError::function_error(
                "sum",
                format!("values of type {} cannot be added", acc.get_type().name()),
            )
        })?;
        let next = adder.add(item.as_ref())?.into_owned();
        acc = next;
    }
    if !matches!(
        acc.get_type().kind(),
        Kind::Int | Kind::UInt | Kind::Double | Kind::Duration
    ) {
        return Err(ExecutionError::function_error(
            "sum",
            format!(
                "sum needs a list of int, uint, double or duration, got {}",
                acc.get_type().name()
            ),
        ));
    }
    Ok(CowVal::Owned(acc))
}

fn extreme<'b, 'v>(args: Vec<CowVal<'b, 'v>>, want: Ordering, f: &str) -> R<'b, 'v> {
    let l = list(args[0].as_ref(), f)?;
    let items = l.inner();
    let Some(mut best) = items.first() else {
        return Err(ExecutionError::function_error(
            f,
            format!("{f} called on empty list"),
        ));
    };
    for item in &items[1..] {
        if compare(item.as_ref(), best.as_ref(), f)? == want {
            best = item;
        }
    }
    Ok(CowVal::Owned(best.clone_as_boxed()))
}

fn min<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    extreme(args, Ordering::Less, "min")
}

fn max<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    extreme(args, Ordering::Greater, "max")
}

fn index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let l = list(args[0].as_ref(), "indexOf")?;
    let pos = l.inner().iter().position(|i| i.equals(args[1].as_ref()));
    Ok(CowVal::owned(CelInt::from(
        pos.map_or(-1, |p| i64::try_from(p).unwrap_or(-1)),
    )))
}

fn last_index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let l = list(args[0].as_ref(), "lastIndexOf")?;
    let pos = l.inner().iter().rposition(|i| i.equals(args[1].as_ref()));
    Ok(CowVal::owned(CelInt::from(
        pos.map_or(-1, |p| i64::try_from(p).unwrap_or(-1)),
    )))
}

static REGEX_CACHE: LazyLock<Mutex<HashMap<String, Arc<regex::Regex>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Compiles `pattern` once per process (bounded cache), as cel-go precompiles constant patterns.
pub(crate) fn regex(pattern: &str, f: &str) -> Result<Arc<regex::Regex>, ExecutionError> {
    if let Ok(cache) = REGEX_CACHE.lock()
        && let Some(r) = cache.get(pattern)
    {
        return Ok(r.clone());
    }
    let compiled = Arc::new(regex::Regex::new(pattern).map_err(|e| {
        // The regex crate's text quotes the pattern, which may come from data: keep its last
        // line, the reason.
        let reason = e.to_string();
        let reason = reason.lines().last().unwrap_or_default().trim().to_owned();
        ExecutionError::function_error(
            f,
            format!(
                "invalid regular expression ({}): {reason}",
                crate::describe::describe_str(pattern)
            ),
        )
    })?);
    if let Ok(mut cache) = REGEX_CACHE.lock() {
        if cache.len() > 512 {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), compiled.clone());
    }
    Ok(compiled)
}

fn find<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let s = arg_str(&args, 0, "find")?;
    let re = regex(arg_str(&args, 1, "find")?, "find")?;
    let found = re
        .find(s)
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    Ok(CowVal::owned(CelString::from(found)))
}

fn find_all<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let s = arg_str(&args, 0, "findAll")?;
    let re = regex(arg_str(&args, 1, "findAll")?, "findAll")?;
    let limit = if args.len() > 2 {
        arg_int(&args, 2, "findAll")?
    } else {
        -1
    };
    let take = if limit < 0 {
        usize::MAX
    } else {
        usize::try_from(limit).unwrap_or(usize::MAX)
    };
    let out: Vec<Box<dyn Val + 'v>> = re
        .find_iter(s)
        .take(take)
        .map(|m| Box::new(CelString::from(m.as_str().to_owned())) as Box<dyn Val + 'v>)
        .collect();
    Ok(CowVal::owned(CelList::from(out)))
}

fn matches<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let s = arg_str(&args, 0, "matches")?;
    let re = regex(arg_str(&args, 1, "matches")?, "matches")?;
    Ok(CowVal::owned(types::CelBool::from(re.is_match(s))))
}

/// Keeps the type names in use for the compiler (uint/duration sums).
#[allow(dead_code)]
fn _types(_: CelUInt, _: CelDuration) {}

/// The declarations of this library.
pub(crate) fn decls() -> Vec<Decl> {
    use types::{DYN_TYPE, INT_TYPE, LIST_TYPE, STRING_TYPE};
    vec![
        Decl::global(
            super::macros::MATCHES,
            "@matches(string, string) -> bool",
            vec![STRING_TYPE, STRING_TYPE],
            matches,
        ),
        Decl::member(
            "first",
            "<list(A)>.first() -> optional(A)",
            LIST_TYPE,
            vec![],
            first,
        ),
        Decl::member(
            "last",
            "<list(A)>.last() -> optional(A)",
            LIST_TYPE,
            vec![],
            last,
        ),
        Decl::global(
            "optional.unwrap",
            "optional.unwrap(list(optional(A))) -> list(A)",
            vec![LIST_TYPE],
            unwrap_opt,
        ),
        Decl::member(
            "unwrapOpt",
            "<list(optional(A))>.unwrapOpt() -> list(A)",
            LIST_TYPE,
            vec![],
            unwrap_opt,
        ),
        Decl::member(
            "isSorted",
            "<list(A)>.isSorted() -> bool",
            LIST_TYPE,
            vec![],
            is_sorted,
        ),
        Decl::member("sum", "<list(A)>.sum() -> A", LIST_TYPE, vec![], sum),
        Decl::member("min", "<list(A)>.min() -> A", LIST_TYPE, vec![], min),
        Decl::member("max", "<list(A)>.max() -> A", LIST_TYPE, vec![], max),
        Decl::member(
            "indexOf",
            "<list(A)>.indexOf(A) -> int",
            LIST_TYPE,
            vec![DYN_TYPE],
            index_of,
        ),
        Decl::member(
            "lastIndexOf",
            "<list(A)>.lastIndexOf(A) -> int",
            LIST_TYPE,
            vec![DYN_TYPE],
            last_index_of,
        ),
        Decl::member(
            "find",
            "<string>.find(string) -> string",
            STRING_TYPE,
            vec![STRING_TYPE],
            find,
        ),
        Decl::member(
            "findAll",
            "<string>.findAll(string) -> list(string)",
            STRING_TYPE,
            vec![STRING_TYPE],
            find_all,
        ),
        Decl::member(
            "findAll",
            "<string>.findAll(string, int) -> list(string)",
            STRING_TYPE,
            vec![STRING_TYPE, INT_TYPE],
            find_all,
        ),
    ]
}
