#!/usr/bin/env bash
# Build every tango image in dependency order (bases first). Run from anywhere; the build context is the
# repository root. Usage: deploy/docker/build-images.sh [REGISTRY] [TAG]
#   REGISTRY defaults to ghcr.io/tango-reenact, TAG to the version in pyproject.toml.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
REGISTRY="${1:-ghcr.io/tango-reenact}"
TAG="${2:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml" | head -n1)}"

build() {  # build <folder> <base image or "">
  local folder="$1" base="$2" args=()
  [[ -n "$base" ]] && args+=(--build-arg "BASE_IMAGE=$base")
  docker build "${args[@]}" -f "$ROOT/deploy/docker/$folder/Dockerfile" -t "$REGISTRY/tango-$folder:$TAG" "$ROOT"
}

build python-base ""
for service in perception graph retrieval render trainer orchestrator; do
  build "$service" "$REGISTRY/tango-python-base:$TAG"
done
build triton-base ""
for triton in triton-embedding triton-interp; do
  build "$triton" "$REGISTRY/tango-triton-base:$TAG"
done
