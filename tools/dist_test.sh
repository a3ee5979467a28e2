#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
# Same arguments and environment variables as mmdet's; torchrun with one
# process per GPU (nccl), or GPUS CPU processes (gloo) without CUDA.
exec "$(dirname "$0")/dist_launch.sh" test.py "$3" "$1" "$2" "${@:4}"
