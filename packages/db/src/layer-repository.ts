import type { Db } from "./client.ts";

// The layer store's records (model TeamLayer): which layers a team holds, by the digest the API
// computed while receiving them. Every query names the team: no query answers across teams.

export interface StoredLayer {
  digest: string;
  size: bigint;
  lastUsedAt: Date;
}

/** Of `digests`, those the team holds; each one found is marked used now (retention counts from it). */
export async function claimHeldLayers(
  db: Db,
  teamId: string,
  digests: readonly string[],
  now = new Date(),
): Promise<StoredLayer[]> {
  if (digests.length === 0) return [];
  const rows = await db.teamLayer.updateManyAndReturn({
    where: { teamId, digest: { in: [...new Set(digests)] } },
    data: { lastUsedAt: now },
    select: { digest: true, size: true, lastUsedAt: true },
  });
  return rows;
}

/** Records a layer whose bytes are in the store (sent again: its size and use are refreshed). */
export async function recordLayer(
  db: Db,
  layer: { teamId: string; digest: string; size: number },
  now = new Date(),
): Promise<void> {
  await db.teamLayer.upsert({
    where: { teamId_digest: { teamId: layer.teamId, digest: layer.digest } },
    create: { teamId: layer.teamId, digest: layer.digest, size: BigInt(layer.size), lastUsedAt: now },
    update: { size: BigInt(layer.size), lastUsedAt: now },
  });
}

/** The team's layers, least recently used first (the order they are evicted in). */
export async function teamLayersByUse(db: Db, teamId: string): Promise<StoredLayer[]> {
  return db.teamLayer.findMany({
    where: { teamId },
    orderBy: [{ lastUsedAt: "asc" }, { digest: "asc" }],
    select: { digest: true, size: true, lastUsedAt: true },
  });
}

/** Every layer unused since `before`, of any team (the retention sweep). */
export async function layersUnusedSince(db: Db, before: Date): Promise<{ teamId: string; digest: string }[]> {
  return db.teamLayer.findMany({
    where: { lastUsedAt: { lt: before } },
    select: { teamId: true, digest: true },
    orderBy: { lastUsedAt: "asc" },
  });
}

/**
 * Forgets layers, unless used since `unusedSince` (a layer sent or claimed again while the sweep ran
 * stays). Returns the digests forgotten: only their files may be deleted.
 */
export async function forgetLayers(
  db: Db,
  teamId: string,
  digests: readonly string[],
  unusedSince?: Date,
): Promise<string[]> {
  if (digests.length === 0) return [];
  // One statement: a layer claimed again between a read and a delete must not be reported gone.
  const list = [...digests];
  const rows = unusedSince
    ? await db.$queryRaw<{ digest: string }[]>`
        DELETE FROM "TeamLayer"
        WHERE "teamId" = ${teamId}::uuid AND digest = ANY(${list}::text[]) AND "lastUsedAt" < ${unusedSince}
        RETURNING digest`
    : await db.$queryRaw<{ digest: string }[]>`
        DELETE FROM "TeamLayer"
        WHERE "teamId" = ${teamId}::uuid AND digest = ANY(${list}::text[])
        RETURNING digest`;
  return rows.map((r) => r.digest);
}

/** Of the `digests` on disk under a team, those with a record (the others are orphans). */
export async function recordedLayers(
  db: Db,
  teamId: string,
  digests: readonly string[],
): Promise<Set<string>> {
  if (digests.length === 0) return new Set();
  const rows = await db.teamLayer.findMany({
    where: { teamId, digest: { in: [...digests] } },
    select: { digest: true },
  });
  return new Set(rows.map((r) => r.digest));
}
