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
    // `Gateway` before `GatewayClass`), then the same GVK by namespace and name. kubectl
    // puts the core `v1 Namespace` before namespaces of other groups.
    resources.sort_by_cached_key(|r| {
        let id = r.id();
        let or = |s: &str, none: &str| {
            if s.is_empty() {
                none.to_string()
            } else {
                s.to_string()
            }
        };
        let core_namespace = id.kind == "Namespace" && id.group.is_empty();
        let gvk = format!(
            "{}_{}_{}",
            or(&id.group, "~G"),
            or(&id.version, "~V"),
            or(&id.kind, "~K")
        );
        (
            rank(&id.kind),
            !core_namespace,
            gvk,
            format!("{}|{}", or(&id.namespace, "~X"), id.name),
        )
    });
}
