#!/usr/bin/env bash
# Usage: tools/dist_pseudo_label.sh TEACHER_CONFIG CHECKPOINT GPUS [pseudo_label.py args...]
# torchrun with GPUS processes (nccl; gloo CPU processes without CUDA); each
# process labels its own chunks and writes them, rank 0 finalizes the store.
# Environment variables as tools/dist_train.sh (NNODES, NODE_RANK, PORT,
# MASTER_ADDR, PYTHON).
exec "$(dirname "$0")/dist_launch.sh" pseudo_label.py "$3" "$1" "$2" "${@:4}"
