/**
 * Helpers that format template locations (`Resources.thing.Properties.ThingName`) and values for
 * error messages. Keys that are not plain identifiers are JSON-quoted (`Resources["my thing"]`).
 */

const PLAIN_KEY = /^[A-Za-z0-9_:@-]+$/;
const MAX_SHOWN_CHARS = 100;

/** Appends an object key to a path. */
export function childPath(path: string, key: string): string {
  if (PLAIN_KEY.test(key)) return path === '' ? key : `${path}.${key}`;
  return `${path}[${quote(key)}]`;
}

/** Appends an array index to a path. */
export function indexPath(path: string, index: number): string {
  return `${path}[${index}]`;
}

/** A value as shown in a message: JSON-quoted, cut to 100 characters. */
export function quote(value: string): string {
  const shown = value.length > MAX_SHOWN_CHARS ? `${value.slice(0, MAX_SHOWN_CHARS)}...` : value;
  return JSON.stringify(shown);
}
