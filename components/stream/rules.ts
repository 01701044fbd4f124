/**
 * Which changes of a stream the server accepts in place, which need a replacement, and which need a
 * newer server. Pure: no network, so `pulumi preview` never connects.
 */
import { keysOf } from "../check";
import { StreamSpec } from "./model";
import { atLeast } from "../versions";

/** The fields of {@link StreamSpec}, in display order. */
export const STREAM_FIELDS = keysOf<StreamSpec>()([
    "name",
    "subjects",
    "retention",
    "discard",
    "storage",
    "maxMsgs",
    "maxBytes",
    "maxAgeMs",
    "duplicatesMs",
    "replicas",
    "maxMsgSize",
    "maxMsgsPerSubject",
    "maxConsumers",
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
]);

function sameValue(a: unknown, b: unknown): boolean {
    if (Array.isArray(a) || Array.isArray(b) || (typeof a === "object" && a !== null)) {
        return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
    }
    return a === b;
}

function sortKeys(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(sortKeys);
    }
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(
            Object.keys(value)
                .sort()
                .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
        );
    }
    return value;
}

/** The fields whose values differ between two specs. */
export function changedFields(current: StreamSpec, desired: StreamSpec): (keyof StreamSpec)[] {
    return STREAM_FIELDS.filter((field) => !sameValue(current[field], desired[field]));
}

/** A change the server refuses to make in place, and why. */
export interface ReplaceReason {
    field: keyof StreamSpec;
    reason: string;
}

/**
 * The changes from `current` to `desired` that the given nats-server release refuses as an update,
 * so the stream would have to be deleted and created again (nats-server's stream update checks,
 * server/stream.go).
 */
export function replaceReasons(current: StreamSpec, desired: StreamSpec, serverVersion: string): ReplaceReason[] {
    const reasons: ReplaceReason[] = [];
    const changed = new Set(changedFields(current, desired));
    const refuse = (field: keyof StreamSpec, reason: string) => reasons.push({ field, reason });
    if (changed.has("name")) {
        refuse("name", "a stream cannot be renamed");
    }
    if (changed.has("storage")) {
        refuse("storage", "the server cannot change a stream's storage type");
    }
    if (changed.has("retention")) {
        if (!atLeast(serverVersion, "2.10.0")) {
            refuse(
                "retention",
                `nats-server ${serverVersion} cannot change a stream's retention policy (2.10 and later can between limits and interest)`,
            );
        } else if (current.retention === "workqueue" || desired.retention === "workqueue") {
            refuse("retention", "the server cannot change retention to or from workqueue");
        }
    }
    if (changed.has("maxConsumers") && !atLeast(serverVersion, "2.12.5")) {
        refuse("maxConsumers", `nats-server ${serverVersion} cannot change maxConsumers (2.12.5 and later can)`);
    }
    if (current.denyDelete && !desired.denyDelete) {
        refuse("denyDelete", "denyDelete cannot be turned off once set");
    }
    if (current.denyPurge && !desired.denyPurge) {
        refuse("denyPurge", "denyPurge cannot be turned off once set");
    }
    if (changed.has("firstSeq")) {
        refuse("firstSeq", "the first sequence applies only when a stream is created");
    }
    return reasons;
}

/**
 * A change no single update can make and that a replacement would not need either: the server
 * refuses to move (placement) and scale (replicas) a stream at once (error 10123).
 */
export function conflictingChange(current: StreamSpec, desired: StreamSpec): string | undefined {
    const changed = new Set(changedFields(current, desired));
    if (changed.has("replicas") && changed.has("placement")) {
        return `the server cannot change replicas (${current.replicas} -> ${desired.replicas}) and placement in one update (error 10123); change one, run pulumi up, then change the other`;
    }
    return undefined;
}

/** Fields that need nats-server 2.10 or later when set: they were added to the stream configuration in 2.10. */
export function fieldsNeedingNewerServer(spec: StreamSpec, serverVersion: string): string[] {
    if (atLeast(serverVersion, "2.10.0")) {
        return [];
    }
    const needs: string[] = [];
    if (spec.compression !== "none") needs.push("compression");
    if (Object.keys(spec.metadata).length > 0) needs.push("metadata");
    if (spec.firstSeq > 0) needs.push("firstSeq");
    return needs;
}

/**
 * Releases that can lose an encrypted stream at a restart (nats-server PR #7678, fixed in 2.11.12
 * and 2.12.4; no 2.10 release has the fix). They open a file store that has no state index (one
 * written by 2.9, or left by a crash) without loading its encryption key; when they next save the
 * index they write a new `meta.key` but leave `meta.inf` encrypted with the old key, and at the
 * following start the server cannot decrypt it and drops the stream ("Error decrypting our stream
 * metafile"). A bus encrypts at rest by default (Argo's `JS_KEY`).
 */
export function losesEncryptedStreamKey(serverVersion: string): boolean {
    if (!atLeast(serverVersion, "2.10.0")) return false;
    if (!atLeast(serverVersion, "2.11.0")) return true;
    if (!atLeast(serverVersion, "2.12.0")) return !atLeast(serverVersion, "2.11.12");
    return !atLeast(serverVersion, "2.12.4");
}

/**
 * Whether the stream's configuration must be written although it did not change: the server runs a
 * release of {@link losesEncryptedStreamKey} and the stream's store may have been written by 2.9 —
 * this resource last saw it on a release before 2.10, or it is adopting a stream it did not create
 * (`priorVersions` undefined). Any stream update re-encrypts `meta.inf` with the current key on
 * every replica, which closes the upgrade case; one request, on the `pulumi up` that upgrades.
 */
export function needsMetadataRewrite(priorVersions: ReadonlyArray<string> | undefined, serverVersion: string): boolean {
    if (!losesEncryptedStreamKey(serverVersion)) {
        return false;
    }
    // A release we cannot read tells us nothing about the store: write, as when adopting.
    const beforeTwoTen = (v: string) => {
        try {
            return !atLeast(v, "2.10.0");
        } catch {
            return true;
        }
    };
    return priorVersions === undefined || priorVersions.some(beforeTwoTen);
}
