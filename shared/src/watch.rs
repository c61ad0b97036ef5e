//! Watch streams that wake a reconcile only when something the reconcile depends on changed:
//! the spec (generation), a `requestedAt` annotation, deletion, or finalizers. Status writes
//! by the controller itself do not trigger another reconcile.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use futures::Stream;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::utils::{PredicateConfig, WatchStreamExt};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

/// Hash of the fields whose change must trigger a reconcile.
pub fn reconcile_trigger<K: ResourceExt>(obj: &K) -> Option<u64> {
    let mut h = DefaultHasher::new();
    obj.meta().generation.hash(&mut h);
    obj.annotations()
        .get(weir_api::RECONCILE_REQUEST_ANNOTATION)
        .hash(&mut h);
    // ArtifactGenerator is suspended by annotation (it has no `spec.suspend`); lifting it
    // must reconcile at once.
    obj.annotations()
        .get(weir_api::source_extensions::RECONCILE_ANNOTATION)
        .hash(&mut h);
    obj.meta().deletion_timestamp.is_some().hash(&mut h);
    obj.finalizers().hash(&mut h);
    Some(h.finish())
}

/// The watcher config for the main resource, honouring `--watch-label-selector`.
pub fn watcher_config(label_selector: Option<&str>) -> watcher::Config {
    let config = watcher::Config::default().any_semantic();
    match label_selector.filter(|s| !s.is_empty()) {
        Some(selector) => config.labels(selector),
        None => config,
    }
}

/// A reflector store and the filtered stream of changed objects, for
/// `Controller::for_stream`.
pub fn filtered_changes<K>(
    api: Api<K>,
    config: watcher::Config,
) -> (
    Store<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, config)
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(reconcile_trigger, PredicateConfig::default());
    (reader, stream)
}

/// The artifact revision last seen per source object, so that a source watch wakes its
/// consumers only when the revision changes (or first appears), never for a status write
/// that leaves the artifact as it was. Flux's consumers filter source events the same way.
#[derive(Debug, Default)]
pub struct RevisionChanges(std::sync::Mutex<std::collections::HashMap<String, Option<String>>>);

impl RevisionChanges {
    /// Records `revision` for the object `namespace/name`; true when it differs from the one
    /// last recorded (the first sighting counts as a change).
    pub fn changed(&self, namespace: &str, name: &str, revision: Option<&str>) -> bool {
        let key = format!("{namespace}/{name}");
        let mut seen = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let revision = revision.map(str::to_string);
        if seen.get(&key) == Some(&revision) {
            return false;
        }
        seen.insert(key, revision);
        true
    }
}

impl RevisionChanges {
    /// [`RevisionChanges::changed`] for a source's artifact: a new revision (even with the
    /// same content) or new content is a change, and so is the start of the source's
    /// deletion, so that its users notice it is going away.
    pub fn artifact_changed(
        &self,
        namespace: &str,
        name: &str,
        artifact: Option<&weir_api::meta::Artifact>,
        deleting: bool,
    ) -> bool {
        let key = artifact.map(|a| {
            let deleting = if deleting { " deleting" } else { "" };
            format!("{} {}{deleting}", a.revision, a.digest)
        });
        self.changed(namespace, name, key.as_deref())
    }
}

/// A watch mapper for a source kind: on a new artifact of a source (see
/// [`RevisionChanges::artifact_changed`]), the objects `users(namespace, name)` names;
/// on anything else, none.
pub fn on_new_artifact<K, O>(
    artifact: fn(&K) -> Option<weir_api::meta::Artifact>,
    users: impl Fn(&str, &str) -> Vec<reflector::ObjectRef<O>> + Send + Sync + 'static,
) -> impl Fn(K) -> Vec<reflector::ObjectRef<O>> + Send + Sync + 'static
where
    K: Resource + 'static,
    O: Resource,
    O::DynamicType: Hash + Eq,
{
    let seen = RevisionChanges::default();
    move |source: K| {
        let (ns, name) = (source.namespace().unwrap_or_default(), source.name_any());
        let deleting = source.meta().deletion_timestamp.is_some();
        if !seen.artifact_changed(&ns, &name, artifact(&source).as_ref(), deleting) {
            return Vec::new();
        }
        users(&ns, &name)
    }
}

/// Metadata-only watch of every object of a kind (ConfigMaps, Secrets a reconcile reads), for
/// `Controller::watches_stream`: no object data is held.
pub fn metadata_changes<K>(
    client: kube::Client,
) -> impl Stream<Item = Result<kube::api::PartialObjectMeta<K>, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let api: Api<kube::api::PartialObjectMeta<K>> = Api::all(client);
    watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .touched_objects()
}

#[cfg(test)]
mod tests {
    use super::RevisionChanges;

    #[test]
    fn only_a_new_revision_is_a_change() {
        let seen = RevisionChanges::default();
        assert!(seen.changed("ns", "a", None), "first sighting");
        assert!(!seen.changed("ns", "a", None));
        assert!(seen.changed("ns", "a", Some("r1")), "artifact appeared");
        assert!(
            !seen.changed("ns", "a", Some("r1")),
            "status write, same artifact"
        );
        assert!(seen.changed("ns", "b", Some("r1")), "objects are separate");
        assert!(seen.changed("ns", "a", Some("r2")));
    }
}
