//! Name references: after renames (prefix, suffix, namespace, content hash), fields that name
//! another resource — a ConfigMap in a volume, a ServiceAccount in a RoleBinding — follow it.

use std::collections::HashMap;

use serde_json::Value;

use super::configurations::NameRef;
use super::resource::{Resource, is_cluster_scoped};

struct Target {
    index: usize,
    names: Vec<String>,
    namespaces: Vec<String>,
    name: String,
    namespace: String,
    cluster_scoped: bool,
}

/// Rewrites every reference to a renamed resource, by the name-reference table `refs` (the
/// built-in one with what `configurations` and `crds` added).
///
/// # Errors
/// A reference that could mean more than one resource, naming the referrer and the value.
pub(crate) fn fix(resources: &mut [Resource], refs: &[NameRef]) -> Result<(), String> {
    for reference in refs {
        let targets: Vec<Target> = resources
            .iter()
            .enumerate()
            .filter(|(_, r)| reference.selects(r) && !r.previous.is_empty())
            .map(|(index, r)| Target {
                index,
                names: r.all_names().map(str::to_string).collect(),
                namespaces: r
                    .previous
                    .iter()
                    .map(|(_, ns)| ns.clone())
                    .chain([r.namespace().to_string()])
                    .collect(),
                name: r.name().to_string(),
                namespace: r.namespace().to_string(),
                cluster_scoped: is_cluster_scoped(r.kind()),
            })
            .collect();
        if targets.is_empty() {
            continue;
        }
        let mut by_name: HashMap<&str, Vec<&Target>> = HashMap::new();
        for t in &targets {
            for n in &t.names {
                let entry = by_name.entry(n.as_str()).or_default();
                // A name appears several times in the history when only the namespace changed.
                if !entry.iter().any(|e| e.index == t.index) {
                    entry.push(t);
                }
            }
        }
        for (i, res) in resources.iter_mut().enumerate() {
            let specs: Vec<_> = reference
                .referrers
                .iter()
                .filter(|s| s.selects(res))
                .collect();
            if specs.is_empty() {
                continue;
            }
            let referrer_ns = res.namespace().to_string();
            let cluster_referrer = is_cluster_scoped(res.kind());
            let referrer = res.id().to_string();
            for spec in specs {
                // A binding's `roleRef` names a Role or a ClusterRole as its `kind` says.
                if spec.path == "roleRef/name"
                    && res.value.pointer("/roleRef/kind").and_then(Value::as_str)
                        != Some(&reference.kind)
                {
                    continue;
                }
                spec.visit(&mut res.value, &mut |target| {
                    rewrite(
                        target,
                        &reference.kind,
                        &by_name,
                        (i, cluster_referrer),
                        &referrer_ns,
                    )
                    .map_err(|m| format!("{referrer}: {m}"))
                })?;
            }
        }
    }
    Ok(())
}

fn rewrite(
    value: &mut Value,
    kind: &str,
    targets: &Index<'_>,
    referrer: Referrer,
    referrer_ns: &str,
) -> Result<(), String> {
    match value {
        Value::String(name) => {
            if let Some(t) = select(targets, name, referrer_ns, referrer, kind)? {
                *name = t.name.clone();
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(_) => rewrite(item, kind, targets, referrer, referrer_ns)?,
                    Value::Object(_) => rewrite_object(item, kind, targets, referrer, referrer_ns)?,
                    _ => {}
                }
            }
        }
        Value::Object(_) => rewrite_object(value, kind, targets, referrer, referrer_ns)?,
        _ => {}
    }
    Ok(())
}

/// Objects that name a resource with `name` and `namespace` (RoleBinding subjects, webhook
/// services).
fn rewrite_object(
    value: &mut Value,
    kind: &str,
    targets: &Index<'_>,
    referrer: Referrer,
    referrer_ns: &str,
) -> Result<(), String> {
    // Kustomize matches RoleBinding subjects by name and namespace only, whatever their
    // kind: a User named like a renamed ServiceAccount is renamed too.
    let Some(name) = value
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Ok(());
    };
    let ns = value
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or(referrer_ns)
        .to_string();
    if let Some(t) = select(targets, &name, &ns, referrer, kind)? {
        let (new_name, new_ns) = (t.name.clone(), t.namespace.clone());
        if let Value::Object(map) = value {
            map.insert("name".into(), Value::String(new_name));
            // The reference follows the resource into its namespace.
            if !new_ns.is_empty() {
                map.insert("namespace".into(), Value::String(new_ns));
            }
        }
    }
    Ok(())
}

/// The referrer's index in the list, and whether it is cluster-scoped.
type Referrer = (usize, bool);

/// Renamed resources of one kind by every name they have had.
type Index<'a> = HashMap<&'a str, Vec<&'a Target>>;

/// As in Kustomize's ids, no namespace and `default` are the same namespace.
fn same_ns(a: &str, b: &str) -> bool {
    a == b || (matches!(a, "" | "default") && matches!(b, "" | "default"))
}

fn select<'a>(
    targets: &Index<'a>,
    name: &str,
    ns: &str,
    (referrer, cluster_referrer): Referrer,
    kind: &str,
) -> Result<Option<&'a Target>, String> {
    let matches: Vec<&Target> = targets
        .get(name)
        .into_iter()
        .flatten()
        .copied()
        .filter(|t| t.index != referrer)
        .filter(|t| {
            // A cluster-scoped referrer (an APIService, a webhook configuration) names a
            // resource of any namespace unless it gives one.
            t.cluster_scoped
                || (cluster_referrer && ns.is_empty())
                || same_ns(&t.namespace, ns)
                || t.namespaces.iter().any(|n| same_ns(n, ns))
        })
        .collect();
    match matches.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => {
            let exact: Vec<&&Target> = many.iter().filter(|t| t.namespace == ns).collect();
            if exact.len() == 1 {
                return Ok(Some(exact[0]));
            }
            Err(format!(
                "found multiple possible referrals for {kind} {name:?}"
            ))
        }
    }
}
