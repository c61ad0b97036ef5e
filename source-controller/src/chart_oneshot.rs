//! One HelmRepository index fetch + HelmChart pull outside Kubernetes, through the same
//! functions as the reconcilers (index download and normalisation, version resolution, chart
//! download, verification, storage). Used by `cargo xtask bench chart-source`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use weir_api::meta::Artifact;
use weir_shared::storage::Storage;

use crate::chart_build::{self, BuildRequest, ChartOrigin};
use crate::credentials::TlsMaterial;
use crate::helm_http::RepoClient;
use crate::helmrepository;
use crate::sources::{DEFAULT_HELM_CHART_MAX_BYTES, DEFAULT_HELM_INDEX_MAX_BYTES, SourceSettings};

/// Fetch a repository index, resolve a chart version and store the chart.
#[derive(Parser, Debug)]
pub struct Args {
    /// Repository URL (`http://` or `https://`).
    #[arg(long)]
    pub url: String,
    /// Chart name.
    #[arg(long)]
    pub chart: String,
    /// Version range.
    #[arg(long, default_value = "*")]
    pub version: String,
    /// Storage root for the index and chart artifacts.
    #[arg(long)]
    pub storage: PathBuf,
}

/// Runs once; prints the stored chart's path.
///
/// # Errors
/// Any download, resolution, verification or storage failure.
pub fn run(args: &Args) -> anyhow::Result<()> {
    weir_shared::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(pull(args))
}

async fn pull(args: &Args) -> anyhow::Result<()> {
    let storage = Storage::new(&args.storage, "localhost");
    let client = RepoClient::new(
        &args.url,
        None,
        &TlsMaterial::default(),
        false,
        Duration::from_secs(60),
    )
    .map_err(anyhow::Error::msg)?;
    let index = helmrepository::download_index(&client, &args.url, DEFAULT_HELM_INDEX_MAX_BYTES)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let revision = weir_shared::storage::digest_of(&index);
    let path = format!(
        "helmrepository/local/oneshot/index-{}.json",
        revision.trim_start_matches("sha256:")
    );
    let written = storage.write(&path, &index)?;
    let index_artifact = Artifact {
        path: written.path.clone(),
        url: storage.url_for(&written.path),
        revision,
        digest: written.digest,
        size: None,
        last_update_time: Time(k8s_openapi::jiff::Timestamp::now()),
        metadata: std::collections::BTreeMap::new(),
    };
    let settings = SourceSettings {
        storage: storage.clone(),
        artifact_retention: 1,
        helm_index_max_bytes: DEFAULT_HELM_INDEX_MAX_BYTES,
        helm_chart_max_bytes: DEFAULT_HELM_CHART_MAX_BYTES,
        artifact_max_bytes: 1 << 30,
        work_dir: args.storage.join(".work"),
    };
    let request = BuildRequest {
        chart: args.chart.clone(),
        version: args.version.clone(),
        values_files: Vec::new(),
        ignore_missing_values_files: false,
        revision_strategy: false,
        generation: 1,
        current: None,
        origin: ChartOrigin::Repository {
            url: args.url.clone(),
            index: index_artifact,
            client,
        },
    };
    let built = chart_build::build(request, &settings)
        .await
        .map_err(|e| match e {
            chart_build::BuildError::Fetch(e) | chart_build::BuildError::Build(e) => {
                anyhow::anyhow!("{}", e.message)
            }
        })?;
    let bytes = built
        .bytes
        .ok_or_else(|| anyhow::anyhow!("nothing built"))?;
    let path = format!(
        "helmchart/local/oneshot/{}-{}.tgz",
        built.name, built.version
    );
    storage.write(&path, &bytes)?;
    println!("{}", args.storage.join(path).display());
    Ok(())
}
