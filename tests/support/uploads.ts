import http from "node:http";

// Resumable (tus) uploads broken off the way a network breaks them, for the tests of resuming and
// of what the server keeps and counts.

/** Sends `bytes` as a PATCH body over a raw socket, then breaks the connection before the end. */
export function patchThenBreak(
  url: string,
  token: string,
  location: string,
  bytes: Buffer,
  breakAfter: number,
) {
  return new Promise<void>((resolve) => {
    const target = new URL(`${url}${location}`);
    const req = http.request({
      host: target.hostname,
      port: target.port,
      path: target.pathname,
      method: "PATCH",
      headers: {
        authorization: `Bearer ${token}`,
        "tus-resumable": "1.0.0",
        "upload-offset": "0",
        "content-type": "application/offset+octet-stream",
        "content-length": String(bytes.length),
      },
    });
    req.on("error", () => resolve());
    req.on("close", () => resolve());
    const step = 256 * 1024;
    let at = 0;
    const pump = () => {
      while (at < breakAfter) {
        const chunk = bytes.subarray(at, Math.min(at + step, breakAfter));
        at += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      // Everything up to here is on the wire: break the connection the way a network would.
      setTimeout(() => req.destroy(), 200);
    };
    pump();
  });
}

/** The server's offset once it has stopped moving (the broken request may still be flushing). */
export async function settledOffset(url: string, token: string, location: string) {
  let last = -1;
  for (;;) {
    const res = await fetch(`${url}${location}`, {
      method: "HEAD",
      headers: { authorization: `Bearer ${token}`, "tus-resumable": "1.0.0" },
    });
    const offset = Number(res.headers.get("upload-offset"));
    if (res.status === 200 && offset === last) return offset;
    last = offset;
    await new Promise((r) => setTimeout(r, 300));
  }
}
