import { Worker } from "node:worker_threads";

/**
 * SHA-256 receipts computed on a thread of their own, beside the event loop that receives, parses
 * and writes the upload. Inline, hashing costs the event loop about as much time as the transfer
 * itself; on its own thread it overlaps with it. The digest is exactly the one an inline hash gives:
 * the bytes reach the thread in order, copied into slabs that are handed over (not copied again)
 * and handed back for reuse. Each upload holds at most SLABS_PER_UPLOAD slabs: when the thread falls
 * behind, `update` returns a promise and the upload waits (memory stays bounded).
 */

const SLAB_BYTES = 1024 * 1024;
const SLABS_PER_UPLOAD = 8;

// Plain CommonJS, evaluated as the thread's script: it needs no loader, whatever runs the API (tsx,
// a test runner, compiled code).
const THREAD_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const hashes = new Map();
parentPort.on("message", (m) => {
  if (m.type === "open") hashes.set(m.id, createHash("sha256"));
  else if (m.type === "data") {
    hashes.get(m.id).update(new Uint8Array(m.slab, 0, m.length));
    parentPort.postMessage({ type: "ack", id: m.id, slab: m.slab }, [m.slab]);
  } else if (m.type === "end") {
    const hash = hashes.get(m.id);
    hashes.delete(m.id);
    parentPort.postMessage({ type: "digest", id: m.id, hex: hash.digest("hex") });
  } else if (m.type === "drop") hashes.delete(m.id);
});
`;

type FromThread =
  { type: "ack"; id: number; slab: ArrayBuffer } | { type: "digest"; id: number; hex: string };

interface Open {
  onAck(slab: ArrayBuffer): void;
  onDigest(hex: string): void;
  onFailure(err: Error): void;
}

/** The hashing thread, started on first use and shared by every upload of the process. */
class HashThread {
  #worker: Worker | undefined;
  #nextId = 1;
  readonly #open = new Map<number, Open>();

  register(handlers: Open): number {
    const id = this.#nextId++;
    this.#open.set(id, handlers);
    this.#post({ type: "open", id });
    this.#worker?.ref(); // a receipt is pending: its digest is worth waiting for
    return id;
  }

  send(id: number, slab: ArrayBuffer, length: number): void {
    this.#post({ type: "data", id, slab, length }, [slab]);
  }

  end(id: number): void {
    this.#post({ type: "end", id });
  }

  drop(id: number): void {
    if (!this.#open.delete(id)) return;
    this.#post({ type: "drop", id });
    this.#idle();
  }

  /** With no receipt pending, the thread must not keep the process alive (an idle API exits). */
  #idle(): void {
    if (this.#open.size === 0) this.#worker?.unref();
  }

  #post(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): void {
    this.#thread().postMessage(message, transfer);
  }

  #thread(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(THREAD_SOURCE, { eval: true });
    worker.on("message", (m: FromThread) => {
      const open = this.#open.get(m.id);
      if (!open) return; // dropped meanwhile
      if (m.type === "ack") return open.onAck(m.slab);
      this.#open.delete(m.id);
      this.#idle();
      open.onDigest(m.hex);
    });
    const fail = (err: Error): void => {
      // Every receipt in progress is lost with the thread; the next upload starts a new one.
      this.#worker = undefined;
      const open = [...this.#open.values()];
      this.#open.clear();
      for (const o of open) o.onFailure(new Error("the upload hashing thread stopped", { cause: err }));
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`exit code ${code}`)));
    // Adding the message listener refs the thread; #idle unrefs it again once nothing is pending.
    this.#worker = worker;
    return worker;
  }
}

const thread = new HashThread();

/** One upload's receipt: `update` with every byte in order, then `end`, then `digest`. */
export class ReceiptHash {
  readonly #id: number;
  readonly #free: ArrayBuffer[] = [];
  #slabs = 0;
  #slab: Buffer | undefined;
  #filled = 0;
  #waiting: (() => void) | undefined;
  #failure: Error | undefined;
  readonly #digest: Promise<string>;

  constructor() {
    let resolve!: (hex: string) => void;
    let reject!: (err: Error) => void;
    this.#digest = new Promise<string>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Awaited by `digest()`; an upload that fails before asking for it must not see this rejection
    // reported as unhandled (its own failure is the one that matters).
    this.#digest.catch(() => undefined);
    this.#id = thread.register({
      onAck: (slab) => {
        this.#free.push(slab);
        this.#wake();
      },
      onDigest: resolve,
      onFailure: (err) => {
        this.#failure = err;
        reject(err);
        this.#wake();
      },
    });
  }

  /** Takes the bytes (copied: the caller may reuse `chunk`); a promise means wait before the next call. */
  update(chunk: Buffer): Promise<void> | undefined {
    let at = 0;
    while (at < chunk.length) {
      if (this.#failure) throw this.#failure;
      const slab = (this.#slab ??= this.#takeSlab());
      if (!slab) {
        // Every slab is with the thread: continue once one comes back.
        const rest = chunk.subarray(at);
        return new Promise<void>((resolve) => (this.#waiting = resolve)).then(() => this.update(rest));
      }
      const n = chunk.copy(slab, this.#filled, at);
      this.#filled += n;
      at += n;
      if (this.#filled === slab.length) this.#sendSlab();
    }
    return undefined;
  }

  /** No more bytes: the thread finishes the digest while the caller goes on (e.g. to fsync). */
  end(): void {
    if (this.#filled > 0) this.#sendSlab();
    thread.end(this.#id);
  }

  /** The hex SHA-256 of every byte given; only after `end`. */
  digest(): Promise<string> {
    return this.#digest;
  }

  /** Forgets the receipt (a failed upload); idempotent. */
  discard(): void {
    thread.drop(this.#id);
  }

  #takeSlab(): Buffer | undefined {
    const free = this.#free.pop();
    if (free) return Buffer.from(free);
    if (this.#slabs >= SLABS_PER_UPLOAD) return undefined;
    this.#slabs++;
    return Buffer.from(new ArrayBuffer(SLAB_BYTES));
  }

  #sendSlab(): void {
    const slab = this.#slab;
    if (!slab) return;
    thread.send(this.#id, slab.buffer as ArrayBuffer, this.#filled);
    this.#slab = undefined;
    this.#filled = 0;
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.();
  }
}
