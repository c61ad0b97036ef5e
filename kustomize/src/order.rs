//! Output order: Kustomize's legacy kind order (the default) or input order (`fifo`).

use super::kustomization::SortOptions;
use super::resource::Resource;

const FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn or(s: &str, none: &str) -> String {
    if s.is_empty() {
        none.to_string()
    } else {
        s.to_string()
    }
}

/// Sorts resources in place.
pub fn sort(resources: &mut [Resource], options: Option<&SortOptions>) {
    if options.is_some_and(|o| o.order == "fifo") {
        return;
    }
    let custom = options.and_then(|o| o.legacy_sort_options.as_ref());
    let first: Vec<&str> = custom
        .map(|c| c.order_first.iter().map(String::as_str).collect())
        .unwrap_or_else(|| FIRST.to_vec());
    let last: Vec<&str> = custom
        .map(|c| c.order_last.iter().map(String::as_str).collect())
        .unwrap_or_else(|| LAST.to_vec());
    let rank = |kind: &str| -> i64 {
        if let Some(i) = first.iter().position(|k| *k == kind) {
            return i as i64 - first.len() as i64;
        }
        if let Some(i) = last.iter().position(|k| *k == kind) {
            return 1 + i as i64;
        }
        0
    };
    // Kustomize compares kinds by rank, then different GVKs by their `group_version_kind`
    // string (`~G` for the core group, so a kind sorts before a longer kind it prefixes:
    // `Gateway` before `GatewayClass`), then the same GVK by namespace and name.
    // Kustomize's comparison puts the core `v1 Namespace` before a `Namespace` of another
    // group of the same rank, and otherwise compares GVKs as above. As a sort key: the core
    // Namespace takes the place just before the first other-group Namespace of its rank.
    let mut other_ns: std::collections::HashMap<i64, String> = Default::default();
    for r in resources.iter() {
        let id = r.id();
        if id.kind == "Namespace" && !id.group.is_empty() {
            let gvk = format!("{}_{}_{}", id.group, or(&id.version, "~V"), id.kind);
            let e = other_ns
                .entry(rank(&id.kind))
                .or_insert_with(|| gvk.clone());
            if gvk < *e {
                *e = gvk;
            }
        }
    }
    resources.sort_by_cached_key(|r| {
        let id = r.id();
        let rank = rank(&id.kind);
        let core_namespace = id.kind == "Namespace" && id.group.is_empty();
        let gvk = format!(
            "{}_{}_{}",
            or(&id.group, "~G"),
            or(&id.version, "~V"),
            or(&id.kind, "~K")
        );
        let (gvk, after) = match other_ns.get(&rank) {
            Some(first) if core_namespace => (first.clone(), false),
            _ => (gvk, true),
        };
        (
            rank,
            gvk,
            after,
            format!("{}|{}", or(&id.namespace, "~X"), id.name),
        )
    });
}
