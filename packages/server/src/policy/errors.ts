/**
 * The one error type of the policy engine.
 */

/** Thrown for a policy document that is not valid (`code` is always `MalformedPolicy`). */
export class PolicyError extends Error {
  /** Machine-readable code, as AWS names the matching exception (`MalformedPolicyException`). */
  readonly code = 'MalformedPolicy' as const;
  /** Where in the document the problem is, e.g. `Statement[1].Effect`; `''` for the whole document. */
  readonly path: string;
  /** The policy the document belongs to, when known (set by the compile paths). */
  readonly policyName: string | undefined;
  /** The message without its location prefix. */
  readonly detail: string;

  /**
   * @param path location in the document (`''` for the document itself)
   * @param detail what is wrong, e.g. `must be "Allow" or "Deny"`
   * @param policyName the policy's name when known
   */
  constructor(path: string, detail: string, policyName?: string) {
    const where = path === '' ? 'document' : path;
    super(policyName === undefined ? `${where}: ${detail}` : `policy "${policyName}": ${where}: ${detail}`);
    this.name = 'PolicyError';
    this.path = path;
    this.policyName = policyName;
    this.detail = detail;
  }
}

/** Shortens a user-supplied string for use in an error message. */
export function quoteForMessage(value: string, max = 64): string {
  const s = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(s);
}

/** Appends an object key to a path: `a.Key` for identifiers, `a["odd key"]` otherwise. */
export function keyPath(base: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return base === '' ? key : `${base}.${key}`;
  return `${base}[${quoteForMessage(key)}]`;
}

/** The same error, attributed to a policy name. */
export function withPolicyName(err: PolicyError, policyName: string): PolicyError {
  return new PolicyError(err.path, err.detail, policyName);
}
