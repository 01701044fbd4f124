/**
 * Minimal `Reflect` metadata polyfill.
 *
 * @peculiar/x509 resolves its algorithm providers through tsyringe, which
 * refuses to load unless `Reflect.getMetadata` exists. Only the handful of
 * functions tsyringe and tslib call are provided, and nothing is replaced if a
 * full polyfill is already installed. Import this before @peculiar/x509.
 */
export {};

type Key = string | symbol | undefined;
type MetadataMap = Map<unknown, unknown>;

const store = new WeakMap<object, Map<Key, MetadataMap>>();

function ownMap(target: object, property: Key, create: boolean): MetadataMap | undefined {
    let byProperty = store.get(target);
    if (!byProperty) {
        if (!create) {
            return undefined;
        }
        byProperty = new Map();
        store.set(target, byProperty);
    }
    let map = byProperty.get(property);
    if (!map && create) {
        map = new Map();
        byProperty.set(property, map);
    }
    return map;
}

const reflect = Reflect as unknown as Record<string, unknown>;

if (typeof reflect.getMetadata !== "function") {
    const defineMetadata = (key: unknown, value: unknown, target: object, property?: Key) => {
        ownMap(target, property, true)!.set(key, value);
    };
    const getOwnMetadata = (key: unknown, target: object, property?: Key) => ownMap(target, property, false)?.get(key);
    // Like reflect-metadata: own metadata first, then up the prototype chain.
    const getMetadata = (key: unknown, target: object, property?: Key): unknown => {
        for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
            const map = ownMap(t, property, false);
            if (map?.has(key)) {
                return map.get(key);
            }
        }
        return undefined;
    };
    const hasMetadata = (key: unknown, target: object, property?: Key) =>
        getMetadata(key, target, property) !== undefined;
    const metadata = (key: unknown, value: unknown) => (target: object, property?: Key) =>
        defineMetadata(key, value, target, property);
    Object.assign(reflect, { defineMetadata, getOwnMetadata, getMetadata, hasMetadata, metadata });
}
