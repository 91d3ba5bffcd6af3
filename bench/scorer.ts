/**
 * Scorer benchmark (not a test): how long the official metric takes for one submission, on the
 * CheXpert test-set size (500 studies) and on a 40x larger set, against a baseline run in the same
 * process: the textbook O(n_pos * n_neg) pairwise AUC (Mann-Whitney, ties one half), which gives
 * the same AUC. Then the bootstrap: 2,000 replicates of all 5 tasks on 500 studies (target: at most
 * 100 ms), against the naive bootstrap that materialises each resample and re-sorts it.
 * Prints its figures; run with `npm run bench:scorer`.
 */
import { performance } from "node:perf_hooks";
import { auc, bootstrapAuc, scoreTasks, TASKS, type PerTask } from "@holdout/scorer";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

function pairwiseAuc(labels: Uint8Array, scores: Float64Array): number {
  let wins = 0;
  let pos = 0;
  let neg = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    pos++;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j] === 1) continue;
      const a = scores[i]!;
      const b = scores[j]!;
      wins += a > b ? 1 : a === b ? 0.5 : 0;
    }
  }
  for (const l of labels) if (l !== 1) neg++;
  return wins / (pos * neg);
}

function dataset(n: number, seed: number) {
  const rng = xoroshiro128plus(seed);
  const int = (max: number) => uniformInt(rng, 0, max);
  const make = <T>(f: () => T) => Object.fromEntries(TASKS.map((t) => [t, f()])) as PerTask<T>;
  const truth = make(() => Uint8Array.from({ length: n }, () => (int(99) < 30 ? 1 : 0)));
  // Scores on a coarse grid so ties occur, as with real models' rounded outputs.
  const predictions = make(() => Float64Array.from({ length: n }, () => int(999) / 1000));
  for (const t of TASKS) for (let i = 0; i < n; i++) predictions[t][i]! += truth[t][i]! * 0.2;
  const readers = [1, 2, 3].map((r) => ({
    id: `rad${r}`,
    reads: make(() => Uint8Array.from({ length: n }, () => int(1))),
  }));
  return { truth, predictions, readers };
}

function time(label: string, iterations: number, fn: () => unknown): number {
  for (let i = 0; i < Math.min(5, iterations); i++) fn(); // warm up the JIT
  const start = performance.now();
  for (let i = 0; i < iterations; i++) fn();
  const perCall = (performance.now() - start) / iterations;
  console.log(`${label.padEnd(52)} ${perCall.toFixed(3).padStart(10)} ms/call  (${iterations} calls)`);
  return perCall;
}

for (const n of [500, 20_000]) {
  const data = dataset(n, 42);
  const iterations = n <= 500 ? 500 : 5;
  console.log(`\n${n} studies, 5 tasks, 3 readers`);
  const full = time("scoreTasks (AUC, ROC, 3 readers, 5 tasks)", iterations, () => scoreTasks(data));
  const ours = time("auc, 5 tasks", iterations, () =>
    TASKS.map((t) => auc(data.truth[t], data.predictions[t])),
  );
  const base = time("baseline: pairwise Mann-Whitney AUC, 5 tasks", n <= 500 ? iterations : 1, () =>
    TASKS.map((t) => pairwiseAuc(data.truth[t], data.predictions[t])),
  );
  const diff = Math.max(
    ...TASKS.map((t) =>
      Math.abs(auc(data.truth[t], data.predictions[t]) - pairwiseAuc(data.truth[t], data.predictions[t])),
    ),
  );
  console.log(
    `speed-up of auc over the baseline: ${(base / ours).toFixed(1)}x; full scoring ${full.toFixed(2)} ms`,
  );
  console.log(`largest AUC difference from the baseline: ${diff.toExponential(2)}`);
}

/** The naive bootstrap: materialise each resample, then the official AUC (which sorts it again). */
function naiveBootstrapMeans(data: ReturnType<typeof dataset>, replicates: number, seed: number): number[] {
  const rng = xoroshiro128plus(seed);
  const n = data.truth[TASKS[0]].length;
  const means: number[] = [];
  for (let r = 0; r < replicates; r++) {
    const drawn = Array.from({ length: n }, () => uniformInt(rng, 0, n - 1));
    let sum = 0;
    for (const t of TASKS) {
      sum += auc(
        drawn.map((i) => data.truth[t][i]!),
        drawn.map((i) => data.predictions[t][i]!),
      );
    }
    means.push(sum / TASKS.length);
  }
  return means;
}

{
  const REPLICATES = 2000;
  const TARGET_MS = 100;
  const data = dataset(500, 42);
  const input = { truth: data.truth, predictions: data.predictions };
  console.log(`\nbootstrap: 500 studies, 5 tasks, ${REPLICATES} replicates`);
  const official = time("official score (scoreTasks), 500 studies", 200, () => scoreTasks(data));
  const fast = time(`bootstrapAuc, ${REPLICATES} replicates`, 20, () =>
    bootstrapAuc(input, { replicates: REPLICATES, seed: 7 }),
  );
  // The naive way is slow: time 100 replicates and scale to the same count.
  const naive =
    time("baseline: materialise + re-sort, 100 replicates", 3, () => naiveBootstrapMeans(data, 100, 7)) *
    (REPLICATES / 100);
  const { meanAuc, meanAuc95 } = bootstrapAuc(input, { replicates: REPLICATES, seed: 7 });
  const verdict = fast <= TARGET_MS ? "met" : "NOT met";
  console.log(
    `official score ${official.toFixed(2)} ms; ${REPLICATES} replicates ${fast.toFixed(1)} ms ` +
      `(target <= ${TARGET_MS} ms: ${verdict}); baseline ${naive.toFixed(0)} ms, ${(naive / fast).toFixed(1)}x slower`,
  );
  console.log(
    `mean AUC ${meanAuc.toFixed(4)}, 95% CI [${meanAuc95[0].toFixed(4)}, ${meanAuc95[1].toFixed(4)}] ` +
      `(width ${(meanAuc95[1] - meanAuc95[0]).toFixed(4)})`,
  );
}
