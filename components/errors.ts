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
            previous[j] = Math.min(
                previous[j] + 1,
                previous[j - 1] + 1,
                diagonal + (a[i - 1] === b[j - 1] ? 0 : 1),
            );
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
