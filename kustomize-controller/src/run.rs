//! Process wiring: flags, leader election, health/metrics, and the controller loop, which
//! also wakes Kustomizations when their GitRepository changes.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use futures::StreamExt;
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
    process.readiness.set_ready();
    tracing::info!(work_dir = %flags.work_dir.display(), "kustomize-controller started");
    Controller::for_stream(changes, reader)
        .with_config(ControllerConfig::default().concurrency(flags.runtime.concurrent))
        .watches(
            Api::<GitRepository>::all(client),
            kube::runtime::watcher::Config::default().any_semantic(),
            dependents,
        )
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
