/**
 * Registry migration 0006_thing_type_searchable_attributes (see index.ts). Never edit a released migration.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { RegistryDialect } from '../common-types.js';

// Kysely's Migration interface takes Kysely<any>: migrations run against a schema that is still being built.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type AnyDb = Kysely<any>;

/**
 * 0006_thing_type_searchable_attributes: a thing type's `searchableAttributes`
 * (CreateThingType `thingTypeProperties`), a JSON array of attribute names; null for a type created
 * without them (and for every type created before this migration).
 */
export function thingTypeSearchableAttributes(_dialect: RegistryDialect): Migration {
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .alterTable('thing_types')
        .addColumn('searchable_attributes', sql`text`)
        .execute();
    },
  };
}
