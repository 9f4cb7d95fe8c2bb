#!/usr/bin/env bash
# Build every tango image in dependency order (bases first). Run from anywhere; the build context is the
# repository root. Usage: deploy/docker/build-images.sh [REGISTRY] [TAG]
#   REGISTRY defaults to ghcr.io/tango-reenact, TAG to the version in pyproject.toml;
#   TORCH_CUDA_INDEX (env) is the PyTorch wheel index of the GPU training image (default: CUDA 12.8 builds).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
REGISTRY="${1:-ghcr.io/tango-reenact}"
TAG="${2:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml" | head -n1)}"

build() {  # build <folder> <base image or ""> [image name, default tango-<folder>] [more docker build args]
  local folder="$1" base="$2" name="${3:-tango-$1}" args=("${@:4}")
  [[ -n "$base" ]] && args+=(--build-arg "BASE_IMAGE=$base")
  docker build "${args[@]}" -f "$ROOT/deploy/docker/$folder/Dockerfile" -t "$REGISTRY/$name:$TAG" "$ROOT"
}

build python-base ""
for service in perception graph retrieval render trainer orchestrator; do
  build "$service" "$REGISTRY/tango-python-base:$TAG"
done
# The GPU training Jobs' image (the chart's trainer.jobs.image on GPU pools): the trainer on a base whose torch
# is a CUDA build; `tango trainer train --device cuda` runs the steps on the Job's GPU.
build python-base "" tango-python-base-gpu \
  --build-arg "TORCH_INDEX_URL=${TORCH_CUDA_INDEX:-https://download.pytorch.org/whl/cu128}"
build trainer "$REGISTRY/tango-python-base-gpu:$TAG" tango-trainer-gpu
build triton-base ""
for triton in triton-embedding triton-interp; do
  build "$triton" "$REGISTRY/tango-triton-base:$TAG"
done
