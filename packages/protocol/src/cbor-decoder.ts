/**
 * A strict decoder for the CBOR subset the provisioning API uses (RFC 8949):
 * integers, floats, text strings (definite or chunked/indefinite), arrays,
 * maps with text-string keys, `true`, `false` and `null`.
 *
 * cbor-x is not used for decoding because it rejects indefinite-length text
 * strings (which the embedded C demo says devices may send), does not validate
 * UTF-8 and silently renames `__proto__` keys. Encoding is in cbor-encoder.ts.
 */

import { ProtocolError } from './errors.js';
import type { WireObject, WireValue } from './payloads.js';
import { formatPath, isForbiddenKey } from './wire-guards.js';

const MAJOR_UNSIGNED = 0;
const MAJOR_NEGATIVE = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const MAJOR_TAG = 6;
const INDEFINITE = 31;
const BREAK = 0xff;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Sentinel for an 8-byte argument too large to be a safe JavaScript integer. */
const TOO_LARGE = -1;

class CborReader {
  private pos = 0;
  private readonly view: DataView;
  private readonly path: Array<string | number> = [];

  constructor(
    private readonly bytes: Uint8Array,
    private readonly maxDepth: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  decode(): WireValue {
    const value = this.readItem(0);
    if (this.pos !== this.bytes.length) {
      this.fail(`${this.bytes.length - this.pos} trailing byte(s) after the CBOR item`, []);
    }
    return value;
  }

  private fail(detail: string, path: ReadonlyArray<string | number> = this.path): never {
    const where = formatPath(path);
    throw new ProtocolError('InvalidPayload', `invalid CBOR payload${where === '' ? '' : ` at ${where}`}: ${detail}`, {
      path: where === '' ? undefined : where,
    });
  }

  private remaining(): number {
    return this.bytes.length - this.pos;
  }

  private need(count: number): void {
    if (count > this.remaining()) this.fail('unexpected end of data');
  }

  /** Reads the argument that follows an initial byte with additional information `info` (0–27). */
  private readArgument(info: number): number {
    if (info < 24) return info;
    switch (info) {
      case 24:
        this.need(1);
        return this.bytes[this.pos++] as number;
      case 25: {
        this.need(2);
        const v = this.view.getUint16(this.pos);
        this.pos += 2;
        return v;
      }
      case 26: {
        this.need(4);
        const v = this.view.getUint32(this.pos);
        this.pos += 4;
        return v;
      }
      case 27: {
        this.need(8);
        const hi = this.view.getUint32(this.pos);
        const lo = this.view.getUint32(this.pos + 4);
        this.pos += 8;
        // 2^53 - 1 has hi = 0x1fffff; anything above is not a safe integer.
        return hi > 0x1fffff ? TOO_LARGE : hi * 0x1_0000_0000 + lo;
      }
      default:
        return this.fail(`reserved additional information value ${info}`);
    }
  }

  private readItem(depth: number): WireValue {
    this.need(1);
    const initial = this.bytes[this.pos++] as number;
    const major = initial >> 5;
    const info = initial & 0x1f;

    switch (major) {
      case MAJOR_UNSIGNED:
      case MAJOR_NEGATIVE: {
        if (info === INDEFINITE) return this.fail('integers cannot have indefinite length');
        const n = this.readArgument(info);
        if (n === TOO_LARGE || (major === MAJOR_NEGATIVE && n === Number.MAX_SAFE_INTEGER)) {
          return this.fail('integer is outside the safe range -(2^53-1)..2^53-1');
        }
        return major === MAJOR_UNSIGNED ? n : -1 - n;
      }
      case MAJOR_BYTES:
        return this.fail('byte strings are not allowed; send a text string');
      case MAJOR_TEXT:
        return this.readText(info);
      case MAJOR_ARRAY:
        return this.readArray(info, depth + 1);
      case MAJOR_MAP:
        return this.readMap(info, depth + 1);
      case MAJOR_TAG:
        return this.fail('CBOR tags are not allowed');
      default:
        return this.readSimple(info);
    }
  }

  private readSimple(info: number): WireValue {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return this.fail('undefined is not allowed');
      case 25: {
        this.need(2);
        const half = this.view.getUint16(this.pos);
        this.pos += 2;
        return decodeFloat16(half);
      }
      case 26: {
        this.need(4);
        const v = this.view.getFloat32(this.pos);
        this.pos += 4;
        return v;
      }
      case 27: {
        this.need(8);
        const v = this.view.getFloat64(this.pos);
        this.pos += 8;
        return v;
      }
      case INDEFINITE:
        return this.fail('unexpected break code');
      default:
        return this.fail(`simple value ${info === 24 ? '(one-byte)' : info} is not allowed`);
    }
  }

  private readDefiniteText(length: number): string {
    if (length === TOO_LARGE) this.fail('unexpected end of data');
    this.need(length);
    const chunk = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    try {
      return utf8.decode(chunk);
    } catch {
      return this.fail('text string is not valid UTF-8');
    }
  }

  private readText(info: number): string {
    if (info !== INDEFINITE) return this.readDefiniteText(this.readArgument(info));
    // Indefinite length: a sequence of definite-length text chunks ended by a break.
    let text = '';
    for (;;) {
      this.need(1);
      const initial = this.bytes[this.pos++] as number;
      if (initial === BREAK) return text;
      if (initial >> 5 !== MAJOR_TEXT || (initial & 0x1f) === INDEFINITE) {
        return this.fail('chunks of an indefinite-length text string must be definite-length text strings');
      }
      text += this.readDefiniteText(this.readArgument(initial & 0x1f));
    }
  }

  private enter(depth: number): void {
    if (depth > this.maxDepth) this.fail(`nesting is deeper than ${this.maxDepth} levels`);
  }

  private atBreak(): boolean {
    this.need(1);
    if (this.bytes[this.pos] !== BREAK) return false;
    this.pos++;
    return true;
  }

  private readArray(info: number, depth: number): WireValue[] {
    this.enter(depth);
    const out: WireValue[] = [];
    const indefinite = info === INDEFINITE;
    const length = indefinite ? 0 : this.readArgument(info);
    // Every element takes at least one byte, so a larger count is truncated data.
    if (!indefinite && (length === TOO_LARGE || length > this.remaining())) this.fail('unexpected end of data');
    for (let i = 0; indefinite ? !this.atBreak() : i < length; i++) {
      this.path.push(i);
      out.push(this.readItem(depth));
      this.path.pop();
    }
    return out;
  }

  private readMap(info: number, depth: number): WireObject {
    this.enter(depth);
    const out: WireObject = Object.create(null) as WireObject;
    const indefinite = info === INDEFINITE;
    const length = indefinite ? 0 : this.readArgument(info);
    // Every entry takes at least two bytes.
    if (!indefinite && (length === TOO_LARGE || length > this.remaining() / 2)) this.fail('unexpected end of data');
    for (let i = 0; indefinite ? !this.atBreak() : i < length; i++) {
      this.need(1);
      const keyInitial = this.bytes[this.pos] as number;
      if (keyInitial >> 5 !== MAJOR_TEXT) this.fail('map keys must be text strings');
      this.pos++;
      const key = this.readText(keyInitial & 0x1f);
      if (isForbiddenKey(key)) this.fail(`the key "${key}" is not allowed`);
      this.path.push(key);
      out[key] = this.readItem(depth);
      this.path.pop();
    }
    return out;
  }
}

function decodeFloat16(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >> 10) & 0x1f;
  const fraction = half & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * Decodes exactly one CBOR data item from `bytes` (no trailing bytes), into
 * plain data with null-prototype objects for maps.
 *
 * @throws {ProtocolError} `InvalidPayload` on malformed CBOR, tags, byte
 *   strings, `undefined`, other simple values, non-text map keys, invalid
 *   UTF-8, integers beyond ±(2^53-1), a forbidden key (`__proto__`,
 *   `constructor`, `prototype`) or nesting deeper than `maxDepth`.
 */
export function decodeCbor(bytes: Uint8Array, maxDepth: number): WireValue {
  return new CborReader(bytes, maxDepth).decode();
}
