//! One fetch + package + store outside Kubernetes, through the same code path as the
//! reconciler. Used by `cargo xtask bench source` and for debugging a repository.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::Parser;
use weir_shared::storage::Storage;

use crate::git::{self, Auth, FetchRequest};
use crate::limits::Limits;
use crate::package;
use crate::reference;

/// Fetch a Git reference once and write its artifact.
#[derive(Parser, Debug)]
pub struct Args {
    /// Repository URL (`file://` allowed here).
    #[arg(long)]
    pub url: String,
    /// Branch to fetch.
    #[arg(long, default_value = "master")]
    pub branch: String,
    /// Git cache folder (reused between runs: a second run fetches nothing new).
    #[arg(long)]
    pub cache: PathBuf,
    /// Storage root for the artifact.
    #[arg(long)]
    pub storage: PathBuf,
}

/// Runs one fetch. Prints the revision, digest and whether anything was fetched.
///
/// # Errors
/// Any Git, packaging or storage failure.
pub fn run(args: &Args) -> anyhow::Result<()> {
    weir_shared::install_crypto_provider();
    let plan = reference::RefPlan::Branch(args.branch.clone());
    let interrupt = AtomicBool::new(false);
    let auth = Auth::default();
    let req = FetchRequest {
        url: &args.url,
        plan: &plan,
        auth: &auth,
        cache_dir: &args.cache,
        timeout: Duration::from_secs(120),
        interrupt: &interrupt,
    };
    let storage = Storage::new(&args.storage, "localhost");
    let resolved = git::resolve_remote(&req).map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = format!("gitrepository/local/oneshot/{}.tar.gz", resolved.commit);
    if storage.exists(&path) {
        println!("{} unchanged", resolved.revision);
        return Ok(());
    }
    let limits = Limits::default();
    let tree = git::fetch_tree(&req, &resolved, &limits).map_err(|e| anyhow::anyhow!("{e}"))?;
    let count = tree
        .entries
        .iter()
        .filter(|e| matches!(e.kind, git::EntryKind::File { .. }))
        .count();
    let stored = package::pack_to_storage(&tree, None, &limits, &storage, &path, &interrupt)
        .map_err(|e| anyhow::anyhow!(e))?;
    println!(
        "{} {} files {} {} bytes",
        resolved.revision, count, stored.digest, stored.size
    );
    Ok(())
}
