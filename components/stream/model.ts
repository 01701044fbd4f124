/**
 * The JetStream stream configuration model: Argo Events' `streamConfig` YAML, a typed alternative
 * with the rest of JetStream's stream fields, and their merge into one normalized {@link StreamSpec}.
 *
 * Everything here is pure: no network, no Pulumi. Bad input throws an {@link InputError} whose
 * message starts with the path of the field at fault.
 */
import { parse as parseYaml } from "yaml";
import { describeType, didYouMean, InputError, isPlainObject, keysOf } from "../check";
import { formatDuration, parseDurationMs, parseNatsSize } from "../units";

/** Retention policy of a stream, as JetStream names it. */
export type RetentionPolicy = "limits" | "interest" | "workqueue";
/** What a full stream does with new messages: drop the oldest (`old`) or refuse the new one (`new`). */
export type DiscardPolicy = "old" | "new";
/** Where the stream keeps its messages. */
export type StorageType = "file" | "memory";
/** On-disk compression of the stream (nats-server 2.10+). */
export type CompressionType = "none" | "s2";

/**
 * The keys Argo's `streamConfig` YAML understands, in Argo's spelling. Argo reads them with viper,
 * so they are matched case-insensitively (Argo Events, https://github.com/argoproj/argo-events).
 */
export const ARGO_STREAM_CONFIG_KEYS = [
    "maxMsgs",
    "maxAge",
    "maxBytes",
    "replicas",
    "duplicates",
    "retention",
    "discard",
] as const;

/** One key of Argo's `streamConfig` YAML. */
export type ArgoStreamConfigKey = (typeof ARGO_STREAM_CONFIG_KEYS)[number];

/**
 * Argo's stream defaults, as written in `eventBus.jetstream.streamConfig` of its
 * `argo-events-controller-config` ConfigMap (manifests/base/controller-manager/controller-config.yaml;
 * Argo Events, https://github.com/argoproj/argo-events). `retention` 0 is limits and `discard` 0 is old.
 */
export const ARGO_STREAM_DEFAULTS = {
    maxMsgs: 50000,
    maxAge: "168h",
    maxBytes: -1,
    replicas: 3,
    duplicates: "300s",
    retention: 0,
    discard: 0,
} as const satisfies Record<ArgoStreamConfigKey, string | number>;

/** Argo's fixed stream name; its subjects are `default.*.*` (Argo Events, https://github.com/argoproj/argo-events). */
export const ARGO_STREAM_NAME = "default";

/** Argo's retention numbers, by position: 0 limits, 1 interest, 2 workqueue (PR #3151). */
const RETENTION_POLICIES: readonly RetentionPolicy[] = ["limits", "interest", "workqueue"];
/** Argo's discard numbers, by position: 0 old, 1 new (PR #3151). */
const DISCARD_POLICIES: readonly DiscardPolicy[] = ["old", "new"];
const STORAGE_TYPES: readonly StorageType[] = ["file", "memory"];
const COMPRESSION_TYPES: readonly CompressionType[] = ["none", "s2"];

/** Where JetStream should place the stream's replicas. */
export interface StreamPlacementInput {
    /** Name of the cluster to place the stream in. */
    cluster?: string;
    /** Server tags the replicas' servers must all carry. */
    tags?: string[];
}

/**
 * Typed stream settings: Argo's `streamConfig` keys plus the rest of JetStream's `StreamConfig`,
 * in camelCase. Every field is optional; unset fields keep Argo's default (for Argo's keys) or
 * JetStream's default (for the others). When combined with `streamConfig`, these fields win.
 */
export interface StreamSettingsInput {
    /** Stream name. Default `default`, as Argo. */
    name?: string;
    /** Subjects the stream captures. Default `<name>.*.*`, which is Argo's `default.*.*` for the default name. */
    subjects?: string[];
    /** Most messages kept; -1 (or 0) for unlimited. Argo's default 50000. */
    maxMsgs?: number;
    /** Oldest message age kept, as a duration (`"7d"`, `"168h"`); `"0"` for unlimited. Argo's default 168h. */
    maxAge?: string;
    /** Most bytes kept, as a number or a size (`"1GB"`); -1 (or 0) for unlimited. Argo's default -1. */
    maxBytes?: number | string;
    /** Copies of each message, 1 to 5. Argo's default 3, or 1 on a single-server bus. */
    replicas?: number;
    /** Window for de-duplicating by `Nats-Msg-Id`, as a duration. Argo's default 300s. */
    duplicates?: string;
    /** Retention policy. Default `limits`. `workqueue` needs {@link StreamSettingsInput.allowWorkqueue}. */
    retention?: RetentionPolicy;
    /** Discard policy when a limit is reached. Default `old`. */
    discard?: DiscardPolicy;
    /** Largest message accepted, as a number or a size; -1 (or 0) for unlimited (still capped by `max_payload`). */
    maxMsgSize?: number | string;
    /** Most messages kept per subject; -1 (or 0) for unlimited. */
    maxMsgsPerSubject?: number;
    /** Most consumers; -1 (or 0) for unlimited. */
    maxConsumers?: number;
    /** Storage type. Default `file`, as Argo. */
    storage?: StorageType;
    /** Compression (nats-server 2.10+). Default `none`. */
    compression?: CompressionType;
    /** Allow direct get of messages from any replica. Default false. */
    allowDirect?: boolean;
    /** Allow `Nats-Rollup` headers to purge a subject or the stream. Default false. */
    allowRollup?: boolean;
    /** Refuse deleting single messages. Default false. Cannot be turned off later. */
    denyDelete?: boolean;
    /** Refuse purging the stream. Default false. Cannot be turned off later. */
    denyPurge?: boolean;
    /** Apply `discard: new` per subject; needs `discard: "new"` and `maxMsgsPerSubject` > 0. Default false. */
    discardNewPerSubject?: boolean;
    /** Do not acknowledge published messages. Default false. */
    noAck?: boolean;
    /** Free-text description, at most 4096 bytes. */
    description?: string;
    /** Free-form metadata (nats-server 2.10+). Keys starting with `_nats.` belong to the server. */
    metadata?: Record<string, string>;
    /** Where to place the replicas. */
    placement?: StreamPlacementInput;
    /** First sequence number, applied only when the stream is created (nats-server 2.10+). Default 0, meaning 1. */
    firstSeq?: number;
    /**
     * Allow `retention: "workqueue"`. Refused by default because Argo Sensors cannot read a work-queue
     * stream (Argo #3377). Set it only for a stream that no Argo Sensor consumes.
     */
    allowWorkqueue?: boolean;
}

/** Every key of {@link StreamSettingsInput}, for unknown-key checks on untyped input. */
export const STREAM_SETTINGS_KEYS = keysOf<StreamSettingsInput>()([
    "name",
    "subjects",
    ...ARGO_STREAM_CONFIG_KEYS,
    "maxMsgSize",
    "maxMsgsPerSubject",
    "maxConsumers",
    "storage",
    "compression",
    "allowDirect",
    "allowRollup",
    "denyDelete",
    "denyPurge",
    "discardNewPerSubject",
    "noAck",
    "description",
    "metadata",
    "placement",
    "firstSeq",
    "allowWorkqueue",
]);

/** Normalized placement; an empty cluster and no tags mean "no placement". */
export interface StreamPlacement {
    /** Cluster name, or "" when not set. */
    cluster: string;
    /** Required server tags, possibly empty. */
    tags: string[];
}

/**
 * A fully normalized stream configuration: every field present, durations in milliseconds,
 * sizes in bytes, -1 for unlimited counts and sizes, 0 for unlimited age.
 */
export interface StreamSpec {
    /** Stream name. */
    name: string;
    /** Subjects captured by the stream. */
    subjects: string[];
    /** Retention policy. */
    retention: RetentionPolicy;
    /** Discard policy. */
    discard: DiscardPolicy;
    /** Storage type. */
    storage: StorageType;
    /** Most messages kept, -1 for unlimited. */
    maxMsgs: number;
    /** Most bytes kept, -1 for unlimited. */
    maxBytes: number;
    /** Oldest message age kept in milliseconds, 0 for unlimited. */
    maxAgeMs: number;
    /** De-duplication window in milliseconds; always > 0, as the server fills it in when unset. */
    duplicatesMs: number;
    /** Copies of each message, 1 to 5. */
    replicas: number;
    /** Largest message in bytes, -1 for unlimited. */
    maxMsgSize: number;
    /** Most messages per subject, -1 for unlimited. */
    maxMsgsPerSubject: number;
    /** Most consumers, -1 for unlimited. */
    maxConsumers: number;
    /** Compression. */
    compression: CompressionType;
    /** Direct get allowed. */
    allowDirect: boolean;
    /** Rollup headers allowed. */
    allowRollup: boolean;
    /** Deleting messages refused. */
    denyDelete: boolean;
    /** Purging refused. */
    denyPurge: boolean;
    /** Discard new applied per subject. */
    discardNewPerSubject: boolean;
    /** Publishes not acknowledged. */
    noAck: boolean;
    /** Description, "" when not set. */
    description: string;
    /** User metadata, {} when not set. */
    metadata: Record<string, string>;
    /** Placement; empty when not set. */
    placement: StreamPlacement;
    /** First sequence, 0 when not set. */
    firstSeq: number;
}

/** Input of {@link resolveStreamSpec}. */
export interface ResolveStreamSpecInput {
    /** Argo's `streamConfig` YAML. Empty, or only comments, means no overrides. */
    streamConfig?: string;
    /** Typed settings; they win over `streamConfig` for every field set in both. */
    stream?: StreamSettingsInput;
    /** Servers in the bus, when known. Stream replicas may not exceed it; a 1-server bus defaults to R1. */
    busReplicas?: number;
    /**
     * Path of the object holding `streamConfig`, `stream` and `replicas`, e.g. `jetstream`. Errors then
     * name `jetstream.streamConfig.maxAge`, `jetstream.stream.maxAge` or `jetstream.replicas`.
     * Default: no prefix.
     */
    field?: string;
}

/** Values set by one source, with the field path each came from. */
export interface StreamOverrides {
    /** The normalized values that were set. */
    values: Partial<StreamSpec>;
    /** For each value, the dotted path of the field that set it. */
    fields: Partial<Record<keyof StreamSpec, string>>;
}

// ---------------------------------------------------------------------------------------------
// Merge
// ---------------------------------------------------------------------------------------------

const SERVER_MAX_REPLICAS = 5;
/** Smallest non-zero `max_age` and `duplicate_window` nats-server accepts (checkStreamCfg, server/stream.go). */
const MIN_WINDOW_MS = 100;
/** Window the server uses when none is given: 2 minutes, or `max_age` if smaller (checkStreamCfg, server/stream.go). */
const SERVER_DEFAULT_DUPLICATES_MS = 120_000;

/**
 * Builds the stream configuration from Argo's defaults, then `streamConfig`, then the typed
 * `stream` settings, each overriding the one before (typed wins), and validates the result
 * against nats-server's rules and Argo's consumers.
 *
 * Beyond plain merging:
 * - Without an explicit `replicas`, a bus of fewer than 3 servers gets that many stream replicas,
 *   so a 1-server bus works out of the box (Argo #2743). Explicit replicas above the bus size fail.
 * - Without an explicit `duplicates`, Argo's 300s window is shortened to `maxAge` when that is
 *   shorter, as the server does for unset windows. An explicit 0 becomes the server's default.
 * - `retention: workqueue` is refused unless `stream.allowWorkqueue` is true (Argo #3377).
 *
 * @throws InputError naming the offending field
 */
export function resolveStreamSpec(input: ResolveStreamSpecInput): StreamSpec {
    const prefix = input.field ?? "";
    const fromYaml = parseArgoStreamConfig(input.streamConfig ?? "", joinField(prefix, "streamConfig"));
    const { overrides: fromTyped, allowWorkqueue } = parseStreamSettings(input.stream, joinField(prefix, "stream"));
    const values: Partial<StreamSpec> = { ...fromYaml.values, ...fromTyped.values };
    const fields: Partial<Record<keyof StreamSpec, string>> = { ...fromYaml.fields, ...fromTyped.fields };
    const busReplicas = checkedBusReplicas(input.busReplicas, joinField(prefix, "replicas"));

    const name = values.name ?? ARGO_STREAM_NAME;
    const maxAgeMs = values.maxAgeMs ?? parseDurationMs(ARGO_STREAM_DEFAULTS.maxAge, "default");
    const spec: StreamSpec = {
        name,
        subjects: values.subjects ?? [`${name}.*.*`],
        retention: values.retention ?? RETENTION_POLICIES[ARGO_STREAM_DEFAULTS.retention],
        discard: values.discard ?? DISCARD_POLICIES[ARGO_STREAM_DEFAULTS.discard],
        storage: values.storage ?? "file",
        maxMsgs: values.maxMsgs ?? ARGO_STREAM_DEFAULTS.maxMsgs,
        maxBytes: values.maxBytes ?? ARGO_STREAM_DEFAULTS.maxBytes,
        maxAgeMs,
        duplicatesMs: resolveDuplicates(values.duplicatesMs, maxAgeMs),
        replicas: values.replicas ?? defaultReplicas(busReplicas),
        maxMsgSize: values.maxMsgSize ?? -1,
        maxMsgsPerSubject: values.maxMsgsPerSubject ?? -1,
        maxConsumers: values.maxConsumers ?? -1,
        compression: values.compression ?? "none",
        allowDirect: values.allowDirect ?? false,
        allowRollup: values.allowRollup ?? false,
        denyDelete: values.denyDelete ?? false,
        denyPurge: values.denyPurge ?? false,
        discardNewPerSubject: values.discardNewPerSubject ?? false,
        noAck: values.noAck ?? false,
        description: values.description ?? "",
        metadata: values.metadata ?? {},
        placement: values.placement ?? { cluster: "", tags: [] },
        firstSeq: values.firstSeq ?? 0,
    };
    const fieldOf = (key: keyof StreamSpec): string =>
        fields[key] ?? joinField(joinField(prefix, "stream"), SETTING_NAME_OF_SPEC_KEY[key] ?? key);
    checkReplicasFitBus(spec.replicas, busReplicas, fields.replicas);
    checkRetentionForSensors(
        spec.retention,
        allowWorkqueue,
        fieldOf("retention"),
        joinField(prefix, "stream.allowWorkqueue"),
    );
    checkWindows(spec, fields, fieldOf);
    checkFlagCombinations(spec, fieldOf);
    return spec;
}

/** Spec keys whose setting is spelled differently, for errors about values left at their default. */
const SETTING_NAME_OF_SPEC_KEY: Partial<Record<keyof StreamSpec, keyof StreamSettingsInput>> = {
    maxAgeMs: "maxAge",
    duplicatesMs: "duplicates",
};

function defaultReplicas(busReplicas: number | undefined): number {
    return Math.min(ARGO_STREAM_DEFAULTS.replicas, busReplicas ?? ARGO_STREAM_DEFAULTS.replicas);
}

function resolveDuplicates(explicitMs: number | undefined, maxAgeMs: number): number {
    const serverDefault =
        maxAgeMs > 0 ? Math.min(SERVER_DEFAULT_DUPLICATES_MS, maxAgeMs) : SERVER_DEFAULT_DUPLICATES_MS;
    if (explicitMs === 0) {
        return serverDefault;
    }
    if (explicitMs !== undefined) {
        return explicitMs;
    }
    const argoDefault = parseDurationMs(ARGO_STREAM_DEFAULTS.duplicates, "default");
    return maxAgeMs > 0 ? Math.min(argoDefault, maxAgeMs) : argoDefault;
}

function checkedBusReplicas(busReplicas: number | undefined, field: string): number | undefined {
    if (busReplicas !== undefined && !(Number.isSafeInteger(busReplicas) && busReplicas >= 1)) {
        throw new InputError(field, `the bus needs at least 1 server, got ${busReplicas}`);
    }
    return busReplicas;
}

function checkReplicasFitBus(
    replicas: number,
    busReplicas: number | undefined,
    replicasField: string | undefined,
): void {
    if (busReplicas === undefined || replicas <= busReplicas || replicasField === undefined) {
        return;
    }
    // A standalone server refuses R>1 (10074) and a small cluster finds no peers (Argo #2743).
    const fix =
        replicasField.includes(".streamConfig.") || replicasField.startsWith("streamConfig.")
            ? `set replicas: ${busReplicas} in streamConfig`
            : `set ${replicasField} to ${busReplicas} or less`;
    throw new InputError(replicasField, `stream replicas ${replicas} exceed the bus replicas ${busReplicas}; ${fix}`);
}

function checkRetentionForSensors(
    retention: RetentionPolicy,
    allowWorkqueue: boolean,
    field: string,
    escapeHatchField: string,
): void {
    if (retention !== "workqueue" || allowWorkqueue) {
        return;
    }
    throw new InputError(
        field,
        "retention workqueue is refused: Argo Sensors create their consumers with DeliverNew, which a " +
            'work-queue stream rejects ("consumer must be deliver all on workqueue stream"), and several ' +
            "Sensors listening to one event need overlapping consumers, which a work-queue stream forbids " +
            `(Argo #3377). Use limits or interest, or set ${escapeHatchField}: true if no Argo Sensor reads this stream`,
    );
}

function checkWindows(
    spec: StreamSpec,
    fields: Partial<Record<keyof StreamSpec, string>>,
    fieldOf: (key: keyof StreamSpec) => string,
): void {
    // nats-server refuses windows under 100ms and a dedupe window longer than max_age
    // (nats-server's checkStreamCfg, server/stream.go).
    if (spec.maxAgeMs > 0 && spec.maxAgeMs < MIN_WINDOW_MS) {
        throw new InputError(
            fieldOf("maxAgeMs"),
            `maxAge ${formatDuration(spec.maxAgeMs)} is below the server's minimum of 100ms`,
        );
    }
    if (spec.duplicatesMs < MIN_WINDOW_MS) {
        throw new InputError(
            fieldOf("duplicatesMs"),
            `duplicates ${formatDuration(spec.duplicatesMs)} is below the server's minimum of 100ms`,
        );
    }
    if (spec.maxAgeMs > 0 && spec.duplicatesMs > spec.maxAgeMs) {
        const field = fields.duplicatesMs ?? fieldOf("maxAgeMs");
        throw new InputError(
            field,
            `duplicates ${formatDuration(spec.duplicatesMs)} is longer than maxAge ${formatDuration(spec.maxAgeMs)}; ` +
                "the server requires the de-duplication window to fit in maxAge",
        );
    }
}

function checkFlagCombinations(spec: StreamSpec, fieldOf: (key: keyof StreamSpec) => string): void {
    // Server rules from nats-server's checkStreamCfg (server/stream.go).
    if (spec.discardNewPerSubject && (spec.discard !== "new" || spec.maxMsgsPerSubject <= 0)) {
        throw new InputError(
            fieldOf("discardNewPerSubject"),
            'discardNewPerSubject needs discard: "new" and maxMsgsPerSubject greater than 0',
        );
    }
    if (spec.denyPurge && spec.allowRollup) {
        throw new InputError(
            fieldOf("allowRollup"),
            "allowRollup cannot be combined with denyPurge (a rollup is a purge)",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Argo's streamConfig YAML
// ---------------------------------------------------------------------------------------------

type FieldParser = (value: unknown, field: string) => Partial<StreamSpec>;

const ARGO_KEY_PARSERS: Record<ArgoStreamConfigKey, FieldParser> = {
    maxMsgs: (value, field) => ({ maxMsgs: parseCountLimit(value, field) }),
    maxAge: (value, field) => ({ maxAgeMs: parseDurationMs(value as string, field) }),
    maxBytes: (value, field) => ({ maxBytes: parseSizeLimit(value, field) }),
    replicas: (value, field) => ({ replicas: parseReplicas(value, field) }),
    duplicates: (value, field) => ({ duplicatesMs: parseDurationMs(value as string, field) }),
    retention: (value, field) => ({ retention: parseChoice(value, field, RETENTION_POLICIES, true) }),
    discard: (value, field) => ({ discard: parseChoice(value, field, DISCARD_POLICIES, true) }),
};

/**
 * Parses Argo's `streamConfig` YAML into normalized overrides.
 *
 * Keys are matched case-insensitively, as Argo's viper does. Unlike Argo, unknown keys (a typo
 * such as `retetention` was silently ignored in Argo #3377), unit-less durations and `1GB` sizes
 * are handled: the first two are refused, the last is read as 1073741824 bytes instead of 0
 * (Argo Events, https://github.com/argoproj/argo-events). `retention` and `discard` take Argo's numbers or the names.
 *
 * @param text the YAML; empty or comment-only text means no overrides
 * @param field path of the `streamConfig` field, e.g. `jetstream.streamConfig`
 */
export function parseArgoStreamConfig(text: string, field: string): StreamOverrides {
    if (typeof text !== "string") {
        throw new InputError(field, "expected YAML text");
    }
    const document = parseYamlMapping(text, field);
    const overrides: StreamOverrides = { values: {}, fields: {} };
    const seen = new Map<ArgoStreamConfigKey, string>();
    for (const [rawKey, value] of Object.entries(document)) {
        const key = ARGO_STREAM_CONFIG_KEYS.find((known) => known.toLowerCase() === rawKey.toLowerCase());
        if (key === undefined) {
            throw new InputError(
                joinField(field, rawKey),
                `unknown key${didYouMean(rawKey, ARGO_STREAM_CONFIG_KEYS)}; Argo's streamConfig knows ${ARGO_STREAM_CONFIG_KEYS.join(", ")}`,
            );
        }
        const keyField = joinField(field, key);
        const earlier = seen.get(key);
        if (earlier !== undefined) {
            throw new InputError(
                keyField,
                `given twice ("${earlier}" and "${rawKey}"); keys are case-insensitive, as in Argo`,
            );
        }
        seen.set(key, rawKey);
        if (value === null || value === undefined) {
            throw new InputError(keyField, "has no value; give one or remove the key");
        }
        addOverrides(overrides, ARGO_KEY_PARSERS[key](value, keyField), keyField);
    }
    return overrides;
}

function parseYamlMapping(text: string, field: string): Record<string, unknown> {
    let document: unknown;
    try {
        document = parseYaml(text);
    } catch (error) {
        const reason = (error instanceof Error ? error.message.split("\n")[0] : String(error)).replace(/:$/, "");
        throw new InputError(field, `is not valid YAML: ${reason}`);
    }
    if (document === null || document === undefined) {
        return {};
    }
    if (!isPlainObject(document)) {
        throw new InputError(field, `must be a YAML mapping such as "maxAge: 24h", got ${describeType(document)}`);
    }
    return document;
}

/**
 * Writes the Argo-visible part of a spec as `streamConfig` YAML, complete so that an exotic
 * EventBus (Argo merges no defaults there, Argo Events #3549) describes the real stream.
 * Only Argo's seven keys are written; Argo ignores every other stream field.
 */
export function toArgoStreamConfig(spec: StreamSpec): string {
    return [
        `maxMsgs: ${spec.maxMsgs}`,
        `maxAge: ${formatDuration(spec.maxAgeMs)}`,
        `maxBytes: ${spec.maxBytes}`,
        `replicas: ${spec.replicas}`,
        `duplicates: ${formatDuration(spec.duplicatesMs)}`,
        `retention: ${RETENTION_POLICIES.indexOf(spec.retention)}`,
        `discard: ${DISCARD_POLICIES.indexOf(spec.discard)}`,
        "",
    ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Typed settings
// ---------------------------------------------------------------------------------------------

const TYPED_KEY_PARSERS: Record<Exclude<keyof StreamSettingsInput, "allowWorkqueue">, FieldParser> = {
    ...ARGO_KEY_PARSERS,
    retention: (value, field) => ({ retention: parseChoice(value, field, RETENTION_POLICIES, false) }),
    discard: (value, field) => ({ discard: parseChoice(value, field, DISCARD_POLICIES, false) }),
    name: (value, field) => ({ name: parseStreamName(value, field) }),
    subjects: (value, field) => ({ subjects: parseSubjects(value, field) }),
    maxMsgSize: (value, field) => ({ maxMsgSize: parseMaxMsgSize(value, field) }),
    maxMsgsPerSubject: (value, field) => ({ maxMsgsPerSubject: parseCountLimit(value, field) }),
    maxConsumers: (value, field) => ({ maxConsumers: parseCountLimit(value, field) }),
    storage: (value, field) => ({ storage: parseChoice(value, field, STORAGE_TYPES, false) }),
    compression: (value, field) => ({ compression: parseChoice(value, field, COMPRESSION_TYPES, false) }),
    allowDirect: (value, field) => ({ allowDirect: parseBoolean(value, field) }),
    allowRollup: (value, field) => ({ allowRollup: parseBoolean(value, field) }),
    denyDelete: (value, field) => ({ denyDelete: parseBoolean(value, field) }),
    denyPurge: (value, field) => ({ denyPurge: parseBoolean(value, field) }),
    discardNewPerSubject: (value, field) => ({ discardNewPerSubject: parseBoolean(value, field) }),
    noAck: (value, field) => ({ noAck: parseBoolean(value, field) }),
    description: (value, field) => ({ description: parseDescription(value, field) }),
    metadata: (value, field) => ({ metadata: parseMetadata(value, field) }),
    placement: (value, field) => ({ placement: parsePlacement(value, field) }),
    firstSeq: (value, field) => ({ firstSeq: parseFirstSeq(value, field) }),
};

/**
 * Parses typed (possibly untyped JS) stream settings into normalized overrides. Unknown keys are
 * refused with a suggestion; `undefined` and `null` values count as not set.
 *
 * @param input the settings object, or undefined
 * @param field path of the settings object, e.g. `jetstream.stream`
 * @returns the overrides and whether work-queue retention was explicitly allowed
 */
export function parseStreamSettings(
    input: StreamSettingsInput | undefined,
    field: string,
): { overrides: StreamOverrides; allowWorkqueue: boolean } {
    const overrides: StreamOverrides = { values: {}, fields: {} };
    if (input === undefined || input === null) {
        return { overrides, allowWorkqueue: false };
    }
    if (!isPlainObject(input)) {
        throw new InputError(field, `expected an object of stream settings, got ${describeType(input)}`);
    }
    let allowWorkqueue = false;
    for (const [key, value] of Object.entries(input)) {
        const keyField = joinField(field, key);
        if (!(STREAM_SETTINGS_KEYS as readonly string[]).includes(key)) {
            throw new InputError(keyField, `unknown stream setting${didYouMean(key, STREAM_SETTINGS_KEYS)}`);
        }
        if (value === undefined || value === null) {
            continue;
        }
        if (key === "allowWorkqueue") {
            allowWorkqueue = parseBoolean(value, keyField);
            continue;
        }
        const parse = TYPED_KEY_PARSERS[key as keyof typeof TYPED_KEY_PARSERS];
        addOverrides(overrides, parse(value, keyField), keyField);
    }
    return { overrides, allowWorkqueue };
}

function addOverrides(overrides: StreamOverrides, parsed: Partial<StreamSpec>, field: string): void {
    Object.assign(overrides.values, parsed);
    for (const key of Object.keys(parsed) as (keyof StreamSpec)[]) {
        overrides.fields[key] = field;
    }
}

// ---------------------------------------------------------------------------------------------
// Value parsers
// ---------------------------------------------------------------------------------------------

/** A safe integer from a number or a string of digits (viper's `GetInt64` also reads strings). */
function parseInteger(value: unknown, field: string, expectation: string): number {
    const number = typeof value === "string" && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : value;
    if (typeof number !== "number" || !Number.isSafeInteger(number)) {
        throw new InputError(field, `expected ${expectation}, got ${describeType(value)}`);
    }
    return number;
}

/**
 * A count limit; 0 and -1 both mean unlimited and become -1, as the server stores them (checkStreamCfg,
 * server/stream.go).
 */
function parseCountLimit(value: unknown, field: string): number {
    const count = parseInteger(value, field, "a whole number, or -1 for unlimited");
    if (count < -1) {
        throw new InputError(field, `${count} is negative; use -1 for unlimited`);
    }
    return count === 0 ? -1 : count;
}

/** A size limit in bytes; 0 and -1 both mean unlimited and become -1, as the server stores them. */
function parseSizeLimit(value: unknown, field: string): number {
    const bytes = parseNatsSize(value as string | number, field);
    return bytes === 0 ? -1 : bytes;
}

/** `max_msg_size` is an int32 in nats-server, so it tops out just under 2GB. */
function parseMaxMsgSize(value: unknown, field: string): number {
    const bytes = parseSizeLimit(value, field);
    const int32Max = 2 ** 31 - 1;
    if (bytes > int32Max) {
        throw new InputError(
            field,
            `${bytes} bytes is more than the server's maximum message size of ${int32Max} bytes`,
        );
    }
    return bytes;
}

function parseReplicas(value: unknown, field: string): number {
    const replicas = parseInteger(value, field, `a number of replicas from 1 to ${SERVER_MAX_REPLICAS}`);
    // The server caps replicas at 5 (nats-server's checkStreamCfg in server/stream.go).
    if (replicas < 1 || replicas > SERVER_MAX_REPLICAS) {
        throw new InputError(field, `replicas must be from 1 to ${SERVER_MAX_REPLICAS}, got ${replicas}`);
    }
    return replicas;
}

function parseFirstSeq(value: unknown, field: string): number {
    const sequence = parseInteger(value, field, "a sequence number of 0 or more");
    if (sequence < 0) {
        throw new InputError(field, `${sequence} is negative; sequences start at 1 (0 means the default)`);
    }
    return sequence;
}

/**
 * One of `choices`, case-insensitively. With `argoNumbering`, also the choice's position as a
 * number or digit string, which is how Argo writes retention and discard (PR #3151).
 */
function parseChoice<T extends string>(
    value: unknown,
    field: string,
    choices: readonly T[],
    argoNumbering: boolean,
): T {
    const text = typeof value === "string" ? value.trim().toLowerCase() : value;
    const byName = choices.find((choice) => choice === text);
    if (byName !== undefined) {
        return byName;
    }
    if (argoNumbering) {
        const position = typeof text === "string" && /^\d+$/.test(text) ? Number(text) : text;
        if (typeof position === "number" && Number.isInteger(position) && position >= 0 && position < choices.length) {
            return choices[position];
        }
    }
    const names = choices.map((choice) => `"${choice}"`).join(", ");
    const numbers = argoNumbering ? ` (or Argo's ${choices.map((_, index) => index).join(", ")})` : "";
    throw new InputError(field, `must be one of ${names}${numbers}, got ${describeType(value)}`);
}

function parseBoolean(value: unknown, field: string): boolean {
    if (typeof value !== "boolean") {
        throw new InputError(field, `expected true or false, got ${describeType(value)}`);
    }
    return value;
}

/** Stream name rules of nats-server's checkStreamCfg (server/stream.go), plus no whitespace. */
function parseStreamName(value: unknown, field: string): string {
    if (typeof value !== "string" || value === "") {
        throw new InputError(field, `expected a non-empty stream name, got ${describeType(value)}`);
    }
    if (value.length > 255) {
        throw new InputError(field, `stream names are at most 255 characters, got ${value.length}`);
    }
    if (/[.*>\\/\s]/.test(value)) {
        throw new InputError(field, `"${value}" may not contain ".", "*", ">", "\\", "/" or whitespace`);
    }
    return value;
}

function parseSubjects(value: unknown, field: string): string[] {
    if (!Array.isArray(value) || value.length === 0) {
        throw new InputError(field, `expected a non-empty list of subjects, got ${describeType(value)}`);
    }
    const subjects = value.map((subject, index) => parseSubject(subject, `${field}[${index}]`));
    const duplicate = subjects.find((subject, index) => subjects.indexOf(subject) !== index);
    if (duplicate !== undefined) {
        throw new InputError(field, `"${duplicate}" is listed twice; the server refuses duplicate subjects`);
    }
    return subjects;
}

/** A subject of dot-separated tokens; `*` and `>` must be whole tokens and `>` the last one. */
function parseSubject(value: unknown, field: string): string {
    if (typeof value !== "string" || value === "") {
        throw new InputError(field, `expected a non-empty subject, got ${describeType(value)}`);
    }
    if (/\s/.test(value)) {
        throw new InputError(field, `subject "${value}" contains whitespace`);
    }
    const tokens = value.split(".");
    const badToken = tokens.findIndex(
        (token, index) =>
            token === "" ||
            (token !== "*" && token !== ">" && /[*>]/.test(token)) ||
            (token === ">" && index !== tokens.length - 1),
    );
    if (badToken !== -1) {
        throw new InputError(
            field,
            `subject "${value}" is malformed: tokens must be non-empty, "*" and ">" must be whole tokens, and ">" must come last`,
        );
    }
    return value;
}

const utf8 = new TextEncoder();

function parseDescription(value: unknown, field: string): string {
    if (typeof value !== "string") {
        throw new InputError(field, `expected text, got ${describeType(value)}`);
    }
    const bytes = utf8.encode(value).length;
    if (bytes > 4096) {
        throw new InputError(field, `descriptions are at most 4096 bytes, got ${bytes}`);
    }
    return value;
}

/** The server limits metadata to 128 KiB of keys and values (checkStreamCfg, server/stream.go). */
const MAX_METADATA_BYTES = 128 * 1024;

function parseMetadata(value: unknown, field: string): Record<string, string> {
    if (!isPlainObject(value)) {
        throw new InputError(field, `expected an object of strings, got ${describeType(value)}`);
    }
    let bytes = 0;
    for (const [key, entry] of Object.entries(value)) {
        if (key === "") {
            throw new InputError(field, "metadata keys must not be empty");
        }
        // nats-server 2.11+ writes _nats.* keys itself and would show them as drift.
        if (key.startsWith("_nats.")) {
            throw new InputError(joinField(field, key), 'keys starting with "_nats." belong to the server');
        }
        if (typeof entry !== "string") {
            throw new InputError(joinField(field, key), `expected a string, got ${describeType(entry)}`);
        }
        bytes += utf8.encode(key).length + utf8.encode(entry).length;
    }
    if (bytes > MAX_METADATA_BYTES) {
        throw new InputError(field, `metadata is ${bytes} bytes; the server allows at most ${MAX_METADATA_BYTES}`);
    }
    return { ...value } as Record<string, string>;
}

const PLACEMENT_KEYS = ["cluster", "tags"] as const;

function parsePlacement(value: unknown, field: string): StreamPlacement {
    if (!isPlainObject(value)) {
        throw new InputError(field, `expected { cluster?, tags? }, got ${describeType(value)}`);
    }
    for (const key of Object.keys(value)) {
        if (!(PLACEMENT_KEYS as readonly string[]).includes(key)) {
            throw new InputError(joinField(field, key), `unknown placement setting${didYouMean(key, PLACEMENT_KEYS)}`);
        }
    }
    const { cluster, tags } = value;
    if (cluster !== undefined && (typeof cluster !== "string" || cluster === "")) {
        throw new InputError(
            joinField(field, "cluster"),
            `expected a non-empty cluster name, got ${describeType(cluster)}`,
        );
    }
    if (tags !== undefined && !(Array.isArray(tags) && tags.every((tag) => typeof tag === "string" && tag !== ""))) {
        throw new InputError(joinField(field, "tags"), `expected a list of non-empty tags, got ${describeType(tags)}`);
    }
    return { cluster: cluster ?? "", tags: tags === undefined ? [] : [...(tags as string[])] };
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function joinField(prefix: string, key: string): string {
    return prefix === "" ? key : `${prefix}.${key}`;
}
