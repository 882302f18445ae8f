//! The packed contract: a 48-byte record, since the model keeps up to a delivery window's
//! worth of them.
//!
//! Everything outside the backlog reads a contract; only the backlog (this module's parent)
//! changes one, through the `pub(super)` methods below: its status, whether it is in its
//! firm's queue and what it has delivered are what the backlog's counters are kept from.

use crate::observe::ContractStatus;
use crate::sim::SimTime;

/// A contract. Positions are `u32` and times `u32` ticks (a horizon of at most 100 years is
/// about 53 million ticks, under 2^27); a unit's compute is its chip's (chips never change
/// speed).
#[derive(Debug, Clone)]
pub(in crate::market) struct Contract {
    tender: u32,
    customer: u32,
    firm: u32,
    chip: u32,
    /// Tick of the award.
    awarded: u32,
    /// The tick it closed (low 27 bits, meaningful once it is no longer open), its status
    /// (3 bits), whether its tender was a training tender (kept here because the tender is
    /// dropped once awarded; a re-tender is one too) and whether its number is in the
    /// firm's backlog queue (a contract closed early, cut or cancelled, stays there until
    /// the next delivery pass skips it, and production reads its chip until then, so it is
    /// kept until it has left the queue). See the accessors.
    closed_status: u32,
    units: u64,
    unit_price: f64,
    delivered: u64,
}

/// What a new contract is: its tender's terms and the bid it was won with.
#[derive(Debug, Clone, Copy)]
pub(in crate::market) struct Signing {
    pub tender: u32,
    pub customer: u32,
    pub firm: usize,
    pub chip: usize,
    pub now: SimTime,
    pub training: bool,
    pub units: u64,
    pub unit_price: f64,
}

/// A tick as stored in a [`Contract`] (every tick of a valid horizon fits).
fn tick32(t: SimTime) -> u32 {
    u32::try_from(t.ticks()).unwrap_or(u32::MAX)
}

/// Bits of [`Contract::closed_status`].
const CLOSED_TICK: u32 = (1 << 27) - 1;
const STATUS_SHIFT: u32 = 27;
const TRAINING: u32 = 1 << 30;
const IN_BACKLOG: u32 = 1 << 31;

/// The statuses a contract's flags can hold, by code: the open ones first.
const STATUSES: [ContractStatus; 6] = [
    ContractStatus::PendingLicence,
    ContractStatus::Active,
    ContractStatus::Delivered,
    ContractStatus::Cut,
    ContractStatus::Cancelled,
    ContractStatus::LicenceDenied,
];

/// How many statuses at the start of [`STATUSES`] are open.
const OPEN_STATUSES: usize = 2;

impl Contract {
    /// A new contract with `status` (pending its licence, or active), not yet queued.
    pub(super) fn new(s: &Signing, status: ContractStatus) -> Contract {
        Contract {
            tender: s.tender,
            customer: s.customer,
            // Positions fit in u32 (events carry them so too).
            firm: s.firm as u32,
            chip: s.chip as u32,
            awarded: tick32(s.now),
            closed_status: Contract::new_flags(status, s.training),
            units: s.units,
            unit_price: s.unit_price,
            delivered: 0,
        }
    }

    /// What the numbers of dropped contracts read as: closed, owing nothing.
    pub(super) fn gone() -> Contract {
        Contract {
            tender: 0,
            customer: 0,
            firm: 0,
            chip: 0,
            awarded: 0,
            closed_status: Contract::new_flags(ContractStatus::Cancelled, false),
            units: 0,
            unit_price: 0.0,
            delivered: 0,
        }
    }

    fn new_flags(status: ContractStatus, training: bool) -> u32 {
        let mut flags = 0;
        Contract::put_status(&mut flags, status);
        if training {
            flags |= TRAINING;
        }
        flags
    }
    fn put_status(flags: &mut u32, status: ContractStatus) {
        let code = STATUSES.iter().position(|&s| s == status).unwrap_or(0) as u32;
        *flags = (*flags & !(0b111 << STATUS_SHIFT)) | (code << STATUS_SHIFT);
    }
    pub(in crate::market) fn tender(&self) -> u32 {
        self.tender
    }
    pub(in crate::market) fn customer(&self) -> usize {
        self.customer as usize
    }
    pub(in crate::market) fn firm(&self) -> usize {
        self.firm as usize
    }
    pub(in crate::market) fn chip(&self) -> usize {
        self.chip as usize
    }
    /// Tick of the award.
    pub(in crate::market) fn awarded(&self) -> SimTime {
        SimTime(u64::from(self.awarded))
    }
    pub(in crate::market) fn units(&self) -> u64 {
        self.units
    }
    pub(in crate::market) fn unit_price(&self) -> f64 {
        self.unit_price
    }
    pub(in crate::market) fn delivered(&self) -> u64 {
        self.delivered
    }
    /// The status's position in [`STATUSES`].
    fn status_code(&self) -> usize {
        ((self.closed_status >> STATUS_SHIFT) & 0b111) as usize
    }
    pub(in crate::market) fn status(&self) -> ContractStatus {
        // Only positions of STATUSES are ever stored.
        STATUSES.get(self.status_code()).copied().unwrap_or(ContractStatus::Cancelled)
    }
    pub(super) fn set_status(&mut self, status: ContractStatus) {
        Contract::put_status(&mut self.closed_status, status);
    }
    /// Close it with `status` at `now`.
    pub(super) fn close(&mut self, status: ContractStatus, now: SimTime) {
        self.set_status(status);
        self.closed_status = (self.closed_status & !CLOSED_TICK) | (tick32(now) & CLOSED_TICK);
    }
    /// Add `units` to what it delivered.
    pub(super) fn deliver(&mut self, units: u64) {
        self.delivered += units;
    }
    /// The tick it closed (once it is no longer open).
    pub(in crate::market) fn closed(&self) -> SimTime {
        SimTime(u64::from(self.closed_status & CLOSED_TICK))
    }
    pub(in crate::market) fn training(&self) -> bool {
        self.closed_status & TRAINING != 0
    }
    pub(in crate::market) fn in_backlog(&self) -> bool {
        self.closed_status & IN_BACKLOG != 0
    }
    pub(super) fn set_in_backlog(&mut self, yes: bool) {
        if yes {
            self.closed_status |= IN_BACKLOG;
        } else {
            self.closed_status &= !IN_BACKLOG;
        }
    }
    /// Nothing can change it any more: closed, and out of the firm's backlog queue.
    pub(super) fn finished(&self) -> bool {
        !self.open() && !self.in_backlog()
    }
    pub(in crate::market) fn open(&self) -> bool {
        // The open statuses come first in STATUSES.
        self.status_code() < OPEN_STATUSES
    }
    pub(in crate::market) fn remaining(&self) -> u64 {
        self.units - self.delivered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contract_is_48_bytes_and_its_packed_fields_read_back() {
        assert_eq!(std::mem::size_of::<Contract>(), 48);
        for status in STATUSES {
            for training in [false, true] {
                let signing = Signing {
                    tender: 7,
                    customer: 1,
                    firm: 2,
                    chip: 3,
                    now: SimTime(5),
                    training,
                    units: 10,
                    unit_price: 1.5,
                };
                let mut c = Contract::new(&signing, ContractStatus::PendingLicence);
                c.deliver(4);
                assert_eq!(c.status(), ContractStatus::PendingLicence);
                c.set_in_backlog(true);
                // The largest tick a valid horizon (100 years from any day) reaches.
                let last = SimTime(100 * 366 * 24 * 60);
                c.close(status, last);
                assert_eq!((c.status(), c.training(), c.in_backlog()), (status, training, true));
                assert_eq!(c.closed(), last);
                c.set_in_backlog(false);
                assert_eq!((c.status(), c.training(), c.in_backlog(), c.closed()), (status, training, false, last));
                assert_eq!((c.tender(), c.customer(), c.firm(), c.chip(), c.awarded()), (7, 1, 2, 3, SimTime(5)));
                assert_eq!((c.units(), c.delivered(), c.remaining(), c.unit_price()), (10, 4, 6, 1.5));
                assert_eq!(c.open(), STATUSES[..OPEN_STATUSES].contains(&status));
                assert_eq!(c.finished(), !matches!(status, ContractStatus::Active | ContractStatus::PendingLicence));
            }
        }
    }
}
