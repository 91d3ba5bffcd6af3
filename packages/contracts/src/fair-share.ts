import type { Queue } from "bullmq";
import { evaluateJobOptions, QUEUE_EVALUATE, type EvaluateQueue } from "./queues.ts";

// Fair shares of the evaluate queue, across competitions and, within each, across its teams:
// start-time fair queuing on BullMQ's job priorities (docs/architecture.md, "One worker pool for every
// competition"). One queue, one job id per submission, and any worker may take any job; only the
// order changes. Every competition with work waiting has an equal share of the runs, and within it
// every team with work waiting an equal share of the competition's.

/** BullMQ's largest priority (smaller is sooner). */
export const MAX_PRIORITY = 2_097_152;

/**
 * How long a turn handed out counts before its job is known to be in the queue: the job is added just
 * after it takes its turn, and one whose add failed stops counting after this.
 */
const ADD_GRACE_MS = 60_000;

// Turns are whole numbers, the clock's unit: about one run while the queue is busy. A job's priority
// is 2 × turn + 1 for a team's first job (the team had nothing queued or running) and 2 × turn + 2 for
// a later one: at equal turns a newly waiting team goes before the jobs of another's backlog. So about
// a million turns fit under BullMQ's cap; past it, jobs share the cap and go in arrival order.
//
// KEYS: the clock; the competition's live jobs (zset: job id → turn); every live job's owner (hash:
// job id → "<team> <ms the turn was handed out> <first: 1 if the team's first job> <added: 1 once the
// job is in the queue>").
// ARGV: the job key prefix, the team, the job id, the cap, the grace in ms.
// Atomic in Redis, so two enqueues never see the same state.
const ASSIGN = `
local clock = tonumber(redis.call('GET', KEYS[1]) or '0')
local prefix, team, id = ARGV[1], ARGV[2], ARGV[3]
local cap, grace = tonumber(ARGV[4]), tonumber(ARGV[5])
local function priority(turn, first)
  local p = 2 * turn + (first and 1 or 2)
  if p > cap then return cap end
  return p
end
-- A job queued again (a reconciler's re-queue) keeps the turn it had: its place, not the back.
local kept = redis.call('ZSCORE', KEYS[2], id)
if kept then
  local owner = redis.call('HGET', KEYS[3], id) or ''
  return priority(tonumber(kept), string.sub(owner, -3, -3) == '1')
end
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
-- The competition's live jobs: queued, delayed or running. A job that finished or was removed
-- (cancelled) stops counting here, so it never holds back its team's or its competition's turns.
local last, active, lastFirst = {}, 0, -1
local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #entries, 2 do
  local jid, turn = entries[i], tonumber(entries[i + 1])
  local key = prefix .. jid
  local owner, since, isFirst, added =
    string.match(redis.call('HGET', KEYS[3], jid) or '', '^(%S*) (%d+) (%d) (%d)$')
  local gone = redis.call('EXISTS', key) == 0 or redis.call('HEXISTS', key, 'finishedOn') == 1
  if owner == nil or (gone and (added == '1' or nowMs - tonumber(since) > grace)) then
    redis.call('ZREM', KEYS[2], jid)
    redis.call('HDEL', KEYS[3], jid)
  else
    if not last[owner] then active = active + 1 end
    if not last[owner] or turn > last[owner] then last[owner] = turn end
    if isFirst == '1' and turn > lastFirst then lastFirst = turn end
  end
end
local turn, first
if last[team] then
  -- The team's next turn is one share after its latest live job's: with n teams with work, each
  -- takes one turn in n, and the competition about one per turn.
  turn = math.max(clock, last[team] + active)
  first = false
else
  -- A team with nothing queued or running comes in at the clock, no sooner (no credit for having
  -- been idle), and after the competition's other teams that came in so: such first jobs take one
  -- turn each, so a burst of new teams does not crowd out the other competitions.
  turn = math.max(clock, lastFirst + 1)
  first = true
end
redis.call('ZADD', KEYS[2], turn, id)
redis.call('HSET', KEYS[3], id, team .. ' ' .. nowMs .. ' ' .. (first and '1' or '0') .. ' 0')
return priority(turn, first)`;

// KEYS: the owners (hash). ARGV: the job id, now in the queue: from now on, once its job is gone (done,
// cancelled) it stops counting at once.
const ADDED = `
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner then redis.call('HSET', KEYS[1], ARGV[1], string.sub(owner, 1, -2) .. '1') end
return 0`;

// KEYS: the clock. ARGV: the started job's priority. The clock only moves forward, to its turn.
const ADVANCE = `
local clock = tonumber(redis.call('GET', KEYS[1]) or '0')
local turn = math.floor((tonumber(ARGV[1]) - 1) / 2)
if turn > clock then redis.call('SET', KEYS[1], turn) end
return 0`;

type FairQueue = Pick<Queue, "getBackend" | "toKey">;
type Client = Awaited<ReturnType<Queue["getBackend"]>["client"]>;

// Scripts are registered once per connection (its own command table), then run by name.
const defined = new WeakSet<Client>();

async function clientOf(queue: FairQueue): Promise<Client> {
  const client = await queue.getBackend().client;
  if (!defined.has(client)) {
    client.defineCommand("holdoutFairTurn", { numberOfKeys: 3, lua: ASSIGN });
    client.defineCommand("holdoutFairAdded", { numberOfKeys: 1, lua: ADDED });
    client.defineCommand("holdoutFairClock", { numberOfKeys: 1, lua: ADVANCE });
    defined.add(client);
  }
  return client;
}

/** Whose job is queued: a submission of a team in a competition. */
export interface FairShareOwner {
  competitionId: string;
  teamId: string;
  /** The submission, which is the job's id. */
  submissionId: string;
}

/**
 * The priority of a team's next evaluate job. A team with nothing queued or running comes in at the
 * clock (the turn of the latest job a worker started), so it runs after at most one job of each
 * other team already waiting at the clock; a team's later jobs take one turn in every n of its
 * competition's (n: its teams with work queued or running), and so every competition with work
 * waiting gets about one run per turn, however many teams it has. A job queued again keeps its turn.
 */
export async function fairPriority(queue: FairQueue, owner: FairShareOwner): Promise<number> {
  const client = await clientOf(queue);
  const turn: unknown = await client.runCommand("holdoutFairTurn", [
    queue.toKey("fair-clock"),
    queue.toKey(`fair-jobs:${owner.competitionId}`),
    queue.toKey("fair-owner"),
    queue.toKey(""),
    owner.teamId,
    owner.submissionId,
    String(MAX_PRIORITY),
    String(ADD_GRACE_MS),
  ]);
  return Number(turn);
}

/**
 * Adds a submission's evaluate job to the queue in its team's fair turn (fairPriority); throws if it
 * could not. A job still in the queue under this id (waiting, delayed or running) is left as it is,
 * as BullMQ does. Once the job is in, the turn is marked as added; should that mark fail, the job is
 * queued all the same (`unmarked` hears of it) and its turn only outlives it by ADD_GRACE_MS.
 */
export async function addEvaluateJob(
  queue: EvaluateQueue,
  owner: FairShareOwner,
  unmarked: (err: unknown) => void,
): Promise<void> {
  const priority = await fairPriority(queue, owner);
  const id = owner.submissionId;
  await queue.add(QUEUE_EVALUATE, { submissionId: id }, evaluateJobOptions(id, priority));
  try {
    const client = await clientOf(queue);
    await client.runCommand("holdoutFairAdded", [queue.toKey("fair-owner"), id]);
  } catch (err) {
    unmarked(err);
  }
}

/** A worker started a job of this priority: the clock moves up to its turn (jobs without one leave it). */
export async function advanceFairClock(queue: FairQueue, priority: number | undefined): Promise<void> {
  if (!priority) return;
  const client = await clientOf(queue);
  await client.runCommand("holdoutFairClock", [queue.toKey("fair-clock"), String(priority)]);
}
