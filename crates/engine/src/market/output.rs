//! Where the model's rows go: the run's [`Sink`], the [`Catalog`] the rows name things by,
//! the options that say which rows are wanted, and the table of the horizon's dates.

use super::backlog::Contract;
use super::roster::ChipState;
use crate::calendar::DayTable;
use crate::observe::{
    Catalog, ChipQuarter, ContractRow, EventRow, FirmQuarter, MarketQuarter, RunOptions, Sink, Summary,
};
use crate::sim::SimTime;

/// The model's outlet; see the [module docs](self).
pub(super) struct Out<'s> {
    sink: &'s mut dyn Sink,
    /// Names the rows refer to (chip names are added as chips appear).
    catalog: Catalog,
    options: RunOptions,
    /// The dates of the horizon's days (rows name dates).
    days: DayTable,
}

impl<'s> Out<'s> {
    pub(super) fn new(sink: &'s mut dyn Sink, catalog: Catalog, options: RunOptions, days: DayTable) -> Out<'s> {
        Out { sink, catalog, options, days }
    }

    /// Whether quarter rows, tenders and contracts are recorded.
    pub(super) fn rows(&self) -> bool {
        self.options.record_rows
    }

    /// Trace an event of `kind` at `now` (when tracing), naming what `ids` gives.
    pub(super) fn trace(&mut self, now: SimTime, kind: &'static str, ids: impl FnOnce() -> String) {
        if self.options.trace {
            let ids = ids();
            self.sink.event(&self.catalog, &EventRow { time: self.days.date_of(now), kind, ids });
        }
    }

    /// Add the names of chips created since the last call to the catalogue.
    pub(super) fn sync_chip_names(&mut self, chips: &[ChipState]) {
        while let Some(c) = chips.get(self.catalog.chip_ids.len()) {
            self.catalog.chip_ids.push(c.id.clone());
        }
    }

    /// Tender `id` opened with `budget` [USD].
    pub(super) fn tender(&mut self, id: u32, budget: f64) {
        if self.options.record_rows {
            self.sink.tender(u64::from(id), budget);
        }
    }

    /// The row of contract `id`, final now.
    pub(super) fn contract(&mut self, id: usize, c: &Contract, chips: &[ChipState]) {
        if !self.options.record_rows {
            return;
        }
        self.sync_chip_names(chips);
        let row = ContractRow {
            contract: id as u64,
            tender: u64::from(c.tender()),
            customer: c.customer(),
            firm: c.firm(),
            chip: c.chip(),
            awarded_on: self.days.date_of(c.awarded()),
            units: c.units(),
            compute_pflops: c.units() as f64 * chips[c.chip()].pflops_per_unit(),
            value_usd: c.units() as f64 * c.unit_price(),
            delivered_units: c.delivered(),
            status: c.status(),
            closed_on: (!c.open()).then(|| self.days.date_of(c.closed())),
        };
        self.sink.contract(&self.catalog, &row);
    }

    pub(super) fn firm_quarter(&mut self, row: &FirmQuarter) {
        self.sink.firm_quarter(&self.catalog, row);
    }

    pub(super) fn market_quarter(&mut self, row: &MarketQuarter) {
        self.sink.market_quarter(&self.catalog, row);
    }

    pub(super) fn chip_quarter(&mut self, row: &ChipQuarter) {
        self.sink.chip_quarter(&self.catalog, row);
    }

    /// The end of the run: its KPIs.
    pub(super) fn end(&mut self, chips: &[ChipState], summary: Summary, events_processed: u64) {
        self.sync_chip_names(chips);
        self.sink.end(&self.catalog, summary, events_processed);
    }
}
