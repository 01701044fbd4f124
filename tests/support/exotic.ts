/**
 * Helpers for the jetstreamExotic and Argo export tests: run an EventBus under the realistic mocks
 * and collect what it registered (or how the program failed), and make a small PKI for nats-server
 * processes configured by hand.
 */
import "../../cli/reflect-metadata";
import * as crypto from "node:crypto";
import * as x509 from "@peculiar/x509";
import * as pulumi from "@pulumi/pulumi";
import { EventBus, EventBusArgs } from "../../components";
import type { StreamProps } from "../../components/stream/provider-impl";
import { testMocks } from "./bus";
import { RecordedResource } from "./mocks";

const rpcSettings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

x509.cryptoProvider.set(crypto.webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const SECRET_TYPE = "kubernetes:core/v1:Secret";
export const CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition";
export const STREAM_TYPE = "pulumi-nodejs:dynamic/jetstream:Stream";
export const ARGO_EVENTBUS_TYPE = "kubernetes:argoproj.io/v1alpha1:EventBus";
export const COMPONENT_TYPE = "jetstream-eventbus:index:EventBus";

/** Base64, as a Secret's `data` holds it. */
export function b64(text: string): string {
    return Buffer.from(text, "utf8").toString("base64");
}

/** Makes `k8s.core.v1.Secret.get("<namespace>/<name>")` find a Secret with these (plain text) keys. */
export function existingSecret(namespace: string, name: string, keys: Record<string, string>): void {
    const data = Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, b64(v)]));
    testMocks().setExisting(SECRET_TYPE, `${namespace}/${name}`, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name, namespace },
        type: "Opaque",
        data,
    });
}

/** Makes the Argo Events EventBus CRD exist in the mocked cluster. */
export function existingArgoCrd(): void {
    testMocks().setExisting(CRD_TYPE, "eventbuses.argoproj.io", {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: "eventbuses.argoproj.io" },
        spec: { group: "argoproj.io", names: { kind: "EventBus", plural: "eventbuses" }, scope: "Namespaced" },
    });
}

/** What one program run registered, and every error it failed with. */
export interface ProgramRun {
    bus?: EventBus;
    /** Thrown synchronously by the constructor (input validation). */
    thrown?: unknown;
    /** Messages of the errors the program failed with (unhandled rejections, as the Pulumi runtime reports them). */
    failures: string[];
    resources: RecordedResource[];
    /** Registrations of `type`. */
    byType(type: string): RecordedResource[];
    /** The inputs of the one Stream registration. */
    streamInputs(): any;
}

/**
 * Runs `new EventBus(name, args)` under the mocks, waits for every registration, and collects the
 * errors the program would fail with. A failed read or a throwing `apply` rejects outputs that
 * nobody awaits; the Pulumi runtime turns those unhandled rejections into a failed program, so they
 * are gathered here instead of letting node:test attribute them to whatever test runs next.
 */
export async function runBus(
    name: string,
    args: EventBusArgs,
    opts?: pulumi.ComponentResourceOptions,
): Promise<ProgramRun> {
    const mocks = testMocks();
    mocks.reset();
    const failures: string[] = [];
    const saved = process.listeners("unhandledRejection");
    process.removeAllListeners("unhandledRejection");
    const collect = (reason: unknown) => void failures.push(reason instanceof Error ? reason.message : String(reason));
    process.on("unhandledRejection", collect);
    let bus: EventBus | undefined;
    let thrown: unknown;
    try {
        try {
            bus = new EventBus(name, args, opts);
        } catch (err) {
            thrown = err;
        }
        if (bus) {
            // Settle every output the tests look at; a failure lands in `failures`.
            for (const output of [
                bus.url,
                bus.username,
                bus.password,
                bus.caCert,
                bus.clientSecretName,
                bus.streamName,
            ]) {
                await (output as any).promise().catch((err: unknown) => collect(err));
            }
        }
        await rpcSettings.waitForRPCs();
        // Rejections are reported a few turns of the event loop after the RPCs finish.
        for (let i = 0; i < 5; i++) {
            await new Promise((resolve) => setTimeout(resolve, 10));
        }
    } finally {
        process.removeListener("unhandledRejection", collect);
        for (const listener of saved) {
            process.on("unhandledRejection", listener as (...args: unknown[]) => void);
        }
    }
    const resources = [...mocks.resources];
    const byType = (type: string) => resources.filter((r) => r.type === type);
    return {
        bus,
        thrown,
        failures: [...new Set(failures)],
        resources,
        byType,
        streamInputs() {
            const streams = byType(STREAM_TYPE);
            if (streams.length !== 1) {
                throw new Error(
                    `expected one Stream registration, found ${streams.length}; failures: ${failures.join(" | ")}`,
                );
            }
            return streams[0].inputs;
        },
    };
}

/** The Stream's registered inputs as the dynamic provider receives them (without the serialized provider). */
export function streamPropsOf(inputs: any): StreamProps {
    const { __provider: _provider, observedServerVersion: _observed, ...props } = inputs;
    return props as StreamProps;
}

// ---------------------------------------------------------------------------
// A small PKI
// ---------------------------------------------------------------------------

const EC: crypto.webcrypto.EcKeyGenParams & crypto.webcrypto.EcdsaParams = {
    name: "ECDSA",
    namedCurve: "P-256",
    hash: "SHA-256",
};

/** A certificate with its PKCS#8 private key, both PEM. */
export interface Issued {
    certPem: string;
    keyPem: string;
}

export interface TestCa extends Issued {
    cert: x509.X509Certificate;
    keys: crypto.webcrypto.CryptoKeyPair;
}

async function keyPem(key: crypto.webcrypto.CryptoKey): Promise<string> {
    const der = Buffer.from(await crypto.webcrypto.subtle.exportKey("pkcs8", key));
    return `-----BEGIN PRIVATE KEY-----\n${der.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END PRIVATE KEY-----\n`;
}

function validity(): { notBefore: Date; notAfter: Date } {
    const now = Date.now();
    return { notBefore: new Date(now - 60_000), notAfter: new Date(now + 24 * 3600_000) };
}

/** A self-signed CA. */
export async function createTestCa(commonName: string): Promise<TestCa> {
    const keys = (await crypto.webcrypto.subtle.generateKey(EC, true, [
        "sign",
        "verify",
    ])) as crypto.webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: crypto
            .randomBytes(8)
            .toString("hex")
            .replace(/^[89a-f]/, "1"),
        name: `CN=${commonName}`,
        keys,
        signingAlgorithm: EC,
        ...validity(),
        extensions: [
            new x509.BasicConstraintsExtension(true, undefined, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
            await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ],
    });
    return { cert, keys, certPem: cert.toString("pem") + "\n", keyPem: await keyPem(keys.privateKey) };
}

/** A leaf certificate signed by `ca`, for a server (with SANs) or a client. */
export async function issueTestCert(
    ca: TestCa,
    options: { commonName: string; dnsNames?: string[]; ipAddresses?: string[]; usage: "server" | "client" },
): Promise<Issued> {
    const keys = (await crypto.webcrypto.subtle.generateKey(EC, true, [
        "sign",
        "verify",
    ])) as crypto.webcrypto.CryptoKeyPair;
    const sans: x509.JsonGeneralName[] = [
        ...(options.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
        ...(options.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
    ];
    const cert = await x509.X509CertificateGenerator.create({
        serialNumber: crypto
            .randomBytes(8)
            .toString("hex")
            .replace(/^[89a-f]/, "1"),
        subject: `CN=${options.commonName}`,
        issuer: ca.cert.subject,
        publicKey: keys.publicKey,
        signingKey: ca.keys.privateKey,
        signingAlgorithm: EC,
        ...validity(),
        extensions: [
            new x509.BasicConstraintsExtension(false, undefined, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
            new x509.ExtendedKeyUsageExtension([
                options.usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
            ]),
            ...(sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans)] : []),
            await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
        ],
    });
    return { certPem: cert.toString("pem") + "\n", keyPem: await keyPem(keys.privateKey) };
}

// ---------------------------------------------------------------------------
// Go durations
// ---------------------------------------------------------------------------

const GO_UNITS_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/**
 * Go's `time.ParseDuration`, as Argo's clients apply it (through viper's GetDuration) to `maxAge`
 * and `duplicates`: milliseconds, or undefined where Go would return an error.
 */
export function parseGoDurationMs(text: string): number | undefined {
    if (text === "0") return 0;
    const match = /^([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(text);
    if (!match) return undefined;
    let ns = 0;
    for (const part of match[2].matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
        ns += Number(part[1]) * GO_UNITS_NS[part[2]];
    }
    return (match[1] === "-" ? -ns : ns) / 1e6;
}
