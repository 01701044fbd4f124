import { test } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as tls from "node:tls";
import { once } from "node:events";
import bcrypt from "bcryptjs";
import { STAND_INS } from "../../cli/stand-ins";
import { certificateFacts, installRealisticMocks, isSecretOutput, resolve } from "./mocks";

const mocks = installRealisticMocks({ project: "mocks-test", stack: "dev" });

// Imported after the mocks are installed so every resource below is mocked.
import * as pulumi from "@pulumi/pulumi";
import * as ptls from "@pulumi/tls";
import * as random from "@pulumi/random";

class Pki extends pulumi.ComponentResource {
    readonly caKey: ptls.PrivateKey;
    readonly caCert: ptls.SelfSignedCert;
    readonly leafKey: ptls.PrivateKey;
    readonly csr: ptls.CertRequest;
    readonly leaf: ptls.LocallySignedCert;

    constructor(name: string) {
        super("test:index:Pki", name);
        const opts = { parent: this };
        this.caKey = new ptls.PrivateKey(`${name}-ca`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);
        this.caCert = new ptls.SelfSignedCert(
            `${name}-ca`,
            {
                privateKeyPem: this.caKey.privateKeyPem,
                subject: { commonName: "Example CA", organization: "example" },
                isCaCertificate: true,
                validityPeriodHours: 24,
                earlyRenewalHours: 1,
                allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
            },
            opts,
        );
        this.leafKey = new ptls.PrivateKey(`${name}-leaf`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);
        this.csr = new ptls.CertRequest(
            `${name}-leaf`,
            {
                privateKeyPem: this.leafKey.privateKeyPem,
                subject: { commonName: "a.example.svc" },
                dnsNames: ["a.example.svc", "*.h.example.svc"],
            },
            opts,
        );
        this.leaf = new ptls.LocallySignedCert(
            `${name}-leaf`,
            {
                certRequestPem: this.csr.certRequestPem,
                caPrivateKeyPem: this.caKey.privateKeyPem,
                caCertPem: this.caCert.certPem,
                validityPeriodHours: 12,
                allowedUses: ["digital_signature", "key_encipherment", "server_auth", "client_auth"],
            },
            opts,
        );
        this.registerOutputs({});
    }
}

test("tls mocks produce a real CA and a leaf signed by it", async () => {
    const pki = new Pki("pki");
    const [caKeyPem, caPem, leafKeyPem, leafPem, csrPem] = await Promise.all([
        resolve(pki.caKey.privateKeyPem),
        resolve(pki.caCert.certPem),
        resolve(pki.leafKey.privateKeyPem),
        resolve(pki.leaf.certPem),
        resolve(pki.csr.certRequestPem),
    ]);

    assert.match(caKeyPem, /^-----BEGIN EC PRIVATE KEY-----\n/);
    assert.match(csrPem, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
    assert.ok(await isSecretOutput(pki.caKey.privateKeyPem), "privateKeyPem is secret");
    assert.equal(await isSecretOutput(pki.caCert.certPem), false);

    const ca = new crypto.X509Certificate(caPem);
    const leaf = new crypto.X509Certificate(leafPem);
    assert.ok(ca.ca);
    assert.ok(ca.verify(ca.publicKey), "CA is self-signed");
    assert.ok(ca.checkPrivateKey(crypto.createPrivateKey(caKeyPem)));
    assert.ok(leaf.verify(ca.publicKey), "leaf signature verifies with the CA key");
    assert.ok(leaf.checkIssued(ca));
    assert.ok(leaf.checkPrivateKey(crypto.createPrivateKey(leafKeyPem)));
    assert.equal(leaf.ca, false);
    assert.equal(leaf.subjectAltName, "DNS:a.example.svc, DNS:*.h.example.svc");
    assert.deepEqual(leaf.keyUsage, ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    const hours = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 3_600_000;
    assert.equal(hours, 12);

    const caFacts = certificateFacts(caPem);
    assert.equal(caFacts.subject, "O=example, CN=Example CA");
    assert.equal(caFacts.isCa, true);
    assert.deepEqual(caFacts.keyUsages, ["digitalSignature", "keyCertSign", "cRLSign"]);
    assert.deepEqual(caFacts.extKeyUsages, []);
    assert.ok(caFacts.subjectKeyId, "CA certificates carry a subject key id");

    const facts = certificateFacts(leafPem);
    assert.equal(facts.commonName, "a.example.svc");
    assert.equal(facts.issuer, caFacts.subject);
    assert.deepEqual(facts.dnsNames, ["a.example.svc", "*.h.example.svc"]);
    assert.deepEqual(facts.keyUsages, ["digitalSignature", "keyEncipherment"]);
    assert.equal(facts.keyUsageCritical, true);
    assert.deepEqual(facts.extKeyUsages, ["serverAuth", "clientAuth"]);
    assert.equal(facts.isCa, false);
    assert.equal(facts.hasBasicConstraints, true);
    assert.equal(facts.authorityKeyId, caFacts.subjectKeyId);
    assert.equal(facts.publicKeyAlgorithm, "ECDSA");
    assert.equal(facts.namedCurve, "P256");
    assert.equal(facts.signatureHash, "SHA-256");

    const state = mocks.get("tls:index/locallySignedCert:LocallySignedCert", "pki-leaf").state;
    assert.equal(state.certPem, leafPem);
    assert.match(state.validityStartTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(Date.parse(state.validityEndTime) - Date.parse(state.validityStartTime), 12 * 3_600_000);
    assert.equal(state.readyForRenewal, false);
    assert.equal(
        mocks.get("tls:index/privateKey:PrivateKey", "pki-leaf").urn,
        "urn:pulumi:dev::mocks-test::test:index:Pki$tls:index/privateKey:PrivateKey::pki-leaf",
    );
    assert.equal(mocks.byType("tls:index/privateKey:PrivateKey").length, 2);
    assert.equal(mocks.byType("test:index:Pki").length, 1);

    // A real TLS handshake, including the wildcard SAN, with mutual authentication.
    const server = tls.createServer(
        { key: leafKeyPem, cert: leafPem, ca: caPem, requestCert: true, rejectUnauthorized: true },
        (s) => s.end("ok"),
    );
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
        const port = (server.address() as { port: number }).port;
        for (const servername of ["a.example.svc", "x.h.example.svc"]) {
            const socket = tls.connect({
                host: "127.0.0.1",
                port,
                servername,
                ca: caPem,
                key: leafKeyPem,
                cert: leafPem,
            });
            const [data] = await once(socket, "data");
            assert.equal(String(data), "ok");
            assert.ok(socket.authorized);
            socket.destroy();
        }
    } finally {
        server.close();
    }
});

test("the stand-ins refuse what the component does not use", async () => {
    const key = STAND_INS["tls:index/privateKey:PrivateKey"]!;
    await assert.rejects(async () => key.outputs({ algorithm: "RSA" }), /ECDSA P256 keys only, not RSA/);
    await assert.rejects(async () => key.outputs({ algorithm: "ECDSA" }), /ECDSA P256 keys only, not ECDSA P224/);
    const caKey = await key.outputs({ algorithm: "ECDSA", ecdsaCurve: "P256" });
    const selfSigned = STAND_INS["tls:index/selfSignedCert:SelfSignedCert"]!;
    const ca = { privateKeyPem: caKey.privateKeyPem, subject: { commonName: "ca" }, validityPeriodHours: 1 };
    await assert.rejects(
        async () => selfSigned.outputs({ ...ca, allowedUses: ["code_signing"] }),
        /does not implement the use code_signing/,
    );
    await assert.rejects(
        async () =>
            selfSigned.outputs({ ...ca, allowedUses: ["cert_signing"], subject: { commonName: "ca", country: "NL" } }),
        /does not implement country/,
    );
    await assert.rejects(
        async () => selfSigned.outputs({ ...ca, allowedUses: ["cert_signing"], uris: ["spiffe://ca"] }),
        /does not implement uris/,
    );
    await assert.rejects(
        async () => selfSigned.outputs({ ...ca, allowedUses: ["cert_signing"], setSubjectKeyId: true }),
        /does not implement setSubjectKeyId/,
    );
    assert.deepEqual(Object.keys(STAND_INS).sort(), [
        "random:index/randomPassword:RandomPassword",
        "tls:index/certRequest:CertRequest",
        "tls:index/locallySignedCert:LocallySignedCert",
        "tls:index/privateKey:PrivateKey",
        "tls:index/selfSignedCert:SelfSignedCert",
    ]);
});

test("random mocks honour alphabet and minimums and return a matching bcrypt hash", async () => {
    const pw = new random.RandomPassword("pw", { length: 24, special: false, minNumeric: 5, minUpper: 3 });
    const [result, hash] = await Promise.all([resolve(pw.result), resolve(pw.bcryptHash)]);
    assert.ok(await isSecretOutput(pw.result));
    assert.equal(result.length, 24);
    assert.match(result, /^[A-Za-z0-9]+$/);
    assert.ok((result.match(/[0-9]/g) ?? []).length >= 5);
    assert.ok((result.match(/[A-Z]/g) ?? []).length >= 3);
    assert.match(hash, /^\$2a\$10\$/);
    assert.ok(bcrypt.compareSync(result, hash));
    assert.equal(bcrypt.compareSync(result + "x", hash), false);

    const custom = new random.RandomPassword("custom", {
        length: 40,
        upper: false,
        numeric: false,
        overrideSpecial: "_-",
    });
    assert.match(await resolve(custom.result), /^[a-z_-]{40}$/);
});

test("preview leaves computed provider outputs unknown", async () => {
    const preview = installRealisticMocks({ preview: true });
    const key = new ptls.PrivateKey("preview", { algorithm: "ECDSA", ecdsaCurve: "P256" });
    await assert.rejects(resolve(key.privateKeyPem), /unknown/);
    assert.equal(await resolve(key.algorithm), "ECDSA");
    assert.equal(preview.byType("tls:index/privateKey:PrivateKey").length, 1);
});
