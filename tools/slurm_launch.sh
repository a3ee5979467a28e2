#!/usr/bin/env bash
# Usage: [GPUS=8] tools/slurm_launch.sh PARTITION JOB_NAME SCRIPT [SCRIPT args...]
# Shared by slurm_train.sh and slurm_pseudo_label.sh: srun with GPUS tasks
# (GPUS_PER_NODE per node, CPUS_PER_TASK each, extra SRUN_ARGS) running
# tools/SCRIPT with --launcher=slurm. Same variables as mmdet's scripts.
#
# GPUS_PER_NODE=0: CPU nodes. No --gres (a cluster without GPU GRES refuses
# any --gres=gpu:N) and no --ntasks-per-node unless TASKS_PER_NODE is set;
# the tasks use gloo (rethink_mmdet/engine/launch.py).
#
# Exit code: srun exits with the highest task exit code. A preempted run's
# tasks all exit with 75 (checkpoint written), but not at the same instant,
# and srun --kill-on-bad-exit=1 would terminate the later ones as soon as
# the first exits (srun then returns 143, measured on SLURM 22.05), which
# hides the 75. So tasks are not killed on a bad exit; instead srun ends the
# remaining tasks SRUN_WAIT seconds (default 60) after the first task exits
# (--wait), which still stops a job whose rank crashed while the others
# wait in a collective.
set -x

PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
TASKS_PER_NODE=${TASKS_PER_NODE:-$GPUS_PER_NODE}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_WAIT=${SRUN_WAIT:-60}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}
TOOLS="$(dirname "$0")"

PER_NODE_ARGS=()
if [ "$GPUS_PER_NODE" -gt 0 ]; then
    PER_NODE_ARGS+=(--gres=gpu:${GPUS_PER_NODE})
fi
if [ "$TASKS_PER_NODE" -gt 0 ]; then
    PER_NODE_ARGS+=(--ntasks-per-node=${TASKS_PER_NODE})
fi

PYTHONPATH="$TOOLS/..":$PYTHONPATH \
exec srun -p ${PARTITION} \
    --job-name=${JOB_NAME} \
    "${PER_NODE_ARGS[@]}" \
    --ntasks=${GPUS} \
    --cpus-per-task=${CPUS_PER_TASK} \
    --kill-on-bad-exit=0 \
    --wait=${SRUN_WAIT} \
    ${SRUN_ARGS} \
    $PYTHON -u "$TOOLS/$SCRIPT" "${@:4}" --launcher=slurm
