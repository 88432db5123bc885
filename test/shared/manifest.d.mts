// Types of manifest.mjs for the TypeScript tests.
export function localize<T>(value: T, texts: Record<string, string>): T;
export function readManifest(root: string): Record<string, unknown>;
