/** Strict PEM decoding and encoding (RFC 7468 "strict" text, CRLF tolerated). */

/** One decoded PEM block. */
export interface PemBlock {
  /** The label between `BEGIN ` and `-----`, e.g. `CERTIFICATE`. */
  readonly label: string;
  /** The decoded DER bytes. */
  readonly der: Buffer;
}

/** Upper bound on the text this module will scan. */
export const MAX_PEM_TEXT = 1024 * 1024;

const BLOCK = /-----BEGIN ([A-Z0-9 ]{1,40})-----([^-]*)-----END ([A-Z0-9 ]{1,40})-----/g;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes every PEM block in `text`, in order. Returns `undefined` for a block whose body is not
 * valid base64 or whose END label differs from its BEGIN label (the caller decides how to report).
 * Text outside blocks is ignored.
 */
export function decodePemBlocks(text: string, maxBlocks = 16): Array<PemBlock | undefined> {
  if (text.length > MAX_PEM_TEXT) return [];
  const out: Array<PemBlock | undefined> = [];
  BLOCK.lastIndex = 0;
  for (let m = BLOCK.exec(text); m !== null && out.length < maxBlocks; m = BLOCK.exec(text)) {
    const [, label, body, endLabel] = m;
    if (label === undefined || body === undefined || label !== endLabel) {
      out.push(undefined);
      continue;
    }
    const compact = body.replace(/[\r\n\t ]+/g, '');
    if (compact.length === 0 || compact.length % 4 !== 0 || !BASE64.test(compact)) {
      out.push(undefined);
      continue;
    }
    out.push({ label, der: Buffer.from(compact, 'base64') });
  }
  return out;
}

/** Returns the first block whose label is in `labels`, or `undefined`. */
export function findPemBlock(text: string, labels: readonly string[]): PemBlock | undefined {
  for (const block of decodePemBlocks(text)) {
    if (block && labels.includes(block.label)) return block;
  }
  return undefined;
}

/** Encodes DER bytes as a PEM block with 64-character lines and a trailing newline. */
export function encodePem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
