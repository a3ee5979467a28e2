#!/usr/bin/env bash
# Usage: [GPUS=8] tools/slurm_pseudo_label.sh PARTITION JOB_NAME TEACHER_CONFIG CHECKPOINT [pseudo_label.py args...]
# Same environment variables as tools/slurm_train.sh (GPUS_PER_NODE=0: CPU
# tasks). Rerunning the same command (or a requeued job) resumes: chunks
# already written are skipped; a finished store is left as it is (exit 0)
# when the teacher checkpoint, config, source and score floor (mmseg teacher:
# probability threshold, scales, flip) match those it records, and refused
# (exit 1, the differences named) when they do not.
exec "$(dirname "$0")/slurm_launch.sh" "$1" "$2" pseudo_label.py "${@:3}"
