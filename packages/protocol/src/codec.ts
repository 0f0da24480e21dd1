/**
 * JSON and CBOR payload codecs. Decoding is defensive (size, depth, UTF-8,
 * prototype keys); encoding uses JSON.stringify or the encoder in cbor-encoder.ts.
 */

import { encodeCbor } from './cbor-encoder.js';
import { decodeCbor } from './cbor-decoder.js';
import { ProtocolError } from './errors.js';
import { hasLoneSurrogate, MAX_NESTING_DEPTH, MAX_PAYLOAD_BYTES } from './limits.js';
import type { WireObject, WireValue } from './payloads.js';
import type { PayloadFormat } from './topics.js';
import { formatPath, isForbiddenKey } from './wire-guards.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

// Plain maps with definite, minimal-length headers; no records, no tags.

function invalid(message: string, path: ReadonlyArray<string | number> = []): never {
  const where = formatPath(path);
  if (where === '') throw new ProtocolError('InvalidPayload', message);
  throw new ProtocolError('InvalidPayload', `${message} at ${where}`, { path: where });
}

function assertFormat(format: unknown, code: 'InvalidPayload' | 'InternalFailure'): asserts format is PayloadFormat {
  if (format !== 'json' && format !== 'cbor') {
    throw new ProtocolError(code, `payload format must be "json" or "cbor"; got ${String(format)}`);
  }
}

/** True when a JSON payload is empty or only whitespace (used by lenient parsers). */
export function isBlankPayload(format: PayloadFormat, bytes: Uint8Array): boolean {
  if (bytes.length === 0) return true;
  if (format !== 'json') return false;
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false;
  return true;
}

/** Rejects JSON text nested deeper than `maxDepth` before JSON.parse sees it. */
function checkJsonDepth(text: string, maxDepth: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) invalid(`payload nesting is deeper than ${maxDepth} levels`);
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
}

/** Copies JSON.parse output into null-prototype objects, checking keys and strings. */
function sanitizeJson(value: unknown, path: Array<string | number>): WireValue {
  if (typeof value === 'string') {
    if (hasLoneSurrogate(value)) invalid('string contains an unpaired UTF-16 surrogate escape', path);
    return value;
  }
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) {
    const out: WireValue[] = [];
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      out.push(sanitizeJson(value[i], path));
      path.pop();
    }
    return out;
  }
  const source = value as Record<string, unknown>;
  const out: WireObject = Object.create(null) as WireObject;
  for (const key of Object.keys(source)) {
    if (isForbiddenKey(key)) invalid(`the key "${key}" is not allowed`, path);
    if (hasLoneSurrogate(key)) invalid('key contains an unpaired UTF-16 surrogate escape', path);
    path.push(key);
    out[key] = sanitizeJson(source[key], path);
    path.pop();
  }
  return out;
}

function decodeJson(bytes: Uint8Array): WireValue {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return invalid('JSON payload is not valid UTF-8');
  }
  checkJsonDepth(text, MAX_NESTING_DEPTH);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : 'syntax error';
    return invalid(`payload is not valid JSON: ${reason.slice(0, 200)}`);
  }
  return sanitizeJson(parsed, []);
}

/**
 * Decodes a provisioning payload in the given format.
 *
 * JSON: must be UTF-8 (a leading BOM is ignored), one JSON value with nothing
 * after it. CBOR: exactly one item of the subset described in
 * `cbor-decoder.ts`; indefinite-length strings, arrays and maps are accepted.
 * Maps/objects come back with a null prototype.
 *
 * **Prototype keys are rejected, not dropped:** a payload with a map key
 * `__proto__`, `constructor` or `prototype` at any depth fails.
 *
 * @throws {ProtocolError} `InvalidPayload` when the payload is empty, larger
 *   than {@link MAX_PAYLOAD_BYTES}, nested deeper than
 *   {@link MAX_NESTING_DEPTH}, or malformed as described above.
 */
export function decodePayload(format: PayloadFormat, buf: Uint8Array): unknown {
  return decodeWireValue(format, buf);
}

/** {@link decodePayload} with the precise result type. */
export function decodeWireValue(format: PayloadFormat, buf: Uint8Array): WireValue {
  assertFormat(format, 'InvalidPayload');
  if (!(buf instanceof Uint8Array)) invalid('payload must be bytes');
  if (buf.length > MAX_PAYLOAD_BYTES) {
    invalid(`payload is ${buf.length} bytes; the maximum is ${MAX_PAYLOAD_BYTES}`);
  }
  if (isBlankPayload(format, buf)) invalid('payload is empty');
  return format === 'json' ? decodeJson(buf) : decodeCbor(buf, MAX_NESTING_DEPTH);
}

/**
 * Encodes a value as a JSON or CBOR payload. Objects may have a null
 * prototype. Callers normally use the typed `encode*` functions instead,
 * which validate the shape first.
 *
 * @throws {ProtocolError} `InternalFailure` when the value cannot be encoded
 *   or the result exceeds {@link MAX_PAYLOAD_BYTES}.
 */
export function encodePayload(format: PayloadFormat, value: WireValue): Buffer {
  assertFormat(format, 'InternalFailure');
  let out: Buffer;
  try {
    if (format === 'json') {
      const text: string | undefined = JSON.stringify(value);
      if (text === undefined) throw new TypeError(`cannot encode ${typeof value} as JSON`);
      out = Buffer.from(text, 'utf8');
    } else {
      out = encodeCbor(value);
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ProtocolError('InternalFailure', `cannot encode ${format} payload: ${reason}`, {
      cause: err,
    });
  }
  if (out.length > MAX_PAYLOAD_BYTES) {
    throw new ProtocolError('InternalFailure', `encoded payload is ${out.length} bytes; the maximum is ${MAX_PAYLOAD_BYTES}`);
  }
  return out;
}
