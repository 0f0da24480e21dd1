/**
 * Errors of the metrics and health module.
 */

/** Codes of {@link MetricsError}. */
export type MetricsErrorCode = 'InvalidOption';

/** A bad option given to the metrics or health setup. */
export class MetricsError extends Error {
  /** Why it failed. */
  readonly code: MetricsErrorCode;
  /** The option at fault, e.g. `metricsToken`. */
  readonly path: string;

  constructor(code: MetricsErrorCode, path: string, message: string) {
    super(message);
    this.name = 'MetricsError';
    this.code = code;
    this.path = path;
  }
}
