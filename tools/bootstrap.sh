#!/usr/bin/env bash
# Idempotent environment bootstrap for rethink_mmdet.
#
# Creates a project-local virtualenv (.venv), installs torch (CPU build when
# CUDA is absent), mmcv 2.1.0 with its compiled ops (a wheel built from
# source, see below), mmengine / mmdet / pycocotools / openmim / pytest / the
# linters (flake8, isort, yapf) and this package in editable mode. A second
# run only checks and skips.
#
# setuptools: torch 2.13 requires setuptools>=77.0.3; mmcv 2.1.0's setup.py
# needs setuptools<70 (pkg_resources); openmim imports pkg_resources and the
# legacy `setup.py develop` editable install, through which mim finds our
# configs (docs/install.md), needs setuptools<80. So .venv keeps
# setuptools>=77.0.3,<80 (`pip check` stays clean) and mmcv is built apart:
# in a throw-away virtualenv with the same torch, the pinned numpy,
# setuptools<70, wheel and ninja. Its wheel is cached in
# $RETHINK_CACHE/wheels (default ~/.cache/rethink_mmdet), one folder per
# mmcv / torch / Python / device, so another clone or venv installs it
# without rebuilding.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RETHINK_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
CACHE="${RETHINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rethink_mmdet}"

TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
MMCV_VERSION=2.1.0
MMENGINE_VERSION=0.10.7
MMDET_VERSION=3.3.0
# the [seg] extra (rethink_mmdet.seg, requirements/seg.txt): the tests run it
MMSEG_VERSION=1.2.2
# The libraries that draw the built-in data and decode it: pinned, so that
# every machine generates the same shapes images and the main job's numbers
# differ between machines only where their floating-point kernels do.
NUMPY_VERSION=2.4.6
PILLOW_VERSION=13.0.0
OPENCV_VERSION=5.1.0.95
# setuptools of .venv (torch's floor, pkg_resources and `setup.py develop`
# kept) and of mmcv's build environment.
SETUPTOOLS_SPEC='>=77.0.3,<80'
MMCV_BUILD_SETUPTOOLS_SPEC='<70'

log() { echo "[bootstrap] $*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check -q)

# Run from / : from the checkout, Python would find the checkout's own
# rethink_mmdet.egg-info (left by an earlier install) on sys.path[0] and
# take a venv made afresh for one that has the package.
has() { (cd / && "$VPY" - "$@") <<'PYEOF' 2>/dev/null
import importlib.metadata as md, sys
name, want = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
v = md.version(name)
sys.exit(0 if (want is None or v == want or v.startswith(want + '+')) else 1)
PYEOF
}

# `in_range NAME SPEC`: NAME is installed at a version within SPEC (PEP 440).
in_range() { "$VPY" - "$@" <<'PYEOF' 2>/dev/null
import importlib.metadata as md, sys
from pip._vendor.packaging.specifiers import SpecifierSet
sys.exit(0 if SpecifierSet(sys.argv[2]).contains(md.version(sys.argv[1]))
         else 1)
PYEOF
}

# .venv's own build tools: `pip install -e .` of this package (and tests'
# `pip wheel --no-build-isolation`) use them.
# openmim -> opendatalab -> openxlab: every openxlab after 0.0.11 pins
# setuptools~=60.2. A fresh .venv resolves 0.0.11; a .venv made by an older
# bootstrap may hold 0.1.3, which goes back to the range with setuptools.
OPENXLAB_SPEC='<=0.0.11'
if ! in_range setuptools "$SETUPTOOLS_SPEC" || ! has wheel \
   || { has openxlab && ! in_range openxlab "$OPENXLAB_SPEC"; }; then
  log "installing setuptools$SETUPTOOLS_SPEC and wheel"
  extra=()
  if has openxlab; then extra=("openxlab$OPENXLAB_SPEC"); fi
  "${PIP[@]}" install "setuptools$SETUPTOOLS_SPEC" wheel "${extra[@]}"
fi

# numpy comes with torch, so that torch never starts without it.
if ! "$VPY" -c "import torch" >/dev/null 2>&1 || ! has numpy; then
  # TORCH_PIP_ARGS may name another index (e.g. a CPU-only or CUDA wheel
  # index); by default pip's configured index decides which build it gets.
  log "installing torch==$TORCH_VERSION numpy==$NUMPY_VERSION" \
      "${TORCH_PIP_ARGS:-}"
  # shellcheck disable=SC2086
  "${PIP[@]}" install "torch==$TORCH_VERSION" "numpy==$NUMPY_VERSION" \
    "setuptools$SETUPTOOLS_SPEC" ${TORCH_PIP_ARGS:-}
else
  log "torch present: $("$VPY" -c 'import torch; print(torch.__version__)')"
fi

mmcv_ok() {
  has mmcv "$MMCV_VERSION" && "$VPY" -c "import mmcv.ops" >/dev/null 2>&1
}

# Build the mmcv wheel into $WHEEL_DIR in a throw-away virtualenv (no system
# site-packages) holding the torch of .venv, so that .venv's setuptools is
# never touched.
build_mmcv_wheel() {
  local tmp bpy
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/rethink_mmcv_build.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  log "building mmcv==$MMCV_VERSION with ops from source against" \
      "torch $TORCH_FULL in a throw-away environment (about 10 minutes on" \
      "2 cores; cached in $WHEEL_DIR)"
  "$VPY" -m venv "$tmp/venv"
  bpy="$tmp/venv/bin/python"
  # torch brings setuptools>=77.0.3; mmcv's setup.py needs <70. Downgrading
  # with --no-deps skips pip's conflict report: this environment only builds
  # one wheel and is deleted.
  # shellcheck disable=SC2086
  "$bpy" -m pip --disable-pip-version-check -q install "torch==$TORCH_FULL" \
    "numpy==$NUMPY_VERSION" wheel ninja ${TORCH_PIP_ARGS:-}
  "$bpy" -m pip --disable-pip-version-check -q install --no-deps \
    "setuptools$MMCV_BUILD_SETUPTOOLS_SPEC"
  if [ "$CUDA_OK" = "1" ]; then export FORCE_CUDA=1; fi
  # --no-cache-dir: pip's wheel cache would key the wheel on mmcv's sdist
  # only, and hand it to a later build against another torch.
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
    "$bpy" -m pip --disable-pip-version-check -q wheel --no-cache-dir \
    --no-build-isolation --no-deps -w "$tmp/dist" "mmcv==$MMCV_VERSION"
  mkdir -p "$WHEEL_DIR"
  local whl
  for whl in "$tmp"/dist/mmcv-*.whl; do
    cp "$whl" "$WHEEL_DIR/.partial" && mv "$WHEEL_DIR/.partial" \
      "$WHEEL_DIR/$(basename "$whl")"
  done
  rm -rf "$tmp"
  trap - EXIT
}

cached_wheel() {
  local whl
  for whl in "$WHEEL_DIR/mmcv-$MMCV_VERSION"-*.whl; do
    if [ -f "$whl" ]; then echo "$whl"; return; fi
  done
}

# Into .venv with its dependencies at our pins (yapf: requirements/tests.txt);
# over a broken install of the same version without touching the rest.
install_mmcv_wheel() {
  if has mmcv; then
    "${PIP[@]}" install --force-reinstall --no-deps "$1"
  else
    "${PIP[@]}" install "$1" "numpy==$NUMPY_VERSION" \
      "pillow==$PILLOW_VERSION" "opencv-python==$OPENCV_VERSION" \
      "mmengine==$MMENGINE_VERSION" "setuptools$SETUPTOOLS_SPEC" \
      -c "$ROOT/requirements/tests.txt"
  fi
}

if ! mmcv_ok; then
  torch_info="$("$VPY" - <<'PYEOF'
import os, sys, torch
cuda = torch.cuda.is_available()
dev = 'cpu'
if cuda:
    arch = (os.environ.get('TORCH_CUDA_ARCH_LIST')
            or 'sm%d%d' % torch.cuda.get_device_capability())
    dev = 'cu%s-%s' % (torch.version.cuda, arch)
key = 'torch%s-cp%d%d-%s' % (torch.__version__, *sys.version_info[:2], dev)
key = ''.join(c if c.isalnum() or c in '.+-_' else '_' for c in key)
print(torch.__version__, int(cuda), key)
PYEOF
)"
  read -r TORCH_FULL CUDA_OK BUILD_KEY <<<"$torch_info"
  WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-$BUILD_KEY"
  WHEEL="$(cached_wheel)"
  if [ -n "$WHEEL" ]; then
    log "installing cached mmcv wheel $WHEEL"
    install_mmcv_wheel "$WHEEL"
    if ! mmcv_ok; then
      log "the cached wheel's mmcv.ops does not import: rebuilding it"
      rm -f "$WHEEL"
      WHEEL=""
    fi
  fi
  if [ -z "$WHEEL" ]; then
    build_mmcv_wheel
    WHEEL="$(cached_wheel)"
    log "installing mmcv wheel $WHEEL"
    install_mmcv_wheel "$WHEEL"
  fi
  if ! mmcv_ok; then
    log "mmcv $MMCV_VERSION installed but mmcv.ops does not import:"
    "$VPY" -c "import mmcv.ops"
    exit 1
  fi
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
    "opencv-python==$OPENCV_VERSION" "setuptools$SETUPTOOLS_SPEC" \
    -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt"
fi

# The [seg] extra (requirements/seg.txt), so that the suite runs the
# segmentation half too.
if ! has mmsegmentation "$MMSEG_VERSION" || ! has ftfy || ! has regex; then
  log "installing mmsegmentation $MMSEG_VERSION (the [seg] extra)"
  "${PIP[@]}" install "mmsegmentation==$MMSEG_VERSION" \
    "numpy==$NUMPY_VERSION" "setuptools$SETUPTOOLS_SPEC" \
    -r "$ROOT/requirements/seg.txt"
fi

if ! has rethink_mmdet || [ ! -e "$ROOT/rethink_mmdet/.mim/configs" ]; then
  log "installing rethink_mmdet (editable)"
  "${PIP[@]}" install --no-build-isolation --no-deps -e "$ROOT"
fi

if ! problems="$("$VPY" -m pip check 2>&1)"; then
  log "pip check finds inconsistent requirements in $VENV:"
  echo "$problems"
fi
log "ready: $VENV"
