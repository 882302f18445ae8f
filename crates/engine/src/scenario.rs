//! The scenario: the serde schema of a scenario file, its defaults, and its validation.
//!
//! API Boundary: [`Scenario::from_toml_str`] is how text becomes a validated scenario.
//! Every field below is documented with its unit and default; these doc comments are the
//! reference for scenario authors (mirrored in `docs/scenario-format.md`).
//!
//! Submodules: `validate` checks ranges and references after parsing; `paths` turns
//! dotted override paths (`firms.thead.rd_intensity`) into edits of the TOML tree and
//! lists every sweepable path.

mod layers;
mod paths;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::calendar::Date;
pub use layers::{extends_of, merge, EXTENDS};
pub use paths::{apply_override, list_params, parse_override, KeyPath, Override, PathSeg};
pub use validate::{ScenarioError, MIN_CYCLE_SHAPE, MIN_CYCLE_YEARS};

/// A whole scenario file. Its top-level tables are part of the project's file contract
/// (`docs/scenario-format.md`), plus `[market]` for market-wide behaviour constants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// `[scenario]`: name, dates, seed, replications.
    pub scenario: Meta,
    /// `[demand]`: the S-curve of national demand and how it becomes tenders.
    pub demand: Demand,
    /// `[market]`: market-wide behaviour (pricing, ecosystem feedback, supersession).
    #[serde(default)]
    pub market: Market,
    /// `[[firms]]`: chip vendors with their roadmaps.
    pub firms: Vec<Firm>,
    /// `[[customers]]`: data-centre operators that open tenders.
    pub customers: Vec<Customer>,
    /// `[[suppliers]]`: foundry nodes, HBM makers, packaging lines.
    #[serde(default)]
    pub suppliers: Vec<Supplier>,
    /// `[[links]]`: which supplier serves which firm, with what weight.
    #[serde(default)]
    pub links: Vec<Link>,
    /// `[policy]`: export-control regimes and how they switch.
    #[serde(default)]
    pub policy: Policy,
    /// `[output]`: which optional outputs to write.
    #[serde(default)]
    pub output: Output,
    /// `[observation]`: how sources measure the model's quantities (used by `compare` and
    /// `calibrate`, never by the simulation itself).
    #[serde(default)]
    pub observation: Observation,
}

/// `[scenario]`: identity and run settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Short name, used for the default output folder `outputs/<name>`.
    /// Letters, digits, `-` and `_` only.
    pub name: String,
    /// Free text. Default: empty.
    #[serde(default)]
    pub description: String,
    /// First simulated day, `YYYY-MM-DD`.
    pub start: Date,
    /// Simulated span in years (at least one day, 1/365, and at most 100).
    pub horizon_years: f64,
    /// Master seed of every random stream. Default: 1.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Independent replications of the run. Default: 1.
    #[serde(default = "one_u32")]
    pub replications: u32,
    /// Production tick in days (1 to 92). Default: 7.
    #[serde(default = "default_tick_days")]
    pub tick_days: u32,
    /// `[scenario.precision]`: when `chipmarket run --replications auto` stops. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
}

/// `[scenario.precision]`: replications until precise. With `chipmarket run --replications auto`,
/// replications run in batches of `batch` and stop once every KPI in `kpis` has a 95 %
/// confidence half-width (Student t) of its mean within target, or at `max_replications`.
/// Give `relative_half_width`, `absolute_half_width` or both (then either suffices).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Precision {
    /// KPIs that must be precise: column names of `summary.csv`, at least one.
    pub kpis: Vec<String>,
    /// Target half-width as a share of the mean's absolute value (0.05 = 5 %), above 0. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_half_width: Option<f64>,
    /// Target half-width in the KPI's own unit, above 0. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absolute_half_width: Option<f64>,
    /// Replications per batch (1 to 10000); the stop is checked after each batch. Default: 10.
    #[serde(default = "default_precision_batch")]
    pub batch: u32,
    /// Fewest replications (2 to 1000000). Default: 10.
    #[serde(default = "default_precision_min")]
    pub min_replications: u32,
    /// Most replications (at least `min_replications`, at most 1000000). Default: 1000.
    #[serde(default = "default_precision_max")]
    pub max_replications: u32,
}

/// Which S-curve drives installed compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemandModel {
    /// Logistic growth of installed compute at `growth_rate_per_year` toward `saturation_pflops`.
    Logistic,
    /// Bass diffusion with `bass_innovation` (p) and `bass_imitation` (q), per year.
    Bass,
}

/// `[demand]`: national demand for AI compute and how customers turn it into tenders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demand {
    /// `logistic` (default) or `bass`.
    #[serde(default = "default_demand_model")]
    pub model: DemandModel,
    /// Installed AI compute at `start` [PFLOPS, dense BF16].
    pub installed_start_pflops: f64,
    /// Level installed compute tends to [PFLOPS]; must exceed `installed_start_pflops`.
    pub saturation_pflops: f64,
    /// Logistic growth rate [1/year]. Default: 0.5.
    #[serde(default = "default_growth")]
    pub growth_rate_per_year: f64,
    /// Bass innovation coefficient p [1/year]. Default: 0.03.
    #[serde(default = "default_bass_p")]
    pub bass_innovation: f64,
    /// Bass imitation coefficient q [1/year]. Default: 0.4.
    #[serde(default = "default_bass_q")]
    pub bass_imitation: f64,
    /// Straight-line life of installed compute; its replacement adds to demand [years]. Default: 5.
    #[serde(default = "default_depreciation")]
    pub depreciation_years: f64,
    /// Share of demand that is inference at `start`, in [0, 1]. Default: 0.3.
    #[serde(default = "default_inference_start")]
    pub inference_share_start: f64,
    /// Share of demand that is inference in the long run, in [0, 1]. Default: 0.8.
    #[serde(default = "default_inference_end")]
    pub inference_share_end: f64,
    /// Date at which the inference share is halfway between start and end.
    /// Default: five years after `start`.
    #[serde(default)]
    pub inference_midpoint: Option<Date>,
    /// Steepness of the inference-share logistic [1/year]. Default: 0.8.
    #[serde(default = "default_inference_steepness")]
    pub inference_steepness_per_year: f64,
    /// Tenders one customer opens per year, unless the customer sets its own. Default: 24.
    #[serde(default = "default_tenders_per_year")]
    pub tenders_per_year: f64,
    /// Sigma of the lognormal tender size (the median follows from demand). Default: 0.8.
    #[serde(default = "default_tender_sigma")]
    pub tender_size_sigma: f64,
    /// Days between a tender opening and its award. Default: 30.
    #[serde(default = "default_bid_window")]
    pub bid_window_days: u32,
    /// Days from award to the delivery deadline. Default: 180.
    #[serde(default = "default_delivery_days")]
    pub delivery_days: u32,
    /// Days past the deadline before an undelivered contract is cut. Default: 60.
    #[serde(default = "default_grace_days")]
    pub grace_days: u32,
    /// Minimum per-chip performance of a training tender at `start` [TFLOPS]. Default: 100.
    #[serde(default = "default_training_min")]
    pub training_min_tflops: f64,
    /// Yearly growth of that minimum (0.2 = +20%/year). Default: 0.15.
    #[serde(default = "default_training_min_growth")]
    pub training_min_growth_per_year: f64,
    /// Minimum memory per chip of an inference tender at `start` [GB] (models must fit).
    /// Default: 0.
    #[serde(default)]
    pub inference_min_memory_gb: f64,
    /// Yearly growth of that minimum (0.3 = +30%/year). Default: 0.
    #[serde(default)]
    pub inference_min_memory_growth_per_year: f64,
    /// What buyers budget per PFLOPS of demand at `start` [USD per PFLOPS, dense BF16]:
    /// each tender's compute need becomes a budget in USD, and the cards bought are the
    /// budget over the winning chips' prices (so card counts and capex can be checked
    /// against observed figures). Default: 60000.
    #[serde(default = "default_usd_per_pflops")]
    pub usd_per_pflops: f64,
    /// Yearly change of that budget per PFLOPS (-0.2 = 20% cheaper compute each year).
    /// Default: -0.2.
    #[serde(default = "default_usd_per_pflops_change")]
    pub usd_per_pflops_change_per_year: f64,
    /// Share of a tender's budget left unspent (nobody could deliver) that the customer
    /// adds to its next tender, in [0, 1]. Default: 0.8.
    #[serde(default = "default_unfilled_carry")]
    pub unfilled_carry_share: f64,
}

/// `[market]`: behaviour constants that apply to every firm and customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Market {
    /// Weight of the latest quarter in a firm's smoothed win rate, in (0, 1]. Default: 0.3.
    #[serde(default = "default_win_smoothing")]
    pub win_rate_smoothing: f64,
    /// Win rate at or above which a firm prices at its margin target, in (0, 1]. Default: 0.3.
    #[serde(default = "default_reference_win_rate")]
    pub reference_win_rate: f64,
    /// Ecosystem growth per quarter per unit of installed-base share. Default: 0.06.
    #[serde(default = "default_eco_share_rate")]
    pub ecosystem_share_rate: f64,
    /// Ecosystem growth per quarter at saturating R&D spend. Default: 0.02.
    #[serde(default = "default_eco_rd_rate")]
    pub ecosystem_rd_rate: f64,
    /// R&D spend at which the R&D effect on the ecosystem is half its maximum [USD/year].
    /// Default: 1e9.
    #[serde(default = "default_eco_rd_half")]
    pub ecosystem_rd_half_usd_per_year: f64,
    /// Share of ecosystem maturity lost per year without reinforcement. Default: 0.05.
    #[serde(default = "default_eco_decay")]
    pub ecosystem_decay_per_year: f64,
    /// Quarters an endogenous chip stays on sale after its successor launches. Default: 4.
    #[serde(default = "default_supersede_quarters")]
    pub supersede_quarters: u32,
    /// Peer EV/sales multiple used to report every firm's implied valuation
    /// (`<firm>_implied_valuation_usd` = multiple x trailing-four-quarter revenue). Default: 20.
    #[serde(default = "default_ev_sales")]
    pub ev_sales_multiple: f64,
    /// Electricity price paid by data centres [USD/kWh]: a chip's power cost over its life
    /// (`tdp_w` x hours x `pue` x price) is part of its cost of ownership. Default: 0.08.
    #[serde(default = "default_electricity")]
    pub electricity_usd_per_kwh: f64,
    /// Cost of the server, networking and rack space that each accelerator needs [USD]:
    /// part of the cost of ownership buyers compare (so a cheap, slow card is not worth its
    /// low price), but not of the card budget. Default: 0.
    #[serde(default)]
    pub system_cost_usd_per_card: f64,
    /// Years of power counted in a chip's cost of ownership. Default: 4.
    #[serde(default = "default_power_years")]
    pub power_years: f64,
    /// Power usage effectiveness of data centres (total power over chip power, >= 1). Default: 1.3.
    #[serde(default = "default_pue")]
    pub pue: f64,
    /// Quarters of demand for soon-forbidden foreign chips that customers order ahead of an
    /// announced restriction (see `policy.schedule.announced`). Default: 0.5.
    #[serde(default = "default_pull_forward")]
    pub pull_forward_quarters: f64,
}

/// Whether a firm counts as domestic (Chinese) or foreign (US).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A Chinese vendor.
    Domestic,
    /// A foreign (US) vendor, subject to export controls.
    Foreign,
}

/// `[[firms]]`: a chip vendor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Firm {
    /// Unique id, used in paths and outputs (`thead`).
    pub id: String,
    /// Display name. Default: the id.
    #[serde(default)]
    pub name: String,
    /// `domestic` or `foreign`.
    pub origin: Origin,
    /// Cash at `start` [USD]. Default: 1e9.
    #[serde(default = "default_cash")]
    pub cash_usd: f64,
    /// R&D spend as a share of revenue, in [0, 1]. Default: 0.2.
    #[serde(default = "default_rd_intensity")]
    pub rd_intensity: f64,
    /// R&D spend floor while the firm has cash [USD/year]. Default: 1e8.
    #[serde(default = "default_rd_floor")]
    pub rd_floor_usd_per_year: f64,
    /// Fixed costs other than R&D [USD/year]. Default: 5e7.
    #[serde(default = "default_fixed_costs")]
    pub fixed_costs_usd_per_year: f64,
    /// Software-ecosystem maturity at `start`, in [0, 1]. Default: 0.2.
    #[serde(default = "default_ecosystem")]
    pub ecosystem: f64,
    /// Gross margin the firm prices for when it wins enough, in [0, 1). Default: 0.5.
    #[serde(default = "default_margin_target")]
    pub gross_margin_target: f64,
    /// Lowest gross margin a losing firm cuts to, in [0, gross_margin_target]. Default: 0.1.
    #[serde(default = "default_margin_floor")]
    pub margin_floor: f64,
    /// Perceived risk that the firm cannot supply, in [0, 1]. Default: 0.
    #[serde(default)]
    pub supply_risk: f64,
    /// Output when the firm has no supply links [accelerator units/quarter] at `start`.
    /// Default: 0 (a firm without links or capacity cannot deliver).
    #[serde(default)]
    pub capacity_units_per_quarter: f64,
    /// Yearly growth of that capacity (0.5 = +50%/year), paused while cash is negative. Default: 0.
    #[serde(default)]
    pub capacity_growth_per_year: f64,
    /// Standard deviation of the random slip of roadmap launches [days]; 0 = on time. Default: 0.
    #[serde(default)]
    pub launch_slip_sd_days: f64,
    /// Production lead time: days from wafer start to a finished accelerator. Default: 0.
    #[serde(default)]
    pub lead_time_days: u32,
    /// Finished-goods inventory the firm builds ahead of orders, in weeks of its recent
    /// deliveries of each chip on sale. A regime that forbids a chip strands its inventory,
    /// written off at unit cost. Default: 0 (production to order only).
    #[serde(default)]
    pub inventory_weeks: f64,
    /// The chip roadmap, in launch order.
    pub chips: Vec<Chip>,
    /// Generations past the roadmap, driven by R&D. Absent: the roadmap is all there is.
    #[serde(default)]
    pub next_gen: Option<NextGen>,
    /// Funding events (IPO, state fund, private round).
    #[serde(default)]
    pub funding: Vec<Funding>,
}

/// `[[firms.chips]]`: one accelerator on a firm's roadmap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chip {
    /// Unique id among all chips (`th_ppu`); cite the `chip_id` of `chips.csv`.
    pub id: String,
    /// Display name. Default: the id.
    #[serde(default)]
    pub name: String,
    /// First day it can be sold.
    pub launch: Date,
    /// Last day it can bid. Default: never.
    #[serde(default)]
    pub end_of_sale: Option<Date>,
    /// Dense BF16 throughput [TFLOPS] (> 0).
    pub bf16_tflops: f64,
    /// Export-control Total Processing Performance. Default: `bf16_tflops x 16`
    /// (16-bit dense). Set it where a lower-precision format gives a higher TPP.
    #[serde(default)]
    pub tpp: Option<f64>,
    /// On-package memory [GB]. Default: 0 (unknown).
    #[serde(default)]
    pub memory_gb: f64,
    /// Memory bandwidth [TB/s]. Default: 0 (unknown).
    #[serde(default)]
    pub memory_bandwidth_tbps: f64,
    /// Board power [W]. Default: 0 (unknown).
    #[serde(default)]
    pub tdp_w: f64,
    /// Process node as text (`SMIC N+2`). Default: empty.
    #[serde(default)]
    pub process_node: String,
    /// Chip candidates per wafer before yield (a two-die package counts as half a die's
    /// candidates). Default: 60.
    #[serde(default = "default_dies_per_wafer")]
    pub dies_per_wafer: f64,
    /// HBM stacks per chip. Default: 4.
    #[serde(default = "default_hbm_stacks")]
    pub hbm_stacks: f64,
    /// Foundry suppliers (by id) whose wafers can make this chip, among the firm's links
    /// (a design is made on one process). Default: every foundry the firm is linked to.
    #[serde(default)]
    pub foundries: Vec<String>,
    /// Cost of goods per unit [USD] (> 0).
    pub unit_cost_usd: f64,
    /// List price per unit [USD]. Default: `unit_cost_usd / (1 - gross_margin_target)`.
    #[serde(default)]
    pub price_usd: Option<f64>,
}

/// `[firms.next_gen]`: generations past the roadmap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextGen {
    /// Mean time between generations at the reference R&D spend [years], 0.25 to 50. Default: 2.
    /// Generations are never less than a month apart.
    #[serde(default = "default_cycle_years")]
    pub cycle_years: f64,
    /// Shape of the Gamma-distributed cycle (higher = more regular), 0.1 to 1000. Default: 4.
    #[serde(default = "default_gamma_shape")]
    pub cycle_shape: f64,
    /// R&D spend at which the mean cycle is `cycle_years` [USD/year]. Default: 1e9.
    #[serde(default = "default_rd_reference")]
    pub rd_reference_usd_per_year: f64,
    /// Elasticity of the cycle to R&D: mean = cycle x (reference / spend)^elasticity. Default: 0.3.
    #[serde(default = "default_rd_elasticity")]
    pub rd_elasticity: f64,
    /// Median performance gain per generation (1.8 = +80%). Default: 1.8.
    #[serde(default = "default_gain_median")]
    pub gain_median: f64,
    /// Sigma of the lognormal gain. Default: 0.2.
    #[serde(default = "default_gain_sigma")]
    pub gain_sigma: f64,
    /// Highest chip performance the firm's process node allows [TFLOPS]. Default: no cap.
    #[serde(default)]
    pub max_tflops: Option<f64>,
    /// Unit-cost multiplier per generation. Default: 1.3.
    #[serde(default = "default_cost_growth")]
    pub cost_growth: f64,
}

/// Kind of a funding event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundingKind {
    /// A listing: raises `float_share` of the implied valuation.
    Ipo,
    /// A state fund investment of `amount_usd`.
    StateFund,
    /// A private round of `amount_usd`.
    Private,
}

/// `[[firms.funding]]`: cash raised on a date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Funding {
    /// Id unique within the firm (`ipo`).
    pub id: String,
    /// `ipo`, `state_fund` or `private`.
    pub kind: FundingKind,
    /// When the cash arrives.
    pub date: Date,
    /// Cash raised by a state fund or private round [USD]. Default: 0.
    #[serde(default)]
    pub amount_usd: f64,
    /// IPO: enterprise value over trailing-four-quarter revenue. Default: 20.
    #[serde(default = "default_ev_sales")]
    pub ev_sales_multiple: f64,
    /// IPO: multiple added per unit of year-on-year revenue growth. Default: 0.
    #[serde(default)]
    pub ev_sales_growth_premium: f64,
    /// IPO: share of the company sold, in [0, 1]. Default: 0.1.
    #[serde(default = "default_float_share")]
    pub float_share: f64,
    /// New R&D floor from this date on [USD/year] (what the money is raised for). Default: unchanged.
    #[serde(default)]
    pub rd_floor_usd_per_year: Option<f64>,
    /// Multiplies the firm's supply-link weights and fixed capacity from this date on
    /// (capacity bought with the money; 1.5 = +50%). Default: unchanged.
    #[serde(default)]
    pub capacity_multiplier: Option<f64>,
}

/// Kind of customer, used by domestic mandates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerKind {
    /// State-owned or state-funded (telecom operators).
    State,
    /// A cloud hyperscaler.
    Hyperscaler,
    /// Everyone else.
    Other,
}

/// `[customers.weights]`: how a customer scores bids (nested logit; see
/// `docs/model.md`). The utility of a chip for a tender is
/// `- price x ln(cost of ownership per card) + performance x ln(TFLOPS)` for training and
/// `- price x ln(cost of ownership per card) + bandwidth x ln(TB/s) + memory x ln(GB)` for
/// inference, plus ecosystem, relationship, origin and minus supply risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// Weight on minus log cost of ownership per card (price incl. export fees, less
    /// subsidies, plus power). Default: 1.
    #[serde(default = "one_f64")]
    pub price: f64,
    /// Training tenders: weight on log per-chip dense BF16 TFLOPS. Default: 0.5.
    #[serde(default = "default_w_perf")]
    pub performance: f64,
    /// Inference tenders: weight on log memory bandwidth [TB/s]. Default: 0.6.
    #[serde(default = "default_w_bandwidth")]
    pub bandwidth: f64,
    /// Inference tenders: weight on log memory capacity [GB]. Default: 0.3.
    #[serde(default = "default_w_memory")]
    pub memory: f64,
    /// Weight on a domestic origin (a preference for Chinese vendors beyond mandates). Default: 0.
    #[serde(default)]
    pub domestic: f64,
    /// Weight on ecosystem maturity (0..1). Default: 2.
    #[serde(default = "default_w_eco")]
    pub ecosystem: f64,
    /// Weight on the relationship with the vendor (0..1). Default: 1.
    #[serde(default = "one_f64")]
    pub relationship: f64,
    /// Weight on minus supply risk (0..1). Default: 1.
    #[serde(default = "one_f64")]
    pub supply_risk: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            price: 1.0,
            performance: default_w_perf(),
            bandwidth: default_w_bandwidth(),
            memory: default_w_memory(),
            domestic: 0.0,
            ecosystem: default_w_eco(),
            relationship: 1.0,
            supply_risk: 1.0,
        }
    }
}

/// `[[customers]]`: a data-centre operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// Unique id (`china_mobile`).
    pub id: String,
    /// Display name. Default: the id.
    #[serde(default)]
    pub name: String,
    /// `state`, `hyperscaler` or `other`.
    pub kind: CustomerKind,
    /// Share of national demand, in (0, 1]; shares of all customers add up to 1.
    pub demand_share: f64,
    /// Tenders opened per year. Default: `demand.tenders_per_year`.
    #[serde(default)]
    pub tenders_per_year: Option<f64>,
    /// Bid-scoring weights.
    #[serde(default)]
    pub weights: Weights,
    /// Scale of the logit (of the Gumbel taste noise): higher spreads a tender over more
    /// bids (> 0). Default: 0.5.
    #[serde(default = "default_noise")]
    pub noise_scale: f64,
    /// Nest parameter of the nested logit, in (0, 1]: bids are nested by origin (domestic,
    /// foreign); 1 is a plain logit, lower values make bids of the same origin closer
    /// substitutes, so a customer keeps a second source of the other origin (dual
    /// sourcing). Default: 0.7.
    #[serde(default = "default_nest_scale")]
    pub nest_scale: f64,
    /// Largest share of one tender a single vendor may win, in (0, 1]. Default: 1 (no cap:
    /// the nested logit spreads awards).
    #[serde(default = "one_f64")]
    pub max_vendor_share: f64,
    /// The customer's own minimum domestic share of each tender, in [0, 1]. Default: 0.
    #[serde(default)]
    pub domestic_mandate: f64,
    /// Relationship strength with vendors, by firm id, in [0, 1]. Default: none.
    #[serde(default)]
    pub relationships: BTreeMap<String, f64>,
}

/// Kind of supplier node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupplierKind {
    /// A foundry process node; capacity in wafers, output in good dies.
    Foundry,
    /// An HBM maker; capacity in stacks.
    Hbm,
    /// An advanced-packaging line; capacity in packages.
    Packaging,
}

/// `[[suppliers]]`: a node of the supply network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supplier {
    /// Unique id (`smic_n2`).
    pub id: String,
    /// Display name. Default: the id.
    #[serde(default)]
    pub name: String,
    /// `foundry`, `hbm` or `packaging`.
    pub kind: SupplierKind,
    /// Capacity at `start` [wafers, stacks or packages per quarter].
    pub capacity_per_quarter: f64,
    /// Yearly capacity growth (0.3 = +30%/year). Default: 0.
    #[serde(default)]
    pub capacity_growth_per_year: f64,
    /// Foundry yield at `start`, in (0, 1]. Default: 1.
    #[serde(default = "one_f64")]
    pub yield_start: f64,
    /// Long-run foundry yield, in (0, 1]. Default: `yield_start`.
    #[serde(default)]
    pub yield_end: Option<f64>,
    /// Speed of yield learning toward `yield_end` [1/year]. Default: 0.5.
    #[serde(default = "default_yield_rate")]
    pub yield_learning_per_year: f64,
    /// Foundry: highest chip performance this node allows [TFLOPS]. Default: no cap.
    #[serde(default)]
    pub max_chip_tflops: Option<f64>,
    /// Dated capacity additions.
    #[serde(default)]
    pub expansions: Vec<Expansion>,
    /// A finite stock (a die bank, an HBM stockpile) [in the supplier's unit]: what the
    /// supplier hands out in all is at most this, at no more than its capacity per quarter;
    /// it depletes as firms' production uses it. Default: none (a flow without limit).
    #[serde(default)]
    pub stock: Option<f64>,
}

/// `[[suppliers.expansions]]`: capacity added (or, if negative, removed) on a date. Each
/// expansion grows at the supplier's `capacity_growth_per_year` from its own date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expansion {
    /// When the capacity comes online.
    pub date: Date,
    /// Capacity added [per quarter, in the supplier's unit]; negative removes capacity
    /// (a stockpile running out). Total capacity never goes below zero.
    pub capacity_per_quarter: f64,
}

/// `[[links]]`: a supplier serving a firm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Supplier id.
    pub supplier: String,
    /// Firm id.
    pub firm: String,
    /// Allocation weight among the supplier's firms (> 0). Default: 1.
    #[serde(default = "one_f64")]
    pub weight: f64,
    /// Policy tags; a regime's `cut_links` switches off links carrying any of them.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// `[policy]`: regimes and their switching.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Regime in force at `start` when the schedule does not say otherwise. Required when
    /// more than one regime is defined and no schedule entry is dated on or before `start`.
    /// With no regimes at all, the built-in `open` regime (no restrictions) is in force.
    #[serde(default)]
    pub initial: Option<String>,
    /// `[policy.regimes.<name>]`: the named regimes.
    #[serde(default)]
    pub regimes: BTreeMap<String, Regime>,
    /// `[[policy.schedule]]`: dated switches, in date order.
    #[serde(default)]
    pub schedule: Vec<ScheduleEntry>,
    /// `[policy.switching]`: Markov switching after the schedule ends.
    #[serde(default)]
    pub switching: Option<Switching>,
}

/// `[policy.regimes.<name>]`: one set of export-control and counter-policy rules.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regime {
    /// Highest TPP a foreign chip may have to be sold into China; absent = no cap, 0 = full ban.
    #[serde(default)]
    pub foreign_max_tpp: Option<f64>,
    /// Foreign chips controlled whatever their TPP, by chip id (for rules a TPP cap cannot
    /// express: the 2022 interconnect test that stopped the A100/H100 but not the
    /// A800/H800, or "no Blackwell for China"). Default: none.
    #[serde(default)]
    pub excluded_chips: Vec<String>,
    /// Foreign sales need a licence. Default: false.
    #[serde(default)]
    pub license_required: bool,
    /// Chance a licence is approved, in [0, 1]. Default: 1.
    #[serde(default = "one_f64")]
    pub license_approval_prob: f64,
    /// Days until a licence is decided. Default: 0.
    #[serde(default)]
    pub license_delay_days: u32,
    /// Share of foreign revenue paid to the US government, in [0, 1). Default: 0.
    #[serde(default)]
    pub export_fee: f64,
    /// Risk buyers see that a foreign chip bought now will be cut off (spares, later
    /// volumes, a stricter rule), added to foreign firms' `supply_risk`, in [0, 1]. Default: 0.
    #[serde(default)]
    pub foreign_supply_risk: f64,
    /// Chance a Chinese customer excludes foreign bids from a tender, in [0, 1]. Default: 0.
    #[serde(default)]
    pub foreign_purchase_discouraged: f64,
    /// Minimum domestic share of each tender, per customer kind, in [0, 1].
    #[serde(default)]
    pub domestic_mandate: Mandate,
    /// Cut in the cost of ownership of domestic chips, in [0, 1). Default: 0.
    #[serde(default)]
    pub domestic_subsidy: f64,
    /// Share of the power cost of domestic chips paid by the state (energy subsidies for
    /// data centres using domestic chips), in [0, 1]. Default: 0.
    #[serde(default)]
    pub power_subsidy: f64,
    /// Days that foreign backlog this regime forbids may still be delivered after it takes
    /// force; what is left then is cancelled. Default: 0.
    #[serde(default)]
    pub backlog_grace_days: u32,
    /// Link tags switched off while this regime is in force.
    #[serde(default)]
    pub cut_links: Vec<String>,
}

/// `[policy.regimes.<name>.domestic_mandate]`: minimum domestic share by customer kind.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mandate {
    /// State customers, in [0, 1]. Default: 0.
    #[serde(default)]
    pub state: f64,
    /// Hyperscalers, in [0, 1]. Default: 0.
    #[serde(default)]
    pub hyperscaler: f64,
    /// Other customers, in [0, 1]. Default: 0.
    #[serde(default)]
    pub other: f64,
}

impl Mandate {
    /// The mandate for one kind of customer.
    pub fn for_kind(&self, kind: CustomerKind) -> f64 {
        match kind {
            CustomerKind::State => self.state,
            CustomerKind::Hyperscaler => self.hyperscaler,
            CustomerKind::Other => self.other,
        }
    }
}

/// `[[policy.schedule]]`: a dated regime switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    /// When the regime takes force.
    pub date: Date,
    /// Regime name.
    pub regime: String,
    /// When the switch was announced, on or before `date`: customers order foreign chips
    /// the new regime will forbid ahead of it (`market.pull_forward_quarters`). Default:
    /// not announced (no pull-forward).
    #[serde(default)]
    pub announced: Option<Date>,
}

/// `[policy.switching]`: the policy pendulum, a Markov chain over regimes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switching {
    /// When switching starts. Default: the last schedule date (or `start`).
    #[serde(default)]
    pub from: Option<Date>,
    /// Per regime: mean dwell time and transition weights. Regimes not listed are absorbing.
    pub regimes: BTreeMap<String, SwitchRule>,
}

/// `[policy.switching.regimes.<name>]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchRule {
    /// Mean time in this regime before the next switch [years] (> 0).
    pub mean_dwell_years: f64,
    /// Weights of the next regime, by name (> 0 each).
    pub to: BTreeMap<String, f64>,
}

/// `[output]`: optional outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// Write `events.csv` (the same as `--trace`). Default: false.
    #[serde(default)]
    pub trace: bool,
    /// Also write `results.xlsx`, an Excel workbook of the summaries, shares, gaps and
    /// (within the sheet row limit) contracts (the same as `--xlsx`). Default: false.
    #[serde(default)]
    pub xlsx: bool,
    /// Write `contracts.csv`, one row per contract (the largest file by far). Default: true.
    #[serde(default = "yes")]
    pub contracts: bool,
}

impl Default for Output {
    fn default() -> Self {
        Output { trace: false, xlsx: false, contracts: true }
    }
}

fn yes() -> bool {
    true
}

/// `[observation]`: observation models of targets rows (`docs/calibration.md`). They turn the
/// model's deliveries into what a source counts; the simulation never reads them, so they
/// change scores, not runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    /// `[observation.server_shipments]`: rows of kind `server_shipments` (cards counted when
    /// their server ships, as IDC counts them).
    #[serde(default)]
    pub server_shipments: ServerShipments,
}

/// `[observation.server_shipments]`: a card delivered in quarter q is counted when its server
/// ships, `lag` quarters later, with `lag` uniform on `[lag_quarters - lag_spread_quarters,
/// lag_quarters + lag_spread_quarters]` (cut at 0) and a fraction of a quarter splitting the
/// quarter's deliveries between the two neighbouring quarters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServerShipments {
    /// Mean integration lag, quarters (0 to 8). Default: 0 (counted when delivered).
    #[serde(default)]
    pub lag_quarters: f64,
    /// Half-width of the lag's spread, quarters (0 to 4). Default: 0.
    #[serde(default)]
    pub lag_spread_quarters: f64,
    /// Chip ids the source does not count (left out of both a share's numerator and its
    /// denominator). Default: none.
    #[serde(default)]
    pub excluded_chips: Vec<String>,
}

impl Default for Market {
    fn default() -> Self {
        Market {
            win_rate_smoothing: default_win_smoothing(),
            reference_win_rate: default_reference_win_rate(),
            ecosystem_share_rate: default_eco_share_rate(),
            ecosystem_rd_rate: default_eco_rd_rate(),
            ecosystem_rd_half_usd_per_year: default_eco_rd_half(),
            ecosystem_decay_per_year: default_eco_decay(),
            supersede_quarters: default_supersede_quarters(),
            ev_sales_multiple: default_ev_sales(),
            electricity_usd_per_kwh: default_electricity(),
            system_cost_usd_per_card: 0.0,
            power_years: default_power_years(),
            pue: default_pue(),
            pull_forward_quarters: default_pull_forward(),
        }
    }
}

impl Chip {
    /// Export-control TPP: `tpp` if set, else `bf16_tflops x 16` (dense 16-bit TFLOPS
    /// times the bit length, the BIS formula for a 16-bit format).
    pub fn tpp(&self) -> f64 {
        self.tpp.unwrap_or(self.bf16_tflops * 16.0)
    }
}

impl Scenario {
    /// Parse and validate a scenario from TOML text.
    ///
    /// Errors carry the key path; [`ScenarioError::span`] gives a byte range in `text`
    /// where one is known, so the caller can print `file:line:column`.
    pub fn from_toml_str(text: &str) -> Result<Scenario, ScenarioError> {
        Self::from_toml_str_with(text, &[])
    }

    /// Parse, apply `overrides` (`--set` or a sweep point), then validate.
    pub fn from_toml_str_with(text: &str, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
        Self::from_layers(&[text], overrides)
    }

    /// Merge scenario texts (the base-most first; see `extends`), apply `overrides`, then
    /// validate. Errors name the layer whose text they point into ([`ScenarioError::layer`]).
    pub fn from_layers(texts: &[&str], overrides: &[Override]) -> Result<Scenario, ScenarioError> {
        let mut tree = toml::Table::new();
        for (i, text) in texts.iter().enumerate() {
            let mut layer = validate::parse_tree(text).map_err(|mut e| {
                e.layer = Some(i);
                e
            })?;
            if let Some(ext) = layer.get(EXTENDS) {
                let e = match ext {
                    toml::Value::String(_) if i > 0 => None,
                    toml::Value::String(s) => Some(
                        ScenarioError::new(
                            KeyPath::root().key(EXTENDS),
                            format!("the base scenario \"{s}\" was not read"),
                        )
                        .with_hint("run the file with `chipmarket`, which reads the files named by `extends`"),
                    ),
                    other => Some(
                        ScenarioError::new(
                            KeyPath::root().key(EXTENDS),
                            format!(
                                "expected the path of a base scenario file, found {}",
                                validate::describe_toml(other)
                            ),
                        )
                        .with_hint("write extends = \"baseline.toml\" (relative to the folder of this file)"),
                    ),
                };
                if let Some(e) = e {
                    let mut e = e.located(text, &layer, &[]);
                    e.layer = Some(i);
                    return Err(e);
                }
            }
            layer.remove(EXTENDS);
            merge(&mut tree, layer);
        }
        for ov in overrides {
            apply_override(&mut tree, ov)?;
        }
        let scenario = validate::deserialize_tree(texts, &tree, overrides)?;
        scenario.validate().map_err(|e| e.located_in(texts, &tree, overrides))?;
        Ok(scenario)
    }

    /// Check ranges, uniqueness and references. Spans are filled in by the caller.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        validate::check(self)
    }

    /// The scenario with every default filled in, as TOML. Parsing it gives this scenario back.
    pub fn to_toml_string(&self) -> String {
        let mut s = self.clone();
        s.fill_display_defaults();
        toml::to_string(&s).expect("a scenario always serialises to TOML")
    }

    /// The scenario as a TOML tree (for `params` and overrides).
    pub fn to_toml_value(&self) -> toml::Value {
        toml::Value::try_from(self).expect("a scenario always serialises to TOML")
    }

    /// Fill defaults that depend on other fields, so that the resolved file shows them.
    fn fill_display_defaults(&mut self) {
        for firm in &mut self.firms {
            if firm.name.is_empty() {
                firm.name = firm.id.clone();
            }
            for chip in &mut firm.chips {
                if chip.name.is_empty() {
                    chip.name = chip.id.clone();
                }
            }
        }
        for customer in &mut self.customers {
            if customer.name.is_empty() {
                customer.name = customer.id.clone();
            }
        }
    }
}

fn one_u64() -> u64 {
    1
}
fn one_u32() -> u32 {
    1
}
fn one_f64() -> f64 {
    1.0
}
fn default_precision_batch() -> u32 {
    10
}
fn default_precision_min() -> u32 {
    10
}
fn default_precision_max() -> u32 {
    1000
}
fn default_tick_days() -> u32 {
    7
}
fn default_demand_model() -> DemandModel {
    DemandModel::Logistic
}
fn default_growth() -> f64 {
    0.5
}
fn default_bass_p() -> f64 {
    0.03
}
fn default_bass_q() -> f64 {
    0.4
}
fn default_depreciation() -> f64 {
    5.0
}
fn default_inference_start() -> f64 {
    0.3
}
fn default_inference_end() -> f64 {
    0.8
}
fn default_inference_steepness() -> f64 {
    0.8
}
fn default_tenders_per_year() -> f64 {
    24.0
}
fn default_tender_sigma() -> f64 {
    0.8
}
fn default_bid_window() -> u32 {
    30
}
fn default_delivery_days() -> u32 {
    180
}
fn default_grace_days() -> u32 {
    60
}
fn default_training_min() -> f64 {
    100.0
}
fn default_training_min_growth() -> f64 {
    0.15
}
fn default_win_smoothing() -> f64 {
    0.3
}
fn default_reference_win_rate() -> f64 {
    0.3
}
fn default_eco_share_rate() -> f64 {
    0.06
}
fn default_eco_rd_rate() -> f64 {
    0.02
}
fn default_eco_rd_half() -> f64 {
    1e9
}
fn default_eco_decay() -> f64 {
    0.05
}
fn default_supersede_quarters() -> u32 {
    4
}
fn default_cash() -> f64 {
    1e9
}
fn default_rd_intensity() -> f64 {
    0.2
}
fn default_rd_floor() -> f64 {
    1e8
}
fn default_fixed_costs() -> f64 {
    5e7
}
fn default_ecosystem() -> f64 {
    0.2
}
fn default_margin_target() -> f64 {
    0.5
}
fn default_margin_floor() -> f64 {
    0.1
}
fn default_dies_per_wafer() -> f64 {
    60.0
}
fn default_hbm_stacks() -> f64 {
    4.0
}
fn default_cycle_years() -> f64 {
    2.0
}
fn default_gamma_shape() -> f64 {
    4.0
}
fn default_rd_reference() -> f64 {
    1e9
}
fn default_rd_elasticity() -> f64 {
    0.3
}
fn default_gain_median() -> f64 {
    1.8
}
fn default_gain_sigma() -> f64 {
    0.2
}
fn default_cost_growth() -> f64 {
    1.3
}
fn default_ev_sales() -> f64 {
    20.0
}
fn default_float_share() -> f64 {
    0.1
}
fn default_w_perf() -> f64 {
    0.5
}
fn default_w_eco() -> f64 {
    2.0
}
fn default_noise() -> f64 {
    0.5
}
fn default_yield_rate() -> f64 {
    0.5
}
fn default_usd_per_pflops() -> f64 {
    60000.0
}
fn default_usd_per_pflops_change() -> f64 {
    -0.2
}
fn default_unfilled_carry() -> f64 {
    0.8
}
fn default_electricity() -> f64 {
    0.08
}
fn default_power_years() -> f64 {
    4.0
}
fn default_pue() -> f64 {
    1.3
}
fn default_pull_forward() -> f64 {
    0.5
}
fn default_w_bandwidth() -> f64 {
    0.6
}
fn default_w_memory() -> f64 {
    0.3
}
fn default_nest_scale() -> f64 {
    0.7
}
