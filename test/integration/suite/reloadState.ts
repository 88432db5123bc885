// What the reload test's phase 1 writes down for phase 2 (see index.ts), and where.
import type { ProcessSnapshot } from '../../../src/core/types';

export interface BeforeReload {
  daemon: ProcessSnapshot;
  tree: ProcessSnapshot;
  python: ProcessSnapshot;
  /** Every process below the tree and the Python program, as listed before the reload. */
  below: ProcessSnapshot[];
}

export const RELOAD_STATE = `${process.env.PROCSCOPE_TEST_RESULTS}.reload.json`;
