import type { EvaluationInput, ParsedTemplate, ProvisioningPlan } from './types.js';
import { resolveTemplate } from './resolve.js';
import { planProvisioning } from './plan.js';

/**
 * Evaluates a template for one device and applies OverrideSettings against `input.existingThing`:
 * `resolveTemplate` then `planProvisioning`.
 *
 * @throws {TemplateError} `MissingParameter`, `EvaluationError` or `ResourceConflict`
 */
export function evaluateTemplate(template: ParsedTemplate, input: EvaluationInput): ProvisioningPlan {
  return planProvisioning(resolveTemplate(template, input), input?.existingThing);
}
