/**
 * Which kind of provisioning template a body is, for tools that validate a file without being told
 * (`fleetprov template validate`). A JITP template reads the device certificate's subject through
 * the special parameters `AWS::IoT::Certificate::CommonName`, `::SerialNumber`, `::Country`… (see
 * {@link SUBJECT_PARAMETERS}), which AWS provides to JITP templates only; `AWS::IoT::Certificate::Id`
 * is provided to both kinds and so says nothing. Pure: text in, answer out.
 */
import { isObject, keysOf, own } from './json.js';
import { SUBJECT_PARAMETERS } from './parameters.js';
import type { TemplateType } from './types.js';

/** The kind a template body looks like and why. */
export interface DetectedTemplateType {
  type: TemplateType;
  /** The JITP-only parameter that decided it, or null when nothing marks the body as JITP. */
  evidence: string | null;
}

/**
 * `JITP` when the body declares (or, failing that, mentions anywhere, as in a `Ref` or `Fn::Sub`) a
 * JITP-only certificate-subject parameter; else `FLEET_PROVISIONING`. A body that is not JSON is
 * `FLEET_PROVISIONING` (the parser reports the JSON error).
 */
export function detectTemplateType(body: string): DetectedTemplateType {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { type: 'FLEET_PROVISIONING', evidence: null };
  }
  const parameters = isObject(parsed) ? own(parsed, 'Parameters') : undefined;
  if (isObject(parameters)) {
    const declared = keysOf(parameters).find((name) => SUBJECT_PARAMETERS.has(name));
    if (declared !== undefined) return { type: 'JITP', evidence: declared };
  }
  for (const name of SUBJECT_PARAMETERS.keys()) {
    // Followed by a character that cannot continue the name: `…::Country` is not `…::CountryCode`.
    if (new RegExp(`${name}(?![A-Za-z0-9])`).test(body)) return { type: 'JITP', evidence: name };
  }
  return { type: 'FLEET_PROVISIONING', evidence: null };
}
