/**
 * Minimal `Reflect` metadata shim.
 *
 * `@peculiar/x509` uses `tsyringe`, which refuses to load unless `Reflect.getMetadata` exists
 * (normally provided by the `reflect-metadata` package, which is not a dependency of this project).
 * tsyringe only calls `getMetadata`, `getOwnMetadata` and `defineMetadata`, so this module installs
 * those three (backed by a WeakMap) when, and only when, no polyfill is present. It must be imported
 * before `@peculiar/x509`; `./x509.js` does that.
 */

type MetadataTarget = object;
type MetadataStore = WeakMap<MetadataTarget, Map<string | symbol | undefined, Map<unknown, unknown>>>;

interface ReflectMetadataApi {
  getMetadata?: (key: unknown, target: MetadataTarget, property?: string | symbol) => unknown;
  getOwnMetadata?: (key: unknown, target: MetadataTarget, property?: string | symbol) => unknown;
  defineMetadata?: (key: unknown, value: unknown, target: MetadataTarget, property?: string | symbol) => void;
}

const reflect = Reflect as unknown as ReflectMetadataApi;

if (typeof reflect.getMetadata !== 'function') {
  const store: MetadataStore = new WeakMap();

  const ownMap = (target: MetadataTarget, property: string | symbol | undefined, create: boolean) => {
    let byProperty = store.get(target);
    if (!byProperty) {
      if (!create) return undefined;
      byProperty = new Map();
      store.set(target, byProperty);
    }
    let entries = byProperty.get(property);
    if (!entries && create) {
      entries = new Map();
      byProperty.set(property, entries);
    }
    return entries;
  };

  const getOwnMetadata = (key: unknown, target: MetadataTarget, property?: string | symbol): unknown =>
    ownMap(target, property, false)?.get(key);

  const getMetadata = (key: unknown, target: MetadataTarget, property?: string | symbol): unknown => {
    let current: MetadataTarget | null = target;
    // Walk the prototype chain like reflect-metadata does (bounded by the chain's finite length).
    while (current !== null && current !== undefined) {
      const entries = ownMap(current, property, false);
      if (entries?.has(key)) return entries.get(key);
      current = Object.getPrototypeOf(current) as MetadataTarget | null;
    }
    return undefined;
  };

  const defineMetadata = (key: unknown, value: unknown, target: MetadataTarget, property?: string | symbol): void => {
    ownMap(target, property, true)?.set(key, value);
  };

  Object.defineProperties(Reflect, {
    getOwnMetadata: { value: getOwnMetadata, configurable: true, writable: true },
    getMetadata: { value: getMetadata, configurable: true, writable: true },
    defineMetadata: { value: defineMetadata, configurable: true, writable: true },
  });
}

export {};
