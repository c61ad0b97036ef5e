//! The one reconcile driver every controller runs:
//! `finalizer → suspended? → requeue policy → the kind's steps → summarise Ready → one status
//! patch → condition metrics → failure event → requeue`.
//!
//! A controller implements [`Reconciler`]: its kind, its declared conditions, its steps and
//! its cleanup. Everything after the steps is here, so every kind follows the same rules.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::Controller;
use kube::runtime::controller::{Action, Config as ControllerConfig};
use kube::runtime::finalizer::{self, Event as Finalizer};
use kube::runtime::reflector::Store;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use weir_api::conditions::types;
use weir_api::meta::ReconcileStatus;

use crate::conditions::Setter;
use crate::error::ReconcileError;
use crate::events::{EventRecorder, Severity};
use crate::flags::RuntimeFlags;
use crate::metrics::Metrics;
use crate::process::Process;
use crate::reconcile::{self, Backoff, ConditionSet, Requeue};

/// What every reconciler holds: the client, events, metrics, backoff and the dependency
/// requeue delay.
pub struct Runtime {
    /// Kubernetes client.
    pub client: Client,
    /// Kubernetes events and the notification sink.
    pub recorder: EventRecorder,
    /// Metrics of this process.
    pub metrics: Metrics,
    /// Per-object backoff of transient failures.
    pub backoff: Backoff,
    /// Requeue delay of a *waiting* error (`--requeue-dependency`).
    pub requeue_dependency: Duration,
}

impl Runtime {
    /// The runtime of `controller` in `process`, configured by `flags`.
    pub fn new(process: &Process, controller: &str, flags: &RuntimeFlags) -> Self {
        Self {
            client: process.client.clone(),
            recorder: EventRecorder::new(
                process.client.clone(),
                controller,
                flags.events_addr.as_deref(),
            ),
            metrics: process.metrics.clone(),
            backoff: Backoff::default(),
            requeue_dependency: flags.requeue_dependency,
        }
    }
}

/// The object kinds the driver reconciles: namespaced custom resources.
pub trait Object:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Serialize
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Object for K where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}

/// One controller's part of a reconcile: the steps between the requeue policy and the
/// summary, and the cleanup on deletion.
pub trait Reconciler: Send + Sync + 'static {
    /// The kind reconciled.
    type Object: Object;
    /// Its status.
    type Status: ReconcileStatus;
    /// The kind's name, for logs and metrics.
    const KIND: &'static str;
    /// The conditions the kind owns besides Ready/Reconciling/Stalled.
    const CONDITIONS: ConditionSet;

    /// The shared runtime.
    fn runtime(&self) -> &Runtime;
    /// The object's current status.
    fn status(obj: &Self::Object) -> Option<&Self::Status>;
    /// `spec.suspend`.
    fn suspended(obj: &Self::Object) -> bool;
    /// The requeue policy from the spec.
    ///
    /// # Errors
    /// Stalled when an interval is invalid; the steps do not run.
    fn requeue(obj: &Self::Object) -> Result<Requeue, ReconcileError>;
    /// The ordered steps. Each sets the conditions it owns on `status`; the result's message
    /// becomes `Ready`'s on success.
    fn run_steps(
        &self,
        obj: &Self::Object,
        status: &mut Self::Status,
        setter: Setter,
    ) -> impl Future<Output = Result<String, ReconcileError>> + Send;
    /// After the summary, before the status write (e.g. history). Default: nothing.
    fn after_summary(&self, _status: &mut Self::Status, _outcome: &Result<String, ReconcileError>) {
    }
    /// Metadata of the object's events (`<group>/revision`).
    fn event_metadata(status: &Self::Status) -> BTreeMap<String, String>;
    /// Deletion: release what the object holds.
    fn cleanup(
        &self,
        obj: &Self::Object,
    ) -> impl Future<Output = Result<(), ReconcileError>> + Send;
}

/// The top-level reconcile: adds the finalizer, then runs the steps or the cleanup.
///
/// # Errors
/// Only when the finalizer or the status cannot be written; step failures are recorded in
/// status.
pub async fn reconcile<R: Reconciler>(
    obj: Arc<R::Object>,
    ctx: Arc<R>,
) -> Result<Action, finalizer::Error<ReconcileError>> {
    let api: Api<R::Object> = Api::namespaced(
        ctx.runtime().client.clone(),
        &obj.namespace().unwrap_or_default(),
    );
    finalizer::finalizer(&api, weir_api::FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(obj) => apply::<R>(&api, &obj, &ctx).await,
            Finalizer::Cleanup(obj) => cleanup::<R>(&obj, &ctx).await,
        }
    })
    .await
}

/// The policy when the top-level reconcile itself failed (finalizer or status write, not a
/// step): log, count, retry with backoff of up to a minute.
pub fn error_policy<R: Reconciler>(
    obj: Arc<R::Object>,
    err: &finalizer::Error<ReconcileError>,
    ctx: Arc<R>,
) -> Action {
    let rt = ctx.runtime();
    let reason = match err {
        finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e.reason,
        _ => weir_api::conditions::reasons::KUBERNETES_API_FAILED,
    };
    tracing::warn!(kind = R::KIND, name = %obj.name_any(), namespace = obj.namespace().unwrap_or_default(), error = %err, "reconcile failed");
    rt.metrics.reconcile_failed(R::KIND, reason);
    Action::requeue(rt.backoff.failed(
        &reconcile::object_key(obj.as_ref()),
        Duration::from_secs(60),
    ))
}

async fn apply<R: Reconciler>(
    api: &Api<R::Object>,
    obj: &R::Object,
    ctx: &R,
) -> Result<Action, ReconcileError> {
    let rt = ctx.runtime();
    let _timer = rt.metrics.reconcile_timer(R::KIND);
    let (name, ns) = (obj.name_any(), obj.namespace().unwrap_or_default());
    if R::suspended(obj) {
        tracing::debug!(kind = R::KIND, %name, %ns, "suspended; skipping");
        return Ok(Action::await_change());
    }
    let previous = R::status(obj).cloned().unwrap_or_default();
    let mut status = previous.clone();
    let setter = Setter::for_object(obj);
    let requeue = R::requeue(obj);
    let outcome = match &requeue {
        Ok(_) => ctx.run_steps(obj, &mut status, setter).await,
        Err(e) => Err(e.clone()),
    };
    reconcile::summarize(
        status.conditions_mut(),
        &outcome,
        &R::CONDITIONS,
        Setter::for_object(obj),
    );
    status.set_observed_generation(setter.generation());
    if let Some(token) = reconcile::requested_at(obj) {
        status.set_last_handled_reconcile_at(token);
    }
    ctx.after_summary(&mut status, &outcome);
    reconcile::patch_status(api, &name, &status).await?;
    for c in status.conditions() {
        rt.metrics
            .set_condition(R::KIND, &ns, &name, &c.type_, &c.status);
    }
    if let Err(e) = &outcome {
        if e.next == crate::Next::Waiting {
            tracing::info!(kind = R::KIND, %name, %ns, reason = e.reason, message = %e.message, "waiting");
        } else {
            rt.metrics.reconcile_failed(R::KIND, e.reason);
            tracing::warn!(kind = R::KIND, %name, %ns, reason = e.reason, error = %e.message, cause = ?e.cause, "reconcile failed");
        }
        if reconcile::publishes_failure_event(e, previous.conditions()) {
            rt.recorder
                .publish(
                    &obj.object_ref(&()),
                    Severity::Error,
                    e.reason,
                    &e.message,
                    R::event_metadata(&status),
                )
                .await;
        }
    }
    let key = reconcile::object_key(obj);
    Ok(match &requeue {
        Ok(policy) => {
            reconcile::next_action(&outcome, &key, policy, rt.requeue_dependency, &rt.backoff)
        }
        // An invalid interval stalls: nothing happens until the spec changes.
        Err(_) => {
            rt.backoff.reset(&key);
            Action::await_change()
        }
    })
}

async fn cleanup<R: Reconciler>(obj: &R::Object, ctx: &R) -> Result<Action, ReconcileError> {
    ctx.cleanup(obj).await?;
    let rt = ctx.runtime();
    let (name, ns) = (obj.name_any(), obj.namespace().unwrap_or_default());
    rt.backoff.reset(&reconcile::object_key(obj));
    for t in [types::READY, types::RECONCILING, types::STALLED]
        .into_iter()
        .chain(R::CONDITIONS.owned.iter().copied())
    {
        rt.metrics.set_condition(R::KIND, &ns, &name, t, "Deleted");
    }
    Ok(Action::await_change())
}

/// The main watch of a controller: a reflector store of every object of the kind (honouring
/// `--watch-label-selector`) and a `Controller` woken only by changes that matter (spec,
/// `requestedAt`, deletion, finalizers). Add `.watches(...)` for related kinds, then
/// [`run_controller`].
pub fn controller_for<K: Object>(
    client: Client,
    flags: &RuntimeFlags,
) -> (Store<K>, Controller<K>) {
    let (reader, changes) = crate::watch::filtered_changes(
        Api::<K>::all(client),
        crate::watch::watcher_config(flags.watch_label_selector.as_deref()),
    );
    let controller = Controller::for_stream(changes, reader.clone())
        .with_config(ControllerConfig::default().concurrency(flags.concurrent));
    (reader, controller)
}

/// Runs `controller` with the shared driver until the process stops (shutdown or lost
/// leadership), marking the process ready first.
pub async fn run_controller<R: Reconciler>(
    controller: Controller<R::Object>,
    ctx: Arc<R>,
    process: &Process,
) {
    process.readiness.set_ready();
    let run = controller
        .graceful_shutdown_on(process.stopped())
        .run(reconcile::<R>, error_policy::<R>, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "controller event");
            }
        });
    // Graceful shutdown waits for running reconciles, but a watch stuck on an unreachable API
    // server never ends: give the stream a moment after the stop, then return regardless.
    let stopped = process.stopped();
    tokio::select! {
        () = run => {}
        () = async move {
            stopped.await;
            tokio::time::sleep(STOP_GRACE).await;
        } => tracing::warn!("controller did not stop within {STOP_GRACE:?}; leaving it"),
    }
}

/// How long the controller stream may take to end after a stop request.
const STOP_GRACE: Duration = Duration::from_secs(3);
