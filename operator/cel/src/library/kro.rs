//! kro's own functions (`pkg/cel/library`): `random.*`, `hash.*`, `json.*`, `merge`,
//! `deepMerge`, `lists.*AtIndex`, `omit()`, `runtime.newCondition`/`runtime.condition`, plus
//! the internal helpers the two-variable macros expand to.

use std::collections::HashMap;

use cel::ExecutionError;
use cel::common::types::{self, CelBytes, CelInt, CelList, CelMap, CelMapKey, CelString};
use cel::common::value::{CowVal, Val};
use md5::Md5;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::cost::{charge, size_of};
use crate::decl::{Decl, arg_int, arg_str};
use crate::opaque::{Omit, RUNTIME_TYPE, Runtime};
use crate::value::{json_to_val, val_to_json};

type R<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

const ALNUM: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn seeded_string<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let n = arg_int(&args, 0, "random.seededString")?;
    let seed = arg_str(&args, 1, "random.seededString")?;
    if n <= 0 {
        return Err(ExecutionError::function_error(
            "random.seededString",
            format!("random.seededString length must be positive, got {n}"),
        ));
    }
    charge(n.unsigned_abs(), "random.seededString")?;
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    // kro reads 4 hash bytes per character at (i*4) mod 32, so the characters repeat every 8
    // (its re-hash branch can never run); kept byte for byte for identical output.
    let hash: [u8; 32] = Sha256::digest(seed.as_bytes()).into();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    for i in 0..n {
        let start = (i * 4) % 32;
        let idx = u32::from_be_bytes([
            hash[start],
            hash[start + 1],
            hash[start + 2],
            hash[start + 3],
        ]);
        out.push(ALNUM[(idx % ALNUM.len() as u32) as usize]);
    }
    Ok(CowVal::owned(CelString::from(
        String::from_utf8_lossy(&out).into_owned(),
    )))
}

fn seeded_int<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let min = arg_int(&args, 0, "random.seededInt")?;
    let max = arg_int(&args, 1, "random.seededInt")?;
    let seed = arg_str(&args, 2, "random.seededInt")?;
    if min >= max {
        return Err(ExecutionError::function_error(
            "random.seededInt",
            format!("random.seededInt min must be less than max, got min={min} max={max}"),
        ));
    }
    let hash: [u8; 32] = Sha256::digest(seed.as_bytes()).into();
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    let x = u64::from_be_bytes(first);
    let span = (i128::from(max) - i128::from(min)) as u128;
    let offset = (u128::from(x) % span) as i128;
    let v = i64::try_from(i128::from(min) + offset).unwrap_or(min);
    Ok(CowVal::owned(CelInt::from(v)))
}

fn hash_sha256<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let s = arg_str(&args, 0, "hash.sha256")?;
    Ok(CowVal::owned(CelBytes::from(
        Sha256::digest(s.as_bytes()).to_vec(),
    )))
}

fn hash_md5<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let s = arg_str(&args, 0, "hash.md5")?;
    Ok(CowVal::owned(CelBytes::from(
        Md5::digest(s.as_bytes()).to_vec(),
    )))
}

fn hash_fnv64a<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let s = arg_str(&args, 0, "hash.fnv64a")?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Ok(CowVal::owned(CelBytes::from(h.to_be_bytes().to_vec())))
}

/// Go's `encoding/json` decodes every number as float64: so does kro's `json.unmarshal`.
fn go_json_numbers(j: Json) -> Json {
    match j {
        Json::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Json::Null, Json::Number),
        Json::Array(a) => Json::Array(a.into_iter().map(go_json_numbers).collect()),
        Json::Object(o) => Json::Object(
            o.into_iter()
                .map(|(k, v)| (k, go_json_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

fn json_unmarshal<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let s = arg_str(&args, 0, "json.unmarshal")?;
    let parsed: Json = serde_json::from_str(s).map_err(|e| {
        ExecutionError::function_error(
            "json.unmarshal",
            format!("json.unmarshal failed to parse JSON: {e}"),
        )
    })?;
    let parsed = go_json_numbers(parsed);
    // Keys stay strings; floats that hold integers stay doubles, as in kro.
    let val = json_to_val(&parsed, None);
    charge(size_of(val.as_ref()), "json.unmarshal")?;
    Ok(CowVal::Owned(val))
}

fn json_marshal<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let j = val_to_json(args[0].as_ref())
        .map_err(|e| ExecutionError::function_error("json.marshal", e))?
        .unwrap_or(Json::Null);
    Ok(CowVal::owned(CelString::from(j.to_string())))
}

type Entries<'v> = Vec<(CelMapKey<'v>, Box<dyn Val + 'v>)>;

/// The entries of a map value, cloned with owned keys.
fn map_entries<'v>(m: &(dyn Val + 'v), function: &str) -> Result<Entries<'v>, ExecutionError> {
    let map = m.downcast_ref::<CelMap>().ok_or_else(|| {
        ExecutionError::function_error(
            function,
            format!("expected a map, got {}", m.get_type().name()),
        )
    })?;
    Ok(map
        .inner()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone_as_boxed()))
        .collect())
}

fn map_merge<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let mut out: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = HashMap::new();
    for m in &args {
        for (k, v) in map_entries(m.as_ref(), "merge")? {
            out.insert(k, v);
        }
    }
    Ok(CowVal::owned(CelMap::from(out)))
}

fn deep_merge_vals<'v>(base: &(dyn Val + 'v), over: &(dyn Val + 'v)) -> Box<dyn Val + 'v> {
    match (base.downcast_ref::<CelMap>(), over.downcast_ref::<CelMap>()) {
        (Some(b), Some(o)) => {
            let mut out: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = b
                .inner()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone_as_boxed()))
                .collect();
            for (k, v) in o.inner().iter() {
                let merged = match out.get(k) {
                    Some(existing) => deep_merge_vals(existing.as_ref(), v.as_ref()),
                    None => v.clone_as_boxed(),
                };
                out.insert(k.clone(), merged);
            }
            Box::new(CelMap::from(out))
        }
        _ => over.clone_as_boxed(),
    }
}

fn deep_merge<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    Ok(CowVal::Owned(deep_merge_vals(
        args[0].as_ref(),
        args[1].as_ref(),
    )))
}

fn list_items<'v>(
    v: &(dyn Val + 'v),
    function: &str,
) -> Result<Vec<Box<dyn Val + 'v>>, ExecutionError> {
    let list = v.downcast_ref::<CelList>().ok_or_else(|| {
        ExecutionError::function_error(
            function,
            format!("expected a list, got {}", v.get_type().name()),
        )
    })?;
    Ok(list.inner().iter().map(|i| i.clone_as_boxed()).collect())
}

fn index_in(i: i64, len: usize, inclusive: bool, function: &str) -> Result<usize, ExecutionError> {
    let max = if inclusive {
        len
    } else {
        len.saturating_sub(1)
    };
    match usize::try_from(i) {
        Ok(u) if u <= max && (inclusive || len > 0) => Ok(u),
        _ => Err(ExecutionError::function_error(
            function,
            format!(
                "index {i} out of range [0, {}{}",
                len,
                if inclusive { "]" } else { ")" }
            ),
        )),
    }
}

fn set_at_index<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let mut items = list_items(args[0].as_ref(), "lists.setAtIndex")?;
    let i = arg_int(&args, 1, "lists.setAtIndex")?;
    let at = index_in(i, items.len(), false, "lists.setAtIndex")?;
    items[at] = args[2].clone().into_owned();
    Ok(CowVal::owned(CelList::from(items)))
}

fn insert_at_index<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let mut items = list_items(args[0].as_ref(), "lists.insertAtIndex")?;
    let i = arg_int(&args, 1, "lists.insertAtIndex")?;
    let at = index_in(i, items.len(), true, "lists.insertAtIndex")?;
    items.insert(at, args[2].clone().into_owned());
    Ok(CowVal::owned(CelList::from(items)))
}

fn remove_at_index<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let mut items = list_items(args[0].as_ref(), "lists.removeAtIndex")?;
    let i = arg_int(&args, 1, "lists.removeAtIndex")?;
    let at = index_in(i, items.len(), false, "lists.removeAtIndex")?;
    items.remove(at);
    Ok(CowVal::owned(CelList::from(items)))
}

fn omit<'b, 'v>(_args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    Ok(CowVal::owned(Omit))
}

fn condition_map<'v>(fields: [(&str, String); 4]) -> Box<dyn Val + 'v> {
    let map: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = fields
        .into_iter()
        .map(|(k, v)| {
            (
                CelMapKey::from(k.to_owned()),
                Box::new(CelString::from(v)) as Box<dyn Val + 'v>,
            )
        })
        .collect();
    Box::new(CelMap::from(map))
}

fn new_condition<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let entries = map_entries(args[1].as_ref(), "runtime.newCondition")?;
    let mut fields = [
        ("type", String::new()),
        ("status", String::new()),
        ("reason", String::new()),
        ("message", String::new()),
    ];
    for (k, v) in entries {
        let key = k
            .inner()
            .downcast_ref::<CelString>()
            .map(|s| s.inner().to_owned())
            .unwrap_or_default();
        let Some(slot) = fields.iter_mut().find(|(name, _)| *name == key) else {
            continue;
        };
        let text = v.downcast_ref::<CelString>().ok_or_else(|| {
            ExecutionError::function_error(
                "runtime.newCondition",
                format!(
                    "runtime.newCondition: {key} must be a string, got {}",
                    v.get_type().name()
                ),
            )
        })?;
        slot.1 = text.inner().to_owned();
    }
    if fields[0].1.is_empty() {
        return Err(ExecutionError::function_error(
            "runtime.newCondition",
            "runtime.newCondition: type must not be empty",
        ));
    }
    if !["True", "False", "Unknown"].contains(&fields[1].1.as_str()) {
        return Err(ExecutionError::function_error(
            "runtime.newCondition",
            format!(
                "runtime.newCondition: status must be one of True, False, Unknown (got {})",
                crate::describe::describe_str(&fields[1].1)
            ),
        ));
    }
    Ok(CowVal::Owned(condition_map(fields)))
}

fn find_condition(conditions: &[Json], wanted: &str) -> [(&'static str, String); 4] {
    let text = |c: &Json, k: &str| {
        c.get(k)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match conditions
        .iter()
        .find(|c| c.get("type").and_then(Json::as_str) == Some(wanted))
    {
        Some(c) => [
            ("type", text(c, "type")),
            ("status", text(c, "status")),
            ("reason", text(c, "reason")),
            ("message", text(c, "message")),
        ],
        None => [
            ("type", String::new()),
            ("status", String::new()),
            ("reason", String::new()),
            ("message", String::new()),
        ],
    }
}

fn runtime_condition<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let wanted = arg_str(&args, 2, "runtime.condition")?.to_owned();
    let obj = val_to_json(args[1].as_ref())
        .map_err(|e| ExecutionError::function_error("runtime.condition", e))?
        .unwrap_or(Json::Null);
    let conditions = match obj.pointer("/status/conditions").and_then(Json::as_array) {
        Some(c) => c.clone(),
        None if obj.get("status").is_none() => args[0]
            .downcast_ref::<Runtime>()
            .map(|r| r.instance_conditions.clone())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Ok(CowVal::Owned(condition_map(find_condition(
        &conditions,
        &wanted,
    ))))
}

/// `@entries(list|map)`: `[index or key, value]` pairs (maps in sorted key order, so two-variable
/// comprehensions over maps are deterministic).
fn entries<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let target = args[0].as_ref();
    let mut out: Vec<Box<dyn Val + 'v>> = Vec::new();
    if let Some(list) = target.downcast_ref::<CelList>() {
        for (i, item) in list.inner().iter().enumerate() {
            let pair: Vec<Box<dyn Val + 'v>> = vec![
                Box::new(CelInt::from(i64::try_from(i).unwrap_or(i64::MAX))),
                item.clone_as_boxed(),
            ];
            out.push(Box::new(CelList::from(pair)));
        }
    } else if let Some(map) = target.downcast_ref::<CelMap>() {
        let mut keys: Vec<&CelMapKey<'v>> = map.inner().keys().collect();
        keys.sort();
        for k in keys {
            if let Some(v) = map.inner().get(k) {
                let pair: Vec<Box<dyn Val + 'v>> =
                    vec![k.inner().clone_as_boxed(), v.clone_as_boxed()];
                out.push(Box::new(CelList::from(pair)));
            }
        }
    } else {
        return Err(ExecutionError::no_such_overload(
            "comprehension",
            vec![target.get_type().name().to_owned()],
        ));
    }
    Ok(CowVal::owned(CelList::from(out)))
}

fn insert_entry<'v>(
    out: &mut HashMap<CelMapKey<'v>, Box<dyn Val + 'v>>,
    key: Box<dyn Val + 'v>,
    value: Box<dyn Val + 'v>,
) -> Result<(), ExecutionError> {
    let key = CelMapKey::try_from(key)?;
    if out.contains_key(&key) {
        return Err(ExecutionError::DuplicateKey(
            cel::Value::try_from(key.inner()).unwrap_or(cel::Value::Null),
        ));
    }
    out.insert(key, value);
    Ok(())
}

fn map_insert<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let mut out: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> =
        map_entries(args[0].as_ref(), "transformMap")?
            .into_iter()
            .collect();
    if args.len() == 3 {
        insert_entry(
            &mut out,
            args[1].clone().into_owned(),
            args[2].clone().into_owned(),
        )?;
    } else {
        for (k, v) in map_entries(args[1].as_ref(), "transformMapEntry")? {
            insert_entry(&mut out, k.inner().clone_as_boxed(), v)?;
        }
    }
    Ok(CowVal::owned(CelMap::from(out)))
}

/// The declarations of this library.
pub(crate) fn decls() -> Vec<Decl> {
    use types::{DYN_TYPE, INT_TYPE, LIST_TYPE, MAP_TYPE, STRING_TYPE};
    let rt = || RUNTIME_TYPE.to_owned();
    vec![
        Decl::global(
            "random.seededString",
            "random.seededString(int, string) -> string",
            vec![INT_TYPE, STRING_TYPE],
            seeded_string,
        ),
        Decl::global(
            "random.seededInt",
            "random.seededInt(int, int, string) -> int",
            vec![INT_TYPE, INT_TYPE, STRING_TYPE],
            seeded_int,
        ),
        Decl::global(
            "hash.sha256",
            "hash.sha256(string) -> bytes",
            vec![STRING_TYPE],
            hash_sha256,
        ),
        Decl::global(
            "hash.md5",
            "hash.md5(string) -> bytes",
            vec![STRING_TYPE],
            hash_md5,
        ),
        Decl::global(
            "hash.fnv64a",
            "hash.fnv64a(string) -> bytes",
            vec![STRING_TYPE],
            hash_fnv64a,
        ),
        Decl::global(
            "json.unmarshal",
            "json.unmarshal(string) -> dyn",
            vec![STRING_TYPE],
            json_unmarshal,
        ),
        Decl::global(
            "json.marshal",
            "json.marshal(dyn) -> string",
            vec![DYN_TYPE],
            json_marshal,
        ),
        Decl::member(
            "merge",
            "<map(K, V)>.merge(map(K, V)) -> map(K, V)",
            MAP_TYPE,
            vec![MAP_TYPE],
            map_merge,
        ),
        Decl::member(
            "deepMerge",
            "<dyn>.deepMerge(dyn) -> dyn",
            DYN_TYPE,
            vec![DYN_TYPE],
            deep_merge,
        ),
        Decl::global(
            "lists.setAtIndex",
            "lists.setAtIndex(list(A), int, A) -> list(A)",
            vec![LIST_TYPE, INT_TYPE, DYN_TYPE],
            set_at_index,
        ),
        Decl::global(
            "lists.insertAtIndex",
            "lists.insertAtIndex(list(A), int, A) -> list(A)",
            vec![LIST_TYPE, INT_TYPE, DYN_TYPE],
            insert_at_index,
        ),
        Decl::global(
            "lists.removeAtIndex",
            "lists.removeAtIndex(list(A), int) -> list(A)",
            vec![LIST_TYPE, INT_TYPE],
            remove_at_index,
        ),
        Decl::global("omit", "omit() -> kro.omit", vec![], omit),
        Decl::global(
            super::macros::NEW_CONDITION,
            "@newCondition(kro.run.Runtime, map(string, string)) -> kro.run.Condition",
            vec![rt(), MAP_TYPE],
            new_condition,
        ),
        Decl::member(
            "condition",
            "<kro.run.Runtime>.condition(dyn, string) -> kro.run.Condition",
            rt(),
            vec![DYN_TYPE, STRING_TYPE],
            runtime_condition,
        ),
        Decl::global(
            super::macros::ENTRIES,
            "@entries(dyn) -> dyn",
            vec![LIST_TYPE],
            entries,
        ),
        Decl::global_alt(
            super::macros::ENTRIES,
            "entries_map",
            vec![MAP_TYPE],
            entries,
        ),
        Decl::global(
            super::macros::MAP_INSERT,
            "@mapInsert(dyn, dyn, dyn) -> dyn",
            vec![MAP_TYPE, DYN_TYPE, DYN_TYPE],
            map_insert,
        ),
        Decl::global(
            super::macros::MAP_INSERT,
            "@mapInsert(dyn, dyn) -> dyn",
            vec![MAP_TYPE, MAP_TYPE],
            map_insert,
        ),
    ]
}
