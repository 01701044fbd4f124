/**
 * Shapes of values passed through to Kubernetes (tolerations, affinity, resources, ...) and one check
 * for them, so that a mistake fails the preview with the field named, instead of the API server's
 * error at `pulumi up` or a field dropped silently. Pure.
 *
 * Values only known at deploy time (a Pulumi Output, a Promise) are left to the API server.
 */
import { describeType, didYouMean, InputError } from "./check";
import { kubernetesQuantityProblem } from "./units";

/** What a value must look like. */
export type Shape =
    | { kind: "string"; choices?: readonly string[]; pattern?: RegExp; rule?: string; maxLength?: number }
    | { kind: "integer"; min: number; max: number }
    | { kind: "boolean" }
    | { kind: "quantity" }
    | { kind: "object"; name: string; fields: Readonly<Record<string, Shape>>; required: readonly string[] }
    | { kind: "map"; keys: Shape; values: Shape }
    | { kind: "list"; items: Shape };

/**
 * The fields of an object type `T`, each with its shape: every field of `T`, and only those, so the
 * compiler keeps a shape in step with the Kubernetes type it stands for.
 */
export type FieldShapes<T> = { readonly [K in keyof T]-?: Shape };

/** Shape constructors. */
export const shapes = {
    string: (
        options: { choices?: readonly string[]; pattern?: RegExp; rule?: string; maxLength?: number } = {},
    ): Shape => ({ kind: "string", ...options }),
    int32: (min = -(2 ** 31), max = 2 ** 31 - 1): Shape => ({ kind: "integer", min, max }),
    int64: (min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): Shape => ({ kind: "integer", min, max }),
    boolean: (): Shape => ({ kind: "boolean" }),
    quantity: (): Shape => ({ kind: "quantity" }),
    object: <T>(name: string, fields: FieldShapes<T>, required: readonly (keyof T & string)[] = []): Shape => ({
        kind: "object",
        name,
        fields: fields as Readonly<Record<string, Shape>>,
        required,
    }),
    map: (values: Shape, keys: Shape = { kind: "string" }): Shape => ({ kind: "map", keys, values }),
    list: (items: Shape): Shape => ({ kind: "list", items }),
};

/** True for a value that is only known at deploy time. */
export function isDeployTimeValue(value: unknown): boolean {
    return (
        typeof value === "object" &&
        value !== null &&
        (typeof (value as { then?: unknown }).then === "function" ||
            (value as { __pulumiOutput?: unknown }).__pulumiOutput === true)
    );
}

function join(field: string, key: string): string {
    return field === "" ? key : `${field}.${key}`;
}

/** A string for a message: the value when it is short and plain, its length otherwise. */
function quoteShort(value: string): string {
    return value.length <= 100 && !/[\r\n]/.test(value)
        ? JSON.stringify(value)
        : `a string of ${value.length} characters`;
}

function expectation(shape: Shape): string {
    switch (shape.kind) {
        case "string":
            return shape.choices ? `one of ${shape.choices.join(", ")}` : "a string";
        case "integer":
            return `a whole number from ${shape.min} to ${shape.max}`;
        case "boolean":
            return "true or false";
        case "quantity":
            return 'a Kubernetes quantity such as "500m", "2", "512Mi" or "1Gi"';
        case "object":
            return `a mapping (a ${shape.name}: ${Object.keys(shape.fields).join(", ")})`;
        case "map":
            return "a mapping of names to values";
        case "list":
            return `a list of ${shape.items.kind === "object" ? `${shape.items.name} mappings` : "values"}`;
    }
}

/**
 * Checks `value` against `shape`, throwing an {@link InputError} for the first problem, at the path of
 * the field at fault (`jetstream.tolerations[0].effect`). `undefined` and `null` mean unset, as in
 * Kubernetes.
 */
export function checkShape(value: unknown, shape: Shape, field: string): void {
    if (value === undefined || value === null || isDeployTimeValue(value)) {
        return;
    }
    const fail = (problem: string): never => {
        throw new InputError(field, problem);
    };
    const wrongType = (): never => fail(`must be ${expectation(shape)}, got ${describeType(value)}`);
    switch (shape.kind) {
        case "string": {
            if (typeof value !== "string") return wrongType();
            if (shape.choices && !shape.choices.includes(value)) {
                fail(
                    `${quoteShort(value)} is not allowed${didYouMean(value, shape.choices)}; use one of ${shape.choices.join(", ")}`,
                );
            }
            if (shape.maxLength !== undefined && value.length > shape.maxLength) {
                fail(
                    `${quoteShort(value)} is longer than ${shape.maxLength} characters${shape.rule ? `; ${shape.rule}` : ""}`,
                );
            }
            if (shape.pattern && !shape.pattern.test(value)) {
                fail(`${quoteShort(value)} is not valid: ${shape.rule ?? `it must match ${shape.pattern}`}`);
            }
            return;
        }
        case "integer":
            if (typeof value !== "number" || !Number.isInteger(value)) {
                return fail(
                    `must be ${expectation(shape)}, got ${describeType(value)}${typeof value === "string" && /^-?\d+$/.test(value) ? " (write the number without quotes)" : ""}`,
                );
            }
            if (value < shape.min || value > shape.max) fail(`${value} is out of range: use ${expectation(shape)}`);
            return;
        case "boolean":
            if (typeof value !== "boolean") wrongType();
            return;
        case "quantity": {
            if (typeof value === "number") {
                if (!Number.isFinite(value) || value < 0) fail(`${value} is not a quantity: use ${expectation(shape)}`);
                return;
            }
            if (typeof value !== "string") return wrongType();
            const problem = kubernetesQuantityProblem(value);
            if (problem) fail(problem);
            return;
        }
        case "object": {
            if (typeof value !== "object" || Array.isArray(value)) return wrongType();
            const record = value as Record<string, unknown>;
            const known = Object.keys(shape.fields);
            for (const key of Object.keys(record)) {
                if (!known.includes(key)) {
                    throw new InputError(
                        join(field, key),
                        `unknown field of a ${shape.name}${didYouMean(key, known)}; allowed fields: ${known.join(", ")}`,
                    );
                }
            }
            for (const key of shape.required) {
                if (record[key] === undefined || record[key] === null) {
                    throw new InputError(join(field, key), `is required in a ${shape.name}`);
                }
            }
            for (const key of known) {
                checkShape(record[key], shape.fields[key], join(field, key));
            }
            return;
        }
        case "map": {
            if (typeof value !== "object" || Array.isArray(value)) return wrongType();
            for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
                checkShape(key, shape.keys, `${field}[${JSON.stringify(key)}]`);
                if (item === null || item === undefined) {
                    throw new InputError(join(field, key), `has no value; give ${expectation(shape.values)}`);
                }
                checkShape(item, shape.values, join(field, key));
            }
            return;
        }
        case "list": {
            if (!Array.isArray(value)) return wrongType();
            value.forEach((item, index) => {
                if (item === null || item === undefined) {
                    throw new InputError(`${field}[${index}]`, `is empty; give ${expectation(shape.items)}`);
                }
                checkShape(item, shape.items, `${field}[${index}]`);
            });
            return;
        }
    }
}
