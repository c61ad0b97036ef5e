//! GitRepository lifecycle against the real API server: refs, new commits and events,
//! reconcile requests, reproducible digests, garbage collection, deletion, suspend, invalid
//! specs, unreachable hosts, and leader election between two controller processes.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams};
use weir_api::conditions::types;
use weir_api::source::conditions::types as source_types;
use weir_shared::conditions;
use weir_tests::controller::{Options, SourceController};
use weir_tests::event_sink::EventSink;
use weir_tests::fixture::Fixture;
use weir_tests::objects::{
    self, GitRepositoryBuilder, git_repository, ready_is, ready_message, wait_for, wait_ready,
};
use weir_tests::random_id;

#[tokio::test]
async fn tag_semver_commit_and_name_refs_resolve_like_flux() {
    let f = Fixture::new("refs").await;
    let first = f.repo.head();
    f.repo.tag("v1.0.0");
    f.repo.write("deploy/extra.yaml", "kind: ConfigMap\n");
    let second = f.repo.commit("second");
    f.repo.tag("v1.1.0");
    f.repo.git(&["tag", "v2.0.0-rc.1"]);
    let third = f.repo.commit("third");

    objects::create(&f.api, &f.git_repository("tag").tag("v1.0.0")).await;
    objects::create(&f.api, &f.git_repository("semver").semver(">=1.0.0 <2.0.0")).await;
    objects::create(&f.api, &f.git_repository("commit").commit(&second)).await;
    objects::create(
        &f.api,
        &f.git_repository("branch-commit")
            .branch("main")
            .commit(&first),
    )
    .await;
    let mut by_name = f.git_repository("name");
    by_name.spec.reference = Some(weir_api::source::GitRepositoryRef {
        name: Some("refs/heads/main".into()),
        ..Default::default()
    });
    objects::create(&f.api, &by_name).await;
    objects::create(&f.api, &f.git_repository("missing-branch").branch("nope")).await;

    f.wait_revision("tag", &format!("v1.0.0@sha1:{first}"))
        .await;
    f.wait_revision("semver", &format!("v1.1.0@sha1:{second}"))
        .await;
    f.wait_revision("commit", &format!("sha1:{second}")).await;
    f.wait_revision("branch-commit", &format!("main@sha1:{first}"))
        .await;
    f.wait_revision("name", &format!("refs/heads/main@sha1:{third}"))
        .await;
    let missing = wait_for(
        &f.api,
        "missing-branch",
        Duration::from_secs(30),
        "failing",
        |o| ready_is(o, "False", "GitOperationFailed"),
    )
    .await;
    assert!(
        ready_message(&missing).contains("branch \"nope\" not found"),
        "{}",
        ready_message(&missing)
    );
    f.finish().await;
}

#[tokio::test]
async fn a_new_commit_produces_a_new_artifact_and_event_on_request() {
    let f = Fixture::new("commit").await;
    objects::create(
        &f.api,
        &f.git_repository("app").branch("main").interval("1h"),
    )
    .await;
    let first = wait_ready(&f.api, "app").await;
    let first_artifact = first
        .status
        .clone()
        .and_then(|s| s.artifact)
        .unwrap_or_else(|| panic!("no artifact"));

    let next = {
        f.repo.write(
            "deploy/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app2\n",
        );
        f.repo.commit("change")
    };
    // The interval is an hour: only the request annotation can make this happen now.
    objects::request_reconcile(&f.api, "app", "token-1").await;
    let obj = f.wait_revision("app", &format!("main@sha1:{next}")).await;
    let status = obj.status.unwrap_or_default();
    assert_eq!(status.last_handled_reconcile_at.as_deref(), Some("token-1"));
    let artifact = status.artifact.unwrap_or_else(|| panic!("no artifact"));
    assert_ne!(artifact.digest, first_artifact.digest);
    assert_eq!(
        artifact.url,
        format!(
            "http://{}/gitrepository/{}/app/{next}.tar.gz",
            f.ctl.storage_addr, f.ns.name
        )
    );

    let events: Api<Event> = Api::namespaced(f.client.clone(), &f.ns.name);
    let new_artifact =
        weir_tests::wait::until(Duration::from_secs(20), "two NewArtifact events", || {
            let events = events.clone();
            async move {
                let list = events.list(&ListParams::default()).await.ok()?;
                let notes: Vec<String> = list
                    .items
                    .into_iter()
                    .filter(|e| {
                        e.reason.as_deref() == Some("NewArtifact")
                            && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("app")
                    })
                    .filter_map(|e| e.note)
                    .collect();
                (notes.len() >= 2).then_some(notes)
            }
        })
        .await;
    assert!(
        new_artifact.iter().any(|n| n.contains(&next)),
        "{new_artifact:?}"
    );

    // An unchanged re-fetch keeps the artifact as it was.
    objects::request_reconcile(&f.api, "app", "token-2").await;
    let again = wait_for(
        &f.api,
        "app",
        Duration::from_secs(30),
        "handling token-2",
        |o| {
            o.status
                .as_ref()
                .and_then(|s| s.last_handled_reconcile_at.as_deref())
                == Some("token-2")
        },
    )
    .await;
    let again_artifact = objects::artifact_of(again);
    assert_eq!(
        (again_artifact.digest, again_artifact.last_update_time),
        (artifact.digest, artifact.last_update_time)
    );
    f.finish().await;
}

#[tokio::test]
async fn digests_are_reproducible_across_controller_runs() {
    let f = Fixture::new("repro").await;
    objects::create(&f.api, &f.git_repository("app").branch("main")).await;
    let a = objects::artifact_of(wait_ready(&f.api, "app").await);
    objects::delete_and_wait(&f.api, "app").await;
    // A second, separate controller process with fresh storage and cache.
    let sel2 = random_id();
    let _ctl2 = SourceController::start(Options {
        selector: &sel2,
        leader_namespace: None,
        storage: None,
        extra: &[],
    })
    .await;
    objects::create(
        &f.api,
        &git_repository("app2", &sel2)
            .url(&f.server.url("app"))
            .secret("auth")
            .branch("main"),
    )
    .await;
    let b = objects::artifact_of(wait_ready(&f.api, "app2").await);
    assert_eq!(a.revision, b.revision);
    assert_eq!(a.digest, b.digest, "same commit, same bytes");
    f.finish().await;
}

#[tokio::test]
async fn garbage_collection_keeps_two_and_deletion_cleans_storage() {
    let f = Fixture::new("gc").await;
    objects::create(&f.api, &f.git_repository("app").branch("main")).await;
    wait_ready(&f.api, "app").await;
    for i in 0..3 {
        f.repo.write("deploy/n.txt", &format!("{i}\n"));
        let sha = f.repo.commit(&format!("commit {i}"));
        objects::request_reconcile(&f.api, "app", &format!("gc-{i}")).await;
        f.wait_revision("app", &format!("main@sha1:{sha}")).await;
    }
    let dir = f
        .ctl
        .storage
        .join(format!("gitrepository/{}/app", f.ns.name));
    let files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files
            .iter()
            .any(|f2| f2.to_string_lossy().starts_with(&f.repo.head()))
    );

    objects::delete_and_wait(&f.api, "app").await;
    assert!(
        !dir.exists(),
        "storage folder {} must be removed",
        dir.display()
    );
    f.finish().await;
}

#[tokio::test]
async fn suspended_objects_are_left_alone_until_resumed() {
    let f = Fixture::new("suspend").await;
    objects::create(&f.api, &f.git_repository("app").branch("main")).await;
    let before = wait_ready(&f.api, "app").await;
    let revision = f.revision("app").await;
    let patch = serde_json::json!({"spec": {"suspend": true}});
    f.api
        .patch("app", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let next = f.repo.commit("while suspended");
    objects::request_reconcile(&f.api, "app", "suspended").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = f.api.get("app").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        f.revision("app").await,
        revision,
        "no fetch while suspended"
    );
    assert_eq!(
        during
            .status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.clone()),
        before.status.and_then(|s| s.last_handled_reconcile_at)
    );

    let patch = serde_json::json!({"spec": {"suspend": false}});
    f.api
        .patch("app", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    f.wait_revision("app", &format!("main@sha1:{next}")).await;
    f.finish().await;
}

#[tokio::test]
async fn invalid_urls_stall_and_unreachable_hosts_are_retried() {
    let f = Fixture::new("invalid").await;
    // The CRD schema already refuses unknown schemes.
    let refused = f
        .api
        .create(
            &Default::default(),
            &git_repository("ftp", &f.selector).url("ftp://example.com/repo.git"),
        )
        .await;
    assert!(
        refused.is_err_and(|e| e.to_string().contains("spec.url")),
        "the API server validates spec.url"
    );
    objects::create(
        &f.api,
        &git_repository("nohost", &f.selector).url("https:///repo.git"),
    )
    .await;
    objects::create(
        &f.api,
        &git_repository("file", &f.selector).url("file:///etc"),
    )
    .await;
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(1);
    objects::create(
        &f.api,
        &git_repository("down", &f.selector)
            .url(&format!("https://127.0.0.1:{closed_port}/repo.git"))
            .timeout("5s"),
    )
    .await;

    let nohost = wait_for(&f.api, "nohost", Duration::from_secs(30), "stalled", |o| {
        ready_is(o, "False", "URLInvalid")
    })
    .await;
    let conds = nohost.status.clone().unwrap_or_default().conditions;
    assert!(conditions::is_true(&conds, types::STALLED));
    assert!(conditions::get(&conds, types::RECONCILING).is_none());
    assert!(
        ready_message(&nohost).contains("\"https:///repo.git\""),
        "{}",
        ready_message(&nohost)
    );
    let file = wait_for(&f.api, "file", Duration::from_secs(30), "stalled", |o| {
        ready_is(o, "False", "URLInvalid")
    })
    .await;
    assert!(
        ready_message(&file).contains("--allow-file-urls"),
        "{}",
        ready_message(&file)
    );

    let down = wait_for(&f.api, "down", Duration::from_secs(60), "failing", |o| {
        ready_is(o, "False", "GitOperationFailed")
    })
    .await;
    let conds = down.status.unwrap_or_default().conditions;
    assert!(conditions::is_true(&conds, source_types::FETCH_FAILED));
    assert!(
        conditions::is_true(&conds, types::RECONCILING),
        "transient: retried with backoff"
    );
    assert!(conditions::get(&conds, types::STALLED).is_none());

    // Fixing the spec un-stalls the object.
    let patch = serde_json::json!({"spec": {"url": f.server.url("app"), "secretRef": {"name": "auth"}, "ref": {"branch": "main"}}});
    f.api
        .patch("nohost", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    wait_ready(&f.api, "nohost").await;
    f.finish().await;
}

#[tokio::test]
async fn only_the_leader_reconciles_and_another_takes_over() {
    let f = Fixture::new("leader").await;
    let sel = random_id();
    let leader_ns = f.ns.name.clone();
    let fast = [
        "--leader-lease-duration",
        "4s",
        "--leader-retry-period",
        "1s",
    ];
    let mut first = SourceController::start(Options {
        selector: &sel,
        leader_namespace: Some(&leader_ns),
        storage: None,
        extra: &fast,
    })
    .await;
    let leases: Api<Lease> = Api::namespaced(f.client.clone(), &leader_ns);
    let holder = |leases: Api<Lease>| async move {
        leases
            .get_opt("source-controller")
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec?.holder_identity)
            .filter(|h| !h.is_empty())
    };
    let first_holder = weir_tests::wait::until(Duration::from_secs(20), "a leader", || {
        holder(leases.clone())
    })
    .await;
    let second = SourceController::start(Options {
        selector: &sel,
        leader_namespace: Some(&leader_ns),
        storage: None,
        extra: &fast,
    })
    .await;

    objects::create(
        &f.api,
        &git_repository("app", &sel)
            .url(&f.server.url("app"))
            .secret("auth")
            .branch("main"),
    )
    .await;
    let obj = wait_ready(&f.api, "app").await;
    let url = obj
        .status
        .and_then(|s| s.artifact)
        .map(|a| a.url)
        .unwrap_or_default();
    assert!(
        url.contains(&first.storage_addr),
        "the first process leads and serves: {url}"
    );
    let rel = format!("gitrepository/{}/app", f.ns.name);
    assert!(first.storage.join(&rel).exists());
    assert!(
        !second.storage.join(&rel).exists(),
        "the follower must not reconcile"
    );

    assert!(
        first.stop(),
        "graceful shutdown exits 0; log:\n{}",
        first.log()
    );
    let next = weir_tests::wait::until(Duration::from_secs(30), "a new leader", || {
        let leases = leases.clone();
        let first_holder = first_holder.clone();
        async move { holder(leases).await.filter(|h| *h != first_holder) }
    })
    .await;
    assert_ne!(next, first_holder);
    f.repo.commit("after failover");
    objects::request_reconcile(&f.api, "app", "failover").await;
    let obj = f
        .wait_revision("app", &format!("main@sha1:{}", f.repo.head()))
        .await;
    let url = obj
        .status
        .and_then(|s| s.artifact)
        .map(|a| a.url)
        .unwrap_or_default();
    assert!(
        url.contains(&second.storage_addr),
        "the second process now serves: {url}\n{}",
        second.log()
    );
    // The surviving controller removes its finalizer on deletion.
    objects::delete_and_wait(&f.api, "app").await;
    drop(second);
    f.finish().await;
}

#[tokio::test]
async fn events_are_posted_to_the_event_sink_in_flux_shape() {
    let f = Fixture::new("sink").await;
    let sink = EventSink::start().await;
    let sel = random_id();
    let _ctl = SourceController::start(Options {
        selector: &sel,
        leader_namespace: None,
        storage: None,
        extra: &["--events-addr", &sink.url],
    })
    .await;
    objects::create(
        &f.api,
        &git_repository("app", &sel)
            .url(&f.server.url("app"))
            .secret("auth")
            .branch("main"),
    )
    .await;
    let obj = wait_ready(&f.api, "app").await;
    let uid = obj.metadata.uid.clone().unwrap_or_default();
    let revision = format!("main@sha1:{}", f.repo.head());
    let event = weir_tests::wait::until(
        Duration::from_secs(20),
        "a NewArtifact event at the sink",
        || {
            let events = sink.events();
            async move { events.into_iter().find(|e| e["reason"] == "NewArtifact") }
        },
    )
    .await;
    assert_eq!(event["involvedObject"]["kind"], "GitRepository");
    assert_eq!(event["involvedObject"]["apiVersion"], "source.weir.dev/v1");
    assert_eq!(event["involvedObject"]["name"], "app");
    assert_eq!(event["involvedObject"]["namespace"], f.ns.name.as_str());
    assert_eq!(event["involvedObject"]["uid"], uid.as_str());
    assert_eq!(event["severity"], "info");
    assert_eq!(event["reportingController"], "source-controller");
    assert_eq!(
        event["metadata"]["source.weir.dev/revision"],
        revision.as_str()
    );
    assert!(
        event["message"]
            .as_str()
            .is_some_and(|m| m.contains(&f.repo.head())),
        "{event}"
    );
    let timestamp = event["timestamp"].as_str().unwrap_or_default();
    assert!(
        timestamp.parse::<k8s_openapi::jiff::Timestamp>().is_ok(),
        "RFC 3339 timestamp: {timestamp}"
    );

    // A failure is an error event naming the reason.
    let bad = serde_json::json!({"spec": {"ref": {"branch": "missing"}}});
    f.api
        .patch("app", &PatchParams::default(), &Patch::Merge(&bad))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let error = weir_tests::wait::until(
        Duration::from_secs(30),
        "an error event at the sink",
        || {
            let events = sink.events();
            async move { events.into_iter().find(|e| e["severity"] == "error") }
        },
    )
    .await;
    assert_eq!(error["reason"], "GitOperationFailed");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("missing")),
        "{error}"
    );
    objects::delete_and_wait(&f.api, "app").await;
    f.finish().await;
}

#[tokio::test]
async fn the_previous_artifact_is_still_served_while_fetches_fail() {
    let f = Fixture::new("keep").await;
    objects::create(&f.api, &f.git_repository("app").branch("main")).await;
    let good = objects::artifact_of(wait_ready(&f.api, "app").await);
    // Break the credentials: the next fetch fails.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(f.client.clone(), &f.ns.name);
    let wrong = serde_json::json!({"stringData": {"password": "wrong"}});
    secrets
        .patch("auth", &PatchParams::default(), &Patch::Merge(&wrong))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    objects::request_reconcile(&f.api, "app", "broken").await;
    let failing = wait_for(
        &f.api,
        "app",
        Duration::from_secs(60),
        "AuthenticationFailed",
        |o| ready_is(o, "False", "AuthenticationFailed"),
    )
    .await;
    let status = failing.status.unwrap_or_default();
    assert_eq!(
        status.artifact.as_ref().map(|a| &a.digest),
        Some(&good.digest),
        "status keeps the last artifact"
    );
    assert!(conditions::is_true(
        &status.conditions,
        source_types::ARTIFACT_IN_STORAGE
    ));
    let served = reqwest::get(&good.url)
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(served, 200, "the last artifact is still served");
    f.finish().await;
}
