//! `vars` (deprecated in Kustomize, common in older repositories): `$(NAME)` in a fixed set
//! of fields replaced by a field of another resource, as Kustomize v5 does.
//!
//! Two steps, as in Kustomize: each kustomization *declares* its vars after its own
//! transformers ([`declare`]), which ties each var to the one resource its `objref` names
//! (by any name the resource has had so far, so a base's var follows the overlay's
//! renames); at the top of the build, after content hashes and name references, every
//! declared var is *resolved* from its resource's final state and substituted
//! ([`resolve`]). A var whose resource is missing is an error even when nothing uses it; a
//! `$(X)` naming no declared var is left as is; `$$` escapes a `$`.

use std::cell::RefCell;

use serde::Deserialize;
use serde_json::Value;

use super::BuildError;
use super::fieldspec::{FieldSpec, Spec};
use super::limits::Budget;
use super::resource::{self, Resource};

/// One entry of `vars`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Var {
    /// The name used in `$(NAME)`.
    pub name: String,
    /// The resource the value comes from.
    pub objref: ObjRef,
    /// The field of that resource (default `metadata.name`).
    #[serde(default)]
    pub fieldref: FieldRef,
}

/// `objref`: the resource a var reads.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjRef {
    /// `group/version`, or `version` for the core group.
    #[serde(default)]
    pub api_version: Option<String>,
    /// API group (when `apiVersion` is not given).
    #[serde(default)]
    pub group: Option<String>,
    /// API version (when `apiVersion` is not given).
    #[serde(default)]
    pub version: Option<String>,
    /// Kind.
    #[serde(default)]
    pub kind: String,
    /// Name (any name the resource has had when the var is declared).
    #[serde(default)]
    pub name: String,
    /// Namespace; when empty, the resource may be in any namespace.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `fieldref`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRef {
    /// Dotted path, with `[N]` list indexes.
    #[serde(default)]
    pub fieldpath: String,
}

impl ObjRef {
    /// Group and version, from `apiVersion` when given.
    fn group_version(&self) -> (String, String) {
        match self.api_version.as_deref() {
            Some(av) if !av.is_empty() => resource::split_api_version(av),
            _ => (
                self.group.clone().unwrap_or_default(),
                self.version.clone().unwrap_or_default(),
            ),
        }
    }

    /// Kustomize's `Kind.version.group` form; `parsed` folds `apiVersion` in.
    fn gvk_text(&self, parsed: bool) -> String {
        let (group, version) = if parsed {
            self.group_version()
        } else {
            (
                self.group.clone().unwrap_or_default(),
                self.version.clone().unwrap_or_default(),
            )
        };
        let or = |s: &str, none: &str| {
            if s.is_empty() {
                none.to_string()
            } else {
                s.to_string()
            }
        };
        format!(
            "{}.{}.{}",
            or(&self.kind, "[noKind]"),
            or(&version, "[noVer]"),
            or(&group, "[noGrp]")
        )
    }
}

impl Var {
    /// How Kustomize prints a var in its errors.
    fn text(&self, parsed: bool, defaulted: bool) -> String {
        let path = if defaulted {
            self.fieldpath()
        } else {
            &self.fieldref.fieldpath
        };
        format!(
            "{{{} {} {{{path}}}}}",
            self.name,
            self.objref.gvk_text(parsed)
        )
    }

    fn fieldpath(&self) -> &str {
        if self.fieldref.fieldpath.is_empty() {
            "metadata.name"
        } else {
            &self.fieldref.fieldpath
        }
    }

    /// Whether `res`, under any name it has had, is the resource this var names.
    fn matches(&self, res: &Resource) -> bool {
        let (group, version) = self.objref.group_version();
        let (g, v, k) = res.gvk();
        if g != group || v != version || k != self.objref.kind {
            return false;
        }
        let ns = self.objref.namespace.as_deref().unwrap_or_default();
        let check_ns = !ns.is_empty() || resource::is_cluster_scoped(k);
        let same_ns = |other: &str| {
            let norm = |s: &str| if s.is_empty() { "default" } else { s }.to_string();
            norm(ns) == norm(other)
        };
        res.previous
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_str()))
            .chain(std::iter::once((res.name(), res.namespace())))
            .any(|(n, s)| n == self.objref.name && (!check_ns || same_ns(s)))
    }
}

/// The vars declared so far in a build, in declaration order.
#[derive(Debug, Default)]
pub(crate) struct Declared(RefCell<Vec<Var>>);

/// The default `varReference` field specs of Kustomize v5: where `$(NAME)` is replaced.
pub(crate) const VAR_REFERENCE: &[FieldSpec] = &{
    const fn k(kind: &'static str, path: &'static str) -> FieldSpec {
        FieldSpec::kind(kind, path, false)
    }
    [
        k(
            "CronJob",
            "spec/jobTemplate/spec/template/spec/containers/args",
        ),
        k(
            "CronJob",
            "spec/jobTemplate/spec/template/spec/containers/command",
        ),
        k(
            "CronJob",
            "spec/jobTemplate/spec/template/spec/containers/env/value",
        ),
        k(
            "CronJob",
            "spec/jobTemplate/spec/template/spec/containers/volumeMounts/mountPath",
        ),
        k(
            "CronJob",
            "spec/jobTemplate/spec/template/spec/initContainers/args",
        ),
        k(
            "CronJob",
            "spec/jobTemplate/spec/template/spec/initContainers/command",
        ),
        k(
            "CronJob",
            "spec/jobTemplate/spec/template/spec/initContainers/env/value",
        ),
        k(
            "CronJob",
            "spec/jobTemplate/spec/template/spec/initContainers/volumeMounts/mountPath",
        ),
        // Kustomize's path for CronJob NFS servers misses a `spec`, so it never matches.
        k(
            "CronJob",
            "spec/jobTemplate/spec/template/volumes/nfs/server",
        ),
        k("DaemonSet", "spec/template/spec/containers/args"),
        k("DaemonSet", "spec/template/spec/containers/command"),
        k("DaemonSet", "spec/template/spec/containers/env/value"),
        k(
            "DaemonSet",
            "spec/template/spec/containers/volumeMounts/mountPath",
        ),
        k("DaemonSet", "spec/template/spec/initContainers/args"),
        k("DaemonSet", "spec/template/spec/initContainers/command"),
        k("DaemonSet", "spec/template/spec/initContainers/env/value"),
        k(
            "DaemonSet",
            "spec/template/spec/initContainers/volumeMounts/mountPath",
        ),
        k("DaemonSet", "spec/template/spec/volumes/nfs/server"),
        k("Deployment", "spec/template/spec/containers/args"),
        k("Deployment", "spec/template/spec/containers/command"),
        k("Deployment", "spec/template/spec/containers/env/value"),
        k(
            "Deployment",
            "spec/template/spec/containers/volumeMounts/mountPath",
        ),
        k("Deployment", "spec/template/spec/initContainers/args"),
        k("Deployment", "spec/template/spec/initContainers/command"),
        k("Deployment", "spec/template/spec/initContainers/env/value"),
        k(
            "Deployment",
            "spec/template/spec/initContainers/volumeMounts/mountPath",
        ),
        k("Deployment", "spec/template/spec/volumes/nfs/server"),
        k("Deployment", "spec/template/metadata/annotations"),
        k("Ingress", "spec/rules/host"),
        k("Ingress", "spec/tls/hosts"),
        k("Ingress", "spec/tls/secretName"),
        k("Job", "spec/template/spec/containers/args"),
        k("Job", "spec/template/spec/containers/command"),
        k("Job", "spec/template/spec/containers/env/value"),
        k(
            "Job",
            "spec/template/spec/containers/volumeMounts/mountPath",
        ),
        k("Job", "spec/template/spec/initContainers/args"),
        k("Job", "spec/template/spec/initContainers/command"),
        k("Job", "spec/template/spec/initContainers/env/value"),
        k(
            "Job",
            "spec/template/spec/initContainers/volumeMounts/mountPath",
        ),
        k("Job", "spec/template/spec/volumes/nfs/server"),
        k("Pod", "spec/containers/args"),
        k("Pod", "spec/containers/command"),
        k("Pod", "spec/containers/env/value"),
        k("Pod", "spec/containers/volumeMounts/mountPath"),
        k("Pod", "spec/initContainers/args"),
        k("Pod", "spec/initContainers/command"),
        k("Pod", "spec/initContainers/env/value"),
        k("Pod", "spec/initContainers/volumeMounts/mountPath"),
        k("Pod", "spec/volumes/nfs/server"),
        k("ReplicaSet", "spec/template/spec/containers/args"),
        k("ReplicaSet", "spec/template/spec/containers/command"),
        k("ReplicaSet", "spec/template/spec/containers/env/value"),
        k(
            "ReplicaSet",
            "spec/template/spec/containers/volumeMounts/mountPath",
        ),
        k("ReplicaSet", "spec/template/spec/initContainers/args"),
        k("ReplicaSet", "spec/template/spec/initContainers/command"),
        k("ReplicaSet", "spec/template/spec/initContainers/env/value"),
        k(
            "ReplicaSet",
            "spec/template/spec/initContainers/volumeMounts/mountPath",
        ),
        k("ReplicaSet", "spec/template/spec/volumes/nfs/server"),
        k("Service", "spec/ports/port"),
        k("Service", "spec/ports/targetPort"),
        k("StatefulSet", "spec/template/spec/containers/args"),
        k("StatefulSet", "spec/template/spec/containers/command"),
        k("StatefulSet", "spec/template/spec/containers/env/value"),
        k(
            "StatefulSet",
            "spec/template/spec/containers/volumeMounts/mountPath",
        ),
        k("StatefulSet", "spec/template/spec/initContainers/args"),
        k("StatefulSet", "spec/template/spec/initContainers/command"),
        k("StatefulSet", "spec/template/spec/initContainers/env/value"),
        k(
            "StatefulSet",
            "spec/template/spec/initContainers/volumeMounts/mountPath",
        ),
        k("StatefulSet", "spec/volumeClaimTemplates/spec/nfs/server"),
        k("PersistentVolume", "spec/nfs/server"),
        FieldSpec::any("metadata/labels", false),
        FieldSpec::any("metadata/annotations", false),
    ]
};

/// Declares the `vars` of the kustomization `file`, after its transformers: each var is
/// tied to the resource its `objref` names, if exactly one does.
///
/// # Errors
/// A name already declared (here or in a base), and an `objref` naming more than one resource.
pub(crate) fn declare(
    declared: &Declared,
    vars: &[Var],
    resources: &mut [Resource],
    file: &str,
) -> Result<(), BuildError> {
    if vars.is_empty() {
        return Ok(());
    }
    let all: Vec<String> = vars.iter().map(|v| v.text(false, false)).collect();
    let err = |m: String| BuildError::new(file, format!("merging vars [{}]: {m}", all.join(" ")));
    for var in vars {
        let matched: Vec<usize> = (0..resources.len())
            .filter(|&i| var.matches(&resources[i]))
            .collect();
        if matched.len() > 1 {
            return Err(err(format!(
                "found {} resId matches for var {} (unable to disambiguate)",
                matched.len(),
                var.text(true, false)
            )));
        }
        if let Some(&i) = matched.first() {
            resources[i].vars.push(var.name.clone());
        }
    }
    let mut set = declared.0.borrow_mut();
    for var in vars {
        if set.iter().any(|v| v.name == var.name) {
            return Err(err(format!("var '{}' already encountered", var.name)));
        }
        set.push(var.clone());
    }
    Ok(())
}

/// Resolves every declared var from its resource's final state and replaces `$(NAME)` in
/// the var-reference fields `var_reference` (Kustomize's, with what `configurations` added)
/// of every resource.
///
/// # Errors
/// A var tied to no resource, a `fieldref` naming a missing field, and a spent budget.
pub(crate) fn resolve(
    declared: &Declared,
    var_reference: &[Spec],
    resources: &mut [Resource],
    budget: &Budget,
    file: &str,
) -> Result<(), BuildError> {
    let mut vars = declared.0.borrow().clone();
    if vars.is_empty() {
        return Ok(());
    }
    vars.sort_by(|a, b| a.name.cmp(&b.name));
    let mut values = std::collections::BTreeMap::new();
    for var in &vars {
        let Some(res) = resources.iter().find(|r| r.vars.contains(&var.name)) else {
            return Err(BuildError::new(
                file,
                format!(
                    "var '{}' cannot be mapped to a field in the set of known resources",
                    var.text(true, true)
                ),
            ));
        };
        let value = field_value(&res.value, var.fieldpath()).ok_or_else(|| {
            BuildError::new(
                file,
                format!(
                    "field specified in var '{}' not found in corresponding resource",
                    var.text(true, true)
                ),
            )
        })?;
        // Kustomize only substitutes scalars: a map or list leaves `$(NAME)` as written.
        if !value.is_object() && !value.is_array() {
            values.insert(var.name.clone(), value);
        }
    }
    for res in resources.iter_mut() {
        let specs: Vec<&Spec> = var_reference.iter().filter(|s| s.selects(res)).collect();
        for spec in specs {
            spec.visit(&mut res.value, &mut |node| {
                substitute_node(node, &values, budget)
            })
            .map_err(|m| BuildError::new(file, m))?;
        }
    }
    Ok(())
}

/// Replaces references in a field: a string, the string values of a map, the strings of a list.
fn substitute_node(
    node: &mut Value,
    values: &std::collections::BTreeMap<String, Value>,
    budget: &Budget,
) -> Result<(), String> {
    let mut one = |v: &mut Value| -> Result<(), String> {
        if let Value::String(s) = v
            && s.contains('$')
        {
            let new = expand(s, values);
            budget.charge(limits_size(&new))?;
            *v = new;
        }
        Ok(())
    };
    match node {
        Value::Object(map) => map.values_mut().try_for_each(&mut one),
        Value::Array(items) => items.iter_mut().try_for_each(&mut one),
        other => one(other),
    }
}

fn limits_size(v: &Value) -> u64 {
    super::limits::measure(v).bytes
}

/// Kustomize's expansion of `$(NAME)`: `$$` is a literal `$`, an unknown or unclosed
/// reference stays as written, and a string that is exactly one reference takes the
/// value's type (a port stays a number).
fn expand(input: &str, values: &std::collections::BTreeMap<String, Value>) -> Value {
    let bytes = input.as_bytes();
    let mut out = String::new();
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest.find(')') {
                    Some(close) => {
                        let name = &rest[1..close];
                        match values.get(name) {
                            Some(value) if input.len() == name.len() + 3 => return value.clone(),
                            Some(value) => out.push_str(&text(value)),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        close + 1
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    // `$` then the next character, copied as they are.
                    let c = rest.chars().next().map_or(1, char::len_utf8);
                    out.push('$');
                    out.push_str(&rest[..c]);
                    c
                }
            };
            cursor += advance + 1;
            checkpoint = cursor;
        } else {
            cursor += 1;
        }
    }
    out.push_str(&input[checkpoint.min(input.len())..]);
    Value::String(out)
}

/// A value as Go's `%v` prints it inside a string.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => weir_yaml::scalar_text(other),
    }
}

/// The value at a Kustomize field path (`spec.ports[0].port`, `metadata.labels.app`); like
/// Kustomize, list selectors (`[name=web]`) match nothing.
fn field_value(value: &Value, path: &str) -> Option<Value> {
    let mut current = value;
    for seg in split(path) {
        let (field, selectors) = match seg.find('[') {
            Some(i) => (&seg[..i], &seg[i..]),
            None => (seg.as_str(), ""),
        };
        if !field.is_empty() {
            current = current.get(field)?;
        }
        let mut sel = selectors;
        while let Some(rest) = sel.strip_prefix('[') {
            let close = rest.find(']')?;
            let inner = &rest[..close];
            current = current.as_array()?.get(inner.parse::<usize>().ok()?)?;
            sel = &rest[close + 1..];
        }
    }
    if current.is_null() {
        return None;
    }
    Some(current.clone())
}

/// Splits a field path on dots outside brackets.
fn split(path: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut depth = 0usize;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '.' if depth == 0 => {
                out.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values() -> std::collections::BTreeMap<String, Value> {
        [
            ("SVC".to_string(), json!("web")),
            ("PORT".to_string(), json!(8080)),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn expansion_follows_kustomize() {
        let v = values();
        assert_eq!(expand("$(SVC)", &v), json!("web"));
        assert_eq!(expand("$(PORT)", &v), json!(8080));
        assert_eq!(
            expand("http://$(SVC):$(PORT)/", &v),
            json!("http://web:8080/")
        );
        assert_eq!(expand("$(OTHER)", &v), json!("$(OTHER)"));
        assert_eq!(expand("$$(SVC)", &v), json!("$(SVC)"));
        assert_eq!(expand("$(SVC", &v), json!("$(SVC"));
        assert_eq!(expand("a$b$", &v), json!("a$b$"));
        assert_eq!(expand("é$é$(SVC)", &v), json!("é$éweb"));
    }

    #[test]
    fn field_paths_index_and_select() {
        let obj = json!({"spec": {"ports": [{"name": "a", "port": 1}, {"name": "b", "port": 2}]},
                          "metadata": {"labels": {"x.y/z": "v"}}});
        assert_eq!(field_value(&obj, "spec.ports[1].port"), Some(json!(2)));
        assert_eq!(field_value(&obj, "spec.ports[name=a].port"), None);
        assert_eq!(field_value(&obj, "spec.ports[5].port"), None);
        assert_eq!(field_value(&obj, "spec.missing"), None);
    }
}
