/** The part of aedes-persistence-redis' promise API (asyncPersistence.js) fleetprov uses. */
declare module 'aedes-persistence-redis/asyncPersistence.js' {
  import type { Redis } from 'ioredis';
  class AsyncRedisPersistence {
    constructor(opts: { conn?: Redis; maxSessionDelivery?: number; packetTTL?: (packet: unknown) => number });
    setup(broker: unknown): Promise<void>;
    destroy(): Promise<void>;
    createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown>;
    createRetainedStream(pattern: string): AsyncIterable<unknown>;
  }
  export = AsyncRedisPersistence;
}
