import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { connect } from "@nats-io/transport-node";
import {
    cleanupAfter,
    compareVersions,
    findNatsServers,
    freePorts,
    requireNatsServer,
    startNatsServer,
    testConfig,
    waitFor,
    withCleanup,
    type NatsServerBinary,
    type NatsServerHandle,
} from "../support/nats";

test("findNatsServers lists distinct versions, oldest first", () => {
    const all = findNatsServers();
    assert.ok(all.length > 0, "at least one nats-server is installed");
    const versions = all.map((b) => b.version);
    assert.equal(new Set(versions).size, versions.length);
    assert.deepEqual([...versions].sort(compareVersions), versions);
    assert.equal(requireNatsServer().version, versions[versions.length - 1]);
    assert.throws(() => requireNatsServer({ minVersion: "999.0.0" }), /apt-get install nats-server/);
    assert.ok(compareVersions("2.9.10", "2.10.0") < 0);
    assert.ok(compareVersions("2.10.0-RC.1", "2.10.0") < 0);
});

test("a single JetStream server starts, serves requests and is cleaned up", async (t) => {
    for (const binary of findNatsServers()) {
        await t.test(`nats-server ${binary.version}`, () => roundTrip(binary));
    }
});

async function roundTrip(binary: NatsServerBinary): Promise<void> {
    let dir = "";
    let server: NatsServerHandle | undefined;

    await withCleanup(async (cleanup) => {
        dir = cleanup.tempDir("nats-harness");
        const [clientPort, monitorPort] = await freePorts(2);
        const configPath = path.join(dir, "nats.conf");
        fs.writeFileSync(
            configPath,
            [
                "server_name: harness",
                `listen: 127.0.0.1:${clientPort}`,
                `http: 127.0.0.1:${monitorPort}`,
                "jetstream {",
                `  store_dir: "${path.join(dir, "js")}"`,
                "  max_memory_store: 64MB",
                "  max_file_store: 256MB",
                "}",
                "",
            ].join("\n"),
        );
        server = await startNatsServer({ binary, configPath, monitorPort, name: "harness", cleanup });
        assert.ok(server.isRunning());
        assert.ok(server.logs().some((l) => /Server is ready/.test(l)), server.logs().join("\n"));
        await server.waitForLog(/Starting JetStream/, 5_000);

        const nc = await connect({ servers: `127.0.0.1:${clientPort}` });
        try {
            const sub = nc.subscribe("harness.echo");
            void (async () => {
                for await (const m of sub) {
                    m.respond(`echo:${m.string()}`);
                }
            })();
            const reply = await nc.request("harness.echo", "ping", { timeout: 5_000 });
            assert.equal(reply.string(), "echo:ping");

            const jsz = await waitFor(
                async () => {
                    const res = await fetch(`${server!.monitorUrl}/jsz`);
                    return res.ok ? ((await res.json()) as { config?: { store_dir?: string } }) : undefined;
                },
                { timeoutMs: 5_000, what: "/jsz" },
            );
            assert.equal(jsz.config?.store_dir, path.join(dir, "js", "jetstream"));
        } finally {
            await nc.close();
        }
    });

    assert.ok(server);
    assert.equal(server.isRunning(), false, "cleanup stopped the server");
    // A graceful SIGTERM shutdown exits 1 before nats-server 2.11 and 0 after.
    assert.ok([0, 1].includes((await server.exited()) as number));
    assert.ok(server.logs().some((l) => /Server Exiting/.test(l)), "shut down gracefully, not killed");
    assert.throws(() => process.kill(server!.pid, 0), /ESRCH/);
    assert.equal(fs.existsSync(dir), false, "temp dir removed");
}

test("startup failure reports the server's own log lines", async (t) => {
    const cleanup = cleanupAfter(t);
    const dir = cleanup.tempDir("nats-harness-bad");
    const [clientPort, monitorPort] = await freePorts(2);
    // A valid config whose client port is taken: the server exits at startup.
    const blocker = net.createServer().listen(clientPort, "127.0.0.1");
    await once(blocker, "listening");
    cleanup.defer(() => new Promise((r) => blocker.close(r)));
    const configPath = path.join(dir, "nats.conf");
    fs.writeFileSync(configPath, `listen: 127.0.0.1:${clientPort}\nhttp: 127.0.0.1:${monitorPort}\n`);
    await assert.rejects(
        startNatsServer({ binary: requireNatsServer(), configPath, monitorPort, timeoutMs: 10_000, cleanup }),
        (err: Error) => /exited during startup/.test(err.message) && /address already in use/.test(err.message),
    );
});

test("testConfig accepts valid configs and reports errors for invalid ones", async (t) => {
    const binary = requireNatsServer();
    const dir = cleanupAfter(t).tempDir("nats-harness-config");
    const good = path.join(dir, "good.conf");
    const bad = path.join(dir, "bad.conf");
    fs.writeFileSync(good, "listen: 127.0.0.1:4222\nmax_payload: $PAYLOAD\n");
    fs.writeFileSync(bad, "listen: 127.0.0.1:4222\nmax_payload: 1XB\n");

    const ok = await testConfig(binary, good, { PAYLOAD: "1MB" });
    assert.equal(ok.ok, true, ok.output);
    assert.match(ok.output, /valid/);

    const notOk = await testConfig(binary, bad);
    assert.equal(notOk.ok, false);
    assert.match(notOk.output, /bad\.conf:2/);
});

test("certificates from the realistic mocks work for nats-server mutual TLS", async (t) => {
    // Loaded lazily so the other tests in this file do not run under Pulumi mocks.
    const { installRealisticMocks, resolve } = await import("../support/mocks.js");
    installRealisticMocks();
    const ptls = await import("@pulumi/tls");
    const caKey = new ptls.PrivateKey("ca", { algorithm: "ECDSA", ecdsaCurve: "P256" });
    const ca = new ptls.SelfSignedCert("ca", {
        privateKeyPem: caKey.privateKeyPem,
        subject: { commonName: "harness CA" },
        isCaCertificate: true,
        validityPeriodHours: 1,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
    });
    const issue = (name: string, uses: string[]) => {
        const key = new ptls.PrivateKey(name, { algorithm: "ECDSA", ecdsaCurve: "P256" });
        const csr = new ptls.CertRequest(name, {
            privateKeyPem: key.privateKeyPem,
            subject: { commonName: name },
            dnsNames: [name, "localhost"],
            ipAddresses: ["127.0.0.1"],
        });
        const cert = new ptls.LocallySignedCert(name, {
            certRequestPem: csr.certRequestPem,
            caPrivateKeyPem: caKey.privateKeyPem,
            caCertPem: ca.certPem,
            validityPeriodHours: 1,
            allowedUses: uses,
        });
        return Promise.all([resolve(key.privateKeyPem), resolve(cert.certPem)]);
    };
    const [caPem, [serverKey, serverCert], [clientKey, clientCert]] = await Promise.all([
        resolve(ca.certPem),
        issue("server", ["digital_signature", "key_encipherment", "server_auth"]),
        issue("client", ["digital_signature", "key_encipherment", "client_auth"]),
    ]);

    const cleanup = cleanupAfter(t);
    const dir = cleanup.tempDir("nats-harness-tls");
    const write = (file: string, content: string) => {
        fs.writeFileSync(path.join(dir, file), content);
        return path.join(dir, file);
    };
    const [clientPort, monitorPort] = await freePorts(2);
    const configPath = write(
        "nats.conf",
        [
            `listen: 127.0.0.1:${clientPort}`,
            `http: 127.0.0.1:${monitorPort}`,
            "tls {",
            `  cert_file: "${write("server.pem", serverCert)}"`,
            `  key_file: "${write("server-key.pem", serverKey)}"`,
            `  ca_file: "${write("ca.pem", caPem)}"`,
            "  verify: true",
            "}",
            "",
        ].join("\n"),
    );
    const binary = requireNatsServer();
    assert.equal((await testConfig(binary, configPath)).ok, true);
    await startNatsServer({ binary, configPath, monitorPort, cleanup });

    const nc = await connect({ servers: `tls://127.0.0.1:${clientPort}`, tls: { ca: caPem, cert: clientCert, key: clientKey } });
    try {
        const sub = nc.subscribe("tls.echo", { max: 1 });
        void (async () => {
            for await (const m of sub) {
                m.respond(m.data);
            }
        })();
        assert.equal((await nc.request("tls.echo", "secure", { timeout: 5_000 })).string(), "secure");
    } finally {
        await nc.close();
    }
});
