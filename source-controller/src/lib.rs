//! source-controller: reconciles `GitRepository`, `HelmRepository`, `HelmChart` and
//! `OCIRepository` objects into artifacts (reproducible tar.gz, indexes, chart packages),
//! composes them into `ExternalArtifact`s with `ArtifactGenerator`, and serves them over HTTP.

pub mod artifact;
pub mod artifactgenerator;
pub mod chart_build;
pub mod chart_oneshot;
pub mod controller;
pub mod credentials;
pub mod generator;
pub mod git;
pub mod helm_http;
pub mod helmchart;
pub mod helmrepository;
pub mod limits;
pub mod ocirepository;
pub mod oneshot;
pub mod package;
pub mod reference;
pub mod run;
pub mod sourceignore;
pub mod sources;
