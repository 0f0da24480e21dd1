/**
 * Query-string parsing with the semantics SigV4 signs.
 *
 * An AWS SDK signs the decoded query values and sends them percent-encoded (a space as `%20`,
 * `+` as `%2B`). This parser decodes `%XX` only, never `+` to space, so route handlers see exactly
 * the values the signature covered. Malformed escapes are kept verbatim rather than thrown.
 */

/** Most query parameters accepted in one request; the rest are ignored. */
export const MAX_QUERY_PARAMETERS = 100;

/** One decoded `name=value` pair, in the order it appeared. */
export interface QueryPair {
  readonly name: string;
  readonly value: string;
}

/** Decodes `%XX` escapes; returns the input unchanged when it is not valid percent-encoding. */
export function decodeQueryComponent(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Splits a raw query string (without the leading `?`) into decoded pairs, at most
 * {@link MAX_QUERY_PARAMETERS}. Empty segments (`a=1&&b=2`) are skipped; `name` without `=`
 * yields an empty value.
 */
export function parseQueryPairs(rawQuery: string): QueryPair[] {
  const pairs: QueryPair[] = [];
  if (rawQuery === '') return pairs;
  for (const segment of rawQuery.split('&')) {
    if (segment === '') continue;
    if (pairs.length >= MAX_QUERY_PARAMETERS) break;
    const eq = segment.indexOf('=');
    const rawName = eq === -1 ? segment : segment.slice(0, eq);
    const rawValue = eq === -1 ? '' : segment.slice(eq + 1);
    pairs.push({ name: decodeQueryComponent(rawName), value: decodeQueryComponent(rawValue) });
  }
  return pairs;
}

/**
 * Parses a raw query string into a null-prototype record; a name given more than once maps to
 * an array of its values in order. Suitable as Fastify's `querystringParser`.
 */
export function parseQueryString(rawQuery: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const { name, value } of parseQueryPairs(rawQuery)) {
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
  }
  return out;
}
