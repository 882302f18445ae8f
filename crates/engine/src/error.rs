//! Errors of the engine: [`SimError`] for the kernel and the model at run time.
//!
//! Scenario errors live with the scenario schema ([`crate::scenario::ScenarioError`]),
//! because they carry the key path that only that layer knows.

use crate::sim::SimTime;

/// A failure while a simulation runs. Every variant is fatal for the run that raised
/// it: `step` returns it and the run stops. A validated scenario never raises one;
/// if it does, that is a bug in the engine.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// An event was scheduled before the current simulated time.
    #[error("cannot schedule an event at tick {at} before the current time, tick {now}")]
    ScheduleInPast {
        /// The current time.
        now: SimTime,
        /// The requested time.
        at: SimTime,
    },
    /// `run_until` was asked to stop at a time already passed.
    #[error("cannot run until tick {until}: the clock is already at tick {now}")]
    UntilInPast {
        /// The current time.
        now: SimTime,
        /// The requested stop time.
        until: SimTime,
    },
    /// The market model found its state inconsistent (an engine bug).
    #[error("model invariant broken: {0}")]
    Invariant(String),
}
