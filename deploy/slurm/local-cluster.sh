#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, to try deploy/slurm/ for real (not run by CI).
#
#   sudo apt-get install -y slurm-wlm munge        # Debian or Ubuntu packages
#   sudo deploy/slurm/local-cluster.sh start        # munged, slurmctld and slurmd on localhost
#   export SLURM_CONF=/tmp/chipmarket-slurm/slurm.conf
#   deploy/slurm/submit.sh scenarios/sweeps/export-controls.toml outputs/export-controls 8
#   sudo deploy/slurm/local-cluster.sh stop
#
# Everything (configuration, state, daemon logs) lives in $SLURM_LOCAL_DIR (default
# /tmp/chipmarket-slurm); `stop` ends the daemons this script started and leaves the folder.
# The node gets every CPU of the machine and 90 % of its memory; no cgroups, no accounting.
# Run as root (slurmd starts jobs as their users).
set -euo pipefail

dir=${SLURM_LOCAL_DIR:-/tmp/chipmarket-slurm}
conf=$dir/slurm.conf
host=$(hostname -s)

start() {
    command -v slurmctld >/dev/null || { echo "slurmctld not found: apt-get install -y slurm-wlm munge" >&2; exit 1; }
    mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
    cpus=$(nproc)
    mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
    cat >"$conf" <<EOF
ClusterName=chipmarket-local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
MaxArraySize=1001
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    # munge: the machine's key if the package made one, else a key of our own.
    key=/etc/munge/munge.key
    if [ ! -s "$key" ]; then
        key=$dir/munge/munge.key
        [ -s "$key" ] || dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
        chmod 400 "$key"
    fi
    if ! munge -n >/dev/null 2>&1; then
        mkdir -p /run/munge
        munged --key-file="$key" --pid-file="$dir/munged.pid" --socket=/run/munge/munge.socket.2 \
            --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munge.seed" --force
        echo started >"$dir/munged.ours"
    fi
    slurmctld -f "$conf"
    slurmd -f "$conf"
    for _ in $(seq 1 30); do
        if SLURM_CONF=$conf sinfo -h -o %T 2>/dev/null | grep -qx idle; then
            echo "one-node Slurm up on $host ($cpus CPUs, ${mem} MB); export SLURM_CONF=$conf"
            return 0
        fi
        sleep 1
    done
    echo "the node did not come up; see $dir/log/" >&2
    SLURM_CONF=$conf sinfo >&2 || true
    exit 1
}

stop() {
    pids=()
    for d in slurmd slurmctld; do
        if [ -s "$dir/$d.pid" ]; then
            pids+=("$(cat "$dir/$d.pid")")
            kill "${pids[-1]}" 2>/dev/null || true
            rm -f "$dir/$d.pid"
        fi
    done
    # slurmctld takes a few seconds to save its state and exit.
    for _ in $(seq 1 30); do
        alive=
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ -z "$alive" ] && break
        sleep 1
    done
    if [ -f "$dir/munged.ours" ] && [ -s "$dir/munged.pid" ]; then
        kill "$(cat "$dir/munged.pid")" 2>/dev/null || true
        rm -f "$dir/munged.pid" "$dir/munged.ours"
    fi
    echo "stopped the one-node Slurm of $dir"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
    sed -n '2,13p' "$0"
    exit 2
    ;;
esac
