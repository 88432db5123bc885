// The words a row's phase starts with where menus must tell it apart (kept apart from policies.ts, which the view
// need not load).

/** How a row's phase starts while a restart policy waits out its back-off: the row can still be stopped then. */
export const RESTART_PENDING = 'restarting in';

/** Whether a row's phase says a restart is pending (so Terminate, which cancels it, applies). */
export function isRestartPending(phase: string | undefined): boolean {
  return phase?.startsWith(RESTART_PENDING) ?? false;
}
