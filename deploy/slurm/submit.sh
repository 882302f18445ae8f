#!/usr/bin/env bash
# Submit a sweep as a Slurm job array of N shards, and its merge as a job that starts when every
# shard has succeeded. Results land in OUT_DIR/merged.
#
#   deploy/slurm/submit.sh scenarios/sweeps/export-controls.toml outputs/export-controls 8
#
# Extra arguments go to both sbatch calls (e.g. --account=... --partition=...).
set -euo pipefail

sweep=${1:?usage: submit.sh SWEEP.toml OUT_DIR N_SHARDS [sbatch options...]}
out=${2:?usage: submit.sh SWEEP.toml OUT_DIR N_SHARDS [sbatch options...]}
n=${3:?usage: submit.sh SWEEP.toml OUT_DIR N_SHARDS [sbatch options...]}
shift 3
here=$(cd "$(dirname "$0")" && pwd)

# Refuse a bad sweep file now rather than in N jobs.
"${CHIPMARKET:-chipmarket}" validate "$sweep"

array=$(sbatch --parsable "$@" --array="0-$((n - 1))" "$here/sweep.sbatch" "$sweep" "$out")
array=${array%%;*}
merge=$(sbatch --parsable "$@" --dependency="afterok:$array" "$here/merge.sbatch" "$out" "$n")
echo "submitted shards as job array $array and the merge as job ${merge%%;*}; results: $out/merged"
