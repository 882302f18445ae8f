//! `chipmarket graph [SCENARIO] [--at DATE]`: the supply network as Graphviz DOT.

use anyhow::Result;

use chipmarket_engine::calendar::Date;
use chipmarket_engine::dot_at;

use crate::cli::GraphArgs;
use crate::console::out;
use crate::error::InputError;
use crate::load;

/// Print the graph, with links cut by the regime scheduled at `--at` drawn as cut.
pub fn graph(args: &GraphArgs) -> Result<()> {
    let (scenario, _) = load::scenario(args.scenario.as_deref(), &[])?;
    let at = match &args.at {
        None => scenario.scenario.start,
        Some(text) => Date::parse(text).ok_or_else(|| {
            InputError::new(format!("--at: expected a date written YYYY-MM-DD, found \"{text}\""))
                .with_hint("for example --at 2026-01-15")
        })?,
    };
    let graph = dot_at(&scenario, at);
    out!("// regime in force on {at} by the schedule: {}\n{}", graph.regime, graph.dot)?;
    Ok(())
}
