#!/usr/bin/env bash
# Run a chipmarket sweep as N shards with GNU parallel, on this machine or on several over ssh,
# then merge them into OUT_DIR/merged (see deploy/README.md).
#
#   deploy/gnu-parallel/sweep.sh scenarios/sweeps/export-controls.toml outputs/export-controls 4
#   deploy/gnu-parallel/sweep.sh scenarios/sweeps/export-controls.toml outputs/export-controls 16 \
#       --sshlogin 8/node1,8/node2 --workdir .
#
# Arguments after N_SHARDS go to GNU parallel. By default it runs one shard per core here; each
# shard uses JOBS_PER_SHARD threads (default 1). Over ssh, every host needs chipmarket on its
# PATH and the sweep, its base scenario and OUT_DIR at the same paths (a shared file system);
# `--workdir .` runs each shard in the same folder as here. Paths may hold spaces (the command
# is quoted with --quote). Every shard runs with --resume, so after an interruption or a failed
# shard the same command does only the runs that are missing; if a shard fails, the script
# prints where the shards stand and exits 1 without merging.
set -euo pipefail

sweep=${1:?usage: sweep.sh SWEEP.toml OUT_DIR N_SHARDS [GNU parallel options...]}
out=${2:?usage: sweep.sh SWEEP.toml OUT_DIR N_SHARDS [GNU parallel options...]}
n=${3:?usage: sweep.sh SWEEP.toml OUT_DIR N_SHARDS [GNU parallel options...]}
shift 3
chipmarket=${CHIPMARKET:-chipmarket}
jobs_per_shard=${JOBS_PER_SHARD:-1}

command -v parallel >/dev/null || { echo "GNU parallel is not installed (apt-get install parallel)" >&2; exit 1; }
# Refuse a bad sweep file now rather than in N shards.
"$chipmarket" validate "$sweep" >/dev/null

mkdir -p "$out"
if ! seq 1 "$n" | parallel --quote --halt soon,fail=1 --tag "$@" \
    "$chipmarket" sweep "$sweep" --shard "{}/$n" --out "$out/shard-{}-of-$n" \
    --jobs "$jobs_per_shard" --resume --quiet; then
    "$chipmarket" status "$out" --shards "$n" >&2 || true
    echo "a shard failed; run the same command again to finish the shards that are left" >&2
    exit 1
fi

shards=()
for k in $(seq 1 "$n"); do
    shards+=("$out/shard-$k-of-$n")
done
"$chipmarket" merge "${shards[@]}" --out "$out/merged"
