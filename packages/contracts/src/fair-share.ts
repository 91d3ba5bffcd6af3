import type { Queue } from "bullmq";

// Fair shares of the evaluate queue across competitions: start-time fair queuing on BullMQ's job
// priorities (docs/architecture.md, "One worker pool for every competition"). One queue, one job id
// per submission, and any worker may take any job; only the order changes.

/** BullMQ's largest priority (smaller is sooner). Past it jobs share it, in arrival order. */
export const MAX_PRIORITY = 2_097_152;

// KEYS: the clock, the per-competition hash. ARGV: the competition, the cap. Atomic in Redis, so two
// enqueues of one competition never get the same turn.
const ASSIGN = `
local clock = tonumber(redis.call('GET', KEYS[1]) or '0')
local last = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local turn = math.min(math.max(clock, last) + 1, tonumber(ARGV[2]))
redis.call('HSET', KEYS[2], ARGV[1], turn)
return turn`;

// KEYS: the clock. ARGV: the started job's priority. The clock only moves forward.
const ADVANCE = `
local clock = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > clock then redis.call('SET', KEYS[1], ARGV[1]) end
return 0`;

type FairQueue = Pick<Queue, "getBackend" | "toKey">;
type Client = Awaited<ReturnType<Queue["getBackend"]>["client"]>;

// Scripts are registered once per connection (its own command table), then run by name.
const defined = new WeakSet<Client>();

async function clientOf(queue: FairQueue): Promise<Client> {
  const client = await queue.getBackend().client;
  if (!defined.has(client)) {
    client.defineCommand("holdoutFairTurn", { numberOfKeys: 2, lua: ASSIGN });
    client.defineCommand("holdoutFairClock", { numberOfKeys: 1, lua: ADVANCE });
    defined.add(client);
  }
  return client;
}

/**
 * The priority of a competition's next evaluate job: one turn after its previous job, and never
 * before the clock (the turn of the latest job a worker started). Competitions with work waiting
 * are so served one job each in turn; one that was idle comes back at the clock, with no credit.
 */
export async function fairPriority(queue: FairQueue, competitionId: string): Promise<number> {
  const client = await clientOf(queue);
  const turn: unknown = await client.runCommand("holdoutFairTurn", [
    queue.toKey("fair-clock"),
    queue.toKey("fair-last"),
    competitionId,
    String(MAX_PRIORITY),
  ]);
  return Number(turn);
}

/** A worker started a job of this priority: the clock moves up to it (jobs without one leave it). */
export async function advanceFairClock(queue: FairQueue, priority: number | undefined): Promise<void> {
  if (!priority) return;
  const client = await clientOf(queue);
  await client.runCommand("holdoutFairClock", [queue.toKey("fair-clock"), String(priority)]);
}
