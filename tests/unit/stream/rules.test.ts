/**
 * Table-driven tests of the stream's update rules and the dynamic provider's pure parts:
 * which changes the server refuses in place (nats-server's stream update checks, server/stream.go), ignoring the
 * server's
 * normalisation when diffing, planDiff, checkProps, the update payload for
 * nats.js's merging update and which errors are retried.
 *
 * Expected values are written out from the reference, not computed with the code under test.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
    AuthorizationError,
    ConnectionError,
    NoRespondersError,
    RequestError,
    TimeoutError,
} from "@nats-io/transport-node";
import { JetStreamApiError } from "@nats-io/jetstream";
import { jserrors } from "@nats-io/jetstream/internal";
import { StreamSettingsInput, StreamSpec, resolveStreamSpec } from "../../../components/stream/model";
import {
    fromServerStreamConfig,
    toServerStreamConfig,
    toServerUpdateConfig,
} from "../../../components/stream/server-format";
import {
    changedFields,
    losesEncryptedStreamKey,
    needsMetadataRewrite,
    replaceReasons,
} from "../../../components/stream/rules";
import {
    ConnectionProps,
    StreamOutputs,
    StreamProps,
    addAfterDelete,
    checkProps,
    describeError,
    isTransient,
    planDiff,
} from "../../../components/stream/provider-impl";

/** What Pulumi's dynamic provider host passes for values not known yet. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const CONNECTION: ConnectionProps = {
    servers: ["nats://eventbus-default-js-svc.argo-events.svc:4222"],
    username: "admin",
    password: "s3cret",
};

function props(config: StreamSpec, serverVersion: string, extra: Partial<StreamProps> = {}): StreamProps {
    return {
        config,
        serverVersion,
        connection: { ...CONNECTION },
        deletionPolicy: "retain",
        allowDataLoss: false,
        createTimeout: "5m",
        ...extra,
    };
}

function outputs(config: StreamSpec, serverVersion: string, extra: Partial<StreamOutputs> = {}): StreamOutputs {
    return { ...props(config, serverVersion), observedServerVersion: serverVersion, ...extra };
}

// ---------------------------------------------------------------------------------------------
// 1. Replace rules
// ---------------------------------------------------------------------------------------------

const VERSIONS = ["2.9.25", "2.10.29", "2.11.17", "2.12.4", "2.12.5", "2.14.4"] as const;
type Version = (typeof VERSIONS)[number];
type Expected = Record<Version, (keyof StreamSpec)[]>;

interface ReplaceRow {
    label: string;
    /** Settings of `current`, on top of Argo's defaults; none means resolveStreamSpec({}). */
    base?: StreamSettingsInput;
    /** The one field changed in `desired`. */
    change: Partial<StreamSpec>;
    /** Fields refused in place, per server version. */
    replace: Expected;
}

const NEVER: Expected = { "2.9.25": [], "2.10.29": [], "2.11.17": [], "2.12.4": [], "2.12.5": [], "2.14.4": [] };

const REPLACE_ROWS: ReplaceRow[] = [
    {
        label: "name default -> events",
        change: { name: "events" },
        replace: {
            "2.9.25": ["name"],
            "2.10.29": ["name"],
            "2.11.17": ["name"],
            "2.12.4": ["name"],
            "2.12.5": ["name"],
            "2.14.4": ["name"],
        },
    },
    {
        label: "storage file -> memory",
        change: { storage: "memory" },
        replace: {
            "2.9.25": ["storage"],
            "2.10.29": ["storage"],
            "2.11.17": ["storage"],
            "2.12.4": ["storage"],
            "2.12.5": ["storage"],
            "2.14.4": ["storage"],
        },
    },
    {
        label: "retention limits -> interest",
        change: { retention: "interest" },
        replace: { "2.9.25": ["retention"], "2.10.29": [], "2.11.17": [], "2.12.4": [], "2.12.5": [], "2.14.4": [] },
    },
    {
        label: "retention interest -> limits",
        base: { retention: "interest" },
        change: { retention: "limits" },
        replace: { "2.9.25": ["retention"], "2.10.29": [], "2.11.17": [], "2.12.4": [], "2.12.5": [], "2.14.4": [] },
    },
    {
        label: "retention limits -> workqueue",
        change: { retention: "workqueue" },
        replace: {
            "2.9.25": ["retention"],
            "2.10.29": ["retention"],
            "2.11.17": ["retention"],
            "2.12.4": ["retention"],
            "2.12.5": ["retention"],
            "2.14.4": ["retention"],
        },
    },
    {
        label: "retention workqueue -> limits",
        base: { retention: "workqueue", allowWorkqueue: true },
        change: { retention: "limits" },
        replace: {
            "2.9.25": ["retention"],
            "2.10.29": ["retention"],
            "2.11.17": ["retention"],
            "2.12.4": ["retention"],
            "2.12.5": ["retention"],
            "2.14.4": ["retention"],
        },
    },
    {
        label: "maxConsumers unlimited -> 100",
        change: { maxConsumers: 100 },
        replace: {
            "2.9.25": ["maxConsumers"],
            "2.10.29": ["maxConsumers"],
            "2.11.17": ["maxConsumers"],
            "2.12.4": ["maxConsumers"],
            "2.12.5": [],
            "2.14.4": [],
        },
    },
    {
        label: "maxConsumers 100 -> unlimited",
        base: { maxConsumers: 100 },
        change: { maxConsumers: -1 },
        replace: {
            "2.9.25": ["maxConsumers"],
            "2.10.29": ["maxConsumers"],
            "2.11.17": ["maxConsumers"],
            "2.12.4": ["maxConsumers"],
            "2.12.5": [],
            "2.14.4": [],
        },
    },
    {
        label: "denyDelete true -> false",
        base: { denyDelete: true },
        change: { denyDelete: false },
        replace: {
            "2.9.25": ["denyDelete"],
            "2.10.29": ["denyDelete"],
            "2.11.17": ["denyDelete"],
            "2.12.4": ["denyDelete"],
            "2.12.5": ["denyDelete"],
            "2.14.4": ["denyDelete"],
        },
    },
    {
        label: "denyPurge true -> false",
        base: { denyPurge: true },
        change: { denyPurge: false },
        replace: {
            "2.9.25": ["denyPurge"],
            "2.10.29": ["denyPurge"],
            "2.11.17": ["denyPurge"],
            "2.12.4": ["denyPurge"],
            "2.12.5": ["denyPurge"],
            "2.14.4": ["denyPurge"],
        },
    },
    { label: "denyDelete false -> true", change: { denyDelete: true }, replace: NEVER },
    { label: "denyPurge false -> true", change: { denyPurge: true }, replace: NEVER },
    {
        label: "firstSeq 0 -> 1000",
        change: { firstSeq: 1000 },
        replace: {
            "2.9.25": ["firstSeq"],
            "2.10.29": ["firstSeq"],
            "2.11.17": ["firstSeq"],
            "2.12.4": ["firstSeq"],
            "2.12.5": ["firstSeq"],
            "2.14.4": ["firstSeq"],
        },
    },
    {
        label: "firstSeq 1000 -> 5000",
        base: { firstSeq: 1000 },
        change: { firstSeq: 5000 },
        replace: {
            "2.9.25": ["firstSeq"],
            "2.10.29": ["firstSeq"],
            "2.11.17": ["firstSeq"],
            "2.12.4": ["firstSeq"],
            "2.12.5": ["firstSeq"],
            "2.14.4": ["firstSeq"],
        },
    },
    // In place on every version.
    { label: "maxMsgs 50000 -> 100000", change: { maxMsgs: 100000 }, replace: NEVER },
    { label: "maxMsgs 50000 -> unlimited", change: { maxMsgs: -1 }, replace: NEVER },
    { label: "maxBytes unlimited -> 1GiB", change: { maxBytes: 1073741824 }, replace: NEVER },
    { label: "maxAgeMs 168h -> 24h", change: { maxAgeMs: 86_400_000 }, replace: NEVER },
    { label: "duplicatesMs 300s -> 60s", change: { duplicatesMs: 60_000 }, replace: NEVER },
    { label: "replicas 3 -> 1", change: { replicas: 1 }, replace: NEVER },
    { label: "replicas 3 -> 5", change: { replicas: 5 }, replace: NEVER },
    { label: "replicas 1 -> 3", base: { replicas: 1 }, change: { replicas: 3 }, replace: NEVER },
    { label: "maxMsgSize unlimited -> 1MiB", change: { maxMsgSize: 1048576 }, replace: NEVER },
    { label: "maxMsgsPerSubject unlimited -> 10", change: { maxMsgsPerSubject: 10 }, replace: NEVER },
    { label: "compression none -> s2", change: { compression: "s2" }, replace: NEVER },
    { label: "compression s2 -> none", base: { compression: "s2" }, change: { compression: "none" }, replace: NEVER },
    { label: "allowDirect off -> on", change: { allowDirect: true }, replace: NEVER },
    { label: "allowDirect on -> off", base: { allowDirect: true }, change: { allowDirect: false }, replace: NEVER },
    { label: "allowRollup off -> on", change: { allowRollup: true }, replace: NEVER },
    { label: "allowRollup on -> off", base: { allowRollup: true }, change: { allowRollup: false }, replace: NEVER },
    { label: "discard old -> new", change: { discard: "new" }, replace: NEVER },
    {
        label: "discardNewPerSubject off -> on",
        base: { discard: "new", maxMsgsPerSubject: 10 },
        change: { discardNewPerSubject: true },
        replace: NEVER,
    },
    { label: "noAck off -> on", change: { noAck: true }, replace: NEVER },
    { label: "description set", change: { description: "Argo Events bus" }, replace: NEVER },
    {
        label: "description removed",
        base: { description: "Argo Events bus" },
        change: { description: "" },
        replace: NEVER,
    },
    { label: "metadata set", change: { metadata: { owner: "platform" } }, replace: NEVER },
    { label: "metadata removed", base: { metadata: { owner: "platform" } }, change: { metadata: {} }, replace: NEVER },
    { label: "subjects extended", change: { subjects: ["default.*.*", "audit.>"] }, replace: NEVER },
    { label: "placement set", change: { placement: { cluster: "nats-east", tags: ["ssd"] } }, replace: NEVER },
    {
        label: "placement removed",
        base: { placement: { cluster: "nats-east" } },
        change: { placement: { cluster: "", tags: [] } },
        replace: NEVER,
    },
];

describe("replace rules per server version (nats-server's stream update checks, server/stream.go)", () => {
    for (const row of REPLACE_ROWS) {
        for (const version of VERSIONS) {
            const expected = row.replace[version];
            it(`${row.label} on ${version}: ${expected.length > 0 ? `replace (${expected.join(", ")})` : "in place"}`, () => {
                const current = resolveStreamSpec(row.base ? { stream: row.base } : {});
                const desired: StreamSpec = { ...current, ...row.change };
                // The row changes exactly one field.
                assert.deepEqual(changedFields(current, desired), Object.keys(row.change));

                assert.deepEqual(
                    replaceReasons(current, desired, version).map((r) => r.field),
                    expected,
                );

                const olds = outputs(current, version);
                if (expected.length > 0) {
                    assert.throws(() => planDiff(olds, props(desired, version)), /allowDataLoss: true/);
                    assert.deepEqual(planDiff(olds, props(desired, version, { allowDataLoss: true })), {
                        changes: true,
                        replaces: ["config"],
                        deleteBeforeReplace: true,
                    });
                } else {
                    assert.deepEqual(planDiff(olds, props(desired, version)), { changes: true });
                }
            });
        }
    }
});

// ---------------------------------------------------------------------------------------------
// 2. No diff after the server's normalisation
// ---------------------------------------------------------------------------------------------

const SERVER_VERSIONS = ["2.9.25", "2.10.29", "2.11.17", "2.12.15", "2.14.4"] as const;
type ServerVersion = (typeof SERVER_VERSIONS)[number];

/** Fields each server release adds to the stream config it returns, beyond the ones we send. */
const SERVER_EXTRAS: Record<ServerVersion, Record<string, unknown>> = {
    "2.9.25": { sealed: false, mirror_direct: false },
    "2.10.29": { sealed: false, mirror_direct: false, compression: "none", consumer_limits: {} },
    "2.11.17": { sealed: false, mirror_direct: false, compression: "none", consumer_limits: {}, allow_msg_ttl: false },
    "2.12.15": {
        sealed: false,
        mirror_direct: false,
        compression: "none",
        consumer_limits: {},
        allow_msg_ttl: false,
        allow_msg_counter: false,
        allow_atomic: false,
        allow_msg_schedules: false,
    },
    "2.14.4": {
        sealed: false,
        mirror_direct: false,
        compression: "none",
        consumer_limits: {},
        allow_msg_ttl: false,
        allow_msg_counter: false,
        allow_atomic: false,
        allow_msg_schedules: false,
        allow_batched: false,
    },
};

/** The `_nats.*` metadata 2.11+ adds: API level 1 on 2.11, 2 on 2.12, 4 on 2.14. */
const SERVER_METADATA: Record<ServerVersion, Record<string, string>> = {
    "2.9.25": {},
    "2.10.29": {},
    "2.11.17": { "_nats.req.level": "0", "_nats.ver": "2.11.17", "_nats.level": "1" },
    "2.12.15": { "_nats.req.level": "0", "_nats.ver": "2.12.15", "_nats.level": "2" },
    "2.14.4": { "_nats.req.level": "0", "_nats.ver": "2.14.4", "_nats.level": "4" },
};

/**
 * The stream config a server returns: the stream's own fields (`core`), the release's extras, its `_nats.*` metadata.
 */
function serverJson(core: Record<string, any>, version: ServerVersion): Record<string, any> {
    const json: Record<string, any> = { ...SERVER_EXTRAS[version], ...core };
    const metadata = { ...SERVER_METADATA[version], ...(core.metadata ?? {}) };
    if (Object.keys(metadata).length > 0) {
        json.metadata = metadata;
    } else {
        delete json.metadata;
    }
    return json;
}

interface NoDiffRow {
    label: string;
    spec: () => StreamSpec;
    /** The server's answer for the stream's own fields, as written by nats-server (nanoseconds, -1 for unlimited). */
    core: Record<string, any>;
    versions: readonly ServerVersion[];
}

const FLAGS_OFF = { deny_delete: false, deny_purge: false, allow_rollup_hdrs: false, allow_direct: false };

/** Argo's default stream as a server holds it: 7 days, 50000 messages, R3, a 5-minute duplicate window. */
const ARGO_DEFAULTS_JSON = {
    name: "default",
    subjects: ["default.*.*"],
    retention: "limits",
    max_consumers: -1,
    max_msgs: 50000,
    max_bytes: -1,
    max_age: 604800000000000,
    max_msgs_per_subject: -1,
    max_msg_size: -1,
    discard: "old",
    storage: "file",
    num_replicas: 3,
    duplicate_window: 300000000000,
    ...FLAGS_OFF,
};

const NO_DIFF_ROWS: NoDiffRow[] = [
    {
        label: "Argo defaults",
        spec: () => resolveStreamSpec({}),
        core: ARGO_DEFAULTS_JSON,
        versions: SERVER_VERSIONS,
    },
    {
        label: "involved example (maxAge 24h, 5 servers)",
        spec: () => resolveStreamSpec({ streamConfig: "maxAge: 24h\n", busReplicas: 5 }),
        core: {
            ...ARGO_DEFAULTS_JSON,
            max_age: 86400000000000,
        },
        versions: SERVER_VERSIONS,
    },
    {
        label: "1-server bus (R1)",
        spec: () => resolveStreamSpec({ busReplicas: 1 }),
        core: {
            ...ARGO_DEFAULTS_JSON,
            num_replicas: 1,
        },
        versions: SERVER_VERSIONS,
    },
    {
        label: "maxAge 1m with duplicates 0 (window filled in as maxAge)",
        spec: () => resolveStreamSpec({ stream: { maxAge: "1m", duplicates: "0", maxMsgs: 0, maxBytes: 0 } }),
        core: {
            ...ARGO_DEFAULTS_JSON,
            max_msgs: -1,
            max_age: 60000000000,
            duplicate_window: 60000000000,
        },
        versions: SERVER_VERSIONS,
    },
    {
        label: "description and placement",
        spec: () =>
            resolveStreamSpec({
                stream: { description: "Argo Events bus", placement: { cluster: "nats-east", tags: ["ssd", "az-a"] } },
            }),
        core: {
            ...ARGO_DEFAULTS_JSON,
            description: "Argo Events bus",
            placement: { cluster: "nats-east", tags: ["ssd", "az-a"] },
        },
        versions: SERVER_VERSIONS,
    },
    {
        label: "description, metadata, placement (tags only), compression s2",
        spec: () =>
            resolveStreamSpec({
                stream: {
                    description: "Argo Events bus",
                    metadata: { owner: "platform", tier: "gold" },
                    placement: { tags: ["ssd"] },
                    compression: "s2",
                },
            }),
        core: {
            ...ARGO_DEFAULTS_JSON,
            description: "Argo Events bus",
            placement: { tags: ["ssd"] },
            compression: "s2",
            // Server order, not ours.
            metadata: { tier: "gold", owner: "platform" },
        },
        versions: ["2.10.29", "2.11.17", "2.12.15", "2.14.4"],
    },
    {
        label: "firstSeq 1000, interest retention, flags on",
        spec: () =>
            resolveStreamSpec({
                stream: {
                    firstSeq: 1000,
                    retention: "interest",
                    denyDelete: true,
                    allowDirect: true,
                    discard: "new",
                    maxMsgsPerSubject: 5,
                    discardNewPerSubject: true,
                },
            }),
        core: {
            ...ARGO_DEFAULTS_JSON,
            retention: "interest",
            max_msgs_per_subject: 5,
            discard: "new",
            deny_delete: true,
            allow_direct: true,
            discard_new_per_subject: true,
            first_seq: 1000,
        },
        versions: ["2.10.29", "2.11.17", "2.12.15", "2.14.4"],
    },
];

describe("no diff after server normalisation", () => {
    for (const row of NO_DIFF_ROWS) {
        for (const version of row.versions) {
            it(`${row.label}, as ${version} returns it`, () => {
                const spec = row.spec();
                const json = serverJson(row.core, version);
                // The server answers with more than we sent.
                assert.notDeepEqual(json, toServerStreamConfig(spec));
                assert.deepEqual(changedFields(fromServerStreamConfig(json), spec), []);
                const olds = outputs(fromServerStreamConfig(json), version);
                assert.equal(planDiff(olds, props(spec, version)).changes, false);
            });
        }
    }

    it("a server that rewrote 0 limits to -1 and filled the window in matches a spec with unlimited limits", () => {
        // As a 2.9 server returns a stream created with max_* 0 and no duplicate_window.
        const json = serverJson(
            { ...ARGO_DEFAULTS_JSON, max_msgs: -1, max_age: 0, num_replicas: 1, duplicate_window: 120000000000 },
            "2.9.25",
        );
        const spec = resolveStreamSpec({ stream: { maxMsgs: 0, maxAge: "0", duplicates: "0", replicas: 1 } });
        assert.deepEqual(changedFields(fromServerStreamConfig(json), spec), []);
    });
});

// ---------------------------------------------------------------------------------------------
// 3. planDiff
// ---------------------------------------------------------------------------------------------

describe("planDiff", () => {
    const spec = resolveStreamSpec({});

    it("throws naming the field and allowDataLoss when a replace is needed and data loss is not allowed", () => {
        const desired = { ...spec, storage: "memory" as const };
        assert.throws(
            () => planDiff(outputs(spec, "2.14.4"), props(desired, "2.14.4")),
            (err: Error) => {
                assert.match(err.message, /storage/);
                assert.match(err.message, /allowDataLoss: true/);
                return true;
            },
        );
    });

    it("plans delete-before-replace when data loss is allowed", () => {
        const desired = { ...spec, storage: "memory" as const };
        assert.deepEqual(planDiff(outputs(spec, "2.14.4"), props(desired, "2.14.4", { allowDataLoss: true })), {
            changes: true,
            replaces: ["config"],
            deleteBeforeReplace: true,
        });
    });

    for (const allowDataLoss of [false, true]) {
        it(`throws mentioning 10123 when replicas and placement change together (allowDataLoss ${allowDataLoss})`, () => {
            const desired = { ...spec, replicas: 1, placement: { cluster: "nats-east", tags: [] } };
            assert.throws(
                () => planDiff(outputs(spec, "2.14.4"), props(desired, "2.14.4", { allowDataLoss })),
                /10123/,
            );
        });
    }

    it(
        "replicas and placement changed together with a replace already planned (storage) and allowed: replace, no 10123",
        {},
        () => {
            const desired = {
                ...spec,
                storage: "memory" as const,
                replicas: 1,
                placement: { cluster: "nats-east", tags: [] },
            };
            assert.deepEqual(planDiff(outputs(spec, "2.14.4"), props(desired, "2.14.4", { allowDataLoss: true })), {
                changes: true,
                replaces: ["config"],
                deleteBeforeReplace: true,
            });
        },
    );

    it("a password change is a change, not a replace", () => {
        const news = props(spec, "2.14.4", { connection: { ...CONNECTION, password: "rotated" } });
        assert.deepEqual(planDiff(outputs(spec, "2.14.4"), news), { changes: true });
    });

    it("a deletionPolicy change is a change, not a replace", () => {
        assert.deepEqual(planDiff(outputs(spec, "2.14.4"), props(spec, "2.14.4", { deletionPolicy: "delete" })), {
            changes: true,
        });
    });

    it("no change at all is no change", () => {
        assert.deepEqual(planDiff(outputs(spec, "2.14.4"), props(spec, "2.14.4")), { changes: false });
    });

    const unknownRows: { label: string; news: StreamProps }[] = [
        { label: "news.config wholly unknown", news: props(UNKNOWN as unknown as StreamSpec, "2.14.4") },
        { label: "news.config.storage unknown", news: props({ ...spec, storage: UNKNOWN as "file" }, "2.14.4") },
        { label: "news.config.name unknown", news: props({ ...spec, name: UNKNOWN }, "2.14.4") },
        {
            label: "news.config.placement.cluster unknown, replicas changed",
            news: props({ ...spec, replicas: 1, placement: { cluster: UNKNOWN, tags: [] } }, "2.14.4"),
        },
        {
            label: "news.connection wholly unknown",
            news: props(spec, "2.14.4", { connection: UNKNOWN as unknown as ConnectionProps }),
        },
        {
            label: "news.connection.servers unknown",
            news: props(spec, "2.14.4", { connection: { servers: [UNKNOWN] } }),
        },
        {
            label: "news.connection.password unknown",
            news: props(spec, "2.14.4", { connection: { ...CONNECTION, password: UNKNOWN } }),
        },
    ];
    for (const { label, news } of unknownRows) {
        it(`${label}: changes without throwing`, () => {
            const plan = planDiff(outputs(spec, "2.14.4"), news);
            assert.equal(plan.changes, true);
        });
    }

    describe("the server version used for the rules", () => {
        const interest = { ...spec, retention: "interest" as const };

        it("observed 2.9.25 (news says 2.10.29): limits -> interest throws", () => {
            const olds = outputs(spec, "2.10.29", { observedServerVersion: "2.9.25" });
            assert.throws(() => planDiff(olds, props(interest, "2.10.29")), /retention/);
        });

        it("observed 2.10.29 (news says 2.9.25): limits -> interest is in place", () => {
            const olds = outputs(spec, "2.9.25", { observedServerVersion: "2.10.29" });
            assert.deepEqual(planDiff(olds, props(interest, "2.9.25")), { changes: true });
        });

        it("no observed version, news 2.9.25: limits -> interest throws", () => {
            const olds: StreamOutputs = outputs(spec, "2.9.25");
            delete (olds as Partial<StreamOutputs>).observedServerVersion;
            assert.throws(() => planDiff(olds, props(interest, "2.9.25")), /retention/);
        });

        it("no observed version: news.serverVersion (2.10.29) is used, not olds.serverVersion (2.9.25)", {}, () => {
            const olds: StreamOutputs = outputs(spec, "2.9.25");
            delete (olds as Partial<StreamOutputs>).observedServerVersion;
            assert.deepEqual(planDiff(olds, props(interest, "2.10.29")), { changes: true });
        });
    });
});

// ---------------------------------------------------------------------------------------------
// 4. checkProps
// ---------------------------------------------------------------------------------------------

describe("checkProps", () => {
    const spec = resolveStreamSpec({});

    const failing: { label: string; news: StreamProps; property: string; reason: RegExp }[] = [
        {
            label: "empty servers list",
            news: props(spec, "2.14.4", { connection: { servers: [] } }),
            property: "connection",
            reason: /servers/,
        },
        {
            label: "empty server URL",
            news: props(spec, "2.14.4", { connection: { servers: [""] } }),
            property: "connection",
            reason: /servers/,
        },
        {
            label: 'deletionPolicy "keep"',
            news: props(spec, "2.14.4", { deletionPolicy: "keep" as "retain" }),
            property: "deletionPolicy",
            reason: /keep/,
        },
        {
            label: "compression s2 on 2.9.25",
            news: props({ ...spec, compression: "s2" }, "2.9.25"),
            property: "config",
            reason: /compression/,
        },
        {
            label: "metadata on 2.9.25",
            news: props({ ...spec, metadata: { owner: "platform" } }, "2.9.25"),
            property: "config",
            reason: /metadata/,
        },
        {
            label: "firstSeq on 2.9.25",
            news: props({ ...spec, firstSeq: 1000 }, "2.9.25"),
            property: "config",
            reason: /firstSeq/,
        },
    ];
    for (const { label, news, property, reason } of failing) {
        it(`${label}: one failure on ${property}`, () => {
            const failures = checkProps(news);
            assert.equal(failures.length, 1, JSON.stringify(failures));
            assert.equal(failures[0].property, property);
            assert.match(failures[0].reason, reason);
        });
    }

    const passing: { label: string; news: StreamProps }[] = [
        { label: "Argo defaults on 2.9.25", news: props(spec, "2.9.25") },
        { label: "compression s2 on 2.10.29", news: props({ ...spec, compression: "s2" }, "2.10.29") },
        { label: "metadata on 2.10.29", news: props({ ...spec, metadata: { owner: "platform" } }, "2.10.29") },
        { label: "firstSeq on 2.10.29", news: props({ ...spec, firstSeq: 1000 }, "2.10.29") },
        { label: "deletionPolicy delete", news: props(spec, "2.14.4", { deletionPolicy: "delete" }) },
        {
            label: "connection wholly unknown",
            news: props(spec, "2.14.4", { connection: UNKNOWN as unknown as ConnectionProps }),
        },
        { label: "connection.servers unknown", news: props(spec, "2.14.4", { connection: { servers: [UNKNOWN] } }) },
        {
            label: "connection.servers list unknown",
            news: props(spec, "2.14.4", { connection: { servers: UNKNOWN as unknown as string[] } }),
        },
        { label: "serverVersion unknown with compression s2", news: props({ ...spec, compression: "s2" }, UNKNOWN) },
    ];
    for (const { label, news } of passing) {
        it(`${label}: no failure`, () => {
            assert.deepEqual(checkProps(news), []);
        });
    }
});

// ---------------------------------------------------------------------------------------------
// 5. toServerUpdateConfig
// ---------------------------------------------------------------------------------------------

describe("rewriting an unchanged stream's metadata after an upgrade from 2.9 (nats-server PR #7678)", () => {
    // The releases that write a new meta.key without re-encrypting meta.inf, from the PR's releases.
    const affected = ["2.10.0", "2.10.29", "2.11.0", "2.11.11", "2.12.0", "2.12.3"];
    const fixed = ["2.9.25", "2.11.12", "2.11.17", "2.12.4", "2.12.15", "2.13.0", "2.14.4"];
    for (const version of affected) {
        it(`${version} can lose an encrypted stream's key`, () => assert.equal(losesEncryptedStreamKey(version), true));
    }
    for (const version of fixed) {
        it(`${version} cannot`, () => assert.equal(losesEncryptedStreamKey(version), false));
    }

    const cases: { title: string; prior: string[] | undefined; server: string; rewrite: boolean }[] = [
        { title: "last seen on 2.9.25, now 2.10.29", prior: ["2.9.25", "2.9.25"], server: "2.10.29", rewrite: true },
        {
            title: "declared 2.9.25 but refreshed on 2.10.29 already, now 2.10.29",
            prior: ["2.9.25", "2.10.29"],
            server: "2.10.29",
            rewrite: true,
        },
        { title: "last seen on 2.9.1, now 2.11.8", prior: ["2.9.1", "2.9.1"], server: "2.11.8", rewrite: true },
        {
            title: "last seen on 2.9.25, now 2.11.17 (fixed)",
            prior: ["2.9.25", "2.9.25"],
            server: "2.11.17",
            rewrite: false,
        },
        {
            title: "last seen on 2.10.29, still 2.10.29 (a no-op up)",
            prior: ["2.10.29", "2.10.29"],
            server: "2.10.29",
            rewrite: false,
        },
        {
            title: "last seen on 2.10.29, now 2.12.15",
            prior: ["2.10.29", "2.10.29"],
            server: "2.12.15",
            rewrite: false,
        },
        { title: "still on 2.9.25", prior: ["2.9.25", "2.9.25"], server: "2.9.25", rewrite: false },
        { title: "adopting an existing stream on 2.10.29", prior: undefined, server: "2.10.29", rewrite: true },
        { title: "adopting an existing stream on 2.14.4", prior: undefined, server: "2.14.4", rewrite: false },
        {
            title: "a server that gave no release (recorded as 0.0.0), now 2.10.29",
            prior: ["2.10.29", "0.0.0"],
            server: "2.10.29",
            rewrite: true,
        },
        {
            title: "an unreadable release in state, now 2.10.29",
            prior: ["2.10.29", "unknown"],
            server: "2.10.29",
            rewrite: true,
        },
    ];
    for (const c of cases) {
        it(`${c.title}: ${c.rewrite ? "writes the unchanged configuration" : "writes nothing"}`, () => {
            assert.equal(needsMetadataRewrite(c.prior, c.server), c.rewrite);
        });
    }
});

describe("toServerUpdateConfig (nats.js merges the update into the server's config)", () => {
    const plain = resolveStreamSpec({});

    for (const version of ["2.9.25", "2.10.29", "2.14.4"]) {
        it(`removed description, placement and metadata are undefined keys on ${version}`, () => {
            const config = toServerUpdateConfig(plain, version);
            for (const key of ["description", "placement", "metadata"]) {
                assert.ok(key in config, `${key} is a key`);
                assert.equal(config[key], undefined);
            }
        });

        it(`first_seq is never sent on ${version}`, () => {
            const config = toServerUpdateConfig({ ...plain, firstSeq: 1000 }, version);
            assert.equal("first_seq" in config, false);
        });
    }

    for (const version of ["2.10.29", "2.11.17", "2.14.4"]) {
        it(`compression is sent explicitly on ${version}`, () => {
            assert.equal(toServerUpdateConfig(plain, version).compression, "none");
            assert.equal(toServerUpdateConfig({ ...plain, compression: "s2" }, version).compression, "s2");
        });
    }

    it("compression is absent on 2.9.25, and nothing 2.10-only is truthy (nats.js would refuse it)", () => {
        const config = toServerUpdateConfig(plain, "2.9.25");
        assert.equal("compression" in config, false);
        assert.ok(!config.metadata && !config.first_seq && !config.compression);
    });

    it("merged as nats.js does, the removed fields are reset and first_seq is kept", () => {
        // What a 2.11.17 server holds for a stream created with description, placement, metadata, s2 and first_seq.
        const old: Record<string, unknown> = {
            ...ARGO_DEFAULTS_JSON,
            description: "Argo Events bus",
            placement: { cluster: "nats-east" },
            sealed: false,
            mirror_direct: false,
            compression: "s2",
            first_seq: 1000,
            consumer_limits: {},
            allow_msg_ttl: false,
            metadata: { owner: "platform", "_nats.req.level": "0", "_nats.ver": "2.11.17", "_nats.level": "1" },
        };
        const sent = JSON.parse(JSON.stringify(Object.assign(old, toServerUpdateConfig(plain, "2.11.17"))));
        assert.equal("description" in sent, false);
        assert.equal("placement" in sent, false);
        assert.equal("metadata" in sent, false);
        assert.equal(sent.compression, "none");
        assert.equal(sent.first_seq, 1000);
        assert.equal(sent.max_msgs, 50000);
        assert.equal(sent.num_replicas, 3);
    });

    it("set description, placement and metadata are sent", () => {
        const spec = resolveStreamSpec({
            stream: { description: "bus", placement: { cluster: "nats-east" }, metadata: { owner: "platform" } },
        });
        const config = toServerUpdateConfig(spec, "2.10.29");
        assert.equal(config.description, "bus");
        assert.deepEqual(config.placement, { cluster: "nats-east" });
        assert.deepEqual(config.metadata, { owner: "platform" });
    });
});

// ---------------------------------------------------------------------------------------------
// 6. isTransient
// ---------------------------------------------------------------------------------------------

function named(name: string, message: string): Error {
    const err = new Error(message);
    err.name = name;
    return err;
}

describe("isTransient", () => {
    const transient: { label: string; err: unknown }[] = [
        { label: "{code: 10008}", err: { code: 10008 } },
        { label: "{status: 503}", err: { status: 503 } },
        {
            label: "JetStreamApiError 10008 (503)",
            err: new JetStreamApiError({
                code: 503,
                err_code: 10008,
                description: "JetStream system temporarily unavailable",
            }),
        },
        { label: "an error named TimeoutError", err: named("TimeoutError", "timeout") },
        { label: "an error named NoRespondersError", err: named("NoRespondersError", "no responders") },
        { label: "an error named JetStreamNotEnabled", err: named("JetStreamNotEnabled", "jetstream is not enabled") },
        { label: "an error named ConnectionError", err: named("ConnectionError", "connection refused") },
        { label: "nats.js TimeoutError", err: new TimeoutError() },
        { label: "nats.js NoRespondersError", err: new NoRespondersError("$JS.API.INFO") },
        {
            label: "nats.js RequestError caused by NoRespondersError",
            err: new RequestError("no responders", { cause: new NoRespondersError("$JS.API.STREAM.INFO.default") }),
        },
        { label: "nats.js ConnectionError", err: new ConnectionError("connection refused") },
        { label: "nats.js JetStreamNotEnabled", err: new jserrors.JetStreamNotEnabled("jetstream is not enabled") },
        { label: "ECONNREFUSED", err: new Error("connect ECONNREFUSED 127.0.0.1:4222") },
        {
            label: "ECONNREFUSED in the cause",
            err: new Error("connection failed", { cause: new Error("connect ECONNREFUSED 10.0.0.1:4222") }),
        },
        { label: '"no suitable peers"', err: new Error("no suitable peers for placement") },
        {
            label: "JetStreamApiError 10005 no suitable peers",
            err: new JetStreamApiError({ code: 500, err_code: 10005, description: "no suitable peers for placement" }),
        },
    ];
    for (const { label, err } of transient) {
        it(`${label} is transient`, () => {
            assert.equal(isTransient(err), true);
        });
    }

    const permanent: { label: string; err: unknown }[] = [
        { label: "{code: 10058}", err: { code: 10058 } },
        { label: "{code: 10052}", err: { code: 10052 } },
        {
            label: "JetStreamApiError 10058",
            err: new JetStreamApiError({
                code: 400,
                err_code: 10058,
                description: "stream name already in use with a different configuration",
            }),
        },
        {
            label: "JetStreamApiError 10052",
            err: new JetStreamApiError({
                code: 500,
                err_code: 10052,
                description: "stream configuration update can not change storage type",
            }),
        },
        { label: "nats.js AuthorizationError", err: new AuthorizationError("'Authorization Violation'") },
        { label: "an error named AuthorizationError", err: named("AuthorizationError", "Authorization Violation") },
        { label: "a plain TypeError", err: new TypeError("Cannot read properties of undefined (reading 'config')") },
        { label: "undefined", err: undefined },
    ];
    for (const { label, err } of permanent) {
        it(`${label} is not transient`, () => {
            assert.equal(isTransient(err), false);
        });
    }
});

describe("addAfterDelete: a create right after a delete races the server's folder clean-up", () => {
    const storeError = () =>
        new JetStreamApiError({ code: 500, err_code: 10049, description: "error creating store for stream" });
    function fakeStreams(failures: Error[]): { streams: { add(config: any): Promise<any> }; calls: () => number } {
        let calls = 0;
        return {
            streams: {
                add: async (config: any) => {
                    calls++;
                    const failure = failures.shift();
                    if (failure) throw failure;
                    return { config };
                },
            },
            calls: () => calls,
        };
    }

    it("retries 10049 and returns the created stream", async () => {
        const jsm = fakeStreams([storeError(), storeError()]);
        assert.deepEqual(await addAfterDelete(jsm, { name: "default" }), { config: { name: "default" } });
        assert.equal(jsm.calls(), 3);
    });

    it("gives up after 5 attempts with the server's error", async () => {
        const jsm = fakeStreams(Array.from({ length: 9 }, storeError));
        await assert.rejects(addAfterDelete(jsm, { name: "default" }), /error creating store for stream/);
        assert.equal(jsm.calls(), 5);
    });

    it("does not retry any other error", async () => {
        const jsm = fakeStreams([
            new JetStreamApiError({
                code: 400,
                err_code: 10058,
                description: "stream name already in use with a different configuration",
            }),
        ]);
        await assert.rejects(addAfterDelete(jsm, { name: "default" }), /already in use/);
        assert.equal(jsm.calls(), 1);
    });
});

describe("describeError: what the user reads when the provider gives up", () => {
    const cases: { title: string; err: Error; expected: RegExp }[] = [
        {
            title: "no suitable peers names the meta group and the pod restart",
            err: new JetStreamApiError({ code: 500, err_code: 10005, description: "no suitable peers for placement" }),
            expected:
                /^no suitable peers for placement \(error 10005\): the meta leader does not count enough servers .*meta group.*until that pod restarts$/,
        },
        {
            title: "R3 on a standalone server says to set replicas: 1",
            err: new JetStreamApiError({
                code: 500,
                err_code: 10074,
                description: "replicas > 1 not supported in non-clustered mode",
            }),
            expected: /\(error 10074\): the server is not clustered; set replicas: 1/,
        },
        {
            title: "overlapping subjects names the other stream as the cause",
            err: new JetStreamApiError({
                code: 400,
                err_code: 10065,
                description: "subjects overlap with an existing stream",
            }),
            expected: /\(error 10065\): another stream captures the same subjects/,
        },
        {
            title: "any other error keeps its message and code",
            err: new JetStreamApiError({ code: 500, err_code: 10049, description: "error creating store for stream" }),
            expected: /^error creating store for stream \(error 10049\)$/,
        },
    ];
    for (const c of cases) {
        it(c.title, () => assert.match(describeError(c.err), c.expected));
    }
});
