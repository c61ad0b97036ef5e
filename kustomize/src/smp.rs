//! Strategic merge patch as Kustomize (kyaml) applies it: maps merge recursively, `null`
//! deletes, lists with a merge key merge element by element (patch elements first, then the
//! original's others), other lists are replaced by the patch's list exactly as written, and
//! `$patch: delete|replace` directives work on maps and list elements. Maps and elements
//! new to the object merge into nothing, so their nulls and directives drop out. Merge keys
//! come from the Kubernetes API for built-in kinds; custom resources have none, so their
//! lists are replaced.
//!
//! kyaml differs from the API server's strategic merge patch in ways `kubectl kustomize`
//! shows and we copy: an element marked `$patch: replace` that matches one in the original
//! keeps the original's fields (it only moves to the patch's place); `$setElementOrder/…`,
//! `$retainKeys` and `$deleteFromPrimitiveList/…` are not directives and stay in the output
//! as ordinary keys.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::openapi::{ListStrategy, Schema};

/// How a list at some path merges.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ListMerge {
    /// Elements are maps identified by this key.
    Key(Cow<'static, str>),
    /// Elements are maps identified by two keys (`containerPort` and `protocol`); Kustomize
    /// merges these in place, puts new elements first and drops patch elements whose first
    /// key matches but whose second does not.
    Keys(Cow<'static, str>, Cow<'static, str>),
    /// A set of scalars (`metadata.finalizers`).
    Primitives,
    /// Replaced wholesale.
    Replace,
}

/// Kinds whose schema Kustomize knows (the Kubernetes built-in types).
fn is_builtin(api_version: &str) -> bool {
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    group.is_empty() || !group.contains('.') || group.ends_with(".k8s.io")
}

/// Where the pod spec is in a built-in workload kind.
fn pod_spec_prefix(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some("spec"),
        "PodTemplate" => Some("template/spec"),
        "Deployment"
        | "ReplicaSet"
        | "DaemonSet"
        | "StatefulSet"
        | "Job"
        | "ReplicationController" => Some("spec/template/spec"),
        "CronJob" => Some("spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

fn list_merge(api_version: &str, kind: &str, path: &str) -> ListMerge {
    if !is_builtin(api_version) {
        return ListMerge::Replace;
    }
    let meta_suffix = |p: &str| -> Option<String> {
        if let Some(rest) = p.strip_prefix("metadata/") {
            return Some(rest.to_string());
        }
        let prefix = pod_spec_prefix(kind)?;
        let template_meta = format!(
            "{}/metadata/",
            prefix.strip_suffix("/spec").unwrap_or(prefix)
        );
        p.strip_prefix(&template_meta).map(str::to_string)
    };
    if let Some(field) = meta_suffix(path) {
        return match field.as_str() {
            "finalizers" => ListMerge::Primitives,
            "ownerReferences" => ListMerge::Key("uid".into()),
            _ => ListMerge::Replace,
        };
    }
    if kind == "Service" && path == "spec/ports" {
        return ListMerge::Keys("port".into(), "protocol".into());
    }
    if (kind == "MutatingWebhookConfiguration" || kind == "ValidatingWebhookConfiguration")
        && path == "webhooks"
    {
        return ListMerge::Key("name".into());
    }
    let Some(prefix) = pod_spec_prefix(kind) else {
        return ListMerge::Replace;
    };
    let Some(rest) = path.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) else {
        return ListMerge::Replace;
    };
    match rest {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates" => ListMerge::Key("name".into()),
        "hostAliases" => ListMerge::Key("ip".into()),
        "topologySpreadConstraints" => ListMerge::Key("topologyKey".into()),
        _ => {
            let Some((parent, field)) = rest.split_once('/') else {
                return ListMerge::Replace;
            };
            if !matches!(
                parent,
                "containers" | "initContainers" | "ephemeralContainers"
            ) {
                return ListMerge::Replace;
            }
            match field {
                "ports" => ListMerge::Keys("containerPort".into(), "protocol".into()),
                "env" => ListMerge::Key("name".into()),
                "volumeMounts" => ListMerge::Key("mountPath".into()),
                "volumeDevices" => ListMerge::Key("devicePath".into()),
                _ => ListMerge::Replace,
            }
        }
    }
}

/// What a patch does to the object it applies to.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The object was patched in place.
    Patched,
    /// The patch says `$patch: delete`: remove the object.
    Delete,
}

/// Applies a strategic merge patch to a resource, with the merge keys of the Kubernetes
/// built-in kinds, or those of a custom schema (`openapi:`) when given: it replaces the
/// built-in one, so kinds it does not describe have no merge keys at all.
///
/// # Errors
/// An unknown `$patch` directive.
pub fn apply_with(
    target: &mut Value,
    patch: &Value,
    schema: Option<&Schema>,
) -> Result<Outcome, String> {
    let api_version = target
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let kind = target
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let (Value::Object(t), Value::Object(p)) = (&mut *target, patch) else {
        return Err("a strategic merge patch must be a mapping".into());
    };
    let ctx = Ctx {
        api_version: &api_version,
        kind: &kind,
        schema,
    };
    match merge_map(t, p, "", &ctx)? {
        MapResult::Keep => Ok(Outcome::Patched),
        MapResult::Delete => Ok(Outcome::Delete),
    }
}

struct Ctx<'a> {
    api_version: &'a str,
    kind: &'a str,
    /// A custom schema replacing the built-in merge keys.
    schema: Option<&'a Schema>,
}

enum MapResult {
    Keep,
    Delete,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}/{key}")
    }
}

fn directive(map: &Map<String, Value>) -> Result<Option<&str>, String> {
    match map.get("$patch") {
        None => Ok(None),
        Some(Value::String(s)) if matches!(s.as_str(), "delete" | "replace" | "merge") => {
            Ok(Some(s))
        }
        Some(other) => Err(format!("unknown patch directive $patch: {other}")),
    }
}

fn merge_map(
    target: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    path: &str,
    ctx: &Ctx<'_>,
) -> Result<MapResult, String> {
    match directive(patch)? {
        Some("delete") => return Ok(MapResult::Delete),
        Some("replace") => {
            *target = clean_map(patch)?;
            return Ok(MapResult::Keep);
        }
        _ => {}
    }
    for (key, pv) in patch {
        if key == "$patch" {
            continue;
        }
        let child_path = join(path, key);
        if pv.is_null() {
            target.remove(key);
            continue;
        }
        match (target.get_mut(key), pv) {
            (Some(Value::Object(tm)), Value::Object(pm)) => {
                if let MapResult::Delete = merge_map(tm, pm, &child_path, ctx)? {
                    target.remove(key);
                }
            }
            (Some(Value::Array(tl)), Value::Array(pl)) => {
                let merged = merge_list(std::mem::take(tl), pl, &child_path, ctx)?;
                target.insert(key.clone(), Value::Array(merged));
            }
            (_, Value::Array(pl)) => {
                let merged = merge_list(Vec::new(), pl, &child_path, ctx)?;
                target.insert(key.clone(), Value::Array(merged));
            }
            (_, Value::Object(pm)) => {
                // A new map merges into nothing, so its lists and directives follow the
                // same rules as in an existing one.
                let mut fresh = Map::new();
                match merge_map(&mut fresh, pm, &child_path, ctx)? {
                    MapResult::Delete => {
                        target.remove(key);
                    }
                    MapResult::Keep => {
                        target.insert(key.clone(), Value::Object(fresh));
                    }
                }
            }
            (_, other) => {
                target.insert(key.clone(), clean(other)?);
            }
        }
    }
    Ok(MapResult::Keep)
}

fn merge_list(
    target: Vec<Value>,
    patch: &[Value],
    path: &str,
    ctx: &Ctx<'_>,
) -> Result<Vec<Value>, String> {
    let replace_marker = patch.iter().any(|v| {
        v.as_object().is_some_and(|m| {
            m.len() == 1 && m.get("$patch").and_then(Value::as_str) == Some("replace")
        })
    });
    if replace_marker {
        return patch
            .iter()
            .filter(|v| !has_directive(v, "replace"))
            .map(clean)
            .collect();
    }
    let how = match ctx.schema {
        Some(schema) => match schema.list_strategy(ctx.api_version, ctx.kind, path) {
            ListStrategy::Replace => ListMerge::Replace,
            ListStrategy::Primitives => ListMerge::Primitives,
            ListStrategy::Key(k) => ListMerge::Key(k.into()),
            ListStrategy::Keys(a, b) => ListMerge::Keys(a.into(), b.into()),
        },
        None => list_merge(ctx.api_version, ctx.kind, path),
    };
    match how {
        // kyaml takes a replaced list as the patch wrote it: directives and nulls included.
        ListMerge::Replace => Ok(patch.to_vec()),
        ListMerge::Primitives => {
            let mut out: Vec<Value> = Vec::new();
            for v in patch.iter().chain(target.iter()) {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            Ok(out)
        }
        ListMerge::Keys(first, second) => {
            let mut dest: Vec<Option<Value>> = target.into_iter().map(Some).collect();
            let mut new = Vec::new();
            for item in patch {
                let Some(pm) = item.as_object() else {
                    new.push(clean(item)?);
                    continue;
                };
                let (first, second) = (first.as_ref(), second.as_ref());
                // As kyaml: an element with both keys equal merges; one whose first key
                // matches while the second is missing on one side only is dropped; one
                // whose second key differs from every match is new.
                let second_of = |i: usize| dest[i].as_ref().and_then(|d| d.get(second));
                let same_first: Vec<usize> = pm.get(first).map_or_else(Vec::new, |id| {
                    (0..dest.len())
                        .filter(|&i| dest[i].as_ref().and_then(|t| t.get(first)) == Some(id))
                        .collect()
                });
                let exact = same_first
                    .iter()
                    .copied()
                    .find(|&i| second_of(i) == pm.get(second));
                let loose = same_first
                    .iter()
                    .copied()
                    .find(|&i| second_of(i).is_none() != pm.get(second).is_none());
                let Some(i) = exact.or(loose) else {
                    new.extend(fresh(pm, path, ctx)?);
                    continue;
                };
                match directive(pm)? {
                    Some("delete") => {
                        dest[i] = None;
                        continue;
                    }
                    // As with merge keys: the original element moves to the front, unchanged.
                    Some("replace") => {
                        new.extend(dest[i].take());
                        continue;
                    }
                    _ => {}
                }
                if exact.is_none() {
                    continue;
                }
                if let Some(Value::Object(tm)) = dest[i].as_mut()
                    && let MapResult::Delete = merge_map(tm, pm, path, ctx)?
                {
                    dest[i] = None;
                }
            }
            new.extend(dest.into_iter().flatten());
            Ok(new)
        }
        ListMerge::Key(key) => {
            let key = key.as_ref();
            let mut remaining: Vec<Option<Value>> = target.into_iter().map(Some).collect();
            let mut out = Vec::new();
            for item in patch {
                let Some(pm) = item.as_object() else {
                    out.push(clean(item)?);
                    continue;
                };
                let id = pm.get(key);
                let found = id.and_then(|id| {
                    remaining
                        .iter()
                        .position(|t| t.as_ref().and_then(|t| t.get(key)) == Some(id))
                });
                if directive(pm)? == Some("delete") {
                    if let Some(i) = found {
                        remaining[i] = None;
                    }
                    continue;
                }
                let replace = directive(pm)? == Some("replace");
                match found.and_then(|i| remaining[i].take()) {
                    // As kyaml does: an element marked `$patch: replace` that matches one in
                    // the original keeps the original's fields and moves to the patch's place.
                    Some(original) if replace => out.push(original),
                    Some(Value::Object(mut tm)) => {
                        if let MapResult::Keep = merge_map(&mut tm, pm, path, ctx)? {
                            out.push(Value::Object(tm));
                        }
                    }
                    _ => out.extend(fresh(pm, path, ctx)?),
                }
            }
            out.extend(remaining.into_iter().flatten());
            Ok(out)
        }
    }
}

/// A patch element with no counterpart in the original: merged into nothing, so that its
/// own lists and directives follow the schema; `None` when it deletes itself.
fn fresh(patch: &Map<String, Value>, path: &str, ctx: &Ctx<'_>) -> Result<Option<Value>, String> {
    let mut map = Map::new();
    Ok(match merge_map(&mut map, patch, path, ctx)? {
        MapResult::Keep => Some(Value::Object(map)),
        MapResult::Delete => None,
    })
}

fn has_directive(v: &Value, which: &str) -> bool {
    v.as_object()
        .is_some_and(|m| m.get("$patch").and_then(Value::as_str) == Some(which))
}

/// A patch value without directives, as it lands in the object.
fn clean(v: &Value) -> Result<Value, String> {
    Ok(match v {
        Value::Object(m) => Value::Object(clean_map(m)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|i| !has_directive(i, "delete"))
                .map(clean)
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

fn clean_map(m: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    directive(m)?;
    m.iter()
        .filter(|(k, v)| *k != "$patch" && !v.is_null())
        .map(|(k, v)| Ok((k.clone(), clean(v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name_patch_first() -> Result<(), String> {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a", "args": ["x"]}, {"name": "b", "image": "b"}, {"name": "c", "image": "c"}]}}}});
        let p = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "c2"}, {"name": "a", "$patch": "delete"}, {"name": "x", "image": "x"}]}}}});
        apply_with(&mut d, &p, None)?;
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"],
            json!([{"name": "c", "image": "c2"}, {"name": "x", "image": "x"}, {"name": "b", "image": "b"}])
        );
        Ok(())
    }

    #[test]
    fn custom_resources_replace_lists_and_null_deletes() -> Result<(), String> {
        let mut t = json!({"apiVersion": "example.com/v1", "kind": "Thing", "spec": {"items": [{"name": "a"}], "drop": 1, "keep": 2}});
        apply_with(
            &mut t,
            &json!({"spec": {"items": [{"name": "b"}], "drop": null}}),
            None,
        )?;
        assert_eq!(t["spec"], json!({"items": [{"name": "b"}], "keep": 2}));
        Ok(())
    }

    #[test]
    fn replaced_lists_keep_directives_and_new_maps_drop_them() -> Result<(), String> {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {
            "containers": [{"name": "a", "image": "a"}]}}}});
        let p = json!({"spec": {"strategy": {"type": "Recreate", "rollingUpdate": null, "x": {"$patch": "delete"}},
            "template": {"spec": {"containers": [
                {"name": "a", "$patch": "replace", "image": "ignored"},
                {"name": "b", "args": ["$patch", {"$patch": "delete"}], "env": [{"name": "E", "$patch": "delete"}]}]}}}});
        apply_with(&mut d, &p, None)?;
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "image": "a"}, {"name": "b", "args": ["$patch", {"$patch": "delete"}], "env": []}])
        );
        Ok(())
    }

    #[test]
    fn delete_and_replace_directives() -> Result<(), String> {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1", "b": "2"}});
        assert_eq!(
            apply_with(&mut cm.clone(), &json!({"$patch": "delete"}), None)?,
            Outcome::Delete
        );
        apply_with(
            &mut cm,
            &json!({"data": {"$patch": "replace", "c": "3"}}),
            None,
        )?;
        assert_eq!(cm["data"], json!({"c": "3"}));
        assert!(apply_with(&mut cm, &json!({"$patch": "explode"}), None).is_err());
        Ok(())
    }
}
