//! Process wiring: flags, leader election, health/metrics, and the controller loop, which
//! also wakes Kustomizations when their GitRepository changes.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::Controller;
use kube::runtime::controller::Config as ControllerConfig;
use kube::runtime::reflector::ObjectRef;
use weir_api::kustomize::Kustomization;
use weir_api::source::GitRepository;
use weir_shared::apply::Applier;
use weir_shared::events::EventRecorder;
use weir_shared::flags::{KubeFlags, LeaderFlags, LogFlags, ProbeFlags, RuntimeFlags};
use weir_shared::process::Process;
use weir_shared::watch;

use crate::controller::{self, CONTROLLER_NAME, Context, Settings};

/// kustomize-controller: builds Kustomizations from source artifacts and applies them.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct Flags {
    #[command(flatten)]
    pub kube: KubeFlags,
    #[command(flatten)]
    pub leader: LeaderFlags,
    #[command(flatten)]
    pub probes: ProbeFlags,
    #[command(flatten)]
    pub log: LogFlags,
    #[command(flatten)]
    pub runtime: RuntimeFlags,
    /// Refuse sourceRefs to other namespaces.
    #[arg(long, env = "WEIR_NO_CROSS_NAMESPACE_REFS")]
    pub no_cross_namespace_refs: bool,
    /// Where downloaded artifacts are unpacked (cached by digest).
    #[arg(
        long,
        env = "WEIR_WORK_DIR",
        default_value = "/tmp/kustomize-controller"
    )]
    pub work_dir: PathBuf,
}

/// Metadata-only watch of every object of a kind (names are all the mappers need).
fn metadata_changes<K>(
    client: kube::Client,
) -> impl futures::Stream<Item = Result<kube::api::PartialObjectMeta<K>, kube::runtime::watcher::Error>>
+ Send
+ 'static
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    use kube::runtime::WatchStreamExt;
    let api: Api<kube::api::PartialObjectMeta<K>> = Api::all(client);
    kube::runtime::watcher(
        api,
        kube::runtime::watcher::Config::default().any_semantic(),
    )
    .default_backoff()
    .touched_objects()
}

/// Runs until SIGINT/SIGTERM or loss of leadership.
///
/// # Errors
/// Startup failures and loss of leadership.
pub async fn run(flags: Flags) -> anyhow::Result<()> {
    let Some(process) =
        Process::start(&flags.kube, &flags.probes, &flags.leader, CONTROLLER_NAME).await?
    else {
        return Ok(());
    };
    let client = process.client.clone();
    let http = reqwest::Client::builder().build()?;
    let ctx = Arc::new(Context {
        client: client.clone(),
        applier: Applier::new(client.clone()),
        http,
        recorder: EventRecorder::new(
            client.clone(),
            CONTROLLER_NAME,
            flags.runtime.events_addr.as_deref(),
        ),
        metrics: process.metrics.clone(),
        backoff: Default::default(),
        settings: Settings {
            no_cross_namespace_refs: flags.no_cross_namespace_refs,
            requeue_dependency: flags.runtime.requeue_dependency,
            work_dir: flags.work_dir.clone(),
        },
        unpack_locks: Default::default(),
    });
    let config = watch::watcher_config(flags.runtime.watch_label_selector.as_deref());
    let (reader, changes) =
        watch::filtered_changes(Api::<Kustomization>::all(client.clone()), config);
    let store = reader.clone();
    let (reader_for_cm, reader_for_secret) = (reader.clone(), reader.clone());
    // A new artifact wakes every Kustomization that uses the repository.
    let dependents = move |repo: GitRepository| {
        let (name, ns) = (repo.name_any(), repo.namespace().unwrap_or_default());
        store
            .state()
            .into_iter()
            .filter(|k| {
                let r = &k.spec.source_ref;
                r.kind == "GitRepository"
                    && r.name == name
                    && r.namespace
                        .clone()
                        .unwrap_or_else(|| k.namespace().unwrap_or_default())
                        == ns
            })
            .map(|k| ObjectRef::from_obj(k.as_ref()))
            .collect::<Vec<_>>()
    };
    // A change to a ConfigMap or Secret named in postBuild.substituteFrom reconciles its users.
    fn users<K>(
        kind: &'static str,
        store: kube::runtime::reflector::Store<Kustomization>,
    ) -> impl Fn(kube::api::PartialObjectMeta<K>) -> Vec<ObjectRef<Kustomization>> + Send + Sync + 'static
    {
        move |meta: kube::api::PartialObjectMeta<K>| -> Vec<ObjectRef<Kustomization>> {
            let (name, ns) = (
                meta.metadata.name.clone().unwrap_or_default(),
                meta.metadata.namespace.clone().unwrap_or_default(),
            );
            store
                .state()
                .into_iter()
                .filter(|k| {
                    k.namespace().unwrap_or_default() == ns
                        && k.spec.post_build.as_ref().is_some_and(|pb| {
                            pb.substitute_from
                                .iter()
                                .any(|s| s.kind == kind && s.name == name)
                        })
                })
                .map(|k| ObjectRef::from_obj(k.as_ref()))
                .collect()
        }
    }
    let config_maps = metadata_changes::<ConfigMap>(client.clone());
    let secrets = metadata_changes::<Secret>(client.clone());
    process.readiness.set_ready();
    tracing::info!(work_dir = %flags.work_dir.display(), "kustomize-controller started");
    Controller::for_stream(changes, reader)
        .with_config(ControllerConfig::default().concurrency(flags.runtime.concurrent))
        .watches(
            Api::<GitRepository>::all(client),
            kube::runtime::watcher::Config::default().any_semantic(),
            dependents,
        )
        .watches_stream(config_maps, users("ConfigMap", reader_for_cm))
        .watches_stream(secrets, users("Secret", reader_for_secret))
        .graceful_shutdown_on(process.stopped())
        .run(controller::reconcile, controller::error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "controller event");
            }
        })
        .await;
    process.finish().await
}
