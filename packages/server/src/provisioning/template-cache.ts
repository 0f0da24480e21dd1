/**
 * Parsed provisioning templates, cached by name and default version so RegisterThing does not
 * re-validate the body on every request. A hit also requires the same body text: a template deleted
 * and re-created under the same name starts again at version 1 with another body.
 */
import { parseTemplate, type ParsedTemplate } from '../templates/index.js';
import type { TemplateRow } from '../registry/index.js';

interface Entry {
  body: string;
  parsed: ParsedTemplate;
}

/** An LRU of parsed templates. */
export class TemplateCache {
  readonly #max: number;
  readonly #entries = new Map<string, Entry>();

  /** @param maxEntries templates kept (least recently used go first); default 256 */
  constructor(maxEntries = 256) {
    this.#max = Math.max(1, Math.floor(maxEntries));
  }

  /**
   * The parsed default version of `template`.
   * @throws {TemplateError} `InvalidTemplate` when the stored body does not parse
   */
  get(template: TemplateRow): ParsedTemplate {
    const key = `${template.name}@${template.defaultVersionId}`;
    const hit = this.#entries.get(key);
    if (hit !== undefined && hit.body === template.body) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit.parsed;
    }
    const parsed = parseTemplate(template.body, { type: template.type });
    this.#entries.delete(key);
    this.#entries.set(key, { body: template.body, parsed });
    while (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
    return parsed;
  }

  /** Number of cached templates. */
  get size(): number {
    return this.#entries.size;
  }
}
