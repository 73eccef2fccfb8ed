/**
 * How long the scheduler lease lasts: the poller's budget plus a margin, so a slow last pass is
 * not overlapped by the next timer, but short enough that a poller that died is replaced by the
 * next timer firing or so. No invocation of the poller function outlives it (s.yaml keeps the
 * timeout between the budget and the lease), which also bounds a completion event's work.
 */
export function leaseMarginMs(pollBudgetMs: number): number {
  return Math.min(15_000, Math.max(500, pollBudgetMs / 4));
}

export function schedulerLeaseMs(pollBudgetMs: number): number {
  return pollBudgetMs + leaseMarginMs(pollBudgetMs);
}
