/**
 * A deliberately small DER reader and writer: just enough to walk CSRs and SubjectPublicKeyInfo
 * and to assemble a CSR, with strict bounds (definite lengths only, no reads past the buffer,
 * bounded nesting because callers walk explicitly rather than recursively).
 */

/** A DER value could not be decoded. */
export class DerError extends Error {
  /** @param message what was malformed */
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

/** One decoded tag-length-value element, pointing into the source buffer. */
export interface DerElement {
  /** The identifier octet (single-byte tags only: class, constructed bit and number). */
  readonly tag: number;
  /** Offset of the identifier octet in the source. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset just past the last content octet. */
  readonly end: number;
  /** The whole element (header and content). */
  readonly raw: Buffer;
  /** The content octets. */
  readonly content: Buffer;
}

/** Universal tags used by this module. */
export const Tag = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/**
 * Reads one element at `offset`.
 * @throws {DerError} on truncated input, indefinite or over-long lengths, or multi-byte tags
 */
export function readElement(buf: Buffer, offset = 0): DerElement {
  if (offset + 2 > buf.length) throw new DerError('truncated element header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not supported');
  const first = buf[offset + 1]!;
  let length: number;
  let header = 2;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    if (count === 0) throw new DerError('indefinite length is not allowed in DER');
    if (count > 4) throw new DerError('length field too long');
    if (offset + 2 + count > buf.length) throw new DerError('truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[offset + 2 + i]!;
    header += count;
  }
  const contentStart = offset + header;
  const end = contentStart + length;
  if (end > buf.length) throw new DerError('element runs past the end of the input');
  return {
    tag,
    start: offset,
    contentStart,
    end,
    raw: buf.subarray(offset, end),
    content: buf.subarray(contentStart, end),
  };
}

/**
 * Reads the direct children of a constructed element.
 * @param maxChildren refuse elements with more children than this
 */
export function readChildren(element: DerElement, maxChildren = 64): DerElement[] {
  if ((element.tag & 0x20) === 0) throw new DerError('expected a constructed element');
  const out: DerElement[] = [];
  const buf = element.content;
  let offset = 0;
  while (offset < buf.length) {
    if (out.length >= maxChildren) throw new DerError('too many elements');
    const child = readElement(buf, offset);
    out.push(child);
    offset = child.end;
  }
  return out;
}

/** Reads a single top-level element and insists that nothing follows it. */
export function readSingle(buf: Buffer, expectedTag: number): DerElement {
  const el = readElement(buf, 0);
  if (el.tag !== expectedTag) throw new DerError(`expected tag 0x${expectedTag.toString(16)}, got 0x${el.tag.toString(16)}`);
  if (el.end !== buf.length) throw new DerError('trailing data after the element');
  return el;
}

/** Decodes an OBJECT IDENTIFIER's content to dotted form. */
export function decodeOid(content: Buffer): string {
  if (content.length === 0 || content.length > 64) throw new DerError('bad OBJECT IDENTIFIER length');
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < content.length; i++) {
    const byte = content[i]!;
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OBJECT IDENTIFIER arc too large');
    if ((byte & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        arcs.push(first, value - first * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    } else if (i === content.length - 1) {
      throw new DerError('truncated OBJECT IDENTIFIER');
    }
  }
  return arcs.join('.');
}

/** Returns the payload of a BIT STRING with no unused bits. */
export function bitStringBytes(element: DerElement): Buffer {
  if (element.tag !== Tag.BIT_STRING) throw new DerError('expected a BIT STRING');
  if (element.content.length < 1 || element.content[0] !== 0) throw new DerError('BIT STRING with unused bits');
  return element.content.subarray(1);
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Encodes one element from a tag and its content octets. */
export function encodeElement(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

/** Encodes a dotted OBJECT IDENTIFIER. */
export function encodeOid(oid: string): Buffer {
  const arcs = oid.split('.').map((a) => Number.parseInt(a, 10));
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0)) throw new DerError(`bad OID ${oid}`);
  const out: number[] = [];
  const push = (value: number) => {
    const chunk: number[] = [value & 0x7f];
    for (let v = Math.floor(value / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const arc of arcs.slice(2)) push(arc);
  return encodeElement(Tag.OID, Buffer.from(out));
}
