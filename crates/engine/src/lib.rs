//! chipmarket-engine: a discrete-event simulator of China's data-centre AI-accelerator
//! market. Pure: it takes a validated [`Scenario`] and a replication number and hands the
//! rows of the run to a [`Sink`] as they happen ([`run_with_sink`]) or returns them all in a
//! [`RunReport`] ([`run`]); it never touches files, the environment, the wall clock or a
//! global RNG.
//!
//! ```
//! use chipmarket_engine::{run, RunOptions, Scenario};
//!
//! let text = r#"
//! [scenario]
//! name = "tiny"
//! start = "2024-01-01"
//! horizon_years = 2
//!
//! [demand]
//! installed_start_pflops = 1000.0
//! saturation_pflops = 50000.0
//!
//! [[firms]]
//! id = "acme"
//! origin = "domestic"
//! capacity_units_per_quarter = 20000.0
//! [[firms.chips]]
//! id = "acme_1"
//! launch = "2023-06-01"
//! bf16_tflops = 300.0
//! unit_cost_usd = 5000.0
//!
//! [[customers]]
//! id = "cloud"
//! kind = "hyperscaler"
//! demand_share = 1.0
//! "#;
//! let scenario = Scenario::from_toml_str(text).unwrap();
//! let report = run(&scenario, 0, RunOptions::default()).unwrap();
//! assert_eq!(report.market.len(), 8); // eight quarters
//! let delivered: f64 = report.market.iter().map(|q| q.delivered_pflops).sum();
//! assert!(delivered > 0.0);
//! ```

#![deny(clippy::print_stdout, clippy::print_stderr, clippy::dbg_macro)]

pub mod abc;
pub(crate) mod allocation;
pub mod analysis;
pub mod calendar;
pub mod calibration;
mod error;
pub mod fit;
pub(crate) mod market;
pub mod observe;
pub(crate) mod policy;
pub mod rng;
pub mod scenario;
pub mod sim;
pub(crate) mod supply;
pub mod sweep;

pub use error::{InvariantError, RunError};
pub use observe::{RunOptions, RunReport, Sink};
pub use scenario::{Scenario, ScenarioError};

use calendar::{Calendar, Date};
use market::MarketModel;
use policy::PolicyBook;
use sim::{EventQueue, Simulation};
use supply::SupplyNetwork;

/// The last day of a scenario's horizon: the date of its end tick (a ten-year horizon from
/// 2022-01-01 ends on 2032-01-01, at midnight).
pub fn horizon_end(scenario: &Scenario) -> Date {
    let cal = Calendar::new(scenario.scenario.start);
    cal.date_of(market::end_tick(scenario, &cal))
}

/// The supply network of a scenario on `at`, with the links the regime scheduled then cuts
/// drawn as cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplyDot {
    /// The regime in force on `at` by the schedule.
    pub regime: String,
    /// The graph in Graphviz DOT.
    pub dot: String,
}

/// [`SupplyDot`] of `scenario` on `at` (`chipmarket graph`).
pub fn dot_at(scenario: &Scenario, at: Date) -> SupplyDot {
    let cal = Calendar::new(scenario.scenario.start);
    let policy = PolicyBook::new(scenario, &cal);
    let regime = policy.scheduled_at(cal.tick_of(at));
    let mut net = SupplyNetwork::new(scenario, &cal);
    net.set_regime(&policy.regimes[regime].cut_links);
    SupplyDot { regime: policy.names[regime].clone(), dot: net.to_dot(scenario) }
}

/// Run replication `replication` of a validated scenario to its horizon and keep every row.
///
/// Every random draw comes from streams derived from the scenario's seed, the replication
/// and the stream's name, so the same inputs always give the same report.
pub fn run(scenario: &Scenario, replication: u32, options: RunOptions) -> Result<RunReport, RunError> {
    let mut report = RunReport::default();
    run_with_sink(scenario, replication, options, &mut report)?;
    Ok(report)
}

/// Run replication `replication` of a validated scenario to its horizon, handing its rows to
/// `sink` as they happen (see [`observe`] for what comes when). The engine keeps only what
/// the model needs (open tenders and contracts), so memory does not grow with the rows.
pub fn run_with_sink(
    scenario: &Scenario,
    replication: u32,
    options: RunOptions,
    sink: &mut dyn Sink,
) -> Result<(), RunError> {
    let mut queue = EventQueue::with_capacity(1024);
    let market = MarketModel::new(scenario, replication, options, sink, &mut queue);
    let mut sim = Simulation::with_queue(market, queue);
    while sim.step()?.is_some() {}
    let events = sim.events_processed();
    sim.into_model().finish(events);
    Ok(())
}
