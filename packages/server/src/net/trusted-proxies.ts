/**
 * The reverse proxies whose forwarded headers the control plane believes (Fastify's `trustProxy`,
 * compiled by proxy-addr): IP addresses, CIDR ranges, or the names `loopback`, `linklocal`,
 * `uniquelocal`. Checked here so a typo fails at start with the entry named.
 */
import { isIP } from 'node:net';

const NAMES: ReadonlySet<string> = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * Checks `trustProxy` entries (addresses, CIDR ranges or proxy-addr's names `loopback`, `linklocal`,
 * `uniquelocal`) and returns them trimmed; undefined for none.
 * @throws {RangeError} naming the first entry that is none of those
 */
export function checkTrustedProxies(list: readonly string[] | undefined): string[] | undefined {
  if (list === undefined || list.length === 0) return undefined;
  for (const entry of list) {
    if (typeof entry !== 'string' || entry.trim() === '') throw new RangeError('trustProxy entries must be non-empty strings');
    const [address, bits, extra] = entry.trim().split('/');
    const valid =
      NAMES.has(entry.trim()) ||
      (extra === undefined &&
        isIP(address ?? '') !== 0 &&
        (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (isIP(address ?? '') === 4 ? 32 : 128))));
    if (!valid) {
      throw new RangeError(`trustProxy: "${entry}" is not an IP address, a CIDR range, or one of loopback, linklocal, uniquelocal`);
    }
  }
  return list.map((e) => e.trim());
}
