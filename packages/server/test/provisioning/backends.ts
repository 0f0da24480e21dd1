/**
 * The registry backends a provisioning test runs on: SQLite (a temp file) and PostgreSQL (a fresh
 * schema per lab, dropped when the lab closes). PostgreSQL follows the project's rule: unreachable →
 * the test fails under CI and is skipped locally (support/postgres.ts).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PG_URL, requirePostgres } from '../support/postgres.js';
import { startLab, type Lab, type LabOptions } from './helpers.js';

/** A backend: its name and how to start a lab on it. */
export interface Backend {
  name: 'SQLite' | 'PostgreSQL';
  /** A fresh lab (its own database or schema). */
  startLab(options?: Omit<LabOptions, 'db' | 'registryOptions'>): Promise<Lab>;
}

/** Drops a PostgreSQL schema. */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

/** A unique schema name for this process. */
export function freshSchema(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

const sqlite: Backend = { name: 'SQLite', startLab: (options = {}) => startLab(options) };

const postgres: Backend = {
  name: 'PostgreSQL',
  async startLab(options = {}) {
    const schema = freshSchema('fp_claims');
    const lab = await startLab({ ...options, db: PG_URL, registryOptions: { schema } });
    const close = lab.close.bind(lab);
    lab.close = async () => {
      await close();
      await dropSchema(schema);
    };
    return lab;
  },
};

/** SQLite, and PostgreSQL when it can be used (else its stand-in test was registered under `name`). */
export async function backends(name: string): Promise<Backend[]> {
  return (await requirePostgres(`${name} (PostgreSQL)`)) ? [sqlite, postgres] : [sqlite];
}
