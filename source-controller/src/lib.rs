//! source-controller: reconciles `GitRepository` objects into reproducible tar.gz artifacts
//! and serves them over HTTP.

pub mod controller;
pub mod git;
pub mod limits;
pub mod oneshot;
pub mod package;
pub mod reference;
pub mod run;
pub mod sourceignore;
