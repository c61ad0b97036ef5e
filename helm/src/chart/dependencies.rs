//! Dependency processing before rendering, as Helm's `ProcessDependencies`:
//!
//! 1. each `dependencies:` entry is matched to a loaded subchart by name and version range
//!    (an `alias` makes a renamed copy; an entry without a `version` matches nothing, so an
//!    aliased copy of it is not made — recorded with helm 4.1.4);
//! 2. `tags` then `condition` (comma-separated paths, the first that holds a boolean wins)
//!    are read from the coalesced values and disabled subcharts are removed, recursively
//!    with paths prefixed by the subchart's name;
//! 3. `import-values` copy child values into the parent, children first: a string `x` is
//!    the child's `exports.x` table merged at the parent's root, a `{child, parent}` map the
//!    child's table at `child` placed at `parent`; the parent's own values win.
//!
//! Also [`check_kube_version`] for `kubeVersion`.

use serde_json::Value;

use super::values::{self, path_value, table};
use super::{Chart, MAX_CHART_DEPTH, Values};

/// Whether `version` satisfies the semver range `constraint` (errors mean no).
pub fn is_compatible_range(constraint: &str, version: &str) -> bool {
    crate::sprig::semver::compare(constraint, version).unwrap_or(false)
}

/// Enables/disables and aliases subcharts, then imports values, as Helm does before
/// rendering. `user` are the user's values (files and `--set`, merged).
///
/// # Errors
/// None today; kept fallible for the errors Helm's later versions add.
pub fn process_dependencies(chart: &mut Chart, user: &Values) -> Result<(), String> {
    process_enabled(chart, user, "", 0);
    process_import_values(chart, 0);
    Ok(())
}

fn process_enabled(chart: &mut Chart, v: &Values, path: &str, depth: usize) {
    if depth > MAX_CHART_DEPTH || chart.metadata.dependencies.is_empty() {
        return;
    }
    let loaded = std::mem::take(&mut chart.dependencies);
    let mut kept: Vec<Chart> = Vec::new();
    // Subcharts no entry claims stay as they are.
    for existing in &loaded {
        let claimed = chart.metadata.dependencies.iter().any(|req| {
            existing.name() == req.name
                && is_compatible_range(&req.version, &existing.metadata.version)
        });
        if !claimed {
            kept.push(existing.clone());
        }
    }
    for req in &mut chart.metadata.dependencies {
        if let Some(found) = loaded.iter().find(|c| {
            c.name() == req.name && is_compatible_range(&req.version, &c.metadata.version)
        }) {
            let mut copy = found.clone();
            if !req.alias.is_empty() {
                copy.metadata.name = req.alias.clone();
            }
            kept.push(copy);
        }
        if !req.alias.is_empty() {
            req.name = req.alias.clone();
        }
    }
    chart.dependencies = kept;
    for req in &mut chart.metadata.dependencies {
        req.enabled = true;
    }
    let cvals = values::coalesce(chart, v);
    // Tags.
    if let Some(tags) = table(&cvals, "tags") {
        for req in &mut chart.metadata.dependencies {
            let (mut has_true, mut has_false) = (false, false);
            for t in &req.tags {
                match tags.get(t) {
                    Some(Value::Bool(true)) => has_true = true,
                    Some(Value::Bool(false)) => has_false = true,
                    _ => {}
                }
            }
            req.enabled = has_true || !has_false;
        }
    }
    // Conditions.
    for req in &mut chart.metadata.dependencies {
        for c in req.condition.trim().split(',') {
            if c.is_empty() {
                continue;
            }
            if let Some(Value::Bool(b)) = path_value(&cvals, &format!("{path}{c}")) {
                req.enabled = *b;
                break;
            }
        }
    }
    let removed: Vec<String> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.name.clone())
        .collect();
    chart
        .dependencies
        .retain(|c| !removed.iter().any(|n| n == c.name()));
    chart
        .metadata
        .dependencies
        .retain(|r| !removed.contains(&r.name));
    for sub in &mut chart.dependencies {
        let subpath = format!("{path}{}.", sub.name());
        process_enabled(sub, &cvals, &subpath, depth + 1);
    }
}

/// Nests `data` under a `.`-separated path (`.` is the root).
fn path_to_map(path: &str, data: Values) -> Values {
    if path == "." {
        return data;
    }
    let mut cur = data;
    for part in path.split('.').rev() {
        let mut m = Values::new();
        m.insert(part.to_string(), Value::Object(cur));
        cur = m;
    }
    cur
}

fn process_import_values(chart: &mut Chart, depth: usize) {
    if depth > MAX_CHART_DEPTH {
        return;
    }
    for sub in &mut chart.dependencies {
        process_import_values(sub, depth + 1);
    }
    if chart.metadata.dependencies.is_empty() {
        return;
    }
    let cvals = values::merge(chart, &Values::new());
    let mut imported = Values::new();
    for req in &mut chart.metadata.dependencies {
        let mut normalised = Vec::new();
        for iv in &req.import_values {
            let (child, parent) = match iv {
                Value::Object(m) => (go_sprint(m.get("child")), go_sprint(m.get("parent"))),
                Value::String(s) => (format!("exports.{s}"), ".".to_string()),
                _ => continue,
            };
            let mut norm = Values::new();
            norm.insert("child".into(), Value::String(child.clone()));
            norm.insert("parent".into(), Value::String(parent.clone()));
            normalised.push(Value::Object(norm));
            let Some(vv) = table(&cvals, &format!("{}.{child}", req.name)) else {
                continue;
            };
            let add = path_to_map(&parent, vv.clone());
            values::coalesce_tables(&mut imported, add, true, 0);
        }
        req.import_values = normalised;
    }
    let mut merged = cvals;
    values::coalesce_tables(&mut merged, imported, true, 0);
    chart.values = merged;
}

/// Go's `fmt.Sprintf("%v", x)` for the strings and scalars import-values hold.
fn go_sprint(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "<nil>".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// `kubeVersion` check: `Ok` when the chart (and every subchart) accepts `kube_version`
/// (`v1.35.0`, the default of `helm template`).
///
/// # Errors
/// Helm's message: `chart requires kubeVersion: <c> which is incompatible with Kubernetes
/// <v>`.
pub fn check_kube_version(chart: &Chart, kube_version: &str) -> Result<(), String> {
    let c = &chart.metadata.kube_version;
    if !c.is_empty() && !is_compatible_range(c, kube_version) {
        return Err(format!(
            "chart requires kubeVersion: {c} which is incompatible with Kubernetes {kube_version}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::File;
    use crate::chart::load::load_files;
    use serde_json::json;

    fn file(name: &str, data: &str) -> File {
        File {
            name: name.into(),
            data: data.as_bytes().to_vec(),
        }
    }

    /// The chart `p` recorded with helm 4.1.4 (see the test names for what each run showed).
    fn parent() -> Chart {
        load_files(vec![
            file(
                "Chart.yaml",
                "apiVersion: v2\nname: p\nversion: 1.0.0\ndependencies:\n  - name: sub\n    version: \">=0.1.0\"\n    condition: sub.enabled,global.subOn\n    import-values:\n      - data\n      - child: deep.x\n        parent: fromdeep\n  - name: sub\n    alias: sub2\n    version: \"1.x\"\n    tags: [t1, t2]\n  - name: sub\n    alias: sub3\n    condition: sub3.enabled\n",
            ),
            file(
                "values.yaml",
                "global:\n  g1: parent\n  gm: {a: 1}\nsub:\n  keep: fromparent\n  nulme: null\nsub2:\n  keep: two\ntags:\n  t1: false\nfromdeep:\n  y: parent\n",
            ),
            file("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 1.2.3\n"),
            file(
                "charts/sub/values.yaml",
                "enabled: true\nkeep: default\nnulme: x\nnuldef: null\nnested: {a: null, b: 1}\nglobal:\n  g1: child\n  g2: child\n  gm: {b: 2}\nexports:\n  data:\n    exported: 1\ndeep:\n  x: {y: child, z: child}\n",
            ),
        ])
        .expect("loads")
    }

    fn names(c: &Chart) -> Vec<&str> {
        c.dependencies.iter().map(Chart::name).collect()
    }

    #[test]
    fn tags_conditions_aliases_and_imports() {
        let mut c = parent();
        let user = Values::new();
        process_dependencies(&mut c, &user).expect("processes");
        assert_eq!(names(&c), ["sub"]);
        let v = values::coalesce(&c, &user);
        let sub = json!({"deep":{"x":{"true":"child","z":"child"}},"enabled":true,"exports":{"data":{"exported":1.0}},"global":{"g1":"parent","g2":"child","gm":{"a":1.0,"b":2.0}},"keep":"fromparent","nested":{"a":null,"b":1.0}});
        assert_eq!(v["sub"], sub);
        assert_eq!(v["exported"], json!(1.0));
        assert_eq!(v["fromdeep"], json!({"true":"parent","z":"child"}));
        assert_eq!(v["global"], json!({"g1":"parent","gm":{"a":1.0}}));
    }

    #[test]
    fn a_true_tag_enables_and_versionless_aliases_match_nothing() {
        let mut c = parent();
        let user = crate::chart::strvals::parse("tags.t2=true,sub3.enabled=true").expect("set");
        process_dependencies(&mut c, &user).expect("processes");
        assert_eq!(names(&c), ["sub", "sub2"]);
    }

    #[test]
    fn the_first_boolean_condition_wins() {
        let mut c = parent();
        let user =
            crate::chart::strvals::parse("sub.enabled=notbool,global.subOn=false").expect("set");
        process_dependencies(&mut c, &user).expect("processes");
        assert!(names(&c).is_empty());
    }
}
