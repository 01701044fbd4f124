import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { InputError } from "../../../components/check";
import {
    ARGO_STREAM_CONFIG_KEYS,
    ARGO_STREAM_DEFAULTS,
    STREAM_SETTINGS_KEYS,
    StreamSettingsInput,
    StreamSpec,
    parseArgoStreamConfig,
    resolveStreamSpec,
    toArgoStreamConfig,
} from "../../../components/stream/model";
import { toServerStreamConfig } from "../../../components/stream/server-format";

/** The spec Argo's defaults produce. */
const ARGO_DEFAULT_SPEC: StreamSpec = {
    name: "default",
    subjects: ["default.*.*"],
    retention: "limits",
    discard: "old",
    storage: "file",
    maxMsgs: 50000,
    maxBytes: -1,
    maxAgeMs: 604_800_000,
    duplicatesMs: 300_000,
    replicas: 3,
    maxMsgSize: -1,
    maxMsgsPerSubject: -1,
    maxConsumers: -1,
    compression: "none",
    allowDirect: false,
    allowRollup: false,
    denyDelete: false,
    denyPurge: false,
    discardNewPerSubject: false,
    noAck: false,
    description: "",
    metadata: {},
    placement: { cluster: "", tags: [] },
    firstSeq: 0,
};

/** Asserts an InputError for `field` whose message contains every fragment. */
function assertRejected(run: () => unknown, field: string, ...fragments: string[]): void {
    assert.throws(run, (error: unknown) => {
        assert.ok(error instanceof InputError, `expected InputError, got ${String(error)}`);
        assert.equal(error.field, field, error.message);
        for (const fragment of fragments) {
            assert.ok(error.message.includes(fragment), `"${error.message}" should contain "${fragment}"`);
        }
        return true;
    });
}

function fromYaml(streamConfig: string, busReplicas?: number): StreamSpec {
    return resolveStreamSpec({ streamConfig, busReplicas, field: "jetstream" });
}

function fromTyped(stream: StreamSettingsInput, busReplicas?: number): StreamSpec {
    return resolveStreamSpec({ stream, busReplicas, field: "jetstream" });
}

describe("Argo constants", () => {
    it("lists Argo's seven streamConfig keys", () => {
        assert.deepEqual(
            [...ARGO_STREAM_CONFIG_KEYS],
            ["maxMsgs", "maxAge", "maxBytes", "replicas", "duplicates", "retention", "discard"],
        );
    });

    it("has Argo's controller-config defaults", () => {
        assert.deepEqual(
            { ...ARGO_STREAM_DEFAULTS },
            {
                maxMsgs: 50000,
                maxAge: "168h",
                maxBytes: -1,
                replicas: 3,
                duplicates: "300s",
                retention: 0,
                discard: 0,
            },
        );
    });

    it("offers every Argo key in the typed settings too", () => {
        for (const key of ARGO_STREAM_CONFIG_KEYS) {
            assert.ok((STREAM_SETTINGS_KEYS as readonly string[]).includes(key), key);
        }
    });
});

describe("resolveStreamSpec: defaults", () => {
    it("gives Argo's effective stream with no input", () => {
        assert.deepEqual(resolveStreamSpec({}), ARGO_DEFAULT_SPEC);
    });

    it("treats empty, blank and comment-only streamConfig as no overrides", () => {
        for (const text of ["", "   \n\t", "# only a comment\n", "---\n# nothing\n"]) {
            assert.deepEqual(fromYaml(text), ARGO_DEFAULT_SPEC, JSON.stringify(text));
        }
    });

    it("keeps R3 on a 3-server bus and on bigger buses", () => {
        assert.equal(fromYaml("", 3).replicas, 3);
        assert.equal(fromYaml("", 5).replicas, 3);
    });

    it("gives a 1-server bus an R1 stream when replicas are not set (Argo #2743)", () => {
        assert.equal(fromYaml("", 1).replicas, 1);
        assert.equal(fromTyped({ maxMsgs: 10 }, 1).replicas, 1);
    });

    it("derives the subjects from a custom name", () => {
        const spec = fromTyped({ name: "orders" });
        assert.equal(spec.name, "orders");
        assert.deepEqual(spec.subjects, ["orders.*.*"]);
    });
});

describe("resolveStreamSpec: Argo's streamConfig YAML", () => {
    it("reads Argo's documented example maxAge: 24h", () => {
        const spec = fromYaml("maxMsgs: 1000000\nmaxAge: 24h\nmaxBytes: -1\nreplicas: 3\nduplicates: 300s\n");
        assert.equal(spec.maxAgeMs, 86_400_000);
        assert.equal(spec.maxMsgs, 1_000_000);
        assert.equal(spec.duplicatesMs, 300_000);
    });

    it("reads maxBytes: 1GB as 1073741824, not 0 as Argo's Helm chart ends up with", () => {
        assert.equal(fromYaml("maxBytes: 1GB").maxBytes, 1_073_741_824);
    });

    it("reads maxAge: 7d as seven days, not 0", () => {
        assert.equal(fromYaml("maxAge: 7d").maxAgeMs, 604_800_000);
    });

    it("matches keys case-insensitively, as viper does", () => {
        const spec = fromYaml("MAXAGE: 1h\nmaxmsgs: 7\nRePlIcAs: 1");
        assert.equal(spec.maxAgeMs, 3_600_000);
        assert.equal(spec.maxMsgs, 7);
        assert.equal(spec.replicas, 1);
    });

    it("accepts Argo's retention and discard numbers and the names", () => {
        assert.equal(fromYaml("retention: 1").retention, "interest");
        assert.equal(fromYaml("retention: interest").retention, "interest");
        assert.equal(fromYaml("retention: Limits").retention, "limits");
        assert.equal(fromYaml('retention: "0"').retention, "limits");
        assert.equal(fromYaml("discard: 1").discard, "new");
        assert.equal(fromYaml("discard: new").discard, "new");
        assert.equal(fromYaml("discard: 0").discard, "old");
    });

    it("normalizes 0 limits to -1, as the server stores them", () => {
        const spec = fromYaml("maxMsgs: 0\nmaxBytes: 0");
        assert.equal(spec.maxMsgs, -1);
        assert.equal(spec.maxBytes, -1);
    });

    it("accepts a maxAge of 0 (unlimited) and keeps Argo's dedupe window", () => {
        const spec = fromYaml("maxAge: 0");
        assert.equal(spec.maxAgeMs, 0);
        assert.equal(spec.duplicatesMs, 300_000);
    });

    it("refuses the typo retetention with a suggestion (Argo #3377)", () => {
        assertRejected(
            () => fromYaml("retetention: 1"),
            "jetstream.streamConfig.retetention",
            'did you mean "retention"',
        );
    });

    it("refuses keys Argo does not read, even real stream fields", () => {
        assertRejected(() => fromYaml("maxMsgSize: 1MB"), "jetstream.streamConfig.maxMsgSize", "unknown key");
    });

    it("refuses retention: 2 (workqueue) because Argo Sensors cannot read it (Argo #3377)", () => {
        assertRejected(
            () => fromYaml("retention: 2"),
            "jetstream.streamConfig.retention",
            "workqueue",
            "DeliverNew",
            "Argo #3377",
            "jetstream.stream.allowWorkqueue",
        );
    });

    it("refuses a duplicates number without a unit (Argo reads 300 as 300ns)", () => {
        assertRejected(() => fromYaml("duplicates: 300"), "jetstream.streamConfig.duplicates", "no unit");
    });

    it("refuses the same key twice in different case", () => {
        assertRejected(() => fromYaml("maxAge: 1h\nMaxAge: 2h"), "jetstream.streamConfig.maxAge", "given twice");
    });

    it("refuses a key without a value", () => {
        assertRejected(() => fromYaml("maxAge:"), "jetstream.streamConfig.maxAge", "no value");
    });

    it("refuses YAML that is not a mapping", () => {
        assertRejected(() => fromYaml("- maxAge: 1h"), "jetstream.streamConfig", "mapping", "a list");
        assertRejected(() => fromYaml("24h"), "jetstream.streamConfig", "mapping");
    });

    it("refuses YAML that does not parse", () => {
        assertRejected(() => fromYaml("maxAge: [1h"), "jetstream.streamConfig", "not valid YAML");
    });

    it("refuses out-of-range values", () => {
        assertRejected(() => fromYaml("replicas: 7"), "jetstream.streamConfig.replicas", "from 1 to 5");
        assertRejected(() => fromYaml("replicas: 0"), "jetstream.streamConfig.replicas", "from 1 to 5");
        assertRejected(() => fromYaml("discard: 2"), "jetstream.streamConfig.discard", '"old", "new"');
        assertRejected(() => fromYaml("maxMsgs: -5"), "jetstream.streamConfig.maxMsgs", "negative");
        assertRejected(() => fromYaml("maxMsgs: 1.5"), "jetstream.streamConfig.maxMsgs", "whole number");
        assertRejected(() => fromYaml("maxBytes: 1XB"), "jetstream.streamConfig.maxBytes", "unknown suffix");
    });

    it("names fields without a prefix when none is given", () => {
        assertRejected(() => resolveStreamSpec({ streamConfig: "maxAge: 1y" }), "streamConfig.maxAge", "unknown unit");
    });
});

describe("resolveStreamSpec: typed settings", () => {
    it("lets typed settings win over streamConfig", () => {
        const spec = resolveStreamSpec({
            streamConfig: "maxAge: 24h\nmaxMsgs: 10\nreplicas: 1",
            stream: { maxAge: "48h", replicas: 3 },
        });
        assert.equal(spec.maxAgeMs, 172_800_000);
        assert.equal(spec.replicas, 3);
        assert.equal(spec.maxMsgs, 10, "keys set only in streamConfig still apply");
    });

    it("normalizes every JetStream field", () => {
        const spec = fromTyped({
            name: "events",
            subjects: ["events.>", "audit.*"],
            maxMsgs: 100,
            maxAge: "1h",
            maxBytes: "512MB",
            replicas: 1,
            duplicates: "2m",
            retention: "interest",
            discard: "new",
            maxMsgSize: "1MB",
            maxMsgsPerSubject: 10,
            maxConsumers: 0,
            storage: "memory",
            compression: "s2",
            allowDirect: true,
            allowRollup: true,
            denyDelete: true,
            denyPurge: false,
            discardNewPerSubject: true,
            noAck: false,
            description: "all events",
            metadata: { owner: "team-a" },
            placement: { cluster: "east", tags: ["ssd"] },
            firstSeq: 42,
        });
        assert.deepEqual(spec, {
            name: "events",
            subjects: ["events.>", "audit.*"],
            retention: "interest",
            discard: "new",
            storage: "memory",
            maxMsgs: 100,
            maxBytes: 512 * 1024 * 1024,
            maxAgeMs: 3_600_000,
            duplicatesMs: 120_000,
            replicas: 1,
            maxMsgSize: 1024 * 1024,
            maxMsgsPerSubject: 10,
            maxConsumers: -1,
            compression: "s2",
            allowDirect: true,
            allowRollup: true,
            denyDelete: true,
            denyPurge: false,
            discardNewPerSubject: true,
            noAck: false,
            description: "all events",
            metadata: { owner: "team-a" },
            placement: { cluster: "east", tags: ["ssd"] },
            firstSeq: 42,
        });
    });

    it("treats undefined and null values as not set", () => {
        const untyped = { maxAge: undefined, replicas: null } as unknown as StreamSettingsInput;
        assert.deepEqual(fromTyped(untyped), ARGO_DEFAULT_SPEC);
    });

    it("refuses unknown keys with a suggestion", () => {
        const untyped = { maxage: "1h" } as unknown as StreamSettingsInput;
        assertRejected(() => fromTyped(untyped), "jetstream.stream.maxage", 'did you mean "maxAge"');
        const placement = { placement: { clusters: "x" } } as unknown as StreamSettingsInput;
        assertRejected(() => fromTyped(placement), "jetstream.stream.placement.clusters", 'did you mean "cluster"');
    });

    it("allows workqueue retention only with allowWorkqueue", () => {
        assertRejected(() => fromTyped({ retention: "workqueue" }), "jetstream.stream.retention", "Argo #3377");
        assert.equal(fromTyped({ retention: "workqueue", allowWorkqueue: true }).retention, "workqueue");
        assert.equal(
            resolveStreamSpec({ streamConfig: "retention: 2", stream: { allowWorkqueue: true } }).retention,
            "workqueue",
        );
    });

    it("refuses wrong types", () => {
        const cases: [Record<string, unknown>, string, string][] = [
            [{ allowDirect: "yes" }, "jetstream.stream.allowDirect", "true or false"],
            [{ storage: "disk" }, "jetstream.stream.storage", '"file", "memory"'],
            [{ retention: 2 }, "jetstream.stream.retention", '"limits"'],
            [{ compression: "gzip" }, "jetstream.stream.compression", '"none", "s2"'],
            [{ maxAge: 3600 }, "jetstream.stream.maxAge", "no unit"],
            [{ subjects: "a.b" }, "jetstream.stream.subjects", "list of subjects"],
            [{ metadata: { n: 1 } }, "jetstream.stream.metadata.n", "expected a string"],
            [{ firstSeq: -1 }, "jetstream.stream.firstSeq", "negative"],
        ];
        for (const [input, field, fragment] of cases) {
            assertRejected(() => fromTyped(input as StreamSettingsInput), field, fragment);
        }
        assertRejected(() => fromTyped("maxAge: 1h" as unknown as StreamSettingsInput), "jetstream.stream", "object");
    });
});

describe("resolveStreamSpec: server and bus rules", () => {
    it("refuses explicit stream replicas above a 1-server bus", () => {
        assertRejected(
            () => fromYaml("replicas: 3", 1),
            "jetstream.streamConfig.replicas",
            "stream replicas 3 exceed the bus replicas 1; set replicas: 1 in streamConfig",
        );
        assertRejected(() => fromTyped({ replicas: 3 }, 1), "jetstream.stream.replicas", "exceed the bus replicas 1");
    });

    it("refuses a bus size that is not a positive integer", () => {
        assertRejected(() => fromYaml("", 0), "jetstream.replicas", "at least 1");
    });

    it("fits Argo's dedupe window into a shorter maxAge instead of failing", () => {
        assert.equal(fromYaml("maxAge: 1m").duplicatesMs, 60_000);
    });

    it("turns an explicit duplicates: 0 into the server's default window", () => {
        assert.equal(fromYaml("duplicates: 0").duplicatesMs, 120_000);
        assert.equal(fromYaml("duplicates: 0\nmaxAge: 30s").duplicatesMs, 30_000);
    });

    it("refuses an explicit dedupe window longer than maxAge", () => {
        assertRejected(
            () => fromYaml("maxAge: 1m\nduplicates: 2m"),
            "jetstream.streamConfig.duplicates",
            "duplicates 2m is longer than maxAge 1m",
        );
    });

    it("refuses windows under 100ms", () => {
        assertRejected(() => fromYaml("maxAge: 50ms"), "jetstream.streamConfig.maxAge", "100ms");
        assertRejected(() => fromYaml("duplicates: 10ms"), "jetstream.streamConfig.duplicates", "100ms");
    });

    it("requires discard new and a per-subject limit for discardNewPerSubject", () => {
        assertRejected(
            () => fromTyped({ discardNewPerSubject: true, maxMsgsPerSubject: 5 }),
            "jetstream.stream.discardNewPerSubject",
            'discard: "new"',
        );
        assertRejected(
            () => fromTyped({ discardNewPerSubject: true, discard: "new" }),
            "jetstream.stream.discardNewPerSubject",
            "maxMsgsPerSubject",
        );
        assert.equal(fromYaml("discard: 1", undefined).discard, "new");
        assert.equal(
            resolveStreamSpec({
                streamConfig: "discard: 1",
                stream: { discardNewPerSubject: true, maxMsgsPerSubject: 1 },
            }).discardNewPerSubject,
            true,
        );
    });

    it("refuses denyPurge with allowRollup", () => {
        assertRejected(
            () => fromTyped({ denyPurge: true, allowRollup: true }),
            "jetstream.stream.allowRollup",
            "denyPurge",
        );
    });

    it("checks stream names", () => {
        for (const bad of ["", "a.b", "a*", "a>", "a\\b", "a/b", "a b", "x".repeat(256)]) {
            assert.throws(() => fromTyped({ name: bad }), InputError, JSON.stringify(bad));
        }
        assert.equal(fromTyped({ name: "x".repeat(255) }).name.length, 255);
    });

    it("checks subjects", () => {
        assertRejected(() => fromTyped({ subjects: [] }), "jetstream.stream.subjects", "non-empty");
        assertRejected(() => fromTyped({ subjects: ["a.b", "a.b"] }), "jetstream.stream.subjects", "listed twice");
        for (const bad of ["a..b", ".a", "a.", "a.>.b", "a.b*", "a b"]) {
            assert.throws(() => fromTyped({ subjects: [bad] }), InputError, bad);
        }
    });

    it("limits descriptions to 4096 bytes", () => {
        assert.equal(fromTyped({ description: "x".repeat(4096) }).description.length, 4096);
        assertRejected(
            () => fromTyped({ description: "é".repeat(2049) }),
            "jetstream.stream.description",
            "4096 bytes",
        );
    });

    it("refuses server-owned metadata keys", () => {
        assertRejected(
            () => fromTyped({ metadata: { "_nats.ver": "2.11" } }),
            "jetstream.stream.metadata._nats.ver",
            "server",
        );
    });

    it("keeps maxMsgSize within the server's int32", () => {
        assert.equal(fromTyped({ maxMsgSize: 2 ** 31 - 1 }).maxMsgSize, 2 ** 31 - 1);
        assertRejected(() => fromTyped({ maxMsgSize: "2GB" }), "jetstream.stream.maxMsgSize", "maximum message size");
    });
});

describe("toServerStreamConfig", () => {
    it("writes Argo's defaults exactly, in nanoseconds, without 2.10-only fields", () => {
        assert.deepEqual(toServerStreamConfig(resolveStreamSpec({})), {
            name: "default",
            subjects: ["default.*.*"],
            retention: "limits",
            storage: "file",
            discard: "old",
            max_msgs: 50000,
            max_bytes: -1,
            max_age: 604_800_000_000_000,
            duplicate_window: 300_000_000_000,
            num_replicas: 3,
            max_msg_size: -1,
            max_msgs_per_subject: -1,
            max_consumers: -1,
            allow_direct: false,
            allow_rollup_hdrs: false,
            deny_delete: false,
            deny_purge: false,
            discard_new_per_subject: false,
            no_ack: false,
        });
    });

    it("adds the optional fields when they are set", () => {
        const config = toServerStreamConfig(
            fromTyped({
                compression: "s2",
                metadata: { a: "b" },
                firstSeq: 10,
                description: "d",
                placement: { tags: ["ssd"] },
            }),
        );
        assert.equal(config.compression, "s2");
        assert.deepEqual(config.metadata, { a: "b" });
        assert.equal(config.first_seq, 10);
        assert.equal(config.description, "d");
        assert.deepEqual(config.placement, { tags: ["ssd"] });
    });
});

describe("Argo streamConfig round trip", () => {
    it("writes Argo's defaults as Argo would read them", () => {
        assert.equal(
            toArgoStreamConfig(resolveStreamSpec({})),
            "maxMsgs: 50000\nmaxAge: 168h\nmaxBytes: -1\nreplicas: 3\nduplicates: 5m\nretention: 0\ndiscard: 0\n",
        );
    });

    it("parseArgoStreamConfig(toArgoStreamConfig(spec)) gives back the Argo fields", () => {
        const argoSettings = fc.record({
            maxMsgs: fc.integer({ min: -1, max: 1e9 }),
            maxAge: fc.integer({ min: 0, max: 10 * 365 * 86_400 }).map((s) => `${s}s`),
            maxBytes: fc.integer({ min: -1, max: 2 ** 40 }),
            replicas: fc.integer({ min: 1, max: 5 }),
            retention: fc.constantFrom("limits" as const, "interest" as const),
            discard: fc.constantFrom("old" as const, "new" as const),
        });
        fc.assert(
            fc.property(argoSettings, (settings) => {
                const spec = fromTyped(settings);
                const reread = parseArgoStreamConfig(toArgoStreamConfig(spec), "streamConfig").values;
                for (const key of [
                    "maxMsgs",
                    "maxBytes",
                    "maxAgeMs",
                    "duplicatesMs",
                    "replicas",
                    "retention",
                    "discard",
                ] as const) {
                    assert.equal(reread[key], spec[key], key);
                }
            }),
        );
    });
});
