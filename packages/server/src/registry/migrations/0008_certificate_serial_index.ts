/**
 * Registry migration 0008_certificate_serial_index (see index.ts). Never edit a released migration.
 */
import type { Kysely, Migration } from 'kysely';

// Kysely's Migration interface takes Kysely<any>: migrations run against a schema that is still being built.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type AnyDb = Kysely<any>;

/** Certificates by serial number: the OCSP responder looks certificates up by the serial a request names. */
export function certificateSerialIndex(): Migration {
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema.createIndex('certificates_serial').on('certificates').column('serial').execute();
    },
  };
}
