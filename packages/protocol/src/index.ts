/**
 * @fleetprov/protocol — the AWS IoT Fleet Provisioning MQTT wire protocol
 * shared by the fleetprov server and device: topics, payload types, JSON/CBOR
 * codecs, request/response validation, error codes and MQTT limits. No I/O.
 */

export * from './limits.js';
export * from './errors.js';
export * from './payloads.js';
export * from './topics.js';
export * from './codec.js';
export * from './requests.js';
export * from './responses.js';
export * from './rotation.js';
export { coerceToString, type StringMapLimits } from './string-map.js';
export { FORBIDDEN_KEYS, isForbiddenKey, type FieldPath } from './wire-guards.js';
