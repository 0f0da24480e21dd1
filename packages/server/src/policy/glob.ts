/**
 * Wildcard patterns of IoT policies: tokenising (`*`, `?`, `${*}` `${?}` `${$}` escapes,
 * `${variable}` references) and a backtracking-free matcher.
 *
 * Semantics: `*` matches any run of characters, including `/`; `?` matches exactly one
 * character (one Unicode code point); everything else, MQTT `+` and `#` included, is literal.
 * Text substituted for a variable is always literal.
 *
 * Matching never backtracks more than one level: the pattern is split at its stars into
 * segments; the first segment is anchored at the start, the last at the end, and each middle
 * segment takes its leftmost occurrence (which is always safe for `*`-separated segments).
 * Each middle segment is located with `indexOf` on its first literal, so the cost is linear
 * for the usual shapes and hostile patterns such as `*a*a*a…*b` or `*???…?b*` against
 * `aaaa…` finish in well under a millisecond; the worst case is O(text × segment length),
 * bounded by the policy size limit and the broker's topic length limit.
 */
import type { PolicyContext } from './types.js';
import { parseVariableName, substituteVariable, type VariableRef } from './variables.js';

/** Token kinds. */
export const Tok = { Literal: 0, Star: 1, QMark: 2, Variable: 3 } as const;

/** One pattern token. `ref` is `null` for literals, wildcards and unknown variables. */
export class Token {
  /**
   * @param kind one of {@link Tok}
   * @param text literal text, or the variable name as written
   * @param ref the recognised variable (kind Variable only)
   * @param slot index of the variable among its pattern's variables (kind Variable only)
   */
  constructor(
    readonly kind: number,
    readonly text: string,
    readonly ref: VariableRef | null,
    readonly slot: number,
  ) {}
}

const STAR = new Token(Tok.Star, '*', null, -1);
const QMARK = new Token(Tok.QMark, '?', null, -1);

/** How to read a pattern. */
export interface TokenizeOptions {
  /** `*` and `?` are wildcards (Resource, StringLike, ArnLike) rather than literals. */
  wildcards: boolean;
  /** `${...}` is a variable (policy Version 2012-10-17) rather than literal text. */
  variables: boolean;
}

/** Splits pattern text into tokens; adjacent literals merge and runs of `*` collapse. */
export function tokenize(text: string, opts: TokenizeOptions): Token[] {
  const out: Token[] = [];
  let lit = '';
  let litStart = 0;
  let slot = 0;
  const flush = (end: number): void => {
    lit += text.slice(litStart, end);
    if (lit !== '') out.push(new Token(Tok.Literal, lit, null, -1));
    lit = '';
  };
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (opts.variables && c === 36 /* $ */ && text.charCodeAt(i + 1) === 123 /* { */) {
      const close = text.indexOf('}', i + 2);
      if (close < 0) {
        i++;
        continue;
      }
      const inner = text.slice(i + 2, close);
      if (inner === '*' || inner === '?' || inner === '$') {
        lit += text.slice(litStart, i) + inner;
      } else {
        flush(i);
        out.push(new Token(Tok.Variable, inner, parseVariableName(inner), slot++));
      }
      i = close + 1;
      litStart = i;
      continue;
    }
    if (opts.wildcards && (c === 42 /* * */ || c === 63) /* ? */) {
      flush(i);
      if (c === 63) out.push(QMARK);
      else if (out.length === 0 || out[out.length - 1] !== STAR) out.push(STAR);
      i++;
      litStart = i;
      continue;
    }
    i++;
  }
  flush(n);
  return out;
}

/** Names of variables in `tokens` that the engine does not know. */
export function unknownVariables(tokens: readonly Token[]): string[] {
  return tokens.filter((t) => t.kind === Tok.Variable && t.ref === null).map((t) => t.text);
}

const Mode = { Any: 0, Exact: 1, Prefix: 2, Suffix: 3, Contains: 4, PrefixSuffix: 5, General: 6, Never: 7 } as const;

/** Substituted variable texts of the glob being matched (matching is synchronous, so one buffer). */
const scratch: string[] = [];

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Matches `seg` at `p`; returns the end position or -1. */
function matchForward(seg: readonly Token[], s: string, p: number): number {
  const n = s.length;
  for (let i = 0; i < seg.length; i++) {
    const t = seg[i] as Token;
    if (t.kind === Tok.QMark) {
      if (p >= n) return -1;
      p += isHigh(s.charCodeAt(p)) && p + 1 < n && isLow(s.charCodeAt(p + 1)) ? 2 : 1;
    } else {
      const text = t.kind === Tok.Literal ? t.text : (scratch[t.slot] as string);
      if (!s.startsWith(text, p)) return -1;
      p += text.length;
    }
  }
  return p;
}

/** Matches `seg` so that it ends at `e`; returns its start position or -1. */
function matchBackward(seg: readonly Token[], s: string, e: number): number {
  for (let i = seg.length - 1; i >= 0; i--) {
    const t = seg[i] as Token;
    if (t.kind === Tok.QMark) {
      if (e <= 0) return -1;
      e -= isLow(s.charCodeAt(e - 1)) && e >= 2 && isHigh(s.charCodeAt(e - 2)) ? 2 : 1;
    } else {
      const text = t.kind === Tok.Literal ? t.text : (scratch[t.slot] as string);
      const start = e - text.length;
      if (start < 0 || !s.startsWith(text, start)) return -1;
      e = start;
    }
  }
  return e;
}

/** Walks `count` code points back from `q`; returns the position or -1. */
function stepBack(s: string, q: number, count: number): number {
  for (let k = 0; k < count; k++) {
    if (q <= 0) return -1;
    q -= isLow(s.charCodeAt(q - 1)) && q >= 2 && isHigh(s.charCodeAt(q - 2)) ? 2 : 1;
  }
  return q;
}

/**
 * Finds the leftmost placement of `seg` within [from, limit]; returns its end or -1.
 * Candidates are found with `indexOf` on the segment's first literal (after any leading `?`),
 * so only positions where that literal occurs are tried.
 */
function findSegment(seg: readonly Token[], s: string, from: number, limit: number): number {
  let lead = 0;
  while (lead < seg.length && (seg[lead] as Token).kind === Tok.QMark) lead++;
  const t = seg[lead];
  const anchor = t === undefined ? '' : t.kind === Tok.Literal ? t.text : (scratch[t.slot] as string);
  if (anchor === '') {
    for (let p = from; p <= limit; p++) {
      const end = matchForward(seg, s, p);
      if (end >= 0) return end <= limit ? end : -1;
    }
    return -1;
  }
  let q = from + lead;
  for (;;) {
    q = s.indexOf(anchor, q);
    if (q < 0 || q + anchor.length > limit) return -1;
    const p = lead === 0 ? q : stepBack(s, q, lead);
    if (p >= from) {
      const end = matchForward(seg, s, p);
      if (end >= 0) return end <= limit ? end : -1;
    }
    q++;
  }
}

/**
 * A compiled wildcard pattern. Immutable; `match` allocates nothing unless the pattern has
 * variables and case folding is on.
 */
export class Glob {
  private readonly mode: number;
  private readonly text: string;
  /** Literal text every match starts with (checked before variables are substituted). */
  private readonly head: string;
  /** Literal text every match ends with. */
  private readonly tail: string;
  /** Segments between stars (General mode). */
  private readonly segments: readonly (readonly Token[])[];
  private readonly starred: boolean;
  private readonly variables: readonly Token[];
  private readonly fold: boolean;

  /**
   * @param tokens from {@link tokenize}
   * @param fold compare case-insensitively (callers lower-case the subject themselves)
   */
  constructor(tokens: readonly Token[], fold = false) {
    this.fold = fold;
    const toks = fold ? tokens.map((t) => (t.kind === Tok.Literal ? new Token(Tok.Literal, t.text.toLowerCase(), null, -1) : t)) : tokens;
    this.variables = toks.filter((t) => t.kind === Tok.Variable);
    const segments: Token[][] = [[]];
    for (const t of toks) {
      if (t.kind === Tok.Star) segments.push([]);
      else (segments[segments.length - 1] as Token[]).push(t);
    }
    this.segments = segments;
    this.starred = segments.length > 1;
    this.text = '';
    this.head = leadingLiteral(segments[0] as Token[]);
    this.tail = trailingLiteral(segments[segments.length - 1] as Token[]);
    if (this.variables.some((t) => t.ref === null)) {
      this.mode = Mode.Never;
      return;
    }
    const simple = this.variables.length === 0 && !toks.some((t) => t.kind === Tok.QMark);
    const litOf = (seg: readonly Token[] | undefined): string => (seg?.length === 1 ? (seg[0] as Token).text : '');
    const first = segments[0] as Token[];
    const last = segments[segments.length - 1] as Token[];
    this.mode = Mode.General;
    if (!simple) return;
    if (segments.length === 1 && first.length <= 1) {
      this.mode = Mode.Exact;
      this.text = litOf(first);
    } else if (segments.length === 2 && first.length === 0 && last.length === 0) {
      this.mode = Mode.Any;
    } else if (segments.length === 2 && last.length === 0) {
      this.mode = Mode.Prefix;
      this.text = litOf(first);
    } else if (segments.length === 2 && first.length === 0) {
      this.mode = Mode.Suffix;
      this.text = litOf(last);
    } else if (segments.length === 3 && first.length === 0 && last.length === 0) {
      this.mode = Mode.Contains;
      this.text = litOf(segments[1]);
    } else if (segments.length === 2) {
      this.mode = Mode.PrefixSuffix;
    }
  }

  /** Whether the pattern has `${...}` variables (whose values come from the context). */
  get hasVariables(): boolean {
    return this.variables.length > 0;
  }

  /** Whether the pattern can never match (it uses an unknown variable). */
  get matchesNothing(): boolean {
    return this.mode === Mode.Never;
  }

  /**
   * The {@link resourceIndexKey} every string this pattern matches has, or `null` when
   * matching strings may have different keys.
   */
  get indexKey(): string | null {
    if (this.mode === Mode.Exact) return resourceIndexKey(this.text);
    const first = this.head.indexOf('/');
    const second = first < 0 ? -1 : this.head.indexOf('/', first + 1);
    return second < 0 ? null : this.head.slice(0, second + 1);
  }

  /** Whether the pattern matches every string. */
  get matchesEverything(): boolean {
    return this.mode === Mode.Any;
  }

  /**
   * Tests `subject` (already lower-cased when the glob folds case). Variables are substituted
   * from `ctx`; one that does not resolve makes the pattern match nothing.
   */
  match(subject: string, ctx: PolicyContext): boolean {
    switch (this.mode) {
      case Mode.Any:
        return true;
      case Mode.Exact:
        return subject === this.text;
      case Mode.Prefix:
        return subject.startsWith(this.text);
      case Mode.Suffix:
        return subject.endsWith(this.text);
      case Mode.Contains:
        return subject.includes(this.text);
      case Mode.PrefixSuffix:
        return subject.length >= this.head.length + this.tail.length && subject.startsWith(this.head) && subject.endsWith(this.tail);
      case Mode.Never:
        return false;
      default:
        return this.matchGeneral(subject, ctx);
    }
  }

  private matchGeneral(s: string, ctx: PolicyContext): boolean {
    if (!s.startsWith(this.head) || !s.endsWith(this.tail)) return false;
    const vars = this.variables;
    for (let i = 0; i < vars.length; i++) {
      const t = vars[i] as Token;
      const v = substituteVariable(t.ref as VariableRef, ctx);
      if (v === undefined) return false;
      scratch[t.slot] = this.fold ? v.toLowerCase() : v;
    }
    const segs = this.segments;
    const n = s.length;
    if (!this.starred) return matchForward(segs[0] as Token[], s, 0) === n;
    let cur = matchForward(segs[0] as Token[], s, 0);
    if (cur < 0) return false;
    const limit = matchBackward(segs[segs.length - 1] as Token[], s, n);
    if (limit < cur) return false;
    for (let i = 1; i < segs.length - 1; i++) {
      const seg = segs[i] as Token[];
      if (seg.length === 0) continue;
      cur = findSegment(seg, s, cur, limit);
      if (cur < 0) return false;
    }
    return true;
  }
}

/**
 * The index key of a resource: its text up to and including the second `/`
 * (`topic/$aws/` for `topic/$aws/things/x`), or all of it when it has fewer slashes.
 */
export function resourceIndexKey(resource: string): string {
  const first = resource.indexOf('/');
  if (first < 0) return resource;
  const second = resource.indexOf('/', first + 1);
  return second < 0 ? resource : resource.slice(0, second + 1);
}

function leadingLiteral(seg: readonly Token[]): string {
  let out = '';
  for (const t of seg) {
    if (t.kind !== Tok.Literal) break;
    out += t.text;
  }
  return out;
}

function trailingLiteral(seg: readonly Token[]): string {
  let out = '';
  for (let i = seg.length - 1; i >= 0; i--) {
    const t = seg[i] as Token;
    if (t.kind !== Tok.Literal) break;
    out = t.text + out;
  }
  return out;
}

/** Compiles pattern text straight to a {@link Glob}. */
export function compileGlob(text: string, opts: TokenizeOptions, fold = false): Glob {
  return new Glob(tokenize(text, opts), fold);
}
