//! What the fuzz targets share.

use chipmarket_engine::Scenario;

/// The scenario as its resolved text shows it: an empty display name is the id.
pub fn with_names(mut s: Scenario) -> Scenario {
    for firm in &mut s.firms {
        if firm.name.is_empty() {
            firm.name = firm.id.clone();
        }
        for chip in &mut firm.chips {
            if chip.name.is_empty() {
                chip.name = chip.id.clone();
            }
        }
    }
    for customer in &mut s.customers {
        if customer.name.is_empty() {
            customer.name = customer.id.clone();
        }
    }
    s
}
