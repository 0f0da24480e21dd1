/**
 * Opaque page cursors (AWS `marker` / `nextToken`) and page-size bounds.
 *
 * A cursor is base64url JSON `{"k": <list kind>, "v": [<sort key of the last item>]}`: keyset
 * pagination, so inserts and deletes between pages neither skip nor repeat items. A cursor is only
 * valid for the list that produced it.
 */
import { invalid } from './errors.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './types.js';
import { MAX_KEY_BYTES } from './validate.js';

const LONE_SURROGATE = /\p{Cs}/u;

/** The sort key of a list item: strings and integers. */
export type CursorKey = ReadonlyArray<string | number>;

/** Longest cursor accepted (characters). */
export const MAX_CURSOR_LENGTH = 8192;

/** Encodes the key of the last item of a page. */
export function encodeCursor(kind: string, key: CursorKey): string {
  return Buffer.from(JSON.stringify({ k: kind, v: key }), 'utf8').toString('base64url');
}

/**
 * Decodes a cursor given back by a caller. `undefined`/'' → null (first page). InvalidRequest for
 * anything this list did not produce, including a key of the wrong shape (`shape`: 's' string, 'n' integer)
 * and a string key no stored key could be (NUL, lone surrogates, oversized): a forged token never
 * reaches the database.
 */
export function decodeCursor(kind: string, token: unknown, shape: string): Array<string | number> | null {
  if (token === undefined || token === null || token === '') return null;
  if (typeof token !== 'string' || token.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) {
    throw invalid('invalid pagination token');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid('invalid pagination token');
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { k?: unknown }).k !== kind) {
    throw invalid('invalid pagination token');
  }
  const v = (parsed as { v?: unknown }).v;
  if (!Array.isArray(v) || v.length !== shape.length) throw invalid('invalid pagination token');
  const out: Array<string | number> = [];
  for (let i = 0; i < shape.length; i++) {
    const item: unknown = v[i];
    if (shape[i] === 's' && typeof item === 'string' && isStorableKey(item)) out.push(item);
    else if (shape[i] === 'n' && typeof item === 'number' && Number.isSafeInteger(item)) out.push(item);
    else throw invalid('invalid pagination token');
  }
  return out;
}

/**
 * Whether a decoded string key can be compared against stored keys on every dialect: no NUL (which
 * PostgreSQL refuses in text, failing the query), no lone surrogate, and no larger than a stored key.
 */
function isStorableKey(key: string): boolean {
  return !key.includes('\u0000') && !LONE_SURROGATE.test(key) && Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES;
}

/** A page size from a caller: `undefined` → the default; otherwise an integer in 1..max. */
export function pageSize(value: unknown, field: string, def: number = DEFAULT_PAGE_SIZE, max: number = MAX_PAGE_SIZE): number {
  if (value === undefined || value === null) return def;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw invalid(`${field} must be an integer between 1 and ${max}`);
  }
  return value;
}

/**
 * Cuts `rows` (fetched with limit `size + 1`) to a page: the items, and the key of the last item when
 * more rows exist.
 */
export function cutPage<T>(rows: T[], size: number, keyOf: (row: T) => CursorKey): { items: T[]; nextKey?: CursorKey } {
  if (rows.length <= size) return { items: rows };
  const items = rows.slice(0, size);
  const last = items[items.length - 1];
  return last === undefined ? { items } : { items, nextKey: keyOf(last) };
}
