import http from "node:http";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { lingerOnClose } from "../src/lingering-close.ts";

// A server that refuses every request after its headers, the way an upload refused mid-stream is,
// with a lingering close of the given limits. `closed` resolves when the server's side of the
// connection is gone, with how long after the answer that was.
async function refusingServer(limits: { totalMs: number; idleMs: number }) {
  let answeredAt = 0;
  let closed!: Promise<number>;
  const server = http.createServer((req, res) => {
    lingerOnClose(req, limits);
    res.writeHead(400, { connection: "close", "content-type": "text/plain" }).end("refused");
    answeredAt = Date.now();
  });
  server.on("connection", (socket: net.Socket) => {
    closed = new Promise((resolve) => socket.on("close", () => resolve(Date.now() - answeredAt)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as net.AddressInfo).port, closed: () => closed };
}

/** Opens a request announcing `announced` bytes of body, and collects what the server answers. */
async function openUpload(port: number, announced: number) {
  // Half-open allowed: the client goes on sending after the server's FIN, as an uploading one does.
  const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  socket.write(`POST / HTTP/1.1\r\nhost: x\r\ncontent-length: ${announced}\r\n\r\n`);
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  const ended = new Promise((resolve) => socket.once("end", resolve));
  return { socket, ended, answer: () => Buffer.concat(chunks).toString("utf8") };
}

const write = (socket: net.Socket, b: Buffer) =>
  new Promise<void>((resolve, reject) => socket.write(b, (err) => (err ? reject(err) : resolve())));

describe("lingerOnClose", () => {
  let server: http.Server | undefined;
  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
    server = undefined;
  });

  it("reads the refused body to its end, so a client that reads only afterwards gets the answer", async () => {
    const s = await refusingServer({ totalMs: 60_000, idleMs: 60_000 });
    server = s.server;
    const body = Buffer.alloc(16 * 1024 * 1024, 1);
    const client = await openUpload(s.port, body.length);
    // Far more than socket buffers hold: were the server not reading it, this write would fail.
    client.socket.pause();
    await write(client.socket, body);
    client.socket.resume();
    await s.closed();
    await client.ended;
    expect(client.answer()).toMatch(/^HTTP\/1\.1 400 [^]*refused/);
    client.socket.destroy();
  });

  it("closes after the idle time when the client stops sending", async () => {
    const s = await refusingServer({ totalMs: 60_000, idleMs: 300 });
    server = s.server;
    const client = await openUpload(s.port, 1024 * 1024);
    client.socket.write(Buffer.alloc(1000));
    expect(await s.closed()).toBeGreaterThanOrEqual(250);
    expect(client.answer()).toMatch(/^HTTP\/1\.1 400 /);
    client.socket.destroy();
  });

  it("closes after the total time when the client keeps sending", async () => {
    const s = await refusingServer({ totalMs: 500, idleMs: 60_000 });
    server = s.server;
    const client = await openUpload(s.port, 1024 ** 3);
    const drip = setInterval(() => client.socket.writable && client.socket.write(Buffer.alloc(100)), 20);
    expect(await s.closed()).toBeGreaterThanOrEqual(450);
    clearInterval(drip);
    expect(client.answer()).toMatch(/^HTTP\/1\.1 400 /);
    client.socket.destroy();
  });
});
