// Warnings about refused connections, rate-limited: a flood of bad clients must not push real records out of the log.
// The first refusal of a quiet spell is told as it happens; the rest of the spell is summed up once at its end.

/** How long a spell of refusals lasts once one is told. */
export const REJECTION_SPELL_MS = 10_000;

export class RejectionLog {
  private spellTimer: NodeJS.Timeout | undefined;
  private untold = 0;
  private lastReason = '';

  constructor(
    private readonly warn: (message: string) => void,
    private readonly spellMs = REJECTION_SPELL_MS,
  ) {}

  /** One connection refused, for `reason` (safe to log). A spell of 0 tells every one. */
  refused(reason: string): void {
    if (this.spellMs <= 0) return this.warn(reason);
    if (this.spellTimer === undefined) {
      this.warn(reason);
      this.spellTimer = setTimeout(() => this.endSpell(), this.spellMs);
      this.spellTimer.unref();
      return;
    }
    this.untold++;
    this.lastReason = reason;
  }

  /** Tells what is left untold now (on dispose). */
  flush(): void {
    clearTimeout(this.spellTimer);
    this.endSpell();
  }

  private endSpell(): void {
    this.spellTimer = undefined;
    if (this.untold === 0) return;
    const count = this.untold;
    this.untold = 0;
    this.warn(`${count} more rejected connection${count === 1 ? '' : 's'} in the last ${Math.round(this.spellMs / 1000)} s (the last: ${this.lastReason})`);
  }
}
