// Reading a process's memory from /proc, shared by the unit and the stress suites.
import { readFileSync } from 'node:fs';

/** A field of /proc/PID/status in bytes (VmRSS, VmHWM), or undefined when the process is gone. */
export function statusBytes(pid: number | 'self', field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
