/**
 * A `jetstreamExotic` bus under the realistic mocks: it deploys nothing, reads the Secrets it is
 * pointed at, and registers one Stream whose inputs carry the server URL, the credentials (from
 * Argo's YAML `client-auth` format or from inputs), the TLS material, and Argo's full stream
 * defaults, which Argo itself does not apply in exotic mode (Argo Events #3549).
 *
 * Expected values are written out literally from the reference, never computed with the component's
 * own helpers.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { EventBusArgs, fromArgoEventBus, InputError } from "../../components";
import { isSecretOutput, resolve } from "../support/mocks";
import {
    COMPONENT_TYPE,
    createTestCa,
    existingSecret,
    issueTestCert,
    ProgramRun,
    runBus,
    SECRET_TYPE,
    STREAM_TYPE,
} from "../support/exotic";

const NS = "team-a";
const URL = "nats://nats.shared.svc:4222";
const ACCESS = { name: "nats-creds", key: "client-auth" };

/** Argo's defaults as the Stream stores them: durations and sizes as written, retention 0 and discard 0 by name. */
const ARGO_DEFAULT_STREAM = {
    name: "default",
    subjects: ["default.*.*"],
    retention: "limits",
    discard: "old",
    storage: "file",
    maxMsgs: 50000,
    maxBytes: "unlimited",
    maxAge: "168h",
    duplicates: "5m",
    replicas: 3,
};

function pick(config: Record<string, unknown>, keys: string[]): Record<string, unknown> {
    return Object.fromEntries(keys.map((k) => [k, config[k]]));
}

function exotic(extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}): EventBusArgs {
    return { namespace: NS, ...top, jetstreamExotic: { url: URL, ...extra } } as EventBusArgs;
}

function assertSucceeded(run: ProgramRun): void {
    assert.equal(run.thrown, undefined, String(run.thrown));
    assert.deepEqual(run.failures, []);
}

describe("an exotic bus deploys nothing", () => {
    it("registers only the component, reads of the Secrets it is pointed at, and the Stream", async () => {
        existingSecret(NS, "nats-creds", { "client-auth": "username: alice\npassword: wonderland\n" });
        existingSecret(NS, "nats-tls", { "ca.crt": "CA PEM", "tls.crt": "CERT PEM", "tls.key": "KEY PEM" });
        const run = await runBus(
            "shared",
            exotic({
                accessSecret: ACCESS,
                tls: {
                    caCertSecret: { name: "nats-tls", key: "ca.crt" },
                    clientCertSecret: { name: "nats-tls", key: "tls.crt" },
                    clientKeySecret: { name: "nats-tls", key: "tls.key" },
                },
            }),
        );
        assertSucceeded(run);
        assert.deepEqual(
            run.resources
                .filter((r) => r.type !== SECRET_TYPE)
                .map((r) => r.type)
                .sort(),
            [COMPONENT_TYPE, STREAM_TYPE],
        );
        const reads = run.byType(SECRET_TYPE);
        // Reads carry the object's id and no inputs: nothing is written to the cluster.
        assert.deepEqual(reads.map((r) => r.id).sort(), [
            "team-a/nats-creds",
            "team-a/nats-tls",
            "team-a/nats-tls",
            "team-a/nats-tls",
        ]);
        for (const r of reads) {
            assert.deepEqual(r.inputs, {}, `${r.name} is a read, not a Secret of its own`);
        }
        for (const kind of [
            "StatefulSet",
            "Service",
            "ConfigMap",
            "PodDisruptionBudget",
            "Deployment",
            "tls:",
            "random:",
        ]) {
            assert.ok(
                !run.resources.some((r) => r.type.includes(kind)),
                `no ${kind}: ${run.resources.map((r) => r.type).join(", ")}`,
            );
        }
    });

    it("with credentials and TLS given as inputs, reads nothing at all", async () => {
        const run = await runBus(
            "shared",
            exotic({ username: "alice", password: pulumi.secret("wonderland"), caCert: "CA PEM" }),
        );
        assertSucceeded(run);
        assert.deepEqual(run.resources.map((r) => r.type).sort(), [COMPONENT_TYPE, STREAM_TYPE]);
    });
});

describe("the Stream's inputs", () => {
    it("connect directly to the URL with the user and password from the accessSecret YAML", async () => {
        existingSecret(NS, "nats-creds", { "client-auth": "username: alice\npassword: wonderland\n", other: "x" });
        const run = await runBus("shared", exotic({ accessSecret: ACCESS }));
        assertSucceeded(run);
        // Plaintext: no TLS setting at all, so the provider dials plain TCP (Argo after #4114).
        assert.deepEqual(run.streamInputs().connection, {
            mode: "direct",
            servers: [URL],
            username: "alice",
            password: "wonderland",
        });
    });

    it("accept Argo's YAML with quoted values and extra keys such as token", async () => {
        existingSecret(NS, "nats-creds", { "client-auth": "token: ignored\nusername: \"alice\"\npassword: '12345'\n" });
        const run = await runBus("shared", exotic({ accessSecret: ACCESS }));
        assertSucceeded(run);
        assert.equal(run.streamInputs().connection.username, "alice");
        assert.equal(run.streamInputs().connection.password, "12345");
    });

    it("take username and password inputs instead", async () => {
        const run = await runBus("shared", exotic({ username: "bob", password: pulumi.secret("builder") }));
        assertSucceeded(run);
        assert.deepEqual(run.streamInputs().connection, {
            mode: "direct",
            servers: [URL],
            username: "bob",
            password: "builder",
        });
    });

    it("have no credentials when none are given", async () => {
        const run = await runBus("shared", exotic());
        assertSucceeded(run);
        assert.deepEqual(run.streamInputs().connection, { mode: "direct", servers: [URL] });
    });

    it("carry the CA, client certificate and key read from the tls Secrets", async () => {
        const ca = await createTestCa("exotic CA");
        const client = await issueTestCert(ca, { commonName: "argo", usage: "client" });
        existingSecret(NS, "nats-ca", { "ca.crt": ca.certPem });
        existingSecret(NS, "nats-client", { "tls.crt": client.certPem, "tls.key": client.keyPem });
        const run = await runBus(
            "shared",
            exotic({
                url: "tls://nats.shared.svc:4222",
                username: "alice",
                password: "wonderland",
                tls: {
                    caCertSecret: { name: "nats-ca", key: "ca.crt" },
                    clientCertSecret: { name: "nats-client", key: "tls.crt" },
                    clientKeySecret: { name: "nats-client", key: "tls.key" },
                },
            }),
        );
        assertSucceeded(run);
        assert.deepEqual(run.streamInputs().connection, {
            mode: "direct",
            servers: ["tls://nats.shared.svc:4222"],
            username: "alice",
            password: "wonderland",
            caCert: ca.certPem,
            clientCert: client.certPem,
            clientKey: client.keyPem,
        });
        assert.equal(await resolve(run.bus!.caCert), ca.certPem);
    });

    it("carry the CA, client certificate and key given as inputs, and the serverName", async () => {
        const run = await runBus(
            "shared",
            exotic({
                caCert: "CA PEM",
                clientCert: "CERT PEM",
                clientKey: pulumi.secret("KEY PEM"),
                serverName: "nats.internal",
            }),
        );
        assertSucceeded(run);
        assert.deepEqual(run.streamInputs().connection, {
            mode: "direct",
            servers: [URL],
            caCert: "CA PEM",
            clientCert: "CERT PEM",
            clientKey: "KEY PEM",
            serverName: "nats.internal",
        });
    });

    it("pass insecureSkipVerify and enabled (system CAs) through", async () => {
        const insecure = await runBus("shared", exotic({ tls: { insecureSkipVerify: true } }));
        assertSucceeded(insecure);
        assert.deepEqual(insecure.streamInputs().connection, {
            mode: "direct",
            servers: [URL],
            insecureSkipVerify: true,
        });
        const system = await runBus("shared", exotic({ tls: { enabled: true } }));
        assertSucceeded(system);
        assert.deepEqual(system.streamInputs().connection, { mode: "direct", servers: [URL], tls: true });
    });
});

describe("the Stream's configuration", () => {
    for (const streamConfig of [undefined, "", "# Argo's docs show an empty streamConfig\n"]) {
        it(`is Argo's full default with streamConfig ${JSON.stringify(streamConfig)}, although Argo applies none in exotic mode`, async () => {
            const run = await runBus("shared", exotic(streamConfig === undefined ? {} : { streamConfig }));
            assertSucceeded(run);
            const config = run.streamInputs().config;
            assert.deepEqual(pick(config, Object.keys(ARGO_DEFAULT_STREAM)), ARGO_DEFAULT_STREAM);
            // The rest is JetStream's "unset": unlimited, no flags.
            assert.equal(config.maxMsgSize, "unlimited");
            assert.equal(config.maxMsgsPerSubject, "unlimited");
            assert.equal(config.maxConsumers, "unlimited");
            assert.equal(config.allowDirect, false);
            assert.equal(config.denyDelete, false);
            assert.equal(config.compression, "none");
            assert.equal(run.streamInputs().deletionPolicy, "retain");
            assert.equal(run.streamInputs().allowDataLoss, false);
        });
    }

    it("merges streamConfig over the defaults (a standalone server needs replicas: 1)", async () => {
        const run = await runBus("shared", exotic({ streamConfig: "replicas: 1\nmaxAge: 24h\n" }));
        assertSucceeded(run);
        assert.deepEqual(pick(run.streamInputs().config, Object.keys(ARGO_DEFAULT_STREAM)), {
            ...ARGO_DEFAULT_STREAM,
            replicas: 1,
            maxAge: "24h",
        });
    });

    it("takes stream.name and stream.subjects, so several namespaces can share one server (#3549)", async () => {
        const run = await runBus("shared", exotic({ stream: { name: "team-a", subjects: ["team-a.*.*"] } }));
        assertSucceeded(run);
        const config = run.streamInputs().config;
        assert.equal(config.name, "team-a");
        assert.deepEqual(config.subjects, ["team-a.*.*"]);
        assert.equal(config.maxMsgs, 50000);
        assert.equal(await resolve(run.bus!.streamName), "team-a");
    });

    it("derives the subjects from a new stream name when only the name is given", async () => {
        const run = await runBus("shared", exotic({ stream: { name: "team-b" } }));
        assertSucceeded(run);
        assert.deepEqual(run.streamInputs().config.subjects, ["team-b.*.*"]);
    });

    it("passes the lifecycle and the declared server version", async () => {
        const run = await runBus(
            "shared",
            exotic({ serverVersion: "2.9.10", streamLifecycle: { deletionPolicy: "delete", createTimeout: "30s" } }),
        );
        assertSucceeded(run);
        const inputs = run.streamInputs();
        assert.equal(inputs.serverVersion, "2.9.10");
        assert.equal(inputs.deletionPolicy, "delete");
        assert.equal(inputs.createTimeout, "30s");
    });
});

describe("the outputs", () => {
    it("are the URL, the credentials, the CA, the accessSecret's name and the stream name", async () => {
        existingSecret(NS, "nats-creds", { "client-auth": "username: alice\npassword: wonderland\n" });
        existingSecret(NS, "nats-ca", { "ca.crt": "CA PEM" });
        const run = await runBus(
            "shared",
            exotic({ accessSecret: ACCESS, tls: { caCertSecret: { name: "nats-ca", key: "ca.crt" } } }),
        );
        assertSucceeded(run);
        const bus = run.bus!;
        assert.equal(await resolve(bus.url), URL);
        assert.equal(await resolve(bus.namespace), NS);
        assert.equal(await resolve(bus.username), "alice");
        assert.equal(await resolve(bus.password), "wonderland");
        assert.equal(await isSecretOutput(bus.password), true);
        assert.equal(await resolve(bus.caCert), "CA PEM");
        assert.equal(await resolve(bus.clientSecretName), "nats-creds");
        assert.equal(await resolve(bus.streamName), "default");
        assert.equal(await resolve(bus.serviceName), undefined);
        assert.equal(await resolve(bus.statefulSetName), undefined);
    });

    it("keep the password secret when it comes in as a plain input", async () => {
        const run = await runBus("shared", exotic({ username: "bob", password: "builder" }));
        assertSucceeded(run);
        assert.equal(await isSecretOutput(run.bus!.password), true);
        assert.equal(await resolve(run.bus!.clientSecretName), undefined);
        assert.equal(await resolve(run.bus!.caCert), undefined);
    });
});

describe("the accessSecret must hold Argo's YAML", () => {
    for (const plain of ["s3cret-Value-42", "s3cret value with spaces", "- a list item"]) {
        it(`a plain string (${JSON.stringify(plain)}) fails with the format Argo reads and #2980, never showing the value`, async () => {
            existingSecret(NS, "nats-creds", { "client-auth": plain });
            const run = await runBus("shared", exotic({ accessSecret: ACCESS }));
            assert.equal(run.thrown, undefined);
            assert.ok(run.failures.length > 0, "the program fails");
            const all = run.failures.join("\n");
            assert.match(all, /jetstreamExotic\.accessSecret/);
            assert.match(all, /Secret team-a\/nats-creds/);
            assert.match(all, /username/);
            assert.match(all, /password/);
            assert.match(all, /YAML/);
            assert.match(all, /#2980/);
            assert.ok(!all.includes(plain), `the secret value leaks into: ${all}`);
            for (const r of run.resources) {
                assert.ok(
                    !JSON.stringify(r.inputs).includes(plain),
                    `the secret value is sent with ${r.type} ${r.name}`,
                );
            }
        });
    }

    it("YAML with only a token fails, saying token authentication is not supported, without the token", async () => {
        existingSecret(NS, "nats-creds", { "client-auth": "token: tok-7f3a9c\n" });
        const run = await runBus("shared", exotic({ accessSecret: ACCESS }));
        const all = run.failures.join("\n");
        assert.match(all, /"username" and "password"/);
        assert.match(all, /token/);
        assert.ok(!all.includes("tok-7f3a9c"), all);
    });

    it("a missing key fails naming the Secret, the key and the keys it has", async () => {
        existingSecret(NS, "nats-creds", { auth: "username: a\npassword: b\n", "ca.crt": "x" });
        const run = await runBus("shared", exotic({ accessSecret: ACCESS }));
        const all = run.failures.join("\n");
        assert.match(all, /Secret team-a\/nats-creds/);
        assert.match(all, /no key "client-auth"/);
        assert.match(all, /auth, ca\.crt/);
    });

    it("a missing key of a tls Secret fails naming the field, the Secret and the key", async () => {
        existingSecret(NS, "nats-ca", { "tls.crt": "x" });
        const run = await runBus("shared", exotic({ tls: { caCertSecret: { name: "nats-ca", key: "ca.crt" } } }));
        const all = run.failures.join("\n");
        assert.match(all, /jetstreamExotic\.tls\.caCertSecret/);
        assert.match(all, /Secret team-a\/nats-ca/);
        assert.match(all, /no key "ca\.crt" \(it has: tls\.crt\)/);
    });

    it("a Secret that does not exist fails naming it", async () => {
        const run = await runBus("shared", exotic({ accessSecret: { name: "no-such-secret", key: "client-auth" } }));
        assert.match(run.failures.join("\n"), /team-a\/no-such-secret/);
    });
});

interface BadInput {
    what: string;
    args: unknown;
    field: string;
    allowed: RegExp;
}

const BAD_INPUTS: BadInput[] = [
    {
        what: "no url",
        args: { namespace: NS, jetstreamExotic: {} },
        field: "jetstreamExotic.url",
        allowed: /is required.*nats:\/\//,
    },
    { what: "an empty url", args: exotic({ url: "" }), field: "jetstreamExotic.url", allowed: /is required/ },
    {
        what: "an http url",
        args: exotic({ url: "http://nats:4222" }),
        field: "jetstreamExotic.url",
        allowed: /not a NATS URL like nats:\/\//,
    },
    {
        what: "a url with a bad port",
        args: exotic({ url: "nats://nats:99999" }),
        field: "jetstreamExotic.url",
        allowed: /port 99999, out of range: ports go from 1 to 65535/,
    },
    {
        what: "accessSecret with username",
        args: exotic({ accessSecret: ACCESS, username: "a", password: "b" }),
        field: "jetstreamExotic.accessSecret",
        allowed: /cannot be combined with username\/password/,
    },
    {
        what: "username without password",
        args: exotic({ username: "a" }),
        field: "jetstreamExotic.password",
        allowed: /go together/,
    },
    {
        what: "password without username",
        args: exotic({ password: "b" }),
        field: "jetstreamExotic.username",
        allowed: /go together/,
    },
    {
        what: "accessSecret without key",
        args: exotic({ accessSecret: { name: "nats-creds" } }),
        field: "jetstreamExotic.accessSecret.key",
        allowed: /must be a key of the Secret \(at most 253 letters, digits, '-', '_' and '\.'\), got nothing/,
    },
    {
        what: "clientCertSecret without clientKeySecret",
        args: exotic({ tls: { clientCertSecret: { name: "c", key: "tls.crt" } } }),
        field: "jetstreamExotic.tls.clientKeySecret",
        allowed: /client certificate and its key go together/,
    },
    {
        what: "clientKeySecret without clientCertSecret",
        args: exotic({ tls: { clientKeySecret: { name: "c", key: "tls.key" } } }),
        field: "jetstreamExotic.tls.clientCertSecret",
        allowed: /go together/,
    },
    {
        what: "caCert with tls.caCertSecret",
        args: exotic({ caCert: "PEM", tls: { caCertSecret: { name: "c", key: "ca.crt" } } }),
        field: "jetstreamExotic.caCert",
        allowed: /cannot be combined with tls\.caCertSecret/,
    },
    {
        what: "clientCert with tls.clientCertSecret",
        args: exotic({
            clientCert: "PEM",
            clientKey: "PEM",
            tls: { clientCertSecret: { name: "c", key: "tls.crt" } },
        }),
        field: "jetstreamExotic.clientCert",
        allowed: /cannot be combined with tls\.clientCertSecret; use one of them/,
    },
    {
        what: "clientKey with tls.clientKeySecret",
        args: exotic({
            clientCert: "PEM",
            clientKey: "PEM",
            tls: { clientKeySecret: { name: "c", key: "tls.key" } },
        }),
        field: "jetstreamExotic.clientKey",
        allowed: /cannot be combined with tls\.clientKeySecret; use one of them/,
    },
    {
        what: "insecureSkipVerify as a string",
        args: exotic({ tls: { insecureSkipVerify: "yes" } }),
        field: "jetstreamExotic.tls.insecureSkipVerify",
        allowed: /true or false/,
    },
    {
        what: "an unknown exotic field",
        args: exotic({ urls: ["nats://x:4222"] }),
        field: "jetstreamExotic.urls",
        allowed: /did you mean "url"\?/,
    },
    {
        what: "an unknown tls field",
        args: exotic({ tls: { caSecret: { name: "c", key: "ca.crt" } } }),
        field: "jetstreamExotic.tls.caSecret",
        allowed: /allowed fields: caCertSecret/,
    },
    {
        what: "an unknown streamConfig key",
        args: exotic({ streamConfig: "retetention: 1\n" }),
        field: "jetstreamExotic.streamConfig.retetention",
        allowed: /did you mean "retention"\?/,
    },
    {
        what: "a server version that is not one",
        args: exotic({ serverVersion: "latest" }),
        field: "jetstreamExotic.serverVersion",
        allowed: /like "2\.10\.29"/,
    },
    {
        what: "compression on a 2.9 server",
        args: exotic({ serverVersion: "2.9.10", stream: { compression: "s2" } }),
        field: "jetstreamExotic.stream.compression",
        allowed: /needs nats-server 2\.10/,
    },
    {
        what: "both kinds",
        args: { namespace: NS, jetstream: { version: "latest" }, jetstreamExotic: { url: URL } },
        field: "jetstream",
        allowed: /set exactly one/,
    },
    {
        what: "a connection with exotic",
        args: exotic({}, { connection: { mode: "direct", servers: [URL] } }),
        field: "connection",
        allowed: /jetstreamExotic\.url/,
    },
];

describe("bad input fails before anything is registered", () => {
    for (const bad of BAD_INPUTS) {
        it(`${bad.what}: InputError at ${bad.field}`, async () => {
            const run = await runBus("shared", bad.args as EventBusArgs);
            assert.ok(run.thrown instanceof InputError, `expected an InputError, got ${String(run.thrown)}`);
            assert.equal(run.thrown.field, bad.field, run.thrown.message);
            assert.ok(run.thrown.message.startsWith(`${bad.field}: `), run.thrown.message);
            assert.match(run.thrown.message, bad.allowed);
            assert.deepEqual(
                run.resources.map((r) => `${r.type} ${r.name}`),
                [],
            );
            assert.deepEqual(run.failures, []);
        });
    }

    it("clientCert without clientKey (inputs): InputError naming a key field", async () => {
        const run = await runBus("shared", exotic({ clientCert: "CERT PEM" }));
        assert.ok(run.thrown instanceof InputError, String(run.thrown));
        assert.match(run.thrown.field, /^jetstreamExotic\.(clientKey|tls\.clientKeySecret)$/);
        assert.match(run.thrown.message, /client certificate and its key go together/);
        assert.deepEqual(run.resources, []);
    });
});

describe("Argo manifests of other kinds, imported", () => {
    const manifest = (spec: string) =>
        `apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata:\n  name: default\nspec:\n${spec}`;
    const refused = (spec: string, field: string, allowed: RegExp) => {
        let error: unknown;
        try {
            fromArgoEventBus(manifest(spec));
        } catch (e) {
            error = e;
        }
        assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`);
        assert.equal(error.field, field, error.message);
        assert.match(error.message, allowed);
    };

    it("nats (NATS Streaming) is refused at spec.nats, pointing at jetstreamExotic for an exotic one", () => {
        refused(
            "  nats:\n    exotic:\n      url: nats://stan:4222\n",
            "spec.nats",
            /JetStream only.*jetstreamExotic\.url/s,
        );
        refused("  nats:\n    native: {}\n", "spec.nats", /JetStream only/);
    });

    it("kafka is refused at spec.kafka", () => {
        refused("  kafka:\n    url: kafka:9092\n", "spec.kafka", /JetStream only.*Kafka/s);
    });

    it("jetstreamExotic without url is refused at spec.jetstreamExotic.url", () => {
        refused('  jetstreamExotic:\n    streamConfig: ""\n', "spec.jetstreamExotic.url", /is required/);
    });

    it("both jetstream and jetstreamExotic are refused", () => {
        refused("  jetstream:\n    version: latest\n  jetstreamExotic:\n    url: nats://x:4222\n", "spec", /both/);
    });

    it("an unknown jetstreamExotic field is refused with a suggestion", () => {
        refused(
            "  jetstreamExotic:\n    url: nats://x:4222\n    accesSecret:\n      name: s\n      key: k\n",
            "spec.jetstreamExotic.accesSecret",
            /did you mean "accessSecret"\?/,
        );
    });

    it("Argo's documented exotic example becomes a bus with the full default stream", async () => {
        const imported = fromArgoEventBus(
            manifest(
                '  jetstreamExotic:\n    url: nats://nats.shared.svc:4222\n    accessSecret:\n      name: nats-creds\n      key: client-auth\n    streamConfig: ""\n',
            ),
        );
        existingSecret("argo-events", "nats-creds", { "client-auth": "username: alice\npassword: wonderland\n" });
        const run = await runBus(imported.name, { ...imported.args, namespace: "argo-events" });
        assertSucceeded(run);
        assert.deepEqual(pick(run.streamInputs().config, Object.keys(ARGO_DEFAULT_STREAM)), ARGO_DEFAULT_STREAM);
        assert.equal(run.streamInputs().connection.username, "alice");
    });
});
