/**
 * The 18 Fleet Provisioning topics (https://docs.aws.amazon.com/iot/latest/developerguide/fleet-provision-api.html): builders, an exact parser and
 * the prefix constants of AWS's embedded C library (`fleet_provisioning.h`).
 */

import { TopicArgumentError } from './errors.js';
import { isValidTemplateName, MAX_TEMPLATE_NAME_CHARS } from './limits.js';

export { isValidTemplateName } from './limits.js';

/** Payload encoding, chosen by the topic's format level. */
export type PayloadFormat = 'json' | 'cbor';

/** The three provisioning operations. */
export type Operation = 'CreateKeysAndCertificate' | 'CreateCertificateFromCsr' | 'RegisterThing';

/** Which reply topic a response is published to. */
export type ReplyKind = 'accepted' | 'rejected';

/** Role of a provisioning topic: the request a device publishes or one of its two reply topics. */
export type TopicKind = 'request' | ReplyKind;

/** Both payload formats. */
export const PAYLOAD_FORMATS: readonly PayloadFormat[] = Object.freeze(['json', 'cbor']);

/** All three operations, in flow order. */
export const OPERATIONS: readonly Operation[] = Object.freeze(['CreateKeysAndCertificate', 'CreateCertificateFromCsr', 'RegisterThing']);

/** Both reply kinds. */
export const REPLY_KINDS: readonly ReplyKind[] = Object.freeze(['accepted', 'rejected']);

/** Root of the certificate topics; everything below it is reserved. */
export const CERTIFICATES_TOPIC_ROOT = '$aws/certificates/';

/** Root of the RegisterThing topics; everything below it is reserved. */
export const PROVISIONING_TEMPLATES_TOPIC_ROOT = '$aws/provisioning-templates/';

/** Prefix of the CreateKeysAndCertificate topics (`FP_CREATE_CERT_API_PREFIX`). */
export const CREATE_KEYS_AND_CERTIFICATE_TOPIC_PREFIX = '$aws/certificates/create/';

/** Prefix of the CreateCertificateFromCsr topics (`FP_CREATE_CSR_API_PREFIX`). */
export const CREATE_CERTIFICATE_FROM_CSR_TOPIC_PREFIX = '$aws/certificates/create-from-csr/';

/** Prefix of the RegisterThing topics, followed by the template name (`FP_REGISTER_API_PREFIX`). */
export const REGISTER_THING_TOPIC_PREFIX = PROVISIONING_TEMPLATES_TOPIC_ROOT;

/** Level between the template name and the format in RegisterThing topics (`FP_REGISTER_API_BRIDGE`). */
export const REGISTER_THING_TOPIC_BRIDGE = '/provision/';

/** Suffix of the accepted reply topics (`FP_API_ACCEPTED_SUFFIX`). */
export const ACCEPTED_SUFFIX = '/accepted';

/** Suffix of the rejected reply topics (`FP_API_REJECTED_SUFFIX`). */
export const REJECTED_SUFFIX = '/rejected';

/** A parsed CreateKeysAndCertificate or CreateCertificateFromCsr topic. */
export interface CertificateTopic {
  operation: 'CreateKeysAndCertificate' | 'CreateCertificateFromCsr';
  format: PayloadFormat;
  kind: TopicKind;
}

/** A parsed RegisterThing topic; it always names a template. */
export interface RegisterThingTopic {
  operation: 'RegisterThing';
  format: PayloadFormat;
  kind: TopicKind;
  templateName: string;
}

/** Result of {@link parseTopic}. */
export type ParsedTopic = CertificateTopic | RegisterThingTopic;

function assertFormat(format: unknown): asserts format is PayloadFormat {
  if (format !== 'json' && format !== 'cbor') {
    throw new TopicArgumentError(`payload format must be "json" or "cbor"; got ${describe(format)}`);
  }
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 64)) : typeof value;
}

function operationBase(op: Operation, templateName: string | undefined): string {
  switch (op) {
    case 'CreateKeysAndCertificate':
      return CREATE_KEYS_AND_CERTIFICATE_TOPIC_PREFIX;
    case 'CreateCertificateFromCsr':
      return CREATE_CERTIFICATE_FROM_CSR_TOPIC_PREFIX;
    case 'RegisterThing':
      if (!isValidTemplateName(templateName)) {
        throw new TopicArgumentError(
          `RegisterThing topics need a template name matching ^[0-9A-Za-z_-]+$ with 1-${MAX_TEMPLATE_NAME_CHARS} characters; got ${describe(templateName)}`,
        );
      }
      return REGISTER_THING_TOPIC_PREFIX + templateName + REGISTER_THING_TOPIC_BRIDGE;
    default:
      throw new TopicArgumentError(`unknown provisioning operation ${describe(op)}`);
  }
}

/**
 * Topic a device publishes a request to, e.g. `$aws/certificates/create/json`.
 *
 * @param templateName required (and validated) for `RegisterThing`; ignored otherwise.
 * @throws {TopicArgumentError} on an unknown operation or format, or a bad template name.
 */
export function requestTopic(op: Operation, format: PayloadFormat, templateName?: string): string {
  assertFormat(format);
  return operationBase(op, templateName) + format;
}

/**
 * Topic the service publishes a reply to, e.g. `$aws/certificates/create/json/accepted`.
 *
 * @param templateName required (and validated) for `RegisterThing`; ignored otherwise.
 * @throws {TopicArgumentError} on an unknown operation, format or kind, or a bad template name.
 */
export function replyTopic(op: Operation, format: PayloadFormat, kind: ReplyKind, templateName?: string): string {
  if (kind !== 'accepted' && kind !== 'rejected') {
    throw new TopicArgumentError(`reply kind must be "accepted" or "rejected"; got ${describe(kind)}`);
  }
  return requestTopic(op, format, templateName) + (kind === 'accepted' ? ACCEPTED_SUFFIX : REJECTED_SUFFIX);
}

/**
 * The two reply topics a device subscribes to before publishing a request:
 * `[accepted, rejected]`.
 *
 * @throws {TopicArgumentError} as {@link replyTopic}.
 */
export function subscriptionTopics(op: Operation, format: PayloadFormat, templateName?: string): [string, string] {
  return [replyTopic(op, format, 'accepted', templateName), replyTopic(op, format, 'rejected', templateName)];
}

/**
 * All 18 provisioning topics for one template: for each operation and format,
 * the request topic followed by its accepted and rejected topics.
 *
 * @throws {TopicArgumentError} on an invalid template name.
 */
export function allTopics(templateName: string): string[] {
  const topics: string[] = [];
  for (const op of OPERATIONS) {
    for (const format of PAYLOAD_FORMATS) {
      topics.push(requestTopic(op, format, templateName), ...subscriptionTopics(op, format, templateName));
    }
  }
  return topics;
}

function parseFormatAndKind(levels: readonly string[]): { format: PayloadFormat; kind: TopicKind } | null {
  const [format, kind, ...extra] = levels;
  if (extra.length > 0) return null;
  if (format !== 'json' && format !== 'cbor') return null;
  if (kind === undefined) return { format, kind: 'request' };
  if (kind === 'accepted' || kind === 'rejected') return { format, kind };
  return null;
}

/**
 * Recognises exactly the provisioning topics. Returns `null` for anything
 * else: other `$aws/...` topics, wildcards, an invalid template name, a wrong
 * format, extra or missing levels, a trailing slash.
 */
export function parseTopic(topic: string): ParsedTopic | null {
  if (typeof topic !== 'string') return null;
  if (topic.startsWith(CERTIFICATES_TOPIC_ROOT)) {
    const [action, ...rest] = topic.slice(CERTIFICATES_TOPIC_ROOT.length).split('/');
    let operation: CertificateTopic['operation'];
    if (action === 'create') operation = 'CreateKeysAndCertificate';
    else if (action === 'create-from-csr') operation = 'CreateCertificateFromCsr';
    else return null;
    const tail = parseFormatAndKind(rest);
    return tail === null ? null : { operation, format: tail.format, kind: tail.kind };
  }
  if (topic.startsWith(PROVISIONING_TEMPLATES_TOPIC_ROOT)) {
    const [templateName, bridge, ...rest] = topic.slice(PROVISIONING_TEMPLATES_TOPIC_ROOT.length).split('/');
    if (!isValidTemplateName(templateName) || bridge !== 'provision') return null;
    const tail = parseFormatAndKind(rest);
    return tail === null ? null : { operation: 'RegisterThing', format: tail.format, kind: tail.kind, templateName };
  }
  return null;
}

/**
 * True for any topic or topic filter under the reserved provisioning roots
 * `$aws/certificates/` and `$aws/provisioning-templates/` (or equal to a root
 * without its trailing slash), whether or not it
 * is one of the 18 valid topics. Brokers use this to keep such topics away
 * from ordinary publish/subscribe.
 */
export function isProvisioningTopic(topic: string): boolean {
  return (
    typeof topic === 'string' &&
    (topic.startsWith(CERTIFICATES_TOPIC_ROOT) ||
      topic.startsWith(PROVISIONING_TEMPLATES_TOPIC_ROOT) ||
      topic === CERTIFICATES_TOPIC_ROOT.slice(0, -1) ||
      topic === PROVISIONING_TEMPLATES_TOPIC_ROOT.slice(0, -1))
  );
}
