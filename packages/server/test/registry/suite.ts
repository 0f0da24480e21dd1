/**
 * The registry suite shared by every dialect: `registrySuite(name, open)` registers the same tests
 * against whatever `open` returns (a fresh, empty registry per call).
 */
import { describe } from 'node:test';
import { billingGroupCases } from './cases-billing-groups.js';
import { certificateCases } from './cases-certificates.js';
import { claimCases } from './cases-claims.js';
import { policyCases } from './cases-policies.js';
import { principalPolicyCases } from './cases-principal-policies.js';
import { roleAliasCases } from './cases-role-aliases.js';
import { rotationCases } from './cases-rotation.js';
import { stateCases } from './cases-state.js';
import { thingTypeCases } from './cases-thing-types.js';
import { thingCases } from './cases-things.js';
import type { OpenFn } from './helpers.js';

export type { OpenFn } from './helpers.js';

/** Registers the shared registry tests under `describe(name)`. */
export function registrySuite(name: string, open: OpenFn): void {
  describe(name, () => {
    certificateCases(open);
    thingCases(open);
    policyCases(open);
    stateCases(open);
    rotationCases(open);
    billingGroupCases(open);
    thingTypeCases(open);
    roleAliasCases(open);
    principalPolicyCases(open);
    claimCases(open);
  });
}
