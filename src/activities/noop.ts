// An empty activity every stage worker also serves: the benchmark's baseline runs it.
export const noopActivities = {
  async noop(): Promise<void> {
    // nothing: the baseline measures Temporal's own cost per activity
  },
};
export type NoopActivities = typeof noopActivities;
