//! helm-controller: reconciles HelmReleases. The release's state is computed from what is
//! observed ([`state`]) and the next action chosen from it ([`next_action`]), both pure; the
//! actions do the I/O.

pub mod next_action;
pub mod state;
pub mod values;
