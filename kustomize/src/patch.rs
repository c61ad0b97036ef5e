//! `patches`, `patchesStrategicMerge` and `patchesJson6902`: loading, target selection
//! (regular expressions, label and annotation selectors) and application.

use std::path::Path;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use super::limits::{Budget, nested};
use super::resource::Resource;
use super::{BuildError, Loader, jsonpatch, smp};

/// Which resources a patch applies to. Every field is optional; name, namespace, group,
/// version and kind are regular expressions matched against the whole value.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selector {
    /// API group.
    #[serde(default)]
    pub group: Option<String>,
    /// API version.
    #[serde(default)]
    pub version: Option<String>,
    /// Kind.
    #[serde(default)]
    pub kind: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Label selector (`a=b,c!=d,e in (x,y),!f`).
    #[serde(default)]
    pub label_selector: Option<String>,
    /// Annotation selector, same syntax.
    #[serde(default)]
    pub annotation_selector: Option<String>,
}

/// Patch options.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchOptions {
    /// Let the patch rename the resource.
    #[serde(default)]
    pub allow_name_change: bool,
    /// Let the patch change the kind.
    #[serde(default)]
    pub allow_kind_change: bool,
}

/// An entry of `patches`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchEntry {
    /// File with the patch.
    #[serde(default)]
    pub path: Option<String>,
    /// Inline patch.
    #[serde(default)]
    pub patch: Option<String>,
    /// Resources to patch; without it, a strategic merge patch names its target itself.
    #[serde(default)]
    pub target: Option<Selector>,
    /// Options.
    #[serde(default)]
    pub options: Option<PatchOptions>,
}

/// An entry of `patchesJson6902`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Json6902Entry {
    /// Resources to patch.
    pub target: Selector,
    /// File with the operations.
    #[serde(default)]
    pub path: Option<String>,
    /// Inline operations.
    #[serde(default)]
    pub patch: Option<String>,
}

/// Where a patch came from, for messages.
struct Source<'a> {
    file: &'a str,
    label: String,
}

fn load(
    loader: &Loader,
    dir: &Path,
    file: &str,
    path: Option<&str>,
    inline: Option<&str>,
) -> Result<(String, String), BuildError> {
    match (path, inline) {
        (Some(p), None) => {
            let bytes = loader.read_local(dir, p)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| BuildError::new(file, format!("patch {p:?} is not UTF-8")))?;
            Ok((text, format!("patch {p:?}")))
        }
        (None, Some("")) => Err(BuildError::new(
            file,
            "a patch is empty: must specify one of patch and path",
        )),
        (None, Some(text)) => Ok((text.to_string(), "inline patch".to_string())),
        (Some(_), Some(_)) => Err(BuildError::new(
            file,
            "a patch has both path and patch: use one",
        )),
        (None, None) => Err(BuildError::new(file, "a patch has neither path nor patch")),
    }
}

/// The operations of a JSON 6902 patch, read as sigs.k8s.io/yaml reads them: YAML 1.1, and a
/// key written twice takes its later value.
fn json6902_ops(text: &str) -> Result<Value, weir_yaml::YamlError> {
    let docs = weir_yaml::from_str_multi_with(text, true, weir_yaml::DuplicateKeys::LaterWins)?;
    Ok(docs.into_iter().next().unwrap_or(Value::Null))
}

/// The documents of a strategic merge patch. They are read as resources are, except that
/// a `null` annotation stays `null` (and so deletes the annotation) where a resource would
/// keep it as the text "null".
fn patch_documents(text: &str) -> Result<Vec<Value>, weir_yaml::YamlError> {
    // A key written twice keeps its first value, as kyaml finds it.
    let first = weir_yaml::DuplicateKeys::FirstWins;
    let mut docs = weir_yaml::from_str_multi_with(text, false, first)?;
    let Ok(plain) = weir_yaml::from_str_multi_with(text, true, first) else {
        return Ok(docs);
    };
    for (doc, plain) in docs.iter_mut().zip(&plain) {
        let (Some(Value::Object(annotations)), Some(Value::Object(nulls))) = (
            doc.pointer_mut("/metadata/annotations"),
            plain.pointer("/metadata/annotations"),
        ) else {
            continue;
        };
        for (key, value) in nulls {
            if value.is_null()
                && let Some(v) = annotations.get_mut(key)
            {
                *v = Value::Null;
            }
        }
    }
    Ok(docs)
}

/// Applies the `patches` entries.
///
/// # Errors
/// Unreadable or malformed patches, JSON patches without a target, strategic merge patches
/// matching no resource, failed operations.
pub fn apply_patches(
    loader: &Loader,
    dir: &Path,
    file: &str,
    entries: &[PatchEntry],
    resources: &mut Vec<Resource>,
) -> Result<(), BuildError> {
    for entry in entries {
        loader
            .budget
            .deadline()
            .map_err(|m| BuildError::new(file, m))?;
        let (text, label) = load(
            loader,
            dir,
            file,
            entry.path.as_deref(),
            entry.patch.as_deref(),
        )?;
        let src = Source { file, label };
        let options = entry.options.clone().unwrap_or_default();
        let docs = patch_documents(&text)
            .map_err(|e| BuildError::new(file, format!("{}: malformed YAML: {e}", src.label)))?;
        // Kustomize takes an empty file for a JSON patch with no operations, and a file of
        // only comments, blanks or separators for neither kind of patch.
        if text.is_empty() {
            if entry.target.is_none() {
                return Err(BuildError::new(
                    file,
                    format!(
                        "{} is empty: must specify a target for JSON patch",
                        src.label
                    ),
                ));
            }
            continue;
        }
        if docs.iter().all(Value::is_null) {
            return Err(BuildError::new(
                file,
                format!(
                    "{} has no document: illegally qualifies as both an SM and JSON patch",
                    src.label
                ),
            ));
        }
        if docs.first().is_some_and(Value::is_array) {
            let target = entry.target.as_ref().ok_or_else(|| {
                BuildError::new(
                    file,
                    format!("{}: a JSON 6902 patch needs a target", src.label),
                )
            })?;
            let ops = json6902_ops(&text)
                .map_err(|e| BuildError::new(file, format!("{}: {e}", src.label)))?;
            json6902(&src, target, &ops, resources, loader.budget)?;
            continue;
        }
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            strategic(
                &src,
                entry.target.as_ref(),
                &doc,
                &options,
                resources,
                loader.budget,
                loader.openapi().as_deref(),
            )?;
        }
    }
    Ok(())
}

/// Applies `patchesStrategicMerge`: each entry is a file or an inline patch.
///
/// # Errors
/// As [`apply_patches`].
pub fn apply_strategic_merge(
    loader: &Loader,
    dir: &Path,
    file: &str,
    entries: &[String],
    resources: &mut Vec<Resource>,
) -> Result<(), BuildError> {
    for entry in entries {
        loader
            .budget
            .deadline()
            .map_err(|m| BuildError::new(file, m))?;
        let inline = entry.contains('\n') || entry.trim_start().starts_with('{');
        let (text, label) = if inline {
            load(loader, dir, file, None, Some(entry))?
        } else {
            load(loader, dir, file, Some(entry), None)?
        };
        let src = Source { file, label };
        let docs = patch_documents(&text)
            .map_err(|e| BuildError::new(file, format!("{}: malformed YAML: {e}", src.label)))?;
        if docs.iter().all(Value::is_null) {
            return Err(BuildError::new(
                file,
                format!("{}: patch appears to be empty", src.label),
            ));
        }
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            strategic(
                &src,
                None,
                &doc,
                &PatchOptions::default(),
                resources,
                loader.budget,
                loader.openapi().as_deref(),
            )?;
        }
    }
    Ok(())
}

/// Applies `patchesJson6902`.
///
/// # Errors
/// As [`apply_patches`].
pub fn apply_json6902(
    loader: &Loader,
    dir: &Path,
    file: &str,
    entries: &[Json6902Entry],
    resources: &mut [Resource],
) -> Result<(), BuildError> {
    for entry in entries {
        loader
            .budget
            .deadline()
            .map_err(|m| BuildError::new(file, m))?;
        let (text, label) = load(
            loader,
            dir,
            file,
            entry.path.as_deref(),
            entry.patch.as_deref(),
        )?;
        let src = Source { file, label };
        let ops = json6902_ops(&text)
            .map_err(|e| BuildError::new(file, format!("{}: malformed YAML: {e}", src.label)))?;
        json6902(&src, &entry.target, &ops, resources, loader.budget)?;
    }
    Ok(())
}

fn json6902(
    src: &Source<'_>,
    target: &Selector,
    ops: &Value,
    resources: &mut [Resource],
    budget: &Budget,
) -> Result<(), BuildError> {
    let selected = select(target, resources)
        .map_err(|m| BuildError::new(src.file, format!("{}: {m}", src.label)))?;
    for i in selected {
        let res = &mut resources[i];
        let before = (res.name().to_string(), res.kind().to_string());
        let mut value = res.value.clone();
        let err =
            |m: String| BuildError::new(src.file, format!("{} on {}: {m}", src.label, res.id()));
        jsonpatch::apply(&mut value, ops, budget).map_err(err)?;
        // As in Kustomize, the patched object must still be a resource.
        if value
            .get("kind")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(err("missing kind in the patched object".into()));
        }
        if value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(err("missing metadata.name in the patched object".into()));
        }
        // Kustomize lets JSON patches rename and re-kind whatever the options say.
        let open = PatchOptions {
            allow_name_change: true,
            allow_kind_change: true,
        };
        finish(res, value, before, &open);
    }
    Ok(())
}

fn strategic(
    src: &Source<'_>,
    target: Option<&Selector>,
    patch: &Value,
    options: &PatchOptions,
    resources: &mut Vec<Resource>,
    budget: &Budget,
    schema: Option<&super::openapi::Schema>,
) -> Result<(), BuildError> {
    let err = |m: String| BuildError::new(src.file, format!("{}: {m}", src.label));
    // Bounds the merge's recursion, which follows the patch.
    let size = nested(patch, "the patch").map_err(err)?.bytes;
    let selected = match target {
        Some(t) => select(t, resources).map_err(err)?,
        None => {
            let found = by_patch_id(patch, resources);
            if found.is_empty() {
                return Err(err(format!("no resource matches {}", describe(patch))));
            }
            if found.len() > 1 {
                return Err(err(format!(
                    "{} matches {} resources: give it a namespace",
                    describe(patch),
                    found.len()
                )));
            }
            found
        }
    };
    let mut delete = Vec::new();
    for i in selected {
        budget.charge(size).map_err(err)?;
        let res = &mut resources[i];
        let before = (res.name().to_string(), res.kind().to_string());
        let mut value = res.value.clone();
        let mut patch = patch.clone();
        if target.is_some() {
            // With an explicit target the patch's own name and kind do not matter.
            if let Some(meta) = patch.get_mut("metadata").and_then(Value::as_object_mut) {
                if !options.allow_name_change {
                    meta.remove("name");
                }
                meta.remove("namespace");
            }
            if !options.allow_kind_change
                && let Some(obj) = patch.as_object_mut()
            {
                obj.remove("kind");
                obj.remove("apiVersion");
            }
        }
        match smp::apply_with(&mut value, &patch, schema)
            .map_err(|m| err(format!("on {}: {m}", res.id())))?
        {
            smp::Outcome::Delete => delete.push(i),
            smp::Outcome::Patched => finish(res, value, before, options),
        }
    }
    for i in delete.into_iter().rev() {
        resources.remove(i);
    }
    Ok(())
}

/// Stores the patched value, keeping the name and kind unless the options allow changes.
fn finish(res: &mut Resource, mut value: Value, before: (String, String), options: &PatchOptions) {
    let new_name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !options.allow_kind_change
        && let Some(obj) = value.as_object_mut()
    {
        obj.insert("kind".into(), Value::String(before.1.clone()));
    }
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("name".into(), Value::String(before.0.clone()));
    }
    res.value = value;
    if options.allow_name_change && new_name != before.0 && !new_name.is_empty() {
        res.set_name(&new_name);
    }
}

fn describe(patch: &Value) -> String {
    let kind = patch.get("kind").and_then(Value::as_str).unwrap_or("?");
    let name = patch
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    format!("{kind} {name:?}")
}

/// Resources a strategic merge patch without target names: same group, version and kind, and
/// a current or earlier id with the patch's name and namespace (Kustomize's `GetById`).
fn by_patch_id(patch: &Value, resources: &[Resource]) -> Vec<usize> {
    let kind = patch
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (group, version) = super::resource::split_api_version(
        patch
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    let name = patch
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ns = patch
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    resources
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            let id = r.id();
            // One of the resource's ids (current or earlier) has the patch's name and
            // namespace; as in Kustomize's ids, no namespace and `default` are the same.
            let same_ns = |a: &str| a == ns || (is_default_ns(a) && is_default_ns(ns));
            id.kind == kind
                && id.group == group
                && id.version == version
                && r.previous
                    .iter()
                    .map(|(n, s)| (n.as_str(), s.as_str()))
                    .chain(std::iter::once((r.name(), r.namespace())))
                    .any(|(n, s)| n == name && same_ns(s))
        })
        .map(|(i, _)| i)
        .collect()
}

fn is_default_ns(ns: &str) -> bool {
    matches!(ns, "" | "default")
}

fn compile(pattern: Option<&String>) -> Result<Option<Regex>, String> {
    pattern
        .map(|p| {
            Regex::new(&format!("^(?:{p})$"))
                .map_err(|e| format!("target {p:?} is not a valid regular expression: {e}"))
        })
        .transpose()
}

/// Indexes of the resources a selector matches.
///
/// # Errors
/// An invalid regular expression.
pub fn select(sel: &Selector, resources: &[Resource]) -> Result<Vec<usize>, String> {
    let patterns = [
        compile(sel.group.as_ref())?,
        compile(sel.version.as_ref())?,
        compile(sel.kind.as_ref())?,
        compile(sel.name.as_ref())?,
        compile(sel.namespace.as_ref())?,
    ];
    let mut out = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        let (group, version, kind) = r.gvk();
        let values = [group, version, kind, r.name(), r.namespace()];
        let ids_match = patterns
            .iter()
            .zip(values)
            .all(|(p, v)| p.as_ref().is_none_or(|re| re.is_match(v)));
        if ids_match
            && matches_selector(
                sel.label_selector.as_deref(),
                r.value.pointer("/metadata/labels"),
            )?
            && matches_selector(
                sel.annotation_selector.as_deref(),
                r.value.pointer("/metadata/annotations"),
            )?
        {
            out.push(i);
        }
    }
    Ok(out)
}

/// Kubernetes label-selector syntax over a string map.
pub fn matches_selector(selector: Option<&str>, map: Option<&Value>) -> Result<bool, String> {
    let Some(selector) = selector.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(true);
    };
    let get = |k: &str| map.and_then(|m| m.get(k)).and_then(Value::as_str);
    for req in split_requirements(selector) {
        let req = req.trim();
        let ok = if let Some((k, set)) = req.split_once(" notin ") {
            !parse_set(set)?.contains(&get(k.trim()).unwrap_or_default().to_string())
                || get(k.trim()).is_none()
        } else if let Some((k, set)) = req.split_once(" in ") {
            get(k.trim()).is_some_and(|v| {
                parse_set(set)
                    .map(|s| s.contains(&v.to_string()))
                    .unwrap_or(false)
            })
        } else if let Some((k, v)) = req.split_once("!=") {
            get(k.trim()) != Some(v.trim())
        } else if let Some((k, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
            get(k.trim()) == Some(v.trim())
        } else if let Some(k) = req.strip_prefix('!') {
            get(k.trim()).is_none()
        } else {
            get(req).is_some()
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Splits on commas that are not inside parentheses.
fn split_requirements(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0);
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

fn parse_set(s: &str) -> Result<Vec<String>, String> {
    let inner = s
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("invalid set {s:?}"))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors() -> Result<(), String> {
        let labels = json!({"app": "web", "tier": "front"});
        for (sel, want) in [
            ("app=web", true),
            ("app==web,tier=front", true),
            ("app!=web", false),
            ("tier in (front, back)", true),
            ("tier notin (front)", false),
            ("missing", false),
            ("!missing", true),
            ("app", true),
        ] {
            assert_eq!(matches_selector(Some(sel), Some(&labels))?, want, "{sel}");
        }
        Ok(())
    }
}
