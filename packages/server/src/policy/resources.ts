/**
 * `Resource` / `NotResource` entries. An entry is `*` or an ARN
 * `arn:<partition>:<service>:<region>:<account>:<type>/<name>`. fleetprov ignores the
 * partition, region and account (any value matches: one server, any placeholder); the service
 * must match `iot`; the `<type>/<name>` part is a wildcard pattern with variables, matched
 * against the request resource (`topic/a/b`, `topicfilter/a/+/b`, `client/id`, `thing/name`...).
 */
import { PolicyError, quoteForMessage } from './errors.js';
import { compileGlob, Glob, tokenize, unknownVariables } from './glob.js';
import type { PolicyContext } from './types.js';

const NO_CONTEXT: PolicyContext = Object.freeze({});

/**
 * Splits at the first `count` colons that are not inside `${...}`. Returns `count + 1` parts,
 * or fewer when the text has fewer colons.
 */
export function splitArn(text: string, count = 5): string[] {
  const parts: string[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length && parts.length < count) {
    const c = text.charCodeAt(i);
    if (c === 36 /* $ */ && text.charCodeAt(i + 1) === 123 /* { */) {
      const close = text.indexOf('}', i + 2);
      if (close >= 0) {
        i = close + 1;
        continue;
      }
    }
    if (c === 58 /* : */) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  parts.push(text.slice(start));
  return parts;
}

/** A compiled Resource entry. */
export class ResourceEntry {
  /** `null` when the entry can never match an IoT request (another service's ARN). */
  private readonly glob: Glob | null;

  /**
   * @param source the entry as written
   * @param path where it is, for errors
   * @param variables whether `${...}` are variables (Version 2012-10-17)
   * @param warn receives warnings (unknown variables)
   */
  constructor(
    readonly source: string,
    path: string,
    variables: boolean,
    warn?: (message: string) => void,
  ) {
    if (source === '*') {
      this.glob = compileGlob('*', { wildcards: true, variables: false });
      return;
    }
    const parts = splitArn(source);
    if (parts.length !== 6 || parts[0] !== 'arn' || parts[1] === '' || parts[2] === '' || parts[5] === '') {
      throw new PolicyError(path, `${quoteForMessage(source)} must be "*" or an ARN "arn:aws:iot:<region>:<account>:<type>/<name>"`);
    }
    const service = compileGlob(parts[2] as string, { wildcards: true, variables: false });
    if (!service.match('iot', NO_CONTEXT)) {
      this.glob = null;
      return;
    }
    const tokens = tokenize(parts[5] as string, { wildcards: true, variables });
    if (warn !== undefined) {
      for (const name of unknownVariables(tokens)) {
        warn(`${path}: unknown policy variable \${${name.length > 64 ? `${name.slice(0, 64)}…` : name}}; the entry never matches`);
      }
    }
    this.glob = new Glob(tokens);
  }

  /** Whether the entry can match some IoT request. */
  get usable(): boolean {
    return this.glob !== null && !this.glob.matchesNothing;
  }

  /** The `resourceIndexKey` of every resource the entry matches, or `null` if they vary. */
  get indexKey(): string | null {
    return this.glob === null ? null : this.glob.indexKey;
  }

  /** Whether the entry matches every resource (`*`, `arn:aws:iot:*:*:*`...). */
  get matchesEverything(): boolean {
    return this.glob !== null && this.glob.matchesEverything;
  }

  /** Whether the entry covers `resource` (resource-type form, e.g. `topic/a/b`). */
  match(resource: string, ctx: PolicyContext): boolean {
    return this.glob !== null && this.glob.match(resource, ctx);
  }
}
