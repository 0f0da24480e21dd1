/**
 * IP addresses and CIDR blocks for the `IpAddress` / `NotIpAddress` condition operators.
 * Addresses are held as 16 bytes; IPv4 maps to `::ffff:a.b.c.d`, so an IPv4 CIDR also matches
 * the IPv4-mapped IPv6 form Node reports for dual-stack sockets.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** A CIDR block (a bare address is a /32 or /128). */
export interface Cidr {
  readonly bytes: Uint8Array;
  /** Prefix length over the 128-bit form. */
  readonly bits: number;
}

function parseV4Into(s: string, out: Uint8Array, at: number): void {
  const parts = s.split('.');
  for (let i = 0; i < 4; i++) out[at + i] = Number(parts[i]);
}

/** Parses an IPv4 or IPv6 address to 16 bytes, or `null`. Zone ids (`%eth0`) are refused. */
export function parseIp(s: string): Uint8Array | null {
  if (s.length > 64) return null;
  if (isIPv4(s)) {
    const out = new Uint8Array(16);
    out[10] = 0xff;
    out[11] = 0xff;
    parseV4Into(s, out, 12);
    return out;
  }
  if (!isIPv6(s) || s.includes('%')) return null;
  const out = new Uint8Array(16);
  let text = s;
  let tailV4: string | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    tailV4 = text.slice(lastColon + 1);
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const dbl = text.indexOf('::');
  const head = dbl >= 0 ? text.slice(0, dbl) : text;
  const tail = dbl >= 0 ? text.slice(dbl + 2) : '';
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groups = [...headGroups, ...new Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  for (let i = 0; i < 8; i++) {
    const g = parseInt(groups[i] ?? '0', 16);
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  }
  if (tailV4 !== null) parseV4Into(tailV4, out, 12);
  return out;
}

/** Parses `a.b.c.d[/n]` or `x::y[/n]`, or returns `null`. */
export function parseCidr(s: string): Cidr | null {
  const slash = s.indexOf('/');
  const addr = slash >= 0 ? s.slice(0, slash) : s;
  const bytes = parseIp(addr);
  if (bytes === null) return null;
  const v4 = isIPv4(addr);
  const max = v4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p)) return null;
    bits = Number(p);
    if (bits > max) return null;
  }
  return { bytes, bits: v4 ? bits + 96 : bits };
}

/** Whether `ip` (16 bytes) is inside `cidr`. */
export function cidrContains(cidr: Cidr, ip: Uint8Array): boolean {
  let bits = cidr.bits;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((cidr.bytes[i] as number) & mask) !== ((ip[i] as number) & mask)) return false;
  }
  return true;
}
