//! The next step of a HelmRelease reconcile, decided from the [`ReleaseState`], the spec-derived
//! [`Policy`] and the status [`Counters`], with no I/O.
//!
//! This mirrors Flux helm-controller v2's `AtomicRelease` (`internal/reconcile/atomic_release.go`):
//! its `actionForState` switch, the per-pass rule that each kind of action runs at most once
//! and that a remediation ends the pass (`cleanReleaseStrategy`), the `RetryOnFailure` strategy
//! (`GetActiveRetry`, `ErrRetryAfterInterval`), and the remediation retry accounting of the
//! `InstallRemediation`/`UpgradeRemediation` API types. It also folds in the failure-counter
//! reset Flux makes before the pass (`action.MustResetFailures`) and the `forceAt`/`resetAt`
//! request handling (`handleRequest` in `api/v2/annotations.go`).
//!
//! The controller drives a pass as a loop: compute the state, call [`next_action`], run the
//! action, append its [`ActionKind`] to [`Counters::ran_this_pass`], repeat until the action is
//! one that ends the pass ([`Action::ends_pass`]).

use std::time::Duration;

use crate::state::{ReleaseState, RollbackTarget, TestExpectation};

/// Flux's default `.spec.{install,upgrade}.strategy.retryInterval`.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The release action whose configuration is active: Flux's `.status.lastAttemptedReleaseAction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseAction {
    Install,
    Upgrade,
}

impl ReleaseAction {
    /// The spelling Flux uses in status and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Install => "install",
            Self::Upgrade => "upgrade",
        }
    }
}

/// `.spec.{install,upgrade}.strategy`: what a failed release action leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Remediate (uninstall or roll back) as the `remediation` settings say, then retry while
    /// retries remain.
    #[default]
    RemediateOnFailure,
    /// Never remediate; retry the release as an upgrade every `retry_interval`
    /// (default [`DEFAULT_RETRY_INTERVAL`]), without limit.
    RetryOnFailure { retry_interval: Option<Duration> },
}

/// `.spec.{install,upgrade}.remediation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Remediation {
    /// Attempts allowed after the first failure; negative means unlimited. Default 0.
    pub retries: i32,
    /// Overrides `.spec.test.ignoreFailures` for tests run after this action.
    pub ignore_test_failures: Option<bool>,
    /// Whether to remediate the failure that used up the last retry. Unset defaults to `false`
    /// for install, and for upgrade to `retries > 0`.
    pub remediate_last_failure: Option<bool>,
}

/// `.spec.upgrade.remediation.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RemediationStrategy {
    #[default]
    Rollback,
    /// Uninstall; the next pass installs again.
    Uninstall,
}

/// `.spec.install`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InstallPolicy {
    pub strategy: Strategy,
    /// Install failures are always remediated by uninstalling.
    pub remediation: Remediation,
}

/// `.spec.upgrade`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpgradePolicy {
    pub strategy: Strategy,
    pub remediation: Remediation,
    pub remediation_strategy: RemediationStrategy,
    /// `.spec.upgrade.force`: Helm's `--force`, replacing resources instead of patching them.
    /// Unrelated to the `forceAt` request.
    pub force_replace: bool,
}

/// `.spec.test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TestPolicy {
    pub enable: bool,
    pub ignore_failures: bool,
}

/// `.spec.driftDetection.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DriftMode {
    #[default]
    Disabled,
    /// Detect and report drift, never correct it.
    Warn,
    /// Detect, report and correct drift.
    Enabled,
}

impl DriftMode {
    /// Whether the cluster is compared with the stored manifest at all.
    pub fn detects(self) -> bool {
        matches!(self, Self::Warn | Self::Enabled)
    }
}

/// What a release action in this reconcile is made from; Flux records it as
/// `.status.lastAttempted{Generation,Revision,ConfigDigest}` before the pass, and a difference
/// from the recorded one resets the failure counters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attempt {
    pub generation: i64,
    /// The chart version including any `+<digest>` suffix.
    pub chart_version: String,
    pub config_digest: String,
}

/// Request tokens from the HelmRelease's annotations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Requests {
    /// `reconcile.fluxcd.io/requestedAt`.
    pub reconcile_at: Option<String>,
    /// `reconcile.fluxcd.io/forceAt`.
    pub force_at: Option<String>,
    /// `reconcile.fluxcd.io/resetAt`.
    pub reset_at: Option<String>,
}

/// The request tokens already acted on: `.status.lastHandled{Reconcile,Force,Reset}At`.
///
/// As in Flux, the controller records a present `forceAt`/`resetAt` token as handled in every
/// reconcile, whether or not it was acted on, and `requestedAt` at the end of the reconcile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HandledRequests {
    pub reconcile_at: Option<String>,
    pub force_at: Option<String>,
    pub reset_at: Option<String>,
}

/// The HelmRelease spec and annotations, as far as decisions depend on them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    pub install: InstallPolicy,
    pub upgrade: UpgradePolicy,
    pub test: TestPolicy,
    pub drift_detection: DriftMode,
    pub attempt: Attempt,
    pub requests: Requests,
}

impl Policy {
    /// How the latest release's tests count for [`crate::state::state`], given the active
    /// action: Flux lets a failed test fail the release only through an active remediation
    /// that does not ignore test failures.
    pub fn test_expectation(&self, last_attempted: Option<ReleaseAction>) -> TestExpectation {
        let remediation = match last_attempted {
            None => None,
            Some(ReleaseAction::Install) => Some(&self.install.remediation),
            Some(ReleaseAction::Upgrade) => Some(&self.upgrade.remediation),
        };
        TestExpectation {
            enabled: self.test.enable,
            ignore_failures: remediation.is_none_or(|remediation| {
                remediation
                    .ignore_test_failures
                    .unwrap_or(self.test.ignore_failures)
            }),
        }
    }
}

/// The kinds of action a pass runs at most once each (Flux's `ReconcilerType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// Install or upgrade.
    Release,
    Test,
    /// Rollback or uninstall after a failure.
    Remediation,
    Unlock,
    DriftCorrection,
}

/// The HelmRelease status fields decisions depend on, plus what ran earlier in this pass.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Counters {
    /// `.status.installFailures`: failed installs that wrote a release.
    pub install_failures: u32,
    /// `.status.upgradeFailures`: failed upgrades that wrote a release.
    pub upgrade_failures: u32,
    /// `.status.failures`: every failure; reported only, it drives no decision, but it is
    /// reset with the others.
    pub failures: u32,
    /// `.status.lastAttemptedReleaseAction`: whose remediation (or retry) settings apply to
    /// the latest failure, including a failed test after that action.
    pub last_attempted_action: Option<ReleaseAction>,
    /// `.status.lastAttempted{Generation,Revision,ConfigDigest}`.
    pub last_attempt: Attempt,
    pub handled: HandledRequests,
    /// The kinds of action already run in this reconcile pass (not persisted).
    pub ran_this_pass: Vec<ActionKind>,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Install,
    Upgrade {
        /// Helm's `--force`, from `.spec.upgrade.force`.
        force_replace: bool,
    },
    Test,
    /// Roll back to this release version (remediation).
    Rollback {
        to_version: u32,
    },
    /// Uninstall the release (remediation).
    Uninstall,
    /// Mark the pending latest release failed so it can be acted on.
    Unlock,
    /// Re-apply the stored manifest over the drifted objects.
    CorrectDrift,
    /// The pass is complete; requeue at `.spec.interval`.
    Nothing,
    /// End the pass and start a new one right away (Flux's `ErrMustRequeue`), so the release
    /// is retried after a remediation with the status persisted in between.
    Requeue,
    /// End the pass and start a new one after `after` (the `RetryOnFailure` strategy).
    RetryLater {
        after: Duration,
    },
    /// Give up until the spec, chart or values change or a `forceAt`/`resetAt` request comes.
    Stall {
        reason: StallReason,
        message: String,
    },
    /// The state could not be determined; report it and retry with the error backoff.
    RetryWithBackoff {
        message: String,
    },
}

impl Action {
    /// The kind to append to [`Counters::ran_this_pass`] once this action ran; `None` for the
    /// outcomes that run nothing.
    pub fn kind(&self) -> Option<ActionKind> {
        match self {
            Self::Install | Self::Upgrade { .. } => Some(ActionKind::Release),
            Self::Test => Some(ActionKind::Test),
            Self::Rollback { .. } | Self::Uninstall => Some(ActionKind::Remediation),
            Self::Unlock => Some(ActionKind::Unlock),
            Self::CorrectDrift => Some(ActionKind::DriftCorrection),
            Self::Nothing
            | Self::Requeue
            | Self::RetryLater { .. }
            | Self::Stall { .. }
            | Self::RetryWithBackoff { .. } => None,
        }
    }

    /// Whether the pass ends here (nothing to run).
    pub fn ends_pass(&self) -> bool {
        self.kind().is_none()
    }
}

/// Why a HelmRelease stalls; the strings are Flux's `Stalled` condition reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StallReason {
    RetriesExceeded,
    MissingRollbackTarget,
}

impl StallReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RetriesExceeded => "RetriesExceeded",
            Self::MissingRollbackTarget => "MissingRollbackTarget",
        }
    }
}

/// Why the failure counters were reset, in the order Flux checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetReason {
    GenerationChanged,
    ChartChanged,
    ValuesChanged,
    ResetRequested,
}

impl ResetReason {
    /// Flux's wording, for the log.
    pub fn message(self) -> &'static str {
        match self {
            Self::GenerationChanged => "generation differs from last attempt",
            Self::ChartChanged => "chart version differs from last attempt",
            Self::ValuesChanged => "values differ from last attempt",
            Self::ResetRequested => "reset requested through annotation",
        }
    }
}

/// The next action, and whether the failure counters were zeroed to decide it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    /// When set, the controller zeroes `installFailures`, `upgradeFailures` and `failures`
    /// before running the action; the decision was already made with them zeroed.
    pub reset_failures: Option<ResetReason>,
}

/// The next step of the pass for `state`.
///
/// The counter reset and a `forceAt` request only apply to the first decision of a pass, as in
/// Flux, where the reset happens once before the pass and the force request is marked handled
/// the first time the next action is chosen.
pub fn next_action(state: &ReleaseState, policy: &Policy, counters: &Counters) -> Decision {
    let first_of_pass = counters.ran_this_pass.is_empty();
    let reset_failures = if first_of_pass {
        reset_reason(policy, counters)
    } else {
        None
    };
    let failures = if reset_failures.is_some() {
        FailureCounts::default()
    } else {
        FailureCounts {
            install: counters.install_failures,
            upgrade: counters.upgrade_failures,
        }
    };
    let context = Context {
        policy,
        failures,
        active: counters
            .last_attempted_action
            .map(|action| ActiveSettings::of(action, policy, failures)),
        force_requested: first_of_pass && force_pending(policy, counters),
    };
    let ran = |kind| counters.ran_this_pass.contains(&kind);

    // A remediation ends the pass, so the next attempt starts from a persisted status.
    let action = if ran(ActionKind::Remediation) {
        context.after_remediation()
    } else {
        let action = context.action_for_state(state);
        match action.kind() {
            Some(kind) if ran(kind) => context.after_repeat(),
            _ => action,
        }
    };
    Decision {
        action,
        reset_failures,
    }
}

/// Flux's `MustResetFailures`: the data of the last attempt changed, or a reset was requested.
fn reset_reason(policy: &Policy, counters: &Counters) -> Option<ResetReason> {
    let (last, now) = (&counters.last_attempt, &policy.attempt);
    if last.generation != now.generation {
        Some(ResetReason::GenerationChanged)
    } else if last.chart_version != now.chart_version {
        Some(ResetReason::ChartChanged)
    } else if !last.config_digest.is_empty() && last.config_digest != now.config_digest {
        // An empty digest was never recorded (e.g. a status from before digests existed).
        Some(ResetReason::ValuesChanged)
    } else if request_pending(
        policy.requests.reset_at.as_deref(),
        counters.handled.reset_at.as_deref(),
        policy,
        counters,
    ) {
        Some(ResetReason::ResetRequested)
    } else {
        None
    }
}

fn force_pending(policy: &Policy, counters: &Counters) -> bool {
    request_pending(
        policy.requests.force_at.as_deref(),
        counters.handled.force_at.as_deref(),
        policy,
        counters,
    )
}

/// Flux's `handleRequest`: a request counts once, and only together with a reconcile request
/// carrying the same token that is itself not yet handled.
fn request_pending(
    request: Option<&str>,
    handled: Option<&str>,
    policy: &Policy,
    counters: &Counters,
) -> bool {
    let reconcile = policy.requests.reconcile_at.as_deref();
    request.is_some()
        && request == reconcile
        && counters.handled.reconcile_at.as_deref() != reconcile
        && handled != request
}

/// The failure counters after any reset.
#[derive(Debug, Clone, Copy, Default)]
struct FailureCounts {
    install: u32,
    upgrade: u32,
}

/// The settings of one release action, resolved with Flux's defaults.
#[derive(Debug, Clone, Copy)]
struct ActiveSettings {
    action: ReleaseAction,
    failures: u32,
    retries: i32,
    remediate_last_failure: bool,
    remediation_strategy: RemediationStrategy,
    /// `Some` when the action's strategy is `RetryOnFailure`.
    retry_interval: Option<Duration>,
}

impl ActiveSettings {
    fn of(action: ReleaseAction, policy: &Policy, failures: FailureCounts) -> Self {
        let (strategy, remediation, failures, default_remediate_last, remediation_strategy) =
            match action {
                ReleaseAction::Install => (
                    policy.install.strategy,
                    policy.install.remediation,
                    failures.install,
                    false,
                    RemediationStrategy::Uninstall,
                ),
                ReleaseAction::Upgrade => (
                    policy.upgrade.strategy,
                    policy.upgrade.remediation,
                    failures.upgrade,
                    policy.upgrade.remediation.retries > 0,
                    policy.upgrade.remediation_strategy,
                ),
            };
        Self {
            action,
            failures,
            retries: remediation.retries,
            remediate_last_failure: remediation
                .remediate_last_failure
                .unwrap_or(default_remediate_last),
            remediation_strategy,
            retry_interval: match strategy {
                Strategy::RemediateOnFailure => None,
                Strategy::RetryOnFailure { retry_interval } => {
                    Some(retry_interval.unwrap_or(DEFAULT_RETRY_INTERVAL))
                }
            },
        }
    }

    /// Flux's `RetriesExhausted`: more failures than retries, unless retries are unlimited.
    fn retries_exhausted(&self) -> bool {
        u32::try_from(self.retries).is_ok_and(|retries| self.failures > retries)
    }

    fn retries_exceeded(&self) -> Action {
        Action::Stall {
            reason: StallReason::RetriesExceeded,
            message: format!(
                "Failed to {} after {} attempt(s)",
                self.action.as_str(),
                self.failures
            ),
        }
    }
}

/// What one decision reads, resolved.
struct Context<'a> {
    policy: &'a Policy,
    failures: FailureCounts,
    /// The settings of the last attempted release action (Flux's active remediation/retry).
    active: Option<ActiveSettings>,
    force_requested: bool,
}

impl Context<'_> {
    fn upgrade(&self) -> Action {
        Action::Upgrade {
            force_replace: self.policy.upgrade.force_replace,
        }
    }

    fn settings(&self, action: ReleaseAction) -> ActiveSettings {
        ActiveSettings::of(action, self.policy, self.failures)
    }

    /// Flux's `actionForState`.
    fn action_for_state(&self, state: &ReleaseState) -> Action {
        match state {
            ReleaseState::InSync if self.force_requested => self.upgrade(),
            ReleaseState::InSync => Action::Nothing,
            ReleaseState::Locked(_) => Action::Unlock,
            // Absent and OutOfSync consult the install and upgrade remediation retries
            // whatever the strategy, as Flux does.
            ReleaseState::Absent(_) => {
                let install = self.settings(ReleaseAction::Install);
                if install.retries_exhausted() && !self.force_requested {
                    install.retries_exceeded()
                } else {
                    Action::Install
                }
            }
            // The history is no evidence of anything: upgrade, with no retry accounting.
            ReleaseState::Unmanaged(_) => self.upgrade(),
            ReleaseState::OutOfSync(_) => {
                let upgrade = self.settings(ReleaseAction::Upgrade);
                if upgrade.retries_exhausted() && !self.force_requested {
                    upgrade.retries_exceeded()
                } else {
                    self.upgrade()
                }
            }
            // Warn mode only reports the drift, which the state already carries.
            ReleaseState::Drifted => match self.policy.drift_detection {
                DriftMode::Enabled => Action::CorrectDrift,
                DriftMode::Warn | DriftMode::Disabled => Action::Nothing,
            },
            ReleaseState::Untested => Action::Test,
            ReleaseState::Failed {
                rollback_target, ..
            } => self.failed(*rollback_target),
            ReleaseState::Unknown(status) => Action::RetryWithBackoff {
                message: format!(
                    "unable to determine state for release with status '{}'",
                    status.as_str()
                ),
            },
        }
    }

    /// The `ReleaseStatusFailed` branch of `actionForState`.
    fn failed(&self, rollback_target: RollbackTarget) -> Action {
        let Some(active) = self.active else {
            // No release action recorded: there are no remediation settings to apply, so
            // all that can be tried is an upgrade.
            return self.upgrade();
        };
        if active.retry_interval.is_some() {
            return self.upgrade();
        }
        // No failures counted: the conditions of the failure changed (the counters were
        // reset), so the release is attempted again rather than remediated.
        if active.failures == 0 || self.force_requested {
            return self.upgrade();
        }
        if active.retries_exhausted() && !active.remediate_last_failure {
            return active.retries_exceeded();
        }
        match active.remediation_strategy {
            RemediationStrategy::Uninstall => Action::Uninstall,
            RemediationStrategy::Rollback => match rollback_target {
                RollbackTarget::Version(to_version) => Action::Rollback { to_version },
                RollbackTarget::Missing => Action::Stall {
                    reason: StallReason::MissingRollbackTarget,
                    message: "Failed to perform remediation: missing target release for \
                              rollback: cannot remediate failed release"
                        .to_owned(),
                },
                // A corrupt target is not worth rolling back to; retry the upgrade instead.
                RollbackTarget::Unusable => self.upgrade(),
            },
        }
    }

    /// After a remediation: requeue to retry, unless no retries remain (Flux's `MustStop`
    /// branch). An uninstall after a failed upgrade always requeues, because the retries that
    /// now apply are the install's.
    fn after_remediation(&self) -> Action {
        match self.active {
            Some(ActiveSettings {
                retry_interval: Some(after),
                ..
            }) => Action::RetryLater { after },
            Some(active)
                if active.retries_exhausted()
                    && !(active.action == ReleaseAction::Upgrade
                        && active.remediation_strategy == RemediationStrategy::Uninstall) =>
            {
                active.retries_exceeded()
            }
            Some(_) | None => Action::Requeue,
        }
    }

    /// When the chosen action's kind already ran this pass (Flux's `MustContinue` is false):
    /// wait for the retry interval, requeue while retries remain, or stop.
    fn after_repeat(&self) -> Action {
        match self.active {
            Some(ActiveSettings {
                retry_interval: Some(after),
                ..
            }) => Action::RetryLater { after },
            Some(active) if active.retries_exhausted() => Action::Nothing,
            Some(_) | None => Action::Requeue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{
        AbsentReason, FailureCause, OutOfSyncReason, StorageStatus, UnmanagedReason,
    };

    const MINUTE: Duration = Duration::from_secs(60);
    const TOKEN: &str = "1700000000";

    fn absent() -> ReleaseState {
        ReleaseState::Absent(AbsentReason::NoRelease)
    }
    fn uninstalled() -> ReleaseState {
        ReleaseState::Absent(AbsentReason::Uninstalled)
    }
    fn unmanaged() -> ReleaseState {
        ReleaseState::Unmanaged(UnmanagedReason::NoHistory)
    }
    fn not_observed() -> ReleaseState {
        ReleaseState::Unmanaged(UnmanagedReason::NotObserved)
    }
    fn chart_changed() -> ReleaseState {
        ReleaseState::OutOfSync(OutOfSyncReason::ChartChanged)
    }
    fn values_changed() -> ReleaseState {
        ReleaseState::OutOfSync(OutOfSyncReason::ValuesChanged)
    }
    fn post_renderers_changed() -> ReleaseState {
        ReleaseState::OutOfSync(OutOfSyncReason::PostRenderersChanged)
    }
    fn locked(status: StorageStatus) -> ReleaseState {
        ReleaseState::Locked(status)
    }
    fn failed(rollback_target: RollbackTarget) -> ReleaseState {
        ReleaseState::Failed {
            cause: FailureCause::ReleaseFailed,
            rollback_target,
        }
    }
    fn failed_to_v1() -> ReleaseState {
        failed(RollbackTarget::Version(1))
    }
    fn tests_failed() -> ReleaseState {
        ReleaseState::Failed {
            cause: FailureCause::TestsFailed,
            rollback_target: RollbackTarget::Version(1),
        }
    }
    fn unknown() -> ReleaseState {
        ReleaseState::Unknown(StorageStatus::Superseded)
    }

    fn upgrade() -> Action {
        Action::Upgrade {
            force_replace: false,
        }
    }
    fn rollback_to_v1() -> Action {
        Action::Rollback { to_version: 1 }
    }
    fn retry_later(after: Duration) -> Action {
        Action::RetryLater { after }
    }
    fn stall(action: &str, attempts: u32) -> Action {
        Action::Stall {
            reason: StallReason::RetriesExceeded,
            message: format!("Failed to {action} after {attempts} attempt(s)"),
        }
    }
    fn missing_target() -> Action {
        Action::Stall {
            reason: StallReason::MissingRollbackTarget,
            message: "Failed to perform remediation: missing target release for rollback: \
                      cannot remediate failed release"
                .to_owned(),
        }
    }

    // Policy and counter adjustments, composable in one table line.
    type Adjust = fn(&mut Policy, &mut Counters);
    fn none(_: &mut Policy, _: &mut Counters) {}
    fn after_install(_: &mut Policy, c: &mut Counters) {
        c.last_attempted_action = Some(ReleaseAction::Install);
    }
    fn after_upgrade(_: &mut Policy, c: &mut Counters) {
        c.last_attempted_action = Some(ReleaseAction::Upgrade);
    }
    fn install_retry(p: &mut Policy, _: &mut Counters) {
        p.install.strategy = Strategy::RetryOnFailure {
            retry_interval: None,
        };
    }
    fn upgrade_retry_2m(p: &mut Policy, _: &mut Counters) {
        p.upgrade.strategy = Strategy::RetryOnFailure {
            retry_interval: Some(2 * MINUTE),
        };
    }
    fn force_at(p: &mut Policy, _: &mut Counters) {
        p.requests.reconcile_at = Some(TOKEN.into());
        p.requests.force_at = Some(TOKEN.into());
    }
    fn reset_at(p: &mut Policy, _: &mut Counters) {
        p.requests.reconcile_at = Some(TOKEN.into());
        p.requests.reset_at = Some(TOKEN.into());
    }

    struct Case {
        state: ReleaseState,
        adjust: Vec<Adjust>,
        expect: Decision,
        flux_rule: &'static str,
    }

    fn case(
        state: ReleaseState,
        adjust: Vec<Adjust>,
        action: Action,
        flux_rule: &'static str,
    ) -> Case {
        Case {
            state,
            adjust,
            expect: Decision {
                action,
                reset_failures: None,
            },
            flux_rule,
        }
    }

    fn reset_case(
        state: ReleaseState,
        adjust: Vec<Adjust>,
        action: Action,
        reason: ResetReason,
        flux_rule: &'static str,
    ) -> Case {
        Case {
            state,
            adjust,
            expect: Decision {
                action,
                reset_failures: Some(reason),
            },
            flux_rule,
        }
    }

    fn decide(state: &ReleaseState, adjust: &[Adjust]) -> Decision {
        let (mut policy, mut counters) = (Policy::default(), Counters::default());
        for change in adjust {
            change(&mut policy, &mut counters);
        }
        next_action(state, &policy, &counters)
    }

    /// Every state against the policy and counter combinations that change its outcome. Each
    /// line names the Flux rule it checks (atomic_release.go unless said otherwise).
    #[rustfmt::skip]
    #[test]
    fn decision_table() {
        use ReleaseState::{Drifted, InSync, Untested};
        use StorageStatus::{PendingInstall, PendingRollback, PendingUpgrade};
        let cases = vec![
            // ── InSync ──
            case(InSync, vec![none], Action::Nothing, "InSync: no next action"),
            case(InSync, vec![after_upgrade, |_, c| c.upgrade_failures = 9], Action::Nothing, "InSync: counters do not matter"),
            case(InSync, vec![force_at], upgrade(), "InSync + ShouldHandleForceRequest → forced upgrade"),
            case(InSync, vec![force_at, |p, _| p.upgrade.force_replace = true], Action::Upgrade { force_replace: true }, "Upgrade carries .spec.upgrade.force"),
            case(InSync, vec![force_at, |_, c| c.handled.force_at = Some(TOKEN.into())], Action::Nothing, "handleRequest: forceAt already handled"),
            case(InSync, vec![force_at, |_, c| c.handled.reconcile_at = Some(TOKEN.into())], Action::Nothing, "handleRequest: requestedAt already handled"),
            case(InSync, vec![force_at, |p, _| p.requests.reconcile_at = Some("other".into())], Action::Nothing, "handleRequest: forceAt must equal requestedAt"),
            case(InSync, vec![force_at, |_, c| c.ran_this_pass = vec![ActionKind::Release]], Action::Nothing, "force is consumed by the first actionForState of the pass"),
            // ── Locked ──
            case(locked(PendingInstall), vec![none], Action::Unlock, "Locked → Unlock"),
            case(locked(PendingUpgrade), vec![after_upgrade, |_, c| c.upgrade_failures = 9], Action::Unlock, "Locked → Unlock regardless of retries"),
            case(locked(PendingRollback), vec![force_at], Action::Unlock, "Locked → Unlock even when forced (the force is spent)"),
            case(locked(PendingUpgrade), vec![|_, c| c.ran_this_pass = vec![ActionKind::Unlock]], Action::Requeue, "MustContinue false (unlock ran), no active remediation → ErrMustRequeue"),
            // ── Absent ──
            case(absent(), vec![none], Action::Install, "Absent, install retries not exhausted → Install"),
            case(uninstalled(), vec![none], Action::Install, "Absent (uninstalled in storage) → Install"),
            case(absent(), vec![after_install, |_, c| c.install_failures = 1], stall("install", 1), "Absent: retries 0, 1 failure → RetriesExhausted → Stalled RetriesExceeded"),
            case(absent(), vec![after_install, |p, c| { p.install.remediation.retries = 2; c.install_failures = 2; }], Action::Install, "RetriesExhausted is failures > retries: 2 of 2 still installs"),
            case(absent(), vec![after_install, |p, c| { p.install.remediation.retries = 2; c.install_failures = 3; }], stall("install", 3), "Absent: 3 > 2 retries → Stalled"),
            case(absent(), vec![after_install, |p, c| { p.install.remediation.retries = -1; c.install_failures = 1000; }], Action::Install, "negative retries never exhaust"),
            case(absent(), vec![after_install, force_at, |_, c| c.install_failures = 1], Action::Install, "Absent + force → install while out of retries"),
            case(absent(), vec![after_install, install_retry, |_, c| c.install_failures = 1], stall("install", 1), "Absent consults install remediation even under RetryOnFailure (Flux code)"),
            case(absent(), vec![after_upgrade, |p, c| { p.upgrade.remediation_strategy = RemediationStrategy::Uninstall; c.upgrade_failures = 5; }], Action::Install, "after an upgrade's uninstall remediation, install retries apply"),
            case(absent(), vec![|_, c| c.install_failures = 1], stall("install", 1), "Absent checks the install retries even with no recorded action"),
            case(absent(), vec![after_install, |_, c| { c.install_failures = 1; c.ran_this_pass = vec![ActionKind::Remediation]; }], stall("install", 1), "MustStop after uninstall remediation with retries exhausted → Stalled"),
            // ── Unmanaged ──
            case(unmanaged(), vec![none], upgrade(), "Unmanaged → clear history, Upgrade"),
            case(not_observed(), vec![after_upgrade, |_, c| c.upgrade_failures = 9], upgrade(), "Unmanaged → Upgrade without retry accounting"),
            case(unmanaged(), vec![|_, c| c.ran_this_pass = vec![ActionKind::Release]], Action::Requeue, "MustContinue false after a release, no active remediation → ErrMustRequeue"),
            // ── OutOfSync ──
            case(chart_changed(), vec![none], upgrade(), "OutOfSync (chart) → Upgrade"),
            case(values_changed(), vec![none], upgrade(), "OutOfSync (values) → Upgrade"),
            case(post_renderers_changed(), vec![none], upgrade(), "OutOfSync (post-renderers) → Upgrade"),
            case(chart_changed(), vec![after_upgrade, |_, c| c.upgrade_failures = 1], stall("upgrade", 1), "OutOfSync: upgrade RetriesExhausted → Stalled"),
            case(chart_changed(), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = 3; c.upgrade_failures = 3; }], upgrade(), "OutOfSync: 3 of 3 retries → Upgrade"),
            case(chart_changed(), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = -1; c.upgrade_failures = 50; }], upgrade(), "negative retries never exhaust"),
            case(chart_changed(), vec![after_upgrade, force_at, |_, c| c.upgrade_failures = 1], upgrade(), "OutOfSync + force → upgrade while out of retries"),
            case(chart_changed(), vec![after_install, |_, c| c.upgrade_failures = 1], stall("upgrade", 1), "OutOfSync checks the upgrade retries whatever the active action; the message names them"),
            case(chart_changed(), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = 2; c.upgrade_failures = 1; c.ran_this_pass = vec![ActionKind::Remediation]; }], Action::Requeue, "MustStop after rollback, retries remain → ErrMustRequeue"),
            case(chart_changed(), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = 2; c.upgrade_failures = 3; c.ran_this_pass = vec![ActionKind::Remediation]; }], stall("upgrade", 3), "MustStop after the last remediation → Stalled RetriesExceeded"),
            // ── Drifted ──
            case(Drifted, vec![|p, _| p.drift_detection = DriftMode::Enabled], Action::CorrectDrift, "Drifted, mode enabled → CorrectClusterDrift"),
            case(Drifted, vec![|p, _| p.drift_detection = DriftMode::Warn], Action::Nothing, "Drifted, mode warn → event and condition only"),
            case(Drifted, vec![|p, _| p.drift_detection = DriftMode::Enabled, force_at], Action::CorrectDrift, "Drifted ignores force (Flux code)"),
            case(Drifted, vec![after_install, |p, c| { p.drift_detection = DriftMode::Enabled; c.ran_this_pass = vec![ActionKind::DriftCorrection]; }], Action::Requeue, "drift persists after correction, retries remain → ErrMustRequeue"),
            case(Drifted, vec![after_install, |p, c| { p.drift_detection = DriftMode::Enabled; c.install_failures = 1; c.ran_this_pass = vec![ActionKind::DriftCorrection]; }], Action::Nothing, "drift persists after correction, retries exhausted → done"),
            case(Drifted, vec![after_upgrade, upgrade_retry_2m, |p, c| { p.drift_detection = DriftMode::Enabled; c.ran_this_pass = vec![ActionKind::DriftCorrection]; }], retry_later(2 * MINUTE), "drift persists after correction under RetryOnFailure → retry after interval"),
            // ── Untested ──
            case(Untested, vec![after_install], Action::Test, "Untested → Test"),
            case(Untested, vec![after_install, force_at], Action::Test, "Untested ignores force (Flux code)"),
            case(Untested, vec![after_install, |_, c| c.ran_this_pass = vec![ActionKind::Release, ActionKind::Test]], Action::Requeue, "test ran but recorded nothing, retries remain → ErrMustRequeue"),
            // ── Failed: RemediateOnFailure, install ──
            case(failed_to_v1(), vec![none], upgrade(), "Failed, no active remediation → Upgrade"),
            case(failed_to_v1(), vec![after_install], upgrade(), "Failed, failure count 0 (conditions changed) → Upgrade"),
            case(failed_to_v1(), vec![after_install, |p, c| { p.install.remediation.retries = 2; c.install_failures = 1; }], Action::Uninstall, "install failure with retries left → uninstall remediation"),
            case(failed_to_v1(), vec![after_install, |_, c| c.install_failures = 1], stall("install", 1), "install retries 0, remediateLastFailure default false → Stalled"),
            case(failed_to_v1(), vec![after_install, |p, c| { p.install.remediation.remediate_last_failure = Some(true); c.install_failures = 1; }], Action::Uninstall, "install remediateLastFailure true → uninstall the last failure"),
            case(failed_to_v1(), vec![after_install, |p, c| { p.install.remediation.retries = 2; c.install_failures = 3; }], stall("install", 3), "install default remediateLastFailure is false even with retries > 0"),
            case(failed_to_v1(), vec![after_install, force_at, |_, c| c.install_failures = 1], upgrade(), "Failed + force → upgrade without further checks"),
            case(failed_to_v1(), vec![after_install, |p, c| { p.install.remediation.retries = -1; c.install_failures = 7; }], Action::Uninstall, "install retries -1 → always remediate and retry"),
            // ── Failed: RemediateOnFailure, upgrade ──
            case(failed_to_v1(), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = 1; c.upgrade_failures = 1; }], rollback_to_v1(), "upgrade failure with retries left → rollback (default strategy)"),
            case(failed_to_v1(), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = 1; p.upgrade.remediation_strategy = RemediationStrategy::Uninstall; c.upgrade_failures = 1; }], Action::Uninstall, "upgrade remediation strategy uninstall"),
            case(failed_to_v1(), vec![after_upgrade, |_, c| c.upgrade_failures = 1], stall("upgrade", 1), "upgrade retries 0 → remediateLastFailure defaults false → Stalled"),
            case(failed_to_v1(), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = 2; c.upgrade_failures = 3; }], rollback_to_v1(), "upgrade retries > 0 → remediateLastFailure defaults true"),
            case(failed_to_v1(), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = 2; p.upgrade.remediation.remediate_last_failure = Some(false); c.upgrade_failures = 3; }], stall("upgrade", 3), "explicit remediateLastFailure false → Stalled"),
            case(failed_to_v1(), vec![after_upgrade, |p, c| { p.upgrade.remediation.remediate_last_failure = Some(true); c.upgrade_failures = 1; }], rollback_to_v1(), "explicit remediateLastFailure true with retries 0"),
            case(failed(RollbackTarget::Missing), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = 1; c.upgrade_failures = 1; }], missing_target(), "VerifySnapshot ErrReleaseNotFound → Stalled MissingRollbackTarget"),
            case(failed(RollbackTarget::Unusable), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = 1; c.upgrade_failures = 1; }], upgrade(), "rollback target disappeared/modified → Upgrade"),
            case(failed(RollbackTarget::Missing), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = 1; p.upgrade.remediation_strategy = RemediationStrategy::Uninstall; c.upgrade_failures = 1; }], Action::Uninstall, "uninstall strategy needs no rollback target"),
            case(failed_to_v1(), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = 1; c.upgrade_failures = 1; c.ran_this_pass = vec![ActionKind::Release]; }], rollback_to_v1(), "remediation runs in the pass of the failed upgrade"),
            case(failed_to_v1(), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = 1; p.upgrade.remediation_strategy = RemediationStrategy::Uninstall; c.upgrade_failures = 2; c.ran_this_pass = vec![ActionKind::Remediation]; }], Action::Requeue, "MustStop: uninstall after upgrade requeues even when exhausted"),
            case(failed(RollbackTarget::Unusable), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = 1; c.upgrade_failures = 1; c.ran_this_pass = vec![ActionKind::Release]; }], Action::Requeue, "upgrade instead of rollback, but a release already ran → ErrMustRequeue"),
            case(failed(RollbackTarget::Unusable), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = 1; p.upgrade.remediation.remediate_last_failure = Some(true); c.upgrade_failures = 2; c.ran_this_pass = vec![ActionKind::Release]; }], Action::Nothing, "MustContinue false with retries exhausted → done, not stalled"),
            // ── Failed: tests ──
            case(tests_failed(), vec![after_install, |p, c| { p.install.remediation.retries = 1; c.install_failures = 1; }], Action::Uninstall, "failed tests after install count as an install failure → uninstall"),
            case(tests_failed(), vec![after_upgrade, |p, c| { p.upgrade.remediation.retries = 1; c.upgrade_failures = 1; }], rollback_to_v1(), "failed tests after upgrade → rollback"),
            case(tests_failed(), vec![after_install, |_, c| { c.install_failures = 1; c.ran_this_pass = vec![ActionKind::Release, ActionKind::Test]; }], stall("install", 1), "failed tests with no retries left → Stalled"),
            // ── Failed: RetryOnFailure ──
            case(failed_to_v1(), vec![after_install, install_retry, |_, c| c.install_failures = 1], upgrade(), "RetryOnFailure: a failed install is retried as an upgrade, never uninstalled"),
            case(failed_to_v1(), vec![after_install, install_retry, |_, c| { c.install_failures = 1; c.ran_this_pass = vec![ActionKind::Release]; }], retry_later(DEFAULT_RETRY_INTERVAL), "RetryOnFailure: release already ran → ErrRetryAfterInterval (default 5m)"),
            case(failed_to_v1(), vec![after_upgrade, upgrade_retry_2m, |_, c| c.upgrade_failures = 40], upgrade(), "RetryOnFailure: retries are unlimited, no rollback"),
            case(failed_to_v1(), vec![after_upgrade, upgrade_retry_2m, |_, c| { c.upgrade_failures = 1; c.ran_this_pass = vec![ActionKind::Release]; }], retry_later(2 * MINUTE), "RetryOnFailure: waits .retryInterval"),
            case(tests_failed(), vec![after_upgrade, upgrade_retry_2m, |_, c| { c.upgrade_failures = 1; c.ran_this_pass = vec![ActionKind::Release, ActionKind::Test]; }], retry_later(2 * MINUTE), "RetryOnFailure: failed tests are retried, not remediated"),
            case(failed_to_v1(), vec![after_upgrade, install_retry, |p, c| { p.upgrade.remediation.retries = 1; c.upgrade_failures = 1; }], rollback_to_v1(), "the strategy of the last attempted action applies: upgrade remediates"),
            case(failed(RollbackTarget::Missing), vec![after_upgrade, install_retry, |_, c| c.upgrade_failures = 1], stall("upgrade", 1), "RetryOnFailure on install only: the retrying upgrade's failure falls under upgrade remediation (retries 0 → Stalled)"),
            case(failed_to_v1(), vec![after_upgrade, upgrade_retry_2m, |_, c| { c.upgrade_failures = 1; c.ran_this_pass = vec![ActionKind::Remediation]; }], retry_later(2 * MINUTE), "MustStop with an active retry → ErrRetryAfterInterval"),
            // ── Unknown ──
            case(unknown(), vec![none], Action::RetryWithBackoff { message: "unable to determine state for release with status 'superseded'".into() }, "state.go default branch → StateError"),
            // ── Counter resets (action.MustResetFailures) ──
            reset_case(chart_changed(), vec![after_upgrade, |p, c| { p.attempt.chart_version = "2.0.0".into(); c.last_attempt.chart_version = "1.0.0".into(); c.upgrade_failures = 1; }], upgrade(), ResetReason::ChartChanged, "chart version differs from last attempt → reset, then upgrade"),
            reset_case(failed_to_v1(), vec![after_upgrade, |p, c| { p.attempt.config_digest = "sha256:b".into(); c.last_attempt.config_digest = "sha256:a".into(); c.upgrade_failures = 1; }], upgrade(), ResetReason::ValuesChanged, "values differ → reset; Failed with 0 failures → Upgrade"),
            reset_case(failed_to_v1(), vec![after_install, |p, c| { p.attempt.generation = 2; c.last_attempt.generation = 1; c.install_failures = 1; }], upgrade(), ResetReason::GenerationChanged, "generation differs → reset; Failed → Upgrade"),
            reset_case(absent(), vec![after_install, reset_at, |_, c| c.install_failures = 1], Action::Install, ResetReason::ResetRequested, "resetAt pending → reset → install again"),
            reset_case(chart_changed(), vec![after_upgrade, reset_at, |p, c| { p.attempt.generation = 3; c.upgrade_failures = 1; }], upgrade(), ResetReason::GenerationChanged, "generation is checked before the reset request"),
            case(absent(), vec![after_install, |p, c| { p.attempt.config_digest = "sha256:b".into(); c.install_failures = 1; }], stall("install", 1), "no recorded config digest: values are not compared"),
            case(chart_changed(), vec![after_upgrade, |p, c| { p.attempt.chart_version = "2.0.0".into(); c.upgrade_failures = 1; c.ran_this_pass = vec![ActionKind::Unlock]; }], stall("upgrade", 1), "the reset is evaluated only at the start of the pass"),
        ];
        for Case { state, adjust, expect, flux_rule } in cases {
            assert_eq!(decide(&state, &adjust), expect, "{flux_rule} [{state:?}]");
        }
    }

    /// `remediateLastFailure`: install defaults to `false`; upgrade defaults to `retries > 0`;
    /// an explicit value wins either way.
    #[test]
    fn remediate_last_failure_defaults() {
        let exhausted = |action: ReleaseAction, retries: i32, last: Option<bool>| {
            let mut policy = Policy::default();
            let remediation = Remediation {
                retries,
                ignore_test_failures: None,
                remediate_last_failure: last,
            };
            policy.install.remediation = remediation;
            policy.upgrade.remediation = remediation;
            let failures = u32::try_from(retries).map_or(1, |retries| retries + 1);
            let counters = Counters {
                install_failures: failures,
                upgrade_failures: failures,
                last_attempted_action: Some(action),
                ..Counters::default()
            };
            next_action(&failed_to_v1(), &policy, &counters).action
        };
        use ReleaseAction::{Install, Upgrade};
        assert_eq!(exhausted(Install, 0, None), stall("install", 1));
        assert_eq!(exhausted(Install, 3, None), stall("install", 4));
        assert_eq!(exhausted(Install, 3, Some(true)), Action::Uninstall);
        assert_eq!(exhausted(Upgrade, 0, None), stall("upgrade", 1));
        assert_eq!(exhausted(Upgrade, 3, None), rollback_to_v1());
        assert_eq!(exhausted(Upgrade, 3, Some(false)), stall("upgrade", 4));
        assert_eq!(exhausted(Upgrade, 0, Some(true)), rollback_to_v1());
    }

    /// A negative `retries` never exhausts, for install and upgrade alike.
    #[test]
    fn unlimited_retries() {
        let mut policy = Policy::default();
        policy.install.remediation.retries = -1;
        policy.upgrade.remediation.retries = -1;
        for failures in [1, 2, 100, u32::MAX] {
            let install = Counters {
                install_failures: failures,
                last_attempted_action: Some(ReleaseAction::Install),
                ..Counters::default()
            };
            assert_eq!(
                next_action(&absent(), &policy, &install).action,
                Action::Install
            );
            assert_eq!(
                next_action(&failed_to_v1(), &policy, &install).action,
                Action::Uninstall
            );
            let upgrading = Counters {
                upgrade_failures: failures,
                last_attempted_action: Some(ReleaseAction::Upgrade),
                ..Counters::default()
            };
            assert_eq!(
                next_action(&chart_changed(), &policy, &upgrading).action,
                upgrade()
            );
            // remediateLastFailure defaults to false for -1, but nothing is ever the last.
            assert_eq!(
                next_action(&failed_to_v1(), &policy, &upgrading).action,
                rollback_to_v1()
            );
            let mut after_rollback = upgrading.clone();
            after_rollback.ran_this_pass = vec![ActionKind::Release, ActionKind::Remediation];
            assert_eq!(
                next_action(&failed_to_v1(), &policy, &after_rollback).action,
                Action::Requeue
            );
        }
    }

    /// `resetAt` resets only with a matching, unhandled `requestedAt`, once.
    #[test]
    fn reset_request() {
        let mut policy = Policy::default();
        let stalled = Counters {
            install_failures: 1,
            failures: 1,
            last_attempted_action: Some(ReleaseAction::Install),
            ..Counters::default()
        };
        assert_eq!(
            next_action(&absent(), &policy, &stalled).action,
            stall("install", 1)
        );

        policy.requests.reset_at = Some(TOKEN.into());
        assert_eq!(
            next_action(&absent(), &policy, &stalled),
            decision(stall("install", 1), None),
            "resetAt without requestedAt is recorded but not acted on"
        );

        policy.requests.reconcile_at = Some(TOKEN.into());
        assert_eq!(
            next_action(&absent(), &policy, &stalled),
            decision(Action::Install, Some(ResetReason::ResetRequested))
        );

        let mut handled = stalled.clone();
        handled.handled.reset_at = Some(TOKEN.into());
        assert_eq!(
            next_action(&absent(), &policy, &handled),
            decision(stall("install", 1), None),
            "the same token does not reset twice"
        );
    }

    /// `forceAt` forces one release action: in sync, out of retries, or failed.
    #[test]
    fn force_request() {
        let mut policy = Policy::default();
        force_at(&mut policy, &mut Counters::default());
        let exhausted = Counters {
            install_failures: 1,
            upgrade_failures: 1,
            last_attempted_action: Some(ReleaseAction::Upgrade),
            ..Counters::default()
        };
        assert_eq!(
            next_action(&ReleaseState::InSync, &policy, &exhausted).action,
            upgrade()
        );
        assert_eq!(
            next_action(&absent(), &policy, &exhausted).action,
            Action::Install
        );
        assert_eq!(
            next_action(&chart_changed(), &policy, &exhausted).action,
            upgrade()
        );
        assert_eq!(
            next_action(&failed_to_v1(), &policy, &exhausted).action,
            upgrade()
        );

        // Once the forced action ran, the request is spent for the rest of the pass.
        let mut after_release = exhausted.clone();
        after_release.ran_this_pass = vec![ActionKind::Release];
        assert_eq!(
            next_action(&ReleaseState::InSync, &policy, &after_release).action,
            Action::Nothing
        );
        // The forced upgrade failed again: retries are still exhausted.
        assert_eq!(
            next_action(&failed_to_v1(), &policy, &after_release).action,
            stall("upgrade", 1)
        );
    }

    /// Warn mode reports drift (the state is `Drifted`) and does nothing about it.
    #[test]
    fn warn_mode_drift_only_reports() {
        use crate::state::{DriftObservation, Observed, state};
        let mut policy = Policy::default();
        let mut world = World::deployed(&mut policy, "1.0.0");
        world.drift_found = true;
        for (mode, expected) in [
            (DriftMode::Warn, Action::Nothing),
            (DriftMode::Enabled, Action::CorrectDrift),
        ] {
            world.policy.drift_detection = mode;
            let observed = Observed {
                drift: DriftObservation { mode, found: true },
                ..world.observed()
            };
            assert_eq!(state(&observed), ReleaseState::Drifted);
            assert_eq!(
                next_action(&state(&observed), &world.policy, &world.counters).action,
                expected
            );
        }
        world.policy.drift_detection = DriftMode::Warn;
        assert_eq!(world.pass(), [Action::Nothing], "warn mode never corrects");
        world.policy.drift_detection = DriftMode::Enabled;
        assert_eq!(world.pass(), [Action::CorrectDrift, Action::Nothing]);
    }

    /// A release stuck pending is unlocked (marked failed), and the same pass goes on with the
    /// failed release.
    #[test]
    fn locked_then_unlocked() {
        let mut policy = Policy::default();
        policy.upgrade.remediation.retries = 1;
        let mut world = World::deployed(&mut policy, "1.0.0");
        world.desire("2.0.0");
        world.push_release("2.0.0", StorageStatus::PendingUpgrade);
        // The interrupted upgrade was ours: its attempt is the recorded one.
        world.counters.last_attempt = world.policy.attempt.clone();
        world.counters.last_attempted_action = Some(ReleaseAction::Upgrade);
        assert_eq!(world.state(), locked(StorageStatus::PendingUpgrade));
        // Unlocked, the release is failed with no failure counted (the interrupted upgrade
        // never finished), so Flux upgrades again instead of remediating.
        assert_eq!(world.pass(), [Action::Unlock, upgrade(), Action::Nothing]);

        let mut policy = Policy::default();
        policy.upgrade.remediation.retries = 1;
        let mut world = World::deployed(&mut policy, "1.0.0");
        world.desire("2.0.0");
        world.push_release("2.0.0", StorageStatus::PendingUpgrade);
        // The interrupted upgrade was ours: its attempt is the recorded one.
        world.counters.last_attempt = world.policy.attempt.clone();
        world.counters.last_attempted_action = Some(ReleaseAction::Upgrade);
        world.counters.upgrade_failures = 1;
        world.failing = true;
        assert_eq!(
            world.pass(),
            [Action::Unlock, rollback_to_v1(), Action::Requeue],
            "with a failure counted, the unlocked release is remediated"
        );
    }

    /// Install retries with uninstall remediation between attempts, then a stall that
    /// `resetAt` lifts.
    #[test]
    fn install_retries_then_stall_then_reset() {
        let mut policy = Policy::default();
        policy.install.remediation.retries = 1;
        let mut world = World::new(policy, "1.0.0");
        world.failing = true;
        assert_eq!(
            world.pass(),
            [Action::Install, Action::Uninstall, Action::Requeue]
        );
        assert_eq!(world.pass(), [Action::Install, stall("install", 2)]);
        assert_eq!(
            world.pass(),
            [stall("install", 2)],
            "stalled until something changes"
        );

        world.failing = false;
        reset_at(&mut world.policy, &mut Counters::default());
        assert_eq!(
            world.pass(),
            [
                Action::Upgrade {
                    force_replace: false
                },
                Action::Nothing
            ]
        );
        assert_eq!(world.counters.install_failures, 0);
        assert_eq!(world.pass(), [Action::Nothing]);
    }

    /// Upgrade retries with rollback between attempts; the last failure is remediated by
    /// default because retries > 0; a new chart resets the counters.
    #[test]
    fn upgrade_retries_roll_back_then_new_chart_resets() {
        let mut policy = Policy::default();
        policy.upgrade.remediation.retries = 2;
        let mut world = World::deployed(&mut policy, "1.0.0");
        world.desire("2.0.0");
        world.failing = true;
        assert_eq!(
            world.pass(),
            [
                upgrade(),
                Action::Rollback { to_version: 1 },
                Action::Requeue
            ]
        );
        assert_eq!(
            world.pass(),
            [
                upgrade(),
                Action::Rollback { to_version: 3 },
                Action::Requeue
            ]
        );
        assert_eq!(
            world.pass(),
            [
                upgrade(),
                Action::Rollback { to_version: 5 },
                stall("upgrade", 3)
            ]
        );
        assert_eq!(world.pass(), [stall("upgrade", 3)]);

        world.failing = false;
        world.desire("2.0.1");
        assert_eq!(world.pass(), [upgrade(), Action::Nothing]);
        assert_eq!(world.counters.upgrade_failures, 0);
    }

    /// `RetryOnFailure`: a failed install stays, is retried as an upgrade each retry interval,
    /// and converges once the cause is gone.
    #[test]
    fn retry_on_failure_converges() {
        let mut policy = Policy::default();
        let strategy = Strategy::RetryOnFailure {
            retry_interval: Some(MINUTE),
        };
        policy.install.strategy = strategy;
        policy.upgrade.strategy = strategy;
        let mut world = World::new(policy, "1.0.0");
        world.failing = true;
        assert_eq!(world.pass(), [Action::Install, retry_later(MINUTE)]);
        assert_eq!(world.pass(), [upgrade(), retry_later(MINUTE)]);
        assert_eq!(world.pass(), [upgrade(), retry_later(MINUTE)]);
        world.failing = false;
        assert_eq!(world.pass(), [upgrade(), Action::Nothing]);
        assert_eq!(
            world.counters.upgrade_failures, 0,
            "success clears the failures"
        );
    }

    /// A forced upgrade of an in-sync release happens once.
    #[test]
    fn force_upgrades_in_sync_release_once() {
        let mut policy = Policy::default();
        let mut world = World::deployed(&mut policy, "1.0.0");
        assert_eq!(world.pass(), [Action::Nothing]);
        force_at(&mut world.policy, &mut Counters::default());
        assert_eq!(world.pass(), [upgrade(), Action::Nothing]);
        assert_eq!(world.pass(), [Action::Nothing]);
    }

    #[test]
    fn action_kinds_and_names() {
        assert_eq!(Action::Install.kind(), Some(ActionKind::Release));
        assert_eq!(Action::Uninstall.kind(), Some(ActionKind::Remediation));
        assert!(Action::Requeue.ends_pass());
        assert!(!Action::Test.ends_pass());
        assert_eq!(StallReason::RetriesExceeded.as_str(), "RetriesExceeded");
        assert_eq!(
            StallReason::MissingRollbackTarget.as_str(),
            "MissingRollbackTarget"
        );
        assert_eq!(
            ResetReason::ChartChanged.message(),
            "chart version differs from last attempt"
        );
        assert!(DriftMode::Warn.detects() && !DriftMode::Disabled.detects());
    }

    #[test]
    fn test_expectation_follows_the_active_action() {
        let mut policy = Policy {
            test: TestPolicy {
                enable: true,
                ignore_failures: true,
            },
            ..Policy::default()
        };
        policy.upgrade.remediation.ignore_test_failures = Some(false);
        let expect = |action| policy.test_expectation(action).ignore_failures;
        assert!(
            expect(None),
            "no active remediation: failed tests fail nothing"
        );
        assert!(
            expect(Some(ReleaseAction::Install)),
            "defaults to .spec.test.ignoreFailures"
        );
        assert!(
            !expect(Some(ReleaseAction::Upgrade)),
            "overridden for upgrade"
        );
        assert!(policy.test_expectation(None).enabled);
    }

    fn decision(action: Action, reset_failures: Option<ResetReason>) -> Decision {
        Decision {
            action,
            reset_failures,
        }
    }

    /// A Helm storage and HelmRelease status that react to actions the way Flux's action
    /// reconcilers make them react, to run whole passes through [`state`] and [`next_action`].
    struct World {
        policy: Policy,
        counters: Counters,
        desired_chart: String,
        /// Helm storage, by ascending version.
        releases: Vec<(u32, String, StorageStatus)>,
        /// The versions in `.status.history`.
        history: Vec<u32>,
        /// Whether release actions fail (after writing a failed release).
        failing: bool,
        drift_found: bool,
        next_version: u32,
    }

    impl World {
        fn new(policy: Policy, chart: &str) -> Self {
            let mut world = Self {
                policy,
                counters: Counters::default(),
                desired_chart: String::new(),
                releases: Vec::new(),
                history: Vec::new(),
                failing: false,
                drift_found: false,
                next_version: 1,
            };
            world.desire(chart);
            world.counters.last_attempt = world.policy.attempt.clone();
            world
        }

        /// A world where `chart` was installed successfully by us.
        fn deployed(policy: &mut Policy, chart: &str) -> Self {
            let mut world = Self::new(std::mem::take(policy), chart);
            world.counters.last_attempted_action = Some(ReleaseAction::Install);
            world.push_release(chart, StorageStatus::Deployed);
            world
        }

        fn desire(&mut self, chart: &str) {
            self.desired_chart = chart.to_owned();
            self.policy.attempt.chart_version = chart.to_owned();
        }

        fn push_release(&mut self, chart: &str, status: StorageStatus) {
            for release in &mut self.releases {
                if release.2 == StorageStatus::Deployed {
                    release.2 = StorageStatus::Superseded;
                }
            }
            self.releases
                .push((self.next_version, chart.to_owned(), status));
            self.history.push(self.next_version);
            self.next_version += 1;
        }

        fn observed(&self) -> crate::state::Observed {
            use crate::state::*;
            let status_of = |version: u32| {
                self.releases
                    .iter()
                    .find(|release| release.0 == version)
                    .map(|release| release.2)
            };
            let latest = self.releases.last();
            let latest_snapshot = self.history.iter().max().map(|version| LatestSnapshot {
                matches_storage: latest.is_some_and(|release| release.0 == *version),
                config_digest: self.policy.attempt.config_digest.clone(),
                tests: TestRun::NotRun,
            });
            let newest = self.history.iter().max().copied();
            Observed {
                latest: latest.map(|(_, chart, status)| StoredRelease {
                    status: *status,
                    chart_name: "app".into(),
                    chart_version: chart.clone(),
                }),
                history: History {
                    latest: latest_snapshot,
                    older: self
                        .history
                        .iter()
                        .filter(|version| Some(**version) != newest)
                        .map(|version| OlderSnapshot {
                            version: *version,
                            status: status_of(*version).unwrap_or(StorageStatus::Superseded),
                            tests: TestRun::NotRun,
                            in_storage: if status_of(*version).is_some() {
                                StorageCheck::Verified
                            } else {
                                StorageCheck::Disappeared
                            },
                        })
                        .collect(),
                },
                desired: Desired {
                    chart_name: "app".into(),
                    chart_version: self.desired_chart.clone(),
                    values_digest: self.policy.attempt.config_digest.clone(),
                },
                post_renderers: PostRenderers::default(),
                tests: self
                    .policy
                    .test_expectation(self.counters.last_attempted_action),
                drift: DriftObservation {
                    mode: self.policy.drift_detection,
                    found: self.drift_found,
                },
            }
        }

        fn state(&self) -> ReleaseState {
            crate::state::state(&self.observed())
        }

        /// One reconcile pass: the actions decided, ending with the one that ends the pass.
        fn pass(&mut self) -> Vec<Action> {
            let mut actions = Vec::new();
            self.counters.ran_this_pass.clear();
            loop {
                let decision = next_action(&self.state(), &self.policy, &self.counters);
                if self.counters.ran_this_pass.is_empty() {
                    // What Flux persists before the pass, whatever is decided.
                    if decision.reset_failures.is_some() {
                        self.counters.install_failures = 0;
                        self.counters.upgrade_failures = 0;
                        self.counters.failures = 0;
                    }
                    self.counters.last_attempt = self.policy.attempt.clone();
                    self.counters.handled.force_at = self.policy.requests.force_at.clone();
                    self.counters.handled.reset_at = self.policy.requests.reset_at.clone();
                }
                actions.push(decision.action.clone());
                let Some(kind) = decision.action.kind() else {
                    self.counters.handled.reconcile_at = self.policy.requests.reconcile_at.clone();
                    return actions;
                };
                self.run(&decision.action);
                self.counters.ran_this_pass.push(kind);
            }
        }

        fn run(&mut self, action: &Action) {
            let chart = self.desired_chart.clone();
            match action {
                Action::Install | Action::Upgrade { .. } => {
                    let (release_action, strategy) = if *action == Action::Install {
                        self.history.clear();
                        (ReleaseAction::Install, self.policy.install.strategy)
                    } else {
                        (ReleaseAction::Upgrade, self.policy.upgrade.strategy)
                    };
                    self.counters.last_attempted_action = Some(release_action);
                    if self.failing {
                        self.push_release(&chart, StorageStatus::Failed);
                        self.counters.failures += 1;
                        match release_action {
                            ReleaseAction::Install => self.counters.install_failures += 1,
                            ReleaseAction::Upgrade => self.counters.upgrade_failures += 1,
                        }
                    } else {
                        self.push_release(&chart, StorageStatus::Deployed);
                        if strategy != Strategy::RemediateOnFailure {
                            self.counters.install_failures = 0;
                            self.counters.upgrade_failures = 0;
                            self.counters.failures = 0;
                        }
                    }
                }
                Action::Rollback { to_version } => {
                    let target = self
                        .releases
                        .iter()
                        .find(|release| release.0 == *to_version)
                        .map(|release| release.1.clone())
                        .unwrap_or_default();
                    self.push_release(&target, StorageStatus::Deployed);
                }
                Action::Uninstall => self.releases.clear(),
                Action::Unlock => {
                    if let Some(latest) = self.releases.last_mut() {
                        latest.2 = StorageStatus::Failed;
                    }
                }
                Action::CorrectDrift => self.drift_found = false,
                Action::Test
                | Action::Nothing
                | Action::Requeue
                | Action::RetryLater { .. }
                | Action::Stall { .. }
                | Action::RetryWithBackoff { .. } => {}
            }
        }
    }
}
