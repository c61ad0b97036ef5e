//! After rendering: split files into documents, set hooks apart, sort in Helm's install
//! order and print as `helm template` does.
//!
//! Recorded with helm 4.1.4: files are taken in path order (`p/charts/sub/...` before
//! `p/templates/...`), partials (`_*`) and blank files are skipped, each file is split on
//! `---` lines; documents without the `helm.sh/hook` annotation are stably sorted by kind
//! ([`INSTALL_ORDER`], unknown kinds after, alphabetically), hooks likewise, and printed
//! after the manifests. Every document prints as `---\n# Source: <path>\n<doc>\n`; CRDs
//! (`--include-crds`) first, with the file's own text.

use serde_json::Value;

/// Helm's install order by kind.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Hook events Helm knows (`test-success` is the Helm 2 name of `test`).
pub const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

/// One rendered document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Template path with the chart prefix (`mychart/templates/deploy.yaml`).
    pub source: String,
    /// The document, trimmed.
    pub content: String,
    /// `kind` (empty when absent).
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
}

/// A hook document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    /// The document.
    pub manifest: Manifest,
    /// Events, lower-cased, in annotation order (`test-success` kept as written).
    pub events: Vec<String>,
    /// `helm.sh/hook-weight` (0 when absent or not an integer).
    pub weight: i64,
    /// `helm.sh/hook-delete-policy` values, lower-cased.
    pub delete_policies: Vec<String>,
}

/// Manifests and hooks, each sorted in install order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sorted {
    /// Ordinary manifests.
    pub manifests: Vec<Manifest>,
    /// Hooks.
    pub hooks: Vec<Hook>,
}

/// Helm's `SplitManifests`: documents of one file, trimmed, empty ones dropped. A separator
/// is `---` at the start of the text or after a newline (with any whitespace before the
/// newline and after the dashes).
pub fn split_manifests(text: &str) -> Vec<String> {
    let text = text.trim();
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut rest = text;
    let mut at_start = true;
    loop {
        if at_start && let Some(after) = rest.strip_prefix("---") {
            push_doc(&mut docs, &mut current);
            rest = after.trim_start();
            at_start = false;
            continue;
        }
        at_start = false;
        match rest.find('\n') {
            Some(i) => {
                let (line, after) = rest.split_at(i);
                let after = &after[1..];
                if after.starts_with("---") {
                    current.push_str(line);
                    push_doc(&mut docs, &mut current);
                    rest = after.strip_prefix("---").unwrap_or(after).trim_start();
                } else {
                    current.push_str(line);
                    current.push('\n');
                    rest = after;
                }
            }
            None => {
                current.push_str(rest);
                push_doc(&mut docs, &mut current);
                break;
            }
        }
    }
    docs
}

fn push_doc(docs: &mut Vec<String>, current: &mut String) {
    let d = current.trim().to_string();
    current.clear();
    if !d.is_empty() {
        docs.push(d);
    }
}

fn kind_rank(kind: &str) -> Option<usize> {
    INSTALL_ORDER.iter().position(|k| *k == kind)
}

fn less_by_kind(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (kind_rank(a), kind_rank(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// Sorts rendered files (`(source path, text)`) into manifests and hooks as Helm's
/// `SortManifests`. Hooks with an unknown event are dropped, as Helm drops them.
///
/// # Errors
/// `YAML parse error on <path>: ...` for a document that is not YAML.
pub fn sort_manifests(files: &[(String, String)]) -> Result<Sorted, String> {
    let mut paths: Vec<&(String, String)> = files.iter().collect();
    paths.sort_by(|a, b| a.0.cmp(&b.0));
    let mut docs: Vec<(&String, String)> = Vec::new();
    for (path, text) in paths {
        let base = path.rsplit('/').next().unwrap_or(path);
        if base.starts_with('_') || text.trim().is_empty() {
            continue;
        }
        docs.extend(split_manifests(text).into_iter().map(|doc| (path, doc)));
    }
    // Reading each document is independent: on all cores.
    let heads = crate::parallel::map(&docs, 16, |(path, doc)| {
        weir_yaml::from_str_multi_with(doc, true, weir_yaml::DuplicateKeys::LaterWins)
            .map_err(|e| {
                format!(
                    "YAML parse error on {path}: error converting YAML to JSON: yaml: line {}: {}",
                    e.line, e.message
                )
            })
            .map(|docs| docs.into_iter().next().unwrap_or(Value::Null))
    });
    let mut out = Sorted::default();
    for ((path, doc), head) in docs.into_iter().zip(heads) {
        let path = path.clone();
        let head = head?;
        // helm reads each document's head into a struct: anything but a mapping fails.
        let not_a_head = match &head {
            Value::Null | Value::Object(_) => None,
            Value::Bool(_) => Some("bool"),
            Value::Number(_) => Some("number"),
            Value::String(_) => Some("string"),
            Value::Array(_) => Some("array"),
        };
        if let Some(kind) = not_a_head {
            return Err(format!(
                "YAML parse error on {path}: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {kind} into Go value of type util.SimpleHead"
            ));
        }
        let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
        let kind = s(head.get("kind"));
        let meta = head.get("metadata");
        let name = s(meta.and_then(|m| m.get("name")));
        let annotations = meta.and_then(|m| m.get("annotations"));
        let ann = |k: &str| annotations.and_then(|a| a.get(k)).and_then(Value::as_str);
        let manifest = Manifest {
            source: path.clone(),
            content: doc,
            kind,
            name,
        };
        let Some(hook_types) = ann("helm.sh/hook") else {
            out.manifests.push(manifest);
            continue;
        };
        let events: Vec<String> = hook_types
            .split(',')
            .map(|h| h.trim().to_lowercase())
            .collect();
        if events.iter().any(|e| !HOOK_EVENTS.contains(&e.as_str())) {
            continue;
        }
        let weight = ann("helm.sh/hook-weight")
            .and_then(|w| w.parse::<i64>().ok())
            .unwrap_or(0);
        let delete_policies = ann("helm.sh/hook-delete-policy")
            .map(|d| d.split(',').map(|p| p.trim().to_lowercase()).collect())
            .unwrap_or_default();
        out.hooks.push(Hook {
            manifest,
            events,
            weight,
            delete_policies,
        });
    }
    out.manifests.sort_by(|a, b| less_by_kind(&a.kind, &b.kind));
    out.hooks
        .sort_by(|a, b| less_by_kind(&a.manifest.kind, &b.manifest.kind));
    Ok(out)
}

/// What `helm template` prints besides the manifests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrintOptions {
    /// `--include-crds`.
    pub include_crds: bool,
    /// `--no-hooks`.
    pub no_hooks: bool,
    /// `--skip-tests`: leave out hooks with the `test` event.
    pub skip_tests: bool,
}

/// The text `helm template` prints (before `--show-only`): CRDs (`(source, text)`, see
/// [`super::Chart::crd_objects`]), manifests, then hooks.
pub fn print(crds: &[(String, String)], sorted: &Sorted, opts: &PrintOptions) -> String {
    let mut out = String::new();
    if opts.include_crds {
        for (source, text) in crds {
            out.push_str(&format!("---\n# Source: {source}\n{text}\n"));
        }
    }
    for m in &sorted.manifests {
        out.push_str(&format!("---\n# Source: {}\n{}\n", m.source, m.content));
    }
    if !opts.no_hooks {
        for h in &sorted.hooks {
            let is_test = h.events.iter().any(|e| e == "test" || e == "test-success");
            if opts.skip_tests && is_test {
                continue;
            }
            out.push_str(&format!(
                "---\n# Source: {}\n{}\n",
                h.manifest.source, h.manifest.content
            ));
        }
    }
    out
}

/// `--show-only`: the documents whose source (without the chart name) matches each glob,
/// in the order of the globs, each printed as `---\n<doc>\n`.
///
/// # Errors
/// `could not find template <glob> in chart`.
pub fn show_only(printed: &str, globs: &[String]) -> Result<String, String> {
    let docs = split_manifests(printed);
    let mut out = String::new();
    for g in globs {
        let mut missing = true;
        for d in &docs {
            let Some(rest) = d.find("# Source: ").map(|i| &d[i + "# Source: ".len()..]) else {
                continue;
            };
            let line = rest.lines().next().unwrap_or("");
            let Some((_, path)) = line.split_once('/') else {
                continue;
            };
            if super::ignore::glob_match(g, path).unwrap_or(false) {
                out.push_str(&format!("---\n{d}\n"));
                missing = false;
            }
        }
        if missing {
            return Err(format!("could not find template {g} in chart"));
        }
    }
    Ok(out)
}

/// `--output-dir`: `(relative file path, contents, number of documents)` in the order Helm
/// writes them; a source seen again is appended to (each document as
/// `---\n# Source: <s>\n<doc>\n`). Helm prints a `wrote PATH` line per document.
pub fn output_dir_files(printed: &str) -> Vec<(String, String, usize)> {
    let mut files: Vec<(String, String, usize)> = Vec::new();
    for d in split_manifests(printed) {
        let Some(line) = d.lines().next() else {
            continue;
        };
        let Some(source) = line.strip_prefix("# Source: ") else {
            continue;
        };
        let body = d[line.len()..].trim_start_matches('\n');
        let text = format!("---\n# Source: {source}\n{body}\n");
        match files.iter_mut().find(|(p, _, _)| p == source) {
            Some((_, t, documents)) => {
                t.push_str(&text);
                *documents += 1;
            }
            None => files.push((source.to_string(), text, 1)),
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_helm() {
        // Go's `(?:^|\s*\n)---\s*` consumes the blank lines after a separator, so a `---`
        // right after them is not one: it stays in the next document.
        assert_eq!(
            split_manifests("---\na: 1\n---\n\n---  \nb: 2\n# c\n---\n"),
            ["a: 1", "---  \nb: 2\n# c"]
        );
        assert_eq!(
            split_manifests("a: 1\n---\nb: 2\n---\n---\n"),
            ["a: 1", "b: 2", "---"]
        );
        assert_eq!(split_manifests("a: 1\n---x: 2"), ["a: 1", "x: 2"]);
        assert!(split_manifests("  \n").is_empty());
    }

    #[test]
    fn sorts_by_kind_then_path() {
        let files = vec![
            (
                "o1/templates/b.yaml".to_string(),
                "kind: Service\n---\nkind: Deployment\n---\n# just a comment\n---\nkind: Namespace\n".to_string(),
            ),
            ("o1/templates/a.yaml".to_string(), "kind: ConfigMap\n---\nkind: Foo\n".to_string()),
            ("o1/templates/_h.tpl".to_string(), "kind: Secret".to_string()),
            ("o1/charts/sub/templates/sa.yaml".to_string(), "kind: ServiceAccount".to_string()),
            (
                "o1/templates/hook.yaml".to_string(),
                "kind: Pod\nmetadata:\n  name: h1\n  annotations:\n    helm.sh/hook: post-install,pre-install\n    helm.sh/hook-weight: \"5\"\n---\nkind: Pod\nmetadata:\n  name: t\n  annotations:\n    helm.sh/hook: test\n---\nkind: Pod\nmetadata:\n  name: u\n  annotations:\n    helm.sh/hook: unknown\n".to_string(),
            ),
        ];
        let sorted = sort_manifests(&files).expect("sorts");
        let kinds: Vec<&str> = sorted
            .manifests
            .iter()
            .map(|m| m.content.as_str())
            .collect();
        // Recorded order with helm 4.1.4 `helm template o1`.
        assert_eq!(
            kinds,
            [
                "kind: Namespace",
                "kind: ServiceAccount",
                "kind: ConfigMap",
                "kind: Service",
                "kind: Deployment",
                "# just a comment",
                "kind: Foo"
            ]
        );
        assert_eq!(sorted.hooks.len(), 2);
        assert_eq!(sorted.hooks[0].weight, 5);
        assert_eq!(sorted.hooks[0].events, ["post-install", "pre-install"]);
        let printed = print(
            &[],
            &sorted,
            &PrintOptions {
                skip_tests: true,
                ..Default::default()
            },
        );
        assert!(printed.starts_with("---\n# Source: o1/templates/b.yaml\nkind: Namespace\n---\n# Source: o1/charts/sub/templates/sa.yaml\n"));
        assert!(!printed.contains("name: t\n"));
        let only = show_only(&printed, &["charts/*/templates/*".to_string()]).expect("found");
        assert_eq!(
            only,
            "---\n# Source: o1/charts/sub/templates/sa.yaml\nkind: ServiceAccount\n"
        );
        assert_eq!(
            show_only(&printed, &["templates/nope.yaml".to_string()]).expect_err("fails"),
            "could not find template templates/nope.yaml in chart"
        );
        let dir = output_dir_files(&printed);
        assert_eq!(dir[0].0, "o1/templates/b.yaml");
        assert!(dir[0].1.matches("# Source: o1/templates/b.yaml").count() == 4);
    }
}
