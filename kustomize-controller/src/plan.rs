//! The pure decisions of a Kustomization reconcile, over data only: the dependency graph seen
//! from a store snapshot, the inventory plan (what is applied now, what is stale, what stays
//! after a failed prune), the health-check targets, and the watch mappers that say which
//! Kustomizations a change to a source, ConfigMap or Secret wakes.

use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef as StoreRef;
use serde_json::Value;
use weir_api::conditions::types;
use weir_api::kustomize::{Inventory, InventoryEntry, Kustomization};
use weir_shared::conditions;
use weir_shared::dependencies::{Key, Node};
use weir_shared::inventory::ObjectRef;

/// The kind of a Kustomization in the dependency graph.
pub const KIND: &str = "Kustomization";

/// The namespace of `obj`.
fn namespace(obj: &Kustomization) -> String {
    obj.namespace().unwrap_or_default()
}

/// The Kustomization's key in the dependency graph.
pub fn key(obj: &Kustomization) -> Key {
    Key::new(KIND, &namespace(obj), &obj.name_any())
}

/// The keys of `obj.spec.dependsOn` (a missing namespace is the object's own).
pub fn depends_on(obj: &Kustomization) -> Vec<Key> {
    let ns = namespace(obj);
    obj.spec
        .depends_on
        .iter()
        .map(|d| Key::new(KIND, d.namespace.as_deref().unwrap_or(&ns), &d.name))
        .collect()
}

/// The source's key: kind, namespace (default: the object's), name.
pub fn source(obj: &Kustomization) -> Key {
    let r = &obj.spec.source_ref;
    Key::new(
        &r.kind,
        r.namespace.as_deref().unwrap_or(&namespace(obj)),
        &r.name,
    )
}

/// What the dependency check needs to know of a Kustomization: its edges, whether it is
/// Ready at its current generation, its source and last applied revision.
pub fn node(obj: &Kustomization) -> Node {
    let status = obj.status.clone().unwrap_or_default();
    Node {
        depends_on: depends_on(obj),
        ready: conditions::is_true(&status.conditions, types::READY)
            && status.observed_generation == obj.metadata.generation,
        source: Some(source(obj)),
        last_applied_revision: status.last_applied_revision,
    }
}

/// What one reconcile does to the inventory.
#[derive(Debug, PartialEq, Eq)]
pub struct InventoryPlan {
    /// The objects applied now, sorted and without duplicates.
    pub entries: Vec<InventoryEntry>,
    /// Objects of the old inventory that are no longer built (empty unless `prune`).
    pub stale: Vec<ObjectRef>,
}

/// Plans the inventory: `objects` replace `old`; with `prune`, what left is stale.
pub fn plan_inventory(old: &[InventoryEntry], objects: &[Value], prune: bool) -> InventoryPlan {
    let mut entries: Vec<InventoryEntry> =
        objects.iter().map(|o| ObjectRef::of(o).entry()).collect();
    entries.sort();
    entries.dedup();
    let stale = if prune {
        weir_shared::inventory::stale(old, &entries)
            .iter()
            .filter_map(ObjectRef::from_entry)
            .collect()
    } else {
        Vec::new()
    };
    InventoryPlan { entries, stale }
}

/// The inventory after prune: objects that could not be deleted stay in it, so that the next
/// reconcile retries them.
pub fn after_prune(entries: Vec<InventoryEntry>, failed: &[(ObjectRef, String)]) -> Inventory {
    let mut entries = entries;
    entries.extend(failed.iter().map(|(r, _)| r.entry()));
    entries.sort();
    entries.dedup();
    Inventory { entries }
}

/// The objects whose readiness decides `Healthy`: with `wait`, everything applied; else the
/// `healthChecks` list (a missing namespace is the Kustomization's).
pub fn health_targets(obj: &Kustomization, objects: &[Value]) -> Vec<ObjectRef> {
    if obj.spec.wait {
        return objects.iter().map(ObjectRef::of).collect();
    }
    let ns = namespace(obj);
    obj.spec
        .health_checks
        .iter()
        .map(|h| {
            let api_version = h.api_version.clone().unwrap_or_default();
            let (group, version) = api_version
                .split_once('/')
                .map(|(g, v)| (g.to_string(), v.to_string()))
                .unwrap_or((String::new(), api_version.clone()));
            ObjectRef {
                group,
                version,
                kind: h.kind.clone(),
                namespace: h.namespace.clone().unwrap_or_else(|| ns.clone()),
                name: h.name.clone(),
            }
        })
        .collect()
}

/// The Kustomizations that use the source `kind` `namespace/name`: a new artifact wakes them.
pub fn dependents(
    kustomizations: &[Arc<Kustomization>],
    kind: &str,
    namespace: &str,
    name: &str,
) -> Vec<StoreRef<Kustomization>> {
    let wanted = Key::new(kind, namespace, name);
    kustomizations
        .iter()
        .filter(|k| source(k) == wanted)
        .map(|k| StoreRef::from_obj(k.as_ref()))
        .collect()
}

/// The Kustomizations whose `postBuild.substituteFrom` names the `kind` (`ConfigMap` or
/// `Secret`) `namespace/name`: a change to it reconciles them.
pub fn users(
    kustomizations: &[Arc<Kustomization>],
    kind: &str,
    namespace: &str,
    name: &str,
) -> Vec<StoreRef<Kustomization>> {
    kustomizations
        .iter()
        .filter(|k| {
            k.namespace().as_deref() == Some(namespace)
                && k.spec.post_build.as_ref().is_some_and(|pb| {
                    pb.substitute_from
                        .iter()
                        .any(|s| s.kind == kind && s.name == name)
                })
        })
        .map(|k| StoreRef::from_obj(k.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use weir_api::kustomize::{
        KustomizationSpec, NamespacedObjectKindReference, PostBuild, SourceReference,
        SubstituteReference,
    };

    fn ks(ns: &str, name: &str, spec: KustomizationSpec) -> Arc<Kustomization> {
        let mut k = Kustomization::new(name, spec);
        k.metadata.namespace = Some(ns.into());
        Arc::new(k)
    }

    fn from_git(name: &str, ns: Option<&str>) -> KustomizationSpec {
        KustomizationSpec {
            source_ref: SourceReference {
                kind: "GitRepository".into(),
                name: name.into(),
                namespace: ns.map(str::to_string),
                api_version: None,
            },
            interval: "1m".into(),
            ..Default::default()
        }
    }

    fn entry(id: &str) -> InventoryEntry {
        InventoryEntry {
            id: id.into(),
            v: "v1".into(),
        }
    }

    fn ids(refs: &[ObjectRef]) -> Vec<String> {
        refs.iter().map(|r| r.entry().id).collect()
    }

    #[test]
    fn inventory_plan_table() {
        let cm = |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns"}});
        // (case, old inventory, built objects, prune, entries, stale)
        type Case<'a> = (
            &'a str,
            Vec<InventoryEntry>,
            Vec<Value>,
            bool,
            Vec<&'a str>,
            Vec<&'a str>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                "first apply",
                vec![],
                vec![cm("a")],
                true,
                vec!["ns_a__ConfigMap"],
                vec![],
            ),
            (
                "duplicates collapse, entries sort",
                vec![],
                vec![cm("b"), cm("a"), cm("b")],
                true,
                vec!["ns_a__ConfigMap", "ns_b__ConfigMap"],
                vec![],
            ),
            (
                "a removed object is stale with prune",
                vec![entry("ns_a__ConfigMap"), entry("ns_gone__ConfigMap")],
                vec![cm("a")],
                true,
                vec!["ns_a__ConfigMap"],
                vec!["ns_gone__ConfigMap"],
            ),
            (
                "nothing is stale without prune",
                vec![entry("ns_gone__ConfigMap")],
                vec![cm("a")],
                false,
                vec!["ns_a__ConfigMap"],
                vec![],
            ),
            (
                "an empty build makes everything stale",
                vec![entry("ns_a__ConfigMap")],
                vec![],
                true,
                vec![],
                vec!["ns_a__ConfigMap"],
            ),
        ];
        for (name, old, objects, prune, want_entries, want_stale) in cases {
            let plan = plan_inventory(&old, &objects, prune);
            let got: Vec<&str> = plan.entries.iter().map(|e| e.id.as_str()).collect();
            assert_eq!(got, want_entries, "{name}");
            assert_eq!(ids(&plan.stale), want_stale, "{name}");
        }
    }

    #[test]
    fn failed_prunes_stay_in_the_inventory() {
        let failed = ObjectRef::from_entry(&entry("ns_stuck__ConfigMap")).expect("valid id");
        let inv = after_prune(
            vec![entry("ns_b__ConfigMap")],
            &[(failed, "forbidden".into())],
        );
        let got: Vec<&str> = inv.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(got, ["ns_b__ConfigMap", "ns_stuck__ConfigMap"]);
        assert_eq!(
            after_prune(vec![entry("ns_b__ConfigMap")], &[])
                .entries
                .len(),
            1
        );
    }

    #[test]
    fn health_targets_table() {
        let objects = vec![
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"}}),
        ];
        let check = |api_version: Option<&str>, ns: Option<&str>| NamespacedObjectKindReference {
            api_version: api_version.map(str::to_string),
            kind: "Deployment".into(),
            name: "db".into(),
            namespace: ns.map(str::to_string),
        };
        let waiting = ks(
            "ns",
            "k",
            KustomizationSpec {
                wait: true,
                health_checks: vec![check(Some("apps/v1"), None)],
                ..from_git("repo", None)
            },
        );
        let listed = ks(
            "ns",
            "k",
            KustomizationSpec {
                health_checks: vec![
                    check(Some("apps/v1"), None),
                    check(Some("v1"), Some("other")),
                ],
                ..from_git("repo", None)
            },
        );
        let none = ks("ns", "k", from_git("repo", None));
        assert_eq!(
            ids(&health_targets(&waiting, &objects)),
            ["apps_web_apps_Deployment"]
        );
        let got = health_targets(&listed, &objects);
        assert_eq!(ids(&got), ["ns_db_apps_Deployment", "other_db__Deployment"]);
        assert_eq!((got[1].group.as_str(), got[1].version.as_str()), ("", "v1"));
        assert!(health_targets(&none, &objects).is_empty());
    }

    #[test]
    fn dependents_follow_the_source_reference() {
        let all = vec![
            ks("ns", "same-ns", from_git("repo", None)),
            ks("other", "cross-ns", from_git("repo", Some("ns"))),
            ks("other", "other-repo-ns", from_git("repo", None)),
            ks("ns", "other-repo", from_git("docs", None)),
        ];
        let names = |refs: Vec<StoreRef<Kustomization>>| -> Vec<String> {
            refs.into_iter().map(|r| r.name).collect()
        };
        assert_eq!(
            names(dependents(&all, "GitRepository", "ns", "repo")),
            ["same-ns", "cross-ns"]
        );
        assert!(dependents(&all, "OCIRepository", "ns", "repo").is_empty());
    }

    #[test]
    fn users_are_kustomizations_substituting_from_the_object() {
        let with = |kind: &str, name: &str| KustomizationSpec {
            post_build: Some(PostBuild {
                substitute_from: vec![SubstituteReference {
                    kind: kind.into(),
                    name: name.into(),
                    optional: false,
                }],
                ..Default::default()
            }),
            ..from_git("repo", None)
        };
        let all = vec![
            ks("ns", "uses-cm", with("ConfigMap", "vars")),
            ks("ns", "uses-secret", with("Secret", "vars")),
            ks("other", "other-ns", with("ConfigMap", "vars")),
            ks("ns", "plain", from_git("repo", None)),
        ];
        let names = |refs: Vec<StoreRef<Kustomization>>| -> Vec<String> {
            refs.into_iter().map(|r| r.name).collect()
        };
        assert_eq!(names(users(&all, "ConfigMap", "ns", "vars")), ["uses-cm"]);
        assert_eq!(names(users(&all, "Secret", "ns", "vars")), ["uses-secret"]);
        assert!(users(&all, "ConfigMap", "ns", "other").is_empty());
    }

    #[test]
    fn nodes_are_ready_only_at_their_generation() {
        let mut k = Kustomization::new("a", from_git("repo", None));
        k.metadata.namespace = Some("ns".into());
        k.metadata.generation = Some(2);
        let mut status = weir_api::kustomize::KustomizationStatus {
            observed_generation: Some(1),
            last_applied_revision: Some("main@sha1:1".into()),
            ..Default::default()
        };
        weir_shared::conditions::Setter::new(Some(1), k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
            .mark_true(&mut status.conditions, "Ready", "Succeeded", "ok");
        k.status = Some(status.clone());
        assert!(!node(&k).ready);
        status.observed_generation = Some(2);
        k.status = Some(status);
        let n = node(&k);
        assert!(n.ready);
        assert_eq!(n.source, Some(Key::new("GitRepository", "ns", "repo")));
        assert_eq!(n.last_applied_revision.as_deref(), Some("main@sha1:1"));
    }
}
