//! `dependsOn` readiness: a pure check over a snapshot of the objects (a reflector store), so
//! that a reconcile makes no API call per dependency, with cycle detection across the whole
//! graph and across kinds (a Kustomization may depend on a HelmRelease and the other way round).

use std::collections::HashSet;
use std::fmt;

/// An object in the dependency graph: kind, namespace, name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// Kind, e.g. `Kustomization`.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl Key {
    /// The key of `kind` `namespace/name`.
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// What the check needs to know of a dependency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Its own `dependsOn`, resolved to keys.
    pub depends_on: Vec<Key>,
    /// `Ready` is True at the current generation.
    pub ready: bool,
    /// Its source (kind, namespace, name), if it has one.
    pub source: Option<Key>,
    /// The source revision it last applied.
    pub last_applied_revision: Option<String>,
}

/// Why the dependencies are not satisfied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unsatisfied {
    /// The graph loops back to the object: the keys along the cycle, first = last.
    Cycle(Vec<Key>),
    /// A dependency does not exist.
    NotFound(Key),
    /// A dependency is not Ready at its current generation.
    NotReady(Key),
    /// A dependency on the same source has not applied the source's current revision yet.
    NotAtRevision(Key),
}

impl fmt::Display for Unsatisfied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsatisfied::Cycle(path) => {
                let names: Vec<String> = path
                    .iter()
                    .map(|k| format!("{}/{}", k.namespace, k.name))
                    .collect();
                write!(f, "dependency cycle: {}", names.join(" -> "))
            }
            Unsatisfied::NotFound(k) => {
                write!(f, "dependency {}/{} not found", k.namespace, k.name)
            }
            Unsatisfied::NotReady(k) => {
                write!(f, "dependency {}/{} is not ready", k.namespace, k.name)
            }
            Unsatisfied::NotAtRevision(k) => write!(
                f,
                "dependency {}/{} is not yet at the source revision",
                k.namespace, k.name
            ),
        }
    }
}

/// The deepest dependency chain followed; longer chains are reported as not ready rather
/// than walked (a snapshot cannot grow one, but a bound is cheap).
const MAX_DEPTH: usize = 256;

/// Checks `me`'s dependencies against `lookup` (a snapshot): first a cycle anywhere
/// reachable from `me` back to `me`, then each direct dependency in order: exists, is ready,
/// and — when it uses the same source as `me` — has applied `source_revision`.
///
/// # Errors
/// The first unsatisfied condition.
pub fn check(
    me: &Key,
    depends_on: &[Key],
    source: Option<&Key>,
    source_revision: Option<&str>,
    lookup: &dyn Fn(&Key) -> Option<Node>,
) -> Result<(), Unsatisfied> {
    if let Some(cycle) = find_cycle(me, depends_on, lookup) {
        return Err(Unsatisfied::Cycle(cycle));
    }
    for dep in depends_on {
        let node = lookup(dep).ok_or_else(|| Unsatisfied::NotFound(dep.clone()))?;
        if !node.ready {
            return Err(Unsatisfied::NotReady(dep.clone()));
        }
        let same_source = source.is_some() && node.source.as_ref() == source;
        if same_source
            && let Some(revision) = source_revision
            && node.last_applied_revision.as_deref() != Some(revision)
        {
            return Err(Unsatisfied::NotAtRevision(dep.clone()));
        }
    }
    Ok(())
}

/// A path from `me` back to `me` through `dependsOn`, if one exists (depth-first, in
/// `dependsOn` order, each node visited once).
fn find_cycle(
    me: &Key,
    depends_on: &[Key],
    lookup: &dyn Fn(&Key) -> Option<Node>,
) -> Option<Vec<Key>> {
    let mut visited = HashSet::new();
    // Each frame: a node and the index of the next dependency to follow.
    let mut path: Vec<Key> = vec![me.clone()];
    let mut stack: Vec<(Vec<Key>, usize)> = vec![(depends_on.to_vec(), 0)];
    while let Some((deps, next)) = stack.last_mut() {
        let Some(dep) = deps.get(*next).cloned() else {
            stack.pop();
            path.pop();
            continue;
        };
        *next += 1;
        if &dep == me {
            let mut cycle = path.clone();
            cycle.push(dep);
            return Some(cycle);
        }
        if stack.len() >= MAX_DEPTH || !visited.insert(dep.clone()) {
            continue;
        }
        if let Some(node) = lookup(&dep) {
            path.push(dep);
            stack.push((node.depends_on, 0));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn k(name: &str) -> Key {
        Key::new("Kustomization", "ns", name)
    }

    fn node(deps: &[&str], ready: bool, source: Option<&str>, revision: Option<&str>) -> Node {
        Node {
            depends_on: deps.iter().map(|d| k(d)).collect(),
            ready,
            source: source.map(|s| Key::new("GitRepository", "ns", s)),
            last_applied_revision: revision.map(str::to_string),
        }
    }

    #[test]
    fn dependency_table() {
        let repo = Key::new("GitRepository", "ns", "repo");
        struct Case {
            name: &'static str,
            graph: Vec<(&'static str, Node)>,
            deps: Vec<&'static str>,
            revision: Option<&'static str>,
            want: Result<(), String>,
        }
        let cases = vec![
            Case {
                name: "no dependencies",
                graph: vec![],
                deps: vec![],
                revision: None,
                want: Ok(()),
            },
            Case {
                name: "ready dependency on another source",
                graph: vec![("a", node(&[], true, Some("other"), Some("x")))],
                deps: vec!["a"],
                revision: Some("main@sha1:1"),
                want: Ok(()),
            },
            Case {
                name: "missing",
                graph: vec![],
                deps: vec!["a"],
                revision: None,
                want: Err("dependency ns/a not found".into()),
            },
            Case {
                name: "not ready",
                graph: vec![("a", node(&[], false, None, None))],
                deps: vec!["a"],
                revision: None,
                want: Err("dependency ns/a is not ready".into()),
            },
            Case {
                name: "same source, older revision",
                graph: vec![("a", node(&[], true, Some("repo"), Some("main@sha1:0")))],
                deps: vec!["a"],
                revision: Some("main@sha1:1"),
                want: Err("dependency ns/a is not yet at the source revision".into()),
            },
            Case {
                name: "same source, same revision",
                graph: vec![("a", node(&[], true, Some("repo"), Some("main@sha1:1")))],
                deps: vec!["a"],
                revision: Some("main@sha1:1"),
                want: Ok(()),
            },
            Case {
                name: "direct cycle",
                graph: vec![("a", node(&["me"], true, None, None))],
                deps: vec!["a"],
                revision: None,
                want: Err("dependency cycle: ns/me -> ns/a -> ns/me".into()),
            },
            Case {
                name: "long cycle behind a ready chain",
                graph: vec![
                    ("a", node(&["b"], true, None, None)),
                    ("b", node(&["c"], true, None, None)),
                    ("c", node(&["me"], true, None, None)),
                ],
                deps: vec!["a"],
                revision: None,
                want: Err("dependency cycle: ns/me -> ns/a -> ns/b -> ns/c -> ns/me".into()),
            },
            Case {
                name: "a cycle not through me is not mine",
                graph: vec![
                    ("a", node(&["b"], true, None, None)),
                    ("b", node(&["a"], true, None, None)),
                ],
                deps: vec!["a"],
                revision: None,
                want: Ok(()),
            },
            Case {
                name: "diamond is not a cycle",
                graph: vec![
                    ("a", node(&["c"], true, None, None)),
                    ("b", node(&["c"], true, None, None)),
                    ("c", node(&[], true, None, None)),
                ],
                deps: vec!["a", "b"],
                revision: None,
                want: Ok(()),
            },
        ];
        for case in cases {
            let graph: HashMap<Key, Node> = case
                .graph
                .into_iter()
                .map(|(n, node)| (k(n), node))
                .collect();
            let lookup = |key: &Key| graph.get(key).cloned();
            let deps: Vec<Key> = case.deps.iter().map(|d| k(d)).collect();
            let got = check(&k("me"), &deps, Some(&repo), case.revision, &lookup)
                .map_err(|e| e.to_string());
            assert_eq!(got, case.want, "{}", case.name);
        }
    }

    #[test]
    fn cycles_cross_kinds() {
        let me = k("app");
        let release = Key::new("HelmRelease", "ns", "db");
        let graph = HashMap::from([(
            release.clone(),
            Node {
                depends_on: vec![me.clone()],
                ready: true,
                source: None,
                last_applied_revision: None,
            },
        )]);
        let got = check(&me, std::slice::from_ref(&release), None, None, &|key| {
            graph.get(key).cloned()
        });
        assert_eq!(got, Err(Unsatisfied::Cycle(vec![me.clone(), release, me])));
    }

    #[test]
    fn a_very_long_chain_does_not_recurse() {
        let graph: HashMap<Key, Node> = (0..10_000)
            .map(|i| {
                (
                    k(&format!("n{i}")),
                    node(&[format!("n{}", i + 1).as_str()], true, None, None),
                )
            })
            .collect();
        let lookup = |key: &Key| graph.get(key).cloned();
        assert_eq!(check(&k("me"), &[k("n0")], None, None, &lookup), Ok(()));
    }
}
