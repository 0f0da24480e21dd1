/**
 * Bounds of the template engine. AWS numbers are cited; the others are fleetprov's own caps that keep
 * one evaluation cheap and bounded whatever the template or the device sends.
 */
export const TEMPLATE_LIMITS = {
  /** `templateBody` max length (AWS: 10240 characters). */
  maxBodyChars: 10240,
  /** Max JSON nesting depth of a template body (room for 32 nested intrinsics of 3 levels each). */
  maxJsonDepth: 128,
  /** Max nesting depth of intrinsic functions inside one another. */
  maxIntrinsicDepth: 32,
  /** Max length of any string a parameter supplies or an intrinsic produces (64 KiB). */
  maxStringChars: 65536,
  /** Max total characters produced by intrinsics in one evaluation (1 MiB). */
  maxEvaluationChars: 1048576,
  /** Max items of a list produced by `Fn::Split` (or any list value). */
  maxListItems: 1024,
  /** Max intrinsic-function evaluations in one evaluation. */
  maxEvaluationSteps: 100000,
  /** Max length of a parameter name. */
  maxParameterNameChars: 256,
  /** Max length of a resource logical id. */
  maxLogicalIdChars: 256,
  /** Max `AWS::IoT::Policy` resources (AWS: at most 10 policies per certificate). */
  maxPolicies: 10,
  /** Operands of `Fn::And` / `Fn::Or` (CloudFormation: 2 to 10). */
  minConditionOperands: 2,
  maxConditionOperands: 10,
  /** Thing, thing type, thing group and billing group names: `[a-zA-Z0-9:_-]+`, 1–128 (AWS). */
  maxResourceNameChars: 128,
  /** Thing attribute names: `[a-zA-Z0-9_.,@/:#-]+`, ≤ 128 (AWS). */
  maxAttributeNameChars: 128,
  /** Thing attribute values: `[a-zA-Z0-9_.,@/:#=\[\]-]*`, ≤ 800 (AWS). */
  maxAttributeValueChars: 800,
  /** Policy names: `[\w+=,.@-]+`, 1–128 (AWS). */
  maxPolicyNameChars: 128,
} as const;
