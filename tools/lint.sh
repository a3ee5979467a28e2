#!/usr/bin/env bash
# Lint the whole tree the OpenMMLab way: flake8, isort and yapf with the
# settings of setup.cfg (79 columns). Used by `make lint` (and so by
# .ci/run, before the tests) and by .pre-commit-config.yaml.
#
#   tools/lint.sh                 check every Python file of the tree
#   tools/lint.sh FILE...         check these files only
#   tools/lint.sh --fix FILE...   rewrite these files with isort and yapf,
#                                 then check them
#
# Prints one line per failing file and linter, then the list of failing
# files; exits 1 when any file fails. Files come from git (tracked and
# untracked, not ignored), so .venv and build outputs are never linted.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${RETHINK_VENV:-$ROOT/.venv}/bin"
for tool in flake8 isort yapf; do
  if [ ! -x "$BIN/$tool" ]; then
    echo "lint: $BIN/$tool missing; run tools/bootstrap.sh (it installs" \
         "requirements/tests.txt)" >&2
    exit 2
  fi
done

fix=0
if [ "${1:-}" = "--fix" ]; then fix=1; shift; fi
if [ "$#" -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files --cached --others --exclude-standard \
                         -- '*.py' | sort -u)
fi
kept=()
for f in "${files[@]}"; do [ -f "$f" ] && kept+=("$f"); done
files=("${kept[@]}")
if [ "${#files[@]}" -eq 0 ]; then echo "lint: no Python file"; exit 0; fi

if [ "$fix" = 1 ]; then
  "$BIN/isort" -q "${files[@]}"
  "$BIN/yapf" -i "${files[@]}"
fi

declare -A failed=()
while IFS= read -r line; do
  [ -n "$line" ] || continue
  echo "flake8: $line"
  failed["${line%%:*}"]=1
done < <("$BIN/flake8" "${files[@]}")
while IFS= read -r f; do
  [ -n "$f" ] || continue
  echo "isort: $f: imports not sorted (tools/lint.sh --fix $f)"
  failed["$f"]=1
done < <("$BIN/isort" --check-only -q "${files[@]}" 2>&1 |
         sed -n 's/^ERROR: \(.*\) Imports are incorrectly sorted.*/\1/p' |
         sed "s#^$ROOT/##")
while IFS= read -r f; do
  [ -n "$f" ] || continue
  echo "yapf: $f: not formatted (tools/lint.sh --fix $f)"
  failed["$f"]=1
done < <("$BIN/yapf" --diff "${files[@]}" 2>/dev/null |
         sed -n 's/^--- \(.*\)\t*(original)$/\1/p' | sed 's/[[:space:]]*$//')

if [ "${#failed[@]}" -gt 0 ]; then
  echo
  echo "lint: ${#failed[@]} of ${#files[@]} files fail:"
  printf '  %s\n' "${!failed[@]}" | sort
  exit 1
fi
echo "lint: ${#files[@]} files clean (flake8, isort, yapf)"
