//! Field specs: "this path in resources of this group/version/kind". Transformers use them
//! to find where labels, annotations, namespaces and name references live.

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

    /// Whether the spec applies to a resource.
    pub fn selects(&self, res: &Resource) -> bool {
        let (group, version, kind) = res.gvk();
        self.kind.is_none_or(|k| k == kind)
            && self.group.is_none_or(|g| g == group)
            && self.version.is_none_or(|v| v == version)
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

/// Calls `f` on every value at `spec.path` in `value` (a `Null` placeholder when the last
/// field is missing and `spec.create`). Stops at missing fields otherwise.
///
/// # Errors
/// What `f` returns, or a path that crosses a scalar.
pub fn visit(
    value: &mut Value,
    spec: &FieldSpec,
    f: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    visit_path(value, spec.path, spec.create, f)
}

/// [`visit`] with a path and `create` given at run time (the field specs of a plugin config).
///
/// # Errors
/// As [`visit`].
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
        visit(
            &mut v,
            &FieldSpec::any("spec/template/spec/containers[]/name", false),
            &mut |n| {
                seen.push(n.as_str().unwrap_or_default().to_string());
                Ok(())
            },
        )?;
        assert_eq!(seen, ["a", "b"]);
        visit(
            &mut v,
            &FieldSpec::any("spec/template/metadata/labels", true),
            &mut |n| {
                *n = json!({"app": "x"});
                Ok(())
            },
        )?;
        assert_eq!(
            v["spec"]["template"]["metadata"]["labels"],
            json!({"app": "x"})
        );
        visit(
            &mut v,
            &FieldSpec::any("spec/selector/matchLabels", false),
            &mut |_| Err("must not be called".into()),
        )?;
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
