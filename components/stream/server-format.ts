/**
 * The stream's configuration in the JetStream API's own format (snake_case, durations in
 * nanoseconds), both ways: what is sent to create or update a stream, and what the server's answer
 * means in our model. The one place that knows the wire format (JetStream API reference,
 * https://docs.nats.io/reference/reference-protocols/nats_api_reference).
 */
import { atLeast } from "../versions";
import type { StreamSpec } from "./model";

const NS_PER_MS = 1_000_000;

/**
 * The stream configuration as the JetStream API takes it (snake_case, durations in nanoseconds).
 *
 * Fields at their "not set" value are left out when older servers do not know them
 * (`compression` "none", `metadata` {}, `first_seq` 0: nats-server 2.10 fields, which nats.js refuses
 * to send to a 2.9 server; nats.js, https://github.com/nats-io/nats.js), and so are an empty `description` and
 * `placement`.
 * Nanoseconds are plain numbers: every whole-millisecond value stays exact up to about 18 years
 * (nats.js, https://github.com/nats-io/nats.js).
 */
export function toServerStreamConfig(spec: StreamSpec): Record<string, unknown> {
    const config: Record<string, unknown> = {
        name: spec.name,
        subjects: [...spec.subjects],
        retention: spec.retention,
        storage: spec.storage,
        discard: spec.discard,
        max_msgs: spec.maxMsgs,
        max_bytes: spec.maxBytes,
        max_age: spec.maxAgeMs * NS_PER_MS,
        duplicate_window: spec.duplicatesMs * NS_PER_MS,
        num_replicas: spec.replicas,
        max_msg_size: spec.maxMsgSize,
        max_msgs_per_subject: spec.maxMsgsPerSubject,
        max_consumers: spec.maxConsumers,
        allow_direct: spec.allowDirect,
        allow_rollup_hdrs: spec.allowRollup,
        deny_delete: spec.denyDelete,
        deny_purge: spec.denyPurge,
        discard_new_per_subject: spec.discardNewPerSubject,
        no_ack: spec.noAck,
    };
    if (spec.description !== "") {
        config.description = spec.description;
    }
    if (spec.placement.cluster !== "" || spec.placement.tags.length > 0) {
        config.placement = {
            ...(spec.placement.cluster !== "" ? { cluster: spec.placement.cluster } : {}),
            ...(spec.placement.tags.length > 0 ? { tags: [...spec.placement.tags] } : {}),
        };
    }
    if (spec.compression !== "none") {
        config.compression = spec.compression;
    }
    if (Object.keys(spec.metadata).length > 0) {
        config.metadata = { ...spec.metadata };
    }
    if (spec.firstSeq > 0) {
        config.first_seq = spec.firstSeq;
    }
    return config;
}

/**
 * The configuration for an update. nats.js merges it into the server's current one, so fields the
 * user removed are sent as undefined (dropped, hence reset) rather than left out (kept)
 * (`jsm.streams.update` in nats.js, https://github.com/nats-io/nats.js).
 */
export function toServerUpdateConfig(spec: StreamSpec, serverVersion: string): Record<string, unknown> {
    const config: Record<string, unknown> = {
        description: undefined,
        placement: undefined,
        metadata: undefined,
        ...toServerStreamConfig(spec),
    };
    if (atLeast(serverVersion, "2.10.0")) {
        config.compression = spec.compression;
    }
    delete config.first_seq;
    return config;
}

function limit(value: unknown): number {
    // The server stores "unlimited" as -1 and turns 0 (and on newer servers anything below -1) into it
    // (nats-server's checkStreamCfg, server/stream.go).
    const n = typeof value === "number" ? value : -1;
    return n <= 0 ? -1 : n;
}

function millis(nanos: unknown): number {
    return typeof nanos === "number" ? Math.round(nanos / NS_PER_MS) : 0;
}

/**
 * A stream configuration as the server returns it, in our model. Server-owned details are dropped so
 * that an unchanged stream compares equal to its desired spec: `_nats.*` metadata (2.11+), and
 * fields the model does not manage (mirrors, sources, consumer limits, TTL settings).
 */
export function fromServerStreamConfig(config: Record<string, any>): StreamSpec {
    const metadata: Record<string, string> = {};
    for (const [key, value] of Object.entries(config.metadata ?? {})) {
        if (!key.startsWith("_nats.")) {
            metadata[key] = String(value);
        }
    }
    return {
        name: String(config.name),
        subjects: Array.isArray(config.subjects) ? config.subjects.map(String) : [],
        retention: config.retention ?? "limits",
        discard: config.discard ?? "old",
        storage: config.storage ?? "file",
        maxMsgs: limit(config.max_msgs),
        maxBytes: limit(config.max_bytes),
        maxAgeMs: millis(config.max_age),
        duplicatesMs: millis(config.duplicate_window),
        replicas: typeof config.num_replicas === "number" && config.num_replicas > 0 ? config.num_replicas : 1,
        maxMsgSize: limit(config.max_msg_size),
        maxMsgsPerSubject: limit(config.max_msgs_per_subject),
        maxConsumers: limit(config.max_consumers),
        compression: config.compression === "s2" ? "s2" : "none",
        allowDirect: config.allow_direct === true,
        allowRollup: config.allow_rollup_hdrs === true,
        denyDelete: config.deny_delete === true,
        denyPurge: config.deny_purge === true,
        discardNewPerSubject: config.discard_new_per_subject === true,
        noAck: config.no_ack === true,
        description: typeof config.description === "string" ? config.description : "",
        metadata,
        placement: {
            cluster: typeof config.placement?.cluster === "string" ? config.placement.cluster : "",
            tags: Array.isArray(config.placement?.tags) ? config.placement.tags.map(String) : [],
        },
        firstSeq: typeof config.first_seq === "number" ? config.first_seq : 0,
    };
}
