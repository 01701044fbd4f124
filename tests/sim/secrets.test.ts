/**
 * Secret hygiene with real generated credentials: the passwords, the encryption key, the bcrypt
 * hashes and every private key an EventBus generates must not appear in any non-Secret object, in
 * the serialized dynamic provider, in any error message the tests provoke, or in anything written
 * to stdout/stderr (the package's logs) while those operations run.
 *
 * A secret is searched for as itself, JSON-escaped and base64-encoded, and a PEM key by each line
 * of its body (so a key re-wrapped or escaped into JSON is still found).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as net from "node:net";
import {
    createStream,
    planDiff,
    readStream,
    updateStream,
    type StreamOutputs,
    type StreamProps,
} from "../../components/stream/provider-impl";
import { Cleanup, freePort } from "../support/nats";
import type { RecordedResource } from "../support/mocks";
import { createTestCa, existingArgoCrd, existingSecret, runBus } from "../support/exotic";
import { SimCluster } from "./harness";
import { NEWEST, SKIP } from "./common";

const STREAM_TYPE = "pulumi-nodejs:dynamic/jetstream:Stream";

/** Secret values of a program run, by a name that says what they are (never the value). */
function generatedSecrets(resources: RecordedResource[]): Map<string, string> {
    const found = new Map<string, string>();
    for (const r of resources) {
        if (r.type === "random:index/randomPassword:RandomPassword") {
            if (r.state?.result) found.set(`${r.name}.result`, r.state.result);
            if (r.state?.bcryptHash) found.set(`${r.name}.bcryptHash`, r.state.bcryptHash);
        }
        if (r.type === "tls:index/privateKey:PrivateKey") {
            for (const key of ["privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"]) {
                if (r.state?.[key]) found.set(`${r.name}.${key}`, r.state[key]);
            }
        }
    }
    return found;
}

function needles(secret: string): string[] {
    const out = new Set<string>();
    if (/-----BEGIN/.test(secret)) {
        for (const line of secret.split("\n")) {
            const t = line.trim();
            if (t.length >= 16 && !t.startsWith("-----")) out.add(t);
        }
    } else {
        out.add(secret);
        out.add(JSON.stringify(secret).slice(1, -1));
        out.add(Buffer.from(secret, "utf8").toString("base64").replace(/=+$/, ""));
    }
    return [...out].filter((n) => n.length >= 8);
}

/** Names of the secrets found in `text` (the names only: a failing assertion must not print a secret). */
function leaks(text: string, secrets: Map<string, string>): string[] {
    return [...secrets.entries()]
        .filter(([, value]) => needles(value).some((n) => text.includes(n)))
        .map(([name]) => name);
}

/** Everything written to stdout and stderr while `fn` runs (still passed through). */
async function capturingOutput<T>(fn: () => Promise<T>): Promise<{ result?: T; error?: unknown; output: string }> {
    const chunks: string[] = [];
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((chunk: any, ...rest: any[]) => (
        chunks.push(String(chunk)),
        out(chunk, ...rest)
    )) as typeof process.stdout.write;
    process.stderr.write = ((chunk: any, ...rest: any[]) => (
        chunks.push(String(chunk)),
        err(chunk, ...rest)
    )) as typeof process.stderr.write;
    try {
        return { result: await fn(), output: chunks.join("") };
    } catch (error) {
        return { error, output: chunks.join("") };
    } finally {
        process.stdout.write = out;
        process.stderr.write = err;
    }
}

/** The message of an error and of its causes, as a user would see them. */
function fullMessage(err: unknown): string {
    const parts: string[] = [];
    let e: any = err;
    for (let i = 0; e && i < 5; i++, e = e.cause) parts.push(String(e.message ?? e), String(e.stack ?? ""));
    return parts.join("\n");
}

describe("secret hygiene of the objects and the serialized provider", () => {
    let resources: RecordedResource[];
    let secrets: Map<string, string>;

    before(async () => {
        existingArgoCrd();
        const run = await runBus("default", {
            namespace: "argo-events",
            jetstream: { version: "latest", replicas: 3, networkPolicy: {}, persistence: { volumeSize: "10Gi" } },
            argoEvents: { namespaces: ["argo-events", "team-a"] },
        });
        assert.deepEqual(run.failures, []);
        resources = run.resources;
        secrets = generatedSecrets(resources);
    });

    it("generates real credentials to look for", () => {
        const names = [...secrets.keys()].join(", ");
        // Client and system passwords, the encryption key, their hashes, and three private keys (CA, server, routes).
        assert.ok([...secrets.keys()].filter((k) => k.endsWith(".result")).length >= 3, names);
        assert.ok([...secrets.keys()].filter((k) => k.endsWith(".privateKeyPem")).length >= 3, names);
        console.log(`# ${secrets.size} generated secret values: ${names}`);
    });

    it("puts none in a non-Secret Kubernetes object, and every one that a Secret needs only in Secrets", () => {
        const kube = resources.filter((r) => r.type.startsWith("kubernetes:"));
        // A SecretPatch is the data of a Secret, applied in place.
        const nonSecret = kube.filter(
            (r) => r.type !== "kubernetes:core/v1:Secret" && r.type !== "kubernetes:core/v1:SecretPatch",
        );
        assert.ok(nonSecret.length >= 6, nonSecret.map((r) => r.type).join(", "));
        for (const r of nonSecret) {
            assert.deepEqual(leaks(JSON.stringify(r.inputs), secrets), [], `${r.type} ${r.name}`);
        }
        console.log(
            `# checked ${nonSecret.length} non-Secret objects: ${[...new Set(nonSecret.map((r) => r.type.split(":").pop()))].join(", ")}`,
        );
    });

    it("puts none in the Stream's serialized provider or its non-secret inputs", () => {
        const stream = resources.find((r) => r.type === STREAM_TYPE)!;
        assert.equal(typeof stream.inputs.__provider, "string");
        assert.deepEqual(leaks(stream.inputs.__provider, secrets), [], "__provider");
        const { connection, ...rest } = stream.inputs;
        assert.deepEqual(leaks(JSON.stringify(rest), secrets), [], "stream inputs other than connection");
        // The connection holds the password by design; it is registered as a secret output.
        assert.ok(leaks(JSON.stringify(connection), secrets).length > 0);
    });
});

describe("secret hygiene of errors and output", () => {
    it("keeps a plain-string accessSecret's content out of the error (Argo #2980)", async () => {
        const password = crypto.randomBytes(24).toString("base64url");
        const secrets = new Map([["the plain string in the Secret", password]]);
        existingSecret("argo-events", "plain-creds", { "client-auth": password });
        const { result, output } = await capturingOutput(() =>
            runBus("default", {
                namespace: "argo-events",
                jetstreamExotic: {
                    url: "nats://nats.example.org:4222",
                    accessSecret: { name: "plain-creds", key: "client-auth" },
                },
            }),
        );
        const messages = [...(result?.failures ?? []), fullMessage(result?.thrown)].join("\n");
        assert.match(messages, /plain string/);
        assert.deepEqual(leaks(messages, secrets), []);
        assert.deepEqual(leaks(output, secrets), []);
    });

    it("keeps a password out of the error when accessSecret itself is given as a string", async () => {
        const password = crypto.randomBytes(24).toString("base64url");
        const secrets = new Map([
            ["accessSecret given as a string", `username: eventbus\npassword: ${password}`],
            ["its password", password],
        ]);
        const { result, output } = await capturingOutput(() =>
            runBus("default", {
                namespace: "argo-events",
                jetstreamExotic: {
                    url: "nats://nats.example.org:4222",
                    accessSecret: `username: eventbus\npassword: ${password}` as any,
                },
            }),
        );
        const messages = [...(result?.failures ?? []), fullMessage(result?.thrown)].join("\n");
        assert.match(messages, /accessSecret/);
        assert.deepEqual(
            leaks(messages, secrets),
            [],
            `the error repeats the value given: ${messages.split("\n")[0].replace(password, "<password>")}`,
        );
        assert.deepEqual(leaks(output, secrets), []);
    });

    it("keeps a password written into a server URL out of the error", async () => {
        const password = crypto.randomBytes(24).toString("base64url");
        const secrets = new Map([["the password in the URL", password]]);
        const { result, output } = await capturingOutput(() =>
            runBus("default", {
                namespace: "argo-events",
                jetstreamExotic: { url: `nats://eventbus:${password}@nats.example.org:4222` },
            }),
        );
        const messages = [...(result?.failures ?? []), fullMessage(result?.thrown)].join("\n");
        assert.match(messages, /url/i);
        assert.deepEqual(
            leaks(messages, secrets),
            [],
            `the error repeats the URL: ${messages.split("\n")[0].replace(password, "<password>")}`,
        );
        assert.deepEqual(leaks(output, secrets), []);
    });

    describe("from the stream provider against simulated pods", { skip: SKIP }, () => {
        const cleanup = new Cleanup();
        let cluster: SimCluster;
        let secrets: Map<string, string>;
        let stream: StreamOutputs;
        const output: string[] = [];
        const messages: { what: string; message: string }[] = [];

        /** Runs a provider operation that must fail; records its message and output. */
        async function provoke(what: string, fn: () => Promise<unknown>): Promise<string> {
            const { error, output: text } = await capturingOutput(fn);
            assert.ok(error, `${what} did not fail`);
            const message = fullMessage(error);
            messages.push({ what, message });
            output.push(text);
            return message;
        }

        before(async () => {
            cluster = await SimCluster.start({ replicas: 1, binary: NEWEST! }, cleanup);
            secrets = generatedSecrets(cluster.rendered.resources);
            const { result, output: text, error } = await capturingOutput(() => createStream(cluster.streamProps()));
            if (error) throw error;
            stream = result!.outs;
            output.push(text);
        });
        after(() => cleanup.run());

        it("fails with messages that carry no secret: wrong password, unreachable servers, wrong CA, wrong name, a refused replace", async () => {
            const props = cluster.streamProps({ createTimeout: "3s" });
            const withConnection = (c: Partial<StreamProps["connection"]>): StreamProps => ({
                ...props,
                connection: { ...props.connection, ...c },
            });
            const wrong = await provoke("wrong password", () =>
                createStream(withConnection({ password: `${props.connection.password}x` })),
            );
            assert.match(wrong, /refused the user name and password|authorization/i);
            const port = await freePort();
            await provoke("connection refused", () =>
                createStream(withConnection({ servers: [`nats://127.0.0.1:${port}`] })),
            );
            // A server that accepts and never speaks: the connection times out.
            const silent = net.createServer((socket) => sockets.add(socket.on("close", () => sockets.delete(socket))));
            const sockets = new Set<net.Socket>();
            await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
            cleanup.defer(
                () =>
                    new Promise<void>((resolve) => {
                        for (const s of sockets) s.destroy();
                        silent.close(() => resolve());
                    }),
            );
            const silentPort = (silent.address() as net.AddressInfo).port;
            await provoke("server never answers", () =>
                readStream("default", {
                    ...stream,
                    ...withConnection({ servers: [`nats://127.0.0.1:${silentPort}`] }),
                } as StreamOutputs),
            );
            await new Promise((r) => setTimeout(r, 500));
            console.log(
                `# after the timed-out read returned, ${sockets.size} connection(s) to the silent server were still open`,
            );
            const foreignCa = (await createTestCa("another CA")).certPem;
            await provoke("wrong CA", () => updateStream(stream, withConnection({ caCert: foreignCa })));
            await provoke("wrong server name", () => createStream(withConnection({ serverName: "nats.example.org" })));
            await provoke("a replace without allowDataLoss", async () =>
                planDiff(stream, { ...props, config: { ...props.config, storage: "memory" } }),
            );
            for (const { what, message } of messages) {
                assert.deepEqual(leaks(message, secrets), [], what);
                console.log(`# provoked (${what}): ${message.split("\n")[0].slice(0, 220)}`);
            }
        });

        it("writes no secret to stdout or stderr, and the servers log none", () => {
            assert.deepEqual(leaks(output.join(""), secrets), [], "captured output");
            assert.deepEqual(leaks(cluster.allLogs().join("\n"), secrets), [], "nats-server logs");
            console.log(
                `# ${messages.length} provoked errors, ${output.join("").length} bytes of captured output and ${cluster.allLogs().length} server log lines checked against ${secrets.size} secret values`,
            );
        });
    });
});
