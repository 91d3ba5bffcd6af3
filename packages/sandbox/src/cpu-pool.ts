/**
 * Hands out cores to concurrent runs so that they do not share cores when there are enough: each run
 * takes the `count` least-used cores of the pool (ties: lowest number), and gives them back when done.
 * With more demand than cores, runs overlap on the least-used ones; the CPU quota still applies.
 */
export class CpuPool {
  private readonly users: Map<number, number>;

  constructor(cores: readonly number[]) {
    if (cores.length === 0) throw new Error("the CPU pool needs at least one core");
    this.users = new Map([...new Set(cores)].sort((a, b) => a - b).map((core) => [core, 0]));
  }

  acquire(count: number): { cpuset: string; release(): void } {
    const taken = [...this.users.entries()]
      .sort(([a, ua], [b, ub]) => ua - ub || a - b)
      .slice(0, Math.max(1, Math.min(count, this.users.size)))
      .map(([core]) => core)
      .sort((a, b) => a - b);
    for (const core of taken) this.users.set(core, (this.users.get(core) ?? 0) + 1);
    let released = false;
    return {
      cpuset: taken.join(","),
      release: () => {
        if (released) return;
        released = true;
        for (const core of taken) this.users.set(core, Math.max(0, (this.users.get(core) ?? 1) - 1));
      },
    };
  }
}

/** Parses the engine's cpuset syntax (`0-3,6`) into core numbers; throws on anything else. */
export function parseCpuList(list: string): number[] {
  const cores: number[] = [];
  for (const part of list.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`not a CPU list: "${list}" (expected e.g. 0-3,6)`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new Error(`not a CPU list: "${list}" (range ${part} is reversed)`);
    for (let c = from; c <= to; c++) cores.push(c);
  }
  return cores;
}
