/**
 * Request-level cases every new control-plane route is tried with: a client signing with the
 * wrong secret or an unknown key (the SigV4 refusals), and one signed request sent twice (a
 * replay: SigV4 has no nonce, so the second copy is answered like any repeated call).
 */
import assert from 'node:assert/strict';
import type { IoTClient } from '@aws-sdk/client-iot';
import { ADMIN, iotClient, rawRequest, signForWire, smithySigner, type RawResponse, type RequestToSign } from '../api/helpers.js';
import { assertUnchanged, expectAwsError, type RoutesEnv } from './helpers.js';

/** A client of `env` whose requests carry a signature made with the wrong secret. */
export function wrongSecretClient(env: RoutesEnv): IoTClient {
  return iotClient(
    env.baseUrl,
    { accessKeyId: ADMIN.accessKeyId, secretAccessKey: 'not-the-secret-000000000000000000000000' },
    { ca: env.ca.rootCertificatePem },
  );
}

/** A client of `env` with an access key the server does not know. */
export function unknownKeyClient(env: RoutesEnv): IoTClient {
  return iotClient(
    env.baseUrl,
    { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: ADMIN.secretAccessKey },
    { ca: env.ca.rootCertificatePem },
  );
}

/**
 * Sends `send(client)` with a wrong secret and with an unknown key: each must be refused before
 * the operation runs (InvalidSignatureException / UnrecognizedClientException, 403) and change nothing.
 */
export async function assertSigV4Refusals(env: RoutesEnv, send: (client: IoTClient) => Promise<unknown>): Promise<void> {
  const wrong = wrongSecretClient(env);
  const unknown = unknownKeyClient(env);
  try {
    await assertUnchanged(env.registry, async () => {
      await expectAwsError(send(wrong), 'InvalidSignatureException', { status: 403 });
      await expectAwsError(send(unknown), 'UnrecognizedClientException', { status: 403 });
    });
  } finally {
    wrong.destroy();
    unknown.destroy();
  }
}

/** Signs `req` once (with the admin keys) and sends the very same bytes `times` times. */
export async function replaySigned(env: RoutesEnv, req: RequestToSign, times = 2): Promise<RawResponse[]> {
  const { path, headers } = await signForWire(env.baseUrl, req, smithySigner(ADMIN));
  const out: RawResponse[] = [];
  for (let i = 0; i < times; i++) {
    out.push(
      await rawRequest(env.baseUrl, {
        method: req.method,
        path,
        headers,
        ...(req.body === undefined ? {} : { body: req.body }),
        ca: env.ca.rootCertificatePem,
      }),
    );
  }
  return out;
}

/** Asserts a raw response is the AWS error `errorType` with `status`. */
export function assertRawError(res: RawResponse, status: number, errorType: string): void {
  assert.equal(res.status, status, res.body);
  assert.equal(res.headers['x-amzn-errortype'], errorType, res.body);
}
