/**
 * `PolicyCache`: compiled policy sets, keyed by the sorted `name@version` list of a
 * principal's policies, in a bounded LRU. A new default version changes the key, so a version
 * switch never serves a stale set; policy versions are immutable, and the cache still checks
 * that each document is the one it compiled (a changed document under the same version is
 * recompiled rather than trusted).
 */
import { policySetKey, CompiledPolicySet } from './compile.js';
import { PolicyError, withPolicyName } from './errors.js';
import { parsePolicy } from './parse.js';
import type { NamedParsedPolicy, NamedPolicy, ParsedPolicy, ParsePolicyOptions } from './types.js';

/** Options of {@link PolicyCache}. */
export interface PolicyCacheOptions {
  /** Most compiled sets kept (least recently used go first). Default 10 000. */
  maxEntries?: number;
  /** Most parsed documents kept, shared between sets. Default 10 000. */
  maxDocuments?: number;
  /** Passed to `parsePolicy` (e.g. `maxChars`). */
  parse?: ParsePolicyOptions;
}

/** Hit/miss counters of a {@link PolicyCache}. */
export interface PolicyCacheStats {
  hits: number;
  misses: number;
  /** Compiled sets dropped to stay under `maxEntries`. */
  evictions: number;
}

/** A minimal LRU on Map insertion order. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get size(): number {
    return this.map.size;
  }
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  /** Stores `v`; returns how many entries were evicted. */
  set(key: string, v: V): number {
    this.map.delete(key);
    this.map.set(key, v);
    let evicted = 0;
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
      evicted++;
    }
    return evicted;
  }
  delete(key: string): void {
    this.map.delete(key);
  }
  entries(): IterableIterator<[string, V]> {
    return this.map.entries();
  }
  clear(): void {
    this.map.clear();
  }
}

interface SetEntry {
  set: CompiledPolicySet;
  /** `name@version` → document it was compiled from. */
  documents: Map<string, string>;
}

interface DocEntry {
  document: string;
  policy: ParsedPolicy;
}

function idOf(p: NamedPolicy): string {
  return `${p.policyName}@${p.version}`;
}

/** Compiles and caches principals' policy sets for the broker. */
export class PolicyCache {
  private readonly sets: Lru<SetEntry>;
  private readonly docs: Lru<DocEntry>;
  private readonly parseOptions: ParsePolicyOptions | undefined;
  private readonly counters: PolicyCacheStats = { hits: 0, misses: 0, evictions: 0 };

  /** @param options sizes and parse options */
  constructor(options: PolicyCacheOptions = {}) {
    this.sets = new Lru(Math.max(1, options.maxEntries ?? 10_000));
    this.docs = new Lru(Math.max(1, options.maxDocuments ?? 10_000));
    this.parseOptions = options.parse;
  }

  /**
   * The compiled set for these policies (any order; duplicates allowed), from the cache when
   * the same `name@version` list with the same documents was compiled before.
   *
   * @throws {PolicyError} naming the policy whose document is invalid
   */
  compile(policies: readonly NamedPolicy[]): CompiledPolicySet {
    const key = policySetKey(policies);
    const hit = this.sets.get(key);
    if (hit !== undefined && policies.every((p) => hit.documents.get(idOf(p)) === p.document)) {
      this.counters.hits++;
      return hit.set;
    }
    this.counters.misses++;
    const documents = new Map<string, string>();
    const parsed: NamedParsedPolicy[] = policies.map((p) => {
      documents.set(idOf(p), p.document);
      return { policyName: p.policyName, version: p.version, policy: this.parse(p) };
    });
    const set = new CompiledPolicySet(parsed);
    this.counters.evictions += this.sets.set(key, { set, documents });
    return set;
  }

  /** Drops every cached set and document involving `policyName` (e.g. after DeletePolicy). */
  invalidate(policyName: string): void {
    const prefix = `${policyName}@`;
    const drop: string[] = [];
    for (const [key, entry] of this.sets.entries()) {
      if (entry.set.members.some((m) => m.policyName === policyName)) drop.push(key);
    }
    for (const key of drop) this.sets.delete(key);
    const dropDocs: string[] = [];
    for (const [key] of this.docs.entries()) if (key.startsWith(prefix)) dropDocs.push(key);
    for (const key of dropDocs) this.docs.delete(key);
  }

  /** Empties the cache. */
  clear(): void {
    this.sets.clear();
    this.docs.clear();
  }

  /** Number of compiled sets held. */
  get size(): number {
    return this.sets.size;
  }

  /** Hit/miss/eviction counters (a snapshot). */
  get stats(): PolicyCacheStats {
    return { ...this.counters };
  }

  private parse(p: NamedPolicy): ParsedPolicy {
    const id = idOf(p);
    const cached = this.docs.get(id);
    if (cached !== undefined && cached.document === p.document) return cached.policy;
    let policy: ParsedPolicy;
    try {
      policy = parsePolicy(p.document, this.parseOptions);
    } catch (err) {
      throw err instanceof PolicyError ? withPolicyName(err, p.policyName) : err;
    }
    this.docs.set(id, { document: p.document, policy });
    return policy;
  }
}
