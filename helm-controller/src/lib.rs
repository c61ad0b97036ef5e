//! helm-controller: reconciles HelmReleases on the shared driver ([`controller`]). The
//! release's state is computed from what is observed ([`observe`], [`state`]) and the next
//! action chosen from it ([`next_action`]), all pure; [`actions`] do the I/O against the
//! cluster and Helm's release storage ([`storage`]); [`values`] composes the values; process
//! wiring lives in [`run`].

pub mod actions;
pub mod controller;
pub mod next_action;
pub mod observe;
pub mod run;
pub mod state;
pub mod storage;
pub mod values;
