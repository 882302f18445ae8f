//! Set-up of one replication: the run's fixed frame ([`World`]: scenario, calendar,
//! horizon, demand curves, policy book), the initial state of every part of the
//! [`MarketModel`] and its first events; and the conversions between ticks, years and whole
//! units the model uses everywhere.

use rand_distr::{Distribution, Normal};

use super::backlog::Backlog;
use super::demand::DemandCurve;
use super::ledger::Ledger;
use super::output::Out;
use super::roster::{known_or, ChipState, CustomerState, FirmState, Roster};
use super::roster::{UNKNOWN_BANDWIDTH_TBPS, UNKNOWN_MEMORY_GB, UNKNOWN_TDP_W};
use super::technology::schedule_next_gen;
use super::tenders::{draw_interarrival, Tenders};
use super::{Event, MarketModel};
use crate::calendar::{Calendar, Date, DayTable, TICKS_PER_DAY, TICKS_PER_YEAR};
use crate::observe::{Catalog, RunOptions, Sink};
use crate::policy::PolicyBook;
use crate::rng::stream;
use crate::scenario::Scenario;
use crate::sim::{EventQueue, SimTime};
use crate::supply::SupplyNetwork;

/// What a replication reads and never changes.
pub(super) struct World<'s> {
    pub s: &'s Scenario,
    pub cal: Calendar,
    /// The end of the horizon.
    pub end: SimTime,
    /// Ticks between two production ticks.
    pub tick_len: u64,
    pub demand: DemandCurve,
    pub policy: PolicyBook,
}

/// `x as u64` (whole units: rounds toward zero, 0 for a negative number or NaN, saturating),
/// computed through the signed conversion, which takes fewer instructions, wherever that
/// gives the same result.
pub(super) fn whole(x: f64) -> u64 {
    if x < 9.0e18 {
        x.max(0.0) as i64 as u64
    } else {
        x as u64
    }
}

/// Years in `ticks`.
pub(super) fn years(ticks: u64) -> f64 {
    ticks as f64 / TICKS_PER_YEAR
}

/// Ticks in `years` (at least one).
pub(super) fn ticks_of_years(years: f64) -> u64 {
    (years * TICKS_PER_YEAR).round().clamp(1.0, 1e15) as u64
}

/// The tick at which the horizon ends: whole months are added on the calendar, so a
/// ten-year horizon from 2022-01-01 ends exactly at 2032-01-01.
pub fn end_tick(s: &Scenario, cal: &Calendar) -> SimTime {
    let months = s.scenario.horizon_years * 12.0;
    let start = s.scenario.start.0;
    let end_date = if (months - months.round()).abs() < 1e-9 {
        start.checked_add_months(chrono::Months::new(months.round() as u32))
    } else {
        start.checked_add_days(chrono::Days::new((s.scenario.horizon_years * 365.25).round() as u64))
    };
    end_date.map_or(SimTime(ticks_of_years(s.scenario.horizon_years)), |d| cal.tick_of(Date(d)))
}

/// The roster at the start of replication `replication`: the roadmap chips (launch dates
/// slipped by each firm's `launch/<firm>` stream), firms and customers with their streams.
fn roster(s: &Scenario, replication: u32, cal: &Calendar, policy: &PolicyBook) -> Roster {
    let seed = s.scenario.seed;
    let mut chips = Vec::new();
    let mut firms = Vec::with_capacity(s.firms.len());
    for (fi, f) in s.firms.iter().enumerate() {
        let mut launch_stream = stream(seed, replication, &format!("launch/{}", f.id));
        let mut ids = Vec::new();
        for c in &f.chips {
            let mut launch = cal.tick_of(c.launch);
            if f.launch_slip_sd_days > 0.0 && c.launch > s.scenario.start {
                let slip = Normal::new(0.0, f.launch_slip_sd_days).map_or(0.0, |n| n.sample(&mut launch_stream));
                launch = launch.saturating_add((slip.max(0.0) * TICKS_PER_DAY as f64) as u64);
            }
            ids.push(chips.len());
            chips.push(
                ChipState {
                    id: c.id.clone(),
                    firm: fi,
                    tflops: c.bf16_tflops,
                    tpp: c.tpp(),
                    unit_cost: c.unit_cost_usd,
                    list_price: c.price_usd.unwrap_or(c.unit_cost_usd / (1.0 - f.gross_margin_target)),
                    hbm_stacks: c.hbm_stacks,
                    dies_per_wafer: c.dies_per_wafer,
                    launch,
                    end_of_sale: c.end_of_sale.map(|d| cal.tick_of(d)),
                    memory_gb: known_or(c.memory_gb, UNKNOWN_MEMORY_GB),
                    bandwidth_tbps: known_or(c.memory_bandwidth_tbps, UNKNOWN_BANDWIDTH_TBPS),
                    tdp_w: known_or(c.tdp_w, UNKNOWN_TDP_W),
                    foundries: c
                        .foundries
                        .iter()
                        .filter_map(|id| s.suppliers.iter().position(|x| x.id == *id))
                        .collect(),
                    ..ChipState::default()
                }
                .ready(policy),
            );
        }
        let streams = (
            stream(seed, replication, &format!("rd/{}", f.id)),
            stream(seed, replication, &format!("licence/{}", f.id)),
        );
        firms.push(FirmState::new(f, s.market.reference_win_rate, ids, streams));
    }
    let customers = s
        .customers
        .iter()
        .map(|c| CustomerState {
            kind: c.kind,
            rate_per_year: c.tenders_per_year.unwrap_or(s.demand.tenders_per_year),
            carry_usd: 0.0,
            relationship: s.firms.iter().map(|f| c.relationships.get(&f.id).copied().unwrap_or(0.0)).collect(),
            tender_stream: stream(seed, replication, &format!("tenders/{}", c.id)),
            award_stream: stream(seed, replication, &format!("award/{}", c.id)),
        })
        .collect();
    Roster { chips, firms, customers }
}

impl<'s> MarketModel<'s> {
    /// Build the initial state of replication `replication`, whose rows go to `sink`, and
    /// schedule its first events.
    pub fn new(
        s: &'s Scenario,
        replication: u32,
        options: RunOptions,
        sink: &'s mut dyn Sink,
        queue: &mut EventQueue<Event>,
    ) -> MarketModel<'s> {
        let seed = s.scenario.seed;
        let cal = Calendar::new(s.scenario.start);
        let end = end_tick(s, &cal);
        let mid = s.demand.inference_midpoint.map_or(5.0, |d| cal.years_to(d));
        let policy = PolicyBook::new(s, &cal);
        let supply = SupplyNetwork::new(s, &cal);
        let roster = roster(s, replication, &cal, &policy);
        let catalog = Catalog {
            replication,
            seed,
            firm_ids: s.firms.iter().map(|f| f.id.clone()).collect(),
            customer_ids: s.customers.iter().map(|c| c.id.clone()).collect(),
            chip_ids: Vec::new(),
            regime_names: policy.names.clone(),
        };
        let mut market = MarketModel {
            regime: policy.initial,
            policy_stream: stream(seed, replication, "policy"),
            out: Out::new(sink, catalog, options, DayTable::new(cal, end)),
            world: World {
                s,
                cal,
                end,
                tick_len: u64::from(s.scenario.tick_days) * TICKS_PER_DAY,
                demand: DemandCurve::new(&s.demand, mid),
                policy,
            },
            supply,
            backlog: Backlog::new(roster.firms.len(), roster.chips.len()),
            ledger: Ledger::new(s, roster.chips.len()),
            roster,
            tenders: Tenders::new(),
            production: Default::default(),
            award: Default::default(),
            #[cfg(test)]
            keep_records: false,
            #[cfg(test)]
            peak_kept: 0,
        };
        market.schedule_start(queue);
        market
    }

    /// The first events: launches, R&D, funding, the policy schedule and switching, the
    /// first production tick, each customer's first tender, the first quarter's end and
    /// the end of the horizon.
    fn schedule_start(&mut self, queue: &mut EventQueue<Event>) {
        let MarketModel { world, roster, ledger, supply, regime, .. } = self;
        let s = world.s;
        let end = world.end;
        let push = |queue: &mut EventQueue<Event>, at: SimTime, ev: Event| {
            // Everything at or after the end is dropped: it cannot matter.
            if at < end {
                queue.schedule_in(at.ticks(), ev.priority(), ev);
            }
        };
        // Chips already on the market at start launch at once (no event).
        for ci in 0..roster.chips.len() {
            if roster.chips[ci].launch == SimTime::ZERO {
                roster.launch(ci);
            } else {
                push(queue, roster.chips[ci].launch, Event::Launch(ci as u32));
            }
        }
        for (fi, f) in s.firms.iter().enumerate() {
            if f.next_gen.is_some() && roster.chips[roster.firms[fi].last_roadmap_chip].launched {
                schedule_next_gen(world, roster, ledger, fi, SimTime::ZERO, queue);
            }
            for (ei, ev) in f.funding.iter().enumerate() {
                let at = world.cal.tick_of(ev.date);
                if ev.date >= s.scenario.start {
                    push(queue, at, Event::Funding(fi as u32, ei as u32));
                }
            }
        }
        for &(at, r) in &world.policy.scheduled {
            push(queue, at, Event::Regime { regime: r as u32, markov: false });
        }
        for (i, entry) in s.policy.schedule.iter().enumerate() {
            if let Some(announced) = entry.announced {
                if announced > s.scenario.start && announced < entry.date {
                    push(queue, world.cal.tick_of(announced), Event::Announce(i as u32));
                }
            }
        }
        if let Some((from, _)) = &world.policy.switching {
            push(queue, *from, Event::SwitchingStarts);
        }
        supply.set_regime(&world.policy.regimes[*regime].cut_links);
        push(queue, SimTime::ZERO, Event::Production);
        for (ci, c) in roster.customers.iter_mut().enumerate() {
            let dt = draw_interarrival(c);
            push(queue, SimTime(dt), Event::TenderArrival(ci as u32));
        }
        let next_q = world.cal.tick_of(ledger.quarter().next().first_day()).min(end);
        push(queue, next_q, Event::QuarterEnd);
        queue.schedule_in(end.ticks(), Event::End.priority(), Event::End);
    }
}
