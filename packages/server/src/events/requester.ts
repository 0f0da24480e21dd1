/**
 * Who asked for the registry change being made: set per request by the control plane (the SigV4
 * access key id, or the console session's) and read by the event log (observed-registry.ts), so
 * `registry` rows say who issued, revoked or deleted a certificate. Carried in an AsyncLocalStorage,
 * so the stores need no extra parameter; outside a request (provisioning over MQTT, the sweeper, the
 * rotation monitor) there is none and the row says nothing.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The principal a change is attributed to. */
export interface Requester {
  /** `admin`: a SigV4-signed control-plane request; `console`: a console session. */
  readonly kind: 'admin' | 'console';
  /** The access key id that signed the request or opened the session. */
  readonly accessKeyId: string;
  /** The console session id (safe to log), for `console`. */
  readonly sessionId?: string;
}

const storage = new AsyncLocalStorage<Requester>();

/** Attributes everything that runs from now on in this async context to `requester`. */
export function enterRequester(requester: Requester): void {
  storage.enterWith(requester);
}

/** The requester of the current async context, or undefined. */
export function currentRequester(): Requester | undefined {
  return storage.getStore();
}
