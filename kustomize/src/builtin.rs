//! Kustomize's built-in field specs: where each transformer looks in each kind. Written from
//! Kustomize's documented defaults and checked against `kubectl kustomize` by the fixture
//! corpus.

use std::sync::LazyLock;

use super::fieldspec::FieldSpec;

/// Where a pod spec lives in each workload kind.
const POD_SPEC_PATHS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("PodTemplate", "template/spec"),
    ("Deployment", "spec/template/spec"),
    ("ReplicaSet", "spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
    ("StatefulSet", "spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
];

/// Labels on object metadata and on the pod templates of workloads (`labels` with
/// `includeTemplates`, and part of `commonLabels`).
pub fn template_labels() -> Vec<FieldSpec> {
    vec![
        FieldSpec::any("metadata/labels", true),
        FieldSpec {
            group: None,
            version: Some("v1"),
            kind: Some("ReplicationController"),
            path: "spec/template/metadata/labels",
            create: true,
        },
        FieldSpec::kind("Deployment", "spec/template/metadata/labels", true),
        FieldSpec::kind("ReplicaSet", "spec/template/metadata/labels", true),
        FieldSpec::kind("DaemonSet", "spec/template/metadata/labels", true),
        FieldSpec::group_kind("apps", "StatefulSet", "spec/template/metadata/labels", true),
        FieldSpec::group_kind(
            "apps",
            "StatefulSet",
            "spec/volumeClaimTemplates[]/metadata/labels",
            true,
        ),
        FieldSpec::group_kind("batch", "Job", "spec/template/metadata/labels", true),
        FieldSpec::group_kind("batch", "CronJob", "spec/jobTemplate/metadata/labels", true),
        FieldSpec::group_kind(
            "batch",
            "CronJob",
            "spec/jobTemplate/spec/template/metadata/labels",
            true,
        ),
    ]
}

/// `commonLabels` (and `labels` with `includeSelectors`): metadata, templates and selectors.
pub fn selector_labels() -> Vec<FieldSpec> {
    let mut specs = vec![
        FieldSpec {
            group: None,
            version: Some("v1"),
            kind: Some("Service"),
            path: "spec/selector",
            create: true,
        },
        FieldSpec {
            group: None,
            version: Some("v1"),
            kind: Some("ReplicationController"),
            path: "spec/selector",
            create: true,
        },
        FieldSpec::kind("Deployment", "spec/selector/matchLabels", true),
        FieldSpec::kind("ReplicaSet", "spec/selector/matchLabels", true),
        FieldSpec::kind("DaemonSet", "spec/selector/matchLabels", true),
        FieldSpec::group_kind("apps", "StatefulSet", "spec/selector/matchLabels", true),
        FieldSpec::group_kind("batch", "Job", "spec/selector/matchLabels", false),
        FieldSpec::group_kind(
            "batch",
            "CronJob",
            "spec/jobTemplate/spec/selector/matchLabels",
            false,
        ),
        FieldSpec::group_kind(
            "policy",
            "PodDisruptionBudget",
            "spec/selector/matchLabels",
            false,
        ),
        FieldSpec::group_kind(
            "networking.k8s.io",
            "NetworkPolicy",
            "spec/podSelector/matchLabels",
            false,
        ),
        FieldSpec::group_kind(
            "networking.k8s.io",
            "NetworkPolicy",
            "spec/ingress/from/podSelector/matchLabels",
            false,
        ),
        FieldSpec::group_kind(
            "networking.k8s.io",
            "NetworkPolicy",
            "spec/egress/to/podSelector/matchLabels",
            false,
        ),
    ];
    for kind in ["Deployment", "StatefulSet"] {
        for path in [
            "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
            "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
        ] {
            specs.push(FieldSpec::group_kind("apps", kind, path, false));
        }
    }
    specs.extend(template_labels());
    specs
}

/// `commonAnnotations`: metadata and pod templates.
pub fn annotations() -> Vec<FieldSpec> {
    // Computed once: the paths are leaked to get `&'static str`, which must not happen per
    // build (a controller builds forever).
    static TABLE: LazyLock<Vec<FieldSpec>> = LazyLock::new(compute_annotations);
    TABLE.clone()
}

fn compute_annotations() -> Vec<FieldSpec> {
    template_labels()
        .into_iter()
        .filter(|s| !s.path.contains("volumeClaimTemplates"))
        .map(|s| FieldSpec {
            path: Box::leak(s.path.replace("/labels", "/annotations").into_boxed_str()),
            ..s
        })
        .collect()
}

/// `replicas`: where the replica count lives.
pub fn replicas() -> Vec<FieldSpec> {
    [
        "Deployment",
        "ReplicationController",
        "ReplicaSet",
        "StatefulSet",
    ]
    .into_iter()
    .map(|k| FieldSpec::kind(k, "spec/replicas", true))
    .collect()
}

/// A kind that other objects refer to by name, and where they do.
#[derive(Clone, Debug)]
pub struct NameReference {
    /// The referred kind.
    pub kind: &'static str,
    /// Fields holding its name.
    pub referrers: Vec<FieldSpec>,
}

fn pod_refs(suffixes: &[&str], kinds: &[&str]) -> Vec<FieldSpec> {
    let mut out = Vec::new();
    for &(kind, base) in POD_SPEC_PATHS {
        if !kinds.contains(&kind) {
            continue;
        }
        for suffix in suffixes {
            out.push(FieldSpec::kind(
                kind,
                leak(format!("{base}/{suffix}")),
                false,
            ));
        }
    }
    out
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

const ALL_POD_KINDS: &[&str] = &[
    "Pod",
    "PodTemplate",
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "CronJob",
];
const SA_KINDS: &[&str] = &[
    "Pod",
    "StatefulSet",
    "Deployment",
    "ReplicationController",
    "CronJob",
    "Job",
    "DaemonSet",
];

/// The name-reference table: when a resource of `kind` is renamed, these fields follow.
pub fn name_references() -> &'static [NameReference] {
    // Computed once: its paths are leaked to get `&'static str`, which must not happen per
    // build (found by fuzzing: ~13 kB per build in a controller that builds forever).
    static TABLE: LazyLock<Vec<NameReference>> = LazyLock::new(compute_name_references);
    &TABLE
}

fn compute_name_references() -> Vec<NameReference> {
    let sa_paths = |suffix: &str| -> Vec<FieldSpec> {
        SA_KINDS
            .iter()
            .map(|k| {
                let base = match *k {
                    "Pod" => "spec",
                    "CronJob" => "spec/jobTemplate/spec/template/spec",
                    _ => "spec/template/spec",
                };
                FieldSpec::kind(k, leak(format!("{base}/{suffix}")), false)
            })
            .collect()
    };
    let mut config_map = pod_refs(
        &[
            "volumes/configMap/name",
            "containers/env/valueFrom/configMapKeyRef/name",
            "initContainers/env/valueFrom/configMapKeyRef/name",
            "containers/envFrom/configMapRef/name",
            "initContainers/envFrom/configMapRef/name",
            "volumes/projected/sources/configMap/name",
        ],
        ALL_POD_KINDS,
    );
    config_map.extend([
        FieldSpec::kind("Node", "spec/configSource/configMap", false),
        FieldSpec::kind("Role", "rules/resourceNames", false),
        FieldSpec::kind("ClusterRole", "rules/resourceNames", false),
        FieldSpec::kind(
            "Ingress",
            r"metadata/annotations/nginx.ingress.kubernetes.io\/fastcgi-params-configmap",
            false,
        ),
    ]);
    let mut secret = pod_refs(
        &[
            "volumes/secret/secretName",
            "containers/env/valueFrom/secretKeyRef/name",
            "initContainers/env/valueFrom/secretKeyRef/name",
            "containers/envFrom/secretRef/name",
            "initContainers/envFrom/secretRef/name",
            "imagePullSecrets/name",
            "volumes/projected/sources/secret/name",
        ],
        ALL_POD_KINDS,
    );
    secret.extend([
        FieldSpec::kind("Ingress", "spec/tls/secretName", false),
        FieldSpec::kind(
            "Ingress",
            r"metadata/annotations/ingress.kubernetes.io\/auth-secret",
            false,
        ),
        FieldSpec::kind(
            "Ingress",
            r"metadata/annotations/nginx.ingress.kubernetes.io\/auth-secret",
            false,
        ),
        FieldSpec::kind(
            "Ingress",
            r"metadata/annotations/nginx.ingress.kubernetes.io\/auth-tls-secret",
            false,
        ),
        FieldSpec::kind("ServiceAccount", "imagePullSecrets/name", false),
        FieldSpec::kind("StorageClass", "parameters/secretName", false),
        FieldSpec::kind("StorageClass", "parameters/adminSecretName", false),
        FieldSpec::kind("StorageClass", "parameters/userSecretName", false),
        FieldSpec::kind("StorageClass", "parameters/secretRef", false),
        FieldSpec::kind("Role", "rules/resourceNames", false),
        FieldSpec::kind("ClusterRole", "rules/resourceNames", false),
        FieldSpec {
            group: Some("serving.knative.dev"),
            version: Some("v1"),
            kind: Some("Service"),
            path: "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            create: false,
        },
        FieldSpec::kind("PersistentVolume", "spec/azureFile/secretName", false),
    ]);
    let mut service_account = sa_paths("serviceAccountName");
    service_account.extend([
        FieldSpec::group_kind(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            "subjects",
            false,
        ),
        FieldSpec::group_kind(
            "rbac.authorization.k8s.io",
            "ClusterRoleBinding",
            "subjects",
            false,
        ),
    ]);
    let scale_target = || {
        vec![FieldSpec::kind(
            "HorizontalPodAutoscaler",
            "spec/scaleTargetRef/name",
            false,
        )]
    };
    vec![
        NameReference {
            kind: "Deployment",
            referrers: scale_target(),
        },
        NameReference {
            kind: "ReplicationController",
            referrers: scale_target(),
        },
        NameReference {
            kind: "ReplicaSet",
            referrers: scale_target(),
        },
        NameReference {
            kind: "StatefulSet",
            referrers: scale_target(),
        },
        NameReference {
            kind: "ConfigMap",
            referrers: config_map,
        },
        NameReference {
            kind: "Secret",
            referrers: secret,
        },
        NameReference {
            kind: "Service",
            referrers: vec![
                FieldSpec::group_kind("apps", "StatefulSet", "spec/serviceName", false),
                FieldSpec::kind(
                    "Ingress",
                    "spec/rules/http/paths/backend/serviceName",
                    false,
                ),
                FieldSpec::kind("Ingress", "spec/backend/serviceName", false),
                FieldSpec::kind(
                    "Ingress",
                    "spec/rules/http/paths/backend/service/name",
                    false,
                ),
                FieldSpec::kind("Ingress", "spec/defaultBackend/service/name", false),
                FieldSpec::group_kind(
                    "apiregistration.k8s.io",
                    "APIService",
                    "spec/service/name",
                    false,
                ),
                FieldSpec::group_kind(
                    "admissionregistration.k8s.io",
                    "ValidatingWebhookConfiguration",
                    "webhooks/clientConfig/service",
                    false,
                ),
                FieldSpec::group_kind(
                    "admissionregistration.k8s.io",
                    "MutatingWebhookConfiguration",
                    "webhooks/clientConfig/service",
                    false,
                ),
                FieldSpec::kind("HTTPRoute", "spec/rules/backendRefs/name", false),
            ],
        },
        NameReference {
            kind: "Role",
            referrers: vec![FieldSpec::group_kind(
                "rbac.authorization.k8s.io",
                "RoleBinding",
                "roleRef/name",
                false,
            )],
        },
        NameReference {
            kind: "ClusterRole",
            referrers: vec![
                FieldSpec::group_kind(
                    "rbac.authorization.k8s.io",
                    "RoleBinding",
                    "roleRef/name",
                    false,
                ),
                FieldSpec::group_kind(
                    "rbac.authorization.k8s.io",
                    "ClusterRoleBinding",
                    "roleRef/name",
                    false,
                ),
            ],
        },
        NameReference {
            kind: "ServiceAccount",
            referrers: service_account,
        },
        NameReference {
            kind: "PersistentVolumeClaim",
            referrers: sa_paths("volumes/persistentVolumeClaim/claimName"),
        },
        NameReference {
            kind: "PersistentVolume",
            referrers: vec![
                FieldSpec::kind("PersistentVolumeClaim", "spec/volumeName", false),
                FieldSpec::kind("ClusterRole", "rules/resourceNames", false),
            ],
        },
        NameReference {
            kind: "StorageClass",
            referrers: vec![
                FieldSpec::kind("PersistentVolume", "spec/storageClassName", false),
                FieldSpec::kind("PersistentVolumeClaim", "spec/storageClassName", false),
                FieldSpec::kind(
                    "StatefulSet",
                    "spec/volumeClaimTemplates/spec/storageClassName",
                    false,
                ),
            ],
        },
        NameReference {
            kind: "PriorityClass",
            referrers: sa_paths("priorityClassName"),
        },
        NameReference {
            kind: "ValidatingAdmissionPolicy",
            referrers: vec![FieldSpec::group_kind(
                "admissionregistration.k8s.io",
                "ValidatingAdmissionPolicyBinding",
                "spec/policyName",
                false,
            )],
        },
        // Kustomize v5.5 has no IngressClass entry: `spec.ingressClassName` is not renamed
        // (`nameref-ingress-backends-and-tls`).
    ]
}
