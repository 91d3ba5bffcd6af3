#!/usr/bin/env bash
# Brings a Debian/Ubuntu machine (as root) to the state Holdout's demo and tests need, installing
# and starting only what is missing: the Docker engine, debootstrap, PostgreSQL, Redis, Chromium,
# docker-compose, jq and rsync, the npm dependencies, the migrated databases and the locally built
# images. Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

PG_HOST=127.0.0.1 PG_PORT=5432 REDIS_PORT=6379
DB_USER=holdout DB_PASSWORD=holdout
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { # description, seconds, command...
  local what=$1 secs=$2; shift 2
  for _ in $(seq "$secs"); do "$@" && return 0; sleep 1; done
  die "$what did not come up within ${secs}s"
}

apt_updated=0
apt_install() {
  [ "$(id -u)" = 0 ] || die "need root to install $* (run as root, or install it yourself)"
  if [ $apt_updated = 0 ]; then apt-get update -qq; apt_updated=1; fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- Docker engine ----------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || apt_install docker.io
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd"
    # In a session of its own: started plainly it would stay in the caller's process group (the
    # demo's, the terminal's foreground job), and Ctrl-C there would stop the engine with it (dockerd
    # catches SIGINT even when started with it ignored). It outlives setup and the demo.
    setsid nohup dockerd >/var/log/holdout-dockerd.log 2>&1 </dev/null &
    wait_for "the Docker engine" 60 docker info >/dev/null 2>&1
  fi
fi
command -v debootstrap >/dev/null || apt_install debootstrap

# --- PostgreSQL -------------------------------------------------------------------------------
if ! port_open $PG_PORT; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  log "starting PostgreSQL"
  for v in $(ls /etc/postgresql); do pg_ctlcluster --skip-systemctl-redirect "$v" main start || true; done
  wait_for "PostgreSQL" 60 port_open $PG_PORT
fi
command -v psql >/dev/null || apt_install postgresql-client
# Superuser access: trust over TCP where configured so, else the postgres OS user (peer auth).
pg_super() {
  if psql -h $PG_HOST -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    psql -h $PG_HOST -U postgres -d postgres -v ON_ERROR_STOP=1 -tAc "$1"
  else
    runuser -u postgres -- psql -d postgres -v ON_ERROR_STOP=1 -tAc "$1"
  fi
}
if [ "$(pg_super "select 1 from pg_roles where rolname='$DB_USER'")" != 1 ]; then
  log "creating database role $DB_USER"
  pg_super "create role $DB_USER login password '$DB_PASSWORD' createdb" >/dev/null
fi
for db in holdout holdout_test; do
  if [ "$(pg_super "select 1 from pg_database where datname='$db'")" != 1 ]; then
    log "creating database $db"
    pg_super "create database $db owner $DB_USER" >/dev/null
  fi
done

# --- Redis ------------------------------------------------------------------------------------
if ! port_open $REDIS_PORT; then
  command -v redis-server >/dev/null || apt_install redis-server
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port $REDIS_PORT --save "" --appendonly no
  wait_for "Redis" 30 port_open $REDIS_PORT
fi

# --- Chromium for the browser tests; promtool, from Debian's prometheus package (only the checker
# is used), for the /metrics tests; wrk for `npm run bench` (setup.sh --bench) ------------------
command -v chromium >/dev/null || apt_install chromium
command -v promtool >/dev/null || apt_install prometheus
# The compose test runs the organizer guide's commands, which use Debian's docker-compose, jq and rsync.
command -v docker-compose >/dev/null || apt_install docker-compose
command -v jq >/dev/null || apt_install jq
command -v rsync >/dev/null || apt_install rsync
if [ "${1:-}" = --bench ]; then command -v wrk >/dev/null || apt_install wrk; fi

# --- Node dependencies, database schema, images -----------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund >/dev/null
fi
export CHECKPOINT_DISABLE=1
bash scripts/generate-client.sh
# `prisma migrate deploy` idles ~10 s after its work (see prisma.config.ts); skip it when every
# migration in prisma/migrations is already applied.
wanted=$(ls -d prisma/migrations/*/ | xargs -n1 basename | sort | tr '\n' ' ')
for db in holdout holdout_test; do
  url="postgresql://$DB_USER:$DB_PASSWORD@$PG_HOST:$PG_PORT/$db"
  applied=$(psql "$url" -tAc "select migration_name from _prisma_migrations where finished_at is not null order by 1" 2>/dev/null | tr '\n' ' ' || true)
  if [ "$applied" != "$wanted" ]; then
    log "migrating database $db"
    DATABASE_URL="$url" npx prisma migrate deploy >/dev/null
  fi
done
bash docker/build-images.sh
log "ready"
