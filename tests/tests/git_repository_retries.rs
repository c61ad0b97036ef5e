//! GitRepository failures fixed outside the spec are retried, not stalled: a bad
//! `.sourceignore` in a commit (the fixing commit must be fetched), incomplete Secret contents
//! (fixing the Secret must be picked up), an SSH Secret without `known_hosts`. Failures only
//! the spec can fix stay stalled (an invalid `spec.ignore`).

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams};
use weir_api::conditions::types;
use weir_shared::conditions;
use weir_tests::fixture::Fixture;
use weir_tests::objects::{self, GitRepositoryBuilder, ready_is, ready_message, wait_for};

/// Waits until `app` is `Ready=False` with `reason`, checks that it is being retried (not
/// stalled) and that the message contains `needle`.
async fn wait_retried(f: &Fixture, reason: &str, needle: &str) {
    let obj = wait_for(&f.api, "app", Duration::from_secs(60), reason, |o| {
        ready_is(o, "False", reason)
    })
    .await;
    let conds = obj.status.clone().unwrap_or_default().conditions;
    assert!(
        conditions::is_true(&conds, types::RECONCILING)
            && conditions::get(&conds, types::STALLED).is_none(),
        "{:?}",
        obj.status
    );
    assert!(
        ready_message(&obj).contains(needle),
        "{}",
        ready_message(&obj)
    );
}

#[tokio::test]
async fn a_bad_sourceignore_in_a_commit_is_retried_and_the_fixing_commit_lands() {
    let f = Fixture::new("sourceignore").await;
    f.repo.write(".sourceignore", "docs/\n[z-a]\n");
    f.repo.commit("broken ignore rules");
    objects::create(
        &f.api,
        &f.git_repository("app").branch("main").interval("1h"),
    )
    .await;
    wait_retried(&f, "IgnoreRulesInvalid", ".sourceignore line 2").await;

    // No spec change and an hour's interval: only the retry can fetch the fixing commit.
    f.repo.write(".sourceignore", "docs/\n");
    let fixed = f.repo.commit("fix ignore rules");
    f.wait_revision("app", &format!("main@sha1:{fixed}")).await;
    f.finish().await;
}

#[tokio::test]
async fn an_invalid_spec_ignore_stays_stalled() {
    let f = Fixture::new("specignore").await;
    let mut obj = f.git_repository("app").branch("main");
    obj.spec.ignore = Some("[z-a]".into());
    objects::create(&f.api, &obj).await;
    let stalled = wait_for(&f.api, "app", Duration::from_secs(60), "stalled", |o| {
        ready_is(o, "False", "InvalidSpec")
    })
    .await;
    let conds = stalled.status.clone().unwrap_or_default().conditions;
    assert!(conditions::is_true(&conds, types::STALLED));
    assert!(
        ready_message(&stalled).contains("spec.ignore line 1"),
        "{}",
        ready_message(&stalled)
    );
    f.finish().await;
}

#[tokio::test]
async fn incomplete_secret_contents_are_retried_until_the_secret_is_fixed() {
    let f = Fixture::new("secretfix").await;
    objects::secret(
        &f.client,
        &f.ns.name,
        "partial",
        &[("username", &f.server.username)],
    )
    .await;
    let obj = f
        .git_repository("app")
        .branch("main")
        .secret("partial")
        .interval("1h");
    objects::create(&f.api, &obj).await;
    wait_retried(&f, "AuthenticationFailed", "\"password\"").await;

    // Fix the Secret only: the GitRepository does not change, the retry picks it up.
    let secrets: Api<Secret> = Api::namespaced(f.client.clone(), &f.ns.name);
    secrets
        .delete("partial", &DeleteParams::default())
        .await
        .unwrap_or_else(|e| panic!("deleting Secret: {e}"));
    objects::secret(
        &f.client,
        &f.ns.name,
        "partial",
        &[
            ("username", &f.server.username),
            ("password", &f.server.password),
            ("ca.crt", &f.server.ca_pem),
        ],
    )
    .await;
    let head = f.repo.head();
    f.wait_revision("app", &format!("main@sha1:{head}")).await;
    f.finish().await;
}

#[tokio::test]
async fn an_ssh_secret_without_known_hosts_is_retried() {
    let f = Fixture::new("sshkh").await;
    objects::secret(&f.client, &f.ns.name, "ssh", &[("identity", "not a key")]).await;
    let obj = objects::git_repository("app", &f.selector)
        .url("ssh://git@127.0.0.1:1/app.git")
        .secret("ssh");
    objects::create(&f.api, &obj).await;
    wait_retried(&f, "AuthenticationFailed", "known_hosts").await;
    f.finish().await;
}
