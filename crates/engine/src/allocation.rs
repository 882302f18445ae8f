//! Allocation: how a quantity is divided among claimants. Water-filling (weighted shares
//! under caps, what a capped claimant cannot take shared again among the rest) divides a
//! supplier's capacity among firms ([`crate::supply`]) and a nest's budget among bids; the
//! nested logit gives a tender's bids their shares; [`split_budget`] puts the two together
//! for an award (nests of domestic and foreign bids, a domestic mandate, a cap on foreign
//! spend).
//!
//! Everything here is a pure function of its arguments; the working lists are the caller's,
//! reused from one call to the next so that a call allocates nothing in the steady state.

/// Working lists of [`water_fill_into`].
#[derive(Debug, Clone, Default)]
pub(crate) struct WaterFill {
    open: Vec<usize>,
    next: Vec<usize>,
}

/// Water-fill `capacity` among claimants with `weights` and `caps`: each gets its weighted
/// share, capped, and what the capped ones leave is shared again among the rest. Returns
/// each claimant's allocation; the sum never exceeds `capacity`.
#[cfg(test)]
pub(crate) fn water_fill(capacity: f64, weights: &[f64], caps: &[f64]) -> Vec<f64> {
    let mut alloc = Vec::new();
    water_fill_into(capacity, weights, caps, &mut alloc, &mut WaterFill::default());
    alloc
}

/// [`water_fill`] into `alloc`, with the working lists in `work` (both reused by callers
/// that fill often, so a fill allocates nothing).
pub(crate) fn water_fill_into(
    capacity: f64,
    weights: &[f64],
    caps: &[f64],
    alloc: &mut Vec<f64>,
    work: &mut WaterFill,
) {
    alloc.clear();
    alloc.resize(weights.len(), 0.0);
    let WaterFill { open, next } = work;
    open.clear();
    open.extend((0..weights.len()).filter(|&i| weights[i] > 0.0 && caps[i] > 0.0));
    let mut left = capacity.max(0.0);
    while left > 1e-12 && !open.is_empty() {
        let total: f64 = open.iter().map(|&i| weights[i]).sum();
        next.clear();
        let mut used = 0.0;
        for &i in open.iter() {
            let share = left * weights[i] / total;
            let room = caps[i] - alloc[i];
            if share >= room {
                alloc[i] = caps[i];
                used += room;
            } else {
                alloc[i] += share;
                used += share;
                next.push(i);
            }
        }
        left -= used;
        if next.len() == open.len() {
            break;
        }
        std::mem::swap(open, next);
    }
}

/// Something with a utility (a bid).
pub(crate) trait HasUtility {
    /// The deterministic utility.
    fn utility(&self) -> f64;
}

/// Nested-logit choice probabilities of `items` with logit scale `mu` and nest parameter
/// `lambda` in (0, 1], nesting by `nest_of` (two nests). Within nest k:
/// `P(i | k) = exp(V_i / (mu lambda)) / sum_j exp(V_j / (mu lambda))`; the nest's inclusive
/// value is `IV_k = mu lambda ln sum_j exp(V_j / (mu lambda))` and
/// `P(k) = exp(IV_k / mu) / sum_m exp(IV_m / mu)`. Computed in log space, so extreme
/// utilities never overflow. Probabilities add up to 1 (empty input: empty output).
#[cfg(test)]
pub(crate) fn nested_logit<T: HasUtility>(items: &[T], nest_of: impl Fn(&T) -> bool, mu: f64, lambda: f64) -> Vec<f64> {
    let mut out = Vec::new();
    nested_logit_into(items, nest_of, mu, lambda, &mut out);
    out
}

/// [`nested_logit`] into `out` (a list the caller reuses).
pub(crate) fn nested_logit_into<T: HasUtility>(
    items: &[T],
    nest_of: impl Fn(&T) -> bool,
    mu: f64,
    lambda: f64,
    out: &mut Vec<f64>,
) {
    let scale = mu * lambda;
    let mut iv = [f64::NEG_INFINITY; 2];
    for (k, slot) in iv.iter_mut().enumerate() {
        let nest = k == 0;
        let max = items.iter().filter(|b| nest_of(b) == nest).map(|b| b.utility()).fold(f64::NEG_INFINITY, f64::max);
        if max.is_finite() {
            let sum: f64 =
                items.iter().filter(|b| nest_of(b) == nest).map(|b| ((b.utility() - max) / scale).exp()).sum();
            *slot = max + scale * sum.ln();
        }
    }
    let top = iv[0].max(iv[1]);
    let nest_p = iv.map(|v| if v.is_finite() { ((v - top) / mu).exp() } else { 0.0 });
    let nest_total: f64 = nest_p.iter().sum();
    out.clear();
    out.extend(items.iter().map(|b| {
        let k = usize::from(!nest_of(b));
        if nest_total <= 0.0 {
            return 0.0;
        }
        nest_p[k] / nest_total * ((b.utility() - iv[k]) / scale).exp()
    }));
}

/// What one budget split is bound by (see [`split_budget`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// The budget [USD].
    pub total: f64,
    /// The least share of it the domestic nest gets when it has a claimant.
    pub mandate: f64,
    /// The most the foreign nest may take [USD].
    pub foreign_cap: f64,
    /// Logit scale and nest parameter of the shares ([`nested_logit`]).
    pub mu: f64,
    pub lambda: f64,
}

/// The lists a budget split works with, one entry per claimant unless noted.
#[derive(Debug, Default)]
pub(crate) struct SplitLists {
    /// Nested-logit share of the budget.
    shares: Vec<f64>,
    domestic: Vec<bool>,
    /// The most the claimant may take.
    caps: Vec<f64>,
    /// What each gets: the result.
    alloc: Vec<f64>,
    /// One nest's fill: its claimants, their weights, their room, what each gets.
    members: Vec<usize>,
    weights: Vec<f64>,
    room: Vec<f64>,
    filled: Vec<f64>,
    work: WaterFill,
}

/// Split `budget` among `items` by nested-logit shares (nests: `domestic` true and false),
/// then cap each at `cap_of`, handing what a capped claimant cannot take to the others of
/// its nest and then to the other nest (water-filling). A domestic mandate raises the
/// domestic nest to its share when the nest's logit share is below it; the foreign nest
/// never takes more than `foreign_cap` in all. Returns what each claimant gets, in order.
pub(crate) fn split_budget<'l, T: HasUtility>(
    items: &[T],
    domestic: impl Fn(&T) -> bool,
    cap_of: impl Fn(&T) -> f64,
    budget: &Budget,
    lists: &'l mut SplitLists,
) -> &'l [f64] {
    let SplitLists { shares, domestic: is_domestic, caps, alloc, members, weights, room, filled, work } = lists;
    let total = budget.total;
    nested_logit_into(items, &domestic, budget.mu, budget.lambda, shares);
    is_domestic.clear();
    is_domestic.extend(items.iter().map(&domestic));
    // Budget per nest (domestic, foreign), with the mandate.
    let mut nest_share = [0.0; 2];
    for (d, s) in is_domestic.iter().zip(shares.iter()) {
        nest_share[usize::from(!d)] += s;
    }
    if is_domestic.iter().any(|&d| d) && nest_share[0] < budget.mandate {
        nest_share = [budget.mandate, 1.0 - budget.mandate];
    }
    caps.clear();
    caps.extend(items.iter().map(cap_of));
    alloc.clear();
    alloc.resize(items.len(), 0.0);
    let mut foreign_room = budget.foreign_cap;
    let mut fill = |nest: usize, amount: f64, alloc: &mut [f64]| -> f64 {
        let amount = if nest == 1 { amount.min(foreign_room) } else { amount };
        if amount <= 0.0 {
            return 0.0;
        }
        members.clear();
        members.extend((0..items.len()).filter(|&i| usize::from(!is_domestic[i]) == nest));
        if members.is_empty() {
            return 0.0;
        }
        weights.clear();
        weights.extend(members.iter().map(|&i| shares[i].max(1e-300)));
        room.clear();
        room.extend(members.iter().map(|&i| (caps[i] - alloc[i]).max(0.0)));
        water_fill_into(amount, weights, room, filled, work);
        let mut used = 0.0;
        for (m, &i) in members.iter().enumerate() {
            alloc[i] += filled[m];
            used += filled[m];
        }
        if nest == 1 {
            foreign_room -= used;
        }
        used
    };
    // Each nest fills its own budget; what one cannot place goes to the other.
    let left_domestic = total * nest_share[0] - fill(0, total * nest_share[0], alloc);
    let left_foreign = total * nest_share[1] - fill(1, total * nest_share[1], alloc);
    fill(1, left_domestic, alloc);
    fill(0, left_foreign, alloc);
    alloc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn water_fill_hands_unused_capacity_on() {
        let alloc = water_fill(100.0, &[1.0, 1.0, 2.0], &[10.0, 1000.0, 1000.0]);
        assert_eq!(alloc[0], 10.0);
        assert!((alloc[1] - 30.0).abs() < 1e-9 && (alloc[2] - 60.0).abs() < 1e-9, "{alloc:?}");
    }

    #[test]
    fn water_fill_never_exceeds_caps_or_capacity() {
        let alloc = water_fill(100.0, &[1.0, 3.0], &[5.0, 7.0]);
        assert_eq!(alloc, vec![5.0, 7.0]);
        assert_eq!(water_fill(0.0, &[1.0], &[5.0]), vec![0.0]);
    }

    #[test]
    fn water_fill_into_reused_lists_gives_what_fresh_lists_give() {
        let cases: [(f64, &[f64], &[f64]); 4] = [
            (100.0, &[1.0, 3.0, 2.0], &[5.0, 70.0, 20.0]),
            (10.0, &[1.0], &[50.0]),
            (50.0, &[0.0, 1.0, 1.0, 4.0], &[9.0, 1.0, 100.0, 3.0]),
            (0.0, &[1.0, 1.0], &[1.0, 1.0]),
        ];
        let (mut alloc, mut work) = (vec![9.0; 7], WaterFill::default());
        for (capacity, weights, caps) in cases {
            water_fill_into(capacity, weights, caps, &mut alloc, &mut work);
            let mut fresh = Vec::new();
            water_fill_into(capacity, weights, caps, &mut fresh, &mut WaterFill::default());
            assert_eq!(alloc, fresh, "capacity {capacity}");
            assert!(alloc.iter().zip(caps).all(|(a, c)| a <= c) && alloc.iter().sum::<f64>() <= capacity + 1e-9);
        }
        assert_eq!(water_fill(100.0, &[1.0, 3.0], &[5.0, 7.0]), [5.0, 7.0]);
    }

    struct B(f64, bool);
    impl HasUtility for B {
        fn utility(&self) -> f64 {
            self.0
        }
    }

    #[test]
    fn a_budget_split_keeps_the_mandate_the_caps_and_the_foreign_cap() {
        let items = [B(1.0, true), B(3.0, false), B(2.0, false)];
        let mut lists = SplitLists::default();
        let budget = Budget { total: 100.0, mandate: 0.6, foreign_cap: 30.0, mu: 0.5, lambda: 1.0 };
        let alloc = split_budget(&items, |b| b.1, |_| 50.0, &budget, &mut lists).to_vec();
        assert!((alloc[0] - 50.0).abs() < 1e-9, "the domestic bid takes its cap: {alloc:?}");
        assert!((alloc[1] + alloc[2] - 30.0).abs() < 1e-9, "foreign spend stops at its cap: {alloc:?}");
        assert!(alloc[1] > alloc[2], "the better foreign bid gets more: {alloc:?}");
        // With no caps binding the logit shares are the split.
        let free = Budget { total: 100.0, mandate: 0.0, foreign_cap: 100.0, mu: 0.5, lambda: 1.0 };
        let alloc = split_budget(&items, |b| b.1, |_| 1e9, &free, &mut lists).to_vec();
        let shares = nested_logit(&items, |b| b.1, 0.5, 1.0);
        for (a, s) in alloc.iter().zip(&shares) {
            assert!((a - 100.0 * s).abs() < 1e-9, "{alloc:?} {shares:?}");
        }
    }
}
