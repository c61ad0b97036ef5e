//! Polling helpers: wait until a condition holds or fail the test with what was awaited.

use std::time::{Duration, Instant};

/// Polls `check` every 200ms until it returns `Some`, or panics after `limit` naming `what`.
pub async fn until<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Deletes every object of `api` and waits until their controllers have removed the
/// finalizers, so that nothing is left behind (call it while the controller still runs).
pub async fn delete_all<K>(api: &kube::Api<K>, limit: Duration, what: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    use kube::api::{DeleteParams, ListParams};
    let _ = api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    until(limit, &format!("{what} deleted"), || async move {
        api.list(&ListParams::default())
            .await
            .ok()
            .filter(|l| l.items.is_empty())
            .map(|_| ())
    })
    .await;
}
