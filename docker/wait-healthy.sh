#!/usr/bin/env bash
# Waits until each named Compose service reports healthy through its healthcheck (the api's and the
# worker's /readyz, pg_isready, redis-cli ping), so that the command after `docker-compose up -d`
# never races a service that is still starting (its published port answers "connection reset" until
# then). Fails at once, with the service's last log lines, if its container stopped, restarted or
# turned unhealthy, or after HOLDOUT_WAIT_SECONDS (default 300) in all.
#   bash docker/wait-healthy.sh api worker     (in the checkout, where docker-compose finds .env)
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 SERVICE..." >&2; exit 2; }
deadline=$((SECONDS + ${HOLDOUT_WAIT_SECONDS:-300}))

fail() { # service, reason
  echo "$1: $2; its last log lines:" >&2
  docker-compose logs --no-color --tail 40 "$1" >&2 || true
  exit 1
}

for service in "$@"; do
  id=$(docker-compose ps -q "$service")
  [ -n "$id" ] || fail "$service" "no container (is it started? docker-compose up -d)"
  while :; do
    read -r state health restarts < <(docker inspect --format \
      '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.RestartCount}}' "$id")
    case "$health" in
      healthy) echo "$service: healthy"; break ;;
      none) fail "$service" "has no healthcheck to wait for" ;;
      unhealthy) fail "$service" "is unhealthy" ;;
    esac
    [ "$state" = running ] || fail "$service" "is $state"
    [ "$restarts" = 0 ] || fail "$service" "restarted $restarts times"
    [ "$SECONDS" -lt "$deadline" ] || fail "$service" "still $health after ${HOLDOUT_WAIT_SECONDS:-300} s"
    sleep 2
  done
done
