//! The release pass and its actions: observe Helm's storage, ask [`next_action`] what to do,
//! do it, repeat until the pass ends — as Flux's `AtomicRelease` does.
//!
//! Install, upgrade and rollback share one deploy in Helm's order: store the new revision as
//! `pending-*`, apply CRDs by policy, server-side apply the manifests (owner-labelled, release
//! namespace defaulted), delete what the previous revision had and this one has not, wait for
//! readiness, then store the revision `deployed` (the previous deployed one `superseded`) or
//! `failed` with the error, and prune history to `maxHistory`. Unlock marks a pending revision
//! failed; uninstall deletes the objects of the latest revision and its history.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use serde_json::Value;
use weir_api::helm::conditions::{reasons as hreasons, types as htypes};
use weir_api::helm::{self as api, CrdsPolicy, HelmRelease, HelmReleaseStatus};
use weir_helm::action::{ReleaseOptions, RenderedRelease, TemplateError, render_release};
use weir_helm::chart::{Chart, Values};
use weir_helm::release::{
    ApplyMethod, Hook, Info, Release, ReleaseChart, Status, history_to_prune,
};
use weir_shared::ReconcileError;
use weir_shared::apply::{ApplyOptions, Owner};
use weir_shared::conditions::{self, Setter};
use weir_shared::events::Severity;
use weir_shared::inventory::ObjectRef;
use weir_shared::reconcile;

use crate::controller::{Context, GROUP, UNSUPPORTED};
use crate::next_action::{
    Action, Attempt, Counters, Policy, ReleaseAction, ResetReason, next_action,
};
use crate::observe;
use crate::state::{self, Desired};
use crate::storage::Storage;
use crate::values;

/// How many passes a reconcile runs (a remediation ends a pass and the next one retries).
const MAX_PASSES: usize = 3;

/// What one reconcile releases: the chart, the values and where they go.
struct Target<'a> {
    obj: &'a HelmRelease,
    ctx: &'a Context,
    storage: &'a Storage,
    chart: Chart,
    values: Values,
    config_digest: String,
    release_name: String,
    release_namespace: String,
}

/// Which release action a deploy is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Install,
    Upgrade,
    Rollback,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Install => "install",
            Kind::Upgrade => "upgrade",
            Kind::Rollback => "rollback",
        }
    }
}

/// Runs release passes until one ends; returns `Ready`'s message.
///
/// # Errors
/// The failure of the last action, a stall of the planner, storage and API failures.
pub async fn release_pass(
    obj: &HelmRelease,
    ctx: &Context,
    status: &mut HelmReleaseStatus,
    setter: Setter,
    storage: &Storage,
    chart: Chart,
    values: Values,
) -> Result<String, ReconcileError> {
    let target = Target {
        obj,
        ctx,
        storage,
        config_digest: values::digest(&values),
        chart,
        values,
        release_name: obj.release_name(),
        release_namespace: obj.release_namespace(),
    };
    let desired = Desired {
        chart_name: target.chart.name().to_string(),
        chart_version: target.chart.metadata.version.clone(),
        values_digest: target.config_digest.clone(),
    };
    let attempt = Attempt {
        generation: obj.metadata.generation.unwrap_or_default(),
        chart_version: desired.chart_version.clone(),
        config_digest: desired.values_digest.clone(),
    };
    let policy = observe::policy(obj, attempt);
    let mut counters = observe::counters(status);
    let mut last_failure: Option<ReconcileError> = None;
    for _ in 0..MAX_PASSES {
        counters.ran_this_pass.clear();
        loop {
            let history = storage.history(&target.release_name).await?;
            let observed = observe::observed(&history, status, desired.clone(), &policy, &counters);
            let decision = next_action(&state::state(&observed), &policy, &counters);
            if counters.ran_this_pass.is_empty() {
                begin_pass(status, &mut counters, &policy, decision.reset_failures);
            }
            let action = match settle(decision.action, last_failure.as_ref(), status) {
                Step::Run(action) => action,
                Step::NextPass => break,
                Step::Done(result) => return result,
            };
            let outcome = run(&target, status, setter, &mut counters, &history, &action).await;
            if let Some(kind) = action.kind() {
                counters.ran_this_pass.push(kind);
            }
            match outcome {
                // A release that succeeds after a remediated failure is in sync: the earlier
                // failure no longer describes it.
                Ok(()) if matches!(action, Action::Install | Action::Upgrade { .. }) => {
                    last_failure = None;
                }
                Ok(()) => {}
                Err(Failure::Other(e)) => return Err(e),
                Err(Failure::Release { error, counted }) => {
                    count_failure(status, &mut counters, counted);
                    if counted.is_none() {
                        // Nothing was stored: there is nothing to remediate.
                        return Err(error);
                    }
                    last_failure = Some(error);
                }
            }
        }
    }
    Err(last_failure.unwrap_or_else(|| {
        ReconcileError::transient(
            hreasons::RECONCILIATION_FAILED,
            format!("release still not in sync after {MAX_PASSES} passes"),
        )
    }))
}

/// Records the attempt and the handled requests before the pass, as Flux does, zeroing the
/// failure counters when the planner says so.
fn begin_pass(
    status: &mut HelmReleaseStatus,
    counters: &mut Counters,
    policy: &Policy,
    reset: Option<ResetReason>,
) {
    if let Some(reason) = reset {
        tracing::debug!(reason = reason.message(), "resetting failure counters");
        status.clear_failures();
        counters.install_failures = 0;
        counters.upgrade_failures = 0;
        counters.failures = 0;
    }
    status.last_attempted_generation = Some(policy.attempt.generation);
    status.last_attempted_revision = Some(policy.attempt.chart_version.clone());
    status.last_attempted_config_digest = Some(policy.attempt.config_digest.clone());
    status.last_handled_force_at = policy.requests.force_at.clone();
    status.last_handled_reset_at = policy.requests.reset_at.clone();
    counters.last_attempt = policy.attempt.clone();
    counters.handled.force_at = policy.requests.force_at.clone();
    counters.handled.reset_at = policy.requests.reset_at.clone();
}

/// What the loop does with a decision.
enum Step {
    /// Run the action.
    Run(Action),
    /// Start a new pass.
    NextPass,
    /// The reconcile's outcome.
    Done(Result<String, ReconcileError>),
}

/// Ends the pass on the decisions that run nothing; a stall carries the failure behind it.
fn settle(
    action: Action,
    last_failure: Option<&ReconcileError>,
    status: &HelmReleaseStatus,
) -> Step {
    match action {
        Action::Nothing => Step::Done(match last_failure {
            Some(e) => Err(e.clone()),
            None => Ok(in_sync_message(status)),
        }),
        Action::Requeue => Step::NextPass,
        Action::Stall { reason, message } => {
            let message = match last_failure {
                Some(e) => format!("{message}: {}", e.message),
                None => message,
            };
            Step::Done(Err(ReconcileError::stalled(reason.as_str(), message)))
        }
        Action::RetryWithBackoff { message } => Step::Done(Err(ReconcileError::transient(
            hreasons::RECONCILIATION_FAILED,
            message,
        ))),
        Action::RetryLater { .. } | Action::Test | Action::CorrectDrift => {
            Step::Done(Err(ReconcileError::stalled(
                UNSUPPORTED,
                format!("the next action ({action:?}) is not supported yet"),
            )))
        }
        action => Step::Run(action),
    }
}

/// Runs one release action.
async fn run(
    t: &Target<'_>,
    status: &mut HelmReleaseStatus,
    setter: Setter,
    counters: &mut Counters,
    history: &[Release],
    action: &Action,
) -> Result<(), Failure> {
    match action {
        Action::Install => {
            status.last_attempted_release_action = Some(api::ReleaseAction::Install);
            counters.last_attempted_action = Some(ReleaseAction::Install);
            deploy_new(t, status, setter, history, Kind::Install).await
        }
        Action::Upgrade { .. } => {
            status.last_attempted_release_action = Some(api::ReleaseAction::Upgrade);
            counters.last_attempted_action = Some(ReleaseAction::Upgrade);
            deploy_new(t, status, setter, history, Kind::Upgrade).await
        }
        Action::Rollback { to_version } => {
            rollback(t, status, setter, history, i64::from(*to_version)).await
        }
        Action::Uninstall => {
            uninstall(t, history).await.map_err(Failure::Other)?;
            status.history.clear();
            setter.mark_false(
                &mut status.conditions,
                htypes::RELEASED,
                hreasons::UNINSTALL_SUCCEEDED,
                format!("Helm uninstall succeeded for release {}", full_name(t)),
            );
            Ok(())
        }
        Action::Unlock => unlock(t, history).await.map_err(Failure::Other),
        // `settle` ends the pass on every other action.
        _ => Ok(()),
    }
}

/// Counts a failed release action; one that stored a failed revision also counts for its
/// action's remediation.
fn count_failure(status: &mut HelmReleaseStatus, counters: &mut Counters, counted: Option<Kind>) {
    status.failures += 1;
    counters.failures += 1;
    match counted {
        Some(Kind::Install) => {
            status.install_failures += 1;
            counters.install_failures += 1;
        }
        Some(Kind::Upgrade) => {
            status.upgrade_failures += 1;
            counters.upgrade_failures += 1;
        }
        Some(Kind::Rollback) | None => {}
    }
}

/// `Ready`'s message when nothing had to be done: the `Released` message.
fn in_sync_message(status: &HelmReleaseStatus) -> String {
    conditions::get(&status.conditions, htypes::RELEASED)
        .map(|c| c.message.clone())
        .unwrap_or_else(|| "Helm release is in sync".into())
}

/// Why an action failed.
enum Failure {
    /// A release action failed; `counted` names it when it stored a failed revision.
    Release {
        error: ReconcileError,
        counted: Option<Kind>,
    },
    /// Anything else (storage, API): retried.
    Other(ReconcileError),
}

fn full_name(t: &Target<'_>) -> String {
    format!("{}/{}", t.storage.namespace(), t.release_name)
}

/// The spec's settings of an install or an upgrade.
struct ActionConfig {
    crds_policy: CrdsPolicy,
    wait: bool,
    timeout: Duration,
    disable_hooks: bool,
    skip_schema_validation: bool,
}

fn action_config(obj: &HelmRelease, kind: Kind) -> Result<ActionConfig, ReconcileError> {
    let spec = &obj.spec;
    Ok(if kind == Kind::Install {
        let c = spec.install_config();
        ActionConfig {
            crds_policy: c.crds_policy(),
            wait: !c.disable_wait,
            timeout: reconcile::parse_field("install.timeout", spec.install_timeout())?,
            disable_hooks: c.disable_hooks,
            skip_schema_validation: c.disable_schema_validation,
        }
    } else {
        let c = spec.upgrade_config();
        ActionConfig {
            crds_policy: c.crds_policy(),
            wait: !c.disable_wait,
            timeout: reconcile::parse_field("upgrade.timeout", spec.upgrade_timeout())?,
            disable_hooks: c.disable_hooks,
            skip_schema_validation: c.disable_schema_validation,
        }
    })
}

/// Renders, then installs or upgrades.
async fn deploy_new(
    t: &Target<'_>,
    status: &mut HelmReleaseStatus,
    setter: Setter,
    history: &[Release],
    kind: Kind,
) -> Result<(), Failure> {
    let config = action_config(t.obj, kind).map_err(Failure::Other)?;
    let version = history.iter().map(|r| r.version).max().unwrap_or(0) + 1;
    let (reason_ok, reason_failed) = match kind {
        Kind::Install => (hreasons::INSTALL_SUCCEEDED, hreasons::INSTALL_FAILED),
        _ => (hreasons::UPGRADE_SUCCEEDED, hreasons::UPGRADE_FAILED),
    };
    let chart_ref = format!("{}@{}", t.chart.name(), t.chart.metadata.version);
    let fail = |message: String, status: &mut HelmReleaseStatus| {
        let message = format!(
            "Helm {} failed for release {} with chart {chart_ref}: {message}",
            kind.word(),
            full_name(t)
        );
        setter.mark_false(
            &mut status.conditions,
            htypes::RELEASED,
            reason_failed,
            message.clone(),
        );
        ReconcileError::transient(reason_failed, message)
    };
    let not_stored = |error: ReconcileError| Failure::Release {
        error,
        counted: None,
    };
    let rendered = match render(t, kind, version, config.skip_schema_validation).await {
        Ok(r) => r,
        Err(e) => {
            let error = fail(e.message.clone(), status).with_cause(e);
            publish(t, Severity::Error, reason_failed, &error.message).await;
            return Err(not_stored(error));
        }
    };
    check_hooks(&rendered, kind, config.disable_hooks).map_err(Failure::Other)?;
    let release = new_revision(t, &rendered, kind, version, history)
        .map_err(|m| not_stored(fail(m, status)))?;
    let crds = rendered
        .crds
        .iter()
        .map(|(source, text)| parse_docs(source, text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| not_stored(fail(m, status)))?
        .into_iter()
        .flatten()
        .collect();
    let plan = Deploy {
        release,
        crds,
        crds_policy: config.crds_policy,
        wait: config.wait,
        timeout: config.timeout,
    };
    match deploy(t, plan, history).await {
        Ok(stored) => {
            let message = format!(
                "Helm {} succeeded for release {}.v{version} with chart {chart_ref}",
                kind.word(),
                full_name(t)
            );
            setter.mark_true(
                &mut status.conditions,
                htypes::RELEASED,
                reason_ok,
                message.clone(),
            );
            record(t, status, &stored, kind, &t.config_digest).await?;
            publish(t, Severity::Info, reason_ok, &message).await;
            Ok(())
        }
        Err(DeployError::Release(stored, m)) => {
            let error = fail(m, status);
            record(t, status, &stored, kind, &t.config_digest).await?;
            publish(t, Severity::Error, reason_failed, &error.message).await;
            Err(Failure::Release {
                error,
                counted: Some(kind),
            })
        }
        Err(DeployError::NotStored(e)) => Err(Failure::Other(e)),
    }
}

/// Renders the chart for revision `version` off the async threads.
async fn render(
    t: &Target<'_>,
    kind: Kind,
    version: i64,
    skip_schema_validation: bool,
) -> Result<RenderedRelease, TemplateError> {
    let options = ReleaseOptions {
        name: t.release_name.clone(),
        namespace: t.release_namespace.clone(),
        revision: version,
        is_upgrade: kind == Kind::Upgrade,
        kube_version: None,
        api_versions: Vec::new(),
        skip_schema_validation,
    };
    let (chart, user) = (t.chart.clone(), t.values.clone());
    tokio::task::spawn_blocking(move || render_release(chart, &user, &options))
        .await
        .map_err(|e| TemplateError {
            message: format!("rendering did not finish: {e}"),
            during_render: true,
        })?
}

/// The new revision, `pending-install` or `pending-upgrade`, as Helm builds it.
fn new_revision(
    t: &Target<'_>,
    rendered: &RenderedRelease,
    kind: Kind,
    version: i64,
    history: &[Release],
) -> Result<Release, String> {
    let now = Timestamp::now();
    let first_deployed = history
        .iter()
        .filter_map(|r| r.info.first_deployed)
        .min()
        .filter(|_| kind == Kind::Upgrade)
        .unwrap_or(now);
    let (status, description) = match kind {
        Kind::Install => (Status::PendingInstall, "Initial install underway"),
        _ => (Status::PendingUpgrade, "Preparing upgrade"),
    };
    Ok(Release {
        name: t.release_name.clone(),
        info: Info {
            first_deployed: Some(first_deployed),
            last_deployed: Some(now),
            status,
            description: description.into(),
            notes: rendered.notes.clone(),
            ..Default::default()
        },
        chart: Some(ReleaseChart::from_chart(&rendered.chart).map_err(|e| e.0)?),
        config: t.values.clone(),
        manifest: rendered.manifest_text(),
        // Stored as Helm stores them, never run (refused unless disabled).
        hooks: rendered.hooks.iter().map(Hook::from_rendered).collect(),
        version,
        namespace: t.release_namespace.clone(),
        apply_method: Some(ApplyMethod::ServerSide),
        labels: Default::default(),
    })
}

/// Refuses a rendered release with hooks unless hooks are disabled: hooks are not run yet,
/// and skipping them silently would deploy something else than the chart means.
fn check_hooks(
    rendered: &RenderedRelease,
    kind: Kind,
    disabled: bool,
) -> Result<(), ReconcileError> {
    if rendered.hooks.is_empty() || disabled {
        return Ok(());
    }
    let events: BTreeSet<&str> = rendered
        .hooks
        .iter()
        .flat_map(|h| h.events.iter().map(String::as_str))
        .collect();
    Err(ReconcileError::stalled(
        UNSUPPORTED,
        format!(
            "chart has hooks ({}); hooks are not run yet: set spec.{}.disableHooks",
            events.into_iter().collect::<Vec<_>>().join(", "),
            kind.word()
        ),
    ))
}

/// Rolls back to `to`: its manifest applied again and stored as a new revision.
async fn rollback(
    t: &Target<'_>,
    status: &mut HelmReleaseStatus,
    setter: Setter,
    history: &[Release],
    to: i64,
) -> Result<(), Failure> {
    let Some(target) = history.iter().find(|r| r.version == to) else {
        return Err(Failure::Other(ReconcileError::transient(
            hreasons::ROLLBACK_FAILED,
            format!("rollback target {}.v{to} is not in storage", full_name(t)),
        )));
    };
    let config = t.obj.spec.rollback_config();
    let timeout =
        reconcile::parse_field("timeout", t.obj.spec.rollback_timeout()).map_err(Failure::Other)?;
    let version = history.iter().map(|r| r.version).max().unwrap_or(0) + 1;
    let mut release = target.clone();
    release.version = version;
    release.info.status = Status::PendingRollback;
    release.info.description = format!("Rollback to {to}");
    release.info.last_deployed = Some(Timestamp::now());
    release.info.deleted = None;
    release.apply_method = Some(ApplyMethod::ServerSide);
    let plan = Deploy {
        release,
        crds: Vec::new(),
        crds_policy: CrdsPolicy::Skip,
        wait: !config.disable_wait,
        timeout,
    };
    let name = format!("{}.v{to}", full_name(t));
    // The rollback is made from the target's values: its snapshot knows their digest.
    let config_digest = status.history.iter().find(|s| s.version == to).map_or_else(
        || values::digest(&target.config),
        |s| s.config_digest.clone(),
    );
    match deploy(t, plan, history).await {
        Ok(stored) => {
            let message = format!("Helm rollback to previous release {name} succeeded");
            setter.mark_true(
                &mut status.conditions,
                htypes::RELEASED,
                hreasons::ROLLBACK_SUCCEEDED,
                message.clone(),
            );
            record(t, status, &stored, Kind::Rollback, &config_digest).await?;
            publish(t, Severity::Info, hreasons::ROLLBACK_SUCCEEDED, &message).await;
            Ok(())
        }
        Err(DeployError::Release(stored, m)) => {
            let message = format!("Helm rollback to previous release {name} failed: {m}");
            setter.mark_false(
                &mut status.conditions,
                htypes::RELEASED,
                hreasons::ROLLBACK_FAILED,
                message.clone(),
            );
            record(t, status, &stored, Kind::Rollback, &config_digest).await?;
            publish(t, Severity::Error, hreasons::ROLLBACK_FAILED, &message).await;
            Err(Failure::Release {
                error: ReconcileError::transient(hreasons::ROLLBACK_FAILED, message),
                counted: Some(Kind::Rollback),
            })
        }
        Err(DeployError::NotStored(e)) => Err(Failure::Other(e)),
    }
}

/// Records the stored revision, made from values of `config_digest`, in `.status.history`.
async fn record(
    t: &Target<'_>,
    status: &mut HelmReleaseStatus,
    stored: &Release,
    kind: Kind,
    config_digest: &str,
) -> Result<(), Failure> {
    let all = t
        .storage
        .history(&t.release_name)
        .await
        .map_err(Failure::Other)?;
    let snapshot = observe::snapshot(stored, config_digest, kind.word());
    observe::record(&mut status.history, snapshot, &all);
    status.last_release_revision = Some(stored.version);
    Ok(())
}

/// A revision to deploy.
struct Deploy {
    /// The revision, with its pending status.
    release: Release,
    /// The chart's CRDs.
    crds: Vec<Value>,
    crds_policy: CrdsPolicy,
    wait: bool,
    timeout: Duration,
}

enum DeployError {
    /// The revision was stored as failed, with this message.
    Release(Box<Release>, String),
    /// Nothing was stored.
    NotStored(ReconcileError),
}

/// Helm's deploy order (see the module docs). Returns the stored revision.
async fn deploy(t: &Target<'_>, plan: Deploy, history: &[Release]) -> Result<Release, DeployError> {
    let Deploy {
        mut release,
        crds,
        crds_policy,
        wait,
        timeout,
    } = plan;
    let pending = release.info.status;
    t.storage
        .create(&release)
        .await
        .map_err(DeployError::NotStored)?;
    let outcome = apply_release(t, &release, crds, crds_policy, wait, timeout, history).await;
    match outcome {
        Ok(()) => {
            release.info.status = Status::Deployed;
            release.info.description = match pending {
                Status::PendingInstall => "Install complete".into(),
                Status::PendingUpgrade => "Upgrade complete".into(),
                _ => release.info.description.clone(),
            };
            // Superseded first, as Helm does: a failure in between never leaves two
            // revisions deployed.
            for old in history.iter().filter(|r| r.info.status == Status::Deployed) {
                let mut old = old.clone();
                // Helm keeps the description ("Install complete", ...).
                old.info.status = Status::Superseded;
                t.storage
                    .update(&old)
                    .await
                    .map_err(DeployError::NotStored)?;
            }
            t.storage
                .update(&release)
                .await
                .map_err(DeployError::NotStored)?;
            prune_history(t, release.version).await;
            Ok(release)
        }
        Err(message) => {
            release.info.status = Status::Failed;
            release.info.description = match pending {
                Status::PendingInstall => format!("Release {:?} failed: {message}", release.name),
                Status::PendingUpgrade => format!("Upgrade {:?} failed: {message}", release.name),
                _ => format!("Rollback {:?} failed: {message}", release.name),
            };
            t.storage
                .update(&release)
                .await
                .map_err(DeployError::NotStored)?;
            prune_history(t, release.version).await;
            Err(DeployError::Release(Box::new(release), message))
        }
    }
}

/// CRDs by policy, the manifests, prune of what the previous deployed revision had, health.
async fn apply_release(
    t: &Target<'_>,
    release: &Release,
    crds: Vec<Value>,
    crds_policy: CrdsPolicy,
    wait: bool,
    timeout: Duration,
    history: &[Release],
) -> Result<(), String> {
    let applier = &t.ctx.applier;
    let opts = ApplyOptions {
        force: false,
        wait_timeout: timeout,
    };
    let crds = match crds_policy {
        CrdsPolicy::Skip => Vec::new(),
        CrdsPolicy::CreateReplace => crds,
        CrdsPolicy::Create => {
            let mut absent = Vec::new();
            for crd in crds {
                let r = ObjectRef::of(&crd);
                let exists = match applier.api_for(&r).await {
                    Ok(api) => api
                        .get_opt(&r.name)
                        .await
                        .map_err(|e| format!("reading {r}: {e}"))?
                        .is_some(),
                    Err(e) => return Err(e.to_string()),
                };
                if !exists {
                    absent.push(crd);
                }
            }
            absent
        }
    };
    if !crds.is_empty() {
        applier
            .apply_all(&crds, &opts)
            .await
            .map_err(|e| format!("applying CRDs: {e}"))?;
    }
    let mut objects = manifest_objects(t, &release.manifest).await?;
    let owner = Owner::of(t.obj);
    applier.policy().stamp_owner(&mut objects, &owner);
    applier
        .apply_all(&objects, &opts)
        .await
        .map_err(|e| format!("apply failed: {e}"))?;
    let applied: BTreeSet<ObjectRef> = objects.iter().map(ObjectRef::of).collect();
    if let Some(previous) = weir_helm::release::last_deployed(history) {
        let old = manifest_objects(t, &previous.manifest).await?;
        // The same object under another API version is not stale: compare group, kind,
        // namespace and name only (as Helm does), or a version bump would delete it.
        let same = |a: &ObjectRef, b: &ObjectRef| {
            a.group == b.group && a.kind == b.kind && a.namespace == b.namespace && a.name == b.name
        };
        let stale: Vec<ObjectRef> = old
            .iter()
            .map(ObjectRef::of)
            .filter(|r| !applied.iter().any(|a| same(a, r)))
            .collect();
        let (_, failed) = applier.prune(&stale, &owner).await;
        if !failed.is_empty() {
            let list: Vec<String> = failed.iter().map(|(r, m)| format!("{r}: {m}")).collect();
            return Err(format!(
                "deleting objects of the previous release: {}",
                list.join("; ")
            ));
        }
    }
    if wait {
        let refs: Vec<ObjectRef> = applied.into_iter().collect();
        weir_shared::health::wait_healthy(applier, &refs, timeout)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The objects of a release manifest, namespaced ones defaulted to the release namespace.
async fn manifest_objects(t: &Target<'_>, manifest: &str) -> Result<Vec<Value>, String> {
    let mut objects = parse_docs("the release manifest", manifest)?;
    t.ctx
        .applier
        .default_namespace(&mut objects, &t.release_namespace)
        .await;
    Ok(objects)
}

/// The YAML documents of `text` (as Kubernetes reads manifests: YAML 1.1), empty ones skipped.
fn parse_docs(source: &str, text: &str) -> Result<Vec<Value>, String> {
    let docs = weir_yaml::from_str_yaml11_multi(text).map_err(|e| format!("{source}: {e}"))?;
    Ok(docs.into_iter().filter(Value::is_object).collect())
}

/// Deletes the revisions beyond `maxHistory`, never the deployed one nor `written` (the
/// revision this action just stored, whose outcome the status must be able to find).
/// Best effort: a revision left over costs a Secret, so failures are logged and retried by
/// the next action.
async fn prune_history(t: &Target<'_>, written: i64) {
    let max = usize::try_from(t.obj.spec.max_history()).unwrap_or(0);
    if max == 0 {
        return;
    }
    let all = match t.storage.history(&t.release_name).await {
        Ok(all) => all,
        Err(e) => {
            tracing::warn!(error = %e.message, release = %t.release_name, "reading history to prune");
            return;
        }
    };
    for version in history_to_prune(&all, max + 1)
        .into_iter()
        .filter(|v| *v != written)
    {
        if let Err(e) = t.storage.delete(&t.release_name, version).await {
            tracing::warn!(error = %e.message, release = %t.release_name, version, "pruning release history");
        }
    }
}

/// Marks a pending latest revision failed so that it can be acted on.
async fn unlock(t: &Target<'_>, history: &[Release]) -> Result<(), ReconcileError> {
    let Some(latest) = weir_helm::release::latest(history) else {
        return Ok(());
    };
    let mut release = latest.clone();
    let was = release.info.status;
    release.info.status = Status::Failed;
    release.info.description = format!("Release unlocked from stale '{was}' state");
    t.storage.update(&release).await?;
    publish(
        t,
        Severity::Info,
        hreasons::RECONCILIATION_SUCCEEDED,
        &format!(
            "Unlocked Helm release {}.v{} from stale '{was}' state",
            full_name(t),
            release.version
        ),
    )
    .await;
    Ok(())
}

/// Uninstalls: deletes the objects of the latest revision, then its history (or, with
/// `uninstall.keepHistory`, marks the latest revision `uninstalled`).
async fn uninstall(t: &Target<'_>, history: &[Release]) -> Result<(), ReconcileError> {
    let failed = |m: String| ReconcileError::transient(hreasons::UNINSTALL_FAILED, m);
    let Some(latest) = weir_helm::release::latest(history) else {
        return Ok(());
    };
    let objects = manifest_objects(t, &latest.manifest)
        .await
        .map_err(failed)?;
    let refs: Vec<ObjectRef> = objects.iter().map(ObjectRef::of).collect();
    let (_, not_deleted) = t.ctx.applier.prune(&refs, &Owner::of(t.obj)).await;
    if !not_deleted.is_empty() {
        let list: Vec<String> = not_deleted
            .iter()
            .map(|(r, m)| format!("{r}: {m}"))
            .collect();
        return Err(failed(format!(
            "uninstall: deleting objects failed: {}",
            list.join("; ")
        )));
    }
    if t.obj.spec.uninstall_config().keep_history {
        let mut release = latest.clone();
        release.info.status = Status::Uninstalled;
        release.info.description = "Uninstallation complete".into();
        release.info.deleted = Some(Timestamp::now());
        t.storage.update(&release).await?;
    } else {
        for r in history {
            t.storage.delete(&t.release_name, r.version).await?;
        }
    }
    publish(
        t,
        Severity::Info,
        hreasons::UNINSTALL_SUCCEEDED,
        &format!("Helm uninstall succeeded for release {}", full_name(t)),
    )
    .await;
    Ok(())
}

/// On deletion of the HelmRelease: uninstalls the release this HelmRelease made (its
/// history says so), whatever its chart is now.
///
/// # Errors
/// Storage and API failures (the finalizer stays; deletion is retried).
pub async fn uninstall_on_delete(
    obj: &HelmRelease,
    ctx: &Context,
    storage: &Storage,
) -> Result<(), ReconcileError> {
    // Only a release this object recorded, by the name and namespace it recorded.
    let Some(snapshot) = obj.status.as_ref().and_then(|s| s.history.first()) else {
        return Ok(());
    };
    let (release_name, release_namespace) = (snapshot.name.clone(), snapshot.namespace.clone());
    let history = storage.history(&release_name).await?;
    let t = Target {
        obj,
        ctx,
        storage,
        chart: Chart::default(),
        values: Values::new(),
        config_digest: String::new(),
        release_name,
        release_namespace,
    };
    uninstall(&t, &history).await
}

/// One event about the release, with the chart version in its metadata.
async fn publish(t: &Target<'_>, severity: Severity, reason: &str, message: &str) {
    let version = Some(t.chart.metadata.version.as_str()).filter(|v| !v.is_empty());
    let mut metadata = crate::controller::revision_meta(version);
    if !t.config_digest.is_empty() {
        metadata.insert(format!("{GROUP}/token"), t.config_digest.clone());
    }
    t.ctx
        .runtime
        .recorder
        .publish(&t.obj.object_ref(&()), severity, reason, message, metadata)
        .await;
}
