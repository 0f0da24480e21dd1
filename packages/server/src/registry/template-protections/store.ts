/**
 * fleetprov's per-template protections (see types.ts), in `template_protections` (migration
 * 0007_claim_protections; a row goes with its template by ON DELETE CASCADE).
 */
import type { Selectable } from 'kysely';
import { num } from '../context.js';
import type { TemplateProtectionsTable } from '../db-schema.js';
import { notFound } from '../errors.js';
import type { Session } from '../session.js';
import * as v from '../validate.js';
import {
  EXISTING_THING_POLICIES,
  type ExistingThingPolicy,
  type TemplateProtectionInput,
  type TemplateProtectionRow,
  type TemplateProtectionStore,
} from './types.js';

function toRow(r: Selectable<TemplateProtectionsTable>): TemplateProtectionRow {
  return {
    templateName: r.template_name,
    existingThing: r.existing_thing as ExistingThingPolicy,
    createdAt: num(r.created_at),
    modifiedAt: num(r.modified_at),
  };
}

/** {@link TemplateProtectionStore} over Kysely; every method runs through the registry handle's {@link Session}. */
export class KyselyTemplateProtectionStore implements TemplateProtectionStore {
  readonly #s: Session;

  constructor(session: Session) {
    this.#s = session;
  }

  /** TemplateProtectionStore.get. */
  get(templateName: unknown): Promise<TemplateProtectionRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof templateName !== 'string') return null;
      const row = await ctx.db.selectFrom('template_protections').selectAll().where('template_name', '=', templateName).executeTakeFirst();
      return row ? toRow(row) : null;
    });
  }

  /** TemplateProtectionStore.list. */
  list(): Promise<TemplateProtectionRow[]> {
    return this.#s.read(async (ctx) => {
      const rows = await ctx.db.selectFrom('template_protections').selectAll().orderBy('template_name').execute();
      return rows.map(toRow);
    });
  }

  /** TemplateProtectionStore.set: the template must exist; then an upsert. */
  set(templateName: unknown, input: TemplateProtectionInput): Promise<TemplateProtectionRow> {
    return this.#s.write(async (ctx) => {
      const name = v.name(templateName, 'templateName');
      if (typeof input !== 'object' || input === null) throw v.invalidInput('template protections');
      const existingThing = v.oneOf(input.existingThing, EXISTING_THING_POLICIES, 'existingThing');
      const template = await ctx.db.selectFrom('provisioning_templates').select('name').where('name', '=', name).executeTakeFirst();
      if (!template) throw notFound('provisioning-template', name, ctx.arns.provisioningTemplate(name));
      const now = ctx.now();
      await ctx.db
        .insertInto('template_protections')
        .values({ template_name: name, existing_thing: existingThing, created_at: now, modified_at: now })
        .onConflict((oc) => oc.column('template_name').doUpdateSet({ existing_thing: existingThing, modified_at: now }))
        .execute();
      const row = await ctx.db.selectFrom('template_protections').selectAll().where('template_name', '=', name).executeTakeFirstOrThrow();
      return toRow(row);
    });
  }

  /** TemplateProtectionStore.delete. */
  delete(templateName: unknown): Promise<boolean> {
    return this.#s.single(async (ctx) => {
      const name = v.name(templateName, 'templateName');
      const res = await ctx.db.deleteFrom('template_protections').where('template_name', '=', name).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    });
  }
}
