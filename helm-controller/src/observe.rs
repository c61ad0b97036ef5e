//! From what the API server holds to what the planner reads: the [`Observed`] release state,
//! the spec's [`Policy`] and the status [`Counters`], plus the `.status.history` snapshots a
//! release action records. Pure: the HelmRelease and the stored releases come in as data.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use sha2::{Digest, Sha256};
use weir_api::helm::{self as api, HelmRelease, HelmReleaseStatus, Snapshot};
use weir_helm::release::{Release, Status};

use crate::next_action::{
    Attempt, Counters, DriftMode, HandledRequests, InstallPolicy, Policy, ReleaseAction,
    Remediation, RemediationStrategy, Requests, Strategy, TestPolicy, UpgradePolicy,
};
use crate::state::{
    Desired, History, LatestSnapshot, Observed, OlderSnapshot, StorageCheck, StorageStatus,
    StoredRelease, TestRun,
};

/// Helm's status as the planner spells it.
pub fn storage_status(status: Status) -> StorageStatus {
    match status {
        Status::Unknown => StorageStatus::Unknown,
        Status::Deployed => StorageStatus::Deployed,
        Status::Uninstalled => StorageStatus::Uninstalled,
        Status::Superseded => StorageStatus::Superseded,
        Status::Failed => StorageStatus::Failed,
        Status::Uninstalling => StorageStatus::Uninstalling,
        Status::PendingInstall => StorageStatus::PendingInstall,
        Status::PendingUpgrade => StorageStatus::PendingUpgrade,
        Status::PendingRollback => StorageStatus::PendingRollback,
    }
}

/// The digest a snapshot records of a stored release: its identity, chart and manifest. The
/// status is left out (it moves on from `deployed` to `superseded`), and so are the values,
/// whose numbers read back from storage as floats.
pub fn release_digest(release: &Release) -> String {
    let chart = release.chart.as_ref();
    let identity = serde_json::json!([
        release.name,
        release.namespace,
        release.version,
        chart.map(|c| c.name()),
        chart.map(|c| c.version()),
        release.manifest,
    ]);
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(identity.to_string().as_bytes()))
    )
}

/// What the planner needs to know about storage, the status history and the desired release.
pub fn observed(
    history: &[Release],
    status: &HelmReleaseStatus,
    desired: Desired,
    policy: &Policy,
    counters: &Counters,
) -> Observed {
    let latest = weir_helm::release::latest(history);
    let check = |snapshot: &Snapshot| match history.iter().find(|r| r.version == snapshot.version) {
        None => StorageCheck::Disappeared,
        Some(r) if release_digest(r) == snapshot.digest => StorageCheck::Verified,
        Some(_) => StorageCheck::Modified,
    };
    let newest = status.latest_snapshot();
    let history_view = History {
        latest: newest.map(|s| LatestSnapshot {
            matches_storage: latest.is_some_and(|l| l.version == s.version)
                && check(s) == StorageCheck::Verified,
            config_digest: s.config_digest.clone(),
            tests: TestRun::NotRun,
        }),
        older: status
            .history
            .iter()
            .filter(|s| newest.is_some_and(|n| n.version != s.version))
            .map(|s| OlderSnapshot {
                version: u32::try_from(s.version).unwrap_or_default(),
                status: s
                    .status
                    .parse::<Status>()
                    .map_or(StorageStatus::Unknown, storage_status),
                tests: TestRun::NotRun,
                in_storage: check(s),
            })
            .collect(),
    };
    Observed {
        latest: latest.map(|r| StoredRelease {
            status: storage_status(r.info.status),
            chart_name: r
                .chart
                .as_ref()
                .map(|c| c.name().to_string())
                .unwrap_or_default(),
            chart_version: r
                .chart
                .as_ref()
                .map(|c| c.version().to_string())
                .unwrap_or_default(),
        }),
        history: history_view,
        desired,
        post_renderers: Default::default(),
        tests: policy.test_expectation(counters.last_attempted_action),
        drift: Default::default(),
    }
}

fn remediation(retries: i64, ignore: Option<bool>, last: Option<bool>) -> Remediation {
    Remediation {
        retries: i32::try_from(retries).unwrap_or(i32::MAX),
        ignore_test_failures: ignore,
        remediate_last_failure: last,
    }
}

fn strategy(s: Option<&api::ReleaseStrategy>) -> Strategy {
    match s {
        Some(s) if s.name == api::StrategyName::RetryOnFailure => Strategy::RetryOnFailure {
            retry_interval: weir_shared::duration::parse(s.retry_interval()).ok(),
        },
        _ => Strategy::RemediateOnFailure,
    }
}

/// The decisions' view of the spec and annotations, for a release of `attempt`.
pub fn policy(obj: &HelmRelease, attempt: Attempt) -> Policy {
    let spec = &obj.spec;
    let install = spec.install_config();
    let upgrade = spec.upgrade_config();
    let test = spec.test_config();
    let ir = install.remediation();
    let ur = upgrade.remediation();
    let annotation = |key: &str| obj.annotations().get(key).cloned();
    Policy {
        install: InstallPolicy {
            strategy: strategy(install.strategy.as_ref()),
            remediation: remediation(
                ir.retries(),
                ir.ignore_test_failures,
                ir.remediate_last_failure,
            ),
        },
        upgrade: UpgradePolicy {
            strategy: strategy(upgrade.strategy.as_ref()),
            remediation: remediation(
                ur.retries(),
                ur.ignore_test_failures,
                ur.remediate_last_failure,
            ),
            remediation_strategy: match ur.strategy() {
                api::RemediationStrategy::Rollback => RemediationStrategy::Rollback,
                api::RemediationStrategy::Uninstall => RemediationStrategy::Uninstall,
            },
            force_replace: upgrade.force,
        },
        test: TestPolicy {
            enable: test.enable,
            ignore_failures: test.ignore_failures,
        },
        drift_detection: match spec.drift_detection_config().mode() {
            api::DriftDetectionMode::Enabled => DriftMode::Enabled,
            api::DriftDetectionMode::Warn => DriftMode::Warn,
            api::DriftDetectionMode::Disabled => DriftMode::Disabled,
        },
        attempt,
        requests: Requests {
            reconcile_at: annotation(weir_api::RECONCILE_REQUEST_ANNOTATION),
            force_at: annotation(api::FORCE_REQUEST_ANNOTATION),
            reset_at: annotation(api::RESET_REQUEST_ANNOTATION),
        },
    }
}

/// The status fields the decisions depend on.
pub fn counters(status: &HelmReleaseStatus) -> Counters {
    let count = |n: i64| u32::try_from(n).unwrap_or_default();
    Counters {
        install_failures: count(status.install_failures),
        upgrade_failures: count(status.upgrade_failures),
        failures: count(status.failures),
        last_attempted_action: status.last_attempted_release_action.map(|a| match a {
            api::ReleaseAction::Install => ReleaseAction::Install,
            api::ReleaseAction::Upgrade => ReleaseAction::Upgrade,
        }),
        last_attempt: Attempt {
            generation: status.last_attempted_generation.unwrap_or_default(),
            chart_version: status.last_attempted_revision.clone().unwrap_or_default(),
            config_digest: status
                .last_attempted_config_digest
                .clone()
                .unwrap_or_default(),
        },
        handled: HandledRequests {
            reconcile_at: status.last_handled_reconcile_at.clone(),
            force_at: status.last_handled_force_at.clone(),
            reset_at: status.last_handled_reset_at.clone(),
        },
        ran_this_pass: Vec::new(),
    }
}

/// The snapshot of a release this controller stored, made from values of `config_digest`.
pub fn snapshot(release: &Release, config_digest: &str, action: &str) -> Snapshot {
    let time = |t: Option<Timestamp>| Time(t.unwrap_or(Timestamp::UNIX_EPOCH));
    Snapshot {
        api_version: None,
        digest: release_digest(release),
        name: release.name.clone(),
        namespace: release.namespace.clone(),
        version: release.version,
        status: release.info.status.as_str().to_string(),
        chart_name: release
            .chart
            .as_ref()
            .map(|c| c.name().to_string())
            .unwrap_or_default(),
        chart_version: release
            .chart
            .as_ref()
            .map(|c| c.version().to_string())
            .unwrap_or_default(),
        app_version: Some(release.app_version().to_string()).filter(|v| !v.is_empty()),
        config_digest: config_digest.to_string(),
        first_deployed: time(release.info.first_deployed),
        last_deployed: time(release.info.last_deployed),
        deleted: release.info.deleted.map(Time),
        test_hooks: None,
        oci_digest: None,
        action: Some(action.to_string()),
    }
}

/// Records `snapshot` as the newest in `history` (replacing one of the same version), brings
/// the status of the others up to date with storage, and, as Flux does, keeps the snapshots
/// back to the previous successful release (the rollback target) only.
pub fn record(history: &mut Vec<Snapshot>, snapshot: Snapshot, stored: &[Release]) {
    history.retain(|s| s.version != snapshot.version);
    history.insert(0, snapshot);
    for s in history.iter_mut() {
        if let Some(r) = stored.iter().find(|r| r.version == s.version) {
            s.status = r.info.status.as_str().to_string();
        }
    }
    history.sort_by_key(|s| std::cmp::Reverse(s.version));
    let successful = |s: &Snapshot| {
        s.status == Status::Deployed.as_str() || s.status == Status::Superseded.as_str()
    };
    if let Some(i) = history.iter().skip(1).position(successful) {
        history.truncate(i + 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(version: i64, status: Status) -> Release {
        let mut r = Release {
            name: "app".into(),
            namespace: "default".into(),
            version,
            manifest: format!("---\n# Source: app/templates/cm.yaml\nv: {version}\n"),
            ..Default::default()
        };
        r.info.status = status;
        r
    }

    #[test]
    fn the_digest_ignores_status_but_not_the_manifest() {
        let deployed = release(1, Status::Deployed);
        let superseded = release(1, Status::Superseded);
        assert_eq!(release_digest(&deployed), release_digest(&superseded));
        let mut edited = deployed.clone();
        edited.manifest.push_str("x: 1\n");
        assert_ne!(release_digest(&deployed), release_digest(&edited));
    }

    #[test]
    fn history_is_newest_first_follows_storage_and_ends_at_the_previous_success() {
        let mut history = Vec::new();
        let one = release(1, Status::Deployed);
        record(
            &mut history,
            snapshot(&one, "sha256:a", "install"),
            std::slice::from_ref(&one),
        );
        let stored = [release(1, Status::Superseded), release(2, Status::Deployed)];
        record(
            &mut history,
            snapshot(&stored[1], "sha256:b", "upgrade"),
            &stored,
        );
        let seen: Vec<(i64, &str)> = history
            .iter()
            .map(|s| (s.version, s.status.as_str()))
            .collect();
        assert_eq!(seen, [(2, "deployed"), (1, "superseded")]);
        let three = release(3, Status::Deployed);
        record(
            &mut history,
            snapshot(&three, "sha256:c", "upgrade"),
            std::slice::from_ref(&three),
        );
        let versions = |h: &[Snapshot]| h.iter().map(|s| s.version).collect::<Vec<_>>();
        assert_eq!(versions(&history), [3, 2]);
        // Failures after the last success are kept, back to it.
        for v in [4, 5] {
            let failed = release(v, Status::Failed);
            record(
                &mut history,
                snapshot(&failed, "sha256:d", "upgrade"),
                std::slice::from_ref(&failed),
            );
        }
        assert_eq!(versions(&history), [5, 4, 3]);
    }

    #[test]
    fn a_snapshot_of_another_writer_does_not_match_storage() {
        let mine = release(1, Status::Deployed);
        let status = HelmReleaseStatus {
            history: vec![snapshot(&mine, "sha256:a", "install")],
            ..Default::default()
        };
        let policy = Policy::default();
        let counters = Counters::default();
        let ours = observed(
            std::slice::from_ref(&mine),
            &status,
            Desired::default(),
            &policy,
            &counters,
        );
        assert!(ours.history.latest.is_some_and(|l| l.matches_storage));
        let by_hand = [mine, release(2, Status::Deployed)];
        let theirs = observed(&by_hand, &status, Desired::default(), &policy, &counters);
        assert!(theirs.history.latest.is_some_and(|l| !l.matches_storage));
    }
}
