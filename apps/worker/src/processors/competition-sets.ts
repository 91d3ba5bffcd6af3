import { UnrecoverableError } from "bullmq";
import { findCompetitionSets, SCORERS, type Db } from "@holdout/db";
import { contentSha256 } from "@holdout/testset";
import type { Logger } from "../logger.ts";
import { checkSameScoring, loadHiddenTestset, type HiddenTestset } from "../scoring/hidden-testset.ts";
import { prepareSmokeSample, type SmokeSample } from "./smoke-sample.ts";

/**
 * A set on this host: its directory, and the key that names its content. A competition's own set is
 * keyed by the SHA-256 of its content recorded with the competition, so two competitions (or a
 * competition and a re-created one) holding the same set share one copy of its labels; the sets the
 * worker is configured with are keyed by their setting.
 */
export interface SetRef {
  key: string;
  dir: string;
}

/** A set with its labels loaded and its scorer bound. */
export interface ScoredSet {
  ref: SetRef;
  testset: HiddenTestset;
  /** contentSha256 of its directory, taken when its labels were read: what a score's provenance names. */
  sha256: string;
}

/** What a competition's runs use on this worker. */
export interface CompetitionInputs {
  competitionId: string;
  slug: string;
  hidden: ScoredSet;
  /** The development set (smoke runs, development phases) with its smoke sample; null: none. */
  dev: (ScoredSet & { sample: SmokeSample }) | null;
  /** The runtime image the competition names for code bundles; null: the worker's own. */
  runtimeImage: string | null;
}

export interface CompetitionSetsOptions {
  /** HOLDOUT_TESTSET_DIR and HOLDOUT_DEVSET_DIR: the sets of a competition that names none of its own. */
  configured: { testset: SetRef; devset: SetRef | null };
  smokeStudies: number;
  /** Where smoke samples are laid out (HOLDOUT_WORK_DIR). */
  workDir: string;
  log: Logger;
}

/**
 * Every set this worker has read, by content key: each one's private labels are read and parsed
 * once, on the first job that needs them (or at start for the configured ones), and kept for every
 * later job of any competition holding that content. A load that fails is forgotten, so the next
 * job tries again (the set may not have reached this host yet).
 */
export class CompetitionSets {
  private readonly labels = new Map<string, Promise<HiddenTestset>>();
  private readonly samples = new Map<string, Promise<SmokeSample>>();
  private readonly hashes = new Map<string, Promise<string>>();
  /** Content found to differ from a competition's recorded hash, said once per content. */
  private readonly differing = new Set<string>();

  constructor(private readonly options: CompetitionSetsOptions) {}

  /** The set's labels, read on first use of its key. */
  testset(ref: SetRef): Promise<HiddenTestset> {
    return this.remember(this.labels, ref.key, () => this.load(ref));
  }

  /** Reads the set again from disk (a re-score after a label correction) and keeps that copy. */
  reload(ref: SetRef): Promise<ScoredSet> {
    this.labels.delete(ref.key);
    this.hashes.delete(ref.key);
    return this.scoredSet(ref);
  }

  /**
   * The set's labels and its content hash, both read on first use of its key and kept together: a
   * set changed on disk later is read again only by a re-score (reload) or a new worker, and the
   * hash it records then is the new content's.
   */
  async scoredSet(ref: SetRef): Promise<ScoredSet> {
    const [testset, sha256] = await Promise.all([
      this.testset(ref),
      this.remember(this.hashes, ref.key, () => contentSha256(ref.dir)),
    ]);
    return { ref, testset, sha256 };
  }

  /** The development set's smoke sample, laid out on first use of its key. */
  sample(ref: SetRef): Promise<SmokeSample> {
    return this.remember(this.samples, ref.key, () =>
      prepareSmokeSample(ref.dir, this.options.smokeStudies, this.options.workDir),
    );
  }

  /** The configured test set, loaded (at start: a broken one stops the worker). */
  async configuredHidden(): Promise<ScoredSet> {
    return this.scoredSet(this.options.configured.testset);
  }

  /** The configured development set, loaded and checked against the configured test set. */
  async configuredDev(hidden: ScoredSet): Promise<(ScoredSet & { sample: SmokeSample }) | null> {
    const ref = this.options.configured.devset;
    return ref ? this.devset(ref, hidden) : null;
  }

  /**
   * A competition's sets: its own test and development sets when it names them, else the worker's
   * configured ones. A competition with its own test set never falls back to the configured
   * development set (its tasks would be another set's): without its own, it has no smoke run.
   */
  async forCompetition(db: Db, competitionId: string): Promise<CompetitionInputs> {
    const c = await findCompetitionSets(db, competitionId);
    if (!c) throw new UnrecoverableError(`competition ${competitionId} does not exist`);
    const own = c.testsetDir !== null && c.testsetSha256 !== null;
    const hiddenRef = own
      ? { key: `sha256:${c.testsetSha256!}`, dir: c.testsetDir! }
      : this.options.configured.testset;
    const devRef = !own
      ? this.options.configured.devset
      : c.devsetDir !== null && c.devsetSha256 !== null
        ? { key: `sha256:${c.devsetSha256}`, dir: c.devsetDir }
        : null;
    const inCompetition = (what: string, err: unknown) =>
      new Error(
        `competition ${c.slug}: cannot load ${what}: ${err instanceof Error ? err.message : String(err)}`,
        {
          cause: err,
        },
      );
    const hidden = await this.scoredSet(hiddenRef).catch((err: unknown) => {
      throw inCompetition(`its test set ${hiddenRef.dir}`, err);
    });
    if (own && hidden.sha256 !== c.testsetSha256 && !this.differing.has(hidden.sha256)) {
      this.differing.add(hidden.sha256);
      // A label correction in place: scored as it is now, and the provenance says which content.
      this.options.log.warn(
        { competition: c.slug, dir: hiddenRef.dir, recorded: c.testsetSha256, found: hidden.sha256 },
        "the test set's content differs from the hash recorded with its competition",
      );
    }
    if (own && SCORERS[hidden.testset.scorer.name] !== c.scorer) {
      throw new UnrecoverableError(
        `competition ${c.slug} is scored by ${c.scorer} but its test set ${hiddenRef.dir} names ` +
          `scorer ${hidden.testset.scorer.name} in its manifest`,
      );
    }
    let dev: (ScoredSet & { sample: SmokeSample }) | null;
    try {
      dev = devRef ? await this.devset(devRef, hidden) : null;
    } catch (err) {
      if (err instanceof ScoringMismatch)
        throw new UnrecoverableError(`competition ${c.slug}: ${err.message}`);
      throw inCompetition(`its development set ${devRef?.dir}`, err);
    }
    return { competitionId, slug: c.slug, hidden, dev, runtimeImage: c.runtimeImage };
  }

  /** A development set with its smoke sample, checked to be scored as its test set. */
  async devset(ref: SetRef, hidden: ScoredSet): Promise<ScoredSet & { sample: SmokeSample }> {
    const set = await this.scoredSet(ref);
    try {
      checkSameScoring(
        { dir: ref.dir, testset: set.testset },
        { dir: hidden.ref.dir, testset: hidden.testset },
      );
    } catch (err) {
      throw new ScoringMismatch(err instanceof Error ? err.message : String(err));
    }
    return { ...set, sample: await this.sample(ref) };
  }

  private async load(ref: SetRef): Promise<HiddenTestset> {
    const testset = await loadHiddenTestset(ref.dir);
    // Said once per content key: how an organizer (and a test) sees that labels are shared.
    this.options.log.info(
      { set: ref.key, dir: ref.dir, scorer: testset.scorer.name, studies: testset.studies.length },
      "labels loaded",
    );
    return testset;
  }

  private remember<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
    let entry = map.get(key);
    if (!entry) {
      entry = make();
      map.set(key, entry);
      entry.catch(() => {
        if (map.get(key) === entry) map.delete(key);
      });
    }
    return entry;
  }
}

/** A development set scored otherwise than its test set. */
export class ScoringMismatch extends Error {
  override name = "ScoringMismatch";
}
