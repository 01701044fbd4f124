/**
 * A stream resolved once, from the settings a user writes to everything the Stream resource needs:
 * the normalized configuration, the nats-server release its rules are checked against, and its
 * lifecycle. Pure: the EventBus resolves its stream while validating its arguments, a Stream of its
 * own resolves it in its constructor, and neither does it twice.
 */
import { checkBoolean, checkChoice, InputError, keysOf, rejectUnknownKeys } from "../check";
import { parseDurationMs } from "../units";
import { parseServerVersion } from "../versions";
import { resolveStreamSpec, StreamSettingsInput, StreamSpec } from "./model";
import { fieldsNeedingNewerServer } from "./rules";
import { DEFAULT_CREATE_TIMEOUT } from "./view";

/** What happens to the stream when its resource is deleted. */
export type DeletionPolicy = "retain" | "delete";
export const DELETION_POLICIES: readonly DeletionPolicy[] = ["retain", "delete"];

/** What happens to the stream around its Pulumi lifecycle. */
export interface StreamLifecycleArgs {
    /** `retain` (default) keeps the stream and its messages when the resource is deleted; `delete` deletes it. */
    deletionPolicy?: DeletionPolicy;
    /**
     * Allow changes the server cannot make in place (storage, a renamed stream, retention to or from
     * workqueue, ...). They delete the stream and create it again, losing its messages. Default false:
     * such a change fails the preview.
     */
    allowDataLoss?: boolean;
    /** How long creating the stream may keep retrying while a new cluster elects its leader. Default `5m`. */
    createTimeout?: string;
}

const LIFECYCLE_KEYS = keysOf<StreamLifecycleArgs>()(["deletionPolicy", "allowDataLoss", "createTimeout"]);

/** Lifecycle settings with their defaults applied. */
export interface StreamLifecycleSpec {
    deletionPolicy: DeletionPolicy;
    allowDataLoss: boolean;
    /** As written, e.g. "5m". */
    createTimeout: string;
    createTimeoutMs: number;
}

/** Lifecycle settings with their defaults, checked; `field` prefixes error paths. */
export function resolveStreamLifecycle(lifecycle: StreamLifecycleArgs | undefined, field = ""): StreamLifecycleSpec {
    const at = (key: string) => (field ? `${field}.${key}` : key);
    rejectUnknownKeys(lifecycle, LIFECYCLE_KEYS, field);
    const deletionPolicy = checkChoice(lifecycle?.deletionPolicy ?? "retain", DELETION_POLICIES, at("deletionPolicy"));
    const allowDataLoss = checkBoolean(lifecycle?.allowDataLoss ?? false, at("allowDataLoss"));
    const createTimeout = lifecycle?.createTimeout ?? DEFAULT_CREATE_TIMEOUT;
    return {
        deletionPolicy,
        allowDataLoss,
        createTimeout,
        createTimeoutMs: parseDurationMs(createTimeout, at("createTimeout")),
    };
}

/** `value` when it is a nats-server release such as "2.10.29". */
export function checkServerVersion(value: unknown, field: string): string {
    try {
        parseServerVersion(value as string);
    } catch {
        throw new InputError(field, `${JSON.stringify(value)} is not a nats-server version like "2.10.29"`);
    }
    return value as string;
}

/** A stream ready for its resource: every default applied, every rule checked. */
export interface ResolvedStream {
    /** The normalized configuration. */
    spec: StreamSpec;
    /** The nats-server release the stream lives on, until the server reports its own. */
    serverVersion: string;
    lifecycle: StreamLifecycleSpec;
}

/** The stream settings of a bus or of a Stream of its own. */
export interface StreamInput {
    /** Argo's `streamConfig` YAML. */
    streamConfig?: string;
    /** Typed settings; they win over `streamConfig`. */
    stream?: StreamSettingsInput;
    streamLifecycle?: StreamLifecycleArgs;
    /** Servers in the cluster, when known: stream replicas may not exceed it. */
    busReplicas?: number;
    /** The release the stream lives on (already checked). */
    serverVersion: string;
    /** How the release is named in an error, e.g. `version "2.10" runs 2.10.29`. */
    serverVersionSource: string;
}

/**
 * Resolves a stream's settings and lifecycle, and refuses fields the server's release does not
 * support. `field` prefixes error paths (`jetstream`, `jetstreamExotic`, or "" for a Stream).
 */
export function resolveStream(input: StreamInput, field: string): ResolvedStream {
    const at = (key: string) => (field ? `${field}.${key}` : key);
    const spec = resolveStreamSpec({
        streamConfig: input.streamConfig,
        stream: input.stream,
        busReplicas: input.busReplicas,
        field,
    });
    const tooNew = fieldsNeedingNewerServer(spec, input.serverVersion);
    if (tooNew.length > 0) {
        throw new InputError(
            at(`stream.${tooNew[0]}`),
            `needs nats-server 2.10 or later; ${input.serverVersionSource}`,
        );
    }
    return {
        spec,
        serverVersion: input.serverVersion,
        lifecycle: resolveStreamLifecycle(input.streamLifecycle, at("streamLifecycle")),
    };
}
