//! Sprig's list and dict functions.
//!
//! Go maps are shared references, and so are [`Value::Map`]s: Sprig's `set`, `unset`,
//! `merge` and `mergeOverwrite` change their first argument in place and return it (as a
//! `map[string]interface{}`, the parameter's type, when a named map such as
//! `chartutil.Values` was passed). `dict`, `pick`, `omit` and `deepCopy` make new maps. Go
//! slices stay values: `append` and `prepend` return new lists.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::convert::{is_empty, strval, to_int64};
use super::{Registry, Result, arg, err, int_arg, str_arg};
use crate::template::Param;
use crate::value::{Cut, Elem, MAX_DEPTH, Map, Path, Value};

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

/// The entries of a map argument as they are now (nil is an empty map).
fn entries(v: &Value) -> Arc<BTreeMap<String, Value>> {
    v.as_map().map(Map::snapshot).unwrap_or_default()
}

/// What a Sprig dict function declared to return `map[string]interface{}` returns for its
/// map argument `m`: the same map, seen as that type (a named map such as `common.Values`
/// was converted to it when passed in, as Go converts it).
fn as_plain(m: &Arc<Map>) -> Value {
    if m.type_name.is_none() {
        Value::Map(Arc::clone(m))
    } else {
        Value::Map(Arc::new(m.with_type(None)))
    }
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
        Ok(arg(a, 0)
            .as_map()
            .and_then(|m| m.get(str_arg(a, 1)))
            .unwrap_or_else(|| Value::from("")))
    });
    // `d[key] = value; return d`: the map changes in place.
    m.fixed("set", &[MapP, Str, Any], |a| match arg(a, 0) {
        Value::Map(d) => {
            d.insert(str_arg(a, 1), arg(a, 2).clone());
            Ok(as_plain(d))
        }
        _ => err("assignment to entry in nil map"),
    });
    // `delete(d, key); return d` (deleting from a nil map does nothing; it prints `map[]`).
    m.fixed("unset", &[MapP, Str], |a| match arg(a, 0) {
        Value::Map(d) => {
            d.remove(str_arg(a, 1));
            Ok(as_plain(d))
        }
        _ => Ok(Value::map(BTreeMap::new())),
    });
    m.fixed("hasKey", &[MapP, Str], |a| {
        Ok(arg(a, 0)
            .as_map()
            .is_some_and(|m| m.contains_key(str_arg(a, 1)))
            .into())
    });
    m.variadic("pluck", &[Str], MapP, |a| {
        let key = str_arg(a, 0);
        let found = a[1.min(a.len())..]
            .iter()
            .filter_map(|d| d.as_map().and_then(|m| m.get(key)))
            .collect();
        Ok(Value::list(found))
    });
    m.variadic("keys", &[], MapP, |a| {
        let keys: Vec<String> = a
            .iter()
            .filter_map(Value::as_map)
            .flat_map(Map::keys)
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
            e.iter()
                .filter(|(k, _)| wanted.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
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
            e.iter()
                .filter(|(k, _)| !omit.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ))
    });
    m.fixed("values", &[MapP], |a| {
        Ok(Value::list(entries(arg(a, 0)).values().cloned().collect()))
    });
    for (name, overwrite) in [
        ("merge", false),
        ("mustMerge", false),
        ("mergeOverwrite", true),
        ("mustMergeOverwrite", true),
    ] {
        // `mergo.Merge(&dst, src)` for each source: `dst` changes in place (a nil `dst`
        // becomes a new map, as mergo makes one).
        m.variadic(name, &[MapP], MapP, move |a| {
            let dst = match arg(a, 0) {
                Value::Map(d) => as_plain(d),
                _ => Value::map(BTreeMap::new()),
            };
            if let Some(d) = dst.as_map() {
                for src in &a[1.min(a.len())..] {
                    if let Some(src) = src.as_map() {
                        merge_into(d, src, overwrite, &mut Vec::new(), 0)?;
                    }
                }
            }
            Ok(dst)
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
            let Some(step) = current.as_map().and_then(|m| m.get(key)) else {
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
    // copystructure.Copy; Sprig's deepCopy panics on its error (`deepCopy error: ...`).
    m.fixed("deepCopy", &[Any], |a| {
        deep_copy(arg(a, 0), &mut Path::default())
            .or_else(|e| err(format!("deepCopy error: {}", e.message)))
    });
    m.fixed("mustDeepCopy", &[Any], |a| {
        deep_copy(arg(a, 0), &mut Path::default())
    });
}

/// `mergo.Merge(&dst, src)` (with `WithOverride` when `overwrite`), changing `dst` in place:
/// nested maps merge (the destination's nested map changes in place; a source map that
/// fills a missing or empty entry is shared, not copied, as in Go); otherwise a source
/// value fills a missing or empty destination value, or with `overwrite` replaces it (nil
/// included).
///
/// `merging` holds the (destination, source) pairs being merged on the way here: a pair met
/// again (maps that contain themselves, `merge $d $d` with a cycle in `$d`) is skipped, which
/// is mergo's rule for values it has visited (Go itself would recurse until its stack
/// overflows). No lock is held across the recursion: `src` is walked in a snapshot.
fn merge_into(
    dst: &Map,
    src: &Map,
    overwrite: bool,
    merging: &mut Vec<(usize, usize)>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return err("merge: maps nested too deeply");
    }
    let pair = (dst.id(), src.id());
    if merging.contains(&pair) {
        return Ok(());
    }
    merging.push(pair);
    for (key, value) in src.snapshot().iter() {
        if value.is_nil() {
            if overwrite {
                dst.insert(key.clone(), Value::Nil);
            }
            continue;
        }
        let existing = dst.get(key);
        if let (Some(d), Some(s)) = (existing.as_ref().and_then(Value::as_map), value.as_map()) {
            merge_into(d, s, overwrite, merging, depth + 1)?;
            // mergo keeps the destination's map unless it is still empty.
            if d.is_empty() {
                dst.insert(key.clone(), value.clone());
            }
            continue;
        }
        let fill = overwrite || existing.as_ref().is_none_or(is_empty);
        if fill {
            dst.insert(key.clone(), value.clone());
        }
    }
    merging.pop();
    Ok(())
}

/// copystructure's `Copy`: maps and lists are rebuilt, with their Go types, so the copy
/// shares no map with `v`. A map that contains itself (which copystructure follows until
/// Go's stack overflows) is an error, as is nesting beyond [`MAX_DEPTH`].
fn deep_copy(v: &Value, path: &mut Path) -> Result {
    let cut = |cut: Cut, go_type: String| match cut {
        Cut::Cycle => err(format!(
            "cannot copy a value that contains itself (a {go_type} inside itself)"
        )),
        Cut::TooDeep => err(format!(
            "cannot copy values nested more than {MAX_DEPTH} levels deep"
        )),
    };
    match v {
        Value::List(l) => {
            if let Err(c) = path.enter_list() {
                return cut(c, l.go_type());
            }
            let mut items = Vec::with_capacity(l.items.len());
            for item in &l.items {
                items.push(deep_copy(item, path)?);
            }
            path.leave();
            Ok(Value::typed_list(l.elem, items))
        }
        Value::Map(m) => {
            if let Err(c) = path.enter_map(m) {
                return cut(c, m.go_type());
            }
            let mut entries = BTreeMap::new();
            for (k, item) in m.snapshot().iter() {
                entries.insert(k.clone(), deep_copy(item, path)?);
            }
            path.leave();
            Ok(Value::Map(Arc::new(
                Map::new(m.elem, entries).with_type(m.type_name.clone()),
            )))
        }
        // Strings, bytes and objects never change in place: sharing them is a copy.
        other => Ok(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(pairs: &[(&str, Value)]) -> Map {
        Map::new(
            Elem::Interface,
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect(),
        )
    }

    fn at(m: &Map, key: &str) -> Value {
        m.get(key).unwrap_or_default()
    }

    #[test]
    fn merge_fills_empty_values_and_overwrite_replaces_them() {
        // Rendered by helm: merge keeps a:1 and fills b:"" and e:0 from the source;
        // mergeOverwrite replaces everything, with empty and nil values too.
        let pairs = [
            ("a", Value::Int(1)),
            ("b", Value::from("")),
            ("e", Value::Int(0)),
        ];
        let src_pairs = [
            ("a", Value::Int(2)),
            ("b", Value::from("B")),
            ("e", Value::Int(5)),
        ];
        let merged = d(&pairs);
        merge_into(&merged, &d(&src_pairs), false, &mut Vec::new(), 0).expect("merge");
        assert!(at(&merged, "a").deep_equal(&Value::Int(1)));
        assert!(at(&merged, "b").deep_equal(&Value::from("B")));
        assert!(at(&merged, "e").deep_equal(&Value::Int(5)));
        let over = d(&src_pairs);
        merge_into(&over, &d(&pairs), true, &mut Vec::new(), 0).expect("merge");
        assert!(at(&over, "b").deep_equal(&Value::from("")));
        let with_nil = d(&[("a", Value::Int(1))]);
        merge_into(
            &with_nil,
            &d(&[("a", Value::Nil)]),
            true,
            &mut Vec::new(),
            0,
        )
        .expect("merge");
        assert!(at(&with_nil, "a").is_nil());
    }

    #[test]
    fn merge_changes_nested_destination_maps_in_place() {
        let inner = Value::map(BTreeMap::new());
        let dst = d(&[("n", inner.clone())]);
        let src = d(&[(
            "n",
            Value::map(BTreeMap::from([("x".into(), Value::Int(1))])),
        )]);
        merge_into(&dst, &src, false, &mut Vec::new(), 0).expect("merge");
        // The destination's map was empty, took the source's entries and stayed.
        assert_eq!(inner.to_string(), "map[x:1]");
        assert!(
            matches!((&at(&dst, "n"), &inner), (Value::Map(a), Value::Map(b)) if a.same_map(b))
        );
    }

    #[test]
    fn deep_copy_shares_no_map_and_refuses_cycles() {
        let m = d(&[("n", Value::map(BTreeMap::new()))]);
        let v = Value::Map(Arc::new(m.clone()));
        let c = deep_copy(&v, &mut Path::default()).expect("copy");
        assert!(c.deep_equal(&v));
        if let Some(n) = c
            .as_map()
            .and_then(|c| c.get("n"))
            .as_ref()
            .and_then(Value::as_map)
        {
            n.insert("x", Value::Int(1));
        }
        assert_eq!(v.to_string(), "map[n:map[]]");
        m.insert("self", v.clone());
        let e = deep_copy(&v, &mut Path::default()).expect_err("cycle");
        assert!(e.message.contains("contains itself"), "{}", e.message);
    }
}
