/**
 * The one validation toolkit: the error every input check throws, and the small checks shared by the
 * modules that read input (bus arguments, stream settings, Argo manifests, stack configuration).
 */
import * as pulumi from "@pulumi/pulumi";

/**
 * A problem with the input of an EventBus or Stream, found before anything is created.
 *
 * The message always starts with the path of the offending field (for example
 * `jetstream.replicas`) so that `pulumi preview` points straight at it. A `RunError`, so the
 * engine prints just that message, not "failed with an unhandled exception" and a stack trace
 * in which the message is easy to miss.
 */
export class InputError extends pulumi.RunError {
    /** Dotted path of the field at fault, e.g. `jetstream.persistence.volumeSize`. */
    public readonly field: string;

    constructor(field: string, problem: string) {
        super(`${field}: ${problem}`);
        this.name = "InputError";
        this.field = field;
    }
}

/** Levenshtein distance, used to suggest the key a user probably meant. */
export function editDistance(a: string, b: string): number {
    const previous = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
        let diagonal = previous[0];
        previous[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const above = previous[j];
            previous[j] = Math.min(previous[j] + 1, previous[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
            diagonal = above;
        }
    }
    return previous[b.length];
}

/**
 * " (did you mean "maxAge"?)" when one of `known` is close to `unknown`, else "".
 * Comparison ignores case, as Argo's viper-based parsing does.
 */
export function didYouMean(unknown: string, known: readonly string[]): string {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const candidate of known) {
        const distance = editDistance(unknown.toLowerCase(), candidate.toLowerCase());
        if (distance < bestDistance) {
            best = candidate;
            bestDistance = distance;
        }
    }
    const closeEnough = best !== undefined && bestDistance <= Math.max(2, Math.floor(unknown.length / 3));
    return closeEnough ? ` (did you mean "${best}"?)` : "";
}

/**
 * The kind of an unexpected value, for error messages: "a string", "a list", "a mapping", "the number 3".
 * Never the text of a string: a value in the wrong place may be a password or a private key. Where a
 * credential may stand (a Secret reference, a password), pass `showScalars: false` to hide numbers too.
 */
export function describeType(value: unknown, showScalars = true): string {
    if (value === undefined) {
        return "nothing";
    }
    if (value === null) {
        return "null (an empty value)";
    }
    if (Array.isArray(value)) {
        return "a list";
    }
    switch (typeof value) {
        case "string":
            return value === "" ? "an empty string" : "a string";
        case "number":
        case "boolean":
            return showScalars ? `the ${typeof value} ${String(value)}` : `a ${typeof value}`;
        case "object":
            return "a mapping";
        default:
            return `a ${typeof value}`;
    }
}

/** A mapping: an object that is not a list (and not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Throws when `value` has keys other than `known`, suggesting the closest known key. */
export function rejectUnknownKeys(value: object | undefined, known: readonly string[], field: string): void {
    if (value === undefined || value === null) {
        return;
    }
    if (typeof value !== "object" || Array.isArray(value)) {
        // Name the type only: the value may be a credential given in the wrong place.
        throw new InputError(
            field || "args",
            `must be an object, got ${Array.isArray(value) ? "a list" : `a ${typeof value}`}`,
        );
    }
    for (const key of Object.keys(value)) {
        if (!known.includes(key)) {
            throw new InputError(
                field === "" ? key : `${field}.${key}`,
                `unknown field${didYouMean(key, known)}; allowed fields: ${known.join(", ")}`,
            );
        }
    }
}

/**
 * Every key of `T`, listed once: `keysOf<Args>()(["a", "b"])` fails to compile when the list misses a
 * key of `Args` or names one it does not have, so the unknown-key checks of untyped input (stack
 * configuration, pasted YAML) follow the argument types.
 */
export function keysOf<T>() {
    return <const K extends readonly (keyof T & string)[]>(
        keys: K &
            ([Exclude<keyof T, K[number]>] extends [never] ? unknown : { missingKeys: Exclude<keyof T, K[number]> }),
    ): readonly (keyof T & string)[] => keys;
}

/** `value` when it is one of `choices`, else an error listing them. */
export function checkChoice<T extends string>(value: unknown, choices: readonly T[], field: string): T {
    if (!(choices as readonly unknown[]).includes(value)) {
        throw new InputError(field, `${JSON.stringify(value)} is not allowed; use one of ${choices.join(", ")}`);
    }
    return value as T;
}

/** `value` when it is a boolean. */
export function checkBoolean(value: unknown, field: string): boolean {
    if (typeof value !== "boolean") {
        throw new InputError(field, "must be true or false");
    }
    return value;
}

/** A DNS-1123 subdomain: names of Secrets, service accounts, priority and storage classes, most objects. */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS_SUBDOMAIN_RULE =
    "use at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit";
/** A DNS-1123 label: namespace names. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_LABEL_RULE =
    "use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit";

/**
 * A DNS-1123 label of at most `maxLength` characters
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/).
 */
export function isDnsLabel(value: unknown, maxLength = 63): value is string {
    return typeof value === "string" && value.length <= maxLength && DNS_LABEL.test(value);
}

/**
 * A DNS-1123 subdomain of at most 253 characters
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/).
 */
export function isDnsSubdomain(value: unknown): value is string {
    return typeof value === "string" && value.length <= 253 && DNS_SUBDOMAIN.test(value);
}
