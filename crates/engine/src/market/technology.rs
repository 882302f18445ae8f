//! Technology and funding: roadmap launches, R&D-driven next generations, funding events.
//!
//! The time to a next generation is Gamma-distributed around a mean set by R&D spend (clamped
//! to a quarter and four times `cycle_years`), and never shorter than
//! [`MIN_GENERATION_GAP_YEARS`], so no parameter or R&D budget can make generations pile up.

use rand_distr::{Distribution, Gamma, LogNormal};

use super::ledger::Ledger;
use super::roster::{ChipState, Roster};
use super::setup::{ticks_of_years, World};
use super::{Event, MarketModel};
use crate::calendar::TICKS_PER_YEAR;
use crate::scenario::FundingKind;
use crate::sim::{EventQueue, SimTime};

/// Shortest time between two generations of one firm [years]: one month. A Gamma draw can be
/// close to zero; without a floor a short cycle means a generation every tick.
pub(crate) const MIN_GENERATION_GAP_YEARS: f64 = 1.0 / 12.0;

/// A roadmap chip goes on sale; a firm's last roadmap chip starts its R&D toward the next
/// generation.
pub(super) fn on_launch(m: &mut MarketModel, ci: usize, now: SimTime, queue: &mut EventQueue<Event>) {
    let MarketModel { world, roster, ledger, out, .. } = m;
    roster.launch(ci);
    let fi = roster.chips[ci].firm;
    out.trace(now, "chip_launch", || roster.chips[ci].id.clone());
    if ci == roster.firms[fi].last_roadmap_chip && world.s.firms[fi].next_gen.is_some() {
        schedule_next_gen(world, roster, ledger, fi, now, queue);
    }
}

/// Draw when firm `fi`'s next generation comes, from its R&D spend.
pub(super) fn schedule_next_gen(
    world: &World,
    roster: &mut Roster,
    ledger: &Ledger,
    fi: usize,
    now: SimTime,
    queue: &mut EventQueue<Event>,
) {
    let Some(ng) = &world.s.firms[fi].next_gen else { return };
    let spend = ledger.rd_annual(fi, roster.firms[fi].rd_floor).max(1.0);
    let mean = (ng.cycle_years * (ng.rd_reference_usd_per_year / spend).powf(ng.rd_elasticity))
        .clamp(ng.cycle_years / 4.0, ng.cycle_years * 4.0);
    let delay =
        Gamma::new(ng.cycle_shape, mean / ng.cycle_shape).map_or(mean, |g| g.sample(&mut roster.firms[fi].rd_stream));
    let delay = if delay.is_finite() { delay.max(MIN_GENERATION_GAP_YEARS) } else { mean };
    let at = now.saturating_add(ticks_of_years(delay));
    if at < world.end {
        queue.schedule_in(at.ticks() - now.ticks(), Event::NextGen(fi as u32).priority(), Event::NextGen(fi as u32));
    }
}

/// Firm `fi`'s R&D produces its next generation: faster than its best chip by a lognormal
/// gain (capped by its foundry node), on sale at once; the chip it supersedes leaves sale
/// after `supersede_quarters`.
pub(super) fn on_next_gen(m: &mut MarketModel, fi: usize, now: SimTime, queue: &mut EventQueue<Event>) {
    let MarketModel { world, roster, supply, backlog, ledger, out, .. } = m;
    let s = world.s;
    let Some(ng) = &s.firms[fi].next_gen else { return };
    let Some(&prev) =
        roster.firms[fi].chips.iter().max_by(|&&a, &&b| roster.chips[a].tflops.total_cmp(&roster.chips[b].tflops))
    else {
        return;
    };
    let gain = LogNormal::new(ng.gain_median.ln(), ng.gain_sigma)
        .map_or(ng.gain_median, |d| d.sample(&mut roster.firms[fi].rd_stream));
    let cap = ng.max_tflops.unwrap_or(f64::INFINITY).min(supply.node_cap(fi));
    let base = &roster.chips[prev];
    let tflops = (base.tflops * gain).min(cap).max(base.tflops);
    roster.firms[fi].generation += 1;
    let f = &s.firms[fi];
    let unit_cost = base.unit_cost * ng.cost_growth;
    let id = format!("{}_gen{}", f.id, roster.firms[fi].generation);
    out.trace(now, "next_generation", || format!("{} {}", f.id, id));
    let chip = ChipState {
        id,
        firm: fi,
        tflops,
        tpp: tflops * 16.0,
        unit_cost,
        list_price: unit_cost / (1.0 - f.gross_margin_target),
        hbm_stacks: base.hbm_stacks,
        dies_per_wafer: base.dies_per_wafer,
        launch: now,
        // Memory and bandwidth grow with the square root of the compute gain (an
        // assumption: memory has scaled slower than compute); power stays.
        memory_gb: base.memory_gb * (tflops / base.tflops).sqrt(),
        bandwidth_tbps: base.bandwidth_tbps * (tflops / base.tflops).sqrt(),
        tdp_w: base.tdp_w,
        foundries: base.foundries.clone(),
        ..ChipState::default()
    }
    .ready(&world.policy);
    let ci = roster.add_chip(chip);
    backlog.add_chip();
    ledger.add_chip();
    roster.launch(ci);
    let sunset = now.saturating_add(u64::from(s.market.supersede_quarters) * (TICKS_PER_YEAR / 4.0) as u64);
    let old = &mut roster.chips[prev];
    old.end_of_sale = Some(old.end_of_sale.map_or(sunset, |e| e.min(sunset)));
    schedule_next_gen(world, roster, ledger, fi, now, queue);
}

/// A funding event of firm `fi`: cash raised (an IPO at a multiple of trailing revenue,
/// with a premium for growth), and perhaps a higher R&D floor or more capacity.
pub(super) fn on_funding(m: &mut MarketModel, fi: usize, ei: usize, now: SimTime) {
    let MarketModel { world, roster, supply, ledger, out, .. } = m;
    let ev = &world.s.firms[fi].funding[ei];
    let (raised, valuation) = match ev.kind {
        FundingKind::Ipo => {
            let h = ledger.revenue_history(fi);
            let n = h.len();
            let trailing: f64 = h.iter().skip(n.saturating_sub(4)).sum();
            let before: f64 = h.iter().skip(n.saturating_sub(8)).take(n.saturating_sub(4).min(4)).sum();
            let growth = if before > 0.0 { trailing / before - 1.0 } else { 0.0 };
            let multiple = (ev.ev_sales_multiple + ev.ev_sales_growth_premium * growth).max(0.0);
            let valuation = multiple * trailing;
            (ev.float_share * valuation, Some(valuation))
        }
        _ => (ev.amount_usd, None),
    };
    ledger.fund(fi, raised, valuation);
    let f = &mut roster.firms[fi];
    if let Some(floor) = ev.rd_floor_usd_per_year {
        f.rd_floor = floor;
    }
    if let Some(k) = ev.capacity_multiplier {
        f.capacity_per_quarter *= k;
        supply.scale_firm_weights(fi, k);
    }
    out.trace(now, "funding", || format!("{} {}", world.s.firms[fi].id, ev.id));
}
