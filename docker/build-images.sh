#!/usr/bin/env bash
# Builds the images Holdout needs locally, without any container registry (see docker/base/build.sh):
#   holdout/base:bookworm               Debian minbase rootfs (debootstrap + docker import)
#   holdout/example-<name>:latest       example submissions (docker/examples/<name>): baseline (features +
#                                       logistic regression), constant (sh/awk), and the broken ones the
#                                       tests use: broken-header, per-image, nan, crash, sleeper
# With --compose, what the Compose deployment (docs/organizer-guide.md) runs besides its app image,
# and the one example it is verified with, instead of every example:
#   holdout/node:trixie                 Debian trixie minbase with its nodejs (20.19): the app's base
#   holdout/postgres:15, holdout/redis:7  PostgreSQL and Redis from Debian's packages (docker/postgres,
#                                       docker/redis), in place of the official images
#   holdout/example-baseline:latest
# With --runtime, also the runtime image for code bundles (python3, numpy, pillow, pandas, scikit-learn,
# torch from Debian; about 2.5 GB, so not by default):
#   holdout/runtime-python:latest
# Idempotent: an image is rebuilt only when its build context changed (a hash of the context is kept
# as a label); HOLDOUT_REBUILD=1 rebuilds everything. A rebuilt image's previous version is removed
# unless a container still uses it, so rebuilds do not pile up untagged images.
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
  HOLDOUT_DEBIAN_SUITE=trixie HOLDOUT_DEBIAN_INCLUDE=nodejs,ca-certificates \
    bash "$here/base/build.sh" holdout/node:trixie
  if ! docker-compose version >/dev/null 2>&1; then
    echo "docker-compose does not run: install it as docs/organizer-guide.md says (Prerequisites)" >&2
    exit 1
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
  local started=$SECONDS log previous current
  previous=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  # Without buildx the legacy builder warns on every build; show its output only when it fails.
  # --network host: RUN steps reach the host's Debian mirror whatever the engine's default bridge.
  # --force-rm: a failed step leaves no intermediate container behind.
  if ! log=$(docker build --force-rm --network host --label "holdout.context=$hash" --tag "$tag" "$context" 2>&1); then
    echo "$log" >&2
    echo "building $tag failed" >&2
    exit 1
  fi
  current=$(docker image inspect --format '{{.Id}}' "$tag")
  if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
    # Untagged now; the engine refuses while a container still uses it, and that one may stay.
    docker rmi "$previous" >/dev/null 2>&1 || echo "kept the previous $tag ($previous): a container or another tag uses it"
  fi
  echo "built $tag in $((SECONDS - started))s"
}

examples=(baseline constant broken-header per-image nan crash sleeper)
if [ "$compose" = 1 ]; then
  build_image holdout/postgres:15 "$here/postgres"
  build_image holdout/redis:7 "$here/redis"
  examples=(baseline)
fi
for example in "${examples[@]}"; do
  build_image "holdout/example-$example:latest" "$here/examples/$example"
done
if [ "$runtime" = 1 ]; then
  build_image holdout/runtime-python:latest "$here/runtime-python"
fi
