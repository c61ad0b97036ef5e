//! Sprig's list and dict functions.
//!
//! Go maps are shared references: Sprig's `set`, `unset`, `merge` and `mergeOverwrite`
//! change their first argument and return it. Values here are immutable, so these return
//! the changed map and leave the argument as it was; templates that use the returned map
//! (`$d = set $d "k" 1`, `merge (dict) $a $b`) see what Helm shows.

use std::collections::BTreeMap;

use super::convert::{is_empty, strval, to_int64};
use super::{Registry, Result, arg, err, int_arg, str_arg};
use crate::template::Param;
use crate::value::{Elem, Value};

use Param::{Any, Int, Map as MapP, String as Str};

pub(super) fn register(m: &mut Registry) {
    m.variadic("list", &[], Any, |a| Ok(Value::list(a.to_vec())));
    m.variadic("tuple", &[], Any, |a| Ok(Value::list(a.to_vec())));
    for (names, f) in LIST_FNS {
        for name in *names {
            let must = name.starts_with("must");
            let f = *f;
            m.fixed(name, &[Any], move |a| f(arg(a, 0), must));
        }
    }
    for name in ["append", "push", "mustAppend", "mustPush"] {
        m.fixed(name, &[Any, Any], |a| {
            let mut items = items_of(arg(a, 0), "Cannot push on type")?;
            items.push(arg(a, 1).clone());
            Ok(Value::list(items))
        });
    }
    for name in ["prepend", "mustPrepend"] {
        m.fixed(name, &[Any, Any], |a| {
            let mut items = items_of(arg(a, 0), "Cannot prepend on type")?;
            items.insert(0, arg(a, 1).clone());
            Ok(Value::list(items))
        });
    }
    for name in ["without", "mustWithout"] {
        m.variadic(name, &[Any], Any, |a| {
            let items = items_of(arg(a, 0), "Cannot find without on type")?;
            let omit = &a[1.min(a.len())..];
            Ok(Value::list(
                items
                    .into_iter()
                    .filter(|i| !omit.iter().any(|o| o.deep_equal(i)))
                    .collect(),
            ))
        });
    }
    for name in ["has", "mustHas"] {
        m.fixed(name, &[Any, Any], |a| {
            let haystack = arg(a, 1);
            if haystack.is_nil() {
                return Ok(false.into());
            }
            let items = items_of(haystack, "Cannot find has on type")?;
            Ok(items.iter().any(|i| i.deep_equal(arg(a, 0))).into())
        });
    }
    for name in ["slice", "mustSlice"] {
        m.variadic(name, &[Any], Any, slice);
    }
    m.variadic("concat", &[], Any, |a| {
        let mut out = Vec::new();
        for list in a {
            match list {
                Value::List(l) => out.extend(l.items.iter().cloned()),
                Value::Bytes(b) => out.extend(b.iter().map(|x| Value::Int(i64::from(*x)))),
                other => return err(format!("Cannot concat type {} as list", other.kind())),
            }
        }
        Ok(Value::list(out))
    });
    for name in ["chunk", "mustChunk"] {
        m.fixed(name, &[Int, Any], |a| {
            let items = items_of(arg(a, 1), "Cannot chunk type")?;
            let size = int_arg(a, 0);
            let Some(size) = usize::try_from(size).ok().filter(|s| *s > 0) else {
                return err("runtime error: makeslice: len out of range");
            };
            let chunks = items
                .chunks(size)
                .map(|c| Value::list(c.to_vec()))
                .collect();
            Ok(Value::typed_list(Elem::List, chunks))
        });
    }
    register_dicts(m);
}

type ListFn = fn(&Value, bool) -> Result;

const LIST_FNS: &[(&[&str], ListFn)] = &[
    (&["first", "mustFirst"], first),
    (&["last", "mustLast"], last),
    (&["rest", "mustRest"], rest),
    (&["initial", "mustInitial"], initial),
    (&["reverse", "mustReverse"], reverse),
    (&["uniq", "mustUniq"], uniq),
    (&["compact", "mustCompact"], compact),
];

/// The items of a slice, or Sprig's error naming the value's kind.
fn items_of(v: &Value, what: &str) -> Result<Vec<Value>> {
    match v {
        Value::List(l) => Ok(l.items.clone()),
        Value::Bytes(b) => Ok(b.iter().map(|x| Value::Int(i64::from(*x))).collect()),
        Value::Nil => err("runtime error: invalid memory address or nil pointer dereference"),
        other => err(format!("{what} {}", other.kind())),
    }
}

/// The list with its element type kept (`rest` of a `[]string` is a `[]interface{}` in
/// Sprig, so only the items matter).
fn list_items(v: &Value, name: &str) -> Result<Vec<Value>> {
    items_of(v, &format!("Cannot find {name} on type"))
}

fn first(v: &Value, _must: bool) -> Result {
    Ok(list_items(v, "first")?
        .into_iter()
        .next()
        .unwrap_or_default())
}

fn last(v: &Value, _must: bool) -> Result {
    Ok(list_items(v, "last")?.pop().unwrap_or_default())
}

fn rest(v: &Value, _must: bool) -> Result {
    let items = list_items(v, "rest")?;
    Ok(Value::list(items.get(1..).unwrap_or(&[]).to_vec()))
}

fn initial(v: &Value, _must: bool) -> Result {
    let mut items = list_items(v, "initial")?;
    items.pop();
    Ok(Value::list(items))
}

fn reverse(v: &Value, _must: bool) -> Result {
    let mut items = list_items(v, "reverse")?;
    items.reverse();
    Ok(Value::list(items))
}

fn uniq(v: &Value, _must: bool) -> Result {
    let items = list_items(v, "uniq")?;
    let mut out: Vec<Value> = Vec::new();
    for item in items {
        if !out.iter().any(|o| o.deep_equal(&item)) {
            out.push(item);
        }
    }
    Ok(Value::list(out))
}

fn compact(v: &Value, _must: bool) -> Result {
    let items = list_items(v, "compact")?;
    Ok(Value::list(
        items.into_iter().filter(|i| !is_empty(i)).collect(),
    ))
}

fn slice(a: &[Value]) -> Result {
    let items = items_of(arg(a, 0), "list should be type of slice or array but")?;
    let len = items.len();
    let index = |i: usize| -> Result<usize> {
        let n = to_int64(arg(a, i));
        usize::try_from(n).map_err(|_| {
            super::FuncError::new(format!("runtime error: slice bounds out of range [{n}:]"))
        })
    };
    let (start, end) = match a.len() {
        0 | 1 => (0, len),
        2 => (index(1)?, len),
        _ => (index(1)?, index(2)?),
    };
    if end > len || start > end {
        return err("reflect.Value.Slice: slice index out of bounds");
    }
    // Go slicing keeps the slice's type (`[]string` stays `[]string`).
    let elem = arg(a, 0).as_list().map_or(Elem::Interface, |l| l.elem);
    Ok(Value::typed_list(elem, items[start..end].to_vec()))
}

/// The entries of a map argument (nil is an empty map).
fn entries(v: &Value) -> BTreeMap<String, Value> {
    v.as_map().map(|m| m.entries.clone()).unwrap_or_default()
}

/// The `map[string]interface{}` a Sprig dict function returns (a named map such as
/// `common.Values` was converted to that type when passed in, as Go converts it).
fn same_map(_like: &Value, entries: BTreeMap<String, Value>) -> Value {
    Value::map(entries)
}

/// Whether `v` is exactly a `map[string]interface{}` (what Go's type assertion in `dig`
/// accepts: not `common.Values`, not `map[string]string`).
fn is_plain_map(v: &Value) -> bool {
    matches!(v, Value::Map(m) if m.type_name.is_none() && m.elem == Elem::Interface)
}

fn register_dicts(m: &mut Registry) {
    m.variadic("dict", &[], Any, |a| {
        let mut out = BTreeMap::new();
        for pair in a.chunks(2) {
            let key = strval(&pair[0]);
            let value = pair.get(1).cloned().unwrap_or_else(|| Value::from(""));
            out.insert(key, value);
        }
        Ok(Value::map(out))
    });
    m.fixed("get", &[MapP, Str], |a| {
        Ok(entries(arg(a, 0))
            .remove(str_arg(a, 1))
            .unwrap_or_else(|| Value::from("")))
    });
    m.fixed("set", &[MapP, Str, Any], |a| {
        let mut e = entries(arg(a, 0));
        e.insert(str_arg(a, 1).to_string(), arg(a, 2).clone());
        Ok(same_map(arg(a, 0), e))
    });
    m.fixed("unset", &[MapP, Str], |a| {
        let mut e = entries(arg(a, 0));
        e.remove(str_arg(a, 1));
        Ok(same_map(arg(a, 0), e))
    });
    m.fixed("hasKey", &[MapP, Str], |a| {
        Ok(arg(a, 0)
            .as_map()
            .is_some_and(|m| m.entries.contains_key(str_arg(a, 1)))
            .into())
    });
    m.variadic("pluck", &[Str], MapP, |a| {
        let key = str_arg(a, 0);
        let found = a[1.min(a.len())..]
            .iter()
            .filter_map(|d| d.as_map().and_then(|m| m.entries.get(key)).cloned())
            .collect();
        Ok(Value::list(found))
    });
    m.variadic("keys", &[], MapP, |a| {
        let keys: Vec<String> = a
            .iter()
            .flat_map(|d| {
                d.as_map()
                    .map(|m| m.entries.keys().cloned().collect::<Vec<_>>())
            })
            .flatten()
            .collect();
        Ok(Value::string_list(keys))
    });
    m.variadic("pick", &[MapP], Str, |a| {
        let e = entries(arg(a, 0));
        let wanted: Vec<&str> = a[1.min(a.len())..]
            .iter()
            .filter_map(Value::as_str)
            .collect();
        Ok(Value::map(
            e.into_iter()
                .filter(|(k, _)| wanted.contains(&k.as_str()))
                .collect(),
        ))
    });
    m.variadic("omit", &[MapP], Str, |a| {
        let e = entries(arg(a, 0));
        let omit: Vec<&str> = a[1.min(a.len())..]
            .iter()
            .filter_map(Value::as_str)
            .collect();
        Ok(Value::map(
            e.into_iter()
                .filter(|(k, _)| !omit.contains(&k.as_str()))
                .collect(),
        ))
    });
    m.fixed("values", &[MapP], |a| {
        Ok(Value::list(entries(arg(a, 0)).into_values().collect()))
    });
    for (name, overwrite) in [
        ("merge", false),
        ("mustMerge", false),
        ("mergeOverwrite", true),
        ("mustMergeOverwrite", true),
    ] {
        m.variadic(name, &[MapP], MapP, move |a| {
            let mut dst = entries(arg(a, 0));
            for src in &a[1.min(a.len())..] {
                if let Some(src) = src.as_map() {
                    merge_into(&mut dst, &src.entries, overwrite, 0)?;
                }
            }
            Ok(same_map(arg(a, 0), dst))
        });
    }
    m.variadic("dig", &[], Any, |a| {
        if a.len() < 3 {
            return err("dig needs at least three arguments");
        }
        let (keys, rest) = a.split_at(a.len() - 2);
        let default = &rest[0];
        let mut current = rest[1].clone();
        if !is_plain_map(&current) {
            return err(format!(
                "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                current.type_name()
            ));
        }
        for (i, key) in keys.iter().enumerate() {
            let Some(key) = key.as_str() else {
                return err(format!(
                    "interface conversion: interface {{}} is {}, not string",
                    key.type_name()
                ));
            };
            let Some(step) = current.as_map().and_then(|m| m.entries.get(key)).cloned() else {
                return Ok(default.clone());
            };
            if i + 1 == keys.len() {
                return Ok(step);
            }
            if !is_plain_map(&step) {
                return err(format!(
                    "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                    step.type_name()
                ));
            }
            current = step;
        }
        Ok(default.clone())
    });
    for name in ["deepCopy", "mustDeepCopy"] {
        m.fixed(name, &[Any], |a| Ok(deep_copy(arg(a, 0))));
    }
}

/// `mergo.Merge(&dst, src)` (with `WithOverride` when `overwrite`): nested maps merge;
/// otherwise a source value fills a missing or empty destination value, or with
/// `overwrite` replaces it (nil included).
fn merge_into(
    dst: &mut BTreeMap<String, Value>,
    src: &BTreeMap<String, Value>,
    overwrite: bool,
    depth: usize,
) -> Result<()> {
    if depth > 10_000 {
        return err("merge: maps nested too deeply");
    }
    for (key, value) in src {
        if value.is_nil() {
            if overwrite {
                dst.insert(key.clone(), Value::Nil);
            }
            continue;
        }
        let existing = dst.get(key);
        if let (Some(d), Some(s)) = (existing.and_then(Value::as_map), value.as_map()) {
            let mut inner = d.entries.clone();
            merge_into(&mut inner, &s.entries, overwrite, depth + 1)?;
            let merged = same_map(existing.unwrap_or(&Value::Nil), inner);
            dst.insert(key.clone(), merged);
            continue;
        }
        let fill = overwrite || existing.is_none_or(is_empty);
        if fill {
            dst.insert(key.clone(), value.clone());
        }
    }
    Ok(())
}

/// A copy that shares nothing mutable (values are immutable, so a clone is enough; maps and
/// lists are rebuilt so their Go types are the plain ones `copystructure` produces).
fn deep_copy(v: &Value) -> Value {
    v.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn merge_fills_empty_values_and_overwrite_replaces_them() {
        // Rendered by helm: merge keeps a:1 and fills b:"" and e:0 from the source;
        // mergeOverwrite replaces everything, with empty and nil values too.
        let dst = d(&[
            ("a", Value::Int(1)),
            ("b", Value::from("")),
            ("e", Value::Int(0)),
        ]);
        let src = d(&[
            ("a", Value::Int(2)),
            ("b", Value::from("B")),
            ("e", Value::Int(5)),
        ]);
        let mut merged = dst.clone();
        merge_into(&mut merged, &src, false, 0).expect("merge");
        assert!(merged["a"].deep_equal(&Value::Int(1)));
        assert!(merged["b"].deep_equal(&Value::from("B")));
        assert!(merged["e"].deep_equal(&Value::Int(5)));
        let mut over = src.clone();
        merge_into(&mut over, &dst, true, 0).expect("merge");
        assert!(over["b"].deep_equal(&Value::from("")));
        let mut with_nil = d(&[("a", Value::Int(1))]);
        merge_into(&mut with_nil, &d(&[("a", Value::Nil)]), true, 0).expect("merge");
        assert!(with_nil["a"].is_nil());
    }
}
