//! The server-side apply engine shared by the reconcilers: staged apply (cluster definitions
//! first), dry-run to report created/configured/unchanged, per-object apply policies,
//! drift correction by taking fields back from imperative managers, recreation of objects
//! whose immutable fields changed, and prune.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{ApiCapabilities, Scope};
use kube::{Client, Error};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::inventory::ObjectRef;

/// Field managers whose edits are imperative drift by default: their fields are taken back.
pub const DEFAULT_DRIFT_MANAGERS: &[&str] = &[
    "kubectl",
    "kubectl-edit",
    "kubectl-client-side-apply",
    "kubectl-patch",
    "kubectl-scale",
    "before-first-apply",
    "kubectl-label",
    "kubectl-annotate",
];

/// Who applies, and the keys that say how: one per controller, so the engine serves every
/// kind (kustomize-controller passes `kustomize.weir.dev/*`, helm-controller `helm.weir.dev/*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyPolicy {
    /// Field manager of every apply (the controller's name), used with force.
    pub field_manager: String,
    /// Annotation selecting how an object is applied: `Override` (default), `Merge`,
    /// `IfNotPresent` or `Ignore`.
    pub ssa_annotation: String,
    /// Annotation whose value `Disabled` keeps an object from being pruned.
    pub prune_annotation: String,
    /// Annotation whose value `Enabled` recreates an object when an immutable field changes.
    pub force_annotation: String,
    /// Owner label carrying the owning object's name.
    pub owner_name_label: String,
    /// Owner label carrying the owning object's namespace.
    pub owner_namespace_label: String,
    /// Field managers whose edits are drift: their fields are taken back on `Override`.
    pub drift_managers: Vec<String>,
}

impl ApplyPolicy {
    /// The policy of `field_manager` with every key under `group`: `<group>/ssa`,
    /// `<group>/prune`, `<group>/force`, `<group>/name`, `<group>/namespace`, and the default
    /// drift managers.
    pub fn for_group(field_manager: &str, group: &str) -> Self {
        Self {
            field_manager: field_manager.to_string(),
            ssa_annotation: format!("{group}/ssa"),
            prune_annotation: format!("{group}/prune"),
            force_annotation: format!("{group}/force"),
            owner_name_label: format!("{group}/name"),
            owner_namespace_label: format!("{group}/namespace"),
            drift_managers: DEFAULT_DRIFT_MANAGERS
                .iter()
                .map(|m| (*m).to_string())
                .collect(),
        }
    }

    /// The owner labels of the object `namespace/name`.
    pub fn owner_labels<'a>(&'a self, owner: &'a Owner) -> [(&'a str, &'a str); 2] {
        [
            (self.owner_name_label.as_str(), owner.name.as_str()),
            (
                self.owner_namespace_label.as_str(),
                owner.namespace.as_str(),
            ),
        ]
    }

    /// Adds the owner labels to every object's `metadata.labels`, so that prune only ever
    /// deletes what this owner applied.
    pub fn stamp_owner(&self, objects: &mut [Value], owner: &Owner) {
        for o in objects {
            let Some(obj) = o.as_object_mut() else {
                continue;
            };
            let meta = obj
                .entry("metadata")
                .or_insert_with(|| Value::Object(Default::default()));
            let Some(meta) = meta.as_object_mut() else {
                continue;
            };
            let labels = meta
                .entry("labels")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Value::Object(labels) = labels {
                for (k, v) in self.owner_labels(owner) {
                    labels.insert(k.to_string(), Value::String(v.to_string()));
                }
            }
        }
    }

    fn is_drift_manager(&self, manager: Option<&str>) -> bool {
        manager.is_some_and(|m| self.drift_managers.iter().any(|d| d == m))
    }
}

/// The object that owns applied objects (a Kustomization, a HelmRelease).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
}

impl Owner {
    /// The owner `obj`.
    pub fn of<K: kube::ResourceExt>(obj: &K) -> Self {
        Self {
            name: obj.name_any(),
            namespace: obj.namespace().unwrap_or_default(),
        }
    }
}

type ApplyFuture<'a> =
    std::pin::Pin<Box<dyn Future<Output = Result<Change, ApplyError>> + Send + 'a>>;

/// How many objects of one stage are applied at the same time.
const APPLY_CONCURRENCY: usize = 8;

/// What happened to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// It did not exist.
    Created,
    /// It changed.
    Configured,
    /// Nothing to do.
    Unchanged,
    /// Skipped by its `ssa` annotation.
    Skipped,
    /// Deleted and created again (immutable field change with force).
    Recreated,
    /// Pruned.
    Deleted,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Skipped => "skipped",
            Action::Recreated => "recreated",
            Action::Deleted => "deleted",
        })
    }
}

/// The outcome for one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The object.
    pub object: ObjectRef,
    /// What happened.
    pub action: Action,
}

/// An apply failure naming the object and the API server's message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{object}: {message}")]
pub struct ApplyError {
    /// The object.
    pub object: String,
    /// What the API server said.
    pub message: String,
}

/// Options of one apply.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Recreate objects whose immutable fields changed.
    pub force: bool,
    /// How long to wait for CRDs to be established.
    pub wait_timeout: Duration,
}

/// Discovery results by (group, version, kind).
type DiscoveryCache = HashMap<(String, String, String), (ApiResource, ApiCapabilities)>;

/// A server-side apply client with a discovery cache.
pub struct Applier {
    client: Client,
    policy: ApplyPolicy,
    cache: Mutex<DiscoveryCache>,
}

fn stage(kind: &str) -> u8 {
    match kind {
        "CustomResourceDefinition" | "Namespace" | "ClusterRole" | "ClusterRoleBinding" => 0,
        k if k.ends_with("Class") => 1,
        _ => 2,
    }
}

impl Applier {
    /// A new applier that applies and prunes under `policy`.
    pub fn new(client: Client, policy: ApplyPolicy) -> Self {
        Self {
            client,
            policy,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The policy this applier applies and prunes with.
    pub fn policy(&self) -> &ApplyPolicy {
        &self.policy
    }

    async fn resolve(&self, r: &ObjectRef) -> Result<(ApiResource, ApiCapabilities), ApplyError> {
        let key = (r.group.clone(), r.version.clone(), r.kind.clone());
        if let Some(hit) = self.cache.lock().await.get(&key) {
            return Ok(hit.clone());
        }
        let gvk = GroupVersionKind::gvk(&r.group, &r.version, &r.kind);
        let found = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|e| ApplyError {
                object: r.to_string(),
                message: format!("no API for {} {}: {e}", r.api_version(), r.kind),
            })?;
        self.cache.lock().await.insert(key, found.clone());
        Ok(found)
    }

    /// The dynamic API of an object (namespaced or not, as the server says).
    ///
    /// # Errors
    /// Unknown kinds.
    pub async fn api_for(&self, r: &ObjectRef) -> Result<Api<DynamicObject>, ApplyError> {
        let (ar, caps) = self.resolve(r).await?;
        Ok(match caps.scope {
            Scope::Namespaced => Api::namespaced_with(self.client.clone(), &r.namespace, &ar),
            Scope::Cluster => Api::all_with(self.client.clone(), &ar),
        })
    }

    /// Gives `namespace` to every namespaced object that has none, as `kubectl apply -n` and
    /// Helm do; cluster-scoped kinds are left alone. A kind discovery does not know (yet) is
    /// taken as namespaced, like most custom resources: its apply reports the unknown kind.
    pub async fn default_namespace(&self, objects: &mut [Value], namespace: &str) {
        for obj in objects.iter_mut() {
            let r = ObjectRef::of(obj);
            if !r.namespace.is_empty() {
                continue;
            }
            let namespaced = match self.resolve(&r).await {
                Ok((_, caps)) => matches!(caps.scope, Scope::Namespaced),
                Err(_) => true,
            };
            if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut)
                && namespaced
            {
                meta.insert("namespace".into(), Value::String(namespace.to_string()));
            }
        }
    }

    /// Applies every object in stages: CRDs, Namespaces and cluster RBAC first (waiting for
    /// CRDs to be established), then `*Class` kinds, then the rest.
    ///
    /// # Errors
    /// The first object the API server refuses.
    pub async fn apply_all(
        &self,
        objects: &[Value],
        opts: &ApplyOptions,
    ) -> Result<Vec<Change>, ApplyError> {
        let mut changes = Vec::new();
        for s in 0..=2 {
            let batch: Vec<&Value> = objects
                .iter()
                .filter(|o| stage(o.get("kind").and_then(Value::as_str).unwrap_or("")) == s)
                .collect();
            // Objects of one stage do not depend on each other: apply several at once.
            for chunk in batch.chunks(APPLY_CONCURRENCY) {
                let futures: Vec<ApplyFuture<'_>> = chunk
                    .iter()
                    .map(|obj| Box::pin(self.apply_one(obj, opts)) as ApplyFuture<'_>)
                    .collect();
                for r in futures::future::join_all(futures).await {
                    changes.push(r?);
                }
            }
            if s == 0 {
                for obj in batch.iter().filter(|o| {
                    o.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition")
                }) {
                    self.wait_established(obj, opts.wait_timeout).await?;
                }
                self.cache.lock().await.clear();
            }
        }
        Ok(changes)
    }

    async fn wait_established(&self, crd: &Value, timeout: Duration) -> Result<(), ApplyError> {
        let r = ObjectRef::of(crd);
        let api = self.api_for(&r).await?;
        let start = Instant::now();
        loop {
            if let Ok(Some(obj)) = api.get_opt(&r.name).await {
                let established = obj
                    .data
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|c| {
                        c.iter().any(|c| {
                            c.get("type").and_then(Value::as_str) == Some("Established")
                                && c.get("status").and_then(Value::as_str) == Some("True")
                        })
                    });
                if established {
                    return Ok(());
                }
            }
            if start.elapsed() > timeout {
                return Err(ApplyError {
                    object: r.to_string(),
                    message: "CRD was not established in time".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn apply_one(&self, desired: &Value, opts: &ApplyOptions) -> Result<Change, ApplyError> {
        let desired = &with_port_protocols(desired);
        let r = ObjectRef::of(desired);
        let err = |message: String| ApplyError {
            object: r.to_string(),
            message,
        };
        let api = self.api_for(&r).await?;
        let annotation = |key: &str| {
            desired
                .pointer(&format!("/metadata/annotations/{}", key.replace('/', "~1")))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let policy = annotation(&self.policy.ssa_annotation).unwrap_or_else(|| "Override".into());
        let current = api
            .get_opt(&r.name)
            .await
            .map_err(|e| err(api_message(&e)))?;
        match (policy.as_str(), &current) {
            ("Ignore", _) | ("IfNotPresent", Some(_)) => {
                return Ok(Change {
                    object: r,
                    action: Action::Skipped,
                });
            }
            _ => {}
        }
        if policy == "Override"
            && let Some(cur) = &current
        {
            self.take_back_fields(&api, cur)
                .await
                .map_err(|e| err(api_message(&e)))?;
        }
        let params = PatchParams::apply(&self.policy.field_manager).force();
        let dry = api
            .patch(&r.name, &params.clone().dry_run(), &Patch::Apply(desired))
            .await;
        let dry = match dry {
            Ok(d) => d,
            Err(e)
                if is_immutable(&e)
                    && (opts.force
                        || annotation(&self.policy.force_annotation).as_deref()
                            == Some("Enabled")) =>
            {
                return self.recreate(&api, &r, desired, opts).await;
            }
            Err(e) => return Err(err(api_message(&e))),
        };
        if let Some(cur) = &current
            && comparable(&cur.data, &cur.metadata) == comparable(&dry.data, &dry.metadata)
        {
            return Ok(Change {
                object: r,
                action: Action::Unchanged,
            });
        }
        api.patch(&r.name, &params, &Patch::Apply(desired))
            .await
            .map_err(|e| err(api_message(&e)))?;
        Ok(Change {
            object: r,
            action: if current.is_some() {
                Action::Configured
            } else {
                Action::Created
            },
        })
    }

    /// Renames imperative managers (kubectl edit, scale, client-side apply) to ours in
    /// `managedFields`, so that the next forced apply removes the fields they added.
    async fn take_back_fields(
        &self,
        api: &Api<DynamicObject>,
        current: &DynamicObject,
    ) -> Result<(), Error> {
        let manager = self.policy.field_manager.as_str();
        let Some(fields) = &current.metadata.managed_fields else {
            return Ok(());
        };
        if !fields
            .iter()
            .any(|f| self.policy.is_drift_manager(f.manager.as_deref()))
        {
            return Ok(());
        }
        let mut merged: Vec<Value> = Vec::new();
        for f in fields {
            let mut v = serde_json::to_value(f).unwrap_or(Value::Null);
            if self.policy.is_drift_manager(f.manager.as_deref()) {
                v["manager"] = Value::String(manager.to_string());
                v["operation"] = Value::String("Apply".into());
                v.as_object_mut().map(|o| o.remove("subresource"));
            }
            merged.push(v);
        }
        let name = current.metadata.name.clone().unwrap_or_default();
        let patch = serde_json::json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": current.metadata.resource_version},
            {"op": "replace", "path": "/metadata/managedFields", "value": merged}
        ]);
        let patch: json_patch::Patch = serde_json::from_value(patch).map_err(Error::SerdeError)?;
        api.patch(&name, &PatchParams::default(), &Patch::<()>::Json(patch))
            .await
            .map(|_| ())
    }

    async fn recreate(
        &self,
        api: &Api<DynamicObject>,
        r: &ObjectRef,
        desired: &Value,
        opts: &ApplyOptions,
    ) -> Result<Change, ApplyError> {
        let err = |message: String| ApplyError {
            object: r.to_string(),
            message,
        };
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        api.delete(&r.name, &dp)
            .await
            .map_err(|e| err(api_message(&e)))?;
        let start = Instant::now();
        while api
            .get_opt(&r.name)
            .await
            .map_err(|e| err(api_message(&e)))?
            .is_some()
        {
            if start.elapsed() > opts.wait_timeout {
                return Err(err("object was not deleted in time for recreation".into()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        api.patch(
            &r.name,
            &PatchParams::apply(&self.policy.field_manager).force(),
            &Patch::Apply(desired),
        )
        .await
        .map_err(|e| err(api_message(&e)))?;
        Ok(Change {
            object: r.clone(),
            action: Action::Recreated,
        })
    }

    /// Deletes stale objects that carry `owner`'s labels and are not annotated
    /// `<prune annotation>: Disabled`. Returns what was deleted and what could not be.
    pub async fn prune(
        &self,
        stale: &[ObjectRef],
        owner: &Owner,
    ) -> (Vec<Change>, Vec<(ObjectRef, String)>) {
        let owner_labels = self.policy.owner_labels(owner);
        let mut deleted = Vec::new();
        let mut failed = Vec::new();
        // Delete in reverse apply order: custom resources before their definitions,
        // namespaced objects before namespaces.
        let mut ordered: Vec<&ObjectRef> = stale.iter().collect();
        ordered.sort_by_key(|r| std::cmp::Reverse(stage(&r.kind)));
        self.cache.lock().await.clear();
        for r in ordered {
            let api = match self.api_for(r).await {
                Ok(a) => a,
                // The kind no longer exists (its CRD is gone): so is the object.
                Err(_) => continue,
            };
            let current = match api.get_opt(&r.name).await {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => {
                    failed.push((r.clone(), api_message(&e)));
                    continue;
                }
            };
            let labels = current.metadata.labels.clone().unwrap_or_default();
            let owned = owner_labels
                .iter()
                .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v));
            let disabled = current
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(&self.policy.prune_annotation))
                .map(String::as_str)
                == Some("Disabled");
            if !owned || disabled || current.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let dp = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                ..Default::default()
            };
            match api.delete(&r.name, &dp).await {
                Ok(_) => deleted.push(Change {
                    object: r.clone(),
                    action: Action::Deleted,
                }),
                Err(e) => failed.push((r.clone(), api_message(&e))),
            }
        }
        (deleted, failed)
    }
}

/// Fills in `protocol: TCP` where a port list is keyed by port and protocol. The API server
/// defaults it anyway, but server-side apply on Kubernetes before 1.21 rejects list entries
/// that omit a key field ("associative list with keys has an element that omits key field").
fn with_port_protocols(obj: &Value) -> Value {
    fn fill(ports: Option<&mut Value>) {
        if let Some(Value::Array(items)) = ports {
            for p in items.iter_mut().filter_map(Value::as_object_mut) {
                p.entry("protocol")
                    .or_insert_with(|| Value::String("TCP".into()));
            }
        }
    }
    fn containers(spec: Option<&mut Value>) {
        let Some(spec) = spec else { return };
        for key in ["containers", "initContainers"] {
            if let Some(Value::Array(cs)) = spec.get_mut(key) {
                for c in cs.iter_mut() {
                    fill(c.get_mut("ports"));
                }
            }
        }
    }
    let mut obj = obj.clone();
    match obj.get("kind").and_then(Value::as_str).unwrap_or_default() {
        "Service" => fill(obj.pointer_mut("/spec/ports")),
        "Pod" => containers(obj.pointer_mut("/spec")),
        "CronJob" => containers(obj.pointer_mut("/spec/jobTemplate/spec/template/spec")),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => {
            containers(obj.pointer_mut("/spec/template/spec"));
        }
        _ => {}
    }
    obj
}

fn is_immutable(e: &Error) -> bool {
    matches!(e, Error::Api(s) if s.code == 422 && (s.message.contains("immutable") || s.message.contains("may not change")))
}

/// The API server's message without kube's wrapping.
pub fn api_message(e: &Error) -> String {
    match e {
        Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// An object without the fields that change on every write.
fn comparable(data: &Value, meta: &kube::api::ObjectMeta) -> Value {
    let mut meta = serde_json::to_value(meta).unwrap_or(Value::Null);
    if let Some(m) = meta.as_object_mut() {
        for k in [
            "managedFields",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "uid",
        ] {
            m.remove(k);
        }
    }
    let mut data = data.clone();
    if let Some(d) = data.as_object_mut() {
        d.remove("status");
    }
    serde_json::json!({"metadata": meta, "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_keys_follow_the_group() {
        let p = ApplyPolicy::for_group("helm-controller", "helm.weir.dev");
        assert_eq!(
            (
                p.ssa_annotation.as_str(),
                p.prune_annotation.as_str(),
                p.force_annotation.as_str()
            ),
            (
                "helm.weir.dev/ssa",
                "helm.weir.dev/prune",
                "helm.weir.dev/force"
            )
        );
        assert!(p.is_drift_manager(Some("kubectl-edit")));
        assert!(!p.is_drift_manager(Some("helm-controller")));
        assert!(!p.is_drift_manager(None));
    }

    #[test]
    fn owner_labels_are_stamped_on_every_object() {
        let p = ApplyPolicy::for_group("kustomize-controller", "kustomize.weir.dev");
        let owner = Owner {
            name: "app".into(),
            namespace: "flux".into(),
        };
        let mut objects = vec![
            serde_json::json!({"kind": "ConfigMap", "metadata": {"name": "a", "labels": {"x": "1"}}}),
            serde_json::json!({"kind": "Namespace"}),
        ];
        p.stamp_owner(&mut objects, &owner);
        assert_eq!(
            objects[0]["metadata"]["labels"],
            serde_json::json!({"x": "1", "kustomize.weir.dev/name": "app", "kustomize.weir.dev/namespace": "flux"})
        );
        assert_eq!(
            objects[1]["metadata"]["labels"]["kustomize.weir.dev/name"],
            "app"
        );
    }

    #[test]
    fn cluster_definitions_go_first() {
        assert_eq!(stage("CustomResourceDefinition"), 0);
        assert_eq!(stage("Namespace"), 0);
        assert_eq!(stage("IngressClass"), 1);
        assert_eq!(stage("Deployment"), 2);
    }
}
