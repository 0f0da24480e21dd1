/**
 * A real MQTT broker (aedes) behind a mutual-TLS listener on 127.0.0.1, with
 * hooks to refuse connects, subscriptions and publishes the way AWS IoT does
 * (CONNACK 5, SUBACK 0x80, closing the connection on a denied PUBLISH).
 *
 * It knows nothing about fleet provisioning: tests use it to exercise the
 * MQTT transport layer of the device client.
 */

import { Aedes, type Client } from 'aedes';
import { createHash, type X509Certificate } from 'node:crypto';
import { createServer, type TLSSocket } from 'node:tls';
import { createTestCa, type PemPair, type TestCa } from './pki.js';

/** Hooks deciding what the broker allows. */
export interface BrokerPolicy {
  /** Refuse the CONNECT (CONNACK 5) when this returns false. */
  allowConnect?: (clientId: string, certificateId: string) => boolean;
  /** Refuse a subscription (SUBACK 0x80) when this returns false. */
  allowSubscribe?: (filter: string) => boolean;
  /** Refuse a publish (connection closed, no PUBACK) when this returns false. */
  allowPublish?: (topic: string) => boolean;
  /** Called for every publish from a client. */
  onPublish?: (topic: string, payload: Buffer, reply: (topic: string, payload: Buffer | string) => void) => void;
}

/** A running test broker. */
export interface TestBroker {
  port: number;
  ca: TestCa;
  /** A client certificate issued by the broker's CA. */
  client: PemPair;
  /** Client ids that connected successfully. */
  connectedClientIds: string[];
  policy: BrokerPolicy;
  close(): Promise<void>;
}

function certificateIdOf(client: Client): string {
  const socket = (client as unknown as { conn: TLSSocket }).conn;
  const peer: X509Certificate | undefined = socket.getPeerX509Certificate?.();
  return peer === undefined ? '' : createHash('sha256').update(peer.raw).digest('hex');
}

/** Starts a broker on an ephemeral port. */
export async function startTlsBroker(policy: BrokerPolicy = {}): Promise<TestBroker> {
  const ca = await createTestCa('test broker CA');
  const serverPair = await ca.issue({ commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], server: true });
  const clientPair = await ca.issue({ commonName: 'test client' });
  const connectedClientIds: string[] = [];
  const broker = await Aedes.createBroker({
    authenticate: (client, _user, _password, done) => {
      const allowed = policy.allowConnect?.(client.id, certificateIdOf(client)) ?? true;
      if (!allowed) {
        done(Object.assign(new Error('not authorized'), { returnCode: 5 }) as never, false);
        return;
      }
      connectedClientIds.push(client.id);
      done(null, true);
    },
    authorizeSubscribe: (_client, subscription, done) => {
      done(null, policy.allowSubscribe?.(subscription.topic) === false ? null : subscription);
    },
    authorizePublish: (_client, packet, done) => {
      done(policy.allowPublish?.(packet.topic) === false ? new Error('denied') : null);
    },
  });
  broker.on('publish', (packet, client) => {
    if (client === null || policy.onPublish === undefined) return;
    const reply = (topic: string, payload: Buffer | string): void => {
      client.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false } as never, () => {});
    };
    policy.onPublish(packet.topic, Buffer.from(packet.payload), reply);
  });
  const server = createServer(
    { key: serverPair.keyPem, cert: serverPair.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
    (socket) => broker.handle(socket),
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    ca,
    client: clientPair,
    connectedClientIds,
    policy,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
