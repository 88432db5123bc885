// The Processes view re-renders a row only when what it shows changed: CPU and memory (in the tooltip, built lazily)
// change with every poll and must not replace a row under the pointer. Real processes and a real supervisor; only the
// `vscode` module is a stand-in, since the provider is tested here in plain Node.
import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProcessTreeProvider as Provider } from '../../src/tree/processTreeProvider';
import { installVscodeStandIn } from '../fixtures/vscodeStandIn';
import { cleanUpAll, makeService, waitFor } from './helpers';

describe('the Processes view refreshes only what changed', () => {
  let ProcessTreeProvider: typeof Provider;
  before(async () => {
    installVscodeStandIn();
    // Loaded only now, so that its require('vscode') finds the stand-in.
    ({ ProcessTreeProvider } = await import('../../src/tree/processTreeProvider'));
  });
  after(cleanUpAll);

  it('a live row whose CPU and memory change every poll is not re-rendered; its exit is', async () => {
    const { service } = makeService({ pollIntervalMs: 50 });
    const provider = new ProcessTreeProvider(service);
    try {
      // Busy, so its CPU share differs from poll to poll; no children, so nothing else about it changes.
      const busy = await service.start({ command: 'bash', args: ['-c', 'while :; do :; done'], name: 'busy' });
      const fired: (string | undefined)[] = [];
      provider.onDidChangeTreeData((change) => {
        for (const element of Array.isArray(change) ? change : [change]) fired.push(element);
      });
      const render = (): void => {
        for (const element of provider.getChildren()) provider.getTreeItem(element);
      };
      render();
      // The row as first rendered may still change (its run time ticks over to whole seconds only after 10 s).
      await waitFor(() => service.row(busy.id)?.cpuPercent !== undefined, 10_000, 'a first CPU sample');
      provider.flush();
      render();
      fired.length = 0;
      const samples = new Set<string>();
      await waitFor(() => {
        const row = service.row(busy.id);
        samples.add(`${row?.cpuPercent}/${row?.rssBytes}`);
        provider.flush();
        return samples.size >= 4;
      }, 20_000, 'four different CPU/memory samples of the busy row');
      assert.deepEqual(fired.filter((element) => element === busy.id || element === undefined), [], 'samples alone re-render nothing');
      const tooltip = provider.resolveTreeItem(provider.getTreeItem(busy.id), busy.id).tooltip as { value: string };
      assert.match(tooltip.value, /CPU: [\d\\.]+ %/, 'the tooltip, built when asked, has the latest CPU share');

      await service.terminate(busy.id);
      await waitFor(() => {
        provider.flush();
        return fired.includes(busy.id) || fired.includes(undefined);
      }, 10_000, 'the exit to re-render the row');
    } finally {
      provider.dispose();
    }
  });
});
