// The Processes view's row actions as package.json contributes them, for each kind of row the tree makes: what a
// person finds inline and in the context menu (SPEC §4; issue #9: a definition has start, stop and restart inline,
// show output and open definition in its context menu).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { contextValue } from '../../src/core/describe';
import { ROOT } from './helpers';

interface MenuEntry {
  command: string;
  when: string;
  group: string;
}

const menus = (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { contributes: { menus: Record<string, MenuEntry[]> } })
  .contributes.menus['view/item/context'];

/** Evaluates the `when` clauses used here: `view == X` and `viewItem =~ /re/`, joined by `&&`. */
function matches(when: string, viewItem: string): boolean {
  return when.split('&&').every((part) => {
    const clause = part.trim();
    const equal = /^view == (\S+)$/.exec(clause);
    if (equal) return equal[1] === 'procscope.processes';
    const regex = /^viewItem =~ \/(.*)\/$/.exec(clause);
    if (regex) return new RegExp(regex[1]).test(viewItem);
    throw new Error(`a when clause this test cannot read: ${clause}`);
  });
}

/** The commands of the row `viewItem`, inline and in the context menu, in their order. */
function actions(viewItem: string): { inline: string[]; context: string[] } {
  const found = menus.filter((m) => matches(m.when, viewItem)).sort((a, b) => a.group.localeCompare(b.group));
  const name = (m: MenuEntry) => m.command.replace('procscope.', '');
  return { inline: found.filter((m) => m.group.startsWith('inline')).map(name), context: found.filter((m) => !m.group.startsWith('inline')).map(name) };
}

const launched = (alive: boolean) => contextValue({ kind: 'launched', alive, daemon: false, ports: undefined });

describe('row actions', () => {
  it('a definition not started: start inline; open definition in the context menu', () => {
    assert.deepEqual(actions('definition.idle'), { inline: ['startDefinition'], context: ['openDefinition', 'startDefinition'] });
  });

  it('a running definition: output, stop and restart inline; output, open definition, join, stop, kill, restart in the menu', () => {
    const row = actions(`${launched(true)}.definition`);
    assert.deepEqual(row.inline, ['showOutput', 'terminate', 'restart']);
    for (const command of ['showOutput', 'openDefinition', 'joinRow', 'terminate', 'kill', 'restart']) assert.ok(row.context.includes(command), `${command} in ${row.context}`);
  });

  it('an ended definition: start again and output inline (one instance: Start, not a second Restart); open definition in the menu', () => {
    const row = actions(`${launched(false)}.definition`);
    assert.deepEqual(row.inline, ['startDefinition', 'showOutput']);
    for (const command of ['showOutput', 'openDefinition', 'startDefinition']) assert.ok(row.context.includes(command), `${command} in ${row.context}`);
    assert.ok(!row.context.includes('terminate') && !row.context.includes('kill'), 'nothing to stop');
  });

  it('a process started by hand: restart once it ended, stop while it runs; no definition to open', () => {
    assert.deepEqual(actions(launched(true)).inline, ['showOutput', 'terminate']);
    assert.deepEqual(actions(launched(false)).inline, ['showOutput', 'restart']);
    assert.ok(!actions(launched(true)).context.includes('openDefinition'));
  });

  it('a listening process offers its port inline; a discovered child only what applies to it', () => {
    assert.ok(actions(contextValue({ kind: 'launched', alive: true, daemon: false, ports: [8080] })).inline.includes('openPort'));
    const child = actions(contextValue({ kind: 'discovered', alive: true, daemon: false, ports: undefined }));
    assert.deepEqual(child.inline, ['terminate']);
    assert.ok(!child.context.includes('restart') && !child.context.includes('showOutput'), JSON.stringify(child));
  });
});
