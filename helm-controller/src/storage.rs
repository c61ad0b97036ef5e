//! Helm's release storage on the API server: the `sh.helm.release.v1.<name>.v<N>` Secrets of
//! one release in its storage namespace, read and written in the format `weir_helm::release`
//! defines, so that the `helm` CLI sees what this controller stores and the other way round.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use weir_api::helm::conditions::reasons as hreasons;
use weir_helm::release::storage::{RELEASE_KEY, SECRET_TYPE, history_selector};
use weir_helm::release::{
    Release, SecretWrite, Timestamp, custom_labels, decode_release, encode_release,
    secret_labels_for_write, secret_name,
};
use weir_shared::ReconcileError;

/// The release Secrets of one release in one namespace.
pub struct Storage {
    api: Api<Secret>,
    namespace: String,
}

impl Storage {
    /// The storage of releases in `namespace`.
    pub fn new(client: Client, namespace: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
        }
    }

    /// The storage namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Every stored revision of `release`, oldest first.
    ///
    /// # Errors
    /// Transient: the list fails, or a Secret does not decode (Helm refuses it too).
    pub async fn history(&self, release: &str) -> Result<Vec<Release>, ReconcileError> {
        let list = self
            .api
            .list(&ListParams::default().labels(&history_selector(release)))
            .await
            .map_err(|e| ReconcileError::kube("listing release Secrets", e))?;
        let mut releases = Vec::new();
        for secret in list.items {
            let name = secret.metadata.name.clone().unwrap_or_default();
            let Some(data) = secret.data.as_ref().and_then(|d| d.get(RELEASE_KEY)) else {
                continue;
            };
            let mut release = decode_release(&data.0).map_err(|e| {
                ReconcileError::transient(
                    hreasons::GET_LAST_RELEASE_FAILED,
                    format!("release Secret {}/{name}: {e}", self.namespace),
                )
                .with_cause(e)
            })?;
            release.labels = custom_labels(&secret.metadata.labels.unwrap_or_default());
            releases.push(release);
        }
        releases.sort_by_key(|r| r.version);
        Ok(releases)
    }

    /// Stores a new revision.
    ///
    /// # Errors
    /// Transient: the Secret cannot be encoded or created.
    pub async fn create(&self, release: &Release) -> Result<(), ReconcileError> {
        let secret = self.secret(release, SecretWrite::Create)?;
        self.api
            .create(&PostParams::default(), &secret)
            .await
            .map_err(|e| ReconcileError::kube("storing the release", e))?;
        Ok(())
    }

    /// Replaces a stored revision (its status changed).
    ///
    /// # Errors
    /// Transient: the Secret cannot be encoded or replaced.
    pub async fn update(&self, release: &Release) -> Result<(), ReconcileError> {
        let mut secret = self.secret(release, SecretWrite::Update)?;
        let name = secret_name(&release.name, release.version);
        let current = self
            .api
            .get(&name)
            .await
            .map_err(|e| ReconcileError::kube("reading the release Secret", e))?;
        // Helm keeps `createdAt` when it updates a revision.
        if let (Some(labels), Some(created)) = (
            secret.metadata.labels.as_mut(),
            current
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("createdAt")),
        ) {
            labels.insert("createdAt".into(), created.clone());
        }
        secret.metadata.resource_version = current.metadata.resource_version;
        self.api
            .replace(&name, &PostParams::default(), &secret)
            .await
            .map_err(|e| ReconcileError::kube("updating the release", e))?;
        Ok(())
    }

    /// Deletes one revision; a revision already gone is fine.
    ///
    /// # Errors
    /// Transient: the delete fails.
    pub async fn delete(&self, release: &str, version: i64) -> Result<(), ReconcileError> {
        match self
            .api
            .delete(&secret_name(release, version), &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(ReconcileError::kube("deleting a release Secret", e)),
        }
    }

    fn secret(&self, release: &Release, write: SecretWrite) -> Result<Secret, ReconcileError> {
        let data = encode_release(release).map_err(|e| {
            ReconcileError::transient(hreasons::RECONCILIATION_FAILED, e.to_string()).with_cause(e)
        })?;
        let labels = secret_labels_for_write(release, write, Timestamp::now().as_second());
        Ok(Secret {
            metadata: ObjectMeta {
                name: Some(secret_name(&release.name, release.version)),
                namespace: Some(self.namespace.clone()),
                labels: Some(labels),
                ..Default::default()
            },
            type_: Some(SECRET_TYPE.into()),
            data: Some(BTreeMap::from([(
                RELEASE_KEY.to_string(),
                ByteString(data.into_bytes()),
            )])),
            ..Default::default()
        })
    }
}
