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

# Lints as CI runs them.
lint:
    cargo clippy --workspace --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# What CI runs.
ci:
    bash .ci/run

# Fuzz each target briefly (nightly + cargo-fuzz; see fuzz/README.md). SECONDS per target.
fuzz seconds="60":
    cd fuzz && cargo +nightly fuzz run scenario -- -max_total_time={{seconds}}
    cd fuzz && cargo +nightly fuzz run sweep_file -- -max_total_time={{seconds}}
    cd fuzz && cargo +nightly fuzz run set_override -- -max_total_time={{seconds}}
