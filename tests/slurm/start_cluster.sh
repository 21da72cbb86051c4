#!/usr/bin/env bash
# A single-node Slurm cluster with accounting (sacct) on this machine, for tests/test_slurm.py
# or by hand. Needs root and Debian's slurm-wlm, slurmdbd, mariadb-server and munge
# (`make slurm-deps`); no systemd: every daemon is started here and stopped by pid.
#
#   tests/slurm/start_cluster.sh /tmp/neulig-slurm       # about 5 s
#   export SLURM_CONF=/tmp/neulig-slurm/etc/slurm.conf   # sinfo, sbatch, sacct, snakemake
#   tests/slurm/stop_cluster.sh /tmp/neulig-slurm
#
# Account `neulig`, partition `debug`, one node with this machine's CPUs. Everything (configs,
# state, the MariaDB data, logs) lives in DIR, which must be readable by the mysql user; only
# /etc/slurm/slurm.conf is a link into it (removed by stop_cluster.sh).
# Ports: slurmctld 6817, slurmd 6818, slurmdbd 6819, MariaDB 127.0.0.1:$NEULIG_SLURM_DB_PORT.
set -euo pipefail
DIR=$(realpath -m "${1:-/tmp/neulig-slurm}")
DB_PORT=${NEULIG_SLURM_DB_PORT:-13306}  # not 3306: a system MariaDB may hold it
NODE=$(hostname -s)
trap 'echo "start_cluster: failed; logs in $DIR/log; clean up: tests/slurm/stop_cluster.sh $DIR" >&2' ERR

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {  # wait_for <what> <command...>: poll up to 30 s
    local what=$1; shift
    for _ in $(seq 150); do "$@" && return 0; sleep 0.2; done
    echo "start_cluster: $what did not come up" >&2; return 1
}
for port in 6817 6818 6819 "$DB_PORT"; do
    if port_open "$port"; then
        echo "start_cluster: port $port is already in use (another cluster running?)" >&2
        exit 1
    fi
done

mkdir -p "$DIR"/{etc,state,spool,log,run,mysql}
chmod 755 "$DIR"
chown mysql: "$DIR/mysql"
chown mysql: "$DIR/log"  # MariaDB writes its error log here too

# munge: the machine's own daemon; started (and later stopped) only if none answers.
if ! (munge -n | unmunge) >/dev/null 2>&1; then
    install -d -o munge -g munge -m 755 /run/munge
    [ -f /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
    runuser -u munge -- /usr/sbin/munged
    touch "$DIR/run/started-munge"
    wait_for munged sh -c 'munge -n | unmunge >/dev/null 2>&1'
fi

# MariaDB on 127.0.0.1 (slurmdbd speaks TCP to it; the socket is only for the setup below).
mariadb-install-db --user=mysql --datadir="$DIR/mysql" >"$DIR/log/mariadb-install.log" 2>&1
setsid mariadbd --user=mysql --datadir="$DIR/mysql" --socket="$DIR/mysql/mysqld.sock" \
    --pid-file="$DIR/mysql/mysqld.pid" --bind-address=127.0.0.1 --port="$DB_PORT" \
    --log-error="$DIR/log/mariadb.log" </dev/null >/dev/null 2>&1 &
wait_for MariaDB mariadb-admin --socket="$DIR/mysql/mysqld.sock" ping --silent >/dev/null
mariadb --socket="$DIR/mysql/mysqld.sock" -u root <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
GRANT ALL ON slurm_acct.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct.* TO 'slurm'@'127.0.0.1';
SQL

MEM=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
CPUS=$(slurmd -C | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p')
cat >"$DIR/etc/slurm.conf" <<CONF
ClusterName=neulig
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
# no cgroups in containers: plain Linux process tracking, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/slurmdbd
AccountingStoreFlags=job_comment
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
ReturnToService=2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$((MEM * 9 / 10)) State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
cat >"$DIR/etc/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct
PidFile=$DIR/run/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
CONF
chmod 600 "$DIR/etc/slurmdbd.conf"
# Jobs need the config at Slurm's default path too: snakemake-executor-plugin-slurm-jobstep
# (0.6) drops SLURM_CONF from the environment of the srun it runs inside each job.
if [ -e /etc/slurm/slurm.conf ] || [ -L /etc/slurm/slurm.conf ]; then
    echo "start_cluster: /etc/slurm/slurm.conf exists: this machine has a Slurm already" >&2
    exit 1
fi
mkdir -p /etc/slurm
ln -s "$DIR/etc/slurm.conf" /etc/slurm/slurm.conf
export SLURM_CONF=$DIR/etc/slurm.conf  # slurmdbd reads slurmdbd.conf from the same folder

# slurmdbd must accept connections before sacctmgr (which returns 0 even when it is down) and
# before slurmctld (which dies without the TRES list from it).
slurmdbd
wait_for slurmdbd port_open 6819
sacctmgr -i add cluster neulig >/dev/null
sacctmgr -i add account neulig cluster=neulig >/dev/null
sacctmgr -i add user root account=neulig cluster=neulig >/dev/null
slurmctld
wait_for slurmctld port_open 6817
slurmd
wait_for "the node" sh -c 'timeout 5 sinfo -h -o %T 2>/dev/null | grep -qx idle'
echo "Slurm is up: export SLURM_CONF=$SLURM_CONF (account neulig, partition debug)"
