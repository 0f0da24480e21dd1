/**
 * The provisioning-template engine: AWS IoT provisioning templates (fleet provisioning and JITP),
 * validated once by `parseTemplate`, then evaluated per device by `resolveTemplate` /
 * `planProvisioning` (or both at once with `evaluateTemplate`). Pure: data in, data out.
 */
export { parseTemplate } from './parse.js';
export { resolveTemplate } from './resolve.js';
export { planProvisioning } from './plan.js';
export { evaluateTemplate } from './evaluate.js';
export { TemplateError, type TemplateErrorCode } from './errors.js';
export { TEMPLATE_LIMITS } from './limits.js';
export { CERTIFICATE_ID_PARAMETER, SUBJECT_PARAMETERS } from './parameters.js';
export { detectTemplateType, type DetectedTemplateType } from './detect-type.js';
export type * from './types.js';
