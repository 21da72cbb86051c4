#!/usr/bin/env bash
# Stop what tests/slurm/start_cluster.sh DIR started, in reverse order, by pid file; safe to
# run after a failed start or twice. Leaves DIR (logs) in place.
set -uo pipefail
DIR=$(realpath -m "${1:-/tmp/neulig-slurm}")

stop() {  # stop <pid file>: SIGTERM, then SIGKILL after 10 s (a slurmd retrying registration
    local pid  # can ignore SIGTERM)
    [ -f "$1" ] || return 0
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
}
stop "$DIR/run/slurmd.pid"
stop "$DIR/run/slurmctld.pid"
stop "$DIR/run/slurmdbd.pid"
stop "$DIR/mysql/mysqld.pid"
if [ "$(readlink /etc/slurm/slurm.conf)" = "$DIR/etc/slurm.conf" ]; then
    rm -f /etc/slurm/slurm.conf
fi
if [ -f "$DIR/run/started-munge" ]; then
    stop /run/munge/munged.pid
    rm -f "$DIR/run/started-munge"
fi
