/** Why a template was rejected or could not be evaluated. */
export type TemplateErrorCode =
  /** The template body is malformed (parse time). */
  | 'InvalidTemplate'
  /** A referenced parameter has no value and no Default, or the certificate lacks a declared subject field. */
  | 'MissingParameter'
  /** Evaluation produced an unusable value (bad Fn::Select index, invalid thing name, size limit...). */
  | 'EvaluationError'
  /** An `OverrideSettings` value of `FAIL` hit an existing resource whose value differs. */
  | 'ResourceConflict';

/**
 * The only error the template engine throws for bad templates or bad inputs.
 * `message` is `"<path>: <detail>"` (or just the detail when the problem has no location).
 */
export class TemplateError extends Error {
  /** Machine-readable reason. */
  readonly code: TemplateErrorCode;
  /** Location in the template, e.g. `Resources.thing.Properties.ThingName`; `''` for the whole body. */
  readonly path: string;
  /** For `MissingParameter`: the parameter the device must send (or the certificate must provide). */
  readonly parameter: string | undefined;

  /**
   * @param code machine-readable reason
   * @param path location in the template (`''` for the whole body)
   * @param detail human-readable explanation without the path
   * @param parameter for `MissingParameter`, the parameter's name
   */
  constructor(code: TemplateErrorCode, path: string, detail: string, parameter?: string) {
    super(path === '' ? detail : `${path}: ${detail}`);
    this.name = 'TemplateError';
    this.code = code;
    this.path = path;
    this.parameter = parameter;
  }
}

/** Shorthand for a parse-time error. */
export function invalid(path: string, detail: string): TemplateError {
  return new TemplateError('InvalidTemplate', path, detail);
}

/** Shorthand for an evaluation-time error. */
export function evaluationError(path: string, detail: string): TemplateError {
  return new TemplateError('EvaluationError', path, detail);
}
