/**
 * What `npm install @fleetprov/device` brings: the package's production
 * dependency tree (as installed, from `npm ls --omit=dev --all --long --json`)
 * must hold no server-side package (the server, its broker, HTTP framework,
 * database drivers, the AWS SDK, aws-crt) and no native addon — no package
 * with a `binding.gyp` or `"gypfile": true`, optional ones included, since npm
 * installs optional dependencies (and runs their build scripts) by default.
 *
 * The same scan of the server's tree must find its native addon and the AWS
 * SDK, which shows the scan looks at real data.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { repoRoot } from './support/repo-root.js';

/** One package in an `npm ls --long --json` tree. */
interface LsNode {
  name?: string;
  version?: string;
  path?: string;
  dependencies?: Record<string, LsNode>;
}

/** A package of the tree, with how it is reached. */
interface TreePackage {
  name: string;
  /** Install directory (absent on entries npm prints as deduplicated; the same package appears elsewhere with it). */
  path: string | undefined;
  /** `@fleetprov/device > … > name`. */
  chain: string;
}

/** The production dependency tree of a workspace, flattened. */
function productionTree(workspace: string): TreePackage[] {
  const root = repoRoot();
  const res = spawnSync('npm', ['ls', '--omit=dev', '--all', '--long', '--json', '-w', workspace], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  assert.equal(res.error, undefined, `could not run npm: ${String(res.error)}`);
  let tree: LsNode;
  try {
    tree = JSON.parse(res.stdout) as LsNode;
  } catch {
    assert.fail(`npm ls printed no JSON (exit ${res.status}): ${res.stderr.slice(0, 2000)}`);
  }
  const top = Object.entries(tree.dependencies ?? {});
  assert.equal(top.length, 1, `npm ls -w ${workspace} should list just the workspace: ${top.map(([n]) => n).join(', ')}`);
  const out: TreePackage[] = [];
  // npm lists an optional peer dependency when it happens to be installed (the monorepo installs
  // pkcs11js for the secure-element tests), but `npm install` of the package never brings one.
  const manifest = JSON.parse(readFileSync(join(root, workspace, 'package.json'), 'utf8')) as {
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  };
  const optionalPeers = new Set(
    Object.entries(manifest.peerDependenciesMeta ?? {})
      .filter(([, meta]) => meta.optional === true)
      .map(([name]) => name),
  );
  const walk = (name: string, node: LsNode, chain: string, depth: number): void => {
    assert.ok(depth < 100, `dependency chain too deep: ${chain}`);
    out.push({ name, path: node.path, chain });
    for (const [child, sub] of Object.entries(node.dependencies ?? {})) {
      if (depth === 0 && optionalPeers.has(child)) continue;
      walk(child, sub, `${chain} > ${child}`, depth + 1);
    }
  };
  const [name, node] = top[0]!;
  walk(name, node, name, 0);
  return out;
}

/** Packages in the tree that are native addons, as "name (chain)". */
function nativeAddons(tree: readonly TreePackage[]): string[] {
  const found = new Set<string>();
  for (const pkg of tree) {
    if (pkg.path === undefined) continue;
    const manifestPath = join(pkg.path, 'package.json');
    const manifest = existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as { gypfile?: unknown }) : {};
    if (existsSync(join(pkg.path, 'binding.gyp')) || manifest.gypfile === true) found.add(`${pkg.name} (${pkg.chain})`);
  }
  return [...found].sort();
}

const FORBIDDEN = ['@fleetprov/server', 'aedes', 'fastify', 'kysely', 'better-sqlite3', 'pg', 'aws-crt', 'aws-iot-device-sdk-v2'];

function forbiddenPackages(tree: readonly TreePackage[]): string[] {
  const found = new Set<string>();
  for (const pkg of tree) if (FORBIDDEN.includes(pkg.name) || pkg.name.startsWith('@aws-sdk/')) found.add(`${pkg.name} (${pkg.chain})`);
  return [...found].sort();
}

describe('production dependency tree of @fleetprov/device', () => {
  let tree: TreePackage[] = [];
  before(() => {
    tree = productionTree('packages/device');
  });

  it('is the installed tree: the declared dependencies are there, with their install paths', () => {
    const names = new Set(tree.map((p) => p.name));
    for (const dep of ['@fleetprov/device', '@fleetprov/protocol', 'mqtt', 'commander', '@peculiar/x509', 'mqtt-packet'])
      assert.ok(names.has(dep), dep);
    assert.ok(tree.filter((p) => p.path !== undefined).length > 20);
  });

  it('holds no server package, broker, HTTP framework, database driver, AWS SDK or aws-crt', () => {
    assert.deepEqual(forbiddenPackages(tree), []);
  });

  it('holds no native addon (no binding.gyp, no "gypfile": true), optional dependencies included', () => {
    assert.deepEqual(nativeAddons(tree), []);
  });
});

describe('the same scan on @fleetprov/server', () => {
  it('finds its native addon (better-sqlite3) and the AWS SDK', () => {
    const tree = productionTree('packages/server');
    assert.ok(
      nativeAddons(tree).some((p) => p.startsWith('better-sqlite3 ')),
      nativeAddons(tree).join('\n'),
    );
    const forbidden = forbiddenPackages(tree);
    assert.ok(forbidden.some((p) => p.startsWith('@aws-sdk/client-iot ')));
    assert.ok(forbidden.some((p) => p.startsWith('fastify ')));
  });
});
