// The mark every process ProcScope launches carries in its environment, `OWNER/ROW`, and its children inherit: it finds
// the processes that left the tree (a setsid escapee, a group member whose leader is gone), and, when the supervisor is
// gone, tells its watchdog which processes on the machine were the supervisor's.

export const OWNER_VARIABLE = 'PROCSCOPE_OWNER';

/** The mark of row `id` of the supervisor known as `owner`. */
export function ownerMark(owner: string, id: string): string {
  return `${owner}/${id}`;
}

/** The row a mark names, if the mark is `owner`'s; undefined otherwise. */
export function markedRow(mark: string | null | undefined, owner: string): string | undefined {
  return typeof mark === 'string' && mark.startsWith(`${owner}/`) ? mark.slice(owner.length + 1) : undefined;
}
