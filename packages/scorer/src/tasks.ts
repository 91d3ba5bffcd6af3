/** The five CheXpert competition tasks, in the order every result lists them. */
export const TASKS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"] as const;

export type Task = (typeof TASKS)[number];

/** One value per task, e.g. a column of labels or predictions aligned by study index. */
export type PerTask<T> = Record<Task, T>;
