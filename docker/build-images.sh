#!/usr/bin/env bash
# Builds the images Holdout needs locally, without any container registry (see docker/base/build.sh):
#   holdout/base:bookworm               Debian minbase rootfs (debootstrap + docker import)
#   holdout/example-<name>:latest       example submissions (docker/examples/<name>): baseline (features +
#                                       logistic regression), constant (sh/awk), and the broken ones the
#                                       tests use: broken-header, per-image, nan, crash, sleeper
# With --compose, also what docker-compose.yml builds FROM, and Debian's docker-compose if missing:
#   holdout/base:trixie                 Debian trixie minbase (its nodejs is 20.19) for the app image
# With --runtime, also the runtime image for code bundles (python3, numpy, pillow, pandas, scikit-learn,
# torch from Debian; about 2.5 GB, so not by default):
#   holdout/runtime-python:latest
# Idempotent: an image is rebuilt only when its build context changed (a hash of the context is kept
# as a label); HOLDOUT_REBUILD=1 rebuilds everything.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

compose=0
runtime=0
for arg in "$@"; do
  case "$arg" in
    --compose) compose=1 ;;
    --runtime) runtime=1 ;;
    *) echo "usage: $0 [--compose] [--runtime]" >&2; exit 2 ;;
  esac
done

bash "$here/base/build.sh" holdout/base:bookworm
if [ "$compose" = 1 ]; then
  HOLDOUT_DEBIAN_SUITE=trixie bash "$here/base/build.sh" holdout/base:trixie
  # Debian's docker-compose (v1) is what the deployment and its test use.
  if ! command -v docker-compose >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing docker-compose"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
    else
      echo "docker-compose is missing: apt-get install -y docker-compose" >&2
      exit 1
    fi
  fi
fi

context_hash() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16); }

# build_image <tag> <context dir>
build_image() {
  local tag="$1" context="$2" hash have
  hash=$(context_hash "$context")
  have=$(docker image inspect --format '{{ index .Config.Labels "holdout.context" }}' "$tag" 2>/dev/null || true)
  if [ "${HOLDOUT_REBUILD:-0}" != 1 ] && [ "$have" = "$hash" ]; then
    echo "image $tag is up to date"
    return
  fi
  echo "building $tag from docker/${context#"$here/"}"
  local started=$SECONDS log
  # Without buildx the legacy builder warns on every build; show its output only when it fails.
  # --network host: RUN steps reach the host's Debian mirror whatever the engine's default bridge.
  if ! log=$(docker build --network host --label "holdout.context=$hash" --tag "$tag" "$context" 2>&1); then
    echo "$log" >&2
    echo "building $tag failed" >&2
    exit 1
  fi
  echo "built $tag in $((SECONDS - started))s"
}

for example in baseline constant broken-header per-image nan crash sleeper; do
  build_image "holdout/example-$example:latest" "$here/examples/$example"
done
if [ "$runtime" = 1 ]; then
  build_image holdout/runtime-python:latest "$here/runtime-python"
fi
