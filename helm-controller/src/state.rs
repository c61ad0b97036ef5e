//! The state of a HelmRelease's Helm release, computed from plain observations: what Helm's
//! storage holds, what the HelmRelease's `.status.history` recorded, and what this reconcile
//! would release.
//!
//! This mirrors Flux helm-controller v2's `DetermineReleaseState`
//! (`internal/reconcile/state.go`) check for check and in the same order, because the order
//! *is* the behaviour: a pending release is `Locked` before anything else is looked at, a
//! missing or mismatching history makes the release `Unmanaged`, a failed release is `Failed`
//! whatever the desired chart (the failure counters decide what happens next), and only a
//! deployed release is compared with the desired chart, values, post-renderers, tests and
//! cluster. The I/O (reading storage, verifying snapshot digests, the server-side dry-run diff)
//! is done by the caller, which fills [`Observed`].

use crate::next_action::DriftMode;

/// Everything [`state`] looks at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observed {
    /// The latest release (highest version) in Helm's storage under the release name, if any.
    pub latest: Option<StoredRelease>,
    /// What the HelmRelease's `.status.history` recorded.
    pub history: History,
    /// What a release action in this reconcile would be made from.
    pub desired: Desired,
    /// Whether post-renderer changes can make a deployed release out of sync right now.
    pub post_renderers: PostRenderers,
    /// Whether tests must have run, and whether their failure fails the release; build it
    /// with [`crate::next_action::Policy::test_expectation`].
    pub tests: TestExpectation,
    /// The drift detection mode and what the dry-run diff found.
    pub drift: DriftObservation,
}

/// The parts of a release in Helm's storage that the state depends on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredRelease {
    pub status: StorageStatus,
    pub chart_name: String,
    /// The chart version as stored, which carries the `+<digest>` suffix when the chart came
    /// from an OCI artifact (Flux appends it so a new digest is a new chart version).
    pub chart_version: String,
}

/// A Helm release status, as Helm writes it to storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageStatus {
    #[default]
    Unknown,
    Deployed,
    Uninstalled,
    Superseded,
    Failed,
    Uninstalling,
    PendingInstall,
    PendingUpgrade,
    PendingRollback,
}

impl StorageStatus {
    /// Helm's spelling of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Deployed => "deployed",
            Self::Uninstalled => "uninstalled",
            Self::Superseded => "superseded",
            Self::Failed => "failed",
            Self::Uninstalling => "uninstalling",
            Self::PendingInstall => "pending-install",
            Self::PendingUpgrade => "pending-upgrade",
            Self::PendingRollback => "pending-rollback",
        }
    }

    /// Helm's `IsPending`: an action holds the release. `uninstalling` is deliberately not
    /// pending, as in Helm, so it is not unlocked.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            Self::PendingInstall | Self::PendingUpgrade | Self::PendingRollback
        )
    }

    /// Whether a release with this status was running at some point and can be rolled back to.
    fn was_deployed(self) -> bool {
        matches!(self, Self::Deployed | Self::Superseded)
    }
}

/// The HelmRelease's `.status.history`, as far as the state needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct History {
    /// The most recent snapshot; `None` when the history is empty.
    pub latest: Option<LatestSnapshot>,
    /// The snapshots before the latest, in any order.
    pub older: Vec<OlderSnapshot>,
}

/// The most recent `.status.history` snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LatestSnapshot {
    /// Whether the snapshot's digest verifies the latest release in storage. A mismatch means
    /// something other than this HelmRelease wrote the release (e.g. `helm upgrade` by hand).
    pub matches_storage: bool,
    /// The digest of the values the release was made with, in the same algorithm as
    /// [`Desired::values_digest`].
    pub config_digest: String,
    /// The test run recorded for it.
    pub tests: TestRun,
}

/// A `.status.history` snapshot older than the latest: a rollback candidate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OlderSnapshot {
    pub version: u32,
    pub status: StorageStatus,
    pub tests: TestRun,
    /// Whether the release it records is still in storage, unmodified.
    pub in_storage: StorageCheck,
}

/// What the controller observed of a release's test hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TestRun {
    /// No test run observed (a chart without tests that ran counts as [`TestRun::Passed`]).
    #[default]
    NotRun,
    Passed,
    /// At least one test hook ended in the `Failed` phase.
    Failed,
}

/// Whether a snapshot still describes a release in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageCheck {
    /// Present and its digest verifies.
    #[default]
    Verified,
    /// No longer in storage.
    Disappeared,
    /// Present, but the digest does not verify.
    Modified,
}

/// What a release action in this reconcile would be made from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desired {
    pub chart_name: String,
    /// The chart version including any `+<digest>` suffix, as it will be stored.
    pub chart_version: String,
    /// The digest of the composed values, in the algorithm of the recorded config digests.
    pub values_digest: String,
}

/// The post-renderers comparison, which Flux only makes for a generation it has not yet
/// reconciled to Ready: the observed digest is written at the end of a successful reconcile,
/// so comparing it earlier in that same generation would keep the release out of sync forever.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PostRenderers {
    /// `.metadata.generation`.
    pub generation: i64,
    /// The `observedGeneration` of the Ready condition; `None` when there is no Ready condition.
    pub ready_observed_generation: Option<i64>,
    /// The digest of `.spec.postRenderers`; empty when there are none.
    pub desired_digest: String,
    /// `.status.observedPostRenderersDigest`.
    pub observed_digest: String,
}

/// How the latest release's tests count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TestExpectation {
    /// `.spec.test.enable`.
    pub enabled: bool,
    /// Whether a failed test run must not fail the release: the active action's
    /// `ignoreTestFailures`, defaulting to `.spec.test.ignoreFailures`; `true` when no release
    /// action was attempted yet, as then there is no remediation to hand the failure to. It
    /// also decides whether a snapshot with failed tests may be a rollback target.
    pub ignore_failures: bool,
}

/// Drift detection as configured and as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DriftObservation {
    pub mode: DriftMode,
    /// Whether the dry-run apply of the stored manifest would create or change objects.
    pub found: bool,
}

/// The state of the release relative to the HelmRelease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseState {
    /// Nothing to upgrade: install.
    Absent(AbsentReason),
    /// A release exists that this HelmRelease cannot vouch for.
    Unmanaged(UnmanagedReason),
    /// Deployed, but not from what this reconcile would release.
    OutOfSync(OutOfSyncReason),
    /// The latest release is held by a pending action (the status is the pending one).
    Locked(StorageStatus),
    /// Deployed and in sync, but tests are enabled and have not run for it.
    Untested,
    /// The latest release failed, or its tests failed and the failure counts.
    Failed {
        cause: FailureCause,
        /// Where a rollback remediation would go.
        rollback_target: RollbackTarget,
    },
    /// Deployed, in sync and tested, but the cluster differs from the stored manifest.
    Drifted,
    /// Nothing differs.
    InSync,
    /// The latest release has a status no action applies to (`unknown`, `superseded`,
    /// `uninstalling`); Flux reports an error and retries.
    Unknown(StorageStatus),
}

/// Why the release counts as absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbsentReason {
    /// No release in storage.
    NoRelease,
    /// The latest release in storage is `uninstalled` (kept history).
    Uninstalled,
}

/// Why the release is not considered ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnmanagedReason {
    /// The HelmRelease has no history, so the release in storage was not made by it.
    NoHistory,
    /// The latest snapshot's digest does not verify the latest release in storage.
    NotObserved,
}

/// What differs from the deployed release, in the order Flux checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfSyncReason {
    /// Chart name or version (with digest suffix) differs.
    ChartChanged,
    /// The values digest differs.
    ValuesChanged,
    /// The post-renderers digest differs, in a generation not yet reconciled.
    PostRenderersChanged,
}

/// Why the release is failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCause {
    /// The latest release has Helm status `failed`.
    ReleaseFailed,
    /// The latest release is deployed but its tests failed, and test failures count.
    TestsFailed,
}

/// The target of a rollback remediation: Flux's `History.Previous` verified against storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackTarget {
    /// The newest older snapshot that was deployed (and, unless test failures are ignored, did
    /// not fail its tests), still in storage unmodified.
    Version(u32),
    /// No older snapshot qualifies: a rollback remediation cannot be made.
    Missing,
    /// The candidate disappeared from storage or was modified: Flux upgrades instead.
    Unusable,
}

/// The state of the release, checked in Flux's order (see the module docs).
pub fn state(observed: &Observed) -> ReleaseState {
    let Some(latest) = &observed.latest else {
        return ReleaseState::Absent(AbsentReason::NoRelease);
    };
    if latest.status.is_pending() {
        return ReleaseState::Locked(latest.status);
    }
    let Some(snapshot) = &observed.history.latest else {
        // Without history there is nothing to compare against; an uninstalled leftover is
        // simply absent, anything else was made by someone else.
        return if latest.status == StorageStatus::Uninstalled {
            ReleaseState::Absent(AbsentReason::Uninstalled)
        } else {
            ReleaseState::Unmanaged(UnmanagedReason::NoHistory)
        };
    };
    if !snapshot.matches_storage {
        return ReleaseState::Unmanaged(UnmanagedReason::NotObserved);
    }
    match latest.status {
        StorageStatus::Failed => ReleaseState::Failed {
            cause: FailureCause::ReleaseFailed,
            rollback_target: rollback_target(observed),
        },
        StorageStatus::Uninstalled => ReleaseState::Absent(AbsentReason::Uninstalled),
        StorageStatus::Deployed => deployed_state(observed, latest, snapshot),
        other => ReleaseState::Unknown(other),
    }
}

/// The state of a deployed release we verifiably made.
fn deployed_state(
    observed: &Observed,
    latest: &StoredRelease,
    snapshot: &LatestSnapshot,
) -> ReleaseState {
    let desired = &observed.desired;
    if latest.chart_name != desired.chart_name || latest.chart_version != desired.chart_version {
        return ReleaseState::OutOfSync(OutOfSyncReason::ChartChanged);
    }
    if snapshot.config_digest != desired.values_digest {
        return ReleaseState::OutOfSync(OutOfSyncReason::ValuesChanged);
    }
    let post_renderers = &observed.post_renderers;
    let generation_unreconciled = post_renderers
        .ready_observed_generation
        .is_some_and(|observed_generation| observed_generation != post_renderers.generation);
    if generation_unreconciled && post_renderers.desired_digest != post_renderers.observed_digest {
        return ReleaseState::OutOfSync(OutOfSyncReason::PostRenderersChanged);
    }
    // Tests are judged from the history, not storage: a `helm test` run by hand is not ours.
    if observed.tests.enabled {
        match snapshot.tests {
            TestRun::NotRun => return ReleaseState::Untested,
            TestRun::Failed if !observed.tests.ignore_failures => {
                return ReleaseState::Failed {
                    cause: FailureCause::TestsFailed,
                    rollback_target: rollback_target(observed),
                };
            }
            TestRun::Failed | TestRun::Passed => {}
        }
    }
    if observed.drift.mode.detects() && observed.drift.found {
        return ReleaseState::Drifted;
    }
    ReleaseState::InSync
}

/// Flux's `History.Previous(ignoreTestFailures)` followed by `VerifySnapshot`.
fn rollback_target(observed: &Observed) -> RollbackTarget {
    let ignore_test_failures = observed.tests.ignore_failures;
    observed
        .history
        .older
        .iter()
        .filter(|snapshot| snapshot.status.was_deployed())
        .filter(|snapshot| ignore_test_failures || snapshot.tests != TestRun::Failed)
        .max_by_key(|snapshot| snapshot.version)
        .map_or(RollbackTarget::Missing, |snapshot| {
            match snapshot.in_storage {
                StorageCheck::Verified => RollbackTarget::Version(snapshot.version),
                StorageCheck::Disappeared | StorageCheck::Modified => RollbackTarget::Unusable,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHART: &str = "podinfo";
    const VERSION: &str = "6.5.3";
    const VALUES: &str = "sha256:values";

    /// A deployed release made by us from exactly what is desired, tests off, drift off.
    fn in_sync() -> Observed {
        Observed {
            latest: Some(StoredRelease {
                status: StorageStatus::Deployed,
                chart_name: CHART.into(),
                chart_version: VERSION.into(),
            }),
            history: History {
                latest: Some(LatestSnapshot {
                    matches_storage: true,
                    config_digest: VALUES.into(),
                    tests: TestRun::NotRun,
                }),
                older: vec![OlderSnapshot {
                    version: 1,
                    status: StorageStatus::Superseded,
                    tests: TestRun::Passed,
                    in_storage: StorageCheck::Verified,
                }],
            },
            desired: Desired {
                chart_name: CHART.into(),
                chart_version: VERSION.into(),
                values_digest: VALUES.into(),
            },
            post_renderers: PostRenderers::default(),
            tests: TestExpectation::default(),
            drift: DriftObservation::default(),
        }
    }

    fn with(change: fn(&mut Observed)) -> Observed {
        let mut observed = in_sync();
        change(&mut observed);
        observed
    }

    fn set_latest_status(observed: &mut Observed, status: StorageStatus) {
        if let Some(latest) = observed.latest.as_mut() {
            latest.status = status;
        }
    }

    fn set_snapshot(observed: &mut Observed, change: fn(&mut LatestSnapshot)) {
        if let Some(snapshot) = observed.history.latest.as_mut() {
            change(snapshot);
        }
    }

    fn failed(rollback_target: RollbackTarget) -> ReleaseState {
        ReleaseState::Failed {
            cause: FailureCause::ReleaseFailed,
            rollback_target,
        }
    }

    fn tests_failed(rollback_target: RollbackTarget) -> ReleaseState {
        ReleaseState::Failed {
            cause: FailureCause::TestsFailed,
            rollback_target,
        }
    }

    /// One case per rule of `DetermineReleaseState`, in its order.
    #[rustfmt::skip]
    #[test]
    fn state_table() {
        use ReleaseState as S;
        let cases: Vec<(&str, Observed, ReleaseState)> = vec![
            // state.go: LastRelease not found → Absent "no release in storage for object".
            ("no release", with(|o| o.latest = None), S::Absent(AbsentReason::NoRelease)),
            // state.go: Info.Status.IsPending() → Locked, checked before history.
            ("pending-install", with(|o| set_latest_status(o, StorageStatus::PendingInstall)), S::Locked(StorageStatus::PendingInstall)),
            ("pending-upgrade", with(|o| set_latest_status(o, StorageStatus::PendingUpgrade)), S::Locked(StorageStatus::PendingUpgrade)),
            ("pending-rollback", with(|o| set_latest_status(o, StorageStatus::PendingRollback)), S::Locked(StorageStatus::PendingRollback)),
            ("pending without history is still locked", with(|o| { set_latest_status(o, StorageStatus::PendingInstall); o.history = History::default(); }), S::Locked(StorageStatus::PendingInstall)),
            // state.go: History.Len() == 0 → Absent if uninstalled, else Unmanaged.
            ("no history, deployed", with(|o| o.history = History::default()), S::Unmanaged(UnmanagedReason::NoHistory)),
            ("no history, failed", with(|o| { o.history = History::default(); set_latest_status(o, StorageStatus::Failed); }), S::Unmanaged(UnmanagedReason::NoHistory)),
            ("no history, uninstalled", with(|o| { o.history = History::default(); set_latest_status(o, StorageStatus::Uninstalled); }), S::Absent(AbsentReason::Uninstalled)),
            // state.go: VerifyReleaseObject fails (digest/not observed) → Unmanaged.
            ("snapshot does not verify", with(|o| set_snapshot(o, |s| s.matches_storage = false)), S::Unmanaged(UnmanagedReason::NotObserved)),
            ("snapshot does not verify, failed", with(|o| { set_snapshot(o, |s| s.matches_storage = false); set_latest_status(o, StorageStatus::Failed); }), S::Unmanaged(UnmanagedReason::NotObserved)),
            // state.go: StatusFailed → Failed, before any chart or values comparison.
            ("failed", with(|o| set_latest_status(o, StorageStatus::Failed)), failed(RollbackTarget::Version(1))),
            ("failed with a new chart desired", with(|o| { set_latest_status(o, StorageStatus::Failed); o.desired.chart_version = "7.0.0".into(); }), failed(RollbackTarget::Version(1))),
            // state.go: StatusUninstalled with history → Absent.
            ("uninstalled with history", with(|o| set_latest_status(o, StorageStatus::Uninstalled)), S::Absent(AbsentReason::Uninstalled)),
            // state.go: default branch → Unknown with an error.
            ("superseded latest", with(|o| set_latest_status(o, StorageStatus::Superseded)), S::Unknown(StorageStatus::Superseded)),
            ("uninstalling latest", with(|o| set_latest_status(o, StorageStatus::Uninstalling)), S::Unknown(StorageStatus::Uninstalling)),
            ("unknown latest", with(|o| set_latest_status(o, StorageStatus::Unknown)), S::Unknown(StorageStatus::Unknown)),
            // verify.go VerifyRelease: chart name or version → ErrChartChanged → OutOfSync.
            ("chart version changed", with(|o| o.desired.chart_version = "6.5.4".into()), S::OutOfSync(OutOfSyncReason::ChartChanged)),
            ("OCI digest suffix changed", with(|o| { o.desired.chart_version = "6.5.3+0cc9a8446c95".into(); }), S::OutOfSync(OutOfSyncReason::ChartChanged)),
            ("chart name changed", with(|o| o.desired.chart_name = "other".into()), S::OutOfSync(OutOfSyncReason::ChartChanged)),
            // verify.go VerifyRelease: snapshot config digest ≠ values → ErrConfigDigest → OutOfSync.
            ("values changed", with(|o| o.desired.values_digest = "sha256:new".into()), S::OutOfSync(OutOfSyncReason::ValuesChanged)),
            ("chart is checked before values", with(|o| { o.desired.chart_version = "7.0.0".into(); o.desired.values_digest = "sha256:new".into(); }), S::OutOfSync(OutOfSyncReason::ChartChanged)),
            // state.go: post-renderers digest only compared when Ready.observedGeneration ≠ generation.
            ("post-renderers changed, new generation", with(|o| o.post_renderers = PostRenderers { generation: 3, ready_observed_generation: Some(2), desired_digest: "sha256:pr".into(), observed_digest: String::new() }), S::OutOfSync(OutOfSyncReason::PostRenderersChanged)),
            ("post-renderers changed, generation already reconciled", with(|o| o.post_renderers = PostRenderers { generation: 3, ready_observed_generation: Some(3), desired_digest: "sha256:pr".into(), observed_digest: String::new() }), S::InSync),
            ("post-renderers changed, no Ready condition", with(|o| o.post_renderers = PostRenderers { generation: 3, ready_observed_generation: None, desired_digest: "sha256:pr".into(), observed_digest: String::new() }), S::InSync),
            ("post-renderers same, new generation", with(|o| o.post_renderers = PostRenderers { generation: 3, ready_observed_generation: Some(2), desired_digest: "sha256:pr".into(), observed_digest: "sha256:pr".into() }), S::InSync),
            // state.go: tests enabled and !HasBeenTested → Untested.
            ("tests enabled, not run", with(|o| o.tests.enabled = true), S::Untested),
            ("tests disabled, not run", in_sync(), S::InSync),
            // state.go: failed test phase fails the release unless ignored (or no active remediation).
            ("tests failed, counted", with(|o| { o.tests.enabled = true; set_snapshot(o, |s| s.tests = TestRun::Failed); }), tests_failed(RollbackTarget::Version(1))),
            ("tests failed, ignored", with(|o| { o.tests = TestExpectation { enabled: true, ignore_failures: true }; set_snapshot(o, |s| s.tests = TestRun::Failed); }), S::InSync),
            ("tests failed, tests disabled", with(|o| set_snapshot(o, |s| s.tests = TestRun::Failed)), S::InSync),
            ("tests passed", with(|o| { o.tests.enabled = true; set_snapshot(o, |s| s.tests = TestRun::Passed); }), S::InSync),
            ("untested is checked before drift", with(|o| { o.tests.enabled = true; o.drift = DriftObservation { mode: DriftMode::Enabled, found: true }; }), S::Untested),
            // state.go: drift only when MustDetectChanges (enabled or warn) and the diff has changes.
            ("drift found, enabled", with(|o| o.drift = DriftObservation { mode: DriftMode::Enabled, found: true }), S::Drifted),
            ("drift found, warn", with(|o| o.drift = DriftObservation { mode: DriftMode::Warn, found: true }), S::Drifted),
            ("drift found, disabled", with(|o| o.drift = DriftObservation { mode: DriftMode::Disabled, found: true }), S::InSync),
            ("no drift, enabled", with(|o| o.drift = DriftObservation { mode: DriftMode::Enabled, found: false }), S::InSync),
            ("values are checked before drift", with(|o| { o.desired.values_digest = "sha256:new".into(); o.drift = DriftObservation { mode: DriftMode::Enabled, found: true }; }), S::OutOfSync(OutOfSyncReason::ValuesChanged)),
            // Everything matches.
            ("in sync", in_sync(), S::InSync),
        ];
        for (name, observed, expected) in cases {
            assert_eq!(state(&observed), expected, "{name}");
        }
    }

    fn failed_with_older(older: Vec<OlderSnapshot>, ignore_failures: bool) -> Observed {
        let mut observed = with(|o| set_latest_status(o, StorageStatus::Failed));
        observed.history.older = older;
        observed.tests.ignore_failures = ignore_failures;
        observed
    }

    fn older(version: u32, status: StorageStatus, tests: TestRun) -> OlderSnapshot {
        OlderSnapshot {
            version,
            status,
            tests,
            in_storage: StorageCheck::Verified,
        }
    }

    /// `History.Previous`: the newest deployed/superseded older snapshot, skipping ones whose
    /// tests failed unless test failures are ignored; then `VerifySnapshot` against storage.
    #[test]
    fn rollback_target_follows_history_previous() {
        let picks_newest = failed_with_older(
            vec![
                older(1, StorageStatus::Superseded, TestRun::Passed),
                older(3, StorageStatus::Superseded, TestRun::NotRun),
                older(2, StorageStatus::Superseded, TestRun::Passed),
            ],
            false,
        );
        assert_eq!(state(&picks_newest), failed(RollbackTarget::Version(3)));

        let skips_failed_and_uninstalled = failed_with_older(
            vec![
                older(1, StorageStatus::Superseded, TestRun::Passed),
                older(2, StorageStatus::Failed, TestRun::NotRun),
                older(3, StorageStatus::Superseded, TestRun::Failed),
                older(4, StorageStatus::Uninstalled, TestRun::Passed),
            ],
            false,
        );
        assert_eq!(
            state(&skips_failed_and_uninstalled),
            failed(RollbackTarget::Version(1))
        );

        let ignored_test_failures_qualify = failed_with_older(
            vec![
                older(1, StorageStatus::Superseded, TestRun::Passed),
                older(3, StorageStatus::Superseded, TestRun::Failed),
            ],
            true,
        );
        assert_eq!(
            state(&ignored_test_failures_qualify),
            failed(RollbackTarget::Version(3))
        );

        let none_qualifies = failed_with_older(
            vec![older(1, StorageStatus::Failed, TestRun::NotRun)],
            false,
        );
        assert_eq!(state(&none_qualifies), failed(RollbackTarget::Missing));
        assert_eq!(
            state(&failed_with_older(Vec::new(), false)),
            failed(RollbackTarget::Missing)
        );

        for in_storage in [StorageCheck::Disappeared, StorageCheck::Modified] {
            let unusable = failed_with_older(
                vec![OlderSnapshot {
                    in_storage,
                    ..older(1, StorageStatus::Superseded, TestRun::Passed)
                }],
                false,
            );
            assert_eq!(state(&unusable), failed(RollbackTarget::Unusable));
        }
    }

    #[test]
    fn storage_status_spelling_and_pending() {
        let pending: Vec<&str> = [
            StorageStatus::Unknown,
            StorageStatus::Deployed,
            StorageStatus::Uninstalled,
            StorageStatus::Superseded,
            StorageStatus::Failed,
            StorageStatus::Uninstalling,
            StorageStatus::PendingInstall,
            StorageStatus::PendingUpgrade,
            StorageStatus::PendingRollback,
        ]
        .into_iter()
        .filter(|status| status.is_pending())
        .map(StorageStatus::as_str)
        .collect();
        assert_eq!(
            pending,
            ["pending-install", "pending-upgrade", "pending-rollback"]
        );
    }
}
