/** The five CheXpert competition tasks, in the order every result lists them. */
export const TASKS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"] as const;

export type Task = (typeof TASKS)[number];

/**
 * One value per task, e.g. a column of labels or predictions aligned by study index. `K` names the
 * tasks: the CheXpert ones unless a scorer over other label columns (scorers.ts) says otherwise.
 */
export type PerTask<T, K extends string = Task> = Record<K, T>;

/**
 * TASKS as the task list of a function generic in its task names. Only the overloads that take no
 * task list reach it, and those fix the names to Task, so the cast never lies.
 */
export function chexpertTasks<K extends string>(): readonly K[] {
  return TASKS as readonly string[] as readonly K[];
}

/** Per-task arrays from a task list, in its order. */
export function perTask<K extends string, T>(
  tasks: readonly K[],
  value: (task: K, index: number) => T,
): PerTask<T, K> {
  return Object.fromEntries(tasks.map((task, i) => [task, value(task, i)])) as PerTask<T, K>;
}
