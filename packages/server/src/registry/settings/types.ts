/**
 * Key-value settings shared by every server process on the database.
 * Timestamps are epoch milliseconds; getters return null for a missing resource.
 */

/** The settings store of a `Registry` (`registry.settings`). */
export interface SettingStore {
  /** A setting's value, or null. */
  get(key: string): Promise<string | null>;
  /** Sets (inserts or replaces) a setting. */
  set(key: string, value: string): Promise<void>;
  /**
   * Returns the stored value, storing `value` first if the key is absent. Of two processes racing,
   * both get the value that won.
   */
  ensure(key: string, value: string): Promise<string>;
  /** Deletes a setting. False when absent. */
  delete(key: string): Promise<boolean>;
}
