#!/usr/bin/env bash
# Submit a sweep as a Slurm job array of N shards and a merge job that runs when the array ends,
# whatever its outcome. Results land in OUT_DIR/merged, logs in OUT_DIR/logs (see deploy/README.md).
#
#   deploy/slurm/submit.sh SWEEP.toml OUT_DIR N [OPTIONS...] [--tasks OPTIONS...] [--merge OPTIONS...]
#   deploy/slurm/submit.sh scenarios/sweeps/export-controls.toml outputs/export-controls 8 \
#       --account=myproject --tasks --cpus-per-task=2 --throttle=4 --merge --time=00:10:00
#
# sbatch options before --tasks/--merge go to both jobs; those after --tasks only to the shard
# tasks, those after --merge only to the merge. --throttle=K runs at most K tasks at a time.
# Running the same command again submits only the shards that are not finished (and the
# merge): that is the recovery after any failure, and the merge job prints it when it refuses.
#
# The binary: $CHIPMARKET, else chipmarket on the PATH, passed to the jobs by its absolute path,
# so they find it whatever environment they get (--export=NONE included). If the cluster
# provides chipmarket as a module, set CHIPMARKET_SETUP='module load chipmarket' once (in your
# shell profile): it is checked here in a clean login shell, as a job would see it, and run
# first in every job.
set -euo pipefail

usage="usage: submit.sh SWEEP.toml OUT_DIR N_SHARDS [sbatch options...] [--tasks options...] [--merge options...]"
die() {
    echo "submit.sh: $*" >&2
    exit 2
}
[ $# -ge 3 ] || die "$usage"
sweep=$1
out=$2
n=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
command -v sbatch >/dev/null || die "sbatch not found: run this on a Slurm login node"

# The command, to print as the one that resubmits what is left.
rerun=$(printf '%q ' "$here/submit.sh" "$(realpath -m "$sweep")" "$(realpath -m "$out")" "$n" "$@")
rerun=${rerun% }

common=()
task_opts=()
merge_opts=()
throttle=
to=common
for a in "$@"; do
    case "$a" in
    --tasks) to=task_opts ;;
    --merge) to=merge_opts ;;
    --throttle=*) throttle=${a#*=} ;;
    --array | --array=* | -a*) die "'$a': submit.sh makes the array itself (use --throttle=K to run at most K tasks at a time)" ;;
    --dependency* | -d*) die "'$a': submit.sh makes the merge depend on the array itself" ;;
    --output* | --error* | -o* | -e*) die "'$a': logs go to OUT_DIR/logs" ;;
    *)
        case $to in
        common) common+=("$a") ;;
        task_opts) task_opts+=("$a") ;;
        merge_opts) merge_opts+=("$a") ;;
        esac
        ;;
    esac
done

case "$n" in '' | *[!0-9]* | 0) die "N_SHARDS: expected a whole number of at least 1, found '$n'" ;; esac
if [ -n "$throttle" ]; then
    case "$throttle" in '' | *[!0-9]* | 0) die "--throttle: expected a whole number of at least 1, found '$throttle'" ;; esac
fi
[ -f "$sweep" ] || die "'$sweep': no such sweep file"
sweep=$(realpath "$sweep")
out=$(realpath -m "$out")

# The binary, found as the jobs will find it.
setup=${CHIPMARKET_SETUP:-}
if [ -n "$setup" ]; then
    bin=$(env -i HOME="$HOME" USER="${USER:-}" PATH=/usr/bin:/bin bash -lc "$setup >/dev/null 2>&1; command -v ${CHIPMARKET:-chipmarket}" || true)
    [ -n "$bin" ] || die "CHIPMARKET_SETUP='$setup' does not put ${CHIPMARKET:-chipmarket} on the PATH of a clean login shell (as a job gets it)"
else
    bin=$(command -v "${CHIPMARKET:-chipmarket}" || true)
    [ -n "$bin" ] || die "chipmarket not found: set CHIPMARKET=/path/to/chipmarket, put it on the PATH, or set CHIPMARKET_SETUP='module load ...'"
    bin=$(realpath "$bin")
fi
version=$("$bin" --version) || die "'$bin' does not run here"
pass=(--chipmarket "$bin")
if [ -n "$setup" ]; then
    pass+=(--setup "$setup")
    rerun="CHIPMARKET_SETUP=$(printf '%q' "$setup") $rerun"
else
    rerun="CHIPMARKET=$(printf '%q' "$bin") $rerun"
fi

# Refuse a bad sweep file now rather than in N jobs (this validates every point once).
checked=$("$bin" validate "$sweep") || exit 2
read -r points reps < <(sed -n 's/.*(sweep: \([0-9]*\) point(s) x \([0-9]*\) replication(s))$/\1 \2/p' <<<"$checked")
[ -n "${points:-}" ] || die "cannot read the size of the sweep from: $checked"
[ "$n" -le "$points" ] || die "$n shards for $points point(s): a shard runs whole points, so use at most $points"
max_array=$(scontrol show config 2>/dev/null | sed -n 's/^MaxArraySize *= *\([0-9]*\).*/\1/p')
if [ -n "$max_array" ] && [ "$n" -gt "$max_array" ]; then
    die "$n shards, but this cluster's MaxArraySize is $max_array (task numbers up to $((max_array - 1))); use at most $max_array shards"
fi

# CPUs per task: what the user asked for must fit on some node; by default at most 4 and never
# more than the largest node has, so a task can always start.
largest=$(sinfo -h -o %c 2>/dev/null | tr -d '+' | sort -n | tail -1)
asked=
for a in "${common[@]}" "${task_opts[@]}"; do
    case "$a" in --cpus-per-task=*) asked=${a#*=} ;; -c*) asked=${a#-c} ;; esac
done
if [ -n "$asked" ]; then
    if [ -n "$largest" ] && [ "$asked" -gt "$largest" ]; then
        die "--cpus-per-task=$asked, but the largest node has $largest CPUs: the tasks would pend forever"
    fi
else
    cpus=4
    if [ -n "$largest" ] && [ "$largest" -lt "$cpus" ]; then cpus=$largest; fi
    task_opts=(--cpus-per-task="$cpus" "${task_opts[@]}")
fi
# The merge streams the runs and its derived files (points_wide.csv, charts and report draw
# bounded summaries); what grows with the points is the design it checks every row against,
# well under 1 KB per point (a 100,000-point merge peaks at 25 MB): 512 MB plus 1 KB per point.
merge_mem=$((512 + points / 1024))
has_mem=
for a in "${common[@]}" "${merge_opts[@]}"; do
    case "$a" in --mem=* | --mem-per-cpu=*) has_mem=1 ;; esac
done
[ -n "$has_mem" ] || merge_opts=(--mem="${merge_mem}M" "${merge_opts[@]}")

# Only the shards still to do: all of them the first time, the unfinished ones when run again.
todo=$(seq -s, 1 "$n")
if [ -d "$out" ]; then
    todo=$("$bin" status "$out" --shards "$n" --todo) || exit 2
    running=$("$bin" status "$out" --shards "$n" | grep -c '  running, ' || true)
    [ "$running" -eq 0 ] || die "$running shard(s) of $out are running now: wait for them (or scancel their jobs), then run this again"
fi
logs=$out/logs
mkdir -p "$logs"

array=
if [ -n "$todo" ]; then
    indices=$(tr ',' '\n' <<<"$todo" | awk '{ printf "%s%d", (NR > 1 ? "," : ""), $1 - 1 }')
    spec=$indices${throttle:+%$throttle}
    array=$(sbatch --parsable "${common[@]}" "${task_opts[@]}" --array="$spec" \
        --output="$logs/sweep-%A_%a.log" --open-mode=append \
        "$here/sweep.sbatch" "${pass[@]}" "$sweep" "$out" --shards "$n")
    array=${array%%;*}
    dependency=(--dependency="afterany:$array")
else
    dependency=()
fi
merge=$(sbatch --parsable "${common[@]}" "${merge_opts[@]}" "${dependency[@]}" \
    --output="$logs/merge-%j.log" \
    "$here/merge.sbatch" "${pass[@]}" --rerun "$rerun" "$out" "$n")
merge=${merge%%;*}

echo "$version, $points point(s) x $reps replication(s) in $n shard(s)"
if [ -n "$array" ]; then
    echo "submitted shard(s) $todo of $n as job array $array (tasks $spec), and the merge as job $merge (after the array, whatever its outcome)"
else
    echo "every shard is finished; submitted the merge as job $merge"
fi
echo "logs:     $logs/"
echo "progress: $bin status $(printf '%q' "$out") --shards $n"
echo "results:  $out/merged (the merge job exits 2 and says what to rerun if a shard did not finish)"
echo "rerun:    $rerun"
