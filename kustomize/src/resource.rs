//! A resource in a build: its JSON value plus what Kustomize remembers about it (earlier
//! names for reference rewriting, whether it needs a content-hash suffix).

use serde_json::{Map, Value};

/// Group, version, kind, name and namespace of a resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResId {
    /// API group (`""` for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (`""` when unset).
    pub namespace: String,
}

impl std::fmt::Display for ResId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = if self.group.is_empty() {
            String::new()
        } else {
            format!("{}/", self.group)
        };
        let ns = if self.namespace.is_empty() {
            String::new()
        } else {
            format!(" in namespace {}", self.namespace)
        };
        write!(f, "{group}{} {}/{}{ns}", self.version, self.kind, self.name)
    }
}

/// One resource and its build history.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// The object.
    pub value: Value,
    /// Names and namespaces this resource had before renames, oldest first.
    pub previous: Vec<(String, String)>,
    /// Gets a `-<hash>` name suffix at the end of the build (generated ConfigMaps and Secrets).
    pub needs_hash: bool,
    /// Where the resource came from, for `buildMetadata: [originAnnotations]`.
    pub origin: Option<Origin>,
    /// Names of the `vars` whose `objref` is this resource.
    pub vars: Vec<String>,
    /// The transformers that ran over it, oldest first, kept only when the build records
    /// `buildMetadata: [transformerAnnotations]`.
    pub(crate) transformations: Vec<std::sync::Arc<crate::buildmeta::Record>>,
}

/// Where a resource came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Read from this file.
    File(std::path::PathBuf),
    /// Made by a generator declared in this kustomization file.
    Generator {
        /// The kustomization file.
        kustomization: std::path::PathBuf,
        /// `ConfigMapGenerator` or `SecretGenerator`.
        kind: &'static str,
    },
    /// Made by a generator plugin (`generators`).
    Plugin {
        /// The config's file (the kustomization file for an inline config).
        configured_in: std::path::PathBuf,
        /// The plugin kind.
        kind: String,
        /// The config's `metadata.name`.
        name: String,
        /// The config's `metadata.namespace` (empty when unset).
        namespace: String,
    },
    /// Read or generated in a fetched remote repository.
    Remote {
        /// The repository's clone URL (without password).
        repo: String,
        /// The ref fetched, if the entry named one.
        reference: Option<String>,
        /// The file (or, for a generator, its kustomization file) in the repository.
        path: String,
        /// The generator kind, when the resource was generated.
        generator: Option<&'static str>,
    },
}

impl Resource {
    /// Wraps an object.
    pub fn new(value: Value) -> Self {
        Self {
            value,
            previous: Vec::new(),
            needs_hash: false,
            origin: None,
            vars: Vec::new(),
            transformations: Vec::new(),
        }
    }

    /// The resource's id.
    pub fn id(&self) -> ResId {
        let (group, version) = split_api_version(self.str_at(&["apiVersion"]));
        ResId {
            group,
            version,
            kind: self.str_at(&["kind"]).to_string(),
            name: self.name().to_string(),
            namespace: self.namespace().to_string(),
        }
    }

    /// Group, version and kind, borrowed (cheap enough to call in inner loops).
    pub fn gvk(&self) -> (&str, &str, &str) {
        let api_version = self.str_at(&["apiVersion"]);
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        (group, version, self.kind())
    }

    /// `kind`.
    pub fn kind(&self) -> &str {
        self.str_at(&["kind"])
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.str_at(&["metadata", "name"])
    }

    /// `metadata.namespace`, or `""`.
    pub fn namespace(&self) -> &str {
        self.str_at(&["metadata", "namespace"])
    }

    fn str_at(&self, path: &[&str]) -> &str {
        let mut v = &self.value;
        for p in path {
            match v.get(p) {
                Some(next) => v = next,
                None => return "",
            }
        }
        v.as_str().unwrap_or("")
    }

    /// Renames the resource, remembering the old name and namespace.
    pub fn set_name(&mut self, name: &str) {
        self.remember();
        metadata(&mut self.value).insert("name".into(), Value::String(name.to_string()));
    }

    /// Moves the resource to a namespace, remembering the old one.
    pub fn set_namespace(&mut self, namespace: &str) {
        self.remember();
        metadata(&mut self.value).insert("namespace".into(), Value::String(namespace.to_string()));
    }

    fn remember(&mut self) {
        let entry = (self.name().to_string(), self.namespace().to_string());
        if self.previous.last() != Some(&entry) {
            self.previous.push(entry);
        }
    }

    /// Every name this resource has had, the current one last.
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        self.previous
            .iter()
            .map(|(n, _)| n.as_str())
            .chain(std::iter::once(self.name()))
    }

    /// The name and namespace it was first given.
    pub fn original(&self) -> (String, String) {
        self.previous
            .first()
            .cloned()
            .unwrap_or_else(|| (self.name().to_string(), self.namespace().to_string()))
    }
}

/// `metadata` of an object, created if missing.
pub fn metadata(value: &mut Value) -> &mut Map<String, Value> {
    let obj = match value {
        Value::Object(o) => o,
        other => {
            *other = Value::Object(Map::new());
            match other {
                Value::Object(o) => o,
                _ => unreachable!("just set to an object"),
            }
        }
    };
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    match meta {
        Value::Object(m) => m,
        _ => unreachable!("just set to an object"),
    }
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (`""`, `v1`).
pub fn split_api_version(api_version: &str) -> (String, String) {
    match api_version.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), api_version.to_string()),
    }
}

/// Kinds that are not namespaced, so the namespace transformer leaves them alone.
pub fn is_cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "APIService"
            | "CSIDriver"
            | "CSINode"
            | "CertificateSigningRequest"
            | "ClusterIssuer"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "ComponentStatus"
            | "CustomResourceDefinition"
            | "IngressClass"
            | "MutatingWebhookConfiguration"
            | "Namespace"
            | "Node"
            | "PersistentVolume"
            | "PodSecurityPolicy"
            | "PriorityClass"
            | "RuntimeClass"
            | "SelfSubjectAccessReview"
            | "SelfSubjectRulesReview"
            | "StorageClass"
            | "SubjectAccessReview"
            | "TokenReview"
            | "ValidatingAdmissionPolicy"
            | "ValidatingAdmissionPolicyBinding"
            | "ValidatingWebhookConfiguration"
            | "VolumeAttachment"
    )
}
