/**
 * AWS IoT policy engine: parse and validate policy documents, evaluate requests
 * (`evaluatePolicies`), and the compiled, cached path the broker uses (`PolicyCache`).
 *
 * Requests name resources in resource-type form: `client/<id>` (Connect), `topic/<name>`
 * (Publish, Receive, RetainPublish, GetRetainedMessage), `topicfilter/<filter>` (Subscribe),
 * `thing/<name>[/<shadow>]`, `rolealias/<alias>`.
 *
 * fleetprov's choices where AWS is silent or IAM-only:
 * - ARN partition, region and account are not compared; the service must match `iot`.
 * - `maxChars` defaults to 20480 (AWS: 2048, pass `{ maxChars: AWS_MAX_CHARS }` to enforce it);
 *   input over 1 MiB is always refused.
 * - `NotAction` / `NotResource` work as in IAM. Unknown `iot:` actions, condition keys and
 *   variables are accepted with a warning and never match / are always absent.
 * - Text substituted for a variable is literal. `iot:ClientId` is substituted as is (a client id
 *   `+` turns `my/${iot:ClientId}/topic` into the literal `my/+/topic`, as on AWS); only
 *   certificate values are refused for `* $ + ? #`, length > 1024 or index past the 5th item.
 * - `iot:Certificate.AvailableKeys` lists full variable names (`iot:Certificate.Subject.CommonName`).
 * - Policies are evaluated in `policyName` order so the deciding statement is deterministic.
 */
export type * from './types.js';
export { PolicyError } from './errors.js';
export { parsePolicy, policyToDocument, AWS_MAX_CHARS, DEFAULT_MAX_CHARS, MAX_INPUT_CHARS } from './parse.js';
export { evaluatePolicies } from './evaluate.js';
export { CompiledPolicySet, compilePolicies, policySetKey, type PolicySetMember } from './compile.js';
export { PolicyCache, type PolicyCacheOptions, type PolicyCacheStats } from './cache.js';
export { explainDecision, DefaultDenyDecision } from './decisions.js';
export { IOT_ACTIONS, type IotAction } from './actions.js';
export { CONDITION_OPERATORS, parseConditionOperator } from './conditions.js';
export { DN_ATTRIBUTES, ALT_NAME_KINDS } from './variables.js';
