#!/usr/bin/env bash
# Usage: tools/dist_pseudo_label.sh TEACHER_CONFIG CHECKPOINT GPUS [pseudo_label.py args...]
# torchrun with GPUS processes (nccl; gloo CPU processes without CUDA); each
# process labels its own chunks and writes them, rank 0 finalizes the store.
# Rerunning it resumes an interrupted store; on a finished one it exits 0
# having done nothing (same teacher checkpoint, config, source, score floor;
# for an mmseg teacher: probability threshold, scales, flip) or exits 1
# naming what differs.
# Environment variables as tools/dist_train.sh (NNODES, NODE_RANK, PORT,
# MASTER_ADDR, PYTHON).
exec "$(dirname "$0")/dist_launch.sh" pseudo_label.py "$3" "$1" "$2" "${@:4}"
