// Where a window's supervisors are written down (in the workspace's storage), so the next extension host of the same
// window finds them after a reload or a host crash and re-adopts their processes.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SupervisorRecord } from './spawnSupervisor';

function isRecord(value: unknown): value is SupervisorRecord {
  const r = value as SupervisorRecord;
  return typeof r === 'object' && r !== null && Number.isSafeInteger(r.pid) && typeof r.dir === 'string'
    && typeof r.socket === 'string' && typeof r.token === 'string' && typeof r.startedAt === 'number';
}

export class SupervisorRegistry {
  constructor(private readonly file: string) {}

  /** The supervisors written down, newest first; a missing or damaged file is an empty list. */
  read(): SupervisorRecord[] {
    try {
      const parsed: unknown = JSON.parse(readFileSync(this.file, 'utf8'));
      return Array.isArray(parsed) ? parsed.filter(isRecord).sort((a, b) => b.startedAt - a.startedAt) : [];
    } catch {
      return [];
    }
  }

  add(record: SupervisorRecord): void {
    this.write([record, ...this.read().filter((r) => r.pid !== record.pid)]);
  }

  remove(pid: number): void {
    const records = this.read();
    const left = records.filter((r) => r.pid !== pid);
    if (left.length !== records.length) this.write(left);
  }

  private write(records: SupervisorRecord[]): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(records), { mode: 0o600 });
    renameSync(temp, this.file);
  }
}
