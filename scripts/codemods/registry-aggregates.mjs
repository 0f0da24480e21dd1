#!/usr/bin/env node
// Codemod for issue 11 ("Registry by aggregate"): rewrites calls of the old flat Registry methods to
// the per-aggregate stores, e.g. `registry.getCertificate(id)` → `registry.certificates.get(id)`,
// `tx.createThing(input)` → `tx.things.create(input)`.
//
// Usage: node scripts/codemods/registry-aggregates.mjs [--check] [file-or-dir ...]
//   Default roots: packages/*/src, packages/*/test, packages/*/bench (.ts/.mts/.cts/.js/.mjs files).
//   --check  only reports what would change (exit code 1 when something would).
//
// Idempotent: a member access already qualified by an aggregate (`.things.listThings`, the thing-group
// method) is left alone, so the script can be re-run on a tree where part of the code is migrated.
// Only member accesses (`x.name` / `x?.name`) are rewritten; object keys (`name:`), declarations and
// strings are not. The registry's own sources (packages/server/src/registry) are skipped.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** Old flat method → [aggregate property, method of that aggregate's store]. */
export const RENAMES = {
  // Certificates (registry.certificates)
  createCertificate: ['certificates', 'create'],
  getCertificate: ['certificates', 'get'],
  listCertificates: ['certificates', 'list'],
  updateCertificateStatus: ['certificates', 'updateStatus'],
  deleteCertificate: ['certificates', 'delete'],
  countCertificatesByStatus: ['certificates', 'countByStatus'],
  listExpiringCertificates: ['certificates', 'listExpiring'],
  deleteExpiredPendingCertificates: ['certificates', 'deleteExpiredPending'],
  deleteExpiredTemporaryCertificates: ['certificates', 'deleteExpiredTemporary'],
  transferCertificate: ['certificates', 'transfer'],
  acceptCertificateTransfer: ['certificates', 'acceptTransfer'],
  rejectCertificateTransfer: ['certificates', 'rejectTransfer'],
  cancelCertificateTransfer: ['certificates', 'cancelTransfer'],
  // CA certificates (registry.caCertificates)
  createCaCertificate: ['caCertificates', 'create'],
  getCaCertificate: ['caCertificates', 'get'],
  listCaCertificates: ['caCertificates', 'list'],
  updateCaCertificate: ['caCertificates', 'update'],
  deleteCaCertificate: ['caCertificates', 'delete'],
  // Things and thing types (registry.things)
  createThing: ['things', 'create'],
  getThing: ['things', 'get'],
  listThings: ['things', 'list'],
  countThings: ['things', 'count'],
  updateThing: ['things', 'update'],
  deleteThing: ['things', 'delete'],
  createThingType: ['things', 'createType'],
  getThingType: ['things', 'getType'],
  listThingTypes: ['things', 'listTypes'],
  deleteThingType: ['things', 'deleteType'],
  // Thing principals (registry.thingPrincipals)
  attachThingPrincipal: ['thingPrincipals', 'attach'],
  detachThingPrincipal: ['thingPrincipals', 'detach'],
  listThingPrincipals: ['thingPrincipals', 'listForThing'],
  listPrincipalThings: ['thingPrincipals', 'listForPrincipal'],
  // Thing groups (registry.thingGroups)
  createThingGroup: ['thingGroups', 'create'],
  getThingGroup: ['thingGroups', 'get'],
  listThingGroupAncestors: ['thingGroups', 'listAncestors'],
  listThingGroups: ['thingGroups', 'list'],
  updateThingGroup: ['thingGroups', 'update'],
  deleteThingGroup: ['thingGroups', 'delete'],
  addThingToThingGroup: ['thingGroups', 'addThing'],
  removeThingFromThingGroup: ['thingGroups', 'removeThing'],
  listThingsInThingGroup: ['thingGroups', 'listThings'],
  listThingGroupsForThing: ['thingGroups', 'listForThing'],
  // Policies (registry.policies)
  createPolicy: ['policies', 'create'],
  getPolicy: ['policies', 'get'],
  listPolicies: ['policies', 'list'],
  deletePolicy: ['policies', 'delete'],
  createPolicyVersion: ['policies', 'createVersion'],
  getPolicyVersion: ['policies', 'getVersion'],
  listPolicyVersions: ['policies', 'listVersions'],
  setDefaultPolicyVersion: ['policies', 'setDefaultVersion'],
  deletePolicyVersion: ['policies', 'deleteVersion'],
  attachPolicy: ['policies', 'attach'],
  detachPolicy: ['policies', 'detach'],
  listAttachedPolicies: ['policies', 'listAttached'],
  listTargetsForPolicy: ['policies', 'listTargets'],
  getPoliciesForPrincipal: ['policies', 'getForPrincipal'],
  // Provisioning templates (registry.templates)
  createProvisioningTemplate: ['templates', 'create'],
  getProvisioningTemplate: ['templates', 'get'],
  listProvisioningTemplates: ['templates', 'list'],
  updateProvisioningTemplate: ['templates', 'update'],
  deleteProvisioningTemplate: ['templates', 'delete'],
  createProvisioningTemplateVersion: ['templates', 'createVersion'],
  getProvisioningTemplateVersion: ['templates', 'getVersion'],
  listProvisioningTemplateVersions: ['templates', 'listVersions'],
  deleteProvisioningTemplateVersion: ['templates', 'deleteVersion'],
  // Ownership tokens (registry.tokens)
  createOwnershipToken: ['tokens', 'create'],
  getOwnershipToken: ['tokens', 'get'],
  consumeOwnershipToken: ['tokens', 'consume'],
  deleteExpiredOwnershipTokens: ['tokens', 'deleteExpired'],
  // Settings (registry.settings)
  getSetting: ['settings', 'get'],
  setSetting: ['settings', 'set'],
  ensureSetting: ['settings', 'ensure'],
  deleteSetting: ['settings', 'delete'],
  // Event log (registry.events)
  appendEvent: ['events', 'append'],
  listEvents: ['events', 'list'],
  pruneEvents: ['events', 'prune'],
  countEvents: ['events', 'count'],
  // Rotations (registry.rotations)
  createRotation: ['rotations', 'create'],
  getRotation: ['rotations', 'get'],
  getOpenRotation: ['rotations', 'getOpen'],
  getRotationByNewCertificate: ['rotations', 'getByNewCertificate'],
  updateRotation: ['rotations', 'update'],
  listRotations: ['rotations', 'list'],
  putRotationPolicy: ['rotations', 'putPolicy'],
  getRotationPolicy: ['rotations', 'getPolicy'],
  listRotationPolicies: ['rotations', 'listPolicies'],
  deleteRotationPolicy: ['rotations', 'deletePolicy'],
  recordCertificateTemplate: ['rotations', 'recordCertificateTemplate'],
  getCertificateTemplate: ['rotations', 'getCertificateTemplate'],
  listCertificatesByTemplate: ['rotations', 'listCertificatesByTemplate'],
};

/** The aggregate properties of `Registry`; an access already behind one of them is not rewritten again. */
export const AGGREGATES = [...new Set(Object.values(RENAMES).map(([agg]) => agg))];

/**
 * Member accesses that look like registry calls but are not: [file suffix, receiver, method]. They
 * are narrow ports the server feeds from the registry: `CertificateCountSource` (metrics) and the
 * readiness probe's `registry: { getSetting }`.
 */
export const NOT_REGISTRY = [
  ['packages/server/src/metrics/metrics.ts', 'source', 'countCertificatesByStatus'],
  ['packages/server/src/metrics/readiness.ts', 'registry', 'getSetting'],
];

/**
 * Rewrites that are not a plain rename: [file suffix, pattern, replacement]. Where the server hands
 * the registry to one of those ports, it now adapts the aggregate store to it.
 */
export const SPECIAL = [
  [
    'packages/server/src/server.ts',
    /\bmetrics\.observeCertificates\(registry\)/g,
    'metrics.observeCertificates({ countCertificatesByStatus: () => registry.certificates.countByStatus() })',
  ],
  [
    'packages/server/src/server.ts',
    /\bcreateReadinessProbe\(\{ registry,/g,
    'createReadinessProbe({ registry: { getSetting: (key) => registry.settings.get(key) },',
  ],
];

const names = Object.keys(RENAMES).sort((a, b) => b.length - a.length);
// receiver (last identifier before the dot, for NOT_REGISTRY), optional chaining dot, the old name;
// not followed by an identifier character or by `:` (an object key or a type member).
const ACCESS = new RegExp(`(\\b[\\w$]+)?(\\s*\\??\\.\\s*)(${names.join('|')})(?![\\w$])(?!\\s*:)`, 'g');
const QUALIFIED = new RegExp(`\\.\\s*(?:${AGGREGATES.join('|')})\\s*\\??\\.\\s*$`);

/**
 * The rewritten text of one file (unchanged text when nothing applies).
 * @param {string} file path relative to the repository root, `/`-separated
 * @param {string} text
 */
export function rewrite(file, text) {
  let out = text;
  for (const [suffix, pattern, replacement] of SPECIAL) if (file.endsWith(suffix)) out = out.replace(pattern, replacement);
  out = out.replace(ACCESS, (match, receiver, dot, name, offset, whole) => {
    const before = whole.slice(0, offset + (receiver?.length ?? 0));
    if (receiver !== undefined && AGGREGATES.includes(receiver) && /\.\s*$/.test(whole.slice(0, offset))) return match;
    if (QUALIFIED.test(before + '.')) return match;
    if (NOT_REGISTRY.some(([suffix, recv, method]) => file.endsWith(suffix) && recv === receiver && method === name)) return match;
    const [agg, method] = RENAMES[name];
    return `${receiver ?? ''}${dot}${agg}.${method}`;
  });
  return out;
}

const EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs'];

/** @param {string} path @returns {string[]} */
function walk(path) {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return [];
  if (st.isFile()) return EXTENSIONS.some((e) => path.endsWith(e)) && !path.endsWith('.d.ts') ? [path] : [];
  return readdirSync(path)
    .filter((n) => n !== 'node_modules' && n !== 'dist')
    .flatMap((n) => walk(join(path, n)));
}

function main() {
  const root = new URL('../..', import.meta.url).pathname;
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  let targets = args.filter((a) => a !== '--check');
  if (targets.length === 0) {
    targets = readdirSync(join(root, 'packages')).flatMap((p) => ['src', 'test', 'bench'].map((d) => join(root, 'packages', p, d)));
  }
  let changed = 0;
  for (const file of targets.flatMap(walk)) {
    const rel = relative(root, file).split(sep).join('/');
    if (rel.startsWith('packages/server/src/registry/')) continue;
    const text = readFileSync(file, 'utf8');
    const next = rewrite(rel, text);
    if (next === text) continue;
    changed++;
    if (check) console.log(`would rewrite ${rel}`);
    else writeFileSync(file, next);
  }
  console.log(`${check ? 'would rewrite' : 'rewrote'} ${changed} file(s)`);
  if (check && changed > 0) process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) main();
