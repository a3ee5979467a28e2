#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG GPUS [train.py args...]
# Same arguments and environment variables (NNODES, NODE_RANK, PORT,
# MASTER_ADDR) as mmdet's. torchrun with one process per GPU (nccl); on a
# machine without CUDA the same command runs GPUS CPU processes (gloo).
exec "$(dirname "$0")/dist_launch.sh" train.py "$2" "$1" "${@:3}"
