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
    resources.sort_by_cached_key(|r| {
        let id = r.id();
        let group = if id.group.is_empty() {
            "~G".to_string()
        } else {
            id.group.clone()
        };
        let version = if id.version.is_empty() {
            "~V".to_string()
        } else {
            id.version.clone()
        };
        let kind = if id.kind.is_empty() {
            "~K".to_string()
        } else {
            id.kind.clone()
        };
        let ns = if id.namespace.is_empty() {
            "~X".to_string()
        } else {
            id.namespace.clone()
        };
        (
            rank(&id.kind),
            format!("{group}_{version}_{kind}|{ns}|{}", id.name),
        )
    });
}
