/**
 * Provisioning templates and their versions.
 */
import type { Selectable } from 'kysely';
import { forUpdate, insertUnique, type Ctx } from '../context.js';
import { cutPage, decodeCursor, encodeCursor, pageSize } from '../cursor.js';
import type { ProvisioningTemplatesTable } from '../db-schema.js';
import { alreadyExists, notFound, RegistryError } from '../errors.js';
import { toTemplate, toTemplateVersion } from '../rows.js';
import type { Session } from '../session.js';
import type {
  NewTemplate,
  PreProvisioningHook,
  TemplateRow,
  TemplateUpdate,
  TemplateVersionRow,
  TokenPage,
  TokenPageRequest,
} from '../types.js';
import * as v from '../validate.js';
import type { TemplateStore } from './types.js';

const TYPES = ['FLEET_PROVISIONING', 'JITP'] as const;

async function selectTemplate(ctx: Ctx, name: string, lock: boolean): Promise<Selectable<ProvisioningTemplatesTable> | undefined> {
  const qb = ctx.db.selectFrom('provisioning_templates').selectAll().where('name', '=', name);
  return (lock ? forUpdate(ctx, qb) : qb).executeTakeFirst();
}

async function requireTemplate(ctx: Ctx, name: string, lock: boolean): Promise<Selectable<ProvisioningTemplatesTable>> {
  const row = await selectTemplate(ctx, name, lock);
  if (!row) throw notFound('provisioning-template', name, ctx.arns.provisioningTemplate(name));
  return row;
}

function hook(value: unknown): PreProvisioningHook {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw v.invalidInput('preProvisioningHook');
  const src = value as Record<string, unknown>;
  const out: PreProvisioningHook = { targetArn: v.nonEmpty(src.targetArn, 'preProvisioningHook.targetArn', 2048) };
  if (src.payloadVersion !== undefined && src.payloadVersion !== null) {
    out.payloadVersion = v.nonEmpty(src.payloadVersion, 'preProvisioningHook.payloadVersion', 64);
  }
  return out;
}

function withBody(ctx: Ctx) {
  return ctx.db
    .selectFrom('provisioning_templates as t')
    .innerJoin('provisioning_template_versions as tv', (j) =>
      j.onRef('tv.template_name', '=', 't.name').onRef('tv.version_id', '=', 't.default_version_id'),
    )
    .selectAll('t')
    .select('tv.body');
}

async function requireVersion(ctx: Ctx, name: string, versionId: number): Promise<void> {
  const row = await ctx.db
    .selectFrom('provisioning_template_versions')
    .select('version_id')
    .where('template_name', '=', name)
    .where('version_id', '=', versionId)
    .executeTakeFirst();
  if (!row) throw notFound('provisioning-template-version', `${name}:${versionId}`);
}

/** {@link TemplateStore} over Kysely; every method runs through the registry handle's {@link Session}. */
export class KyselyTemplateStore implements TemplateStore {
  readonly #s: Session;

  constructor(session: Session) {
    this.#s = session;
  }

  /** TemplateStore.create. */
  create(input: NewTemplate): Promise<TemplateRow> {
    return this.#s.write(async (ctx) => {
      if (typeof input !== 'object' || input === null) throw v.invalidInput('provisioning template');
      const name = v.name(input.name, 'templateName');
      const body = v.text(input.body, 'templateBody');
      const type = input.type === undefined ? 'FLEET_PROVISIONING' : v.oneOf(input.type, TYPES, 'type');
      const preHook = input.preProvisioningHook == null ? null : hook(input.preProvisioningHook);
      if (preHook !== null && type !== 'FLEET_PROVISIONING')
        throw v.invalidInput('preProvisioningHook: only FLEET_PROVISIONING templates have one');
      const arn = ctx.arns.provisioningTemplate(name);
      const now = ctx.now();
      const row: Selectable<ProvisioningTemplatesTable> = {
        name,
        arn,
        description: v.optText(input.description, 'description', 500),
        type,
        enabled: v.bool(input.enabled, 'enabled', false) ? 1 : 0,
        provisioning_role_arn: v.nonEmpty(input.provisioningRoleArn, 'provisioningRoleArn', 2048),
        pre_provisioning_hook: preHook === null ? null : JSON.stringify(preHook),
        default_version_id: 1,
        last_version_id: 1,
        created_at: now,
        modified_at: now,
      };
      if (await selectTemplate(ctx, name, false)) throw alreadyExists('provisioning-template', name, arn);
      await insertUnique(
        () =>
          ctx.db
            .insertInto('provisioning_templates')
            .values({ ...row, created_at: now, modified_at: now })
            .execute(),
        (cause) => alreadyExists('provisioning-template', name, arn, cause),
      );
      await ctx.db
        .insertInto('provisioning_template_versions')
        .values({ template_name: name, version_id: 1, body, is_default: 1, created_at: now })
        .execute();
      return toTemplate({ ...row, body });
    });
  }

  /** TemplateStore.get. */
  get(name: unknown): Promise<TemplateRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof name !== 'string') return null;
      const row = await withBody(ctx).where('t.name', '=', name).executeTakeFirst();
      return row ? toTemplate(row) : null;
    });
  }

  /** TemplateStore.list. Keyset over name. */
  list(req: TokenPageRequest = {}): Promise<TokenPage<TemplateRow>> {
    return this.#s.read(async (ctx) => {
      const size = pageSize(req.maxResults, 'maxResults');
      const after = decodeCursor('templates', req.nextToken, 's');
      let qb = withBody(ctx);
      if (after) qb = qb.where('t.name', '>', after[0] as string);
      const rows = (
        await qb
          .orderBy('t.name')
          .limit(size + 1)
          .execute()
      ).map(toTemplate);
      const page = cutPage(rows, size, (r) => [r.name]);
      return page.nextKey ? { items: page.items, nextToken: encodeCursor('templates', page.nextKey) } : { items: page.items };
    });
  }

  /** TemplateStore.update. */
  update(templateName: unknown, update: TemplateUpdate): Promise<TemplateRow> {
    return this.#s.write(async (ctx) => {
      if (typeof update !== 'object' || update === null) throw v.invalidInput('provisioning template update');
      const name = v.name(templateName, 'templateName');
      const remove = v.bool(update.removePreProvisioningHook, 'removePreProvisioningHook', false);
      if (remove && update.preProvisioningHook !== undefined)
        throw v.invalidInput('update: preProvisioningHook and removePreProvisioningHook are mutually exclusive');
      const row = await requireTemplate(ctx, name, true);
      const next: Selectable<ProvisioningTemplatesTable> = { ...row, modified_at: ctx.now() };
      if (update.description !== undefined) next.description = v.optText(update.description, 'description', 500);
      if (update.enabled !== undefined) next.enabled = v.bool(update.enabled, 'enabled', false) ? 1 : 0;
      if (update.provisioningRoleArn !== undefined)
        next.provisioning_role_arn = v.nonEmpty(update.provisioningRoleArn, 'provisioningRoleArn', 2048);
      if (remove) next.pre_provisioning_hook = null;
      if (update.preProvisioningHook !== undefined) {
        if (row.type !== 'FLEET_PROVISIONING') throw v.invalidInput('preProvisioningHook: only FLEET_PROVISIONING templates have one');
        next.pre_provisioning_hook = JSON.stringify(hook(update.preProvisioningHook));
      }
      if (update.defaultVersionId !== undefined) {
        const id = v.int(update.defaultVersionId, 'defaultVersionId', 1, 2_147_483_647);
        await requireVersion(ctx, name, id);
        if (id !== row.default_version_id) {
          await ctx.db.updateTable('provisioning_template_versions').set({ is_default: 0 }).where('template_name', '=', name).execute();
          await ctx.db
            .updateTable('provisioning_template_versions')
            .set({ is_default: 1 })
            .where('template_name', '=', name)
            .where('version_id', '=', id)
            .execute();
          next.default_version_id = id;
        }
      }
      await ctx.db
        .updateTable('provisioning_templates')
        .set({
          description: next.description,
          enabled: next.enabled,
          provisioning_role_arn: next.provisioning_role_arn,
          pre_provisioning_hook: next.pre_provisioning_hook,
          default_version_id: next.default_version_id,
          modified_at: next.modified_at as number,
        })
        .where('name', '=', name)
        .execute();
      const out = await withBody(ctx).where('t.name', '=', name).executeTakeFirstOrThrow();
      return toTemplate(out);
    });
  }

  /** TemplateStore.delete. */
  delete(templateName: unknown): Promise<void> {
    return this.#s.write(async (ctx) => {
      const name = v.name(templateName, 'templateName');
      const row = await requireTemplate(ctx, name, true);
      const ca = await ctx.db
        .selectFrom('ca_certificates')
        .select('id')
        .where('registration_template_name', '=', name)
        .limit(1)
        .executeTakeFirst();
      if (ca) {
        throw new RegistryError('DeleteConflict', `CA certificate ${ca.id} uses provisioning template ${JSON.stringify(name)}`, {
          resourceType: 'provisioning-template',
          resourceId: name,
          resourceArn: row.arn,
        });
      }
      await ctx.db.deleteFrom('provisioning_templates').where('name', '=', name).execute();
    });
  }

  /** TemplateStore.createVersion. */
  createVersion(templateName: unknown, rawBody: unknown, opts: { setAsDefault?: boolean } = {}): Promise<TemplateVersionRow> {
    return this.#s.write(async (ctx) => {
      const name = v.name(templateName, 'templateName');
      const body = v.text(rawBody, 'templateBody');
      const setAsDefault = v.bool(opts.setAsDefault, 'setAsDefault', false);
      const row = await requireTemplate(ctx, name, true);
      const count = await ctx.db
        .selectFrom('provisioning_template_versions')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('template_name', '=', name)
        .executeTakeFirstOrThrow();
      if (Number(count.n) >= ctx.limits.maxTemplateVersions) {
        throw new RegistryError(
          'VersionsLimitExceeded',
          `template ${JSON.stringify(name)} already has ${ctx.limits.maxTemplateVersions} versions; delete one first`,
          {
            resourceType: 'provisioning-template',
            resourceId: name,
            resourceArn: row.arn,
          },
        );
      }
      const versionId = row.last_version_id + 1;
      const now = ctx.now();
      if (setAsDefault)
        await ctx.db.updateTable('provisioning_template_versions').set({ is_default: 0 }).where('template_name', '=', name).execute();
      const version = { template_name: name, version_id: versionId, body, is_default: setAsDefault ? 1 : 0, created_at: now };
      await ctx.db.insertInto('provisioning_template_versions').values(version).execute();
      await ctx.db
        .updateTable('provisioning_templates')
        .set({ last_version_id: versionId, modified_at: now, ...(setAsDefault ? { default_version_id: versionId } : {}) })
        .where('name', '=', name)
        .execute();
      return toTemplateVersion(version);
    });
  }

  /** TemplateStore.getVersion. */
  getVersion(templateName: unknown, versionId: unknown): Promise<TemplateVersionRow | null> {
    return this.#s.read(async (ctx) => {
      if (typeof templateName !== 'string' || typeof versionId !== 'number' || !Number.isSafeInteger(versionId)) return null;
      const row = await ctx.db
        .selectFrom('provisioning_template_versions')
        .selectAll()
        .where('template_name', '=', templateName)
        .where('version_id', '=', versionId)
        .executeTakeFirst();
      return row ? toTemplateVersion(row) : null;
    });
  }

  /** TemplateStore.listVersions. Keyset over version id. */
  listVersions(templateName: unknown, req: TokenPageRequest = {}): Promise<TokenPage<TemplateVersionRow>> {
    return this.#s.read(async (ctx) => {
      const name = v.name(templateName, 'templateName');
      const size = pageSize(req.maxResults, 'maxResults');
      const after = decodeCursor('template-versions', req.nextToken, 'n');
      await requireTemplate(ctx, name, false);
      let qb = ctx.db.selectFrom('provisioning_template_versions').selectAll().where('template_name', '=', name);
      if (after) qb = qb.where('version_id', '>', after[0] as number);
      const rows = (
        await qb
          .orderBy('version_id')
          .limit(size + 1)
          .execute()
      ).map(toTemplateVersion);
      const page = cutPage(rows, size, (r) => [r.versionId]);
      return page.nextKey ? { items: page.items, nextToken: encodeCursor('template-versions', page.nextKey) } : { items: page.items };
    });
  }

  /** TemplateStore.deleteVersion. */
  deleteVersion(templateName: unknown, versionId: unknown): Promise<void> {
    return this.#s.write(async (ctx) => {
      const name = v.name(templateName, 'templateName');
      const id = v.int(versionId, 'versionId', 1, 2_147_483_647);
      const row = await requireTemplate(ctx, name, true);
      await requireVersion(ctx, name, id);
      if (row.default_version_id === id) {
        throw new RegistryError(
          'DeleteConflict',
          `version ${id} is the default version of template ${JSON.stringify(name)}; set another default first`,
          {
            resourceType: 'provisioning-template-version',
            resourceId: `${name}:${id}`,
          },
        );
      }
      await ctx.db.deleteFrom('provisioning_template_versions').where('template_name', '=', name).where('version_id', '=', id).execute();
    });
  }
}
