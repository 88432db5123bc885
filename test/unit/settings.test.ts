import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SETTING_DEFAULTS } from '../../src/core/settings';
import { ROOT } from './helpers';

describe('settings defaults, written once', () => {
  it('package.json offers each setting with the default the code uses', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const properties = manifest.contributes.configuration.properties as Record<string, { default: unknown }>;
    for (const [key, value] of Object.entries(SETTING_DEFAULTS)) {
      assert.ok(properties[`procscope.${key}`], `package.json has no procscope.${key}`);
      assert.deepEqual(properties[`procscope.${key}`].default, value, `procscope.${key}`);
    }
  });
});
