import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { InputError } from "../../components/check";
import {
    formatDuration,
    formatNatsSize,
    parseDurationMs,
    parseKubernetesQuantity,
    parseNatsSize,
} from "../../components/units";

const FIELD = "jetstream.someField";
const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

/** Asserts that `run` throws an InputError for FIELD whose message contains every fragment. */
function assertRejected(run: () => unknown, ...fragments: string[]): void {
    assert.throws(run, (error: unknown) => {
        assert.ok(error instanceof InputError, `expected InputError, got ${String(error)}`);
        assert.equal(error.field, FIELD);
        assert.ok(error.message.startsWith(`${FIELD}: `), error.message);
        for (const fragment of fragments) {
            assert.ok(error.message.includes(fragment), `"${error.message}" should contain "${fragment}"`);
        }
        return true;
    });
}

describe("parseNatsSize", () => {
    const accepted: [string | number, number][] = [
        [0, 0],
        [1048576, 1048576],
        [-1, -1],
        ["-1", -1],
        ["0", 0],
        ["123", 123],
        ["1k", 1000],
        ["1K", 1000],
        ["2m", 2_000_000],
        ["1g", 1_000_000_000],
        ["1t", 1_000_000_000_000],
        ["1kb", KiB],
        ["1KiB", KiB],
        ["1ki", KiB],
        ["512MB", 512 * MiB],
        ["512Mi", 512 * MiB],
        ["1GB", GiB],
        ["1gib", GiB],
        ["10Gi", 10 * GiB],
        ["1TB", TiB],
        ["1Ti", TiB],
        ["1.5GB", 1.5 * GiB],
        ["0.5k", 500],
        [".5k", 500],
        ["1.0", 1],
        ["  1GB  ", GiB],
        ["8191TB", 8191 * TiB],
    ];
    for (const [input, expected] of accepted) {
        it(`reads ${JSON.stringify(input)} as ${expected}`, () => {
            assert.equal(parseNatsSize(input, FIELD), expected);
        });
    }

    const rejected: [unknown, string][] = [
        ["", "not a size"],
        [" ", "not a size"],
        ["GB", "not a size"],
        ["1XB", 'unknown suffix "XB"'],
        ["1b", 'unknown suffix "b"'],
        ["1PB", 'unknown suffix "PB"'],
        ["1 GB", "contains a space"],
        ["1.5", "not a whole number of bytes"],
        ["1.1KB", "not a whole number of bytes"],
        ["-2", "negative"],
        ["-1GB", "negative"],
        [-2, "negative"],
        [1.5, "not a whole number"],
        [NaN, "not a whole number"],
        [Infinity, "not a whole number"],
        [2 ** 53, "not a whole number"],
        ["8192TB", "too large"],
        ["1e3", "not a size"],
        [true, "expected a size"],
    ];
    for (const [input, fragment] of rejected) {
        it(`refuses ${JSON.stringify(input) ?? String(input)}`, () => {
            assertRejected(() => parseNatsSize(input as string, FIELD), fragment);
        });
    }

    it("names the accepted forms when refusing", () => {
        assertRejected(() => parseNatsSize("lots", FIELD), "-1 for unlimited", "GB/Gi/GiB");
    });
});

describe("formatNatsSize", () => {
    const cases: [number, string][] = [
        [-1, "-1"],
        [0, "0"],
        [1, "1"],
        [1000, "1K"],
        [10 * 1000 ** 3, "10G"],
        [2048000, "2048K"],
        [1000 * MiB, "1000MB"],
        [KiB, "1KB"],
        [1536, "1536"],
        [MiB, "1MB"],
        [GiB, "1GB"],
        [10 * GiB, "10GB"],
        [TiB, "1TB"],
        [1024 * TiB, "1024TB"],
        [3 * KiB, "3KB"],
    ];
    for (const [bytes, expected] of cases) {
        it(`writes ${bytes} as "${expected}"`, () => {
            assert.equal(formatNatsSize(bytes), expected);
        });
    }

    it("refuses values that are not byte counts", () => {
        for (const bad of [-2, 1.5, NaN, Infinity, 2 ** 53]) {
            assert.throws(() => formatNatsSize(bad), RangeError);
        }
    });
});

describe("parseKubernetesQuantity", () => {
    const accepted: [string, number][] = [
        ["0", 0],
        ["1024", 1024],
        ["20Gi", 20 * GiB],
        ["1Ki", KiB],
        ["1Mi", MiB],
        ["1Ti", TiB],
        ["1Pi", 1024 ** 5],
        ["1k", 1000],
        ["1M", 1_000_000],
        ["1G", 1_000_000_000],
        ["1T", 1e12],
        ["1P", 1e15],
        ["1e9", 1e9],
        ["1E9", 1e9],
        ["1e+3", 1000],
        ["1.5Gi", 1.5 * GiB],
        ["1.5e3", 1500],
        ["0.5", 1],
        ["1.0001k", 1001],
        ["1e-3", 1],
        ["+5", 5],
        [".5Ki", 512],
        ["5.", 5],
    ];
    for (const [input, expected] of accepted) {
        it(`reads "${input}" as ${expected}`, () => {
            assert.equal(parseKubernetesQuantity(input, FIELD), expected);
        });
    }

    const rejected: [unknown, string[]][] = [
        ["10gi", ["case-sensitive", 'did you mean "Gi"']],
        ["1GB", ["Kubernetes quantities use Gi or G, not GB"]],
        ["1GiB", ["Kubernetes quantities use Gi or G, not GB"]],
        ["1K", ['did you mean "k"']],
        ["500m", ['"m" is milli']],
        ["", ["is not a Kubernetes quantity"]],
        ["Gi", ["is not a Kubernetes quantity"]],
        [" 1Gi", ["is not a Kubernetes quantity"]],
        ["1 Gi", ["is not a Kubernetes quantity"]],
        ["-1Gi", ["negative"]],
        ["1E", ["too large"]],
        ["8Ei", ["too large"]],
        ["1e99", ["exponent out of range"]],
        [20, ["expected a Kubernetes quantity"]],
    ];
    for (const [input, fragments] of rejected) {
        it(`refuses ${JSON.stringify(input)}`, () => {
            assertRejected(() => parseKubernetesQuantity(input as string, FIELD), ...fragments);
        });
    }
});

describe("parseDurationMs", () => {
    const accepted: [string | number, number][] = [
        [0, 0],
        ["0", 0],
        ["+0", 0],
        ["300s", 300_000],
        ["168h", 604_800_000],
        ["24h", 86_400_000],
        ["1h30m", 5_400_000],
        ["1.5h", 5_400_000],
        ["150ms", 150],
        ["7d", 604_800_000],
        ["1w", 604_800_000],
        ["2d12h", 216_000_000],
        ["1000000ns", 1],
        ["1000us", 1],
        ["1000\u00b5s", 1],
        ["1000\u03bcs", 1],
        ["0.1s0.2s", 300],
        [".5s", 500],
        ["5.s", 5000],
        ["1m0s", 60_000],
        [" 30s ", 30_000],
    ];
    for (const [input, expected] of accepted) {
        it(`reads ${JSON.stringify(input)} as ${expected}ms`, () => {
            assert.equal(parseDurationMs(input, FIELD), expected);
        });
    }

    const rejected: [unknown, string[]][] = [
        [300, ["has no unit", "nanoseconds", '"24h"']],
        [-1, ["has no unit"]],
        ["300", ["has no unit", "nanoseconds"]],
        ["1.5", ["has no unit"]],
        ["00", ["has no unit"]],
        ["", ["empty"]],
        ["h", ["is not a duration string"]],
        [".h", ["is not a duration string"]],
        ["1H", ['did you mean "h"']],
        ["1y", ['unknown unit "y"']],
        ["1h 30m", ["a space"]],
        ["-5s", ["negative"]],
        ["1ns", ["whole number of milliseconds"]],
        ["1.0001s", ["whole number of milliseconds"]],
        ["300000w", ["292 years"]],
        [true, ["expected a duration string"]],
        [null, ["expected a duration string"]],
    ];
    for (const [input, fragments] of rejected) {
        it(`refuses ${JSON.stringify(input)}`, () => {
            assertRejected(() => parseDurationMs(input as string, FIELD), ...fragments);
        });
    }
});

describe("formatDuration", () => {
    const cases: [number, string][] = [
        [0, "0s"],
        [1, "1ms"],
        [150, "150ms"],
        [1500, "1s500ms"],
        [30_000, "30s"],
        [60_000, "1m"],
        [300_000, "5m"],
        [5_400_000, "1h30m"],
        [604_800_000, "168h"],
        [3_723_004, "1h2m3s4ms"],
    ];
    for (const [ms, expected] of cases) {
        it(`writes ${ms}ms as "${expected}"`, () => {
            assert.equal(formatDuration(ms), expected);
        });
    }

    it("only uses units Go's time.ParseDuration knows", () => {
        fc.assert(
            fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (ms) => {
                assert.match(formatDuration(ms), /^(\d+(h|m|s|ms))+$/);
            }),
        );
    });

    it("refuses values that are not whole milliseconds", () => {
        for (const bad of [-1, 1.5, NaN, Infinity]) {
            assert.throws(() => formatDuration(bad), RangeError);
        }
    });
});

describe("round trips and invariants", () => {
    /** Go's longest duration in whole milliseconds. */
    const maxGoMs = Math.floor(Number((2n ** 63n - 1n) / 1_000_000n));

    it("parseDurationMs(formatDuration(ms)) === ms", () => {
        fc.assert(
            fc.property(fc.integer({ min: 0, max: maxGoMs }), (ms) => {
                assert.equal(parseDurationMs(formatDuration(ms), FIELD), ms);
            }),
        );
    });

    it("parseNatsSize(formatNatsSize(bytes)) === bytes", () => {
        const byteCounts = fc.oneof(
            fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
            fc
                .tuple(fc.integer({ min: 0, max: 8191 }), fc.constantFrom(1, KiB, MiB, GiB, TiB))
                .map(([n, unit]) => n * unit),
        );
        fc.assert(
            fc.property(byteCounts, (bytes) => {
                assert.equal(parseNatsSize(formatNatsSize(bytes), FIELD), bytes);
            }),
        );
    });

    /** Arbitrary text built from the characters these parsers care about. */
    const noisyText = fc
        .array(fc.constantFrom(..."0123456789.-+ eEkKmMgGtTiIbBsShHdDwunµ".split("")), { maxLength: 12 })
        .map((chars) => chars.join(""));

    /** Runs `parse`, returning the number or undefined when it refused with an InputError. */
    function attempt(parse: () => number): number | undefined {
        try {
            return parse();
        } catch (error) {
            assert.ok(error instanceof InputError, `expected InputError, got ${String(error)}`);
            assert.ok(error.message.startsWith(`${FIELD}: `));
            return undefined;
        }
    }

    it("parseNatsSize returns a safe integer >= -1 or throws InputError", () => {
        fc.assert(
            fc.property(fc.oneof(noisyText, fc.double(), fc.integer()), (input) => {
                const bytes = attempt(() => parseNatsSize(input, FIELD));
                if (bytes !== undefined) {
                    assert.ok(Number.isSafeInteger(bytes) && bytes >= -1, `got ${bytes}`);
                }
            }),
            { numRuns: 2000 },
        );
    });

    it("parseKubernetesQuantity returns a safe integer >= 0 or throws InputError", () => {
        fc.assert(
            fc.property(noisyText, (input) => {
                const bytes = attempt(() => parseKubernetesQuantity(input, FIELD));
                if (bytes !== undefined) {
                    assert.ok(Number.isSafeInteger(bytes) && bytes >= 0, `got ${bytes}`);
                }
            }),
            { numRuns: 2000 },
        );
    });

    it("parseDurationMs returns a safe integer >= 0 or throws InputError", () => {
        fc.assert(
            fc.property(fc.oneof(noisyText, fc.double(), fc.integer()), (input) => {
                const ms = attempt(() => parseDurationMs(input, FIELD));
                if (ms !== undefined) {
                    assert.ok(Number.isSafeInteger(ms) && ms >= 0, `got ${ms}`);
                }
            }),
            { numRuns: 2000 },
        );
    });

    it("parseNatsSize agrees with plain multiplication for integers with a suffix", () => {
        const suffixes: [string, number][] = [
            ["k", 1000],
            ["MB", MiB],
            ["gi", GiB],
            ["KiB", KiB],
            ["t", 1e12],
        ];
        fc.assert(
            fc.property(fc.integer({ min: 0, max: 8000 }), fc.constantFrom(...suffixes), (n, [suffix, unit]) => {
                assert.equal(parseNatsSize(`${n}${suffix}`, FIELD), n * unit);
            }),
        );
    });
});
