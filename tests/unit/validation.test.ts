/**
 * Bad input fails `new EventBus(...)` — hence the preview — with an InputError that starts with the
 * path of the field at fault and says what is allowed, and nothing at all is registered.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { testMocks } from "../support/bus";
import { EventBus, EventBusArgs, InputError } from "../../components";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const rpcSettings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

interface BadInput {
    /** What is wrong, for the test name. */
    what: string;
    name?: string;
    args: unknown;
    /** The field path the message must start with. */
    field: string;
    /** Text that says what is allowed. */
    allowed: RegExp;
    /** Set when the component is known to get this wrong. */
    todo?: string;
}

const latest = (extra: Record<string, unknown>) => ({ namespace: "argo-events", jetstream: { version: "latest", ...extra } });

const BAD_INPUTS: BadInput[] = [
    { what: "replicas 2", args: latest({ replicas: 2 }), field: "jetstream.replicas", allowed: /1 replica or 3 and more/ },
    { what: "replicas 0", args: latest({ replicas: 0 }), field: "jetstream.replicas", allowed: /1 replica or 3 and more/ },
    { what: "replicas -1", args: latest({ replicas: -1 }), field: "jetstream.replicas", allowed: /1 replica or 3 and more/ },
    { what: "an unknown version", args: { jetstream: { version: "2.99.0" } }, field: "jetstream.version", allowed: /supported versions: latest, .*2\.10\.29.*2\.14\.4/ },
    { what: "a missing version", args: { jetstream: {} }, field: "jetstream.version", allowed: /supported versions: latest/ },
    { what: "volume size 1XB", args: latest({ persistence: { volumeSize: "1XB" } }), field: "jetstream.persistence.volumeSize", allowed: /Gi/ },
    { what: "maxPayload 1XB", args: latest({ maxPayload: "1XB" }), field: "jetstream.maxPayload", allowed: /MB/ },
    { what: "lameDuckDuration 7x", args: latest({ lameDuckDuration: "7x" }), field: "jetstream.lameDuckDuration", allowed: /units ns, us, ms, s, m, h/ },
    {
        what: "streamConfig maxAge 7x",
        args: latest({ streamConfig: "maxAge: 7x\n" }),
        field: "jetstream.streamConfig.maxAge",
        allowed: /units ns, us, ms, s, m, h/,
    },
    {
        what: "max_file_store in settings above the volume size",
        args: latest({ persistence: { volumeSize: "10Gi" }, settings: "max_file_store: 20GB\n" }),
        field: "jetstream.settings",
        allowed: /must not exceed persistence\.volumeSize 10Gi/,
    },
    {
        what: "jetstreamSettings.maxFileStore above the volume size",
        args: latest({ persistence: { volumeSize: "10Gi" }, jetstreamSettings: { maxFileStore: "11GB" } }),
        field: "jetstream.jetstreamSettings.maxFileStore",
        allowed: /must not exceed persistence\.volumeSize 10Gi/,
    },
    {
        what: "an unknown key in streamConfig",
        args: latest({ streamConfig: "maxAgee: 24h\n" }),
        field: "jetstream.streamConfig.maxAgee",
        allowed: /did you mean "maxAge"\?.*maxMsgs, maxAge, maxBytes, replicas, duplicates, retention, discard/,
    },
    {
        what: "an unknown key in the typed stream settings",
        args: latest({ stream: { maxAgee: "24h" } }),
        field: "jetstream.stream.maxAgee",
        allowed: /did you mean "maxAge"\?/,
    },
    {
        what: "stream replicas above the bus replicas",
        args: latest({ replicas: 1, streamConfig: "replicas: 3\n" }),
        field: "jetstream.streamConfig.replicas",
        allowed: /set replicas: 1 in streamConfig/,
    },
    { what: "negative maxPayload -1", args: latest({ maxPayload: "-1" }), field: "jetstream.maxPayload", allowed: /from 1 byte to 64MB/ },
    { what: "negative maxPayload -1MB", args: latest({ maxPayload: "-1MB" }), field: "jetstream.maxPayload", allowed: /MB/ },
    {
        what: "a component name that is not a Kubernetes name",
        name: "My_Bus",
        args: { jetstream: { version: "latest" } },
        field: "busName (defaults to the component name)",
        allowed: /lowercase letters, digits and '-'/,
    },
    { what: "a busName that is not a Kubernetes name", args: { busName: "bus.one", jetstream: { version: "latest" } }, field: "busName", allowed: /lowercase letters, digits and '-'/ },
    { what: "a busName too long for the StatefulSet", args: { busName: "a".repeat(60), jetstream: { version: "latest" } }, field: "busName", allowed: /at most \d+ lowercase/ },
    { what: "a namespace that is not a Kubernetes name", args: { namespace: "Argo_Events", jetstream: { version: "latest" } }, field: "namespace", allowed: /lowercase letters, digits and '-'/ },
    {
        what: "both jetstream and jetstreamExotic",
        args: { jetstream: { version: "latest" }, jetstreamExotic: { url: "nats://nats.example.svc:4222" } },
        field: "jetstream",
        allowed: /set exactly one/,
    },
    { what: "jetstream missing", args: { namespace: "argo-events" }, field: "jetstream", allowed: /set jetstream, or jetstreamExotic/ },
    { what: "the typo replica", args: latest({ replica: 3 }), field: "jetstream.replica", allowed: /did you mean "replicas"\?/ },
    {
        what: "an unknown top-level key",
        args: { namespace: "argo-events", jetstrem: { version: "latest" } },
        // Top-level fields are named without a prefix everywhere else ("namespace", "busName", "jetstream").
        field: "jetstrem",
        allowed: /did you mean "jetstream"\?/,
    },
    {
        what: "compression on a 2.9 bus",
        args: { namespace: "argo-events", jetstream: { version: "2.9.25", stream: { compression: "s2" } } },
        field: "jetstream.stream.compression",
        allowed: /needs nats-server 2\.10 or later/,
    },
    {
        what: "an unknown connection mode",
        args: { namespace: "argo-events", jetstream: { version: "latest" }, connection: { mode: "tunnel" } },
        field: "connection.mode",
        allowed: /auto, portForward, direct/,
    },
    {
        what: "direct mode without servers",
        args: { namespace: "argo-events", jetstream: { version: "latest" }, connection: { mode: "direct" } },
        field: "connection.servers",
        allowed: /nats:\/\/nats\.example\.com:4222/,
    },
    {
        what: "a server URL that is not a NATS URL",
        args: { namespace: "argo-events", jetstream: { version: "latest" }, connection: { mode: "direct", servers: ["http://nats:4222"] } },
        field: "connection.servers[0]",
        allowed: /not a NATS URL like nats:\/\/nats\.example\.com:4222/,
    },
    {
        what: "servers with the auto mode",
        args: { namespace: "argo-events", jetstream: { version: "latest" }, connection: { servers: ["nats://nats:4222"] } },
        field: "connection.servers",
        allowed: /only with mode direct/,
    },
    {
        what: "an invalid accessMode",
        args: latest({ persistence: { accessMode: "ReadWrite" } }),
        field: "jetstream.persistence.accessMode",
        allowed: /ReadWriteOnce, ReadWriteOncePod, ReadWriteMany/,
    },
    { what: "lameDuckDuration 10s", args: latest({ lameDuckDuration: "10s" }), field: "jetstream.lameDuckDuration", allowed: /at least 30s/ },
    {
        what: "terminationGracePeriodSeconds 20",
        args: latest({ terminationGracePeriodSeconds: 20 }),
        field: "jetstream.terminationGracePeriodSeconds",
        allowed: /above lameDuckDuration \(30s\)/,
    },
    { what: "settings with store_dir", args: latest({ settings: "store_dir: /tmp/js\n" }), field: "jetstream.settings", allowed: /line 1: "store_dir" is not allowed: the bus sets the store directory on its volume itself/ },
];

/** Runs `new EventBus`, expecting it to throw; returns the error and what was registered. */
async function attempt(name: string, args: unknown): Promise<{ error: unknown; registered: string[] }> {
    const mocks = testMocks();
    mocks.reset();
    let error: unknown;
    try {
        new EventBus(name, args as EventBusArgs);
    } catch (e) {
        error = e;
    }
    await rpcSettings.waitForRPCs();
    return { error, registered: mocks.resources.map((r) => `${r.type} ${r.name}`) };
}

describe("a valid bus, as a control", () => {
    it("registers the component and its children with the same procedure", async () => {
        const { error, registered } = await attempt("default", latest({}));
        assert.equal(error, undefined);
        assert.ok(registered.includes("jetstream-eventbus:index:EventBus default"), registered.join("\n"));
        assert.ok(registered.some((r) => r.startsWith("kubernetes:apps/v1:StatefulSet")), registered.join("\n"));
    });
});

for (const bad of BAD_INPUTS) {
    describe(`bad input: ${bad.what}`, () => {
        it(`throws an InputError whose message starts with "${bad.field}:" and says what is allowed`, { todo: bad.todo }, async () => {
            const { error } = await attempt(bad.name ?? "default", bad.args);
            assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`);
            assert.ok(error.message.startsWith(`${bad.field}: `), error.message);
            assert.equal(error.field, bad.field);
            assert.match(error.message, bad.allowed);
        });

        it("registers nothing", async () => {
            const { error, registered } = await attempt(bad.name ?? "default", bad.args);
            assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`);
            assert.match(error.message, bad.allowed);
            assert.deepEqual(registered, []);
        });
    });
}
