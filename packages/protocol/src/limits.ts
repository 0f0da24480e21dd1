/**
 * AWS IoT Core limits that the provisioning protocol and the broker enforce
 * (AWS IoT Core quotas,
 * https://docs.aws.amazon.com/general/latest/gr/iot-core.html, and the MQTT notes of
 * https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html), plus a few fleetprov-chosen bounds for untrusted input.
 *
 * Lengths called "chars" are JavaScript string lengths (UTF-16 code units,
 * like Java's `String.length` on the AWS side); lengths called "bytes" are
 * UTF-8 byte counts.
 */

// ---------------------------------------------------------------- MQTT broker

/** Largest PUBLISH payload AWS IoT accepts: 128 KB. */
export const MAX_PAYLOAD_BYTES = 131_072;

/** Longest MQTT client id, in UTF-8 bytes. */
export const MAX_CLIENT_ID_BYTES = 128;

/** Longest topic name, in UTF-8 bytes. */
export const MAX_TOPIC_BYTES = 256;

/** Most levels in a topic name (7 slashes); the `$aws/rules/<rule>/` prefix is not counted. */
export const MAX_TOPIC_LEVELS = 8;

/** Prefix of Basic Ingest topics; it and the rule name after it do not count towards {@link MAX_TOPIC_LEVELS}. */
export const RULES_TOPIC_PREFIX = '$aws/rules/';

/** Smallest keep-alive interval the broker honours, in seconds (1–29 are raised to this). */
export const KEEPALIVE_MIN_SECONDS = 30;

/** Largest keep-alive interval the broker honours, in seconds. */
export const KEEPALIVE_MAX_SECONDS = 1200;

/** Keep-alive used when the client asks for 0 or for more than {@link KEEPALIVE_MAX_SECONDS}. */
export const KEEPALIVE_DEFAULT_SECONDS = 1200;

/** A client is dropped after this many keep-alive intervals without traffic. */
export const KEEPALIVE_TIMEOUT_FACTOR = 1.5;

/** Most topic filters in one SUBSCRIBE packet. */
export const MAX_TOPIC_FILTERS_PER_SUBSCRIBE = 8;

/** Most subscriptions per connection. */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 50;

/** Most publishes (in + out) per second per connection; excess is dropped. */
export const MAX_PUBLISHES_PER_SECOND_PER_CONNECTION = 100;

/** Most unacknowledged QoS 1 messages per direction per connection. */
export const MAX_INFLIGHT_QOS1_MESSAGES = 100;

/** Most CONNECT requests per second for one client id. */
export const MAX_CONNECTS_PER_SECOND_PER_CLIENT_ID = 1;

// ---------------------------------------------------------- fleet provisioning

/** Longest provisioning template name. */
export const MAX_TEMPLATE_NAME_CHARS = 36;

/** Valid provisioning template name (1–36 chars; length checked separately). */
export const TEMPLATE_NAME_PATTERN = /^[0-9A-Za-z_-]+$/;

/** Longest provisioning template body (`templateBody`). */
export const MAX_TEMPLATE_BODY_CHARS = 10_240;

/** Longest PEM certificate signing request accepted by CreateCertificateFromCsr. */
export const MAX_CSR_CHARS = 4096;

/** Longest RegisterThing parameter name. */
export const MAX_PARAMETER_KEY_CHARS = 2048;

/** Longest RegisterThing parameter value (after coercion to a string). */
export const MAX_PARAMETER_VALUE_CHARS = 4096;

/** Most entries in RegisterThing `parameters` (fleetprov's bound; AWS states none). */
export const MAX_REGISTER_THING_PARAMETERS = 1000;

/** Deepest nesting of arrays/maps accepted in any provisioning payload (fleetprov's bound). */
export const MAX_NESTING_DEPTH = 32;

/** Lifetime of a certificate ownership token: 1 hour. */
export const TOKEN_LIFETIME_MS = 3_600_000;

/** Time a pre-provisioning hook may take before the request is denied: 5 s. */
export const HOOK_TIMEOUT_MS = 5000;

/** Lifetime of a temporary claim certificate from CreateProvisioningClaim: 5 minutes. */
export const TEMPORARY_CLAIM_LIFETIME_MS = 300_000;

// ------------------------------------------------------------------ registry

/** Longest thing name. */
export const MAX_THING_NAME_CHARS = 128;

/** Valid thing name (1–128 chars; length checked separately). */
export const THING_NAME_PATTERN = /^[a-zA-Z0-9:_-]+$/;

/** Length of a certificate id (hex SHA-256 of the certificate's DER). */
export const CERTIFICATE_ID_CHARS = 64;

/** Valid certificate id: 64 hex digits (fleetprov issues lowercase). */
export const CERTIFICATE_ID_PATTERN = /^[0-9a-fA-F]{64}$/;

/** Longest IoT policy document, excluding whitespace. */
export const MAX_POLICY_DOCUMENT_CHARS = 2048;

/** Most IoT policies attached to one certificate. */
export const MAX_POLICIES_PER_CERTIFICATE = 10;

/** Most versions kept for a named IoT policy. */
export const MAX_POLICY_VERSIONS = 5;

// ------------------------------------------------------------------- helpers

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `value` contains an unpaired UTF-16 surrogate, i.e. is not encodable as UTF-8. */
export function hasLoneSurrogate(value: string): boolean {
  return LONE_SURROGATE.test(value);
}

/** True when `name` is a valid provisioning template name (`^[0-9A-Za-z_-]+$`, 1–36 chars). */
export function isValidTemplateName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= MAX_TEMPLATE_NAME_CHARS && TEMPLATE_NAME_PATTERN.test(name);
}

/** True when `name` is a valid thing name (`[a-zA-Z0-9:_-]+`, 1–128 chars). */
export function isValidThingName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= MAX_THING_NAME_CHARS && THING_NAME_PATTERN.test(name);
}

/** True when `id` is a 64-hex-digit certificate id. */
export function isValidCertificateId(id: unknown): id is string {
  return typeof id === 'string' && CERTIFICATE_ID_PATTERN.test(id);
}

/**
 * Checks an MQTT topic *name* (not a filter) against AWS IoT's limits.
 *
 * Rejects: empty names, more than {@link MAX_TOPIC_BYTES} UTF-8 bytes, more
 * than {@link MAX_TOPIC_LEVELS} levels (a leading `$aws/rules/<rule>/` is not
 * counted), the wildcards `+` and `#`, U+0000 and unpaired surrogates.
 * Whether a reserved `$` topic may be used is the broker's policy, not checked here.
 *
 * @returns a human-readable reason when the topic is invalid, otherwise `null`.
 */
export function checkTopicName(topic: string): string | null {
  if (typeof topic !== 'string') return 'topic must be a string';
  if (topic.length === 0) return 'topic must not be empty';
  if (hasLoneSurrogate(topic)) return 'topic is not valid UTF-8';
  if (topic.includes('\u0000')) return 'topic must not contain U+0000';
  if (topic.includes('+') || topic.includes('#')) return 'topic name must not contain the wildcards + or #';
  const bytes = Buffer.byteLength(topic, 'utf8');
  if (bytes > MAX_TOPIC_BYTES) return `topic is ${bytes} bytes; the maximum is ${MAX_TOPIC_BYTES}`;
  let counted = topic;
  if (topic.startsWith(RULES_TOPIC_PREFIX)) {
    const ruleEnd = topic.indexOf('/', RULES_TOPIC_PREFIX.length);
    counted = ruleEnd === -1 ? '' : topic.slice(ruleEnd + 1);
  }
  const levels = counted.split('/').length;
  if (levels > MAX_TOPIC_LEVELS) {
    return `topic has ${levels} levels (${levels - 1} slashes); the maximum is ${MAX_TOPIC_LEVELS} (${MAX_TOPIC_LEVELS - 1} slashes)`;
  }
  return null;
}

/**
 * Checks an MQTT client id against AWS IoT's limits: non-empty, at most
 * {@link MAX_CLIENT_ID_BYTES} UTF-8 bytes, valid UTF-8 without U+0000, and not
 * starting with `$` (reserved for AWS-generated ids).
 *
 * @returns a human-readable reason when the id is invalid, otherwise `null`.
 */
export function checkClientId(id: string): string | null {
  if (typeof id !== 'string') return 'client id must be a string';
  if (id.length === 0) return 'client id must not be empty';
  if (hasLoneSurrogate(id)) return 'client id is not valid UTF-8';
  if (id.includes('\u0000')) return 'client id must not contain U+0000';
  const bytes = Buffer.byteLength(id, 'utf8');
  if (bytes > MAX_CLIENT_ID_BYTES) return `client id is ${bytes} bytes; the maximum is ${MAX_CLIENT_ID_BYTES}`;
  if (id.startsWith('$')) return 'client ids starting with $ are reserved';
  return null;
}

/**
 * The keep-alive interval the broker actually applies for a requested one
 * (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html): 0 → 1200, above 1200 → 1200, 1–29 → 30, otherwise unchanged.
 * Fractions are rounded down; negative or non-finite values get the default.
 */
export function normalizeKeepAlive(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds < 0) return KEEPALIVE_DEFAULT_SECONDS;
  const whole = Math.floor(seconds);
  if (whole === 0 || whole > KEEPALIVE_MAX_SECONDS) return KEEPALIVE_DEFAULT_SECONDS;
  if (whole < KEEPALIVE_MIN_SECONDS) return KEEPALIVE_MIN_SECONDS;
  return whole;
}
