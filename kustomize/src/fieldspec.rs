//! Field specs: "this path in resources of this group/version/kind". Transformers use them
//! to find where labels, annotations, namespaces and name references live.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::resource::Resource;

/// A path in resources selected by optional group, version and kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// API group; None matches any.
    pub group: Option<&'static str>,
    /// API version; None matches any.
    pub version: Option<&'static str>,
    /// Kind; None matches any.
    pub kind: Option<&'static str>,
    /// `/`-separated path; `name[]` marks a list; lists met on the way are traversed.
    pub path: &'static str,
    /// Create missing fields along the path.
    pub create: bool,
}

impl FieldSpec {
    /// A spec for every resource.
    pub const fn any(path: &'static str, create: bool) -> Self {
        Self {
            group: None,
            version: None,
            kind: None,
            path,
            create,
        }
    }

    /// A spec for one kind (any group and version).
    pub const fn kind(kind: &'static str, path: &'static str, create: bool) -> Self {
        Self {
            group: None,
            version: None,
            kind: Some(kind),
            path,
            create,
        }
    }

    /// A spec for one group and kind.
    pub const fn group_kind(
        group: &'static str,
        kind: &'static str,
        path: &'static str,
        create: bool,
    ) -> Self {
        Self {
            group: Some(group),
            version: None,
            kind: Some(kind),
            path,
            create,
        }
    }
}

/// A field spec read from a kustomization's `configurations` or `crds` (or one of the
/// built-in tables, borrowed): the run-time form of [`FieldSpec`], with Kustomize's merge
/// rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// API group; None matches any.
    pub group: Option<Cow<'static, str>>,
    /// API version; None matches any.
    pub version: Option<Cow<'static, str>>,
    /// Kind; None matches any.
    pub kind: Option<Cow<'static, str>>,
    /// `/`-separated path, as in [`FieldSpec::path`].
    pub path: Cow<'static, str>,
    /// Create missing fields along the path.
    pub create: bool,
    /// Whether the spec comes from Kustomize's built-in tables (transformers that apply
    /// those with their own code apply only the others).
    pub builtin: bool,
}

impl From<&FieldSpec> for Spec {
    fn from(f: &FieldSpec) -> Self {
        Self {
            group: f.group.map(Cow::Borrowed),
            version: f.version.map(Cow::Borrowed),
            kind: f.kind.map(Cow::Borrowed),
            path: Cow::Borrowed(f.path),
            create: f.create,
            builtin: true,
        }
    }
}

impl Spec {
    /// Whether the spec applies to a resource.
    pub fn selects(&self, res: &Resource) -> bool {
        let (group, version, kind) = res.gvk();
        self.kind.as_deref().is_none_or(|k| k == kind)
            && self.group.as_deref().is_none_or(|g| g == group)
            && self.version.as_deref().is_none_or(|v| v == version)
    }

    /// Calls `f` on every value at the path, as [`visit_path`] does.
    ///
    /// # Errors
    /// As [`visit_path`].
    pub fn visit(
        &self,
        value: &mut Value,
        f: &mut dyn FnMut(&mut Value) -> Result<(), String>,
    ) -> Result<(), String> {
        visit_path(value, &self.path, self.create, f)
    }
}

/// Splits a path on `/`, honouring `\/` escapes.
fn segments(path: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                chars.next();
                if let Some(last) = out.last_mut() {
                    last.push('/');
                }
            }
            '/' => out.push(String::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

/// Calls `f` on every value at `path` in `value` (a `Null` placeholder when the last field
/// is missing and `create`). Stops at missing fields otherwise.
///
/// # Errors
/// What `f` returns, or a path that crosses a scalar.
pub fn visit_path(
    value: &mut Value,
    path: &str,
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    let segs = segments(path);
    walk(value, &segs, create, f)
}

fn walk(
    value: &mut Value,
    segs: &[String],
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    if let Value::Array(items) = value {
        for item in items {
            walk(item, segs, create, f)?;
        }
        return Ok(());
    }
    let Some((seg, rest)) = segs.split_first() else {
        return f(value);
    };
    let (field, is_list) = match seg.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (seg.as_str(), false),
    };
    let Value::Object(map) = value else {
        if value.is_null() && create {
            *value = Value::Object(Map::new());
            return walk(value, segs, create, f);
        }
        return Ok(());
    };
    if !map.contains_key(field) {
        if !create || is_list {
            return Ok(());
        }
        map.insert(
            field.to_string(),
            if rest.is_empty() {
                Value::Null
            } else {
                Value::Object(Map::new())
            },
        );
    }
    let Some(next) = map.get_mut(field) else {
        return Ok(());
    };
    if rest.is_empty() {
        if let Value::Array(items) = next
            && is_list
        {
            for item in items {
                f(item)?;
            }
            return Ok(());
        }
        f(next)?;
        if next.is_null() {
            // Nothing was set: do not leave a null behind.
            map.remove(field);
        }
        return Ok(());
    }
    walk(next, rest, create, f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_lists_and_creates_maps() -> Result<(), String> {
        let mut v = json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b", "image": "x"}]}}}});
        let mut seen = Vec::new();
        Spec::from(&FieldSpec::any(
            "spec/template/spec/containers[]/name",
            false,
        ))
        .visit(&mut v, &mut |n| {
            seen.push(n.as_str().unwrap_or_default().to_string());
            Ok(())
        })?;
        assert_eq!(seen, ["a", "b"]);
        Spec::from(&FieldSpec::any("spec/template/metadata/labels", true)).visit(
            &mut v,
            &mut |n| {
                *n = json!({"app": "x"});
                Ok(())
            },
        )?;
        assert_eq!(
            v["spec"]["template"]["metadata"]["labels"],
            json!({"app": "x"})
        );
        Spec::from(&FieldSpec::any("spec/selector/matchLabels", false))
            .visit(&mut v, &mut |_| Err("must not be called".into()))?;
        assert!(v["spec"].get("selector").is_none());
        Ok(())
    }

    #[test]
    fn escaped_slashes_stay_in_the_key() {
        assert_eq!(
            segments(r"metadata/annotations/nginx.ingress.kubernetes.io\/auth-secret"),
            [
                "metadata",
                "annotations",
                "nginx.ingress.kubernetes.io/auth-secret"
            ]
        );
    }
}
