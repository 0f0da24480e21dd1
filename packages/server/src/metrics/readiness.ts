/**
 * The readiness probe behind `GET /readyz`: ready when the MQTT broker is listening and the registry
 * answers a trivial query in time. Changes of state are logged once, not on every probe.
 */
import type { Logger } from 'pino';

/** Registry setting read by the probe; it need not exist (a primary-key lookup either way). */
export const READINESS_PROBE_SETTING = 'fleetprov.readiness-probe';
/** How long the registry may take to answer the probe, ms. */
export const DEFAULT_READINESS_TIMEOUT_MS = 2000;

/** Options of {@link createReadinessProbe}. */
export interface ReadinessProbeOptions {
  /** The registry (only `getSetting` is used). */
  registry: { getSetting(key: string): Promise<string | null> };
  /** Whether the broker is listening. */
  brokerListening: () => boolean;
  /** See {@link DEFAULT_READINESS_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Where changes of readiness are logged. */
  logger?: Pick<Logger, 'info' | 'warn'>;
}

/** A probe: resolves true when ready, false otherwise; never rejects. */
export type ReadinessProbe = () => Promise<boolean>;

/** Creates the readiness probe for `buildApiApp({ readiness })`. */
export function createReadinessProbe(options: ReadinessProbeOptions): ReadinessProbe {
  const timeoutMs = options.timeoutMs ?? DEFAULT_READINESS_TIMEOUT_MS;
  let lastProblem: string | null = null;

  async function problem(): Promise<string | null> {
    if (!options.brokerListening()) return 'the MQTT broker is not listening';
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(() => options.registry.getSetting(READINESS_PROBE_SETTING)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return null;
    } catch (error) {
      return `the registry did not answer: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      clearTimeout(timer);
    }
  }

  return async () => {
    const current = await problem();
    if (current !== lastProblem) {
      if (current !== null) options.logger?.warn({ reason: current }, `not ready: ${current}`);
      else options.logger?.info('ready again');
      lastProblem = current;
    }
    return current === null;
  };
}
