# chipmarket recipes: thin wrappers over cargo.

# Run a scenario (default: the embedded baseline).
run *args:
    cargo run --release -- run {{args}}

# Run a sweep file.
sweep file *args:
    cargo run --release -- sweep {{file}} {{args}}

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

# Peak memory (KiB, /usr/bin/time) of 1000 baseline replications and of one replication
# with 24000 tenders per customer and year; both stay under 64 MB.
memory:
    cargo build --release -p chipmarket
    /usr/bin/time -f "run --replications 1000: peak %M KiB, %e s" target/release/chipmarket run --replications 1000 --quiet --out target/memory/r1000
    /usr/bin/time -f "run --replications 1 --set demand.tenders_per_year=24000: peak %M KiB, %e s" target/release/chipmarket run --replications 1 --set demand.tenders_per_year=24000 --quiet --out target/memory/t24000
    rm -rf target/memory

# Lints as CI runs them.
lint:
    cargo clippy --workspace --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# What CI runs.
ci:
    bash .ci/run
