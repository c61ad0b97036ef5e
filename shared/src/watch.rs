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
