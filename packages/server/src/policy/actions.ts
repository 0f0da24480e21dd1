/**
 * IoT policy actions and `Action` / `NotAction` patterns. Matching is case-insensitive, with
 * `*` and `?` wildcards, as in IAM. Actions of other services (`greengrass:*`) are accepted and
 * simply never match an `iot:` request.
 */
import { PolicyError, quoteForMessage } from './errors.js';
import { compileGlob, type Glob } from './glob.js';

/** AWS IoT data-plane actions an IoT policy can grant (AWS: iot-policy-actions.html in the IoT Developer Guide). */
export const IOT_ACTIONS = [
  'iot:Connect',
  'iot:Publish',
  'iot:Subscribe',
  'iot:Receive',
  'iot:RetainPublish',
  'iot:GetRetainedMessage',
  'iot:ListRetainedMessages',
  'iot:GetThingShadow',
  'iot:UpdateThingShadow',
  'iot:DeleteThingShadow',
  'iot:ListNamedShadowsForThing',
  'iot:DescribeJobExecution',
  'iot:GetPendingJobExecutions',
  'iot:UpdateJobExecution',
  'iot:StartNextPendingJobExecution',
  'iot:AssumeRoleWithCertificate',
] as const;

/** One of {@link IOT_ACTIONS}. */
export type IotAction = (typeof IOT_ACTIONS)[number];

const KNOWN_LOWER = new Set<string>(IOT_ACTIONS.map((a) => a.toLowerCase()));
const ACTION_SYNTAX = /^(?:\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?]+)$/;

/** A compiled `Action` entry. `matches` takes the request action already lower-cased. */
export class ActionPattern {
  private readonly glob: Glob;

  /**
   * @param source the entry as written
   * @param path where it is, for errors
   * @param warn receives a warning for an unknown `iot:` action
   */
  constructor(
    readonly source: string,
    path: string,
    warn?: (message: string) => void,
  ) {
    if (!ACTION_SYNTAX.test(source)) {
      throw new PolicyError(path, `${quoteForMessage(source)} is not an action (expected "*" or "service:Action", e.g. "iot:Publish")`);
    }
    const lower = source.toLowerCase();
    if (warn !== undefined && lower.startsWith('iot:') && !/[*?]/.test(lower) && !KNOWN_LOWER.has(lower)) {
      warn(`${path}: ${quoteForMessage(source)} is not an AWS IoT data-plane action; it never matches a device request`);
    }
    this.glob = compileGlob(lower, { wildcards: true, variables: false });
  }

  /** Whether the pattern covers `actionLower` (a lower-cased request action). */
  matches(actionLower: string): boolean {
    return this.glob.match(actionLower, EMPTY);
  }
}

const EMPTY = Object.freeze({});
