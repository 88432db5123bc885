import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { parseStat } from '../../src/core/os/procfs';
import { createProcessSource, descendantsIn, parseCpuTime, parsePs, ProcfsSource } from '../../src/core/os/processSource';
import { fixture, waitFor } from './helpers';

describe('process table sources', () => {
  it('parses /proc/PID/stat, command names with spaces and parentheses included', () => {
    const text = '4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 3 0 98765 10000000 2560 ...';
    const p = parseStat(text);
    assert.deepEqual(p && { pid: p.pid, comm: p.comm, state: p.state, ppid: p.ppid, pgid: p.pgid, cpuMs: p.cpuMs, threads: p.threads, startTime: p.startTime, rssBytes: p.rssBytes },
      { pid: 4242, comm: 'my (odd) name', state: 'S', ppid: 1, pgid: 4242, cpuMs: 2000, threads: 3, startTime: 98765, rssBytes: 2560 * 4096 });
  });

  it('parses ps output as macOS prints it', () => {
    const output = [
      '    1     0     1 Ss       9876   1:02.50 Sat Nov 21 09:00:01 2026     /sbin/launchd',
      '  501     1   501 S        1024   0:00.10 Sat Nov 21 21:33:49 2026     /bin/zsh -l',
      '  777   501   777 Z           0   0:00.00 Sat Nov 21 21:34:00 2026     (sleep)',
    ].join('\n');
    const table = parsePs(output);
    assert.deepEqual([...table.keys()], [1, 501, 777]);
    assert.equal(table.get(501)?.comm, 'zsh -l');
    assert.equal(table.get(501)?.rssBytes, 1024 * 1024);
    assert.equal(table.get(1)?.cpuMs, 62_500);
    assert.equal(table.get(777)?.state, 'Z');
    assert.deepEqual(descendantsIn(table, 1).map((p) => p.pid), [501, 777]);
  });

  it('reads cumulative CPU time as ps prints it', () => {
    assert.equal(parseCpuTime('0:01.50'), 1500);
    assert.equal(parseCpuTime('01:02:03'), 3_723_000);
    assert.equal(parseCpuTime('2-00:00:01'), 172_801_000);
  });

  it('finds a real tree through the kernel children lists, and the same through a full scan', async () => {
    const source = createProcessSource();
    assert.ok(source instanceof ProcfsSource);
    const child = spawn('bash', [fixture('fork-tree.sh'), '2'], { stdio: 'ignore', detached: true });
    try {
      const below = await waitFor(() => {
        const found = source.descendantsSync(child.pid as number);
        return found.filter((p) => p.comm === 'sleep').length === 2 ? found : undefined;
      }, 5000, 'the tree');
      const scanned = descendantsIn(await source.all(), child.pid as number);
      assert.deepEqual(below.map((p) => p.pid).sort(), scanned.map((p) => p.pid).sort());
      const walked = await source.walk(child.pid as number, new Map());
      assert.deepEqual(walked.map((p) => p.pid).sort(), below.map((p) => p.pid).sort());
    } finally {
      process.kill(-(child.pid as number), 'SIGKILL');
    }
  });

  it('finds the ports of two launched trees, and reads each process\'s fds once while nothing new listens', async () => {
    const source = createProcessSource();
    assert.ok(source instanceof ProcfsSource);
    const servers = [0, 1].map(() => spawn('python3', [fixture('python/tcp_server.py'), '0', '0'], { stdio: ['ignore', 'pipe', 'ignore'], detached: true }));
    try {
      const ports = await Promise.all(servers.map((child) => new Promise<number>((resolvePort) => {
        child.stdout?.on('data', (data: Buffer) => {
          const match = /listening on (\d+)/.exec(data.toString());
          if (match) resolvePort(Number(match[1]));
        });
      })));
      const poll = () => {
        source.refreshClock();
        return servers.map((child, i) => source.listeningPorts(`tree-${i}`, [child.pid as number]).get(child.pid as number));
      };
      assert.deepEqual(poll(), ports.map((port) => [port]));
      const readsAfterFirst = source.portFdReads;
      for (let i = 0; i < 5; i++) assert.deepEqual(poll(), ports.map((port) => [port]));
      assert.equal(source.portFdReads, readsAfterFirst, 'no fd list read again while the same sockets listen');
    } finally {
      for (const child of servers) process.kill(-(child.pid as number), 'SIGKILL');
    }
  });
});
