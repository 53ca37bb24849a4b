// What a packed package's own files refer to, checked against what it ships.

import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { expect } from 'vitest';

/** Relative files a shipped file points at: imports, source maps, triple-slash references. */
function references(file: string, text: string): string[] {
  const found = [
    ...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.\.?\/[^'"]+)['"]/g),
    ...text.matchAll(/\/\/[#@]\s*sourceMappingURL=(\S+)/g),
    ...text.matchAll(/\/\/\/\s*<reference\s+path=['"]([^'"]+)['"]/g),
  ].map((m) => posix.join(posix.dirname(file), m[1]!));
  // A declaration file's './x.js' is typed by './x.d.ts'.
  return file.endsWith('.d.ts') ? found.map((f) => f.replace(/\.js$/, '.d.ts')) : found;
}

/** Every shipped module and declaration (`files`, relative to `installed`) names no source map and only files that ship. */
function expectNoDanglingReferences(installed: string, files: readonly string[]): void {
  const shipped = new Set(files);
  for (const file of files.filter((f) => /\.(js|d\.ts)$/.test(f))) {
    const text = readFileSync(join(installed, file), 'utf8');
    expect(text, `${file} names a source map`).not.toMatch(/sourceMappingURL/);
    for (const target of references(file, text)) expect(shipped, `${file} refers to ${target}`).toContain(target);
  }
}

export { expectNoDanglingReferences };
