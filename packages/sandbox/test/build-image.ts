import { Readable } from "node:stream";
import type Docker from "dockerode";
import { pack as tarPack } from "tar-stream";

/**
 * Builds a test image with the legacy builder API from a Dockerfile and optional extra files
 * (name → content, made executable); returns the image ID.
 */
export async function buildTestImage(
  docker: Docker,
  dockerfile: string,
  opts: { tag?: string; files?: Record<string, string>; labels?: Record<string, string> } = {},
): Promise<string> {
  const context = tarPack();
  context.entry({ name: "Dockerfile" }, dockerfile);
  for (const [name, content] of Object.entries(opts.files ?? {})) {
    context.entry({ name, mode: 0o755 }, content);
  }
  context.finalize();
  const progress = await docker.buildImage(Readable.from(context), {
    ...(opts.tag ? { t: opts.tag } : {}),
    ...(opts.labels ? { labels: opts.labels } : {}),
    forcerm: true,
    // No cache: intermediate images shared with another test file's build could be pruned under it.
    nocache: true,
    // No network: test builds need none, and do not depend on the engine's default bridge.
    networkmode: "none",
  });
  const messages = await new Promise<{ error?: string; aux?: { ID?: string } }[]>((resolve, reject) =>
    docker.modem.followProgress(progress, (err, out) => (err ? reject(err) : resolve(out as never))),
  );
  const failed = messages.find((m) => m.error);
  if (failed) throw new Error(`docker build failed: ${failed.error}`);
  const id = messages.find((m) => m.aux?.ID)?.aux?.ID;
  if (!id) throw new Error("docker build reported no image ID");
  return id;
}
