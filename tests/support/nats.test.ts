import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { connect } from "@nats-io/transport-node";
import { cleanupAfter, freePorts, requireNatsServer, startNatsServer, testConfig } from "./nats";

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
    const { installRealisticMocks, resolve } = await import("./mocks.js");
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

    const nc = await connect({
        servers: `tls://127.0.0.1:${clientPort}`,
        tls: { ca: caPem, cert: clientCert, key: clientKey },
    });
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
