# chipmarket recipes: thin wrappers over cargo.

# Run a scenario (default: the embedded baseline).
run *args:
    cargo run --release -- run {{args}}

# The baseline against every policy scenario, paired (same seed and replications): each run in
# outputs/compare-policies/<name>/, the paired differences in outputs/compare-policies/comparison/.
compare-policies *args:
    cargo run --release -- run scenarios/baseline.toml scenarios/licensed-exports.toml scenarios/strict-decoupling.toml scenarios/incoherent-rules.toml scenarios/policy-pendulum.toml --out outputs/compare-policies {{args}}

# Run a sweep file.
sweep file *args:
    cargo run --release -- sweep {{file}} {{args}}

# Sensitivity analysis of the shipped sweeps (docs/analysis.md): run them, then analyze.
analysis:
    cargo run --release -- sweep scenarios/sweeps/screening-morris.toml --quiet
    cargo run --release -- analyze outputs/screening-morris --kpi market_final_year_domestic_compute_share --kpi thead_final_year_compute_share --kpi market_final_perf_gap_sellable
    cargo run --release -- sweep scenarios/sweeps/sensitivity-sobol.toml --quiet
    cargo run --release -- analyze outputs/sensitivity-sobol --kpi market_final_year_domestic_compute_share --kpi thead_final_year_compute_share --kpi market_final_perf_gap_sellable
    cargo run --release -- analyze outputs/sensitivity-sobol --discover "market_final_year_domestic_compute_share < 0.99"
    cargo run --release -- sweep scenarios/sweeps/sensitivity-sobol-2027.toml --quiet
    cargo run --release -- analyze outputs/sensitivity-sobol-2027 --kpi market_final_perf_gap_sellable --kpi market_final_year_domestic_compute_share --kpi thead_final_year_compute_share

# Time the calibration benchmark (200 evaluations of 10 replications; target <= 60 s with 2 jobs).
bench-calibrate:
    cargo build --release
    rm -rf outputs/calibration-benchmark
    /usr/bin/time -f "%e s wall, %M KB peak" target/release/chipmarket calibrate scenarios/calibration/benchmark.toml --out outputs/calibration-benchmark --jobs 2 --quiet

# All tests.
test:
    cargo test --workspace

# Benchmarks: the kernel hold model and one baseline replication.
bench:
    cargo run --release -p chipmarket-engine --example hold -- --pending 1000 --events 5000000
    cargo run --release -p chipmarket-engine --example hold -- --pending 100000 --events 5000000
    cargo bench -p chipmarket-engine --bench baseline
    cargo run --release -p chipmarket-engine --example replication -- scenarios/stress-large.toml --reps 3
    cargo bench -p chipmarket --bench sweep
    cargo run --release -p chipmarket --example analyze_input -- outputs/analyze-bench --samples 1024 --replications 10
    /usr/bin/time -f "analyze: %e s, %M KiB peak" target/release/chipmarket analyze outputs/analyze-bench --quiet

# Peak memory (KiB, /usr/bin/time) of 1000 baseline replications, of one replication with
# 24000 tenders per customer and year, and of two such replications at once (two threads);
# each stays under 64 MB.
memory:
    cargo build --release -p chipmarket
    /usr/bin/time -f "run --replications 1000: peak %M KiB, %e s" target/release/chipmarket run --replications 1000 --quiet --out target/memory/r1000
    /usr/bin/time -f "run --replications 1 --set demand.tenders_per_year=24000: peak %M KiB, %e s" target/release/chipmarket run --replications 1 --set demand.tenders_per_year=24000 --quiet --out target/memory/t24000
    RAYON_NUM_THREADS=2 /usr/bin/time -f "run --replications 2 --set demand.tenders_per_year=24000 (2 threads): peak %M KiB, %e s" target/release/chipmarket run --replications 2 --set demand.tenders_per_year=24000 --quiet --out target/memory/t24000x2
    rm -rf target/memory

# Cost of a shard against the size of its design (deploy/README.md): shard 100 of 100 of a
# 100,000-point baseline grid against a sweep of its 1,000 points alone (target: at most 1.5x).
bench-shard:
    cargo build --release -p chipmarket
    rm -rf target/bench-shard
    /usr/bin/time -f "shard 100/100 of 100,000 points: %e s wall, %U s user, %M KiB peak" target/release/chipmarket sweep crates/runner/benches/shard/grid-100k.toml --shard 100/100 --out target/bench-shard/shard --jobs 1 --quiet
    /usr/bin/time -f "the same 1,000 points alone: %e s wall, %U s user, %M KiB peak" target/release/chipmarket sweep crates/runner/benches/shard/grid-1k.toml --out target/bench-shard/alone --jobs 1 --quiet
    rm -rf target/bench-shard

# Lints as CI runs them.
lint:
    cargo clippy --workspace --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# What CI runs.
ci:
    bash .ci/run

# Fuzz every target in turn, one process (nightly + cargo-fuzz; see fuzz/README.md): SECONDS
# per target, inputs up to 4 KiB, each target's dictionary, release with overflow checks and no
# sanitizer (safe Rust; five times the speed). `just fuzz 600` for a long run.
fuzz seconds="60":
    cd fuzz && for t in scenario sweep_file set_override targets period calibration; do cargo +nightly fuzz run -O -a -s none "$t" -- -max_total_time={{seconds}} -max_len=4096 -dict="dicts/$t.dict" -print_final_stats=1 || exit 1; done

# Before/after check of a byte-identical change: outputs of every shipped scenario, a sweep and
# the calibration benchmark into DIR (release binary), or a file-by-file comparison of two such folders.
golden-make dir:
    cargo build --release
    scripts/golden.sh make {{dir}}

golden-diff old new:
    scripts/golden.sh diff {{old}} {{new}}
