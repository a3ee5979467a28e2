#!/usr/bin/env bash
# Usage: tools/dist_launch.sh SCRIPT NPROC [SCRIPT args...]
# Shared by dist_train.sh and dist_test.sh: torchrun with NPROC processes
# per node running tools/SCRIPT with --launcher pytorch. With CUDA the
# processes use nccl; without it, gloo (see rethink_mmdet/engine/launch.py).
SCRIPT=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
TOOLS="$(dirname "$0")"

PYTHONPATH="$TOOLS/..":$PYTHONPATH \
exec $PYTHON -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$NPROC \
    --master_port=$PORT \
    "$TOOLS/$SCRIPT" \
    "${@:3}" \
    --launcher pytorch
