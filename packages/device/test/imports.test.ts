/**
 * The device package must never depend on the server: its sources may import
 * only Node built-ins, its declared dependencies and its own files.
 */

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The package root, found from this file whether it runs from test/ or dist/test/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === '@fleetprov/device') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json of @fleetprov/device not found');
    dir = parent;
  }
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Module specifiers of static imports, re-exports and dynamic imports. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\bfrom\s+['"]([^'"]+)['"]/g,
    /\bimport\s+['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of source.matchAll(pattern)) found.push(match[1]!);
  return found;
}

const root = packageRoot();
const srcDir = join(root, 'src');
const files = sourceFiles(srcDir);
const allowedPackages = new Set(['mqtt', 'reflect-metadata', '@peculiar/x509', 'commander', '@fleetprov/protocol']);

describe('device sources', () => {
  it('exist (the scan looks at the right place)', () => {
    assert.ok(files.some((f) => f.endsWith(join('src', 'provision.ts'))));
    assert.ok(files.length >= 10);
  });

  it('never import @fleetprov/server or the server folder', () => {
    const offenders: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const spec of specifiers(text)) {
        if (spec.startsWith('@fleetprov/server') || /(^|\/)server(\/|$)/.test(spec) || spec.includes('packages/server')) {
          offenders.push(`${relative(root, file)} imports ${spec}`);
        }
      }
      if (/@fleetprov\/server/.test(text)) offenders.push(`${relative(root, file)} mentions @fleetprov/server`);
    }
    assert.deepEqual(offenders, []);
  });

  it('import only node: built-ins, the declared dependencies and their own files', () => {
    const offenders: string[] = [];
    for (const file of files) {
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('node:')) continue;
        if (spec.startsWith('.')) {
          const target = join(dirname(file), spec.replace(/\.js$/, '.ts'));
          if (!target.startsWith(srcDir)) offenders.push(`${relative(root, file)} reaches outside src/: ${spec}`);
          continue;
        }
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!allowedPackages.has(pkg)) offenders.push(`${relative(root, file)} imports undeclared ${spec}`);
      }
    }
    assert.deepEqual(offenders, []);
  });

  it('declared runtime dependencies contain no server package and no native addon', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    const deps = Object.keys(manifest.dependencies ?? {});
    for (const forbidden of ['@fleetprov/server', 'aws-crt', 'aws-iot-device-sdk-v2', 'better-sqlite3', 'aedes']) {
      assert.equal(deps.includes(forbidden), false, `${forbidden} must not be a dependency`);
    }
  });

  it('the scanner itself recognises every import form', () => {
    const sample = `import a from 'x1';\nimport 'x2';\nexport { b } from "x3";\nconst c = await import('x4');\nrequire('x5');`;
    assert.deepEqual(specifiers(sample).sort(), ['x1', 'x2', 'x3', 'x4', 'x5']);
  });
});
