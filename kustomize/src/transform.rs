//! The built-in transformers of one kustomization, in Kustomize's order: namespace, prefix,
//! suffix, labels, annotations, replicas, images. Pure functions over the resource list.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde_json::{Map, Value};

use super::configurations;
use super::fieldspec::{FieldSpec, Spec};
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
    // The field-spec tables accumulated in this kustomization (`configurations`, `crds`).
    let cfg = loader.configs.current();
    if let Some(ns) = k.namespace.as_deref().filter(|n| !n.is_empty()) {
        namespace(resources, ns, file, loader.openapi().as_deref())?;
        configurations::apply_namespace(&cfg, resources, ns, file)?;
    }
    if let Some(prefix) = k.name_prefix.as_deref().filter(|p| !p.is_empty()) {
        rename(resources, |name| format!("{prefix}{name}"));
        configurations::apply_affix(&cfg.name_prefix, resources, prefix, "", file)?;
    }
    if let Some(suffix) = k.name_suffix.as_deref().filter(|s| !s.is_empty()) {
        rename(resources, |name| format!("{name}{suffix}"));
        configurations::apply_affix(&cfg.name_suffix, resources, "", suffix, file)?;
    }
    if !k.common_labels.is_empty() {
        set_maps(
            resources,
            &cfg.common_labels,
            &k.common_labels,
            file,
            "commonLabels",
            loader.budget,
        )?;
    }
    for set in &k.labels {
        let specs = if set.include_selectors {
            cfg.common_labels.clone()
        } else if set.include_templates {
            cfg.template_labels.clone()
        } else {
            vec![Spec::from(&FieldSpec::any("metadata/labels", true))]
        };
        set_maps(resources, &specs, &set.pairs, file, "labels", loader.budget)?;
        crate::plugins::label_fields(loader, file, &set.fields, &specs, &set.pairs, resources)?;
    }
    if !k.common_annotations.is_empty() {
        set_maps(
            resources,
            &cfg.common_annotations,
            &k.common_annotations,
            file,
            "commonAnnotations",
            loader.budget,
        )?;
    }
    patch::apply_json6902(loader, dir, file, &k.patches_json6902, resources)?;
    for r in &k.replicas {
        replicas(resources, r, &cfg.replicas, file)?;
    }
    for image in &k.images {
        // Compiled once per entry, not once per resource.
        let matcher = ImageMatcher::new(&image.name);
        for res in resources.iter_mut() {
            rewrite_images_with(&mut res.value, image, &matcher);
            // kubectl's image transformer then visits its default field specs, the
            // containers of a pod spec and of a template's pod spec, a second time: only a
            // `tagSuffix` (appended again) changes anything there.
            if image.tag_suffix.as_ref().is_some_and(|s| !s.is_empty()) {
                suffix_default_paths(&mut res.value, image, &matcher);
            }
        }
        configurations::apply_images(&cfg, resources, image);
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
fn namespace(
    resources: &mut [Resource],
    ns: &str,
    file: &str,
    schema: Option<&super::openapi::Schema>,
) -> Result<(), BuildError> {
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
        // A custom `openapi` schema may declare a custom kind cluster-scoped.
        if schema.is_some_and(|s| s.is_cluster_scoped(&res.value)) {
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
    specs: &[Spec],
    pairs: &BTreeMap<String, String>,
    file: &str,
    field: &str,
    budget: &Budget,
) -> Result<(), BuildError> {
    let size = pairs_size(pairs);
    for res in resources.iter_mut() {
        let id = res.id();
        let selected: Vec<&Spec> = specs.iter().filter(|s| s.selects(res)).collect();
        let mut done: Vec<&str> = Vec::new();
        for spec in selected {
            if done.contains(&spec.path.as_ref()) {
                continue;
            }
            done.push(&spec.path);
            spec.visit(&mut res.value, &mut |target| {
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

fn replicas(
    resources: &mut [Resource],
    r: &Replica,
    specs: &[Spec],
    file: &str,
) -> Result<(), BuildError> {
    let mut found = false;
    for res in resources.iter_mut() {
        if !res.all_names().any(|n| n == r.name) {
            continue;
        }
        let selected: Vec<&Spec> = specs.iter().filter(|s| s.selects(res)).collect();
        found |= !selected.is_empty();
        for spec in selected {
            spec.visit(&mut res.value, &mut |target| {
                *target = Value::from(r.count);
                Ok(())
            })
            .map_err(|m| BuildError::new(file, format!("replicas: {m}")))?;
        }
    }
    if !found {
        // As kubectl: an entry that changes nothing (no such name, or not a kind with a
        // replica count) is an error, worded as Kustomize's ReplicaCountTransformer does.
        return Err(BuildError::new(
            file,
            format!(
                "replicas: resource with name {} does not match a config with the following GVK \
                 [Deployment.[noVer].[noGrp] StatefulSet.[noVer].[noGrp] ReplicaSet.[noVer].[noGrp] \
                 ReplicationController.[noVer].[noGrp]]",
                r.name
            ),
        ));
    }
    Ok(())
}

/// Rewrites `image` fields of every `containers` and `initContainers` list anywhere in the
/// object (Kustomize's image transformer does not limit itself to known kinds).
pub(crate) fn rewrite_images(value: &mut Value, image: &Image) {
    let matcher = ImageMatcher::new(&image.name);
    rewrite_images_with(value, image, &matcher);
}

fn rewrite_images_with(value: &mut Value, image: &Image, matcher: &ImageMatcher) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if (key == "containers" || key == "initContainers")
                    && let Value::Array(items) = child
                {
                    for item in items.iter_mut() {
                        if let Some(Value::String(current)) = item.get_mut("image")
                            && let Some(new) = replace_image_with(current, image, matcher)
                        {
                            *current = new;
                        }
                    }
                }
                rewrite_images_with(child, image, matcher);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| rewrite_images_with(i, image, matcher)),
        _ => {}
    }
}

/// The second visit of an `images` entry with a `tagSuffix` (see [`apply`]).
fn suffix_default_paths(value: &mut Value, image: &Image, matcher: &ImageMatcher) {
    for path in [&["spec"][..], &["spec", "template", "spec"][..]] {
        let mut at = Some(&mut *value);
        for p in path {
            at = at.and_then(|v| v.get_mut(*p));
        }
        let Some(Value::Object(pod)) = at else {
            continue;
        };
        for list in ["containers", "initContainers"] {
            let Some(Value::Array(items)) = pod.get_mut(list) else {
                continue;
            };
            for item in items.iter_mut() {
                if let Some(Value::String(current)) = item.get_mut("image")
                    && let Some(new) = replace_image_with(current, image, matcher)
                {
                    *current = new;
                }
            }
        }
    }
}

/// Which images an `images` entry's `name` selects. As in Kustomize, the name is a regular
/// expression, anchored, that may be followed by a `:tag` and an `@sha256:` digest (so
/// `nginx` selects `nginx`, `nginx:1`, `nginx@sha256:...` and `nginx:1@sha256:...`, and
/// `nginx:1` selects `nginx:1@sha256:...`). A name that is not a valid expression selects
/// nothing.
struct ImageMatcher(Option<Regex>);

impl ImageMatcher {
    fn new(name: &str) -> Self {
        // The name comes from a kustomization: bound the compiled program's size.
        let re = regex::RegexBuilder::new(&format!(
            "^(?:{name})(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$"
        ))
        .size_limit(1 << 20)
        .build()
        .ok();
        ImageMatcher(re)
    }

    fn matches(&self, image: &str) -> bool {
        self.0.as_ref().is_some_and(|re| re.is_match(image))
    }
}

/// Splits `[host[:port]/]name[:tag][@digest]` into name, tag and digest the way Kustomize
/// does: after the first `/`, the first `@` starts a digest unless a `:` comes before it,
/// which starts the tag.
fn parse_image(s: &str) -> (&str, Option<&str>, Option<&str>) {
    let offset = match s.find('/') {
        Some(i) if i > 0 => i,
        _ => 0,
    };
    let search = &s[offset..];
    let at = search.find('@').map(|i| i + offset);
    let colon = search.find(':').map(|i| i + offset);
    match (colon, at) {
        (None, None) => (s, None, None),
        (None, Some(a)) => (&s[..a], None, Some(&s[a + 1..])),
        (Some(c), Some(a)) if a < c => (&s[..a], None, Some(&s[a + 1..])),
        (Some(c), Some(a)) => (&s[..c], Some(&s[c + 1..a]), Some(&s[a + 1..])),
        (Some(c), None) => (&s[..c], Some(&s[c + 1..]), None),
    }
}

pub(crate) fn replace_image(current: &str, image: &Image) -> Option<String> {
    replace_image_with(current, image, &ImageMatcher::new(&image.name))
}

fn replace_image_with(current: &str, image: &Image, matcher: &ImageMatcher) -> Option<String> {
    if !matcher.matches(current) {
        return None;
    }
    let (name, mut tag, mut digest) = parse_image(current);
    fn set(o: &Option<String>) -> Option<&str> {
        o.as_deref().filter(|v| !v.is_empty())
    }
    let mut out = set(&image.new_name).unwrap_or(name).to_string();
    // A new tag or digest replaces both the old tag and digest; empty values change nothing.
    match (set(&image.new_tag), set(&image.digest)) {
        (Some(t), Some(d)) => (tag, digest) = (Some(t), Some(d)),
        (Some(t), None) => (tag, digest) = (Some(t), None),
        (None, Some(d)) => (tag, digest) = (None, Some(d)),
        (None, None) => {}
    }
    let mut tag = tag.unwrap_or_default().to_string();
    if set(&image.new_tag).is_none()
        && set(&image.digest).is_none()
        && let Some(suffix) = set(&image.tag_suffix)
    {
        tag.push_str(suffix);
        digest = None;
    }
    if !tag.is_empty() {
        out.push(':');
        out.push_str(&tag);
    }
    if let Some(d) = digest.filter(|d| !d.is_empty()) {
        out.push('@');
        out.push_str(d);
    }
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
            tag_suffix: None,
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
            Some("my/busybox:1@sha256:abc".into())
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
