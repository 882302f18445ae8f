//! `chipmarket graph [SCENARIO] [--at DATE]`: the supply network as Graphviz DOT.

use anyhow::Result;

use chipmarket_engine::calendar::{Calendar, Date};
use chipmarket_engine::policy::PolicyBook;
use chipmarket_engine::supply::SupplyNetwork;

use crate::cli::GraphArgs;
use crate::console::out;
use crate::error::InputError;
use crate::load;

/// Print the graph, with links cut by the regime scheduled at `--at` drawn as cut.
pub fn graph(args: &GraphArgs) -> Result<()> {
    let (scenario, _) = load::scenario(args.scenario.as_deref(), &[])?;
    let cal = Calendar::new(scenario.scenario.start);
    let at = match &args.at {
        None => scenario.scenario.start,
        Some(text) => Date::parse(text).ok_or_else(|| {
            InputError::new(format!("--at: expected a date written YYYY-MM-DD, found \"{text}\""))
                .with_hint("for example --at 2026-01-15")
        })?,
    };
    let policy = PolicyBook::new(&scenario, &cal);
    let regime = policy.scheduled_at(cal.tick_of(at));
    let mut net = SupplyNetwork::new(&scenario, &cal);
    net.set_regime(&policy.regimes[regime].cut_links);
    out!("// regime in force on {at} by the schedule: {}\n{}", policy.names[regime], net.to_dot(&scenario))?;
    Ok(())
}
