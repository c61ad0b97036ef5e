//! Leader election on a `coordination.k8s.io/v1` Lease: only the holder reconciles and serves.
//!
//! Expiry is judged by the local clock from the moment this process last saw the Lease
//! change (as client-go does), so clock skew between replicas does not matter. Updates use the
//! Lease's `resourceVersion`, so two candidates can never both win the same round.
//!
//! Every API call is bounded: an attempt to acquire or renew may take at most one retry period
//! (so an unreachable or hanging API server cannot keep a leader past its lease), and
//! [`LeaderElector::release`] at most [`RELEASE_TIMEOUT`]. None of the waits here hold up
//! shutdown: the caller ([`crate::process`]) races them against the stop signal.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::{Client, Error};

/// How long giving the lease up on shutdown may take.
pub const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// A candidate for leadership of one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    lease_duration: Duration,
    retry_period: Duration,
    observed: Option<(LeaseSpec, Instant)>,
}

impl LeaderElector {
    /// A candidate `identity` for Lease `namespace/name`.
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        lease_duration: Duration,
        retry_period: Duration,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration,
            retry_period,
            observed: None,
        }
    }

    /// Waits until this candidate holds the lease.
    pub async fn acquire(&mut self) {
        loop {
            match self.attempt().await {
                Ok(true) => {
                    tracing::info!(lease = %self.name, identity = %self.identity, "became leader");
                    return;
                }
                Ok(false) => tracing::debug!(lease = %self.name, "lease held by another replica"),
                Err(e) => {
                    tracing::warn!(error = %e, lease = %self.name, "leader election failed; retrying")
                }
            }
            tokio::time::sleep(self.retry_period).await;
        }
    }

    /// Renews the lease every retry period; returns when it could not be renewed before it
    /// would expire (leadership lost).
    pub async fn keep(&mut self) {
        let mut last_renewal = Instant::now();
        loop {
            tokio::time::sleep(self.retry_period).await;
            match self.attempt().await {
                Ok(true) => last_renewal = Instant::now(),
                Ok(false) => {
                    tracing::error!(lease = %self.name, "lease was taken by another replica");
                    return;
                }
                Err(e) => tracing::warn!(error = %e, lease = %self.name, "renewing lease failed"),
            }
            if last_renewal.elapsed() + self.retry_period >= self.lease_duration {
                tracing::error!(lease = %self.name, "could not renew lease in time");
                return;
            }
        }
    }

    /// Gives the lease up so that another replica takes over at once (graceful shutdown).
    /// Gives up after [`RELEASE_TIMEOUT`]: the lease then simply expires.
    pub async fn release(&mut self) {
        if tokio::time::timeout(RELEASE_TIMEOUT, self.release_now())
            .await
            .is_err()
        {
            tracing::warn!(lease = %self.name, "releasing lease timed out; it will expire");
        }
    }

    /// One acquire-or-renew round, bounded by the retry period.
    async fn attempt(&mut self) -> Result<bool, String> {
        let limit = self.retry_period.max(Duration::from_secs(1));
        match tokio::time::timeout(limit, self.try_acquire_or_renew()).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer from the API server within {limit:?}")),
        }
    }

    async fn release_now(&mut self) {
        if let Ok(mut lease) = self.api.get(&self.name).await {
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
                return;
            }
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            spec.renew_time = Some(MicroTime(Timestamp::now()));
            match self
                .api
                .replace(&self.name, &PostParams::default(), &lease)
                .await
            {
                Ok(_) => tracing::info!(lease = %self.name, "released lease"),
                Err(e) => tracing::warn!(error = %e, "releasing lease failed"),
            }
        }
    }

    async fn try_acquire_or_renew(&mut self) -> Result<bool, Error> {
        let now = MicroTime(Timestamp::now());
        let seconds = i32::try_from(self.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let mut lease = match self.api.get_opt(&self.name).await? {
            Some(lease) => lease,
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..Default::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.identity.clone()),
                        lease_duration_seconds: Some(seconds),
                        acquire_time: Some(now.clone()),
                        renew_time: Some(now),
                        lease_transitions: Some(0),
                        ..Default::default()
                    }),
                };
                return match self.api.create(&PostParams::default(), &lease).await {
                    Ok(_) => Ok(true),
                    Err(Error::Api(s)) if s.code == 409 => Ok(false),
                    Err(e) => Err(e),
                };
            }
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let held_by_us = spec.holder_identity.as_deref() == Some(self.identity.as_str());
        if self.observed.as_ref().is_none_or(|(seen, _)| *seen != spec) {
            self.observed = Some((spec.clone(), Instant::now()));
        }
        let holder_free = spec.holder_identity.as_deref().is_none_or(str::is_empty);
        let their_duration = Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0),
        );
        let expired = self
            .observed
            .as_ref()
            .is_some_and(|(_, at)| at.elapsed() > their_duration);
        if !held_by_us && !holder_free && !expired {
            return Ok(false);
        }
        let mut next = spec.clone();
        if !held_by_us {
            next.acquire_time = Some(now.clone());
            next.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        next.holder_identity = Some(self.identity.clone());
        next.lease_duration_seconds = Some(seconds);
        next.renew_time = Some(now);
        lease.spec = Some(next.clone());
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                self.observed = Some((next, Instant::now()));
                Ok(true)
            }
            Err(Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}
