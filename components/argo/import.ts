/**
 * Argo Events EventBus manifest import: the YAML a migrating user already has (or `kubectl get eventbus
 * default -o yaml` prints) becomes the name and args of an {@link EventBus}.
 *
 * Only the shape is checked here: required fields, types and unknown keys, with errors naming the
 * manifest path (`spec.jetstream.replicas`). Values (replica counts, sizes, versions) are checked in one
 * place, by the EventBus itself, and no defaults are applied here.
 */
import { parseAllDocuments } from "yaml";
import type { EventBusArgs, JetStreamBusArgs, JetStreamExoticArgs, PersistenceArgs } from "../args";
import { describeType, InputError, isPlainObject, rejectUnknownKeys } from "../check";
import { checkPodFields, POD_FIELDS } from "../kube/pod-fields";

/** The only Argo EventBus API version (Argo Events, https://github.com/argoproj/argo-events). */
export const ARGO_API_VERSION = "argoproj.io/v1alpha1";
/** The kind of an Argo EventBus. */
export const ARGO_KIND = "EventBus";

/** Top-level keys of a manifest: `status` is ignored, as `kubectl get -o yaml` prints it. */
const TOP_LEVEL_KEYS = ["apiVersion", "kind", "metadata", "spec", "status"] as const;
/** Bus kinds of an Argo EventBus `spec`. */
const SPEC_KEYS = ["nats", "jetstream", "kafka", "jetstreamExotic"] as const;
/** The 19 fields of Argo's `JetStreamBus`, each one an argument of ours. */
export const ARGO_JETSTREAM_KEYS = [
    "version",
    "replicas",
    "containerTemplate",
    "reloaderContainerTemplate",
    "metricsContainerTemplate",
    "persistence",
    "metadata",
    "nodeSelector",
    "tolerations",
    "securityContext",
    "imagePullSecrets",
    "priorityClassName",
    "priority",
    "affinity",
    "serviceAccountName",
    "settings",
    "startArgs",
    "streamConfig",
    "maxPayload",
] as const satisfies readonly (keyof JetStreamBusArgs)[];
/** Argo's `PersistenceStrategy`. */
const PERSISTENCE_KEYS = [
    "storageClassName",
    "accessMode",
    "volumeSize",
] as const satisfies readonly (keyof PersistenceArgs)[];
/** Argo's `JetStreamConfig` as `spec.jetstreamExotic`. */
const EXOTIC_KEYS = [
    "url",
    "accessSecret",
    "streamConfig",
    "tls",
] as const satisfies readonly (keyof JetStreamExoticArgs)[];
/** Argo's `TLSConfig` (https://github.com/argoproj/argo-events/issues/3381). */
const TLS_KEYS = ["caCertSecret", "clientCertSecret", "clientKeySecret", "insecureSkipVerify", "enabled"] as const;
/** Kubernetes `SecretKeySelector` as Argo uses it. */
const SECRET_KEY_SELECTOR_KEYS = ["name", "key", "optional"] as const;

/** A reference to one key of a Kubernetes Secret. */
export interface ArgoSecretKeyRef {
    name: string;
    key: string;
}

/** Argo's `tls` of `jetstreamExotic`, passed through to {@link JetStreamExoticArgs}. */
export interface ArgoExoticTls {
    caCertSecret?: ArgoSecretKeyRef;
    clientCertSecret?: ArgoSecretKeyRef;
    clientKeySecret?: ArgoSecretKeyRef;
    insecureSkipVerify?: boolean;
    enabled?: boolean;
}

/** The result of {@link fromArgoEventBus}: `new EventBus(name, args)`. */
export interface ImportedEventBus {
    /** The manifest's `metadata.name`, to be used as the component name (and so as `busName`). */
    name: string;
    args: EventBusArgs;
}

type Doc = Record<string, unknown>;

/**
 * Converts an Argo Events `EventBus` manifest into EventBus args.
 *
 * @param manifest YAML text (one document, or several of which exactly one is an EventBus; a `kind: List`
 *   as `kubectl get -o yaml` prints is read the same way), or an already parsed object.
 * @throws InputError naming the manifest field at fault, e.g. `spec.jetstream.replica: unknown field
 *   (did you mean "replicas"?)`.
 */
export function fromArgoEventBus(manifest: string | object): ImportedEventBus {
    const eventBus = selectEventBus(manifest);
    return convertEventBus(eventBus);
}

/** The one EventBus document of the input. */
function selectEventBus(manifest: string | object): Doc {
    if (manifest instanceof Uint8Array) {
        manifest = Buffer.from(manifest).toString("utf8");
    }
    let documents: unknown[];
    if (typeof manifest === "string") {
        documents = parseYamlDocuments(manifest);
    } else if (manifest === null || typeof manifest !== "object" || Array.isArray(manifest)) {
        throw new InputError("manifest", `must be YAML text or an object, got ${describeType(manifest)}`);
    } else {
        documents = [manifest];
    }
    documents = documents.flatMap(expandList).filter((document) => document !== null && document !== undefined);
    if (documents.length === 0) {
        throw new InputError("manifest", "is empty: expected an Argo Events EventBus");
    }
    const eventBuses = documents.filter((document) => isPlainObject(document) && document.kind === ARGO_KIND);
    if (eventBuses.length > 1) {
        throw new InputError(
            "manifest",
            `holds ${eventBuses.length} EventBus documents; expected exactly one (split the file, one EventBus per stack)`,
        );
    }
    if (eventBuses.length === 1) {
        return checkDocument(eventBuses[0]);
    }
    if (documents.length === 1) {
        return checkDocument(documents[0]); // reports what is wrong with its apiVersion or kind
    }
    throw new InputError(
        "manifest",
        `holds ${documents.length} documents and none is an EventBus (kind: ${ARGO_KIND}, apiVersion: ${ARGO_API_VERSION})`,
    );
}

function parseYamlDocuments(text: string): unknown[] {
    const documents = parseAllDocuments(text);
    if (!Array.isArray(documents)) {
        return []; // only comments and directives
    }
    return documents.map((document, index) => {
        const error = document.errors[0];
        if (error !== undefined) {
            const where = documents.length > 1 ? ` in document ${index + 1}` : "";
            throw new InputError("manifest", `is not valid YAML${where}: ${error.message}`);
        }
        return document.toJS();
    });
}

/** The items of a `kind: List` (as `kubectl get eventbus -o yaml` prints), or the document itself. */
function expandList(document: unknown): unknown[] {
    if (
        isPlainObject(document) &&
        document.kind === "List" &&
        document.apiVersion === "v1" &&
        Array.isArray(document.items)
    ) {
        return document.items;
    }
    return [document];
}

/** An apiVersion or kind as written: such names are never secret, and seeing them helps. */
function describeTypeName(value: unknown): string {
    return typeof value === "string" && value.length <= 100 ? JSON.stringify(value) : describeType(value);
}

/** apiVersion and kind of an EventBus, and no unknown top-level key. */
function checkDocument(document: unknown): Doc {
    if (!isPlainObject(document)) {
        throw new InputError("manifest", `must be a mapping (an EventBus object), got ${describeType(document)}`);
    }
    if (document.apiVersion !== ARGO_API_VERSION) {
        throw new InputError(
            "apiVersion",
            `expected "${ARGO_API_VERSION}" (an Argo Events EventBus), got ${describeTypeName(document.apiVersion)}`,
        );
    }
    if (document.kind !== ARGO_KIND) {
        throw new InputError("kind", `expected "${ARGO_KIND}", got ${describeTypeName(document.kind)}`);
    }
    rejectUnknownKeys(document, TOP_LEVEL_KEYS, "");
    return document;
}

function convertEventBus(document: Doc): ImportedEventBus {
    const metadata = document.metadata;
    if (!isPlainObject(metadata)) {
        throw new InputError(
            "metadata",
            metadata === undefined || metadata === null
                ? "is required (with a name)"
                : `must be a mapping, got ${describeType(metadata)}`,
        );
    }
    // Other metadata (annotations, uid, resourceVersion, managedFields, ...) is what the API server
    // adds or what the EventBus does not use: ignored, so `kubectl get -o yaml` output imports as is.
    const name = metadata.name;
    if (name === undefined || name === null) {
        throw new InputError("metadata.name", "is required");
    }
    if (typeof name !== "string") {
        throw new InputError("metadata.name", `must be a string, got ${describeType(name)}`);
    }
    const args: EventBusArgs = {};
    const namespace = optionalString(metadata.namespace, "metadata.namespace");
    if (namespace !== undefined) {
        args.namespace = namespace;
    }
    const labels = optionalStringMap(metadata.labels, "metadata.labels");
    if (labels !== undefined) {
        args.labels = labels;
    }

    const spec = document.spec;
    if (spec === undefined || spec === null) {
        throw new InputError(
            "spec",
            "is required: set `jetstream` (a managed cluster) or `jetstreamExotic` (your own server)",
        );
    }
    requireObject(spec, "spec");
    rejectUnknownKeys(spec, SPEC_KEYS, "spec");
    refuseUnsupportedKinds(spec);
    const jetstream = spec.jetstream ?? undefined;
    const exotic = spec.jetstreamExotic ?? undefined;
    if (jetstream !== undefined && exotic !== undefined) {
        // Argo's controller silently prefers jetstream; here the ambiguity is an error.
        throw new InputError(
            "spec",
            "sets both `jetstream` and `jetstreamExotic`; keep exactly one (Argo would silently use `jetstream` and ignore `jetstreamExotic`)",
        );
    }
    if (jetstream !== undefined) {
        args.jetstream = convertJetStream(jetstream, "spec.jetstream");
    } else if (exotic !== undefined) {
        args.jetstreamExotic = convertExotic(exotic, "spec.jetstreamExotic");
    } else {
        throw new InputError(
            "spec",
            "has no bus: set `jetstream` (a managed cluster) or `jetstreamExotic` (your own server)",
        );
    }
    return { name, args };
}

/** Argo's other bus kinds, with how to move to JetStream. */
function refuseUnsupportedKinds(spec: Doc): void {
    if (spec.nats !== undefined && spec.nats !== null) {
        const exotic = isPlainObject(spec.nats) && spec.nats.exotic !== undefined && spec.nats.exotic !== null;
        throw new InputError(
            "spec.nats",
            "this package provides JetStream only, and Argo's NATS Streaming bus (`nats`) is deprecated. To migrate, " +
                (exotic
                    ? "point `spec.jetstreamExotic.url` at a NATS server with JetStream enabled, "
                    : "replace `nats:` with `jetstream: { version: <a NATS version> }` (a new bus with its own stream), ") +
                "then re-apply your EventSources and Sensors so they connect to it; events left in NATS Streaming are not carried over",
        );
    }
    if (spec.kafka !== undefined && spec.kafka !== null) {
        throw new InputError(
            "spec.kafka",
            "this package provides JetStream only; a Kafka bus stays with Argo Events. To migrate, replace `kafka:` with " +
                "`jetstream: { version: <a NATS version> }` (or `jetstreamExotic` for your own NATS server) and re-apply your EventSources and Sensors",
        );
    }
}

function convertJetStream(value: unknown, field: string): JetStreamBusArgs {
    requireObject(value, field);
    rejectUnknownKeys(value, ARGO_JETSTREAM_KEYS, field);
    const at = (key: string) => `${field}.${key}`;
    if (value.version === undefined || value.version === null) {
        throw new InputError(
            at("version"),
            'is required, e.g. `version: latest` or a NATS version such as "2.10.29" (Argo requires it too)',
        );
    }
    if (typeof value.version !== "string") {
        throw new InputError(
            at("version"),
            `must be a string, got ${describeType(value.version)}; quote it in YAML (version: "2.10") so it is not read as a number`,
        );
    }
    const out: JetStreamBusArgs = { version: value.version };
    set(out, "replicas", optionalNumber(value.replicas, at("replicas")));
    set(out, "persistence", optionalPersistence(value.persistence, at("persistence")));
    // Pod settings pass through as they are, after the same checks as the EventBus arguments.
    checkPodFields(value, field);
    for (const key of Object.keys(POD_FIELDS) as (keyof typeof POD_FIELDS)[]) {
        if (value[key] !== undefined && value[key] !== null) {
            (out as unknown as Record<string, unknown>)[key] = value[key];
        }
    }
    set(out, "settings", optionalText(value.settings, at("settings"), "settings: |"));
    set(out, "startArgs", optionalStringList(value.startArgs, at("startArgs")));
    set(out, "streamConfig", optionalText(value.streamConfig, at("streamConfig"), "streamConfig: |"));
    set(
        out,
        "maxPayload",
        optionalString(value.maxPayload, at("maxPayload"), 'quote it in YAML, e.g. maxPayload: "1MB"'),
    );
    return out;
}

function convertExotic(value: unknown, field: string): JetStreamExoticArgs {
    requireObject(value, field);
    rejectUnknownKeys(value, EXOTIC_KEYS, field);
    // Argo's controller requires the URL.
    if (value.url === undefined || value.url === null || value.url === "") {
        throw new InputError(
            `${field}.url`,
            "is required: the URL of your JetStream server, e.g. nats://nats.example.svc:4222",
        );
    }
    if (typeof value.url !== "string") {
        throw new InputError(`${field}.url`, `must be a string, got ${describeType(value.url)}`);
    }
    const out: { url: string; accessSecret?: ArgoSecretKeyRef; streamConfig?: string; tls?: ArgoExoticTls } = {
        url: value.url,
    };
    set(out, "accessSecret", optionalSecretKeyRef(value.accessSecret, `${field}.accessSecret`));
    set(out, "streamConfig", optionalText(value.streamConfig, `${field}.streamConfig`, "streamConfig: |"));
    set(out, "tls", optionalTls(value.tls, `${field}.tls`));
    // `tls` is Argo's TLSConfig; JetStreamExoticArgs carries the same keys.
    return out as JetStreamExoticArgs;
}

function optionalTls(value: unknown, field: string): ArgoExoticTls | undefined {
    if (value === undefined || value === null) {
        return undefined;
    }
    requireObject(value, field);
    rejectUnknownKeys(value, TLS_KEYS, field);
    const out: ArgoExoticTls = {};
    set(out, "caCertSecret", optionalSecretKeyRef(value.caCertSecret, `${field}.caCertSecret`));
    set(out, "clientCertSecret", optionalSecretKeyRef(value.clientCertSecret, `${field}.clientCertSecret`));
    set(out, "clientKeySecret", optionalSecretKeyRef(value.clientKeySecret, `${field}.clientKeySecret`));
    set(out, "insecureSkipVerify", optionalBoolean(value.insecureSkipVerify, `${field}.insecureSkipVerify`));
    set(out, "enabled", optionalBoolean(value.enabled, `${field}.enabled`));
    return out;
}

function optionalSecretKeyRef(value: unknown, field: string): ArgoSecretKeyRef | undefined {
    if (value === undefined || value === null) {
        return undefined;
    }
    requireObject(value, field);
    rejectUnknownKeys(value, SECRET_KEY_SELECTOR_KEYS, field);
    for (const key of ["name", "key"] as const) {
        if (value[key] === undefined || value[key] === null) {
            throw new InputError(`${field}.${key}`, "is required: a Secret reference needs both `name` and `key`");
        }
        if (typeof value[key] !== "string") {
            throw new InputError(`${field}.${key}`, `must be a string, got ${describeType(value[key], false)}`);
        }
    }
    return { name: value.name as string, key: value.key as string };
}

function optionalPersistence(value: unknown, field: string): PersistenceArgs | undefined {
    if (value === undefined || value === null) {
        return undefined; // Argo: no persistence, an emptyDir
    }
    requireObject(value, field);
    rejectUnknownKeys(value, PERSISTENCE_KEYS, field);
    const out: PersistenceArgs = {};
    set(out, "storageClassName", optionalString(value.storageClassName, `${field}.storageClassName`));
    set(out, "accessMode", optionalString(value.accessMode, `${field}.accessMode`) as PersistenceArgs["accessMode"]);
    // A Kubernetes quantity: YAML reads `volumeSize: 10` as a number, Kubernetes accepts both.
    const volumeSize = value.volumeSize;
    if (typeof volumeSize === "number") {
        out.volumeSize = String(volumeSize);
    } else {
        set(out, "volumeSize", optionalString(volumeSize, `${field}.volumeSize`));
    }
    return out;
}

// ---- type checks: absent (undefined or YAML null, which Kubernetes treats as unset) gives undefined ----

function optionalString(value: unknown, field: string, hint?: string): string | undefined {
    if (value === undefined || value === null) {
        return undefined;
    }
    if (typeof value !== "string") {
        throw new InputError(field, `must be a string, got ${describeType(value)}${hint ? `; ${hint}` : ""}`);
    }
    return value;
}

/** A text block (`settings`, `streamConfig`), which users sometimes write as a YAML mapping by mistake. */
function optionalText(value: unknown, field: string, blockScalar: string): string | undefined {
    if (isPlainObject(value) || Array.isArray(value)) {
        throw new InputError(
            field,
            `must be a string, got ${describeType(value)}; Argo takes this as text, written as a YAML block scalar (\`${blockScalar}\` followed by indented lines)`,
        );
    }
    return optionalString(value, field);
}

function optionalNumber(value: unknown, field: string): number | undefined {
    if (value === undefined || value === null) {
        return undefined;
    }
    if (typeof value !== "number") {
        throw new InputError(field, `must be a number, got ${describeType(value)}`);
    }
    return value;
}

function optionalBoolean(value: unknown, field: string): boolean | undefined {
    if (value === undefined || value === null) {
        return undefined;
    }
    if (typeof value !== "boolean") {
        throw new InputError(field, `must be true or false, got ${describeType(value)}`);
    }
    return value;
}

function optionalStringMap(value: unknown, field: string): Record<string, string> | undefined {
    if (value === undefined || value === null) {
        return undefined;
    }
    requireObject(value, field);
    for (const [key, item] of Object.entries(value)) {
        if (typeof item !== "string") {
            throw new InputError(`${field}.${key}`, `must be a string, got ${describeType(item)}; quote it in YAML`);
        }
    }
    return value as Record<string, string>;
}

function optionalStringList(value: unknown, field: string): string[] | undefined {
    if (value === undefined || value === null) {
        return undefined;
    }
    if (!Array.isArray(value)) {
        throw new InputError(field, `must be a list of strings, got ${describeType(value)}`);
    }
    value.forEach((item, index) => {
        if (typeof item !== "string") {
            throw new InputError(`${field}[${index}]`, `must be a string, got ${describeType(item)}; quote it in YAML`);
        }
    });
    return value;
}

function requireObject(value: unknown, field: string): asserts value is Doc {
    if (!isPlainObject(value)) {
        throw new InputError(field, `must be a mapping, got ${describeType(value, false)}`);
    }
}

/** Sets `target[key]` only when the value is present, so absent fields stay absent (no `undefined` keys). */
function set<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
    if (value !== undefined) {
        target[key] = value;
    }
}
