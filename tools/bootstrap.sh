#!/usr/bin/env bash
# Idempotent environment bootstrap for rethink_mmdet.
#
# Creates a project-local virtualenv (.venv), installs torch (CPU build when
# CUDA is absent), builds mmcv 2.1.0 from source with its compiled ops,
# installs mmengine / mmdet / pycocotools / openmim / pytest / the linters
# (flake8, isort, yapf) and this package in editable mode. A second run only
# checks and skips.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RETHINK_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3

TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
MMCV_VERSION=2.1.0
MMENGINE_VERSION=0.10.7
MMDET_VERSION=3.3.0
# The libraries that draw the built-in data and decode it: pinned, so that
# every machine generates the same shapes images and the main job's numbers
# differ between machines only where their floating-point kernels do.
NUMPY_VERSION=2.4.6
PILLOW_VERSION=13.0.0
OPENCV_VERSION=5.1.0.95

log() { echo "[bootstrap] $*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check -q)

has() { "$VPY" - "$@" <<'PYEOF' 2>/dev/null
import importlib.metadata as md, sys
name, want = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
v = md.version(name)
sys.exit(0 if (want is None or v == want or v.startswith(want + '+')) else 1)
PYEOF
}

if ! "$VPY" -c "import torch" >/dev/null 2>&1; then
  # TORCH_PIP_ARGS may name another index (e.g. a CPU-only or CUDA wheel
  # index); by default pip's configured index decides which build it gets.
  log "installing torch==$TORCH_VERSION ${TORCH_PIP_ARGS:-}"
  # shellcheck disable=SC2086
  "${PIP[@]}" install "torch==$TORCH_VERSION" ${TORCH_PIP_ARGS:-}
else
  log "torch present: $("$VPY" -c 'import torch; print(torch.__version__)')"
fi

if ! has mmcv "$MMCV_VERSION" || ! "$VPY" -c "import mmcv.ops" >/dev/null 2>&1; then
  log "building mmcv==$MMCV_VERSION with ops from source (about 10 minutes on 2 cores)"
  # mmcv's setup.py imports pkg_resources: pin setuptools<70 and build
  # against the already installed torch (no build isolation).
  "${PIP[@]}" install "setuptools<70" wheel ninja
  CUDA_OK="$("$VPY" -c 'import torch; print(int(torch.cuda.is_available()))')"
  if [ "$CUDA_OK" = "1" ]; then export FORCE_CUDA=1; fi
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
    "${PIP[@]}" install --no-build-isolation "mmcv==$MMCV_VERSION"
else
  log "mmcv $MMCV_VERSION with ops present"
fi

# Every `name==version` pin of requirements/tests.txt (pytest, the linters)
# must be installed at that version, every other line present.
tests_ok() {
  local line name want
  while IFS= read -r line; do
    line="${line%%#*}"; line="${line//[[:space:]]/}"
    [ -n "$line" ] || continue
    name="${line%%[<>=!~]*}"
    want=""
    case "$line" in *==*) want="${line#*==}" ;; esac
    if [ -n "$want" ]; then has "$name" "$want" || return 1
    else has "$name" || return 1; fi
  done < "$ROOT/requirements/tests.txt"
}

# requirements/runtime.txt states the tested ranges; the exact tested
# versions are pinned here.
if ! has mmengine "$MMENGINE_VERSION" || ! has mmdet "$MMDET_VERSION" \
   || ! has numpy "$NUMPY_VERSION" || ! has pillow "$PILLOW_VERSION" \
   || ! has opencv-python "$OPENCV_VERSION" \
   || ! has pycocotools || ! tests_ok; then
  log "installing mmengine, mmdet, pycocotools, openmim, pytest, linters"
  "${PIP[@]}" install "mmengine==$MMENGINE_VERSION" "mmdet==$MMDET_VERSION" \
    "numpy==$NUMPY_VERSION" "pillow==$PILLOW_VERSION" \
    "opencv-python==$OPENCV_VERSION" \
    -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt"
fi

if ! has rethink_mmdet || [ ! -e "$ROOT/rethink_mmdet/.mim/configs" ]; then
  log "installing rethink_mmdet (editable)"
  "${PIP[@]}" install --no-build-isolation --no-deps -e "$ROOT"
fi
log "ready: $VENV"
