// The multiprocessing-style log: records `[LEVEL/ProcessName] message` at or above a level, kept in a bounded ring.
import { Emitter } from './event';
import { formatRecord, LEVELS, levelName, type LevelName } from './levels';

export const MAIN_PROCESS = 'MainProcess';

// eslint-disable-next-line no-control-regex -- control characters are what this removes
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** A record stays one line, free of escapes, whatever names and command lines it quotes. */
function oneLine(text: string): string {
  return text.replace(/\r?\n|\r/g, ' ').replace(CONTROL, '');
}

export class Logger {
  private readonly ring: string[] = [];
  private ringStart = 0;
  private readonly lineEmitter = new Emitter<string>();
  /** Every line written, as shown in the channel. */
  readonly onLine = this.lineEmitter.event;

  constructor(
    private threshold: number = LEVELS.INFO,
    private readonly capacity = 10_000,
  ) {}

  get level(): number {
    return this.threshold;
  }

  setLevel(level: LevelName | number): void {
    this.threshold = typeof level === 'number' ? level : LEVELS[level];
  }

  /** NOTSET logs nothing; otherwise records at or above the threshold pass. */
  isEnabledFor(level: number): boolean {
    return this.threshold !== LEVELS.NOTSET && level >= this.threshold;
  }

  /** Logs one record; `source` names the launched program a forwarded record came from. */
  log(level: number, processName: string, message: string, source?: string): void {
    if (!this.isEnabledFor(level)) return;
    const record = formatRecord(levelName(level), oneLine(processName), oneLine(message));
    this.write(source === undefined ? record : `${oneLine(source)} | ${record}`);
  }

  debug(processName: string, message: string): void {
    this.log(LEVELS.DEBUG, processName, message);
  }

  info(processName: string, message: string): void {
    this.log(LEVELS.INFO, processName, message);
  }

  warning(processName: string, message: string): void {
    this.log(LEVELS.WARNING, processName, message);
  }

  error(processName: string, message: string): void {
    this.log(LEVELS.ERROR, processName, message);
  }

  /** Writes a line that is not a record (a process's echoed output), whatever the level. */
  write(line: string): void {
    if (this.ring.length < this.capacity) {
      this.ring.push(line);
    } else {
      this.ring[this.ringStart] = line;
      this.ringStart = (this.ringStart + 1) % this.capacity;
    }
    this.lineEmitter.fire(line);
  }

  /** The most recent lines, oldest first. */
  lines(): string[] {
    return [...this.ring.slice(this.ringStart), ...this.ring.slice(0, this.ringStart)];
  }

  dispose(): void {
    this.lineEmitter.dispose();
  }
}
