/**
 * A small CBOR (RFC 8949) encoder for the protocol's payloads: maps with text keys, text strings,
 * integers, floats, booleans, null and arrays, all definite-length. Written here (like the decoder)
 * so that the device client's dependency tree has no native addon: cbor-x pulls in `cbor-extract`,
 * a node-gyp addon, as an optional dependency.
 */
import type { WireValue } from './payloads.js';

/** Deepest nesting the encoder writes (the decoder enforces the protocol's much smaller limit). */
const MAX_ENCODE_DEPTH = 512;

/** Appends a CBOR head (major type + argument) to `out`. */
function head(out: number[], major: number, value: number): void {
  const m = major << 5;
  if (value < 24) out.push(m | value);
  else if (value < 0x100) out.push(m | 24, value);
  else if (value < 0x10000) out.push(m | 25, value >> 8, value & 0xff);
  else if (value < 0x100000000) out.push(m | 26, (value >>> 24) & 0xff, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff);
  else {
    const hi = Math.floor(value / 0x100000000);
    const lo = value >>> 0;
    out.push(
      m | 27,
      (hi >>> 24) & 0xff,
      (hi >> 16) & 0xff,
      (hi >> 8) & 0xff,
      hi & 0xff,
      (lo >>> 24) & 0xff,
      (lo >> 16) & 0xff,
      (lo >> 8) & 0xff,
      lo & 0xff,
    );
  }
}

function text(out: number[], s: string): void {
  const bytes = Buffer.from(s, 'utf8');
  head(out, 3, bytes.length);
  for (const b of bytes) out.push(b);
}

function encodeValue(out: number[], value: WireValue, depth: number): void {
  if (depth > MAX_ENCODE_DEPTH) throw new TypeError(`nesting deeper than ${MAX_ENCODE_DEPTH}`);
  if (value === null) {
    out.push(0xf6);
  } else if (value === true) {
    out.push(0xf5);
  } else if (value === false) {
    out.push(0xf4);
  } else if (typeof value === 'string') {
    text(out, value);
  } else if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) {
      if (value >= 0) head(out, 0, value);
      else head(out, 1, -1 - value);
    } else if (Number.isFinite(value)) {
      const buf = Buffer.alloc(8);
      buf.writeDoubleBE(value);
      out.push(0xfb, ...buf);
    } else {
      throw new TypeError(`cannot encode ${value} as CBOR`);
    }
  } else if (Array.isArray(value)) {
    head(out, 4, value.length);
    for (const item of value) encodeValue(out, item, depth + 1);
  } else if (typeof value === 'object') {
    const keys = Object.keys(value);
    head(out, 5, keys.length);
    for (const key of keys) {
      text(out, key);
      encodeValue(out, value[key]!, depth + 1);
    }
  } else {
    throw new TypeError(`cannot encode ${typeof value} as CBOR`);
  }
}

/** Encodes a wire value as definite-length CBOR. @throws {TypeError} for values CBOR payloads never carry */
export function encodeCbor(value: WireValue): Buffer {
  const out: number[] = [];
  encodeValue(out, value, 0);
  return Buffer.from(out);
}
