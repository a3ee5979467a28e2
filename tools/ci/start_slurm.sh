#!/usr/bin/env bash
# Usage: tools/ci/start_slurm.sh   (as root; idempotent)
# Installs Debian's slurm-wlm and munge if missing and starts a one-node,
# CPU-only SLURM cluster on this host (munged, slurmctld, slurmd) for
# tests/tools/test_slurm_real.py. The node is this host with its real CPU
# count and memory (`slurmd -C`), no GRES, proctrack/linuxproc and task/none
# (no cgroups needed, so it also runs in containers). Writes
# /etc/slurm/slurm.conf only if it is absent or was written by this script.
# Exits 0 with the cluster up (`sinfo` answers), non-zero with the reason.
set -euo pipefail

MARKER='# written by rethink_mmdet tools/ci/start_slurm.sh'
CONF=/etc/slurm/slurm.conf
LOG_DIR=${SLURM_CI_LOG_DIR:-/var/log/slurm}

if [ "$(id -u)" -ne 0 ]; then
    echo "start_slurm.sh: needs root (apt-get, daemons), running as" \
        "$(id -un)" >&2
    exit 1
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q slurm-wlm munge >/dev/null 2>&1 || {
        apt-get update -q >/dev/null &&
            apt-get install -y -q slurm-wlm munge >/dev/null
    }
fi

if sinfo -h >/dev/null 2>&1; then
    exit 0  # already up
fi

if [ -f "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
    echo "start_slurm.sh: $CONF exists and was not written by this" \
        "script; not touching a real cluster's configuration" >&2
    exit 1
fi

HOST=$(hostname -s)
# "NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105": keep CPUs and memory
NODE=$(slurmd -C | head -n 1)
CPUS=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$NODE")
MEM=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$NODE")
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd "$LOG_DIR" \
    /run/munge
cat >"$CONF" <<EOF
$MARKER
ClusterName=ci
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ReturnToService=2
JobRequeue=1
KillWait=30
MinJobAge=600
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --force >/dev/null 2>&1 ||
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge \
    2>/dev/null || true
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
pgrep -x munged >/dev/null || su -s /bin/sh munge -c munged ||
    munged --force
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd

for _ in $(seq 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|alloc)'; then
        exit 0
    fi
    sleep 0.5
done
echo "start_slurm.sh: the cluster did not come up within 30 s:" >&2
sinfo >&2 || true
tail -n 20 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 || true
exit 1
