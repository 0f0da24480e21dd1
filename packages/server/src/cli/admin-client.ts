import https from 'node:https';
import { readFile } from 'node:fs/promises';
import { IoTClient } from '@aws-sdk/client-iot';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { readSharedCredentialsFile } from '../api/credentials.js';
import { CliError } from './io.js';

/** Where and how to reach a fleetprov control plane. */
export interface AdminTarget {
  /** `https://host:port` of the control plane. */
  endpoint: string;
  /** AWS shared-credentials file with the admin keys (profile `default`). */
  credentialsPath: string;
  /** CA bundle that signed the server certificate (the data dir's `ca/root-ca.pem`). */
  caPath: string;
  region?: string;
}

/** What signing requests to a control plane takes: the CA to trust and the admin keys. */
export interface AdminMaterial {
  ca: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

/**
 * Reads the CA file and the credentials file `target` names.
 * @throws {CliError} saying which file is missing and which option passes it
 */
export async function loadAdminMaterial(target: AdminTarget): Promise<AdminMaterial> {
  let ca: string;
  try {
    ca = await readFile(target.caPath, 'utf8');
  } catch {
    throw new CliError(`cannot read the CA file ${target.caPath}; pass --ca (the server's DATA_DIR/ca/root-ca.pem)`);
  }
  const creds = await readSharedCredentialsFile(target.credentialsPath).catch(() => undefined);
  if (!creds?.accessKeyId || !creds.secretAccessKey) {
    throw new CliError(`no admin credentials in ${target.credentialsPath}; pass --credentials (the server's DATA_DIR/credentials)`);
  }
  return { ca, accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, region: target.region ?? 'us-east-1' };
}

/** An `@aws-sdk/client-iot` client for a fleetprov server: the same client works against AWS. */
export async function createAdminClient(target: AdminTarget): Promise<IoTClient> {
  const { ca, accessKeyId, secretAccessKey, region } = await loadAdminMaterial(target);
  return new IoTClient({
    endpoint: target.endpoint,
    region,
    credentials: { accessKeyId, secretAccessKey },
    requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca, keepAlive: true }) }),
    maxAttempts: 2,
  });
}
