//! The supply network: a petgraph graph of supplier nodes (foundry process nodes, HBM
//! makers, packaging lines) linked to firms, with allocation weights and policy tags.
//!
//! Each production tick every supplier divides its capacity among the firms whose links
//! are switched on, by weight, and hands what a firm cannot use to the others
//! (water-filling). A firm's output is the minimum over its input kinds of what it was
//! allocated, converted to accelerators (wafers x yield x dies per wafer, HBM stacks per
//! chip, one package per chip). Firms without links use their fixed
//! `capacity_units_per_quarter` instead. Regimes switch links off by tag.

use std::fmt::Write;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::allocation::{water_fill_into, WaterFill};
use crate::calendar::Calendar;
use crate::scenario::{Scenario, SupplierKind};

/// A node of the graph.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A supplier, by index in the scenario.
    Supplier(usize),
    /// A firm, by index in the scenario.
    Firm(usize),
}

/// A link from a supplier to a firm.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// Allocation weight.
    pub weight: f64,
    /// Policy tags.
    pub tags: Vec<String>,
    /// Switched on under the regime in force.
    pub enabled: bool,
}

#[derive(Debug, Clone)]
struct SupplierCurve {
    kind: SupplierKind,
    base: f64,
    growth: f64,
    yield_start: f64,
    yield_end: f64,
    yield_rate: f64,
    /// (years from start, capacity added per quarter).
    expansions: Vec<(f64, f64)>,
    max_chip_tflops: Option<f64>,
    /// What is left of a finite stock, if the supplier is one [supplier's unit].
    stock_left: Option<f64>,
}

impl SupplierCurve {
    /// Capacity at `t` years: the base grows from the start, each expansion (or removal,
    /// if negative) from its own date; never below zero.
    fn capacity(&self, t: f64) -> f64 {
        let grow = |years: f64| (1.0 + self.growth).powf(years.max(0.0));
        let added: f64 = self.expansions.iter().filter(|(at, _)| *at <= t).map(|(at, c)| c * grow(t - at)).sum();
        (self.base * grow(t) + added).max(0.0)
    }

    fn yield_at(&self, t: f64) -> f64 {
        self.yield_end - (self.yield_end - self.yield_start) * (-self.yield_rate * t.max(0.0)).exp()
    }
}

/// What one firm gets from the network this tick [units of input per quarter], by kind.
#[derive(Debug, Clone, Copy, Default)]
struct Inputs {
    /// Good wafers: wafers x yield (multiply by dies per wafer for good dies).
    good_wafers: f64,
    hbm_stacks: f64,
    packages: f64,
    has: [bool; 3],
}

impl Inputs {
    fn add(&mut self, kind: SupplierKind, amount: f64) {
        match kind {
            SupplierKind::Foundry => self.good_wafers += amount,
            SupplierKind::Hbm => self.hbm_stacks += amount,
            SupplierKind::Packaging => self.packages += amount,
        }
    }

    /// Accelerators these inputs make: the minimum over the kinds the firm is linked to.
    fn units(&self, dies_per_wafer: f64, hbm_stacks: f64) -> f64 {
        let mut units = f64::INFINITY;
        if self.has[0] {
            units = units.min(self.good_wafers * dies_per_wafer);
        }
        if self.has[1] && hbm_stacks > 0.0 {
            units = units.min(self.hbm_stacks / hbm_stacks);
        }
        if self.has[2] {
            units = units.min(self.packages);
        }
        if units.is_finite() {
            units
        } else {
            0.0
        }
    }
}

/// Amounts of each input kind: what a firm's orders can use this tick [per quarter], what
/// it was allocated, or what one accelerator needs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Need {
    /// Good wafers.
    pub good_wafers: f64,
    /// HBM stacks.
    pub hbm_stacks: f64,
    /// Packages.
    pub packages: f64,
}

impl Need {
    /// The need of `units` accelerators per quarter of a chip with `dies_per_wafer` and
    /// `hbm_stacks`.
    pub fn for_units(units: f64, dies_per_wafer: f64, hbm_stacks: f64) -> Need {
        Need { good_wafers: units / dies_per_wafer, hbm_stacks: units * hbm_stacks, packages: units }
    }

    fn of(&self, kind: SupplierKind) -> f64 {
        match kind {
            SupplierKind::Foundry => self.good_wafers,
            SupplierKind::Hbm => self.hbm_stacks,
            SupplierKind::Packaging => self.packages,
        }
    }
}

/// The supply network of one run.
#[derive(Debug, Clone)]
pub struct SupplyNetwork {
    graph: DiGraph<Node, Edge>,
    supplier_nodes: Vec<NodeIndex>,
    firm_nodes: Vec<NodeIndex>,
    curves: Vec<SupplierCurve>,
    /// Per firm: allocation by weight alone, as if it could use any amount (for bidding).
    potential: Vec<Inputs>,
    /// Per firm: water-filled allocation given what its orders can use (for production).
    actual: Vec<Inputs>,
    /// Per firm: whether it has any link at all.
    linked: Vec<bool>,
    /// Per firm: (supplier, amount per quarter) of the last water-filled allocation.
    drawn: Vec<Vec<(usize, f64)>>,
    /// Per firm: (foundry supplier, good wafers per quarter) of the allocation by weight.
    offered: Vec<Vec<(usize, f64)>>,
    /// Length of a production tick [quarters]: a stock hands out at most what is left of
    /// it in one tick.
    tick_quarters: f64,
    /// Working lists of [`SupplyNetwork::allocate`], kept so that a tick allocates nothing.
    lists: Lists,
    /// How many allocations were made (what a firm gets can change only with the next).
    allocations: u64,
}

/// Working lists of one supplier's split in [`SupplyNetwork::allocate`].
#[derive(Debug, Clone, Default)]
struct Lists {
    firms: Vec<usize>,
    weights: Vec<f64>,
    caps: Vec<f64>,
    filled: Vec<f64>,
    work: WaterFill,
}

fn kind_slot(kind: SupplierKind) -> usize {
    match kind {
        SupplierKind::Foundry => 0,
        SupplierKind::Hbm => 1,
        SupplierKind::Packaging => 2,
    }
}

impl SupplyNetwork {
    /// Build the graph of a validated scenario.
    pub fn new(s: &Scenario, cal: &Calendar) -> SupplyNetwork {
        let mut graph = DiGraph::new();
        let supplier_nodes: Vec<NodeIndex> =
            (0..s.suppliers.len()).map(|i| graph.add_node(Node::Supplier(i))).collect();
        let firm_nodes: Vec<NodeIndex> = (0..s.firms.len()).map(|i| graph.add_node(Node::Firm(i))).collect();
        let mut linked = vec![false; s.firms.len()];
        for link in &s.links {
            let (Some(si), Some(fi)) = (
                s.suppliers.iter().position(|x| x.id == link.supplier),
                s.firms.iter().position(|f| f.id == link.firm),
            ) else {
                continue;
            };
            linked[fi] = true;
            graph.add_edge(
                supplier_nodes[si],
                firm_nodes[fi],
                Edge { weight: link.weight, tags: link.tags.clone(), enabled: true },
            );
        }
        let curves = s
            .suppliers
            .iter()
            .map(|x| SupplierCurve {
                kind: x.kind,
                base: x.capacity_per_quarter,
                growth: x.capacity_growth_per_year,
                yield_start: x.yield_start,
                yield_end: x.yield_end.unwrap_or(x.yield_start),
                yield_rate: x.yield_learning_per_year,
                expansions: x.expansions.iter().map(|e| (cal.years_to(e.date), e.capacity_per_quarter)).collect(),
                max_chip_tflops: x.max_chip_tflops,
                stock_left: x.stock,
            })
            .collect();
        let mut net = SupplyNetwork {
            graph,
            supplier_nodes,
            potential: vec![Inputs::default(); firm_nodes.len()],
            actual: vec![Inputs::default(); firm_nodes.len()],
            drawn: vec![Vec::new(); firm_nodes.len()],
            offered: vec![Vec::new(); firm_nodes.len()],
            firm_nodes,
            curves,
            linked,
            tick_quarters: f64::from(s.scenario.tick_days) / (crate::calendar::DAYS_PER_YEAR / 4.0),
            lists: Lists::default(),
            allocations: 0,
        };
        let n = net.firm_nodes.len();
        net.allocate(0.0, &vec![Need::default(); n]);
        net
    }

    /// Switch off every link carrying one of `cut_tags`, and on every other.
    pub fn set_regime(&mut self, cut_tags: &[String]) {
        for edge in self.graph.edge_weights_mut() {
            edge.enabled = !edge.tags.iter().any(|t| cut_tags.contains(t));
        }
    }

    /// Multiply every link weight of `firm` by `factor` (capacity bought with new money).
    pub fn scale_firm_weights(&mut self, firm: usize, factor: f64) {
        let node = self.firm_nodes[firm];
        let edges: Vec<_> = self.graph.edges_directed(node, petgraph::Direction::Incoming).map(|e| e.id()).collect();
        for e in edges {
            self.graph[e].weight *= factor;
        }
    }

    /// How many allocations were made so far: what any firm gets, potential or actual,
    /// changes only when this does (a regime's cut links or new weights take effect at the
    /// next allocation).
    pub fn allocations(&self) -> u64 {
        self.allocations
    }

    /// Whether the firm draws on the network (else it has fixed capacity).
    pub fn is_linked(&self, firm: usize) -> bool {
        self.linked[firm]
    }

    /// Divide every supplier's capacity at `t` years among its enabled links.
    ///
    /// Two allocations are kept: the *potential* split by weight alone (what a firm could
    /// get if it had the orders, used when it bids), and the *actual* water-filled split in
    /// which no firm gets more of an input than its `needs` can use and the rest is handed
    /// to the others (used for production).
    pub fn allocate(&mut self, t: f64, needs: &[Need]) {
        self.allocations += 1;
        for (p, a) in self.potential.iter_mut().zip(self.actual.iter_mut()) {
            *p = Inputs::default();
            *a = Inputs::default();
        }
        for d in &mut self.drawn {
            d.clear();
        }
        for d in &mut self.offered {
            d.clear();
        }
        let Lists { firms, weights, caps, filled, work } = &mut self.lists;
        for (si, &node) in self.supplier_nodes.iter().enumerate() {
            let curve = &self.curves[si];
            let slot = kind_slot(curve.kind);
            firms.clear();
            weights.clear();
            caps.clear();
            for e in self.graph.edges(node) {
                let Node::Firm(fi) = self.graph[e.target()] else { continue };
                // A firm linked to a supplier needs that input kind even while the link is cut.
                self.potential[fi].has[slot] = true;
                self.actual[fi].has[slot] = true;
                if e.weight().enabled {
                    firms.push(fi);
                    weights.push(e.weight().weight);
                    caps.push(needs.get(fi).map_or(0.0, |n| n.of(curve.kind)));
                }
            }
            let total: f64 = weights.iter().sum();
            if total <= 0.0 {
                continue;
            }
            let capacity = match curve.stock_left {
                // An empty stock hands out nothing, whatever the curves say.
                Some(left) if left <= 0.0 => 0.0,
                left => {
                    let raw = curve.capacity(t).min(left.map_or(f64::INFINITY, |l| l / self.tick_quarters));
                    raw * if curve.kind == SupplierKind::Foundry { curve.yield_at(t) } else { 1.0 }
                }
            };
            water_fill_into(capacity, weights, caps, filled, work);
            for (k, &fi) in firms.iter().enumerate() {
                self.potential[fi].add(curve.kind, capacity * weights[k] / total);
                self.actual[fi].add(curve.kind, filled[k]);
                if filled[k] > 0.0 {
                    self.drawn[fi].push((si, filled[k]));
                }
                if curve.kind == SupplierKind::Foundry {
                    self.offered[fi].push((si, capacity * weights[k] / total));
                }
            }
        }
    }

    /// The firm's water-filled allocation [per quarter] and which input kinds it is linked
    /// to (foundry, HBM, packaging).
    pub fn allocated(&self, firm: usize) -> (Need, [bool; 3]) {
        let a = &self.actual[firm];
        (Need { good_wafers: a.good_wafers, hbm_stacks: a.hbm_stacks, packages: a.packages }, a.has)
    }

    /// The firm's allocation by weight alone [per quarter] (what it could get with orders
    /// enough) and the input kinds it is linked to.
    pub fn potential(&self, firm: usize) -> (Need, [bool; 3]) {
        let a = &self.potential[firm];
        (Need { good_wafers: a.good_wafers, hbm_stacks: a.hbm_stacks, packages: a.packages }, a.has)
    }

    /// Good wafers per quarter the firm was allocated by each foundry supplier
    /// (`actual`: water-filled; otherwise by weight alone), as (supplier, good wafers).
    pub fn foundry_allocation(&self, firm: usize, actual: bool) -> impl Iterator<Item = (usize, f64)> + '_ {
        let none: &[(usize, f64)] = &[];
        let (drawn, offered) = if actual { (&self.drawn[firm][..], none) } else { (none, &self.offered[firm][..]) };
        drawn.iter().filter(|&&(si, _)| self.curves[si].kind == SupplierKind::Foundry).chain(offered).copied()
    }

    /// Units per quarter of a chip that may use only the foundry suppliers `allowed` (by
    /// supplier index): like [`SupplyNetwork::potential_units`] (or `actual_units`) with the
    /// good wafers of the other foundries left out.
    pub fn units_from(
        &self,
        firm: usize,
        dies_per_wafer: f64,
        hbm_stacks: f64,
        allowed: &[usize],
        actual: bool,
    ) -> f64 {
        let mut inputs = if actual { self.actual[firm] } else { self.potential[firm] };
        inputs.good_wafers =
            self.foundry_allocation(firm, actual).filter(|(si, _)| allowed.contains(si)).map(|(_, w)| w).sum();
        inputs.units(dies_per_wafer, hbm_stacks)
    }

    /// The firm used `used` of its allocation this tick (absolute amounts, not rates), with
    /// `foundry_used` the good wafers it took from each foundry supplier: suppliers with a
    /// finite stock lose what was taken from them (HBM and packaging in proportion to what
    /// each handed the firm of that kind; good wafers are counted back to wafers by yield).
    pub fn consume(&mut self, firm: usize, t: f64, used: Need, foundry_used: &[(usize, f64)]) {
        let allocated = self.actual[firm];
        for &(si, amount) in &self.drawn[firm] {
            let curve = &mut self.curves[si];
            let Some(left_now) = curve.stock_left else { continue };
            let (got, total) = match curve.kind {
                SupplierKind::Foundry => {
                    let taken: f64 = foundry_used.iter().filter(|u| u.0 == si).map(|u| u.1).sum();
                    (taken, amount)
                }
                SupplierKind::Hbm => (used.hbm_stacks, allocated.hbm_stacks),
                SupplierKind::Packaging => (used.packages, allocated.packages),
            };
            if total <= 0.0 {
                continue;
            }
            let mut taken = got * amount / total;
            if curve.kind == SupplierKind::Foundry {
                taken /= curve.yield_at(t).max(1e-9);
            }
            curve.stock_left = Some((left_now - taken).max(0.0));
        }
    }

    /// Units per quarter the firm could make from its weight share, with a chip needing
    /// `dies_per_wafer` and `hbm_stacks`: the minimum over the input kinds it is linked to.
    pub fn potential_units(&self, firm: usize, dies_per_wafer: f64, hbm_stacks: f64) -> f64 {
        self.potential[firm].units(dies_per_wafer, hbm_stacks)
    }

    /// Units per quarter the firm makes from its water-filled allocation.
    pub fn actual_units(&self, firm: usize, dies_per_wafer: f64, hbm_stacks: f64) -> f64 {
        self.actual[firm].units(dies_per_wafer, hbm_stacks)
    }

    /// Highest chip performance the firm's reachable foundry nodes allow [TFLOPS]
    /// (infinite if it has no capped foundry link switched on).
    pub fn node_cap(&self, firm: usize) -> f64 {
        let mut cap: Option<f64> = None;
        for e in self.graph.edges_directed(self.firm_nodes[firm], petgraph::Direction::Incoming) {
            if !e.weight().enabled {
                continue;
            }
            if let Node::Supplier(si) = self.graph[e.source()] {
                let c = &self.curves[si];
                if c.kind == SupplierKind::Foundry {
                    let node_cap = c.max_chip_tflops.unwrap_or(f64::INFINITY);
                    cap = Some(cap.map_or(node_cap, |x: f64| x.max(node_cap)));
                }
            }
        }
        cap.unwrap_or(f64::INFINITY)
    }

    /// The graph in Graphviz DOT; links switched off are drawn dashed and red.
    /// Every id and label is escaped for a DOT quoted string (`"`, `\\` and line breaks), so
    /// no scenario text can add nodes or attributes.
    pub fn to_dot(&self, s: &Scenario) -> String {
        let q = dot_escape;
        let mut out = String::from("digraph supply {\n  rankdir=LR;\n");
        for (si, sup) in s.suppliers.iter().enumerate() {
            let kind = match sup.kind {
                SupplierKind::Foundry => "foundry",
                SupplierKind::Hbm => "hbm",
                SupplierKind::Packaging => "packaging",
            };
            let _ = writeln!(
                out,
                "  \"{}\" [shape=box, label=\"{}\\n{} {}/quarter\"];",
                q(&sup.id),
                q(&sup.id),
                kind,
                self.curves[si].base
            );
        }
        for f in &s.firms {
            let _ = writeln!(out, "  \"{}\" [shape=ellipse];", q(&f.id));
        }
        for e in self.graph.edge_references() {
            let (Node::Supplier(si), Node::Firm(fi)) = (&self.graph[e.source()], &self.graph[e.target()]) else {
                continue;
            };
            let w = e.weight();
            let tags = if w.tags.is_empty() { String::new() } else { format!(" [{}]", q(&w.tags.join(","))) };
            let style = if w.enabled { String::new() } else { ", style=dashed, color=red, fontcolor=red".to_string() };
            let cut = if w.enabled { "" } else { " cut" };
            let _ = writeln!(
                out,
                "  \"{}\" -> \"{}\" [label=\"w={}{}{}\"{}];",
                q(&s.suppliers[*si].id),
                q(&s.firms[*fi].id),
                w.weight,
                tags,
                cut,
                style
            );
        }
        out.push_str("}\n");
        out
    }
}

/// `text` as the inside of a DOT quoted string.
fn dot_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;

    #[test]
    fn dot_text_cannot_close_its_quotes() {
        assert_eq!(dot_escape(r#"a"] x [URL="javascript:1"#), r#"a\"] x [URL=\"javascript:1"#);
        assert_eq!(dot_escape("a\\b\nc"), "a\\\\b\\nc");
    }

    fn network() -> (Scenario, SupplyNetwork) {
        let text = r#"
            [scenario]
            name = "net"
            start = "2024-01-01"
            horizon_years = 1
            [demand]
            installed_start_pflops = 1.0
            saturation_pflops = 10.0
            [[firms]]
            id = "a"
            origin = "domestic"
            [[firms.chips]]
            id = "a1"
            launch = "2023-01-01"
            bf16_tflops = 100.0
            unit_cost_usd = 1.0
            [[firms]]
            id = "b"
            origin = "domestic"
            [[firms.chips]]
            id = "b1"
            launch = "2023-01-01"
            bf16_tflops = 100.0
            unit_cost_usd = 1.0
            [[customers]]
            id = "c"
            kind = "other"
            demand_share = 1.0
            [[suppliers]]
            id = "fab"
            kind = "foundry"
            capacity_per_quarter = 100.0
            yield_start = 0.5
            max_chip_tflops = 700.0
            [[suppliers]]
            id = "old_fab"
            kind = "foundry"
            capacity_per_quarter = 100.0
            max_chip_tflops = 300.0
            [[suppliers]]
            id = "hbm"
            kind = "hbm"
            capacity_per_quarter = 400.0
            [[links]]
            supplier = "fab"
            firm = "a"
            weight = 3.0
            tags = ["advanced"]
            [[links]]
            supplier = "fab"
            firm = "b"
            [[links]]
            supplier = "old_fab"
            firm = "a"
            [[links]]
            supplier = "hbm"
            firm = "a"
        "#;
        let s = Scenario::from_toml_str(text).unwrap();
        let net = SupplyNetwork::new(&s, &Calendar::new(s.scenario.start));
        (s, net)
    }

    #[test]
    fn output_is_the_minimum_over_inputs_and_unused_shares_go_to_others() {
        let (_, mut net) = network();
        let big = Need { good_wafers: 1e9, hbm_stacks: 1e9, packages: 1e9 };
        // By weight: firm a gets 3/4 of fab's 50 good wafers plus old_fab's 100; b gets 1/4.
        net.allocate(0.0, &[Need::default(), big]);
        assert!((net.potential_units(0, 10.0, 0.0) - (37.5 + 100.0) * 10.0).abs() < 1e-9);
        // HBM binds for a chip with 4 stacks: 400 / 4 = 100 units.
        assert!((net.potential_units(0, 10.0, 4.0) - 100.0).abs() < 1e-9);
        // Firm a needs nothing, so b gets all of fab's good wafers when producing.
        assert!((net.actual_units(1, 10.0, 0.0) - 500.0).abs() < 1e-9);
        assert_eq!(net.actual_units(0, 10.0, 0.0), 0.0);
    }

    #[test]
    fn cut_links_stop_supply_and_lower_the_node_cap() {
        let (_, mut net) = network();
        assert_eq!(net.node_cap(0), 700.0);
        net.set_regime(&["advanced".to_string()]);
        assert_eq!(net.node_cap(0), 300.0, "only the old node is left");
        net.allocate(0.0, &[Need::default(); 2]);
        assert!((net.potential_units(0, 10.0, 0.0) - 1000.0).abs() < 1e-9, "old_fab only");
        assert!((net.potential_units(1, 10.0, 0.0) - 500.0).abs() < 1e-9, "b has fab alone");
        net.set_regime(&[]);
        assert_eq!(net.node_cap(0), 700.0, "links come back when the regime changes");
    }
}
