#!/usr/bin/env bash
# Usage: [GPUS=8] tools/slurm_pseudo_label.sh PARTITION JOB_NAME TEACHER_CONFIG CHECKPOINT [pseudo_label.py args...]
# Same environment variables as tools/slurm_train.sh (GPUS_PER_NODE=0: CPU
# tasks). Rerunning the same command (or a requeued job) resumes: chunks
# already written are skipped.
exec "$(dirname "$0")/slurm_launch.sh" "$1" "$2" pseudo_label.py "${@:3}"
