/**
 * Parsers and formatters for the sizes and durations users write in bus and stream settings.
 *
 * Every parser takes the value and the dotted path of the field it came from, and throws an
 * {@link InputError} naming that field and the forms it accepts. Arithmetic is done on BigInt so
 * that "1.5GB" or "1.5h" are converted exactly, never through a rounded float.
 */
import { describeType, InputError } from "./check";

const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** Digits with an optional fraction, split so the value can be scaled exactly. */
interface DecimalDigits {
    /** All digits with the decimal point removed, e.g. "15" for "1.5". */
    mantissa: bigint;
    /** How many of those digits follow the decimal point, e.g. 1 for "1.5". */
    fractionDigits: number;
}

function toDecimalDigits(integerPart: string, fractionPart: string): DecimalDigits {
    return { mantissa: BigInt((integerPart || "0") + fractionPart), fractionDigits: fractionPart.length };
}

/** `digits × multiplier` as an exact quotient and remainder, so callers decide how to treat fractions. */
function scaleDecimal(digits: DecimalDigits, multiplier: bigint): { whole: bigint; remainder: bigint } {
    const divisor = 10n ** BigInt(digits.fractionDigits);
    const product = digits.mantissa * multiplier;
    return { whole: product / divisor, remainder: product % divisor };
}

// ---------------------------------------------------------------------------------------------
// NATS sizes
// ---------------------------------------------------------------------------------------------

/**
 * Size suffixes of the NATS configuration language (https://docs.nats.io/running-a-nats-service/configuration):
 * single letters are powers
 * of 1000, the `b`, `i` and `ib` forms are powers of 1024. Compared in lower case, as nats-server does.
 * `p` and `e` exist only in newer servers, so they are not offered.
 */
const NATS_SIZE_MULTIPLIERS: ReadonlyMap<string, bigint> = new Map([
    ["", 1n],
    ["k", 1000n],
    ["m", 1000n ** 2n],
    ["g", 1000n ** 3n],
    ["t", 1000n ** 4n],
    ...["k", "m", "g", "t"].flatMap((letter, index): [string, bigint][] => {
        const power = 1024n ** BigInt(index + 1);
        return [
            [`${letter}b`, power],
            [`${letter}i`, power],
            [`${letter}ib`, power],
        ];
    }),
]);

const NATS_SIZE_FORMS =
    "an integer number of bytes, -1 for unlimited, or a number with a suffix: " +
    "k, m, g, t (powers of 1000) or KB/Ki/KiB, MB/Mi/MiB, GB/Gi/GiB, TB/Ti/TiB (powers of 1024), " +
    'e.g. "512MB" or "1.5GB"';

const NATS_SIZE_PATTERN = /^(\d*)(?:\.(\d*))?([a-z]*)$/i;

/**
 * Parses a size written the way nats-server's configuration writes it into bytes
 * (https://docs.nats.io/running-a-nats-service/configuration).
 *
 * Accepted: a safe integer (`1048576`), `-1` meaning unlimited (returned as -1), or a decimal number
 * with a case-insensitive suffix (`1GB`, `512mi`, `1.5g`). Outer whitespace is ignored; a space between
 * number and suffix is refused, because nats-server itself would not read `1 GB` as one value.
 * Rejected: other negatives, fractions of a byte, unknown suffixes (nats-server silently ignores an
 * unknown suffix, so `1XB` there means 1 byte), and anything above `Number.MAX_SAFE_INTEGER`.
 *
 * @param value the size, as a string or a JS number of bytes
 * @param field dotted path of the field, used in the error message
 * @returns a whole number of bytes, or -1
 */
export function parseNatsSize(value: string | number, field: string): number {
    if (typeof value === "number") {
        return checkedSizeNumber(value, field);
    }
    if (typeof value !== "string") {
        throw new InputError(field, `expected a size, got ${describeType(value)}; use ${NATS_SIZE_FORMS}`);
    }
    const text = value.trim();
    if (text === "-1") {
        return -1;
    }
    if (text.startsWith("-")) {
        throw new InputError(field, `"${value}" is negative; only -1 (unlimited) is allowed. Use ${NATS_SIZE_FORMS}`);
    }
    if (/\s/.test(text)) {
        throw new InputError(field, `"${value}" contains a space; write the number and suffix together, e.g. "1GB"`);
    }
    const match = NATS_SIZE_PATTERN.exec(text);
    if (match === null || (match[1] === "" && (match[2] ?? "") === "")) {
        throw new InputError(field, `"${value}" is not a size; use ${NATS_SIZE_FORMS}`);
    }
    const [, integerPart, fractionPart = "", suffix] = match;
    const multiplier = NATS_SIZE_MULTIPLIERS.get(suffix.toLowerCase());
    if (multiplier === undefined) {
        throw new InputError(field, `"${value}" has an unknown suffix "${suffix}"; use ${NATS_SIZE_FORMS}`);
    }
    const { whole, remainder } = scaleDecimal(toDecimalDigits(integerPart, fractionPart), multiplier);
    if (remainder !== 0n) {
        throw new InputError(field, `"${value}" is not a whole number of bytes; use ${NATS_SIZE_FORMS}`);
    }
    if (whole > SAFE_MAX) {
        throw new InputError(field, `"${value}" is too large (more than ${Number.MAX_SAFE_INTEGER} bytes)`);
    }
    return Number(whole);
}

function checkedSizeNumber(value: number, field: string): number {
    if (!Number.isSafeInteger(value)) {
        throw new InputError(field, `${value} is not a whole number of bytes; use ${NATS_SIZE_FORMS}`);
    }
    if (value < -1) {
        throw new InputError(field, `${value} is negative; only -1 (unlimited) is allowed`);
    }
    return value;
}

/** Suffixes for {@link formatNatsSize}: binary first, so that a tie goes to the form volumes use. */
const NATS_FORMAT_SUFFIXES: readonly [string, number][] = [
    ["TB", 1024 ** 4],
    ["GB", 1024 ** 3],
    ["MB", 1024 ** 2],
    ["KB", 1024],
    ["T", 1000 ** 4],
    ["G", 1000 ** 3],
    ["M", 1000 ** 2],
    ["K", 1000],
];

/**
 * Writes a byte count as nats-server configuration text that {@link parseNatsSize} reads back exactly:
 * the shortest of the plain integer and the exact suffixed forms (`1073741824` → `"1GB"`,
 * `10000000000` → `"10G"`, `1536` stays `"1536"`); -1 stays `"-1"`. `KB/MB/GB/TB` are powers of 1024
 * and `K/M/G/T` powers of 1000 in nats-server; the `Ki/Mi/Gi/Ti` spellings are avoided because
 * servers before 2.9 silently ignore a suffix they do not know (so `1Gi` there would mean 1 byte).
 *
 * @param bytes a safe integer >= -1
 * @throws RangeError for anything else; this is a programming error, not bad user input
 */
export function formatNatsSize(bytes: number): string {
    if (!Number.isSafeInteger(bytes) || bytes < -1) {
        throw new RangeError(`formatNatsSize: ${bytes} is not a byte count`);
    }
    let shortest = String(bytes);
    if (bytes <= 0) {
        return shortest;
    }
    for (const [suffix, unit] of NATS_FORMAT_SUFFIXES) {
        const text = `${bytes / unit}${suffix}`;
        if (bytes % unit === 0 && text.length < shortest.length) {
            shortest = text;
        }
    }
    return shortest;
}

// ---------------------------------------------------------------------------------------------
// Kubernetes quantities
// ---------------------------------------------------------------------------------------------

/** Suffixes of a Kubernetes resource quantity, case-sensitive as in Kubernetes. */
const KUBERNETES_MULTIPLIERS: ReadonlyMap<string, bigint> = new Map([
    ["", 1n],
    ["k", 1000n],
    ["M", 1000n ** 2n],
    ["G", 1000n ** 3n],
    ["T", 1000n ** 4n],
    ["P", 1000n ** 5n],
    ["E", 1000n ** 6n],
    ["Ki", 1024n],
    ["Mi", 1024n ** 2n],
    ["Gi", 1024n ** 3n],
    ["Ti", 1024n ** 4n],
    ["Pi", 1024n ** 5n],
    ["Ei", 1024n ** 6n],
]);

const KUBERNETES_FORMS =
    "a Kubernetes quantity: an integer, a number with a binary suffix Ki, Mi, Gi, Ti, Pi, Ei or a decimal suffix " +
    'k, M, G, T, P, E, or an exponent like "1e9", e.g. "20Gi"';

const KUBERNETES_PATTERN = /^\+?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+)|([A-Za-z]*))$/;

/**
 * Parses a Kubernetes resource quantity such as `persistence.volumeSize` into bytes.
 *
 * Follows Kubernetes' grammar: plain numbers, decimal fractions, binary suffixes `Ki`…`Ei`, decimal
 * suffixes `k M G T P E`, and decimal exponents (`1e9`, `5E3`). Suffixes are case-sensitive as in
 * Kubernetes, so `10gi` and `1GB` are refused with a hint. A fraction of a byte is rounded up, as
 * Kubernetes does. The milli suffix `m` is refused: Kubernetes accepts it, but `500m` for a volume
 * means half a byte and is almost always a typo for `500Mi`.
 *
 * @param value the quantity text, e.g. `"20Gi"`
 * @param field dotted path of the field, used in the error message
 * @returns a non-negative whole number of bytes
 */
export function parseKubernetesQuantity(value: string, field: string): number {
    if (typeof value !== "string") {
        throw new InputError(field, `expected ${KUBERNETES_FORMS}, got ${describeType(value)}`);
    }
    if (value.startsWith("-")) {
        throw new InputError(field, `"${value}" is negative; use ${KUBERNETES_FORMS}`);
    }
    const match = KUBERNETES_PATTERN.exec(value);
    if (match === null || (match[1] === "" && (match[2] ?? "") === "")) {
        throw new InputError(field, `"${value}" is not ${KUBERNETES_FORMS}`);
    }
    const [, integerPart, fractionPart = "", exponent, suffix = ""] = match;
    const digits = toDecimalDigits(integerPart, fractionPart);
    const bytes =
        exponent === undefined
            ? bytesWithSuffix(digits, suffix, value, field)
            : bytesWithExponent(digits, Number(exponent), value, field);
    if (bytes > SAFE_MAX) {
        throw new InputError(field, `"${value}" is too large (more than ${Number.MAX_SAFE_INTEGER} bytes)`);
    }
    return Number(bytes);
}

/** Kubernetes' quantity grammar (apimachinery `resource.ParseQuantity`), without the sign. */
const KUBERNETES_QUANTITY = /^\+?(\d+\.?\d*|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/;

/**
 * Why `value` is not a non-negative Kubernetes quantity (CPU, memory, storage), or undefined when it is.
 * Any unit is accepted, milli included (`500m` CPU), since what a quantity measures depends on the field.
 */
export function kubernetesQuantityProblem(value: string): string | undefined {
    if (KUBERNETES_QUANTITY.test(value)) {
        return undefined;
    }
    if (value.startsWith("-")) {
        return `${JSON.stringify(value)} is negative; use a Kubernetes quantity such as "500m", "2", "512Mi" or "1Gi"`;
    }
    const suffix = /^\+?[\d.]*(.*)$/.exec(value)?.[1] ?? "";
    const hint = suffix !== "" && suffix !== value ? kubernetesSuffixHint(suffix) : "";
    const shown = value.length <= 40 ? JSON.stringify(value) : "the value";
    return `${shown} is not a Kubernetes quantity${hint}: use a number with an optional suffix m (milli), k, M, G, T, P, E or Ki, Mi, Gi, Ti, Pi, Ei, e.g. "500m", "2", "512Mi" or "1Gi"`;
}

function bytesWithSuffix(digits: DecimalDigits, suffix: string, value: string, field: string): bigint {
    const multiplier = KUBERNETES_MULTIPLIERS.get(suffix);
    if (multiplier === undefined) {
        throw new InputError(
            field,
            `"${value}" has an unknown suffix "${suffix}"${kubernetesSuffixHint(suffix)}; use ${KUBERNETES_FORMS}`,
        );
    }
    return ceilScaled(digits, multiplier, 1n);
}

function bytesWithExponent(digits: DecimalDigits, exponent: number, value: string, field: string): bigint {
    // Bound the exponent before BigInt exponentiation; anything this big is refused as too large anyway.
    if (Math.abs(exponent) > 30) {
        throw new InputError(field, `"${value}" has an exponent out of range`);
    }
    return exponent >= 0
        ? ceilScaled(digits, 10n ** BigInt(exponent), 1n)
        : ceilScaled(digits, 1n, 10n ** BigInt(-exponent));
}

/** `digits × multiplier / divisor`, rounded up to a whole byte as Kubernetes' `Value()` does. */
function ceilScaled(digits: DecimalDigits, multiplier: bigint, divisor: bigint): bigint {
    const denominator = 10n ** BigInt(digits.fractionDigits) * divisor;
    const product = digits.mantissa * multiplier;
    return (product + denominator - 1n) / denominator;
}

/** A short hint for the suffix mistakes people make when coming from other tools. */
function kubernetesSuffixHint(suffix: string): string {
    if (suffix === "m") {
        return ' ("m" is milli in Kubernetes; use "M" or "Mi" for megabytes)';
    }
    if (/b$/i.test(suffix)) {
        return " (Kubernetes quantities use Gi or G, not GB)";
    }
    const sameLetters = [...KUBERNETES_MULTIPLIERS.keys()].find(
        (known) => known !== "" && known.toLowerCase() === suffix.toLowerCase(),
    );
    return sameLetters === undefined ? "" : ` (suffixes are case-sensitive; did you mean "${sameLetters}"?)`;
}

// ---------------------------------------------------------------------------------------------
// Durations
// ---------------------------------------------------------------------------------------------

const NS_PER_MS = 1_000_000n;

/**
 * Units of Go's `time.ParseDuration`, plus `d` and `w` because users write "7d" and Go turns it into
 * an error that Argo's viper reads as 0 (Argo Events, https://github.com/argoproj/argo-events). Case-sensitive, as in
 * Go.
 */
const DURATION_UNITS_NS: ReadonlyMap<string, bigint> = new Map([
    ["ns", 1n],
    ["us", 1_000n],
    ["\u00b5s", 1_000n], // micro sign, accepted by Go
    ["\u03bcs", 1_000n], // Greek small letter mu, accepted by Go
    ["ms", NS_PER_MS],
    ["s", 1_000_000_000n],
    ["m", 60n * 1_000_000_000n],
    ["h", 3_600n * 1_000_000_000n],
    ["d", 86_400n * 1_000_000_000n],
    ["w", 7n * 86_400n * 1_000_000_000n],
]);

/** Go durations are int64 nanoseconds, about 292 years; nats-server and Argo cannot hold more. */
const MAX_GO_DURATION_NS = 2n ** 63n - 1n;

const DURATION_FORMS =
    'a duration string: numbers with units ns, us, ms, s, m, h, d (24h) or w (7d), e.g. "300s", "1h30m", "7d" or "1.5h"';

/** One `<number><unit>` component; the unit is everything up to the next digit or dot, as in Go. */
const DURATION_COMPONENT = /(\d*)(?:\.(\d*))?([^\d.]*)/y;

/**
 * Parses a duration into whole milliseconds.
 *
 * Accepts Go's `time.ParseDuration` syntax (`300s`, `1h30m`, `1.5h`, `150ms`, `0`) plus `d` and `w`.
 * Refused, each with a message naming `field`:
 * - a bare number other than 0, string or JS number: Argo's Go parsing reads `duplicates: 300` as
 *   300 nanoseconds (Argo Events, https://github.com/argoproj/argo-events), so a unit is required;
 * - negative durations, durations that are not whole milliseconds, and durations beyond Go's
 *   maximum (about 292 years).
 *
 * @param value the duration text, or the number 0
 * @param field dotted path of the field, used in the error message
 * @returns a non-negative whole number of milliseconds
 */
export function parseDurationMs(value: string | number, field: string): number {
    if (typeof value === "number") {
        if (value === 0) {
            return 0;
        }
        // A bare number is ambiguous: Argo and Go read it as nanoseconds (Argo Events,
        // https://github.com/argoproj/argo-events).
        throw new InputError(
            field,
            `the number ${value} has no unit (Argo would read it as nanoseconds); use ${DURATION_FORMS}, like "24h"`,
        );
    }
    if (typeof value !== "string") {
        throw new InputError(field, `expected ${DURATION_FORMS}, got ${describeType(value)}`);
    }
    const text = value.trim().replace(/^\+/, "");
    if (text === "0") {
        return 0;
    }
    if (text.startsWith("-")) {
        throw new InputError(field, `"${value}" is negative; durations must be 0 or more`);
    }
    if (/^\d+(\.\d*)?$/.test(text)) {
        throw new InputError(field, `"${value}" has no unit (Go would read it as nanoseconds); use ${DURATION_FORMS}`);
    }
    if (text === "") {
        throw new InputError(field, `"${value}" is empty; use ${DURATION_FORMS}`);
    }
    return Number(sumDurationComponents(text, value, field));
}

/**
 * Adds up the components of a duration as an exact fraction and returns whole milliseconds.
 * Fractions are kept with a common denominator so "0.1s0.2s" is exactly 300ms.
 */
function sumDurationComponents(text: string, value: string, field: string): bigint {
    const components: { digits: DecimalDigits; unitNs: bigint }[] = [];
    DURATION_COMPONENT.lastIndex = 0;
    while (DURATION_COMPONENT.lastIndex < text.length) {
        const match = DURATION_COMPONENT.exec(text);
        if (match === null || match[0] === "" || (match[1] === "" && (match[2] ?? "") === "")) {
            throw new InputError(field, `"${value}" is not ${DURATION_FORMS}`);
        }
        const [, integerPart, fractionPart = "", unit] = match;
        const unitNs = DURATION_UNITS_NS.get(unit);
        if (unitNs === undefined) {
            throw new InputError(field, `"${value}" has ${unitProblem(unit)}; use ${DURATION_FORMS}`);
        }
        components.push({ digits: toDecimalDigits(integerPart, fractionPart), unitNs });
    }
    const fractionDigits = Math.max(...components.map((c) => c.digits.fractionDigits));
    const scaledNs = components.reduce(
        (sum, c) => sum + c.digits.mantissa * c.unitNs * 10n ** BigInt(fractionDigits - c.digits.fractionDigits),
        0n,
    );
    const denominator = 10n ** BigInt(fractionDigits) * NS_PER_MS;
    if (scaledNs % denominator !== 0n) {
        throw new InputError(field, `"${value}" is not a whole number of milliseconds`);
    }
    if (scaledNs / 10n ** BigInt(fractionDigits) > MAX_GO_DURATION_NS) {
        throw new InputError(field, `"${value}" is longer than Go's maximum duration (about 292 years)`);
    }
    return scaledNs / denominator;
}

function unitProblem(unit: string): string {
    if (unit === "") {
        return "a number without a unit";
    }
    if (/\s/.test(unit)) {
        return 'a space (write the components together, e.g. "1h30m")';
    }
    const lowered = unit.toLowerCase();
    return DURATION_UNITS_NS.has(lowered)
        ? `the unit "${unit}" (units are lower case; did you mean "${lowered}"?)`
        : `an unknown unit "${unit}"`;
}

/** Components of {@link formatDuration}, largest first. Days are not used: Go cannot read them. */
const FORMAT_UNITS_MS: readonly [string, number][] = [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
    ["ms", 1],
];

/**
 * Writes milliseconds as a Go duration string (`30000` → `"30s"`, `5400000` → `"1h30m"`,
 * `604800000` → `"168h"`, `0` → `"0s"`), which Go's `time.ParseDuration` (nats-server, Argo) and
 * {@link parseDurationMs} read back exactly. Zero components are left out.
 *
 * @param ms a non-negative safe integer
 * @throws RangeError for anything else; this is a programming error, not bad user input
 */
export function formatDuration(ms: number): string {
    if (!Number.isSafeInteger(ms) || ms < 0) {
        throw new RangeError(`formatDuration: ${ms} is not a number of milliseconds`);
    }
    if (ms === 0) {
        return "0s";
    }
    let rest = ms;
    let text = "";
    for (const [unit, size] of FORMAT_UNITS_MS) {
        const count = Math.floor(rest / size);
        if (count > 0) {
            text += `${count}${unit}`;
            rest -= count * size;
        }
    }
    return text;
}
