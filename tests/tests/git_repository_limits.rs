//! A commit over a budget of source-controller (`--artifact-max-files`) is refused with
//! `ArtifactTooLarge`: Ready=False and retried, not stalled, while the previous artifact keeps
//! being served; a later commit back under the budget lands.

use std::time::Duration;

use weir_api::conditions::types;
use weir_api::source::conditions::types as source_types;
use weir_shared::conditions;
use weir_tests::fixture::Fixture;
use weir_tests::objects::{
    self, GitRepositoryBuilder, artifact_of, ready_is, ready_message, wait_for,
};

const REASON: &str = "ArtifactTooLarge";

#[tokio::test]
async fn a_commit_over_the_file_limit_is_retried_and_the_previous_artifact_keeps_serving() {
    let f = Fixture::with_controller_args("limits", &["--artifact-max-files", "20"]).await;
    let (api, repo) = (&f.api, &f.repo);
    let first = repo.head();
    objects::create(api, &f.git_repository("app").branch("main").interval("1h")).await;
    let ready = f.wait_revision("app", &format!("main@sha1:{first}")).await;
    let served = artifact_of(ready);

    // 30 more files: over the limit of 20 entries.
    for i in 0..30 {
        repo.write(&format!("many/file-{i:02}.yaml"), "a: b\n");
    }
    let big = repo.commit("too many files");
    // An hour's interval: ask for the reconcile that sees the new commit.
    objects::request_reconcile(api, "app", "too-many").await;
    let refused = wait_for(api, "app", Duration::from_secs(60), REASON, |o| {
        ready_is(o, "False", REASON)
    })
    .await;
    let conds = refused.status.clone().unwrap_or_default().conditions;
    assert!(conditions::is_true(&conds, types::RECONCILING), "{conds:?}");
    assert!(
        conditions::get(&conds, types::STALLED).is_none(),
        "{conds:?}"
    );
    assert!(
        conditions::is_true(&conds, source_types::FETCH_FAILED),
        "{conds:?}"
    );
    let message = ready_message(&refused);
    assert!(message.contains("--artifact-max-files"), "{message}");
    assert!(message.contains(&big), "{message}");
    assert!(message.contains("entry 21"), "{message}");
    let kept = artifact_of(refused);
    assert_eq!(kept, served, "the previous artifact keeps serving");
    let resp = reqwest::get(&kept.url)
        .await
        .unwrap_or_else(|e| panic!("GET {}: {e}", kept.url));
    assert!(
        resp.status().is_success(),
        "GET {}: {}",
        kept.url,
        resp.status()
    );
    let bytes = resp.bytes().await.unwrap_or_else(|e| panic!("body: {e}"));
    assert_eq!(weir_shared::storage::digest_of(&bytes), kept.digest);

    // Back under the limit, with no spec change and an hour's interval: the retry lands it.
    repo.git(&["rm", "-r", "-q", "many"]);
    let fixed = repo.commit("fewer files");
    f.wait_revision("app", &format!("main@sha1:{fixed}")).await;
    f.finish().await;
}
