/**
 * AWS's event configurations (Describe/UpdateEventConfigurations): which registry event types are
 * published on `$aws/events/...`. As on AWS every type starts disabled; the provisioning event log
 * records every change regardless. Stored in the registry settings, so every server sharing a
 * database sees the same configuration (each re-reads it at most once a second).
 */
import type { Registry } from '../registry/index.js';

/** AWS `EventType`. */
export const EVENT_TYPES = [
  'THING',
  'THING_GROUP',
  'THING_TYPE',
  'THING_GROUP_MEMBERSHIP',
  'THING_GROUP_HIERARCHY',
  'THING_TYPE_ASSOCIATION',
  'JOB',
  'JOB_EXECUTION',
  'POLICY',
  'CERTIFICATE',
  'CA_CERTIFICATE',
] as const;

/** One AWS event type. */
export type EventType = (typeof EVENT_TYPES)[number];

/** Settings key of the stored configuration. */
export const EVENT_CONFIGURATIONS_SETTING = 'event-configurations';

/** The stored configuration. */
export interface EventConfigurations {
  enabled: Record<EventType, boolean>;
  /** Epoch ms; null until first updated. */
  createdAt: number | null;
  modifiedAt: number | null;
}

function defaults(): EventConfigurations {
  const enabled = Object.fromEntries(EVENT_TYPES.map((t) => [t, false])) as Record<EventType, boolean>;
  return { enabled, createdAt: null, modifiedAt: null };
}

/** The configuration in the registry (all disabled when never set or unreadable). */
export async function readEventConfigurations(registry: Registry): Promise<EventConfigurations> {
  const text = await registry.settings.get(EVENT_CONFIGURATIONS_SETTING);
  const config = defaults();
  if (text === null) return config;
  try {
    const stored = JSON.parse(text) as { enabled?: Record<string, unknown>; createdAt?: unknown; modifiedAt?: unknown };
    for (const type of EVENT_TYPES) if (stored.enabled?.[type] === true) config.enabled[type] = true;
    if (typeof stored.createdAt === 'number') config.createdAt = stored.createdAt;
    if (typeof stored.modifiedAt === 'number') config.modifiedAt = stored.modifiedAt;
  } catch {
    // A damaged setting disables publishing; the next update rewrites it.
  }
  return config;
}

/** Applies an update (types not named keep their value) in one transaction and returns the result. */
export async function updateEventConfigurations(
  registry: Registry,
  changes: Partial<Record<EventType, boolean>>,
  now: number,
): Promise<EventConfigurations> {
  return registry.transaction(async (tx) => {
    const config = await readEventConfigurations(tx);
    for (const [type, value] of Object.entries(changes)) config.enabled[type as EventType] = value === true;
    config.createdAt ??= now;
    config.modifiedAt = now;
    await tx.settings.set(EVENT_CONFIGURATIONS_SETTING, JSON.stringify(config));
    return config;
  });
}

/** A cached reader: re-reads the setting at most every `ttlMs`. */
export function cachedEventConfigurations(registry: Registry, ttlMs = 1000): { get(): Promise<EventConfigurations>; invalidate(): void } {
  let value: EventConfigurations | null = null;
  let readAt = 0;
  return {
    async get() {
      const t = performance.now();
      if (value === null || t - readAt >= ttlMs) {
        value = await readEventConfigurations(registry);
        readAt = t;
      }
      return value;
    },
    invalidate() {
      value = null;
    },
  };
}
