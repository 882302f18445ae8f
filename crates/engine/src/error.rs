//! Errors of a run: [`RunError`], what [`crate::run`] fails with, is either a misuse of the
//! kernel ([`KernelError`], defined with it) or the market model finding its own state
//! inconsistent ([`InvariantError`]). Either is a bug in the engine: a validated scenario
//! never raises one.
//!
//! Scenario errors live with the scenario schema ([`crate::scenario::ScenarioError`]),
//! because they carry the key path that only that layer knows.

use crate::sim::KernelError;

/// The market model found its state inconsistent (its debug-build checks, every quarter).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model invariant broken: {0}")]
pub struct InvariantError(pub String);

/// A failure while a replication runs. Fatal for the run that raised it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The kernel was asked for a time before its clock.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// The model's invariants are broken.
    #[error(transparent)]
    Invariant(#[from] InvariantError),
}
