//! Builders for test objects, so that tests read like sentences:
//! `git_repository("app", &selector).url(..).branch("main").create(&api)`.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use weir_api::meta::LocalObjectReference;
use weir_api::source::{GitRepository, GitRepositoryRef, GitRepositorySpec};
use weir_shared::conditions;

use crate::controller::TEST_LABEL;

/// Starts a GitRepository builder labelled for the controller watching `selector`.
pub fn git_repository(name: &str, selector: &str) -> GitRepository {
    GitRepository {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([(
                TEST_LABEL.to_string(),
                selector.to_string(),
            )])),
            ..Default::default()
        },
        spec: GitRepositorySpec {
            interval: "1h".into(),
            ..Default::default()
        },
        status: None,
    }
}

/// Builder methods on a GitRepository.
pub trait GitRepositoryBuilder: Sized {
    /// Sets `spec.url`.
    fn url(self, url: &str) -> Self;
    /// Sets `spec.ref.branch`.
    fn branch(self, b: &str) -> Self;
    /// Sets `spec.ref.tag`.
    fn tag(self, t: &str) -> Self;
    /// Sets `spec.ref.semver`.
    fn semver(self, r: &str) -> Self;
    /// Sets `spec.ref.commit`.
    fn commit(self, c: &str) -> Self;
    /// Sets `spec.secretRef`.
    fn secret(self, name: &str) -> Self;
    /// Sets `spec.interval`.
    fn interval(self, i: &str) -> Self;
    /// Sets `spec.timeout`.
    fn timeout(self, t: &str) -> Self;
}

impl GitRepositoryBuilder for GitRepository {
    fn url(mut self, url: &str) -> Self {
        self.spec.url = url.into();
        self
    }
    fn branch(mut self, b: &str) -> Self {
        self.spec
            .reference
            .get_or_insert_with(GitRepositoryRef::default)
            .branch = Some(b.into());
        self
    }
    fn tag(mut self, t: &str) -> Self {
        self.spec
            .reference
            .get_or_insert_with(GitRepositoryRef::default)
            .tag = Some(t.into());
        self
    }
    fn semver(mut self, r: &str) -> Self {
        self.spec
            .reference
            .get_or_insert_with(GitRepositoryRef::default)
            .semver = Some(r.into());
        self
    }
    fn commit(mut self, c: &str) -> Self {
        self.spec
            .reference
            .get_or_insert_with(GitRepositoryRef::default)
            .commit = Some(c.into());
        self
    }
    fn secret(mut self, name: &str) -> Self {
        self.spec.secret_ref = Some(LocalObjectReference { name: name.into() });
        self
    }
    fn interval(mut self, i: &str) -> Self {
        self.spec.interval = i.into();
        self
    }
    fn timeout(mut self, t: &str) -> Self {
        self.spec.timeout = Some(t.into());
        self
    }
}

/// Creates an object, panicking with the API error.
pub async fn create(api: &Api<GitRepository>, obj: &GitRepository) -> GitRepository {
    api.create(&PostParams::default(), obj)
        .await
        .unwrap_or_else(|e| panic!("creating {}: {e}", obj.name_any()))
}

/// Creates a Secret with string data.
pub async fn secret(client: &Client, ns: &str, name: &str, data: &[(&str, &str)]) {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let s = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Default::default()
    };
    api.create(&PostParams::default(), &s)
        .await
        .unwrap_or_else(|e| panic!("creating Secret {name}: {e}"));
}

/// Sets the `reconcile.weir.dev/requestedAt` annotation to `token`.
pub async fn request_reconcile(api: &Api<GitRepository>, name: &str, token: &str) {
    let patch = serde_json::json!({"metadata": {"annotations": {weir_api::RECONCILE_REQUEST_ANNOTATION: token}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("annotating {name}: {e}"));
}

/// Waits until `check` accepts the object, with a message naming what was awaited and the
/// last status seen.
pub async fn wait_for(
    api: &Api<GitRepository>,
    name: &str,
    limit: Duration,
    what: &str,
    check: impl Fn(&GitRepository) -> bool,
) -> GitRepository {
    let start = std::time::Instant::now();
    let mut last = None;
    loop {
        if let Ok(obj) = api.get(name).await {
            if check(&obj) {
                return obj;
            }
            last = Some(obj);
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {name} to be {what}; last status: {}",
            serde_json::to_string_pretty(&last.and_then(|o| o.status)).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// True when Ready has `status` and `reason` and describes the current generation.
pub fn ready_is(obj: &GitRepository, status: &str, reason: &str) -> bool {
    let Some(st) = &obj.status else { return false };
    st.observed_generation == obj.metadata.generation
        && conditions::get(&st.conditions, weir_api::conditions::types::READY)
            .is_some_and(|c| c.status == status && c.reason == reason)
}

/// Waits until Ready=True.
pub async fn wait_ready(api: &Api<GitRepository>, name: &str) -> GitRepository {
    wait_for(api, name, Duration::from_secs(60), "Ready", |o| {
        ready_is(o, "True", "Succeeded")
    })
    .await
}

/// The Ready condition's message.
pub fn ready_message(obj: &GitRepository) -> String {
    obj.status
        .as_ref()
        .and_then(|s| conditions::get(&s.conditions, weir_api::conditions::types::READY))
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// Deletes an object and waits until its controller has removed the finalizer.
pub async fn delete_and_wait(api: &Api<GitRepository>, name: &str) {
    delete_and_wait_any(api, name).await;
}

/// Deletes an object of any kind and waits until it is gone (its finalizer removed).
pub async fn delete_and_wait_any<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.delete(name, &kube::api::DeleteParams::default())
        .await
        .unwrap_or_else(|e| panic!("deleting {name}: {e}"));
    crate::wait::until(Duration::from_secs(30), &format!("{name} deleted"), || {
        let api = api.clone();
        async move {
            api.get_opt(name)
                .await
                .ok()
                .flatten()
                .is_none()
                .then_some(())
        }
    })
    .await;
}

/// The object's artifact; panics when it has none.
pub fn artifact_of(obj: GitRepository) -> weir_api::meta::Artifact {
    let name = obj.metadata.name.clone().unwrap_or_default();
    obj.status
        .and_then(|s| s.artifact)
        .unwrap_or_else(|| panic!("{name} has no artifact"))
}
