#!/usr/bin/env bash
# Usage: [GPUS=8] tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# Same arguments and environment variables (GPUS, GPUS_PER_NODE,
# CPUS_PER_TASK, SRUN_ARGS) as mmdet's tools/slurm_train.sh; GPUS_PER_NODE=0
# runs GPUS CPU tasks (gloo). A preempted run exits with 75; the same
# command resumes (configs with resume=True). To have SLURM requeue a
# preempted job by itself, submit tools/slurm_train.sbatch instead.
exec "$(dirname "$0")/slurm_launch.sh" "$1" "$2" train.py "$3" \
    --work-dir="$4" "${@:5}"
