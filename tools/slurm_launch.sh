#!/usr/bin/env bash
# Usage: [GPUS=8] tools/slurm_launch.sh PARTITION JOB_NAME SCRIPT [SCRIPT args...]
# Shared by slurm_train.sh and slurm_pseudo_label.sh: srun with GPUS tasks
# (GPUS_PER_NODE per node, CPUS_PER_TASK each, extra SRUN_ARGS) running
# tools/SCRIPT with --launcher=slurm. Same variables as mmdet's scripts.
set -x

PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}
TOOLS="$(dirname "$0")"

PYTHONPATH="$TOOLS/..":$PYTHONPATH \
exec srun -p ${PARTITION} \
    --job-name=${JOB_NAME} \
    --gres=gpu:${GPUS_PER_NODE} \
    --ntasks=${GPUS} \
    --ntasks-per-node=${GPUS_PER_NODE} \
    --cpus-per-task=${CPUS_PER_TASK} \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    $PYTHON -u "$TOOLS/$SCRIPT" "${@:4}" --launcher=slurm
