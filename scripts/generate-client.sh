#!/usr/bin/env bash
# Generates the Prisma client (packages/db/src/generated) from prisma/schema.prisma when it is
# missing or older than the schema. It is not committed: a generated client records the paths it
# was generated at. scripts/setup.sh, `npm run typecheck` and the app image's build make it.
set -euo pipefail
cd "$(dirname "$0")/.."
marker=packages/db/src/generated/prisma/client.ts
if [ -f "$marker" ] && [ ! prisma/schema.prisma -nt "$marker" ]; then exit 0; fi
# `prisma generate` reads no database, but Prisma 6 wants DATABASE_URL set (else it reports a
# misleading download error).
DATABASE_URL="${DATABASE_URL:-postgresql://generate@127.0.0.1/unused}" CHECKPOINT_DISABLE=1 \
  npx --no-install prisma generate >/dev/null
touch "$marker"
