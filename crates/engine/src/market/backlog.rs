//! The backlog: every contract still kept (the [`Book`] of contracts), each firm's queue of
//! the contracts it owes (first in, first out) and the counters kept from them: units owed
//! per firm and per chip, queue entries per chip (all of them, and those still active) and
//! closed entries per firm not yet removed.
//!
//! **Owner invariant.** Only this module writes a backlog counter or changes a contract:
//! the counters are private fields of [`Backlog`] and a contract's setters are visible to
//! this module alone (`contract.rs` is its child), so the compiler refuses a write from
//! anywhere else. Everything the model does to a contract goes through [`Backlog::sign`],
//! [`Backlog::activate`], [`Backlog::close`] and [`Backlog::deliver`], which keep the
//! counters equal to what the contracts say; [`Backlog::check`] re-derives them from the
//! contracts (debug builds, every quarter).

mod contract;

use std::ops::Range;

use super::book::Book;
use super::roster::ChipState;
use crate::error::InvariantError;
use crate::observe::ContractStatus;
use crate::sim::SimTime;

pub(super) use contract::{Contract, Signing};

/// The contracts and the counters kept from them; see the [module docs](self).
#[derive(Debug)]
pub(super) struct Backlog {
    /// Contracts, kept until they close (and every one before them has).
    contracts: Book<Contract>,
    /// Per firm: the contracts it owes, in the order they entered (FIFO delivery). A
    /// contract closed early (cut, cancelled) stays until the next delivery pass removes it.
    queues: Vec<Vec<u32>>,
    /// Per firm: entries of its queue closed early and not yet removed.
    stale: Vec<u32>,
    /// Per firm: units owed on its active contracts.
    firm_owed: Vec<u64>,
    /// Per chip: units owed on active contracts.
    chip_owed: Vec<u64>,
    /// Per chip: entries of its firm's queue that are contracts for it: all of them, and
    /// those still active (the rest were closed early and leave at the next delivery).
    queued: Vec<u32>,
    queued_active: Vec<u32>,
    /// Per chip, scratch of one delivery pass: active entries the pass may still serve.
    walk_left: Vec<u32>,
}

/// What a delivery pass hands over for each delivery (to the accounts).
#[derive(Debug, Clone, Copy)]
pub(super) struct Delivery {
    pub chip: usize,
    pub units: u64,
    pub unit_price: f64,
}

impl Backlog {
    /// An empty backlog for `firms` firms and `chips` chips.
    pub(super) fn new(firms: usize, chips: usize) -> Backlog {
        Backlog {
            contracts: Book::new(Contract::gone()),
            queues: vec![Vec::new(); firms],
            stale: vec![0; firms],
            firm_owed: vec![0; firms],
            chip_owed: vec![0; chips],
            queued: vec![0; chips],
            queued_active: vec![0; chips],
            walk_left: vec![0; chips],
        }
    }

    /// A new chip (a generation): nothing owed on it.
    pub(super) fn add_chip(&mut self) {
        self.chip_owed.push(0);
        self.queued.push(0);
        self.queued_active.push(0);
        self.walk_left.push(0);
    }

    /// Units firm `fi` owes on its active contracts.
    pub(super) fn owed_by_firm(&self, fi: usize) -> u64 {
        self.firm_owed[fi]
    }

    /// Units owed of chip `ci` on active contracts.
    pub(super) fn owed_of_chip(&self, ci: usize) -> u64 {
        self.chip_owed[ci]
    }

    /// Entries of chip `ci` in its firm's queue (active or closed early).
    pub(super) fn queued(&self, ci: usize) -> u32 {
        self.queued[ci]
    }

    /// Firm `fi`'s queue: contract numbers, oldest first.
    pub(super) fn queue(&self, fi: usize) -> &[u32] {
        &self.queues[fi]
    }

    /// The number the next contract gets.
    pub(super) fn next_id(&self) -> u32 {
        self.contracts.len() as u32
    }

    /// The numbers of the contracts still kept.
    pub(super) fn live_ids(&self) -> Range<usize> {
        self.contracts.live_ids()
    }

    /// Contract `id` if it is still kept (a dropped one was closed).
    pub(super) fn get(&self, id: usize) -> Option<&Contract> {
        self.contracts.get(id)
    }

    /// Contract `id`, which must still be kept (see [`Book`]'s indexing).
    pub(super) fn contract(&self, id: usize) -> &Contract {
        &self.contracts[id]
    }

    /// Sign contract number [`Backlog::next_id`]: pending its licence, or active and in its
    /// firm's queue at once. Returns its number.
    pub(super) fn sign(&mut self, signing: &Signing, needs_licence: bool) -> u32 {
        let id = self.next_id();
        if needs_licence {
            self.contracts.push(Contract::new(signing, ContractStatus::PendingLicence));
        } else {
            let mut contract = Contract::new(signing, ContractStatus::Active);
            contract.set_in_backlog(true);
            self.contracts.push(contract);
            self.queue_contract(id as usize, signing.firm, signing.chip, signing.units);
        }
        id
    }

    /// A contract's licence is granted: it becomes active and joins its firm's queue.
    /// Returns its chip.
    pub(super) fn activate(&mut self, id: usize) -> usize {
        let c = &mut self.contracts[id];
        c.set_status(ContractStatus::Active);
        c.set_in_backlog(true);
        let (fi, ci, remaining) = (c.firm(), c.chip(), c.remaining());
        self.queue_contract(id, fi, ci, remaining);
        ci
    }

    /// Contract `id` (of firm `fi` for chip `ci`, owing `remaining` units, marked as in the
    /// backlog) joins the firm's queue.
    fn queue_contract(&mut self, id: usize, fi: usize, ci: usize, remaining: u64) {
        self.queues[fi].push(id as u32);
        self.firm_owed[fi] += remaining;
        self.chip_owed[ci] += remaining;
        self.queued[ci] += 1;
        self.queued_active[ci] += 1;
    }

    /// Close contract `id` with `status` at `now`. One still in its firm's queue stays
    /// there, closed, until the next delivery pass removes it.
    pub(super) fn close(&mut self, id: usize, status: ContractStatus, now: SimTime) {
        let c = &mut self.contracts[id];
        let was_active = c.status() == ContractStatus::Active;
        c.close(status, now);
        if was_active {
            let remaining = c.remaining();
            self.firm_owed[c.firm()] -= remaining;
            self.chip_owed[c.chip()] -= remaining;
            if c.in_backlog() {
                self.stale[c.firm()] += 1;
                self.queued_active[c.chip()] -= 1;
            }
        }
    }

    /// Deliver the finished units of firm `fi`'s `live` chips (their `inventory`) to its
    /// queue, first in first out; `delivered` is told of each delivery (the accounts). A
    /// contract delivered in full closes and leaves the queue, and so do entries closed
    /// early that the pass walks over.
    ///
    /// The pass walks the queue in order and stops as soon as nothing further can change:
    /// every closed entry seen (they leave the queue) and every chip with finished units
    /// either out of them or past its last active entry. An entry it does not reach would
    /// have been passed over unchanged (its chip has no units for it).
    pub(super) fn deliver(
        &mut self,
        fi: usize,
        live: &[usize],
        chips: &mut [ChipState],
        now: SimTime,
        mut delivered: impl FnMut(&ChipState, Delivery),
    ) {
        // Chips with units to hand out and entries to hand them to.
        let mut serving = 0usize;
        for &ci in live {
            let left = if chips[ci].inventory > 0 { self.queued_active[ci] } else { 0 };
            self.walk_left[ci] = left;
            serving += usize::from(left > 0);
        }
        let Backlog { contracts, queues, stale, firm_owed, chip_owed, queued, queued_active, walk_left } = self;
        let queue = &mut queues[fi];
        // Entries before `read` were walked; those kept were moved down to before `write`.
        let (mut read, mut write) = (0, 0);
        while read < queue.len() && (serving > 0 || stale[fi] > 0) {
            let id = queue[read];
            read += 1;
            let c = &mut contracts[id as usize];
            let ci = c.chip();
            if c.status() != ContractStatus::Active || c.remaining() == 0 {
                // Closed early (cut, cancelled): it leaves the queue, and may now be dropped.
                let active = c.status() == ContractStatus::Active;
                c.set_in_backlog(false);
                queued[ci] -= 1;
                if active {
                    queued_active[ci] -= 1;
                } else {
                    stale[fi] -= 1;
                }
                continue;
            }
            if walk_left[ci] == 0 {
                queue[write] = id;
                write += 1;
                continue;
            }
            let chip = &mut chips[ci];
            let n = c.remaining().min(chip.inventory);
            c.deliver(n);
            let done = c.remaining() == 0;
            chip.inventory -= n;
            chip.tick_units += n;
            chip_owed[ci] -= n;
            firm_owed[fi] -= n;
            walk_left[ci] -= 1;
            if walk_left[ci] == 0 || chip.inventory == 0 {
                walk_left[ci] = 0;
                serving -= 1;
            }
            delivered(chip, Delivery { chip: ci, units: n, unit_price: c.unit_price() });
            if done {
                // Delivered in full: closed (it owes nothing, so no count of units changes)
                // and out of the queue.
                c.set_in_backlog(false);
                c.close(ContractStatus::Delivered, now);
                queued[ci] -= 1;
                queued_active[ci] -= 1;
            } else {
                queue[write] = id;
                write += 1;
            }
        }
        // The entries not walked close the gap left by those removed.
        if write < read {
            queue.drain(write..read);
        }
    }

    /// Drop the first kept contract if nothing can change it any more (closed and out of
    /// its firm's queue); return it with its number (its row is final).
    pub(super) fn pop_finished(&mut self) -> Option<(usize, Contract)> {
        self.contracts.pop_finished(Contract::finished)
    }

    /// Drop the first kept contract whatever its state (at the end of a run).
    pub(super) fn pop_any(&mut self) -> Option<(usize, Contract)> {
        self.contracts.pop_any()
    }

    /// How many contracts are kept now.
    #[cfg(test)]
    pub(super) fn kept(&self) -> usize {
        self.contracts.kept()
    }

    /// Re-derive every counter from the contracts and compare (tests and debug builds).
    pub(super) fn check(&self) -> Result<(), InvariantError> {
        let chips = self.chip_owed.len();
        let mut owed = vec![0u64; chips];
        let mut firm_owed = vec![0u64; self.queues.len()];
        for (id, c) in self.contracts.iter() {
            if c.delivered() > c.units() {
                return Err(InvariantError(format!("contract {id} over-delivered")));
            }
            if c.status() == ContractStatus::Active {
                owed[c.chip()] += c.remaining();
                firm_owed[c.firm()] += c.remaining();
            }
        }
        let mut queued = vec![(0u32, 0u32); chips];
        let mut in_queues = 0;
        for (fi, queue) in self.queues.iter().enumerate() {
            if firm_owed[fi] != self.firm_owed[fi] {
                return Err(InvariantError(format!(
                    "firm {fi}: backlog {} but contracts owe {}",
                    self.firm_owed[fi], firm_owed[fi]
                )));
            }
            let mut stale = 0;
            for &id in queue {
                let c = &self.contracts[id as usize];
                if c.firm() != fi || !c.in_backlog() {
                    return Err(InvariantError(format!("contract {id} in firm {fi}'s queue is not its own")));
                }
                let active = c.status() == ContractStatus::Active;
                stale += u32::from(!active);
                queued[c.chip()].0 += 1;
                queued[c.chip()].1 += u32::from(active);
            }
            in_queues += queue.len();
            if stale != self.stale[fi] {
                return Err(InvariantError(format!(
                    "firm {fi}: {} closed entries in the backlog queue counted, {stale} there",
                    self.stale[fi]
                )));
            }
        }
        let marked = self.contracts.iter().filter(|(_, c)| c.in_backlog()).count();
        if marked != in_queues {
            return Err(InvariantError(format!("{marked} contracts marked as queued, {in_queues} in the queues")));
        }
        for ci in 0..chips {
            if owed[ci] != self.chip_owed[ci] {
                return Err(InvariantError(format!(
                    "chip {ci}: backlog {} but contracts owe {}",
                    self.chip_owed[ci], owed[ci]
                )));
            }
            if queued[ci] != (self.queued[ci], self.queued_active[ci]) {
                return Err(InvariantError(format!(
                    "chip {ci}: {} entries ({} active) in the backlog queue counted, {} ({}) there",
                    self.queued[ci], self.queued_active[ci], queued[ci].0, queued[ci].1
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    /// The lines of the `struct NAME {` … `}` block of `src`.
    fn struct_body<'a>(src: &'a str, name: &str) -> Vec<&'a str> {
        let open = format!(" struct {name} {{");
        let start = src.find(&open).unwrap_or_else(|| panic!("struct {name} not found"));
        src[start..].lines().skip(1).take_while(|line| !line.starts_with('}')).collect()
    }

    /// The signatures (`fn` line and up to the opening brace) of the methods in `src`.
    fn signatures(src: &str) -> Vec<String> {
        let lines: Vec<&str> = src.lines().collect();
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line
                .trim_start()
                .split("fn ")
                .next()
                .is_some_and(|before| before.trim().starts_with("pub") || before.trim().is_empty())
                && line.contains("fn ")
                && !line.trim_start().starts_with("//")
            {
                let sig: Vec<&str> = lines[i..].iter().copied().take_while(|l| !l.ends_with('{')).collect();
                out.push(format!("{} {}", sig.join(" "), lines[i + sig.len()]));
            }
        }
        out
    }

    /// The owner fence the module docs promise, checked on the source so that a widened
    /// visibility fails here: the counters and the contracts' fields are private, no method
    /// of the backlog hands out a `&mut` to its state, and a contract's mutators are visible
    /// to the backlog alone (`pub(super)` from `contract.rs`, or private).
    #[test]
    fn only_the_backlog_writes_its_counters_and_contracts() {
        let backlog = include_str!("backlog.rs");
        let contract = include_str!("backlog/contract.rs");
        let fields = struct_body(backlog, "Backlog");
        assert!(fields.iter().any(|l| l.contains("chip_owed:")), "the counters were not found");
        for line in fields.iter().chain(&struct_body(contract, "Contract")) {
            assert!(!line.trim_start().starts_with("pub"), "a backlog field is visible outside it: {line}");
        }
        let backlog_code = backlog.split("#[cfg(test)]\nmod tests").next().unwrap_or(backlog);
        for sig in signatures(backlog_code) {
            let returns = sig.split("->").nth(1).unwrap_or("");
            assert!(!returns.contains("&mut"), "a backlog method hands out its state: {sig}");
        }
        let mutators: Vec<String> = signatures(contract).into_iter().filter(|s| s.contains("&mut self")).collect();
        assert!(mutators.iter().any(|s| s.contains("fn deliver(")), "the contract's mutators were not found");
        for sig in mutators {
            let vis = sig.trim_start();
            assert!(
                vis.starts_with("pub(super) fn") || vis.starts_with("fn"),
                "a contract mutator is visible outside the backlog: {sig}"
            );
        }
    }
}
