/**
 * Test helper: builds CBOR byte sequences by hand (RFC 8949), so the decoder
 * is tested against bytes that did not come from our own encoder.
 */

/** Initial byte(s) + argument for a major type and a length/value. */
export function head(major: number, value: number): number[] {
  const m = major << 5;
  if (value < 24) return [m | value];
  if (value < 0x100) return [m | 24, value];
  if (value < 0x10000) return [m | 25, value >> 8, value & 0xff];
  return [m | 26, (value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

/** A definite-length text string. */
export function text(s: string): number[] {
  const bytes = [...Buffer.from(s, 'utf8')];
  return [...head(3, bytes.length), ...bytes];
}

/** An indefinite-length text string made of the given chunks: 0x7f chunk... 0xff. */
export function chunkedText(...chunks: string[]): number[] {
  return [0x7f, ...chunks.flatMap(text), 0xff];
}

/** A definite-length map from already-encoded key/value pairs. */
export function map(...entries: Array<[number[], number[]]>): number[] {
  return [...head(5, entries.length), ...entries.flatMap(([k, v]) => [...k, ...v])];
}

/** An indefinite-length map: 0xbf key value ... 0xff. */
export function indefiniteMap(...entries: Array<[number[], number[]]>): number[] {
  return [0xbf, ...entries.flatMap(([k, v]) => [...k, ...v]), 0xff];
}

/** A definite-length array. */
export function array(...items: number[][]): number[] {
  return [...head(4, items.length), ...items.flat()];
}

/** An unsigned integer. */
export function uint(n: number): number[] {
  return head(0, n);
}

/** CBOR simple values. */
export const FALSE = [0xf4];
export const TRUE = [0xf5];
export const NULL = [0xf6];
export const UNDEFINED = [0xf7];

/** Bytes → Buffer. */
export function bytes(...parts: number[][]): Buffer {
  return Buffer.from(parts.flat());
}
