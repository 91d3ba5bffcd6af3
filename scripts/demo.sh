#!/usr/bin/env bash
# The quick start's main job: a local CheXpert-style competition on a synthetic hidden test set.
# Sets up what is missing (scripts/setup.sh), starts the API and a worker, registers a demo team,
# submits the example model with curl, waits for its score, and keeps serving the leaderboard
# until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export PORT="${PORT:-8080}"
export DATABASE_URL="${DATABASE_URL:-postgresql://holdout:holdout@127.0.0.1:5432/holdout}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export HOLDOUT_DATA_DIR="${HOLDOUT_DATA_DIR:-$PWD/.data}"
export HOLDOUT_TESTSET_DIR="${HOLDOUT_TESTSET_DIR:-$HOLDOUT_DATA_DIR/testset}"
# Development set (public labels): every submission first runs on a few of its studies (smoke run).
export HOLDOUT_DEVSET_DIR="${HOLDOUT_DEVSET_DIR:-$HOLDOUT_DATA_DIR/devset}"
export HOLDOUT_WORK_DIR="${HOLDOUT_WORK_DIR:-$HOLDOUT_DATA_DIR/work}"
export HOLDOUT_COMPETITION="${HOLDOUT_COMPETITION:-chexpert-demo}"
# Code bundles run in the runtime image; the full one (docker/build-images.sh --runtime, 2.5 GB with
# torch) takes minutes to build, and the example model's image has what the example bundle needs.
export HOLDOUT_RUNTIME_IMAGE="${HOLDOUT_RUNTIME_IMAGE:-holdout/example-baseline:latest}"
export HOLDOUT_COMPETITION_NAME="${HOLDOUT_COMPETITION_NAME:-CheXpert (synthetic demo)}"
export LOG_LEVEL="${LOG_LEVEL:-warn}"
base="http://127.0.0.1:$PORT"
say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }

mkdir -p "$HOLDOUT_DATA_DIR/logs"
if [ ! -f "$HOLDOUT_TESTSET_DIR/testset.json" ]; then
  say "generating the synthetic hidden test set in $HOLDOUT_TESTSET_DIR"
  npx holdout testset generate --out "$HOLDOUT_TESTSET_DIR" --seed 1
fi
if [ ! -f "$HOLDOUT_DEVSET_DIR/testset.json" ]; then
  say "generating the synthetic development set in $HOLDOUT_DEVSET_DIR"
  npx holdout testset generate --dev --out "$HOLDOUT_DEVSET_DIR"
fi

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "demo: port $PORT is already in use; set PORT to a free port" >&2
  exit 1
fi
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
# Started as plain node processes (not through npm's shell), so the TERM below reaches them.
node --import tsx apps/api/src/server.ts >"$HOLDOUT_DATA_DIR/logs/api.log" 2>&1 & pids+=($!)
node --import tsx apps/worker/src/main.ts >"$HOLDOUT_DATA_DIR/logs/worker.log" 2>&1 & pids+=($!)
worker_pid=$!
worker_alive() {
  kill -0 "$worker_pid" 2>/dev/null && return 0
  echo "demo: the worker stopped; the end of $HOLDOUT_DATA_DIR/logs/worker.log:" >&2
  tail -n 20 "$HOLDOUT_DATA_DIR/logs/worker.log" >&2
  return 1
}
for _ in $(seq 60); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 1; done
curl -fsS "$base/readyz" >/dev/null || { echo "demo: the API did not start; see $HOLDOUT_DATA_DIR/logs/api.log" >&2; exit 1; }
say "API on $base (logs in $HOLDOUT_DATA_DIR/logs)"

# New competitions require an organizer to approve each team that registers itself (one person, one
# team). Nobody is there to approve on this local demo, so it turns approval off through the
# organizer's API, and says so; the organizer account it uses is printed at the end (for /admin).
org_email="organizer@demo.example.org"
org_pw_file="$HOLDOUT_DATA_DIR/demo-organizer-password"
if [ ! -s "$org_pw_file" ]; then
  (umask 077 && node -e 'process.stdout.write(require("node:crypto").randomBytes(18).toString("base64url"))' >"$org_pw_file")
  # Made once; if the account exists but its password file is gone, approval stays on.
  npx holdout admin create --email "$org_email" --password-stdin <"$org_pw_file" >/dev/null 2>&1 || rm -f "$org_pw_file"
fi
approval="on: approve new teams at $base/admin"
if [ -s "$org_pw_file" ]; then
  jar=$(mktemp)
  # The password goes to curl on stdin, never on a command line.
  if node -e 'process.stdout.write(JSON.stringify({ email: process.argv[1], password: require("node:fs").readFileSync(process.argv[2], "utf8") }))' \
      "$org_email" "$org_pw_file" |
    curl -fsS -c "$jar" -H 'content-type: application/json' --data-binary @- "$base/api/v1/session" >/dev/null &&
    curl -fsS -b "$jar" -X PATCH -H 'content-type: application/json' -d '{"requireApproval":false}' \
      "$base/api/v1/admin/settings" >/dev/null; then
    approval="off (turned off by the demo; a new competition requires it)"
  fi
  curl -fsS -b "$jar" -X DELETE "$base/api/v1/session" >/dev/null 2>&1 || true
  rm -f "$jar"
fi
say "team approval: $approval"

team="Holdout Demo"
if ! token=$(npx holdout team create --name "$team" --institution "Holdout Example University" --json 2>/dev/null); then
  token=$(npx holdout team token --name "$team" --json)
fi
token=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).token)' "$token")

model="Example baseline"
# Run again on the same database, the demo shows the example it scored before instead of sending it
# once more: the team's quota (5 a day) would be spent after a few runs.
id=$(curl -fsS -H "Authorization: Bearer $token" "$base/api/v1/submissions" | node -e '
let s = "";
process.stdin.on("data", (d) => (s += d)).on("end", () => {
  const found = JSON.parse(s).submissions.find((x) => x.model === process.argv[1] && x.state === "scored");
  process.stdout.write(found ? found.id : "");
});' "$model")
if [ -n "$id" ]; then
  say "the example was scored in an earlier run of the demo: submission $id"
else
  tarball="$HOLDOUT_DATA_DIR/example-baseline.tar"
  say "saving the example image to $tarball"
  docker save -o "$tarball" holdout/example-baseline:latest
  say "submitting it the way a team would:"
  echo "  curl -H 'Authorization: Bearer \$TOKEN' -F model=Baseline -F ensemble=false -F image=@$tarball $base/api/v1/submissions"
  answer=$(curl -sS -H "Authorization: Bearer $token" \
    -F "model=$model" -F "description=Hand-made image features" \
    -F "link=https://example.org/holdout-baseline" -F "ensemble=false" -F "image=@$tarball" "$base/api/v1/submissions")
  # A refusal (quota, a full disk) is problem+json: its detail says what is wrong.
  id=$(node -e '
const a = JSON.parse(process.argv[1]);
if (a.id) process.stdout.write(a.id);
else { console.error(`demo: the upload was refused: ${a.detail ?? process.argv[1]}`); process.exit(1); }
' "$answer")
  say "submission $id queued; waiting for its score"
fi
state=""
for _ in $(seq 600); do
  status=$(curl -fsS -H "Authorization: Bearer $token" "$base/api/v1/submissions/$id")
  state=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).state)' "$status")
  case "$state" in scored|failed|cancelled) break ;; esac
  worker_alive || exit 1
  sleep 1
done
node -e '
const s = JSON.parse(process.argv[1]);
if (s.state !== "scored") { console.log(`demo: submission ended ${s.state}:`, s.failure); process.exit(0); }
console.log(`demo: scored: mean AUC ${s.meanAuc.toFixed(3)}, ${s.meanRadsBelowCurve} radiologists below the curve`);
for (const t of s.tasks) console.log(`  ${t.task.padEnd(17)} AUC ${t.auc.toFixed(3)}  rads below ${t.radsBelowCurve}`);
' "$status"

cat <<MSG

  Leaderboard:   $base/            (JSON: $base/api/v1/leaderboard, CSV: $base/leaderboard.csv)
  API docs:      $base/docs
  Demo team:     $team
  API token:     $token
  Team approval: $approval
  Organizer:     $org_email (password in $org_pw_file), signs in at $base/login
  Submit:        curl -H "Authorization: Bearer $token" -F model=MyModel -F image=@model.tar $base/api/v1/submissions

Serving until Ctrl-C.
MSG
wait
