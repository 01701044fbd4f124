/**
 * A `jetstreamExotic` bus against real nats-server processes configured by hand (not from a rendered
 * bus), on every server release this machine has: plaintext with user/password, TLS verified against
 * a CA, TLS requiring a client certificate, a wrong password, and two namespaces sharing one server.
 *
 * What reaches the server is what EventBus produces: each case renders the bus under the mocks
 * (Secrets in Argo's formats put in place first), takes the Stream registration's inputs, and runs the
 * stream provider's create/read/update/delete with them.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as dns from "node:dns";
import * as fs from "node:fs";
import * as path from "node:path";
import { connect, NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, JetStreamManager } from "@nats-io/jetstream";
import type { JetStreamExoticArgs } from "../../../components";
import {
    createStream,
    deleteStream,
    readStream,
    StreamProps,
    updateStream,
} from "../../../components/stream/provider-impl";
import { Cleanup, liveSuiteServers, freePorts, NatsServerBinary, startNatsServer } from "../../support/nats";
import {
    createTestCa,
    existingSecret,
    issueTestCert,
    Issued,
    runBus,
    streamPropsOf,
    TestCa,
} from "../../support/exotic";

const USER = "argo";
// Characters YAML and NATS configuration both need quoted.
const PASSWORD = "wonder land: #42";
const SERVER_HOST = "nats.exotic.test";

/** TLS URLs use "localhost", which the server certificate names, so nothing else is needed to verify it. */
const localhostIsLoopback = new Promise<boolean>((resolve) =>
    dns.lookup("localhost", { all: true }, (err, addresses) =>
        resolve(!err && addresses.some((a) => a.address === "127.0.0.1")),
    ),
);

/** The stream Argo's defaults describe, with R1 for a standalone server, as the server reports it. */
function assertArgoDefaults(config: any, name = "default", subjects = ["default.*.*"]): void {
    assert.equal(config.name, name);
    assert.deepEqual(config.subjects, subjects);
    assert.equal(config.retention, "limits");
    assert.equal(config.discard, "old");
    assert.equal(config.storage, "file");
    assert.equal(config.max_msgs, 50000);
    assert.equal(config.max_bytes, -1);
    assert.equal(config.max_age, 168 * 3600 * 1e9);
    assert.equal(config.duplicate_window, 300 * 1e9);
    assert.equal(config.num_replicas, 1);
}

interface Pki {
    ca: TestCa;
    otherCa: TestCa;
    server: Issued;
    /** A server certificate naming only the address 127.0.0.1 (and SERVER_HOST), not localhost. */
    serverByAddress: Issued;
    client: Issued;
}

interface Server {
    port: number;
    /** nats://127.0.0.1:<port> */
    url: string;
    /** nats://localhost:<port>, a name the TLS servers' certificate carries */
    byName: string;
}

/** A standalone JetStream server with a user and password, optionally TLS (and client certificates). */
async function startServer(
    binary: NatsServerBinary,
    cleanup: Cleanup,
    dir: string,
    name: string,
    tls?: { pki: Pki; cert?: Issued; verify: boolean },
): Promise<Server> {
    const [port, monitorPort] = await freePorts(2);
    const home = path.join(dir, name);
    fs.mkdirSync(home, { recursive: true });
    const lines = [
        `server_name: ${name}`,
        `listen: "127.0.0.1:${port}"`,
        `http: "127.0.0.1:${monitorPort}"`,
        `jetstream { store_dir: ${JSON.stringify(path.join(home, "js"))} }`,
        `authorization { users: [ { user: ${JSON.stringify(USER)}, password: ${JSON.stringify(PASSWORD)} } ] }`,
    ];
    if (tls) {
        const cert = tls.cert ?? tls.pki.server;
        for (const [file, pem] of [
            ["ca.pem", tls.pki.ca.certPem],
            ["server.pem", cert.certPem],
            ["server-key.pem", cert.keyPem],
        ]) {
            fs.writeFileSync(path.join(home, file), pem, { mode: 0o600 });
        }
        lines.push(
            "tls {",
            `  cert_file: ${JSON.stringify(path.join(home, "server.pem"))}`,
            `  key_file: ${JSON.stringify(path.join(home, "server-key.pem"))}`,
            `  ca_file: ${JSON.stringify(path.join(home, "ca.pem"))}`,
            `  verify: ${tls.verify}`,
            "  timeout: 2",
            "}",
        );
    }
    const configPath = path.join(home, "nats.conf");
    fs.writeFileSync(configPath, lines.join("\n") + "\n");
    await startNatsServer({ binary, configPath, monitorPort, cleanup, name: `${name} (${binary.version})` });
    return { port, url: `nats://127.0.0.1:${port}`, byName: `nats://localhost:${port}` };
}

/**
 * Renders an exotic bus named `name` in `namespace` (after putting `secrets` in place) and returns the
 * Stream's inputs. The stream is deleted with the resource and creation gives up after 10s.
 */
async function propsOf(
    name: string,
    namespace: string,
    exotic: JetStreamExoticArgs,
    secrets: Record<string, Record<string, string>> = {},
): Promise<StreamProps> {
    for (const [secretName, keys] of Object.entries(secrets)) {
        existingSecret(namespace, secretName, keys);
    }
    const run = await runBus(name, {
        namespace,
        jetstreamExotic: { streamLifecycle: { deletionPolicy: "delete", createTimeout: "10s" }, ...exotic },
    });
    assert.equal(run.thrown, undefined, String(run.thrown));
    assert.deepEqual(run.failures, []);
    return streamPropsOf(run.streamInputs());
}

/** Argo's client-auth YAML, quoting the password as a YAML writer must. */
function clientAuth(username: string, password: string): string {
    return `username: ${username}\npassword: ${JSON.stringify(password)}\n`;
}

/** A verifying client of our own, to look at the server behind the provider's back. */
async function rawClient(server: Server, pki?: Pki): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
    const nc = await connect({
        servers: server.url,
        user: USER,
        pass: PASSWORD,
        reconnect: false,
        ...(pki
            ? {
                  tls: {
                      ca: pki.ca.certPem,
                      cert: pki.client.certPem,
                      key: pki.client.keyPem,
                      servername: SERVER_HOST,
                  } as object,
              }
            : {}),
    });
    return { nc, jsm: await jetstreamManager(nc) };
}

async function streamNames(jsm: JetStreamManager): Promise<string[]> {
    const names: string[] = [];
    for await (const name of jsm.streams.names()) names.push(name);
    return names.sort();
}

async function timed<T>(work: Promise<T>): Promise<{ ms: number; result: PromiseSettledResult<T> }> {
    const start = Date.now();
    const [result] = await Promise.allSettled([work]);
    return { ms: Date.now() - start, result };
}

function rejection(settled: PromiseSettledResult<unknown>): string {
    assert.equal(settled.status, "rejected", "the operation fails");
    return ((settled as PromiseRejectedResult).reason as Error).message;
}

const servers = liveSuiteServers();

describe("exotic bus: nats-server binaries", () => {
    it("at least one is available", () => {
        assert.ok(servers.length > 0, "no nats-server found (see tests/support/nats.ts liveSuiteServers)");
    });
});

for (const binary of servers) {
    describe(`exotic bus on hand-configured nats-server ${binary.version}`, () => {
        const cleanup = new Cleanup();
        let pki: Pki;
        let plain: Server;
        let tls: Server;
        let mtls: Server;
        let tlsByAddress: Server;
        let rawPlain: { nc: NatsConnection; jsm: JetStreamManager };
        let rawTls: { nc: NatsConnection; jsm: JetStreamManager };
        let rawMtls: { nc: NatsConnection; jsm: JetStreamManager };

        before(async () => {
            assert.ok(await localhostIsLoopback, "localhost must resolve to 127.0.0.1 for the TLS cases");
            const dir = cleanup.tempDir("exotic-stream");
            const ca = await createTestCa("exotic test CA");
            pki = {
                ca,
                otherCa: await createTestCa("some other CA"),
                // localhost for URLs by name, SERVER_HOST for serverName, the IP for URLs by address.
                server: await issueTestCert(ca, {
                    commonName: "nats",
                    dnsNames: ["localhost", SERVER_HOST],
                    ipAddresses: ["127.0.0.1"],
                    usage: "server",
                }),
                serverByAddress: await issueTestCert(ca, {
                    commonName: "nats",
                    dnsNames: [SERVER_HOST],
                    ipAddresses: ["127.0.0.1"],
                    usage: "server",
                }),
                client: await issueTestCert(ca, { commonName: "argo-events", usage: "client" }),
            };
            plain = await startServer(binary, cleanup, dir, "plain");
            tls = await startServer(binary, cleanup, dir, "tls", { pki, verify: false });
            mtls = await startServer(binary, cleanup, dir, "mtls", { pki, verify: true });
            tlsByAddress = await startServer(binary, cleanup, dir, "tls-ip", {
                pki,
                cert: pki.serverByAddress,
                verify: false,
            });
            rawPlain = await rawClient(plain);
            rawTls = await rawClient(tls, pki);
            rawMtls = await rawClient(mtls, pki);
            cleanup.defer(() => Promise.all([rawPlain.nc.close(), rawTls.nc.close(), rawMtls.nc.close()]));
        });
        after(() => cleanup.run());

        describe("plaintext server, user and password from Argo's accessSecret YAML", () => {
            const secrets = () => ({ "nats-creds": { "client-auth": clientAuth(USER, PASSWORD) } });
            const args = (streamConfig: string): JetStreamExoticArgs => ({
                url: plain.url,
                accessSecret: { name: "nats-creds", key: "client-auth" },
                streamConfig,
            });

            it("creates the stream with Argo's full defaults (R1 set for a standalone server), reads, updates and deletes it", async () => {
                const props = await propsOf("shared", "team-a", args("replicas: 1\n"), secrets());
                assert.equal(props.connection.caCert, undefined, "no TLS material for a plaintext server");
                const { id, outs } = await createStream(props);
                assert.equal(id, "default");
                assertArgoDefaults((await rawPlain.jsm.streams.info("default")).config);
                assert.deepEqual(outs.config, props.config, "the server holds exactly what was asked");
                assert.equal(outs.observedServerVersion, binary.version);

                const read = await readStream("default", outs);
                assert.deepEqual(read.props!.config, props.config);

                const changed = await propsOf(
                    "shared",
                    "team-a",
                    args("replicas: 1\nmaxMsgs: 1000\nmaxAge: 24h\n"),
                    secrets(),
                );
                const updated = await updateStream(read.props!, changed);
                const info = await rawPlain.jsm.streams.info("default");
                assert.equal(info.config.max_msgs, 1000);
                assert.equal(info.config.max_age, 24 * 3600 * 1e9);
                assert.equal(info.config.duplicate_window, 300 * 1e9);

                await deleteStream("default", updated.outs);
                assert.deepEqual(await streamNames(rawPlain.jsm), []);
                assert.deepEqual(await readStream("default", updated.outs), {});
            });

            it("Argo's default R3 on a standalone server fails at once with 10074, explained: set replicas: 1", async () => {
                const props = await propsOf("shared", "team-a", args(""), secrets());
                assert.equal(props.config.replicas, 3);
                const { ms, result } = await timed(createStream(props));
                const message = rejection(result);
                assert.match(message, /10074/);
                assert.match(message, /replicas: 1/);
                assert.match(message, /creating stream "default" through nats:\/\/127\.0\.0\.1/);
                assert.ok(ms < 5_000, `gave up after ${ms}ms; the error is not transient`);
                assert.deepEqual(await streamNames(rawPlain.jsm), []);
            });

            it("a wrong password fails at once with a clear error that shows neither password", async () => {
                const props = await propsOf("shared", "team-a", args("replicas: 1\n"), {
                    "nats-creds": { "client-auth": clientAuth(USER, "not-the-password") },
                });
                const { ms, result } = await timed(createStream(props));
                const message = rejection(result);
                assert.match(message, /refused the user name and password/);
                assert.ok(!message.includes("not-the-password") && !message.includes(PASSWORD), message);
                assert.ok(ms < 5_000, `gave up after ${ms}ms; a refused password is not retried`);
                assert.deepEqual(await streamNames(rawPlain.jsm), []);
            });

            it("a comma-separated url list, as Argo Events takes it, reaches whichever listed server answers", async () => {
                const [nothingThere] = await freePorts(1);
                const props = await propsOf(
                    "shared",
                    "team-a",
                    { ...args("replicas: 1\n"), url: `nats://127.0.0.1:${nothingThere}, ${plain.url}` },
                    secrets(),
                );
                assert.deepEqual(props.connection.servers, [`nats://127.0.0.1:${nothingThere}`, plain.url]);
                const { outs } = await createStream(props);
                assertArgoDefaults((await rawPlain.jsm.streams.info("default")).config);
                await deleteStream("default", outs);
            });

            it("username and password inputs work the same", async () => {
                const props = await propsOf("shared", "team-a", {
                    url: plain.url,
                    username: USER,
                    password: PASSWORD,
                    streamConfig: "replicas: 1\n",
                });
                const { outs } = await createStream(props);
                assertArgoDefaults((await rawPlain.jsm.streams.info("default")).config);
                await deleteStream("default", outs);
            });
        });

        describe("two namespaces sharing one server with their own stream names and subjects", () => {
            it("creates team-a and team-b independently", async () => {
                const bus = (team: string): JetStreamExoticArgs => ({
                    url: plain.url,
                    accessSecret: { name: "nats-creds", key: "client-auth" },
                    streamConfig: "replicas: 1\n",
                    stream: { name: team, subjects: [`${team}.*.*`] },
                });
                const a = await propsOf("shared", "team-a", bus("team-a"), {
                    "nats-creds": { "client-auth": clientAuth(USER, PASSWORD) },
                });
                const b = await propsOf("shared", "team-b", bus("team-b"), {
                    "nats-creds": { "client-auth": clientAuth(USER, PASSWORD) },
                });
                const createdA = await createStream(a);
                const createdB = await createStream(b);
                assert.equal(createdA.id, "team-a");
                assert.equal(createdB.id, "team-b");
                assert.deepEqual(await streamNames(rawPlain.jsm), ["team-a", "team-b"]);
                assertArgoDefaults((await rawPlain.jsm.streams.info("team-a")).config, "team-a", ["team-a.*.*"]);
                assertArgoDefaults((await rawPlain.jsm.streams.info("team-b")).config, "team-b", ["team-b.*.*"]);

                const js = jetstream(rawPlain.nc);
                await js.publish("team-a.webhook.push", "a1");
                await js.publish("team-a.webhook.push", "a2");
                await js.publish("team-b.calendar.tick", "b1");
                assert.equal((await rawPlain.jsm.streams.info("team-a")).state.messages, 2);
                assert.equal((await rawPlain.jsm.streams.info("team-b")).state.messages, 1);

                // Updating one leaves the other alone.
                const a2 = await propsOf(
                    "shared",
                    "team-a",
                    { ...bus("team-a"), streamConfig: "replicas: 1\nmaxMsgs: 10\n" },
                    { "nats-creds": { "client-auth": clientAuth(USER, PASSWORD) } },
                );
                const updatedA = await updateStream(createdA.outs, a2);
                assert.equal((await rawPlain.jsm.streams.info("team-a")).config.max_msgs, 10);
                assert.equal((await rawPlain.jsm.streams.info("team-b")).config.max_msgs, 50000);

                await deleteStream("team-a", updatedA.outs);
                assert.deepEqual(await streamNames(rawPlain.jsm), ["team-b"]);
                assert.equal((await rawPlain.jsm.streams.info("team-b")).state.messages, 1);
                await deleteStream("team-b", createdB.outs);
                assert.deepEqual(await streamNames(rawPlain.jsm), []);
            });
        });

        describe("TLS server verified against its CA", () => {
            const caSecret = () => ({ "nats-ca": { "ca.crt": pki.ca.certPem } });
            const args = (extra: Partial<JetStreamExoticArgs> = {}): JetStreamExoticArgs => ({
                url: tls.byName,
                username: USER,
                password: PASSWORD,
                tls: { caCertSecret: { name: "nats-ca", key: "ca.crt" } },
                streamConfig: "replicas: 1\n",
                serverVersion: binary.version,
                ...extra,
            });

            it("creates, reads, updates and deletes the stream with the CA from tls.caCertSecret", async () => {
                const props = await propsOf("shared", "team-a", args(), caSecret());
                assert.equal(props.connection.caCert, pki.ca.certPem);
                const { outs } = await createStream(props);
                assertArgoDefaults((await rawTls.jsm.streams.info("default")).config);
                assert.deepEqual((await readStream("default", outs)).props!.config, props.config);
                const changed = await propsOf(
                    "shared",
                    "team-a",
                    args({ streamConfig: "replicas: 1\nduplicates: 1m\n" }),
                    caSecret(),
                );
                const updated = await updateStream(outs, changed);
                assert.equal((await rawTls.jsm.streams.info("default")).config.duplicate_window, 60 * 1e9);
                await deleteStream("default", updated.outs);
                assert.deepEqual(await streamNames(rawTls.jsm), []);
            });

            it("an IP URL verifies with serverName naming the certificate's DNS name", async () => {
                const props = await propsOf(
                    "shared",
                    "team-a",
                    args({ url: tlsByAddress.url, serverName: SERVER_HOST }),
                    caSecret(),
                );
                const { outs } = await createStream(props);
                await deleteStream("default", outs);
            });

            it("works with a tls:// URL and with serverName naming the certificate's DNS name", async () => {
                const props = await propsOf(
                    "shared",
                    "team-a",
                    args({ url: `tls://127.0.0.1:${tls.port}`, serverName: SERVER_HOST }),
                    caSecret(),
                );
                assert.equal(props.connection.serverName, SERVER_HOST);
                const { outs } = await createStream(props);
                assertArgoDefaults((await rawTls.jsm.streams.info("default")).config);
                await deleteStream("default", outs);
            });

            it("a serverName the certificate does not carry fails with a name-mismatch explanation", async () => {
                const props = await propsOf(
                    "shared",
                    "team-a",
                    args({
                        serverName: "other.example",
                        streamLifecycle: { deletionPolicy: "delete", createTimeout: "2s" },
                    }),
                    caSecret(),
                );
                const message = rejection((await timed(createStream(props))).result);
                assert.match(message, /other\.example/);
                assert.match(message, /TLS name mismatch|does not name|altnames/i);
                assert.deepEqual(await streamNames(rawTls.jsm), []);
            });

            it("a CA that did not sign the server certificate fails with a verification explanation", async () => {
                const props = await propsOf(
                    "shared",
                    "team-a",
                    args({ streamLifecycle: { deletionPolicy: "delete", createTimeout: "2s" } }),
                    { "nats-ca": { "ca.crt": pki.otherCa.certPem } },
                );
                const message = rejection((await timed(createStream(props))).result);
                assert.match(message, /TLS verification failed/);
                assert.deepEqual(await streamNames(rawTls.jsm), []);
            });

            it(
                "an IP URL verifies against the certificate's IP address without serverName, as Argo's Go client does",
                {},
                async () => {
                    const props = await propsOf(
                        "shared",
                        "team-a",
                        args({
                            url: tlsByAddress.url,
                            streamLifecycle: { deletionPolicy: "delete", createTimeout: "2s" },
                        }),
                        caSecret(),
                    );
                    const { outs } = await createStream(props);
                    const raw = await rawClient(tlsByAddress, pki);
                    try {
                        assertArgoDefaults((await raw.jsm.streams.info("default")).config);
                    } finally {
                        await raw.nc.close();
                    }
                    await deleteStream("default", outs);
                },
            );

            it("insecureSkipVerify connects without a CA", async () => {
                const props = await propsOf("shared", "team-a", {
                    url: tls.url,
                    username: USER,
                    password: PASSWORD,
                    tls: { insecureSkipVerify: true },
                    streamConfig: "replicas: 1\n",
                });
                const { outs } = await createStream(props);
                assertArgoDefaults((await rawTls.jsm.streams.info("default")).config);
                await deleteStream("default", outs);
            });
        });

        describe("TLS server requiring a client certificate (verify: true)", () => {
            const tlsSecret = () => ({
                "nats-tls": { "ca.crt": pki.ca.certPem, "tls.crt": pki.client.certPem, "tls.key": pki.client.keyPem },
            });
            const creds = () => ({ "nats-creds": { "client-auth": clientAuth(USER, PASSWORD) } });

            it("creates and deletes the stream with the CA, client certificate and key from the tls Secrets", async () => {
                const props = await propsOf(
                    "shared",
                    "team-a",
                    {
                        url: mtls.byName,
                        accessSecret: { name: "nats-creds", key: "client-auth" },
                        tls: {
                            caCertSecret: { name: "nats-tls", key: "ca.crt" },
                            clientCertSecret: { name: "nats-tls", key: "tls.crt" },
                            clientKeySecret: { name: "nats-tls", key: "tls.key" },
                        },
                        streamConfig: "replicas: 1\n",
                        serverVersion: binary.version,
                    },
                    { ...tlsSecret(), ...creds() },
                );
                assert.equal(props.connection.clientCert, pki.client.certPem);
                assert.equal(props.connection.clientKey, pki.client.keyPem);
                const { outs } = await createStream(props);
                assertArgoDefaults((await rawMtls.jsm.streams.info("default")).config);
                assert.deepEqual((await readStream("default", outs)).props!.config, props.config);
                await deleteStream("default", outs);
                assert.deepEqual(await streamNames(rawMtls.jsm), []);
            });

            it("without a client certificate the server refuses the connection", async () => {
                const props = await propsOf(
                    "shared",
                    "team-a",
                    {
                        url: mtls.byName,
                        accessSecret: { name: "nats-creds", key: "client-auth" },
                        tls: { caCertSecret: { name: "nats-tls", key: "ca.crt" } },
                        streamConfig: "replicas: 1\n",
                        streamLifecycle: { deletionPolicy: "delete", createTimeout: "2s" },
                    },
                    { ...tlsSecret(), ...creds() },
                );
                const { ms, result } = await timed(createStream(props));
                assert.match(rejection(result), /creating stream "default" through nats:\/\/localhost/);
                assert.ok(ms < 10_000, `took ${ms}ms`);
                assert.deepEqual(await streamNames(rawMtls.jsm), []);
            });
        });
    });
}
