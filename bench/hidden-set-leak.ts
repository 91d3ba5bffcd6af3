/**
 * What a team can learn about the hidden labels per submission (not a test): attacks simulated with
 * the real scorer on the synthetic test set the tests use (seed 7, 500 studies, 5 tasks), decoded
 * only from what each release rule lets out. Prints, per rule:
 *   - the issue's attack: one distinct-score submission and its ROC vertices (the old curves view);
 *   - a single-study probe per task (one study scored above an all-tied rest: its label moves the
 *     task's AUC by +0.5/P or -0.5/N), decoded from the released AUC;
 *   - a group probe (k studies on top): the exact information, in bits, that the released AUC and
 *     its 95% interval carry about the k labels, H(output) over every label pattern weighted by the
 *     task's prevalence (the output is a function of the labels, so this is the mutual information);
 *   - the ceiling: log2 of the number of distinct values the released figures can take;
 *   - the ladder: whether any probe releases anything at all.
 * Run with `npm run bench:leak` (about a minute).
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  auc,
  bootstrapAuc,
  chexpertScorer,
  parseLabelsCsv,
  scoreTasks,
  TASKS,
  type PerTask,
  type Task,
} from "@holdout/scorer";
import { generateTestset, loadPrivateLabels } from "@holdout/testset";
import { ladderImproves, predictionsCsv, type HiddenTestset } from "@holdout/worker";
import { labelsFromRoc } from "../tests/support/leaks.ts";

const BOOTSTRAP = { replicates: 500, seed: 20_190_101 };

/** The released precision rule (apps/api's roundTo): the decimal string's rounding. */
const release = (x: number, decimals: number | null) => (decimals === null ? x : Number(x.toFixed(decimals)));
const RULES: [string, number | null][] = [
  ["full precision (before)", null],
  ["3 decimals (default)", 3],
  ["2 decimals", 2],
];

const dir = await mkdtemp(path.join(os.tmpdir(), "holdout-leak-"));
try {
  await generateTestset({ outDir: dir, seed: 7, longSide: 64 });
  const labels = await loadPrivateLabels(dir);
  const gt = parseLabelsCsv(labels.groundtruthCsv, "groundtruth");
  const n = gt.studies.length;
  const truth = gt.labels;
  const zeros = () => Object.fromEntries(TASKS.map((t) => [t, new Float64Array(n)])) as PerTask<Float64Array>;
  const entropy = (p: number) => (p <= 0 || p >= 1 ? 0 : -p * Math.log2(p) - (1 - p) * Math.log2(1 - p));
  const prevalence = (task: Task) => truth[task].reduce((a, b) => a + b, 0) / n;

  console.log(`synthetic test set: ${n} studies x ${TASKS.length} tasks = ${n * TASKS.length} labels`);
  console.log(
    `prevalence: ${TASKS.map((t) => `${t} ${(100 * prevalence(t)).toFixed(0)}%`).join(", ")}; entropy of all labels ${TASKS.reduce((s, t) => s + n * entropy(prevalence(t)), 0).toFixed(0)} bits\n`,
  );

  // 1. The issue's attack: distinct scores (rank in sorted study order), then the ROC vertices.
  const order = gt.studies.map((s, i) => ({ s, i })).sort((a, b) => (a.s < b.s ? -1 : 1));
  const distinct = zeros();
  order.forEach(({ i }, rank) => TASKS.forEach((t) => (distinct[t][i] = rank + 1)));
  const scored = scoreTasks({ truth, predictions: distinct, readers: [] });
  let rebuilt = 0;
  for (const t of scored.tasks) {
    const got = labelsFromRoc(t.roc, n);
    const descending = [...order].reverse();
    if (got) descending.forEach(({ i }, k) => (rebuilt += got[k] === truth[t.task][i] ? 1 : 0));
  }
  console.log("1. one distinct-score submission");
  console.log(
    `   with the ROC vertices (the old curves view, and the plots): ${rebuilt}/${n * TASKS.length} labels rebuilt`,
  );
  console.log("   now: the vertices and plots are organizers' until closing: 0 labels from this view\n");

  // 2. Single-study probe per task, decoded from the released AUC alone.
  console.log("2. single-study probe: one study per task on top of an all-tied rest, 100 submissions");
  for (const [rule, decimals] of RULES) {
    let right = 0;
    let decided = 0;
    for (let s = 0; s < 100; s++) {
      const p = zeros();
      TASKS.forEach((t, k) => (p[t][(s * 5 + k) % n] = 1));
      for (const [k, t] of TASKS.entries()) {
        const a = release(auc(truth[t], p[t]), decimals);
        if (a === 0.5) continue; // the rounding hid the label: no decision
        decided++;
        if ((a > 0.5 ? 1 : 0) === truth[t][(s * 5 + k) % n]) right++;
      }
    }
    console.log(
      `   ${rule.padEnd(26)} ${(decided / 100).toFixed(2)} labels decided per submission, ${right}/${decided} right`,
    );
  }
  console.log();

  // 3. Group probe: k studies on top; the information the released AUC and interval carry.
  console.log("3. group probe: k studies on top (fixed order), the rest tied; bits per task per submission");
  console.log("   (exact, over every label pattern of the k studies weighted by the prevalence)");
  const ks = [1, 4, 8];
  for (const [rule, decimals] of RULES) {
    const cells: string[] = [];
    for (const k of ks) {
      const probe = zeros();
      for (const t of TASKS) for (let j = 0; j < k; j++) probe[t][j] = k - j;
      let bits = 0;
      let bitsWithCi = 0;
      for (const t of TASKS) {
        const q = prevalence(t);
        const aucOnly = new Map<string, number>();
        const withCi = new Map<string, number>();
        for (let m = 0; m < 1 << k; m++) {
          const y = Uint8Array.from(truth[t]);
          let ones = 0;
          for (let j = 0; j < k; j++) {
            y[j] = (m >> j) & 1;
            ones += y[j]!;
          }
          const weight = q ** ones * (1 - q) ** (k - ones);
          const a = release(auc(y, probe[t]), decimals);
          aucOnly.set(`${a}`, (aucOnly.get(`${a}`) ?? 0) + weight);
          if (k <= 4) {
            const truthOf = Object.fromEntries(
              TASKS.map((x) => [x, x === t ? y : truth[x]]),
            ) as PerTask<Uint8Array>;
            const ci = bootstrapAuc({ truth: truthOf, predictions: probe }, BOOTSTRAP).tasks.find(
              (x) => x.task === t,
            )!.auc95;
            const key = `${a}|${release(ci[0], decimals)}|${release(ci[1], decimals)}`;
            withCi.set(key, (withCi.get(key) ?? 0) + weight);
          }
        }
        const h = (dist: Map<string, number>) =>
          [...dist.values()].reduce((s, w) => s - (w > 0 ? w * Math.log2(w) : 0), 0);
        bits += h(aucOnly);
        bitsWithCi += k <= 4 ? h(withCi) : NaN;
      }
      cells.push(
        `k=${k}: ${(bits / TASKS.length).toFixed(2)}${k <= 4 ? ` (${(bitsWithCi / TASKS.length).toFixed(2)} with the interval)` : ""}`,
      );
    }
    console.log(`   ${rule.padEnd(26)} ${cells.join("; ")}`);
  }
  console.log(
    "   (one label's entropy at these prevalences: ",
    TASKS.map((t) => entropy(prevalence(t)).toFixed(2)).join(", "),
    "bits)\n",
  );

  // 4. The ceiling: how many distinct values the released figures can take, per submission.
  console.log("4. ceiling per submission: log2 of the distinct values of every released figure");
  for (const [rule, decimals] of RULES) {
    let bits = 0;
    for (const t of TASKS) {
      const pos = truth[t].reduce((a, b) => a + b, 0);
      // An AUC is a multiple of 1/(2PN): 2PN+1 values at full precision.
      const values =
        decimals === null ? 2 * pos * (n - pos) + 1 : Math.min(2 * pos * (n - pos) + 1, 10 ** decimals + 1);
      bits += 3 * Math.log2(values); // the AUC and its two interval bounds
      bits += Math.log2(4); // radiologists below the curve, 0..3
    }
    const meanValues = decimals === null ? 2 ** 52 : 10 ** decimals + 1;
    bits += 3 * Math.log2(meanValues) + 1; // the mean AUC with its interval, the tie mark
    console.log(`   ${rule.padEnd(26)} at most ${bits.toFixed(0)} bits`);
  }
  console.log();

  // 5. The ladder: a probe is released only if it significantly beats the team's best released entry.
  const testset: HiddenTestset = {
    publicDir: dir,
    scorer: chexpertScorer,
    studies: gt.studies,
    truth,
    readers: [],
  };
  const best = zeros();
  for (const t of TASKS)
    for (let i = 0; i < n; i++) best[t][i] = truth[t][i]! + 1.5 * Math.abs(Math.sin(i * 12.9898));
  const bestCsv = predictionsCsv(gt.studies, best);
  let released = 0;
  for (let s = 0; s < 20; s++) {
    const p = zeros();
    TASKS.forEach((t, k) => (p[t][(s * 5 + k) % n] = 1));
    if (ladderImproves(testset, predictionsCsv(gt.studies, p), bestCsv, BOOTSTRAP, null)) released++;
  }
  const bestAuc = scoreTasks({ truth, predictions: best, readers: [] }).meanAuc;
  console.log(`5. ladder: 20 single-study probes after a released entry of mean AUC ${bestAuc.toFixed(3)}`);
  console.log(
    `   released: ${released}/20; each says only "no significant improvement" (0 bits: probes never improve)`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
