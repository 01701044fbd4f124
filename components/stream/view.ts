/**
 * The stream's configuration as the Stream resource keeps it in state, and so as `pulumi preview
 * --diff` shows it: sizes and durations written the way people write them (`maxAge: "168h"`,
 * `maxBytes: "1GiB"`, `"unlimited"`), so a reviewer reads a change without doing arithmetic.
 *
 * Version 0.1.0 stored the normalized model itself (milliseconds and bytes, -1 for unlimited). State
 * written that way is still read: both forms convert to the same {@link StreamSpec}, which is what
 * diffs compare, so upgrading the package shows no change.
 */
import { InputError } from "../check";
import { formatDuration, parseDurationMs, parseNatsSize } from "../units";
import { StreamSpec } from "./model";

/** How an unlimited size, count or age is shown. */
export const UNLIMITED = "unlimited";

/** A limit that is either a whole number or unlimited. */
export type CountLimit = number | typeof UNLIMITED;

/** A {@link StreamSpec} in the units people write. */
export interface StreamConfigView extends Omit<
    StreamSpec,
    "maxAgeMs" | "duplicatesMs" | "maxBytes" | "maxMsgSize" | "maxMsgs" | "maxMsgsPerSubject" | "maxConsumers"
> {
    /** Most messages kept, or "unlimited". */
    maxMsgs: CountLimit;
    /** Most bytes kept, as a size (`"1GiB"`, or `"10G"` for 10⁹ bytes), or "unlimited". */
    maxBytes: string;
    /** Oldest message age kept, as a Go duration (`"168h"`), or "unlimited". */
    maxAge: string;
    /** De-duplication window, as a Go duration (`"2m"`). */
    duplicates: string;
    /** Largest message, as a nats-server size, or "unlimited". */
    maxMsgSize: string;
    /** Most messages per subject, or "unlimited". */
    maxMsgsPerSubject: CountLimit;
    /** Most consumers, or "unlimited". */
    maxConsumers: CountLimit;
}

/** What a Stream's state may hold: the current form, or the model as version 0.1.0 stored it. */
export type StoredStreamConfig = StreamConfigView | StreamSpec;

/** True for the form version 0.1.0 stored (milliseconds and bytes). */
export function isModelForm(config: StoredStreamConfig): config is StreamSpec {
    return typeof config === "object" && config !== null && "maxAgeMs" in config;
}

function countView(value: number): CountLimit {
    return value < 0 ? UNLIMITED : value;
}

/**
 * Units for sizes: IEC for powers of 1024 (unambiguous to every reader), SI letters for powers of 1000 as nats-server
 * reads them.
 */
const SIZE_UNITS: readonly [string, number][] = [
    ["TiB", 1024 ** 4],
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
    ["T", 1000 ** 4],
    ["G", 1000 ** 3],
    ["M", 1000 ** 2],
    ["K", 1000],
];

/**
 * The size in the unit that needs the fewest digits ("1GiB", "10G"), a plain byte count otherwise; parseNatsSize reads
 * each back exactly.
 */
function sizeView(bytes: number): string {
    if (bytes < 0) return UNLIMITED;
    let best = String(bytes);
    let digits = best.length;
    for (const [unit, size] of SIZE_UNITS) {
        if (bytes > 0 && bytes % size === 0 && String(bytes / size).length < digits) {
            best = `${bytes / size}${unit}`;
            digits = String(bytes / size).length;
        }
    }
    return best;
}

/** The view of a normalized spec. */
export function toStreamView(spec: StreamSpec): StreamConfigView {
    const { maxAgeMs, duplicatesMs, maxBytes, maxMsgSize, maxMsgs, maxMsgsPerSubject, maxConsumers, ...rest } = spec;
    return {
        ...rest,
        maxMsgs: countView(maxMsgs),
        maxBytes: sizeView(maxBytes),
        // The server reads a max_age of 0 as "no limit".
        maxAge: maxAgeMs === 0 ? UNLIMITED : formatDuration(maxAgeMs),
        duplicates: formatDuration(duplicatesMs),
        maxMsgSize: sizeView(maxMsgSize),
        maxMsgsPerSubject: countView(maxMsgsPerSubject),
        maxConsumers: countView(maxConsumers),
    };
}

function countOf(value: unknown, field: string): number {
    if (value === UNLIMITED) return -1;
    if (typeof value === "number" && Number.isSafeInteger(value) && value >= -1) return value;
    throw new InputError(field, `${JSON.stringify(value)} is not a count; use a whole number or "${UNLIMITED}"`);
}

function sizeOf(value: unknown, field: string): number {
    if (value === UNLIMITED) return -1;
    return parseNatsSize(value as string, field);
}

/** The normalized spec of a view; throws {@link InputError} naming `config.<field>` on a malformed value. */
export function fromStreamView(view: StreamConfigView): StreamSpec {
    const { maxAge, duplicates, maxBytes, maxMsgSize, maxMsgs, maxMsgsPerSubject, maxConsumers, ...rest } = view;
    return {
        ...rest,
        maxMsgs: countOf(maxMsgs, "config.maxMsgs"),
        maxBytes: sizeOf(maxBytes, "config.maxBytes"),
        maxAgeMs: maxAge === UNLIMITED ? 0 : parseDurationMs(maxAge, "config.maxAge"),
        duplicatesMs: parseDurationMs(duplicates, "config.duplicates"),
        maxMsgSize: sizeOf(maxMsgSize, "config.maxMsgSize"),
        maxMsgsPerSubject: countOf(maxMsgsPerSubject, "config.maxMsgsPerSubject"),
        maxConsumers: countOf(maxConsumers, "config.maxConsumers"),
    };
}

/** The normalized spec of a stored configuration, in either form. */
export function specOfStored(config: StoredStreamConfig): StreamSpec {
    return isModelForm(config) ? config : fromStreamView(config);
}

/** `spec` in the form `like` is stored in, so that reading a stream back never rewrites its state's form. */
export function storedLike(spec: StreamSpec, like: StoredStreamConfig): StoredStreamConfig {
    return isModelForm(like) ? spec : toStreamView(spec);
}

/** How long creating a stream keeps retrying while a new cluster elects its leader, unless set. */
export const DEFAULT_CREATE_TIMEOUT = "5m";

/** The lifecycle timeout of a Stream's inputs: `createTimeout` ("5m"), or 0.1.0's `createTimeoutMs`. */
export function createTimeoutMsOf(props: { createTimeout?: string; createTimeoutMs?: number }): number {
    if (props.createTimeoutMs !== undefined && props.createTimeout === undefined) {
        return props.createTimeoutMs;
    }
    return parseDurationMs(props.createTimeout ?? DEFAULT_CREATE_TIMEOUT, "createTimeout");
}
