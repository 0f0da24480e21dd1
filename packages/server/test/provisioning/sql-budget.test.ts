/**
 * The SQL budget of one CSR provisioning on SQLite (issue 14): the real server in this process, the
 * statements better-sqlite3 executes counted per phase (bench/sql-count.ts). A count, never a timing:
 * deterministic under any load. Before the hot-path work a provisioning took 63 statements and two
 * commits; the bounds leave a little room above today's count (about 38) and fail long before the old one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureProvisioningSql, type Phase } from '../../bench/provision-sql.js';

/** Most statements per phase of one provisioning. */
const BUDGET: Record<Phase, number> = {
  'connect + subscribe (claim)': 4,
  CreateCertificateFromCsr: 8,
  RegisterThing: 22,
  'reconnect (new certificate)': 6,
};
const TOTAL_BUDGET = 40;

test(
  'one CSR provisioning on SQLite stays within its SQL statement budget, with one commit per request',
  { timeout: 120_000 },
  async () => {
    const devices = 2;
    const measured = await measureProvisioningSql(devices);
    let total = 0;
    for (const [phase, budget] of Object.entries(BUDGET) as [Phase, number][]) {
      const counted = measured.phases.get(phase)!;
      total += counted.statements;
      // Math.floor: a statement that runs once every few requests (a settings read) does not count against the budget.
      assert.ok(
        Math.floor(counted.statements / devices) <= budget,
        `${phase}: ${counted.statements / devices} statements per provisioning, budget ${budget}`,
      );
    }
    assert.ok(Math.floor(total / devices) <= TOTAL_BUDGET, `${total / devices} statements per provisioning, budget ${TOTAL_BUDGET}`);
    // Each request commits exactly once before it replies; connections write nothing.
    assert.equal(measured.phases.get('CreateCertificateFromCsr')!.commits, devices);
    assert.equal(measured.phases.get('RegisterThing')!.commits, devices);
    assert.equal(measured.phases.get('connect + subscribe (claim)')!.commits, 0);
    assert.equal(measured.phases.get('reconnect (new certificate)')!.commits, 0);
    // Fewer statements, same log: per device (warm-up included) an accepted event per request and the
    // registry rows of certificate created, thing created, certificate activated (plus the claim certificate's creation).
    const n = devices + 1;
    const events = JSON.stringify([...measured.events]);
    assert.equal(measured.events.get('fleet-provisioning/accepted'), 2 * n, events);
    assert.equal(measured.events.get('registry/info'), 3 * n + 1, events);
  },
);
