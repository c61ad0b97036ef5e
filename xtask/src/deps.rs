//! The workspace's dependency rule, checked by `cargo test -p xtask` over `cargo metadata`:
//! controllers never depend on each other, the CLI never on a controller, and the engines
//! (`weir-yaml`, `weir-kustomize`, `weir-helm`) never reach a Kubernetes client, an async
//! runtime or the network (`weir-remote`, which fetches remote bases for the CLI and
//! kustomize-controller), not even transitively. The rules are a pure function over a small graph so that
//! a table test can show each one firing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Engines: pure crates.
const ENGINES: &[&str] = &["weir-yaml", "weir-kustomize", "weir-helm"];

/// What an engine may not reach through its normal dependencies.
const FORBIDDEN_IN_ENGINES: &[&str] = &[
    "kube",
    "kube-client",
    "kube-runtime",
    "k8s-openapi",
    "tokio",
    "weir-remote",
];

/// The crate of the `weir` binary.
const CLI: &str = "weir-cli";

/// A dependency graph by package name.
#[derive(Debug, Default)]
struct Graph {
    /// Workspace members.
    members: BTreeSet<String>,
    /// Package → its normal (non-dev, non-build) dependencies.
    normal: BTreeMap<String, BTreeSet<String>>,
    /// Package → every direct dependency, of any kind.
    direct: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    fn add(&mut self, from: &str, to: &str, normal: bool) {
        self.direct
            .entry(from.to_string())
            .or_default()
            .insert(to.to_string());
        if normal {
            self.normal
                .entry(from.to_string())
                .or_default()
                .insert(to.to_string());
        }
    }

    /// Every package `from` reaches through normal dependencies, each with the path that
    /// leads to it (for the error message).
    fn reachable(&self, from: &str) -> BTreeMap<String, Vec<String>> {
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut queue = vec![(from.to_string(), vec![from.to_string()])];
        while let Some((pkg, path)) = queue.pop() {
            for dep in self.normal.get(&pkg).into_iter().flatten() {
                if dep == from || seen.contains_key(dep) {
                    continue;
                }
                let mut p = path.clone();
                p.push(dep.clone());
                seen.insert(dep.clone(), p.clone());
                queue.push((dep.clone(), p));
            }
        }
        seen
    }

    /// Controllers and CLI: what they depend on directly (any kind) or reach through normal
    /// dependencies.
    fn depends_on(&self, from: &str) -> BTreeMap<String, Vec<String>> {
        let mut out = self.reachable(from);
        for dep in self.direct.get(from).into_iter().flatten() {
            out.entry(dep.clone())
                .or_insert_with(|| vec![from.to_string(), dep.clone()]);
        }
        out
    }
}

fn is_controller(name: &str) -> bool {
    name.ends_with("-controller")
}

/// Every broken rule, one readable line each.
fn violations(g: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    let controllers: Vec<&String> = g.members.iter().filter(|m| is_controller(m)).collect();
    for c in &controllers {
        for (dep, path) in g.depends_on(c) {
            if is_controller(&dep) && g.members.contains(&dep) && dep != **c {
                out.push(format!(
                    "controller {c} depends on controller {dep} ({}): controllers share code through weir-shared or an engine, never each other",
                    path.join(" -> ")
                ));
            }
        }
    }
    if g.members.contains(CLI) {
        for (dep, path) in g.depends_on(CLI) {
            if is_controller(&dep) && g.members.contains(&dep) {
                out.push(format!(
                    "{CLI} depends on controller {dep} ({}): the CLI uses the engines, weir-shared and weir-api only",
                    path.join(" -> ")
                ));
            }
        }
    }
    for engine in ENGINES.iter().filter(|e| g.members.contains(**e)) {
        for (dep, path) in g.reachable(engine) {
            if FORBIDDEN_IN_ENGINES.contains(&dep.as_str()) {
                out.push(format!(
                    "engine {engine} reaches {dep} ({}): engines are pure, no Kubernetes client and no async runtime",
                    path.join(" -> ")
                ));
            }
        }
    }
    out
}

/// The graph of `cargo metadata --format-version 1` output (with its `resolve` section).
fn graph_of(metadata: &Value) -> Result<Graph, String> {
    let mut names = BTreeMap::new();
    for p in metadata["packages"].as_array().ok_or("no packages")? {
        let (Some(id), Some(name)) = (p["id"].as_str(), p["name"].as_str()) else {
            return Err(format!("package without id or name: {p}"));
        };
        names.insert(id.to_string(), name.to_string());
    }
    let name_of = |id: &str| {
        names
            .get(id)
            .cloned()
            .ok_or_else(|| format!("unknown package id {id}"))
    };
    let mut g = Graph::default();
    for id in metadata["workspace_members"]
        .as_array()
        .ok_or("no workspace_members")?
    {
        g.members.insert(name_of(id.as_str().unwrap_or_default())?);
    }
    let nodes = metadata["resolve"]["nodes"]
        .as_array()
        .ok_or("no resolve graph: run cargo metadata without --no-deps")?;
    for node in nodes {
        let from = name_of(node["id"].as_str().unwrap_or_default())?;
        for dep in node["deps"].as_array().into_iter().flatten() {
            let to = name_of(dep["pkg"].as_str().unwrap_or_default())?;
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null());
            g.add(&from, &to, normal);
        }
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(from, to, normal)`: a dependency edge.
    type Edge = (&'static str, &'static str, bool);

    /// A graph from `members` and edges.
    fn graph(members: &[&str], edges: &[Edge]) -> Graph {
        let mut g = Graph {
            members: members.iter().map(|m| m.to_string()).collect(),
            ..Default::default()
        };
        for (from, to, normal) in edges {
            g.add(from, to, *normal);
        }
        g
    }

    const MEMBERS: &[&str] = &[
        "weir-api",
        "weir-shared",
        "weir-yaml",
        "weir-kustomize",
        "source-controller",
        "kustomize-controller",
        "weir-cli",
    ];

    /// The shape the workspace is meant to have.
    const GOOD: &[Edge] = &[
        ("weir-kustomize", "weir-yaml", true),
        ("weir-kustomize", "serde_json", true),
        ("weir-kustomize", "tempfile", false),
        ("weir-shared", "kube", true),
        ("kube", "kube-client", true),
        ("kube-client", "tokio", true),
        ("kustomize-controller", "weir-shared", true),
        ("kustomize-controller", "weir-kustomize", true),
        ("source-controller", "weir-shared", true),
        ("weir-cli", "weir-kustomize", true),
        ("weir-cli", "weir-shared", true),
        ("weir-remote", "weir-kustomize", true),
        ("weir-cli", "weir-remote", true),
        ("kustomize-controller", "weir-remote", true),
        ("weir-yaml", "tokio", false),
    ];

    #[test]
    fn each_rule_fires_on_a_graph_that_breaks_it() {
        let cases: &[(&str, &[Edge], &str)] = &[
            ("the intended shape", &[], ""),
            (
                "a controller on another",
                &[("kustomize-controller", "source-controller", true)],
                "controller kustomize-controller depends on controller source-controller",
            ),
            (
                "a controller on another, for tests only",
                &[("source-controller", "kustomize-controller", false)],
                "controller source-controller depends on controller kustomize-controller",
            ),
            (
                "a controller on another through a library",
                &[("weir-shared", "source-controller", true)],
                "kustomize-controller -> weir-shared -> source-controller",
            ),
            (
                "the CLI on a controller",
                &[("weir-cli", "kustomize-controller", true)],
                "weir-cli depends on controller kustomize-controller",
            ),
            (
                "an engine on kube",
                &[("weir-yaml", "kube", true)],
                "engine weir-yaml reaches kube (weir-yaml -> kube)",
            ),
            (
                "an engine on tokio through another crate",
                &[("weir-kustomize", "weir-shared", true)],
                "engine weir-kustomize reaches tokio (weir-kustomize -> weir-shared -> kube -> kube-client -> tokio)",
            ),
            (
                "an engine on the remote fetcher",
                &[("weir-kustomize", "weir-remote", true)],
                "engine weir-kustomize reaches weir-remote",
            ),
            (
                "an engine on k8s-openapi through another engine",
                &[("weir-yaml", "k8s-openapi", true)],
                "engine weir-kustomize reaches k8s-openapi (weir-kustomize -> weir-yaml -> k8s-openapi)",
            ),
        ];
        for (what, extra, want) in cases {
            let edges: Vec<_> = GOOD.iter().chain(extra.iter()).copied().collect();
            let found = violations(&graph(MEMBERS, &edges));
            if want.is_empty() {
                assert!(found.is_empty(), "{what}: {found:?}");
            } else {
                assert!(
                    found.iter().any(|v| v.contains(want)),
                    "{what}: expected {want:?} in {found:?}"
                );
            }
        }
    }

    #[test]
    fn weir_helm_is_checked_once_it_exists() {
        let edges = [("weir-helm", "tokio", true)];
        assert!(violations(&graph(&["weir-cli"], &edges)).is_empty());
        let found = violations(&graph(&["weir-helm"], &edges));
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn metadata_is_read_with_dependency_kinds() -> Result<(), String> {
        let metadata = serde_json::json!({
            "packages": [
                {"id": "a 0.1", "name": "weir-yaml"},
                {"id": "t 1", "name": "tokio"},
                {"id": "s 1", "name": "serde_json"}
            ],
            "workspace_members": ["a 0.1"],
            "resolve": {"nodes": [
                {"id": "a 0.1", "deps": [
                    {"pkg": "t 1", "dep_kinds": [{"kind": "dev", "target": null}]},
                    {"pkg": "s 1", "dep_kinds": [{"kind": null, "target": null}]}
                ]}
            ]}
        });
        let g = graph_of(&metadata)?;
        assert!(
            violations(&g).is_empty(),
            "a dev-dependency on tokio is allowed"
        );
        assert!(g.normal["weir-yaml"].contains("serde_json"));
        Ok(())
    }

    /// The real workspace.
    #[test]
    fn the_workspace_keeps_the_dependency_rule() -> Result<(), String> {
        let out = std::process::Command::new(env!("CARGO"))
            .args(["metadata", "--format-version", "1"])
            .current_dir(crate::util::workspace_root())
            .output()
            .map_err(|e| format!("running cargo metadata: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let metadata: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("cargo metadata output: {e}"))?;
        let g = graph_of(&metadata)?;
        for engine in ["weir-yaml", "weir-kustomize"] {
            assert!(
                g.members.contains(engine),
                "{engine} is not a workspace member"
            );
        }
        let found = violations(&g);
        assert!(
            found.is_empty(),
            "the dependency rule is broken (see ARCHITECTURE.md, Workspace):\n{}",
            found.join("\n")
        );
        Ok(())
    }
}
