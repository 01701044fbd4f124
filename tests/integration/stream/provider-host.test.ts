/**
 * The stream's serialized dynamic provider, run by Pulumi's own provider host outside this process.
 *
 * The `__provider` string captured from a mocks run of a real EventBus is handed to the real
 * `pulumi-resource-pulumi-nodejs` plugin (which runs `@pulumi/pulumi/cmd/dynamic-provider`), started
 * the way the engine starts it: in the program's folder, with the address of an Engine service
 * (tests/support/engine.ts fakes it) as its argument. The test then plays the engine: Configure, Check,
 * Create, Diff, Update, Read and Delete over gRPC against a real TLS nats-server started from the
 * same rendered bus, and checks every effect with a separate nats.js client that verifies the CA.
 *
 * Secrets: the engine wraps a secret as {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
 * "value": ...} only for a provider whose ConfigureResponse says acceptSecrets. The dynamic provider
 * host answers acceptSecrets: false (cmd/dynamic-provider/index.js, `resp.setAcceptsecrets(false)`),
 * so the engine strips the marker and sends the password as a plain string; it re-marks the outputs
 * secret itself. `marshal` below does what the engine does with the answer the host actually gave.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import { renderBus, type RenderedBus } from "../../support/bus";
import { privateHostsProblem, startCluster, type LocalCluster } from "../../support/cluster";
import { versionEntryFor } from "../../support/local-layout";
import { Cleanup, findNatsServers } from "../../support/nats";
import {
    call,
    fromStruct,
    secret,
    SECRET_SIG_KEY,
    startFakeEngine,
    startProviderHost,
    toStruct,
    type FakeEngine,
    type ProviderHost,
} from "../../support/engine";

const STREAM_TYPE = "pulumi-nodejs:dynamic/jetstream:Stream";
/** The package root (dist/tests/integration/stream/ -> ../../../..). */
const PACKAGE_ROOT = path.resolve(__dirname, "..", "..", "..", "..");
const { version: PULUMI_VERSION } = require("@pulumi/pulumi/package.json") as { version: string };

function streamRegistration(rendered: RenderedBus) {
    const found = rendered.resources.filter((r) => r.type === STREAM_TYPE);
    assert.equal(found.length, 1, `one ${STREAM_TYPE} registration`);
    return found[0];
}

/** Every secret value a rendered bus holds (password, keys, certificates, encryption key, auth include). */
function secretValues(rendered: RenderedBus): string[] {
    return [rendered.password, ...Object.values(rendered.serverSecret), ...Object.values(rendered.clientSecret)].filter(
        (v) => typeof v === "string" && v.length >= 8,
    );
}

/** A program folder as a user's: the package and @pulumi/pulumi installed as `npm install <folder>` links them. */
function consumerProgram(cleanup: Cleanup): string {
    const dir = cleanup.tempDir("eventbus-program");
    fs.mkdirSync(path.join(dir, "node_modules", "@pulumi"), { recursive: true });
    fs.symlinkSync(PACKAGE_ROOT, path.join(dir, "node_modules", "jetstream-eventbus"));
    fs.symlinkSync(
        path.join(PACKAGE_ROOT, "node_modules", "@pulumi", "pulumi"),
        path.join(dir, "node_modules", "@pulumi", "pulumi"),
    );
    fs.writeFileSync(
        path.join(dir, "package.json"),
        JSON.stringify({
            name: "program",
            private: true,
            dependencies: { "jetstream-eventbus": `file:${PACKAGE_ROOT}` },
        }),
    );
    return dir;
}

/** Configure as the engine sends it for the default `pulumi-nodejs` provider; returns its answer. */
async function configure(host: ProviderHost): Promise<provproto.ConfigureResponse> {
    const request = new provproto.ConfigureRequest()
        .setArgs(toStruct({}))
        .setAcceptsecrets(true)
        .setAcceptresources(true)
        .setSendsOldInputs(true)
        .setSendsOldInputsToDelete(true);
    return call(host.client, host.client.configure, request);
}

const server = findNatsServers()
    .filter((s) => versionEntryFor(s.version))
    .at(-1);
const noNamespaces = privateHostsProblem();
const skipCluster = server ? noNamespaces : "no nats-server of a release line in the version map";

describe("the serialized stream provider (__provider)", () => {
    const cleanup = new Cleanup();
    let first: RenderedBus;
    let firstProvider: string;
    let other: RenderedBus;

    before(async () => {
        first = await renderBus("default", { namespace: "argo-events", jetstream: { version: "latest", replicas: 1 } });
        firstProvider = streamRegistration(first).inputs.__provider;
        other = await renderBus("orders", { namespace: "team-b", jetstream: { version: "latest" } });
    });
    after(() => cleanup.run());

    it("is small, holds no secret, no path and no module graph, and requires the implementation by package name", () => {
        const text = firstProvider;
        assert.equal(typeof text, "string");
        const bytes = Buffer.byteLength(text, "utf8");
        console.log(`__provider: ${bytes} bytes`);
        assert.ok(bytes < 8 * 1024, `${bytes} bytes`);
        assert.ok(bytes > 200, `${bytes} bytes: not the serialized provider`);

        for (const value of [...secretValues(first), ...secretValues(other)]) {
            assert.equal(text.includes(value), false, `holds a secret value (${value.slice(0, 12)}...)`);
        }
        assert.equal(text.includes(first.password), false, "the password");
        assert.doesNotMatch(text, /-----BEGIN/, "a PEM block");
        assert.doesNotMatch(text, /PRIVATE KEY/, "a private key");
        assert.doesNotMatch(text, /node_modules/, "a node_modules path");
        assert.equal(text.includes(PACKAGE_ROOT), false, "the package's absolute path");
        assert.doesNotMatch(text, /["'`]\/(?:root|home|work|tmp|usr|opt|var)\//, "an absolute path");

        // One function per method, the shared loader and the handler; only Node built-ins are required
        // directly, and the implementation is resolved by package name from the program's folder.
        const requires = [...text.matchAll(/require\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => m[1]);
        assert.deepEqual([...new Set(requires)].sort(), ["node:module", "node:path"]);
        assert.match(
            text,
            /createRequire\(join\(process\.cwd\(\), "index\.js"\)\)\("jetstream-eventbus\/stream-provider"\)/,
        );
        assert.equal([...text.matchAll(/^function __f\d+\(/gm)].length, 7);
        assert.match(text, /^function __loadImplementation\(\)/m);
        assert.match(
            text,
            /var __provider = \{check: __f\d+, diff: __f\d+, create: __f\d+, read: __f\d+, update: __f\d+, delete: __f\d+\};/,
        );

        // Nothing of the program is captured: another bus (other name, namespace, replicas, password) serializes the
        // same text.
        assert.equal(streamRegistration(other).inputs.__provider, text);
        assert.notEqual(other.password, first.password);
    });

    it(
        "runs from the repository's own Pulumi program (Pulumi.yaml at the package root, host started there)",
        {
            timeout: 60_000,
        },
        async () => {
            const engine = await startFakeEngine();
            cleanup.defer(() => engine.stop());
            const host = await startProviderHost({ cwd: PACKAGE_ROOT, engineAddress: engine.address });
            cleanup.defer(() => host.stop());
            await configure(host);
            const stream = streamRegistration(first);
            const request = new provproto.CheckRequest()
                .setUrn(stream.urn)
                .setOlds(toStruct({}))
                .setNews(toStruct(stream.inputs))
                .setName(stream.name)
                .setType(STREAM_TYPE);
            const response = await call(host.client, host.client.check, request);
            assert.deepEqual(response.getFailuresList(), []);
        },
    );
});

describe(
    `the dynamic provider host, driven over gRPC as the engine drives it (nats-server ${server?.version ?? "none"}, TLS, 1 replica)`,
    { skip: skipCluster },
    () => {
        const cleanup = new Cleanup();
        let cluster: LocalCluster;
        let engine: FakeEngine;
        let host: ProviderHost;
        let nc: NatsConnection;
        let jsm: JetStreamManager;
        let urn: string;
        let name: string;
        let password: string;
        let acceptsSecrets: boolean;
        /** The inputs as the engine holds them: the connection (with the password) is a secret. */
        let inputs: Record<string, any>;
        /** The state after each step, as the engine keeps it (outputs) and the inputs that produced it. */
        let state: { id: string; outputs: Record<string, any>; inputs: Record<string, any> };

        /** What the engine puts on the wire: secrets kept only if the provider accepts them. */
        const marshal = (value: unknown): any => {
            if (Array.isArray(value)) return value.map(marshal);
            if (value && typeof value === "object") {
                const object = value as Record<string, unknown>;
                if (SECRET_SIG_KEY in object && !acceptsSecrets) return marshal(object.value);
                return Object.fromEntries(
                    Object.entries(object).map(([k, v]) => [k, k === SECRET_SIG_KEY ? v : marshal(v)]),
                );
            }
            return value;
        };
        const withConfig = (base: Record<string, any>, change: Record<string, unknown>) => ({
            ...base,
            config: { ...base.config, ...change },
        });

        async function check(olds: Record<string, any>, news: Record<string, any>): Promise<provproto.CheckResponse> {
            const request = new provproto.CheckRequest()
                .setUrn(urn)
                .setName(name)
                .setType(STREAM_TYPE)
                .setOlds(toStruct(marshal(olds)))
                .setNews(toStruct(marshal(news)));
            return call(host.client, host.client.check, request);
        }
        /** Check that must pass; returns the checked inputs, as the engine then uses them. */
        async function checked(olds: Record<string, any>, news: Record<string, any>): Promise<Record<string, any>> {
            const response = await check(olds, news);
            assert.deepEqual(
                response.getFailuresList().map((f) => f.toObject()),
                [],
            );
            return fromStruct(response.getInputs());
        }
        async function diff(news: Record<string, any>): Promise<provproto.DiffResponse> {
            const request = new provproto.DiffRequest()
                .setId(state.id)
                .setUrn(urn)
                .setName(name)
                .setType(STREAM_TYPE)
                .setOlds(toStruct(marshal(state.outputs)))
                .setNews(toStruct(marshal(news)))
                .setOldInputs(toStruct(marshal(state.inputs)));
            return call(host.client, host.client.diff, request);
        }
        async function create(news: Record<string, any>): Promise<provproto.CreateResponse> {
            const request = new provproto.CreateRequest()
                .setUrn(urn)
                .setName(name)
                .setType(STREAM_TYPE)
                .setProperties(toStruct(marshal(news)))
                .setTimeout(300)
                .setPreview(false);
            const response = await call(host.client, host.client.create, request);
            state = { id: response.getId(), outputs: fromStruct(response.getProperties()), inputs: news };
            return response;
        }
        async function update(news: Record<string, any>): Promise<provproto.UpdateResponse> {
            const request = new provproto.UpdateRequest()
                .setId(state.id)
                .setUrn(urn)
                .setName(name)
                .setType(STREAM_TYPE)
                .setOlds(toStruct(marshal(state.outputs)))
                .setNews(toStruct(marshal(news)))
                .setOldInputs(toStruct(marshal(state.inputs)))
                .setTimeout(300)
                .setPreview(false);
            const response = await call(host.client, host.client.update, request);
            state = { id: state.id, outputs: fromStruct(response.getProperties()), inputs: news };
            return response;
        }
        async function read(): Promise<provproto.ReadResponse> {
            const request = new provproto.ReadRequest()
                .setId(state.id)
                .setUrn(urn)
                .setName(name)
                .setType(STREAM_TYPE)
                .setProperties(toStruct(marshal(state.outputs)))
                .setInputs(toStruct(marshal(state.inputs)));
            return call(host.client, host.client.read, request);
        }
        async function destroy(): Promise<void> {
            const request = new provproto.DeleteRequest()
                .setId(state.id)
                .setUrn(urn)
                .setName(name)
                .setType(STREAM_TYPE)
                .setProperties(toStruct(marshal(state.outputs)))
                .setOldInputs(toStruct(marshal(state.inputs)))
                .setTimeout(300);
            await call(host.client, host.client.delete, request);
        }
        /** The stream as the server holds it, or undefined when it does not exist. */
        async function serverStream(): Promise<any | undefined> {
            try {
                return await jsm.streams.info("default");
            } catch (err) {
                if ((err as { code?: number }).code === 10059 || (err as Error).name === "StreamNotFoundError")
                    return undefined;
                throw err;
            }
        }

        before(
            async () => {
                cluster = await startCluster(server!, cleanup, { replicas: 1 });
                const stream = streamRegistration(cluster.rendered);
                urn = stream.urn;
                name = stream.name;
                password = cluster.rendered.password;
                assert.equal(stream.inputs.connection.password, password);
                // The engine's view: the whole connection is a secret (resource.ts wraps it in pulumi.secret).
                inputs = {
                    ...stream.inputs,
                    connection: secret({
                        ...withoutKubernetes(stream.inputs.connection),
                        mode: "direct",
                        servers: cluster.urls,
                    }),
                };

                const tls = { ca: stream.inputs.connection.caCert, servername: cluster.serviceHost };
                nc = await connect({
                    servers: cluster.urls,
                    user: stream.inputs.connection.username,
                    pass: password,
                    tls,
                    reconnect: false,
                    timeout: 10_000,
                });
                cleanup.defer(() => nc.close().catch(() => undefined));
                jsm = await jetstreamManager(nc, { timeout: 10_000 });

                engine = await startFakeEngine();
                cleanup.defer(() => engine.stop());
                host = await startProviderHost({ cwd: consumerProgram(cleanup), engineAddress: engine.address });
                cleanup.defer(() => host.stop());
            },
            { timeout: 120_000 },
        );
        after(() => cleanup.run(), { timeout: 60_000 });

        it(
            "answers GetPluginInfo, leaves CheckConfig unimplemented, and says in Configure that it does not accept secrets",
            { timeout: 60_000 },
            async () => {
                const info = await call(host.client, host.client.getPluginInfo, new Empty());
                assert.equal(info.getVersion(), PULUMI_VERSION);
                await assert.rejects(
                    call(
                        host.client,
                        host.client.checkConfig,
                        new provproto.CheckRequest()
                            .setUrn("urn:pulumi:test::jetstream-eventbus::pulumi:providers:pulumi-nodejs::default")
                            .setOlds(toStruct({}))
                            .setNews(toStruct({})),
                    ),
                    (err: grpc.ServiceError) => err.code === grpc.status.UNIMPLEMENTED,
                );
                const response = await configure(host);
                acceptsSecrets = response.getAcceptsecrets();
                // The engine therefore sends the connection, password included, as plain values.
                assert.equal(acceptsSecrets, false);
                assert.equal(typeof marshal(inputs).connection.password, "string");
                assert.equal(marshal(inputs).connection.password, password);
            },
        );

        it(
            "Check returns the inputs and no failures; with no servers it fails on connection",
            { timeout: 60_000 },
            async () => {
                const response = await check({}, inputs);
                assert.deepEqual(
                    response.getFailuresList().map((f) => f.toObject()),
                    [],
                );
                assert.deepEqual(fromStruct(response.getInputs()), marshal(inputs));

                const noServers = { ...inputs, connection: secret({ ...marshal(inputs).connection, servers: [] }) };
                const failing = await check({}, noServers);
                const failures = failing.getFailuresList().map((f) => f.toObject());
                assert.equal(failures.length, 1, JSON.stringify(failures));
                assert.equal(failures[0].property, "connection");
                assert.match(failures[0].reason, /servers/);
            },
        );

        it(
            "Create makes the stream on the TLS server with the password and returns its configuration",
            { timeout: 120_000 },
            async () => {
                assert.equal(await serverStream(), undefined, "no stream before Create");
                const news = await checked({}, inputs);
                const response = await create(news);
                assert.equal(response.getId(), "default");
                const outputs = state.outputs;
                assert.equal(outputs.config.name, "default");
                assert.equal(outputs.config.maxMsgs, 50_000);
                assert.equal(outputs.config.maxAge, "168h");
                assert.equal(outputs.config.replicas, 1);
                assert.equal(outputs.observedServerVersion, server!.version);
                assert.equal(outputs.__provider, inputs.__provider);
                assert.equal(outputs.connection.password, password);

                const info = await serverStream();
                assert.ok(info, "the stream exists on the server");
                assert.equal(info.config.max_msgs, 50_000);
                assert.equal(info.config.max_age, 604_800_000 * 1_000_000);
                assert.equal(info.config.num_replicas, 1);
                assert.equal(info.config.storage, "file");
                assert.deepEqual(info.config.subjects, ["default.*.*"]);
            },
        );

        it(
            "Diff: same inputs DIFF_NONE; maxMsgs 1000 DIFF_SOME in place; storage memory without allowDataLoss fails",
            { timeout: 60_000 },
            async () => {
                const same = await diff(await checked(state.inputs, inputs));
                assert.equal(same.getChanges(), provproto.DiffResponse.DiffChanges.DIFF_NONE);
                assert.deepEqual(same.getReplacesList(), []);

                const fewer = await diff(await checked(state.inputs, withConfig(inputs, { maxMsgs: 1000 })));
                assert.equal(fewer.getChanges(), provproto.DiffResponse.DiffChanges.DIFF_SOME);
                assert.deepEqual(fewer.getReplacesList(), []);
                assert.equal(fewer.getDeletebeforereplace(), false);

                const memory = await checked(state.inputs, withConfig(inputs, { storage: "memory" }));
                assert.equal(memory.allowDataLoss, false);
                await assert.rejects(diff(memory), (err: grpc.ServiceError) => {
                    assert.match(err.details, /storage/);
                    assert.match(err.details, /allowDataLoss/);
                    return true;
                });
            },
        );

        it("Update to maxMsgs 1000 changes the server's stream", { timeout: 120_000 }, async () => {
            const news = await checked(state.inputs, withConfig(inputs, { maxMsgs: 1000 }));
            const response = await update(news);
            assert.equal(fromStruct(response.getProperties()).config.maxMsgs, 1000);
            const info = await serverStream();
            assert.equal(info.config.max_msgs, 1000);
            assert.equal(info.config.max_age, 604_800_000 * 1_000_000, "other settings kept");
        });

        it(
            "Read returns the server's configuration, and an empty id once the stream is deleted behind its back",
            { timeout: 120_000 },
            async () => {
                // Changed behind Pulumi's back: Read must report the server's value, not the state's.
                const current = await serverStream();
                await jsm.streams.update("default", { ...current.config, max_msgs: 2000 });
                const refreshed = await read();
                assert.equal(refreshed.getId(), "default");
                const props = fromStruct(refreshed.getProperties());
                assert.equal(props.config.maxMsgs, 2000);
                assert.equal(props.config.maxAge, "168h");
                assert.equal(props.observedServerVersion, server!.version);
                assert.equal(props.__provider, inputs.__provider);
                // The inputs follow: the engine diffs the next preview against them and shows maxMsgs moving.
                const refreshedInputs = fromStruct(refreshed.getInputs()!);
                assert.equal(refreshedInputs.config.maxMsgs, 2000);
                assert.equal(refreshedInputs.observedServerVersion, undefined);
                assert.equal(refreshedInputs.__provider, inputs.__provider);

                assert.equal(await jsm.streams.delete("default"), true);
                const gone = await read();
                assert.equal(gone.getId(), "");
            },
        );

        it(
            "Delete with deletionPolicy retain keeps the stream and its messages; with delete it removes the stream",
            { timeout: 180_000 },
            async () => {
                // After the refresh dropped it, the next `up` creates it again.
                await create(await checked({}, withConfig(inputs, { maxMsgs: 1000 })));
                assert.equal(state.outputs.deletionPolicy, "retain");
                await jetstream(nc).publish("default.argo.event", "kept", { timeout: 10_000 });
                await destroy();
                const retained = await serverStream();
                assert.ok(retained, "retain: the stream is still there");
                assert.equal(retained.state.messages, 1);

                // A later `up` with deletionPolicy delete adopts it (messages kept) ...
                const deleting = await checked(
                    {},
                    { ...withConfig(inputs, { maxMsgs: 1000 }), deletionPolicy: "delete" },
                );
                const adopted = await create(deleting);
                assert.equal(adopted.getId(), "default");
                assert.equal(state.outputs.deletionPolicy, "delete");
                assert.equal((await serverStream()).state.messages, 1);
                // ... and the next `destroy` deletes it.
                await destroy();
                assert.equal(await serverStream(), undefined, "delete: the stream is gone");
            },
        );

        it(
            "never shows the password to the engine, and the host exits on the engine's SIGINT leaving no process",
            { timeout: 30_000 },
            async () => {
                // What the engine would show the user: Engine.Log calls and the plugin's own output.
                assert.ok(
                    engine.calls.every((c) => c === "Log"),
                    `only Engine.Log is used: ${engine.calls}`,
                );
                console.log(
                    `Engine RPCs from the host: ${engine.calls.length === 0 ? "none" : engine.calls.join(", ")}`,
                );
                for (const log of engine.logs) {
                    assert.equal(log.message.includes(password), false, `Engine.Log: ${log.message.slice(0, 200)}`);
                }
                assert.equal(host.stdout().includes(password), false, "host stdout");
                assert.equal(host.stderr().includes(password), false, "host stderr");
                // The Diff refusal was printed by the host (so its output was captured), without the password.
                assert.match(host.stderr(), /allowDataLoss/);
                assert.equal(host.stdout().trim(), String(host.port), "stdout holds only the port");

                const pids = host.livePids();
                assert.ok(pids.length >= 2, `the wrapper and the node host run: ${pids}`);
                const result = await host.stop(5_000);
                assert.equal(result.killed, false, "exited without SIGKILL");
                assert.ok(result.signal === "SIGINT" || result.code === 0, JSON.stringify(result));
                assert.deepEqual(host.livePids(), []);
                for (const pid of pids) {
                    assert.throws(() => process.kill(pid, 0), /ESRCH/, `pid ${pid} is gone`);
                }
            },
        );
    },
);

/** The connection without its Kubernetes target: these tests reach the local server directly. */
function withoutKubernetes(connection: Record<string, unknown>): Record<string, unknown> {
    const { kubernetes: _, ...rest } = connection;
    return rest;
}
