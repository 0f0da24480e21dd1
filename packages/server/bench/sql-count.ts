/**
 * Counts the SQL statements better-sqlite3 executes in this process, by wrapping the methods of its
 * Statement class (`run`, `get`, `all`, `iterate`). Shared by `bench/provision-sql.ts` and the
 * regression test that bounds the statements of one CSR provisioning (a count, never a timing).
 */
import Database from 'better-sqlite3';

/** Statements executed since {@link SqlCounter.reset}, by SQL text. */
export interface SqlCounter {
  /** Every statement, including `begin`, `commit` and savepoints. */
  readonly total: number;
  /** `commit` statements (one per top-level transaction that committed). */
  readonly commits: number;
  /** Count per SQL text. */
  readonly bySql: ReadonlyMap<string, number>;
  reset(): void;
  /** Restores the original Statement methods. */
  uninstall(): void;
}

const METHODS = ['run', 'get', 'all', 'iterate'] as const;

/** Installs the counter on better-sqlite3's Statement prototype (process-wide). */
export function installSqlCounter(): SqlCounter {
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('select 1')) as Record<string, unknown> & { source?: string };
  probe.close();
  const originals = new Map<string, (...args: unknown[]) => unknown>();
  let bySql = new Map<string, number>();
  let total = 0;
  let commits = 0;
  for (const name of METHODS) {
    const original = proto[name] as (...args: unknown[]) => unknown;
    originals.set(name, original);
    proto[name] = function counted(this: { source: string }, ...args: unknown[]): unknown {
      total++;
      const text = this.source;
      if (/^\s*commit\b/i.test(text)) commits++;
      bySql.set(text, (bySql.get(text) ?? 0) + 1);
      return original.apply(this, args);
    };
  }
  return {
    get total() {
      return total;
    },
    get commits() {
      return commits;
    },
    get bySql() {
      return bySql;
    },
    reset() {
      total = 0;
      commits = 0;
      bySql = new Map();
    },
    uninstall() {
      for (const [name, original] of originals) proto[name] = original;
    },
  };
}
