//! The built-in transformers of one kustomization, in Kustomize's order: namespace, prefix,
//! suffix, labels, annotations, replicas, images. Pure functions over the resource list.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::builtin;
use super::fieldspec::{FieldSpec, visit};
use super::kustomization::{Image, Kustomization, Replica};
use super::limits::Budget;
use super::patch;
use super::replacement;
use super::resource::{Resource, is_cluster_scoped};
use super::{BuildError, Loader};

/// Runs the transformers a kustomization declares over `resources`.
///
/// # Errors
/// A field that has the wrong type where a transformer writes, naming the resource; patch
/// failures.
pub fn apply(
    k: &Kustomization,
    loader: &Loader,
    dir: &Path,
    file: &str,
    resources: &mut Vec<Resource>,
) -> Result<(), BuildError> {
    patch::apply_strategic_merge(loader, dir, file, &k.patches_strategic_merge, resources)?;
    patch::apply_patches(loader, dir, file, &k.patches, resources)?;
    if let Some(ns) = k.namespace.as_deref().filter(|n| !n.is_empty()) {
        namespace(resources, ns, file)?;
    }
    if let Some(prefix) = k.name_prefix.as_deref().filter(|p| !p.is_empty()) {
        rename(resources, |name| format!("{prefix}{name}"));
    }
    if let Some(suffix) = k.name_suffix.as_deref().filter(|s| !s.is_empty()) {
        rename(resources, |name| format!("{name}{suffix}"));
    }
    if !k.common_labels.is_empty() {
        set_maps(
            resources,
            &builtin::selector_labels(),
            &k.common_labels,
            file,
            "commonLabels",
            &loader.budget,
        )?;
    }
    for set in &k.labels {
        let specs = if set.include_selectors {
            builtin::selector_labels()
        } else if set.include_templates {
            builtin::template_labels()
        } else {
            vec![FieldSpec::any("metadata/labels", true)]
        };
        set_maps(
            resources,
            &specs,
            &set.pairs,
            file,
            "labels",
            &loader.budget,
        )?;
    }
    if !k.common_annotations.is_empty() {
        set_maps(
            resources,
            &builtin::annotations(),
            &k.common_annotations,
            file,
            "commonAnnotations",
            &loader.budget,
        )?;
    }
    patch::apply_json6902(loader, dir, file, &k.patches_json6902, resources)?;
    for r in &k.replicas {
        replicas(resources, r, file)?;
    }
    for image in &k.images {
        for res in resources.iter_mut() {
            rewrite_images(&mut res.value, image);
        }
    }
    replacement::apply(loader, dir, file, &k.replacements, resources)?;
    Ok(())
}

/// The namespace of a role binding's subjects, by NamespaceTransformer's
/// `setRoleBindingSubjects` mode: `defaultOnly` (the `namespace:` field's mode) sets it on
/// subjects named `default` whatever their kind and namespace (as kubectl does),
/// `allServiceAccounts` on every ServiceAccount subject, `none` on none.
pub(crate) fn set_role_binding_subjects(res: &mut Resource, ns: &str, mode: &str) {
    let Some(Value::Array(subjects)) = res.value.get_mut("subjects") else {
        return;
    };
    for s in subjects.iter_mut() {
        let Value::Object(s) = s else { continue };
        let selected = match mode {
            "defaultOnly" => s.get("name").and_then(Value::as_str) == Some("default"),
            "allServiceAccounts" => s.get("kind").and_then(Value::as_str) == Some("ServiceAccount"),
            _ => false,
        };
        if selected {
            s.insert("namespace".into(), Value::String(ns.to_string()));
        }
    }
}

/// Kustomize's namespace transformer: `metadata.namespace` of namespaced objects, the name
/// of core `Namespace` objects, RoleBinding/ClusterRoleBinding subjects named `default`
/// (whatever their kind and namespace), an APIService's `spec.service.namespace` (created)
/// and a CRD's conversion webhook service namespace (when set). Webhook configurations are
/// left to the name-reference step, which moves a reference with the Service it names.
///
/// # Errors
/// Two resources that end up with the same id, as Kustomize's "ID conflict".
fn namespace(resources: &mut [Resource], ns: &str, file: &str) -> Result<(), BuildError> {
    for res in resources.iter_mut() {
        let (group, _, kind) = res.gvk();
        let group = group.to_string();
        if kind == "Namespace" && group.is_empty() {
            if res.name() != ns {
                res.set_name(ns);
            }
            continue;
        }
        match (group.as_str(), kind) {
            ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
                set_role_binding_subjects(res, ns, "defaultOnly");
            }
            ("apiregistration.k8s.io", "APIService") => {
                if let Value::Object(obj) = &mut res.value {
                    let spec = obj
                        .entry("spec")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if spec.is_null() {
                        *spec = Value::Object(Map::new());
                    }
                    if let Value::Object(spec) = spec {
                        let service = spec
                            .entry("service")
                            .or_insert_with(|| Value::Object(Map::new()));
                        if service.is_null() {
                            *service = Value::Object(Map::new());
                        }
                        if let Value::Object(service) = service {
                            service.insert("namespace".into(), Value::String(ns.to_string()));
                        }
                    }
                }
            }
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                if let Some(Value::Object(service)) = res
                    .value
                    .pointer_mut("/spec/conversion/webhook/clientConfig/service")
                    && service.contains_key("namespace")
                {
                    service.insert("namespace".into(), Value::String(ns.to_string()));
                }
            }
            _ => {}
        }
        // A `Namespace` of another API group is an ordinary namespaced object.
        if (group.is_empty() || res.kind() != "Namespace") && is_cluster_scoped(res.kind()) {
            continue;
        }
        if res.namespace() != ns {
            res.set_namespace(ns);
        }
    }
    let mut seen = std::collections::HashSet::new();
    for res in resources.iter() {
        let id = res.id();
        let message = format!("namespace transformation produces ID conflict: {id}");
        if !seen.insert(id) {
            return Err(BuildError::new(file, message));
        }
    }
    Ok(())
}

fn rename(resources: &mut [Resource], f: impl Fn(&str) -> String) {
    for res in resources.iter_mut() {
        let group = res.id().group;
        // kubectl never prefixes a `Namespace`, whatever its API group.
        if res.kind() == "CustomResourceDefinition"
            || res.kind() == "Namespace"
            || (res.kind() == "APIService" && group == "apiregistration.k8s.io")
        {
            continue;
        }
        let name = f(res.name());
        res.set_name(&name);
    }
}

/// The estimated memory of `pairs` set in one map, charged to the build's byte budget.
pub(crate) fn pairs_size(pairs: &BTreeMap<String, String>) -> u64 {
    pairs
        .iter()
        .map(|(k, v)| (24 + k.len() + 32 + v.len()) as u64)
        .sum()
}

fn set_maps(
    resources: &mut [Resource],
    specs: &[FieldSpec],
    pairs: &BTreeMap<String, String>,
    file: &str,
    field: &str,
    budget: &Budget,
) -> Result<(), BuildError> {
    let size = pairs_size(pairs);
    for res in resources.iter_mut() {
        let id = res.id();
        let selected: Vec<&FieldSpec> = specs.iter().filter(|s| s.selects(res)).collect();
        let mut done: Vec<&str> = Vec::new();
        for spec in selected {
            if done.contains(&spec.path) {
                continue;
            }
            done.push(spec.path);
            visit(&mut res.value, spec, &mut |target| {
                if target.is_null() {
                    *target = Value::Object(Map::new());
                }
                let Value::Object(map) = target else {
                    return Err(format!("{} is not a map", spec.path));
                };
                budget.charge(size)?;
                for (k, v) in pairs {
                    map.insert(k.clone(), Value::String(v.clone()));
                }
                Ok(())
            })
            .map_err(|m| BuildError::new(file, format!("{field}: {id}: {m}")))?;
        }
    }
    Ok(())
}

fn replicas(resources: &mut [Resource], r: &Replica, file: &str) -> Result<(), BuildError> {
    let specs = builtin::replicas();
    for res in resources.iter_mut() {
        if !res.all_names().any(|n| n == r.name) {
            continue;
        }
        let selected: Vec<&FieldSpec> = specs.iter().filter(|s| s.selects(res)).collect();
        for spec in selected {
            visit(&mut res.value, spec, &mut |target| {
                *target = Value::from(r.count);
                Ok(())
            })
            .map_err(|m| BuildError::new(file, format!("replicas: {m}")))?;
        }
    }
    Ok(())
}

/// Rewrites `image` fields of every `containers` and `initContainers` list anywhere in the
/// object (Kustomize's image transformer does not limit itself to known kinds).
pub(crate) fn rewrite_images(value: &mut Value, image: &Image) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if (key == "containers" || key == "initContainers")
                    && let Value::Array(items) = child
                {
                    for item in items.iter_mut() {
                        if let Some(Value::String(current)) = item.get_mut("image")
                            && let Some(new) = replace_image(current, image)
                        {
                            *current = new;
                        }
                    }
                }
                rewrite_images(child, image);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| rewrite_images(i, image)),
        _ => {}
    }
}

/// Splits `registry/name:tag@digest` into name, tag and digest.
fn parse_image(s: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    // A ':' after the last '/' starts the tag (a ':' before it is a registry port).
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].find(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..]), digest),
        None => (rest, None, digest),
    }
}

pub(crate) fn replace_image(current: &str, image: &Image) -> Option<String> {
    let (name, tag, digest) = parse_image(current);
    if name != image.name {
        return None;
    }
    let new_name = image.new_name.as_deref().unwrap_or(name);
    let out = if let Some(d) = &image.digest {
        format!("{new_name}@{d}")
    } else if let Some(t) = &image.new_tag {
        format!("{new_name}:{t}")
    } else {
        let mut s = new_name.to_string();
        if let Some(t) = tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = digest {
            s.push('@');
            s.push_str(d);
        }
        s
    };
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(name: &str, new_name: Option<&str>, tag: Option<&str>, digest: Option<&str>) -> Image {
        Image {
            name: name.into(),
            new_name: new_name.map(Into::into),
            new_tag: tag.map(Into::into),
            digest: digest.map(Into::into),
        }
    }

    #[test]
    fn images_keep_registry_ports_and_prefer_digests() {
        assert_eq!(
            parse_image("reg:5000/app:1.0@sha256:x"),
            ("reg:5000/app", Some("1.0"), Some("sha256:x"))
        );
        assert_eq!(
            replace_image("nginx:1.0", &image("nginx", None, Some("1.2"), None)),
            Some("nginx:1.2".into())
        );
        assert_eq!(
            replace_image(
                "busybox",
                &image("busybox", Some("my/busybox"), Some("1"), Some("sha256:abc"))
            ),
            Some("my/busybox@sha256:abc".into())
        );
        assert_eq!(
            replace_image("nginx-extra:1", &image("nginx", None, Some("2"), None)),
            None
        );
        assert_eq!(
            replace_image(
                "reg:5000/app:1",
                &image("reg:5000/app", Some("other"), None, None)
            ),
            Some("other:1".into())
        );
    }
}
