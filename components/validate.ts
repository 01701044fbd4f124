/**
 * Validation of an EventBus's arguments into one resolved spec, a {@link ResolvedBus}: a managed
 * cluster or a server run elsewhere, every default applied, every unit parsed, the stream resolved.
 * The builders and resources read only that spec. Everything here is pure, and runs before the
 * component registers anything, so bad input fails the preview with nothing created.
 */
import * as pulumi from "@pulumi/pulumi";
import type {
    BusConnectionArgs,
    EventBusArgs,
    ExoticTlsArgs,
    ImageOverrides,
    JetStreamBusArgs,
    JetStreamExoticArgs,
    PersistenceArgs,
    SecretKeySelector,
} from "./args";
import { ArgoEventsSpec, resolveArgoEvents } from "./argo/export";
import { ARGO_JETSTREAM_KEYS } from "./argo/import";
import {
    checkBoolean,
    checkChoice,
    describeType,
    DNS_LABEL_RULE,
    DNS_SUBDOMAIN_RULE,
    InputError,
    isDnsLabel,
    isDnsSubdomain,
    keysOf,
    rejectUnknownKeys,
} from "./check";
import { CONNECTION_MODES, ConnectionMode, serverUrlProblem } from "./stream/connection";
import { DEFAULTS } from "./defaults";
import { checkSettingsText, JetStreamSettingsSpec } from "./config/jetstream-settings";
import { checkStartArgs } from "./config/start-args";
import { ObjectNames, objectNames } from "./kube/names";
import type { NetworkPolicySpec } from "./kube/network-policy";
import { PodMonitorSpec, resolvePodMonitor } from "./kube/pod-monitor";
import { checkPodFields, LABELS } from "./kube/pod-fields";
import { goMemLimit } from "./kube/statefulset";
import { checkShape, isDeployTimeValue } from "./shape";
import { checkServerVersion, ResolvedStream, resolveStream } from "./stream/resolve";
import { formatDuration, parseDurationMs, parseKubernetesQuantity, parseNatsSize } from "./units";
import { findVersion, LATEST_SERVER_VERSION, supportedVersions, VersionEntry } from "./versions";

export { rejectUnknownKeys } from "./check";

/** Resolved images and start command of the three containers. */
export interface ImageSpec {
    nats: string;
    reloader: string;
    metricsExporter: string;
    startCommand: string;
}

/** Normalized persistence settings, every default applied. */
export interface PersistenceSpec {
    storageClassName?: string;
    accessMode: string;
    /** The quantity as the user wrote it (it goes into the PVC template). */
    volumeSize: string;
    volumeSizeBytes: number;
    whenDeleted: "Retain" | "Delete";
    whenScaled: "Retain" | "Delete";
    /** The given encryption key, unset for a generated one. */
    encryptionKey?: PersistenceArgs["encryptionKey"];
}

/** The Kubernetes fields a managed bus passes to its pods as given (checked against their shapes). */
const POD_SETTINGS_KEYS = [
    "containerTemplate",
    "reloaderContainerTemplate",
    "metricsContainerTemplate",
    "metadata",
    "nodeSelector",
    "tolerations",
    "securityContext",
    "imagePullSecrets",
    "priorityClassName",
    "priority",
    "affinity",
    "serviceAccountName",
    "topologySpreadConstraints",
] as const satisfies readonly (keyof JetStreamBusArgs)[];
export type PodSettings = Pick<JetStreamBusArgs, (typeof POD_SETTINGS_KEYS)[number]>;

/** What both kinds of bus carry after validation. */
interface ResolvedBusBase {
    busName: string;
    namespace: string;
    /** EventBus labels (for the StatefulSet, as Argo's `metadata.labels`), checked. */
    labels?: Record<string, string>;
    /** The bus's stream: its configuration, the server release it is checked against, its lifecycle. */
    stream: ResolvedStream;
    argoEvents?: ArgoEventsSpec;
}

/** A managed bus after validation: every default applied, every unit parsed. */
export interface BusSpec extends ResolvedBusBase {
    kind: "managed";
    clusterDomain: string;
    names: ObjectNames;
    replicas: number;
    version: VersionEntry;
    images: ImageSpec;
    /** `max_payload` in bytes. */
    maxPayloadBytes: number;
    persistence?: PersistenceSpec;
    /** The checked settings of the `jetstream {}` block besides `key` and `store_dir`. */
    jetstreamSettings: JetStreamSettingsSpec;
    lameDuckDuration: string;
    lameDuckGracePeriod: string;
    terminationGracePeriodSeconds: number;
    startArgs: string[];
    podDisruptionBudget: boolean;
    networkPolicy?: NetworkPolicySpec;
    /** A PodMonitor for the metrics exporter, when asked for. */
    podMonitor?: PodMonitorSpec;
    connection: BusConnectionSpec;
    /** The pass-through Kubernetes fields of the pods. */
    pod: PodSettings;
}

// Keys of the argument objects, so a typo in an untyped object (stack config, pasted YAML) is caught;
// each list is checked against its Args type by the compiler.
const EVENTBUS_KEYS = keysOf<EventBusArgs>()([
    "namespace",
    "busName",
    "clusterDomain",
    "labels",
    "jetstream",
    "jetstreamExotic",
    "connection",
    "argoEvents",
]);
const EXOTIC_KEYS = keysOf<JetStreamExoticArgs>()([
    "url",
    "accessSecret",
    "username",
    "password",
    "tls",
    "caCert",
    "clientCert",
    "clientKey",
    "serverName",
    "streamConfig",
    "stream",
    "streamLifecycle",
    "serverVersion",
]);
const EXOTIC_TLS_KEYS = keysOf<ExoticTlsArgs>()([
    "caCertSecret",
    "clientCertSecret",
    "clientKeySecret",
    "insecureSkipVerify",
    "enabled",
]);
const CONNECTION_KEYS = keysOf<BusConnectionArgs>()(["mode", "servers", "serverName", "kubeconfig", "context"]);
// Argo's fields first, then this package's own.
const JETSTREAM_KEYS = keysOf<JetStreamBusArgs>()([
    ...ARGO_JETSTREAM_KEYS,
    "jetstreamSettings",
    "stream",
    "streamLifecycle",
    "images",
    "topologySpreadConstraints",
    "podDisruptionBudget",
    "networkPolicy",
    "podMonitor",
    "lameDuckDuration",
    "lameDuckGracePeriod",
    "terminationGracePeriodSeconds",
]);
const PERSISTENCE_KEYS = keysOf<PersistenceArgs>()([
    "storageClassName",
    "accessMode",
    "volumeSize",
    "retentionPolicy",
    "encryptionKey",
]);
const RETENTION_POLICY_KEYS = keysOf<NonNullable<PersistenceArgs["retentionPolicy"]>>()(["whenDeleted", "whenScaled"]);
const JETSTREAM_SETTINGS_KEYS = keysOf<NonNullable<JetStreamBusArgs["jetstreamSettings"]>>()([
    "maxMemoryStore",
    "maxFileStore",
]);
const NETWORK_POLICY_KEYS = keysOf<NonNullable<JetStreamBusArgs["networkPolicy"]>>()([
    "clientNamespaces",
    "monitoringNamespaces",
]);
const IMAGE_KEYS = keysOf<ImageOverrides>()(["registry", "nats", "reloader", "metricsExporter", "startCommand"]);
const SECRET_KEY_SELECTOR_KEYS = keysOf<SecretKeySelector>()(["name", "key"]);
const ACCESS_MODES: readonly NonNullable<PersistenceArgs["accessMode"]>[] = [
    "ReadWriteOnce",
    "ReadWriteOncePod",
    "ReadWriteMany",
];
const RETENTION_CHOICES: readonly ("Retain" | "Delete")[] = ["Retain", "Delete"];

/**
 * nats-server refuses `max_payload` above `max_pending`, 64MB by default
 * (https://docs.nats.io/running-a-nats-service/configuration).
 */
const MAX_PAYLOAD_LIMIT = 64 * 1024 * 1024;

/** Kubernetes' StatefulSet name limit for its pods' `controller-revision-hash` label: 63 - 11. */
const MAX_STATEFULSET_NAME = 52;

/** A Kubernetes namespace name: a DNS-1123 label. */
export function validateNamespace(namespace: unknown, field = "namespace"): string {
    if (!isDnsLabel(namespace)) {
        throw new InputError(
            field,
            `${typeof namespace === "string" ? JSON.stringify(namespace) : describeType(namespace)} is not a valid Kubernetes namespace: ${DNS_LABEL_RULE}`,
        );
    }
    return namespace;
}

/**
 * A bus name. It becomes part of `eventbus-<busName>-js-svc` (a DNS-1035 label) and of the
 * StatefulSet name, so it must be a lowercase DNS label short enough for both.
 */
export function validateBusName(busName: unknown, field = "busName"): string {
    const maxLength = MAX_STATEFULSET_NAME - "eventbus--js".length;
    if (!isDnsLabel(busName, maxLength)) {
        throw new InputError(
            field,
            `${JSON.stringify(busName)} is not a valid bus name: use at most ${maxLength} lowercase letters, digits and '-', starting and ending with a letter or digit (it becomes part of the Kubernetes names eventbus-<busName>-js-svc and eventbus-<busName>-js)`,
        );
    }
    return busName;
}

/** A cluster DNS domain such as `cluster.local`. */
export function validateClusterDomain(domain: unknown, field = "clusterDomain"): string {
    if (!isDnsSubdomain(domain)) {
        throw new InputError(field, `${JSON.stringify(domain)} is not a valid DNS domain, e.g. "cluster.local"`);
    }
    return domain;
}

/** Server count: 1, or 3 and more, as Argo Events allows: a 2-node JetStream cluster loses quorum with either node. */
export function validateReplicas(replicas: unknown, field = "jetstream.replicas"): number {
    if (typeof replicas !== "number") {
        throw new InputError(
            field,
            `must be a number, 1 or 3 and more, got ${describeType(replicas)}${typeof replicas === "string" ? " (in YAML, write replicas: 3 without quotes)" : ""}`,
        );
    }
    if (!Number.isInteger(replicas) || replicas === 2 || replicas < 1) {
        throw new InputError(
            field,
            `${JSON.stringify(replicas)} is not allowed: a JetStream bus needs 1 replica or 3 and more (2 servers cannot keep a quorum when one fails)`,
        );
    }
    return replicas;
}

/** The version map entry for `version`, or an error listing the supported ones. */
export function validateVersion(version: unknown, field = "jetstream.version"): VersionEntry {
    if (typeof version !== "string" || version === "") {
        throw new InputError(field, `a version is required; supported versions: ${supportedVersions().join(", ")}`);
    }
    const found = findVersion(version);
    if (!found) {
        throw new InputError(
            field,
            `unsupported version "${version}"; supported versions: ${supportedVersions().join(", ")}`,
        );
    }
    return found;
}

/** `maxPayload` in bytes: a size from 1 byte to 64MB. */
export function validateMaxPayload(maxPayload: unknown, field = "jetstream.maxPayload"): number {
    const bytes = parseNatsSize(maxPayload as string, field);
    if (bytes < 1 || bytes > MAX_PAYLOAD_LIMIT) {
        throw new InputError(
            field,
            `${JSON.stringify(maxPayload)} is out of range: use a size from 1 byte to 64MB (nats-server refuses larger payloads than max_pending, and 0 does not mean unlimited)`,
        );
    }
    return bytes;
}

function applyRegistry(registry: string | undefined, image: string): string {
    return registry ? `${registry.replace(/\/+$/, "")}/${image}` : image;
}

/** Images of the three containers, with the overrides for private registries applied (Argo #2504). */
export function resolveImages(
    version: VersionEntry,
    overrides: JetStreamBusArgs["images"],
    field = "jetstream.images",
): ImageSpec {
    rejectUnknownKeys(overrides, IMAGE_KEYS, field);
    for (const key of IMAGE_KEYS) {
        const value = (overrides as Record<string, unknown> | undefined)?.[key];
        if (value !== undefined && (typeof value !== "string" || value.trim() === "" || /\s/.test(value))) {
            throw new InputError(`${field}.${key}`, `${JSON.stringify(value)} is not an image reference`);
        }
    }
    const registry = overrides?.registry;
    return {
        nats: overrides?.nats ?? applyRegistry(registry, version.natsImage),
        reloader: overrides?.reloader ?? applyRegistry(registry, version.reloaderImage),
        metricsExporter: overrides?.metricsExporter ?? applyRegistry(registry, version.metricsExporterImage),
        startCommand: overrides?.startCommand ?? version.startCommand,
    };
}

/** Normalized persistence, or undefined for an emptyDir. */
export function resolvePersistence(
    persistence: PersistenceArgs | undefined,
    field = "jetstream.persistence",
): PersistenceSpec | undefined {
    if (persistence === undefined || persistence === null) {
        return undefined;
    }
    rejectUnknownKeys(persistence, PERSISTENCE_KEYS, field);
    const accessMode = checkChoice(persistence.accessMode ?? DEFAULTS.accessMode, ACCESS_MODES, `${field}.accessMode`);
    const volumeSize = persistence.volumeSize ?? DEFAULTS.volumeSize;
    const volumeSizeBytes = parseKubernetesQuantity(volumeSize, `${field}.volumeSize`);
    if (volumeSizeBytes <= 0) {
        throw new InputError(`${field}.volumeSize`, `${JSON.stringify(volumeSize)} must be larger than zero`);
    }
    const retention = persistence.retentionPolicy ?? {};
    rejectUnknownKeys(retention, RETENTION_POLICY_KEYS, `${field}.retentionPolicy`);
    for (const key of RETENTION_POLICY_KEYS) {
        if (retention[key] !== undefined) {
            checkChoice(retention[key], RETENTION_CHOICES, `${field}.retentionPolicy.${key}`);
        }
    }
    if (persistence.storageClassName !== undefined && !isDnsSubdomain(persistence.storageClassName)) {
        throw new InputError(
            `${field}.storageClassName`,
            `${typeof persistence.storageClassName === "string" ? JSON.stringify(persistence.storageClassName) : describeType(persistence.storageClassName)} is not a valid storage class name: ${DNS_SUBDOMAIN_RULE}`,
        );
    }
    // A plain value is checked here; an Output (a secret from config) when it resolves (createCredentials).
    const key = persistence.encryptionKey;
    if (key !== undefined && (typeof key !== "object" || key === null)) {
        checkEncryptionKey(key, `${field}.encryptionKey`);
    }
    return {
        storageClassName: persistence.storageClassName,
        accessMode,
        volumeSize,
        volumeSizeBytes,
        whenDeleted: retention.whenDeleted ?? DEFAULTS.pvcRetention,
        whenScaled: retention.whenScaled ?? DEFAULTS.pvcRetention,
        encryptionKey: persistence.encryptionKey,
    };
}

/** Smallest accepted length of a given encryption key; generated keys are longer (DEFAULTS.encryptionKeyLength). */
export const MIN_ENCRYPTION_KEY_LENGTH = 16;

/**
 * A given JetStream encryption key, checked: letters only, as the generated ones, because nats-server
 * misreads an expanded `$JS_KEY` that starts with a digit (Argo Events #3231), and long enough to be a
 * key. The message never repeats the value.
 */
export function checkEncryptionKey(value: unknown, field: string): string {
    if (typeof value !== "string" || !/^[A-Za-z]+$/.test(value) || value.length < MIN_ENCRYPTION_KEY_LENGTH) {
        const found =
            typeof value !== "string"
                ? describeType(value)
                : `a value of ${value.length} character(s)${/^[A-Za-z]*$/.test(value) ? "" : " with characters other than letters"}`;
        throw new InputError(
            field,
            `must be at least ${MIN_ENCRYPTION_KEY_LENGTH} letters (A-Z, a-z) and nothing else; got ${found}`,
        );
    }
    return value;
}

const FILE_STORE_FIELD = "jetstream.jetstreamSettings.maxFileStore";

/**
 * The checked body of the `jetstream {}` block, from Argo's `settings` text or the typed
 * `jetstreamSettings`. Without either, Argo's defaults (`max_memory_store: -1`, `max_file_store: 1TB`).
 * With persistence, `max_file_store` defaults to the volume size (as the NATS Helm chart does) and may
 * not exceed it, or JetStream fills the volume (Argo Events #1849).
 */
export function resolveJetStreamSettings(
    settings: string | undefined,
    typed: JetStreamBusArgs["jetstreamSettings"],
    persistence: PersistenceSpec | undefined,
    serverVersion: string,
): JetStreamSettingsSpec {
    if (settings !== undefined && typed !== undefined) {
        throw new InputError(
            "jetstream.jetstreamSettings",
            "cannot be combined with jetstream.settings; use one of them",
        );
    }
    let spec: JetStreamSettingsSpec;
    let fileStoreField: string;
    if (settings !== undefined) {
        if (typeof settings !== "string") {
            throw new InputError(
                "jetstream.settings",
                `must be NATS configuration text, e.g. "max_file_store: 10GB", got ${describeType(settings)}`,
            );
        }
        spec = checkSettingsText(settings, serverVersion, "jetstream.settings");
        fileStoreField = "jetstream.settings";
    } else {
        rejectUnknownKeys(typed, JETSTREAM_SETTINGS_KEYS, "jetstream.jetstreamSettings");
        const memory = parseNatsSize(
            typed?.maxMemoryStore ?? DEFAULTS.maxMemoryStore,
            "jetstream.jetstreamSettings.maxMemoryStore",
        );
        const file =
            typed?.maxFileStore !== undefined
                ? parseNatsSize(typed.maxFileStore, FILE_STORE_FIELD)
                : persistence
                  ? undefined
                  : parseNatsSize(DEFAULTS.maxFileStoreWithoutPersistence, FILE_STORE_FIELD);
        // Written as byte counts, as before the settings text was parsed, so that a bus on the defaults
        // keeps its configuration (and its pods) when the package is upgraded.
        spec = {
            settings: [
                { key: "max_memory_store", value: String(memory) },
                ...(file === undefined ? [] : [{ key: "max_file_store", value: String(file) }]),
            ],
            limits: [],
            maxMemoryStoreBytes: memory,
            maxFileStoreBytes: file,
        };
        fileStoreField = FILE_STORE_FIELD;
    }
    if (persistence) {
        const file = spec.maxFileStoreBytes;
        if (file === undefined) {
            spec.settings.push({ key: "max_file_store", value: String(persistence.volumeSizeBytes) });
            spec.maxFileStoreBytes = persistence.volumeSizeBytes;
        } else if (file > persistence.volumeSizeBytes || file === -1) {
            throw new InputError(
                fileStoreField,
                `max_file_store (${file === -1 ? "automatic" : `${file} bytes`}) must not exceed persistence.volumeSize ${persistence.volumeSize} (${persistence.volumeSizeBytes} bytes): JetStream would fill the volume (Argo Events #1849)`,
            );
        }
    }
    return spec;
}

/** A storage limit of 0 turns that storage off: the bus's own stream could not be created. */
function checkStreamStorageAllowed(settings: JetStreamSettingsSpec, storage: string, field: string): void {
    const limit = storage === "memory" ? settings.maxMemoryStoreBytes : settings.maxFileStoreBytes;
    if (limit === 0) {
        throw new InputError(
            field,
            `max_${storage === "memory" ? "memory" : "file"}_store is 0, which turns ${storage} storage off, and the bus's stream uses ${storage} storage; use a size, or -1 for the server's automatic limit`,
        );
    }
}

interface LameDuckSpec {
    lameDuckDuration: string;
    lameDuckGracePeriod: string;
    terminationGracePeriodSeconds: number;
}

/**
 * Lame duck timing. nats-server needs a duration of at least 30s and a grace period below it
 * (https://docs.nats.io/running-a-nats-service/configuration); the pod must get longer than both to leave Raft cleanly
 * (Argo #3948).
 */
export function resolveLameDuck(js: JetStreamBusArgs): LameDuckSpec {
    const durationMs = parseDurationMs(js.lameDuckDuration ?? DEFAULTS.lameDuckDuration, "jetstream.lameDuckDuration");
    const graceMs = parseDurationMs(
        js.lameDuckGracePeriod ?? DEFAULTS.lameDuckGracePeriod,
        "jetstream.lameDuckGracePeriod",
    );
    if (durationMs < 30_000) {
        throw new InputError(
            "jetstream.lameDuckDuration",
            `${formatDuration(durationMs)} is too short: nats-server requires at least 30s`,
        );
    }
    if (graceMs >= durationMs) {
        throw new InputError(
            "jetstream.lameDuckGracePeriod",
            `${formatDuration(graceMs)} must be shorter than lameDuckDuration ${formatDuration(durationMs)}`,
        );
    }
    const minimumGrace = Math.ceil(durationMs / 1000);
    const termination = js.terminationGracePeriodSeconds ?? minimumGrace + DEFAULTS.terminationGraceMarginSeconds;
    if (!Number.isInteger(termination) || termination <= minimumGrace) {
        throw new InputError(
            "jetstream.terminationGracePeriodSeconds",
            `${JSON.stringify(termination)} must be a whole number of seconds above lameDuckDuration (${minimumGrace}s), or Kubernetes kills the server before it has handed over its streams (Argo #3948)`,
        );
    }
    return {
        lameDuckDuration: formatDuration(durationMs),
        lameDuckGracePeriod: formatDuration(graceMs),
        terminationGracePeriodSeconds: termination,
    };
}

/** The main container's memory limit must be one `GOMEMLIMIT` can be derived from (whole bytes, no milli). */
function checkMemoryLimit(template: JetStreamBusArgs["containerTemplate"]): void {
    const resources = template?.resources as { limits?: Record<string, unknown> } | undefined;
    const memory =
        isDeployTimeValue(resources) || isDeployTimeValue(resources?.limits) ? undefined : resources?.limits?.memory;
    if (memory !== undefined && !isDeployTimeValue(memory)) {
        goMemLimit(String(memory));
    }
}

/** Checks `jetstream.networkPolicy`: lists of valid namespace names. */
export function resolveNetworkPolicy(
    policy: JetStreamBusArgs["networkPolicy"],
    field = "jetstream.networkPolicy",
): NetworkPolicySpec | undefined {
    if (policy === undefined) {
        return undefined;
    }
    rejectUnknownKeys(policy, NETWORK_POLICY_KEYS, field);
    const check = (list: unknown, key: string): string[] | undefined => {
        if (list === undefined) return undefined;
        if (!Array.isArray(list)) throw new InputError(`${field}.${key}`, "must be a list of namespace names");
        list.forEach((ns, i) => validateNamespace(ns, `${field}.${key}[${i}]`));
        return [...list];
    };
    return {
        clientNamespaces: check(policy.clientNamespaces, "clientNamespaces"),
        monitoringNamespaces: check(policy.monitoringNamespaces, "monitoringNamespaces") ?? [],
    };
}

/** The connection settings of a bus, checked, with the mode defaulted. */
export interface BusConnectionSpec {
    mode: ConnectionMode;
    servers?: string[];
    serverName?: string;
    /** Kubeconfig text for the port-forward and the servers' day-2 calls, when given. */
    kubeconfig?: pulumi.Input<string>;
    context?: string;
}

/** Checks `connection`: a known mode, and URLs exactly when the mode is `direct`. */
export function resolveBusConnection(
    connection: BusConnectionArgs | undefined,
    field = "connection",
): BusConnectionSpec {
    rejectUnknownKeys(connection, CONNECTION_KEYS, field);
    const mode = checkChoice(connection?.mode ?? "auto", CONNECTION_MODES, `${field}.mode`);
    const servers = connection?.servers;
    if (mode === "direct") {
        if (!Array.isArray(servers) || servers.length === 0) {
            throw new InputError(
                `${field}.servers`,
                'mode direct needs at least one server URL, e.g. ["nats://nats.example.com:4222"]',
            );
        }
        servers.forEach((url, i) => {
            const problem = typeof url === "string" ? serverUrlProblem(url) : `${JSON.stringify(url)} is not a URL`;
            if (problem) throw new InputError(`${field}.servers[${i}]`, problem);
        });
    } else if (servers !== undefined) {
        throw new InputError(`${field}.servers`, `is used only with mode direct (mode is ${mode})`);
    }
    const kubeconfig = connection?.kubeconfig;
    if (
        kubeconfig !== undefined &&
        !isDeployTimeValue(kubeconfig) &&
        (typeof kubeconfig !== "string" || kubeconfig === "")
    ) {
        throw new InputError(
            `${field}.kubeconfig`,
            `must be the text of a kubeconfig, got ${describeType(kubeconfig)}`,
        );
    }
    for (const key of ["serverName", "context"] as const) {
        const value = connection?.[key];
        if (value !== undefined && (typeof value !== "string" || value === "")) {
            throw new InputError(`${field}.${key}`, "must be a non-empty string");
        }
    }
    return { mode, servers, serverName: connection?.serverName, kubeconfig, context: connection?.context };
}

/**
 * The servers of a URL list: one URL, or several separated by commas as nats.go's `Connect` (and so
 * Argo Events) takes them. Each is checked; a problem names the server's position.
 */
export function splitServerUrls(url: string, field: string): string[] {
    const servers = url.split(",").map((part) => part.trim());
    servers.forEach((server, index) => {
        const problem =
            server === "" ? "is empty (two commas in a row, or a comma at an end)" : serverUrlProblem(server);
        if (problem) {
            throw new InputError(
                field,
                servers.length > 1 ? `server ${index + 1} of ${servers.length}: ${problem}` : problem,
            );
        }
    });
    return servers;
}

/** Common fields of every bus kind, checked and defaulted. */
export interface BusIdentity {
    busName: string;
    namespace: string;
    clusterDomain: string;
    /** EventBus labels, checked. */
    labels?: Record<string, string>;
}

/**
 * A copy of plain objects without their `null` fields, so that an empty key of a stack file or manifest means unset.
 */
function withoutNulls<T>(value: T): T {
    if (value === null || typeof value !== "object" || Array.isArray(value) || isDeployTimeValue(value)) {
        return value;
    }
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
        return value;
    }
    return Object.fromEntries(
        Object.entries(value as Record<string, unknown>)
            .filter(([, item]) => item !== null)
            .map(([key, item]) => [key, withoutNulls(item)]),
    ) as T;
}

/**
 * The arguments of a bus, with `null` fields dropped (YAML's empty value means unset, as in
 * Kubernetes), or an error when there are none.
 */
export function normalizeArgs(args: unknown): EventBusArgs {
    if (args === undefined || args === null) {
        throw new InputError(
            "args",
            'are required: set jetstream (a managed cluster, e.g. { jetstream: { version: "latest" } }) or jetstreamExotic (a server you run yourself)',
        );
    }
    rejectUnknownKeys(args as object, EVENTBUS_KEYS, "");
    return withoutNulls(args as EventBusArgs);
}

/** Namespace, bus name and cluster domain of a bus, with their defaults, and its labels checked. */
export function resolveIdentity(componentName: string, args: EventBusArgs): BusIdentity {
    rejectUnknownKeys(args, EVENTBUS_KEYS, "");
    checkShape(args.labels, LABELS, "labels");
    return {
        busName: validateBusName(
            args.busName ?? componentName,
            args.busName === undefined ? "busName (defaults to the component name)" : "busName",
        ),
        namespace: validateNamespace(args.namespace ?? DEFAULTS.namespace),
        clusterDomain: validateClusterDomain(args.clusterDomain ?? DEFAULTS.clusterDomain),
        labels: args.labels,
    };
}

/** Either kind of bus after validation. */
export type ResolvedBus = BusSpec | ExoticSpec;

/**
 * Validates the arguments of a bus of either kind, as Argo's EventBus takes them, and applies every
 * default. Throws an {@link InputError} naming the field at fault; nothing has been created then.
 */
export function resolveBus(componentName: string, rawArgs: EventBusArgs): ResolvedBus {
    const args = normalizeArgs(rawArgs);
    return args.jetstreamExotic !== undefined && args.jetstream === undefined
        ? resolveExoticSpec(componentName, args)
        : resolveBusSpec(componentName, args);
}

/**
 * Validates the arguments of a managed bus and applies every default. Throws an
 * {@link InputError} naming the field at fault; nothing has been created at that point.
 */
export function resolveBusSpec(componentName: string, rawArgs: EventBusArgs): BusSpec {
    const args = normalizeArgs(rawArgs);
    const identity = resolveIdentity(componentName, args);
    if (args.jetstream !== undefined && args.jetstreamExotic !== undefined) {
        // Argo's controller silently prefers `jetstream`; a user who set both meant one of them.
        throw new InputError("jetstream", "jetstream and jetstreamExotic are both set; set exactly one of them");
    }
    const js = args.jetstream;
    if (js === undefined || js === null) {
        throw new InputError(
            "jetstream",
            "is required for a managed bus (set jetstream, or jetstreamExotic to use a server you run yourself)",
        );
    }
    rejectUnknownKeys(js, JETSTREAM_KEYS, "jetstream");
    checkPodFields(js as unknown as Record<string, unknown>, "jetstream");
    checkMemoryLimit(js.containerTemplate);
    const version = validateVersion(js.version);
    const replicas = validateReplicas(js.replicas ?? DEFAULTS.replicas);
    const persistence = resolvePersistence(js.persistence);
    const jetstreamSettings = resolveJetStreamSettings(
        js.settings,
        js.jetstreamSettings,
        persistence,
        version.serverVersion,
    );
    const podDisruptionBudget = checkBoolean(js.podDisruptionBudget ?? replicas >= 3, "jetstream.podDisruptionBudget");
    const stream = resolveStream(
        {
            streamConfig: js.streamConfig,
            stream: js.stream,
            streamLifecycle: js.streamLifecycle,
            busReplicas: replicas,
            serverVersion: version.serverVersion,
            serverVersionSource: `version "${version.version}" runs ${version.serverVersion}`,
        },
        "jetstream",
    );
    checkStreamStorageAllowed(
        jetstreamSettings,
        stream.spec.storage,
        js.settings !== undefined ? "jetstream.settings" : "jetstream.jetstreamSettings",
    );
    return {
        kind: "managed",
        ...identity,
        names: objectNames(identity.busName),
        replicas,
        version,
        images: resolveImages(version, js.images),
        maxPayloadBytes: validateMaxPayload(js.maxPayload ?? DEFAULTS.maxPayload),
        persistence,
        jetstreamSettings,
        ...resolveLameDuck(js),
        startArgs: checkStartArgs(js.startArgs),
        podDisruptionBudget,
        stream,
        networkPolicy: resolveNetworkPolicy(js.networkPolicy),
        podMonitor: resolvePodMonitor(js.podMonitor),
        connection: resolveBusConnection(args.connection),
        argoEvents: resolveArgoEvents(args.argoEvents, stream.spec),
        pod: podSettings(js),
    };
}

/** The pass-through pod fields of `jetstream`, already checked by {@link checkPodFields}. */
function podSettings(js: JetStreamBusArgs): PodSettings {
    return Object.fromEntries(POD_SETTINGS_KEYS.map((key) => [key, js[key]])) as PodSettings;
}

/** PEM text given inline or as a key of a Secret in the bus's namespace. */
export type PemSource = { secret: SecretKeySelector } | { text: pulumi.Input<string> };

/** How a `jetstreamExotic` client authenticates: Argo's client-auth Secret, or a user name and password. */
export type ExoticCredentials =
    { accessSecret: SecretKeySelector } | { username: pulumi.Input<string>; password: pulumi.Input<string> };

/** A `jetstreamExotic` bus after validation. */
export interface ExoticSpec extends ResolvedBusBase {
    kind: "exotic";
    /** The URL as given: one server, or several separated by commas as Argo Events (nats.go) accepts. */
    url: string;
    /** Each server URL of `url`. */
    servers: string[];
    /** Unset: the server takes clients without a password. */
    credentials?: ExoticCredentials;
    /** The CA the server certificate is verified against. */
    caCert?: PemSource;
    /** A client certificate and its key, for servers that require one (both or neither). */
    clientCert?: PemSource;
    clientKey?: PemSource;
    insecureSkipVerify: boolean;
    /** TLS against the system's CAs (Argo's `tls.enabled`) when no CA is given. */
    tlsEnabled: boolean;
    serverName?: string;
}

function validateSecretKeySelector(selector: unknown, field: string): SecretKeySelector | undefined {
    if (selector === undefined) {
        return undefined;
    }
    rejectUnknownKeys(selector as object, SECRET_KEY_SELECTOR_KEYS, field);
    const { name, key } = selector as Record<string, unknown>;
    // Never repeat the text: a password or a key is sometimes given where a reference belongs.
    if (!isDnsSubdomain(name)) {
        throw new InputError(
            `${field}.name`,
            `must be the name of a Secret (${DNS_SUBDOMAIN_RULE}), got ${typeof name === "string" ? "a string that is not one" : describeType(name, false)}`,
        );
    }
    if (typeof key !== "string" || key.length > 253 || !/^[-._a-zA-Z0-9]+$/.test(key)) {
        throw new InputError(
            `${field}.key`,
            `must be a key of the Secret (at most 253 letters, digits, '-', '_' and '.'), got ${typeof key === "string" ? "a string that is not one" : describeType(key, false)}`,
        );
    }
    return { name, key };
}

/** PEM from a Secret or given inline; at most one of them is set (checked by the caller). */
function pemSource(
    secret: SecretKeySelector | undefined,
    text: pulumi.Input<string> | undefined,
): PemSource | undefined {
    return secret ? { secret } : text !== undefined ? { text } : undefined;
}

/**
 * Validates a `jetstreamExotic` bus: a server URL, credentials from one place, TLS material from one
 * place, and the stream with Argo's full defaults, which Argo itself does not apply to an exotic bus
 * (https://github.com/argoproj/argo-events/issues/3549).
 */
export function resolveExoticSpec(componentName: string, rawArgs: EventBusArgs): ExoticSpec {
    const args = normalizeArgs(rawArgs);
    const identity = resolveIdentity(componentName, args);
    const exotic = args.jetstreamExotic;
    if (exotic === undefined || exotic === null) {
        throw new InputError("jetstreamExotic", "is required");
    }
    if (args.jetstream !== undefined) {
        throw new InputError("jetstream", "jetstream and jetstreamExotic are both set; set exactly one of them");
    }
    if (args.connection !== undefined) {
        throw new InputError(
            "connection",
            "applies to a managed bus; a jetstreamExotic server is reached at jetstreamExotic.url",
        );
    }
    rejectUnknownKeys(exotic, EXOTIC_KEYS, "jetstreamExotic");
    if (typeof exotic.url !== "string" || exotic.url === "") {
        throw new InputError("jetstreamExotic.url", "is required: the server's URL, e.g. nats://nats.example.svc:4222");
    }
    const servers = splitServerUrls(exotic.url, "jetstreamExotic.url");
    for (const key of ["username", "password", "caCert", "clientCert", "clientKey"] as const) {
        const value = exotic[key];
        if (value !== undefined && !isDeployTimeValue(value) && (typeof value !== "string" || value === "")) {
            throw new InputError(
                `jetstreamExotic.${key}`,
                `must be a non-empty string${key.endsWith("Cert") || key === "clientKey" ? " of PEM text" : ""}, got ${describeType(value, false)}`,
            );
        }
    }
    const accessSecret = validateSecretKeySelector(exotic.accessSecret, "jetstreamExotic.accessSecret");
    if (accessSecret && (exotic.username !== undefined || exotic.password !== undefined)) {
        throw new InputError(
            "jetstreamExotic.accessSecret",
            "cannot be combined with username/password; use one of them",
        );
    }
    if ((exotic.username === undefined) !== (exotic.password === undefined)) {
        throw new InputError(
            exotic.username === undefined ? "jetstreamExotic.username" : "jetstreamExotic.password",
            "username and password go together",
        );
    }
    const tls = exotic.tls ?? {};
    rejectUnknownKeys(tls, EXOTIC_TLS_KEYS, "jetstreamExotic.tls");
    const caCertSecret = validateSecretKeySelector(tls.caCertSecret, "jetstreamExotic.tls.caCertSecret");
    const clientCertSecret = validateSecretKeySelector(tls.clientCertSecret, "jetstreamExotic.tls.clientCertSecret");
    const clientKeySecret = validateSecretKeySelector(tls.clientKeySecret, "jetstreamExotic.tls.clientKeySecret");
    if (caCertSecret && exotic.caCert !== undefined) {
        throw new InputError("jetstreamExotic.caCert", "cannot be combined with tls.caCertSecret; use one of them");
    }
    if (clientCertSecret && exotic.clientCert !== undefined) {
        throw new InputError(
            "jetstreamExotic.clientCert",
            "cannot be combined with tls.clientCertSecret; use one of them",
        );
    }
    if (clientKeySecret && exotic.clientKey !== undefined) {
        throw new InputError(
            "jetstreamExotic.clientKey",
            "cannot be combined with tls.clientKeySecret; use one of them",
        );
    }
    const hasClientCert = clientCertSecret !== undefined || exotic.clientCert !== undefined;
    const hasClientKey = clientKeySecret !== undefined || exotic.clientKey !== undefined;
    if (hasClientCert !== hasClientKey) {
        // Name the missing half in the same form as the half that was given.
        const missing = hasClientCert
            ? clientCertSecret
                ? "jetstreamExotic.tls.clientKeySecret"
                : "jetstreamExotic.clientKey"
            : clientKeySecret
              ? "jetstreamExotic.tls.clientCertSecret"
              : "jetstreamExotic.clientCert";
        throw new InputError(
            missing,
            "a client certificate and its key go together: the server checks the certificate with the key that signed the handshake",
        );
    }
    for (const key of ["insecureSkipVerify", "enabled"] as const) {
        if (tls[key] !== undefined) {
            checkBoolean(tls[key], `jetstreamExotic.tls.${key}`);
        }
    }
    const serverVersion = checkServerVersion(
        exotic.serverVersion ?? LATEST_SERVER_VERSION,
        "jetstreamExotic.serverVersion",
    );
    const stream = resolveStream(
        {
            streamConfig: exotic.streamConfig,
            stream: exotic.stream,
            streamLifecycle: exotic.streamLifecycle,
            serverVersion,
            serverVersionSource: `serverVersion is ${serverVersion}`,
        },
        "jetstreamExotic",
    );
    if (exotic.serverName !== undefined && (typeof exotic.serverName !== "string" || exotic.serverName === "")) {
        throw new InputError("jetstreamExotic.serverName", "must be a non-empty host name");
    }
    return {
        kind: "exotic",
        busName: identity.busName,
        namespace: identity.namespace,
        labels: identity.labels,
        url: exotic.url,
        servers,
        credentials: accessSecret
            ? { accessSecret }
            : exotic.username !== undefined
              ? { username: exotic.username, password: exotic.password! }
              : undefined,
        caCert: pemSource(caCertSecret, exotic.caCert),
        clientCert: pemSource(clientCertSecret, exotic.clientCert),
        clientKey: pemSource(clientKeySecret, exotic.clientKey),
        insecureSkipVerify: tls.insecureSkipVerify ?? false,
        tlsEnabled: tls.enabled ?? false,
        serverName: exotic.serverName,
        stream,
        argoEvents: resolveArgoEvents(args.argoEvents, stream.spec),
    };
}
