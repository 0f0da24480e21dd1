/**
 * Which topics clients may publish to, subscribe to and receive, independent of IoT
 * policies: topic filter limits, MQTT filter matching and AWS's reserved-topic rules
 * (https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html and
 * https://docs.aws.amazon.com/iot/latest/developerguide/topics.html). Pure functions.
 */
import {
  hasLoneSurrogate,
  isProvisioningTopic,
  MAX_TOPIC_BYTES,
  MAX_TOPIC_LEVELS,
  isRotationRequestTopic,
  isRotationServerTopic,
  parseTopic,
  RULES_TOPIC_PREFIX,
  type ParsedTopic,
} from '@fleetprov/protocol';

/** How the broker treats a PUBLISH topic that passed `checkTopicName`. */
export type PublishTopicClass =
  /** An ordinary topic: routed to subscribers. */
  | { kind: 'routed'; reserved: false }
  /** A documented `$aws/things/<thing>/shadow|jobs/...` topic: routed to subscribers like any other. */
  | { kind: 'routed'; reserved: true }
  /** A Fleet Provisioning request topic: handed to its route of the topic router (router.ts), never routed to subscribers. */
  | { kind: 'provisioning-request'; reserved: true; parsed: ParsedTopic }
  /** A request of a fleetprov service extension (rotation acknowledgement): handed to its route of the topic router, never routed to subscribers. */
  | { kind: 'service-request'; reserved: true }
  /** A Basic Ingest topic (`$aws/rules/<rule>/...`): accepted, never routed (fleetprov has no rules engine). */
  | { kind: 'ingest'; reserved: true }
  /** A reserved topic clients may not publish to. */
  | { kind: 'refused'; reason: string };

/** Levels of `$aws/things/<thing>/<service>/...` topics that clients may use like ordinary topics. */
const ROUTED_THING_SERVICES: ReadonlySet<string> = new Set(['shadow', 'jobs']);

/**
 * Classifies a PUBLISH topic name (already valid per `checkTopicName`).
 * Fleet Provisioning reply topics are subscribe-only, request topics publish-only;
 * `$` topics other than the documented ones are refused.
 */
export function classifyPublishTopic(topic: string): PublishTopicClass {
  if (!topic.startsWith('$')) {
    if (isRotationRequestTopic(topic)) return { kind: 'service-request', reserved: true };
    if (isRotationServerTopic(topic))
      return { kind: 'refused', reason: `${topic} is published by the server only (fleetprov rotation extension)` };
    return { kind: 'routed', reserved: false };
  }
  if (isProvisioningTopic(topic)) {
    const parsed = parseTopic(topic);
    if (parsed === null) return { kind: 'refused', reason: `${topic} is a reserved topic but not a Fleet Provisioning request topic` };
    if (parsed.kind !== 'request') {
      return { kind: 'refused', reason: `${topic} is a Fleet Provisioning ${parsed.kind} topic; clients may only subscribe to it` };
    }
    return { kind: 'provisioning-request', reserved: true, parsed };
  }
  if (topic.startsWith(RULES_TOPIC_PREFIX)) {
    const rest = topic.slice(RULES_TOPIC_PREFIX.length);
    const slash = rest.indexOf('/');
    if (slash <= 0 || slash === rest.length - 1) {
      return { kind: 'refused', reason: `${topic} is not a Basic Ingest topic ($aws/rules/<rule>/<topic>)` };
    }
    return { kind: 'ingest', reserved: true };
  }
  const levels = topic.split('/');
  if (
    levels[0] === '$aws' &&
    levels[1] === 'things' &&
    levels.length >= 5 &&
    levels[2] !== '' &&
    ROUTED_THING_SERVICES.has(levels[3] ?? '')
  ) {
    return { kind: 'routed', reserved: true };
  }
  return { kind: 'refused', reason: `${topic} is a reserved topic clients may not publish to` };
}

/**
 * Checks a SUBSCRIBE topic filter against AWS's limits: at most {@link MAX_TOPIC_BYTES}
 * UTF-8 bytes and {@link MAX_TOPIC_LEVELS} levels, valid UTF-8 without U+0000, and
 * wildcards only as whole levels (`#` last).
 *
 * @returns a human-readable reason when the filter is invalid, otherwise `null`.
 */
export function checkTopicFilter(filter: string): string | null {
  if (typeof filter !== 'string') return 'topic filter must be a string';
  if (filter.length === 0) return 'topic filter must not be empty';
  if (hasLoneSurrogate(filter)) return 'topic filter is not valid UTF-8';
  if (filter.includes('\u0000')) return 'topic filter must not contain U+0000';
  const bytes = Buffer.byteLength(filter, 'utf8');
  if (bytes > MAX_TOPIC_BYTES) return `topic filter is ${bytes} bytes; the maximum is ${MAX_TOPIC_BYTES}`;
  const levels = filter.split('/');
  if (levels.length > MAX_TOPIC_LEVELS) {
    return `topic filter has ${levels.length} levels; the maximum is ${MAX_TOPIC_LEVELS}`;
  }
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level === '#' && i !== levels.length - 1) return '# is only allowed as the last level of a topic filter';
    if (level !== '#' && level !== '+' && (level.includes('#') || level.includes('+'))) {
      return 'wildcards + and # must occupy a whole topic level';
    }
  }
  return null;
}

/** True when `filter` contains an MQTT wildcard level. */
export function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

/**
 * Reserved-topic rules for a SUBSCRIBE filter (already valid per {@link checkTopicFilter}).
 * Allowed `$` filters: anything under `$aws/things/` and `$aws/events/`, Fleet Provisioning
 * reply topics (request topics are publish-only) and filters with a wildcard at the second
 * level of `$aws`. Refused: `$aws/rules/...` (publish-only), other `$` topics such as `$SYS`.
 *
 * @returns a human-readable reason when the filter may not be subscribed to, otherwise `null`.
 */
export function checkSubscribeReserved(filter: string): string | null {
  if (!filter.startsWith('$')) return null;
  const levels = filter.split('/');
  if (levels[0] !== '$aws') return `${filter} is a reserved topic filter clients may not subscribe to`;
  const service = levels[1];
  switch (service) {
    case 'things':
    case 'events':
    case '+':
    case '#':
      return null;
    case 'certificates':
    case 'provisioning-templates': {
      if (hasWildcard(filter)) return null;
      const parsed = parseTopic(filter);
      if (parsed === null) return `${filter} is a reserved topic but not a Fleet Provisioning reply topic`;
      if (parsed.kind === 'request') return `${filter} is a Fleet Provisioning request topic; clients may only publish to it`;
      return null;
    }
    case 'rules':
      return `${filter} is a Basic Ingest topic; clients may only publish to it`;
    default:
      return `${filter} is a reserved topic filter clients may not subscribe to`;
  }
}

/**
 * True when a message on `topic` may be routed to subscribers at all: never for Fleet
 * Provisioning request topics (their replies go to the requester only), Basic Ingest
 * topics or the broker's internal `$SYS` topics.
 */
export function isRoutableTopic(topic: string): boolean {
  if (!topic.startsWith('$')) return !isRotationRequestTopic(topic);
  if (topic.startsWith('$SYS/')) return false;
  if (topic.startsWith(RULES_TOPIC_PREFIX)) return false;
  if (isProvisioningTopic(topic)) {
    const parsed = parseTopic(topic);
    return parsed !== null && parsed.kind !== 'request';
  }
  return true;
}

/**
 * MQTT topic matching: does `filter` match the topic name `topic`? `+` matches one level,
 * a final `#` the parent level and everything below it; a filter starting with a wildcard
 * does not match topics starting with `$` (MQTT 3.1.1 §4.7.2).
 */
export function topicMatchesFilter(topic: string, filter: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const t = topic.split('/');
  const f = filter.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return t.length === f.length;
}
