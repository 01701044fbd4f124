/**
 * Pulumi runtime mocks for the tests: the stand-in mocks of the commands
 * (cli/capture.ts), plus what only an engine does: each registration's URN
 * with its parent type chain, and outputs kept secret.
 *
 * `pulumi.runtime.setMocks` never runs providers, but several tests render the
 * component's output and boot real nats-server clusters from it. Placeholder
 * strings would make those servers fail for reasons unrelated to the code under
 * test, so the stand-ins generate genuine keys, certificates, CSRs, passwords and
 * bcrypt hashes from the same inputs the providers would receive, following
 * the Terraform providers' semantics (defaults, key-usage mapping, extension
 * layout) closely enough that a misconfiguration shows up in the material.
 */
import "../../cli/reflect-metadata";
import * as pulumi from "@pulumi/pulumi";
import * as x509 from "@peculiar/x509";
import * as crypto from "node:crypto";
import { CapturedResource, standInMocks } from "../../cli/capture";
import { OID_NAMES, SECRET_SIG, SPECIAL_SIG_KEY } from "../../cli/stand-ins";

/** One resource registration seen by the mocks: what the stand-in mocks record, and its URN. */
export interface RecordedResource extends CapturedResource {
    /** Inputs as the engine received them (secrets already unwrapped). */
    inputs: any;
    /** State returned by the mock: inputs merged with computed outputs. */
    state: any;
    /** URN assigned by the mock monitor (includes the parent type chain). */
    urn: string;
}

/** Handle returned by {@link installRealisticMocks}. */
export interface RealisticMocks {
    /** Every registration so far, in order. */
    resources: RecordedResource[];
    /** Registrations of one type token. */
    byType(type: string): RecordedResource[];
    /** The single registration with this type and name; throws when absent or ambiguous. */
    get(type: string, name: string): RecordedResource;
    /** Forget the recorded registrations (the mocks stay installed). */
    reset(): void;
    /** Makes `Resource.get(type, id)` find this state, as if the object existed in the cluster; other reads fail. */
    setExisting(type: string, id: string, state: Record<string, any>): void;
    /** Forgets every object given to {@link setExisting}. */
    clearExisting(): void;
}

/** Options for {@link installRealisticMocks}. */
export interface RealisticMockOptions {
    project?: string;
    stack?: string;
    /**
     * Simulate `pulumi preview`: like the real providers, computed outputs of
     * new tls/random resources are left unknown.
     */
    preview?: boolean;
}

// ---------------------------------------------------------------------------
// Mock wiring
// ---------------------------------------------------------------------------

/**
 * Installs Pulumi mocks whose tls/random resources carry real cryptographic
 * material, and records every registration for assertions.
 *
 * Computed outputs follow the providers for the resources the component
 * creates: e.g. certificates get exactly the key usages listed in
 * `allowedUses`; what the stand-ins do not implement is refused. Any other
 * resource type echoes its inputs as state with id `<name>_id`; invokes/calls
 * echo their inputs.
 */
export function installRealisticMocks(opts: RealisticMockOptions = {}): RealisticMocks {
    const preview = opts.preview ?? false;
    const project = opts.project ?? "project";
    const stack = opts.stack ?? "stack";
    const resources: RecordedResource[] = [];
    const existing: Record<string, Record<string, any>> = {};
    // The generated material is not reused here: every registration gets fresh keys and passwords.
    const standIns = standInMocks({ existing, preview }, resources as CapturedResource[], {});
    // Set by the monitor wrapper immediately before it synchronously calls newResource.
    let pendingSecretKeys = new Set<string>();

    const mocks: pulumi.runtime.Mocks = {
        async newResource(args: pulumi.runtime.MockResourceArgs): Promise<pulumi.runtime.MockResourceResult> {
            // Everything up to the first await runs inside the wrapper's registerResource call.
            const secretKeys = pendingSecretKeys;
            pendingSecretKeys = new Set();
            const index = resources.length;
            const answer = standIns.newResource(args);
            // The stand-in mocks record the registration before their first await.
            resources[index]!.urn = `urn:pulumi:${stack}::${project}::${args.type}::${args.name}`;
            const { id, state } = await answer;
            return { id, state: markSecrets(state, secretKeys) };
        },
        call: standIns.call,
    };

    void pulumi.runtime.setMocks(mocks, project, stack, preview);
    instrumentMonitor(resources, (keys) => {
        pendingSecretKeys = keys;
    });

    return {
        resources,
        byType: (type) => resources.filter((r) => r.type === type),
        get(type, name) {
            const found = resources.filter((r) => r.type === type && r.name === name);
            if (found.length !== 1) {
                throw new Error(`expected exactly one ${type} named '${name}', found ${found.length}`);
            }
            return found[0]!;
        },
        reset: () => {
            resources.length = 0;
        },
        setExisting(type, id, state) {
            existing[`${type}::${id}`] = state;
        },
        clearExisting() {
            for (const key of Object.keys(existing)) {
                delete existing[key];
            }
        },
    };
}

function containsSecret(raw: any): boolean {
    if (Array.isArray(raw)) {
        return raw.some(containsSecret);
    }
    if (raw !== null && typeof raw === "object") {
        return raw[SPECIAL_SIG_KEY] === SECRET_SIG || Object.values(raw).some(containsSecret);
    }
    return false;
}

function markSecrets(state: Record<string, any>, keys: Set<string>): Record<string, any> {
    if (keys.size === 0) {
        return state;
    }
    const out: Record<string, any> = { ...state };
    for (const key of keys) {
        if (out[key] !== undefined) {
            out[key] = pulumi.secret(out[key]);
        }
    }
    return out;
}

/**
 * Two things only the mock monitor's request carries:
 * - the parent, hence the real URN (with its parent type chain);
 * - which outputs must come back secret. The engine, not the SDK, applies
 *   `additionalSecretOutputs` and keeps outputs of secret inputs secret, and
 *   the mock monitor does neither. Without this, a test could not tell whether
 *   a private key or password stays secret through the component.
 */
function instrumentMonitor(resources: RecordedResource[], setSecretKeys: (keys: Set<string>) => void): void {
    const monitor = pulumi.runtime.getMonitor() as any;
    if (!monitor || typeof monitor.registerResource !== "function") {
        return;
    }
    const original = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: any, resp: any) => void) => {
        const keys = new Set<string>(req.getAdditionalsecretoutputsList?.() ?? []);
        const raw = req.getObject?.()?.toJavaScript?.() ?? {};
        for (const [key, value] of Object.entries(raw)) {
            if (containsSecret(value)) {
                keys.add(key);
            }
        }
        setSecretKeys(keys);
        const index = resources.length;
        return original(req, (err: any, resp: any) => {
            const record = resources[index];
            if (!err && resp && record && typeof resp.getUrn === "function") {
                record.urn = resp.getUrn();
            }
            callback(err, resp);
        });
    };
}

/**
 * Resolves an Output to its value, including secret outputs. Rejects when the
 * value is unknown (as happens for computed outputs during a mocked preview).
 */
export async function resolve<T>(output: pulumi.Output<T>): Promise<T> {
    const impl = output as any;
    if (typeof impl.promise === "function" && impl.isKnown instanceof Promise) {
        const [value, known] = await Promise.all([impl.promise() as Promise<T>, impl.isKnown as Promise<boolean>]);
        if (!known) {
            throw new Error("output is unknown");
        }
        return value;
    }
    return new Promise<T>((res) => output.apply((v) => res(v as T)));
}

/** True when the Output is marked secret. */
export function isSecretOutput(o: pulumi.Output<unknown>): Promise<boolean> {
    return pulumi.isSecret(o);
}

// ---------------------------------------------------------------------------
// Certificate inspection
// ---------------------------------------------------------------------------

/** Facts about a certificate, in a shape convenient for assertions. */
export interface CertificateFacts {
    /** RFC 4514-style subject, e.g. `CN=nats, O=example`. */
    subject: string;
    issuer: string;
    commonName?: string;
    serialNumber: string;
    dnsNames: string[];
    ipAddresses: string[];
    uris: string[];
    /** RFC 5280 names: digitalSignature, keyEncipherment, keyCertSign, cRLSign, ... */
    keyUsages: string[];
    keyUsageCritical?: boolean;
    /** serverAuth, clientAuth, ... (unrecognised ones as dotted OIDs). */
    extKeyUsages: string[];
    isCa: boolean;
    /** Whether a BasicConstraints extension is present at all. */
    hasBasicConstraints: boolean;
    pathLength?: number;
    subjectKeyId?: string;
    authorityKeyId?: string;
    notBefore: Date;
    notAfter: Date;
    /** Provider spelling: `ECDSA`, `RSA` or `ED25519`. */
    publicKeyAlgorithm: string;
    /** Provider spelling (`P256`, `P224`, ...) for ECDSA keys. */
    namedCurve?: string;
    /** Digest of the signature algorithm, e.g. `SHA-256` (absent for Ed25519). */
    signatureHash?: string;
}

const KEY_USAGE_NAMES: [x509.KeyUsageFlags, string][] = [
    [x509.KeyUsageFlags.digitalSignature, "digitalSignature"],
    [x509.KeyUsageFlags.nonRepudiation, "contentCommitment"],
    [x509.KeyUsageFlags.keyEncipherment, "keyEncipherment"],
    [x509.KeyUsageFlags.dataEncipherment, "dataEncipherment"],
    [x509.KeyUsageFlags.keyAgreement, "keyAgreement"],
    [x509.KeyUsageFlags.keyCertSign, "keyCertSign"],
    [x509.KeyUsageFlags.cRLSign, "cRLSign"],
    [x509.KeyUsageFlags.encipherOnly, "encipherOnly"],
    [x509.KeyUsageFlags.decipherOnly, "decipherOnly"],
];

/** The provider's names of key types and curves, from node's. */
const KEY_ALGORITHMS: Record<string, string> = { ec: "ECDSA", rsa: "RSA", ed25519: "ED25519" };
const CURVES: Record<string, string> = { secp224r1: "P224", prime256v1: "P256", secp384r1: "P384", secp521r1: "P521" };

/** Parses a PEM certificate (the first one, if given a bundle) into {@link CertificateFacts}. */
export function certificateFacts(pem: string): CertificateFacts {
    const first = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/);
    if (!first) {
        throw new Error("no PEM certificate found");
    }
    const cert = new x509.X509Certificate(first[0]);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    const names = san ? san.names.toJSON() : [];
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
    const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
    const key = crypto.createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: "der", type: "spki" });
    const algorithm = KEY_ALGORITHMS[key.asymmetricKeyType ?? ""] ?? String(key.asymmetricKeyType);
    const cn = cert.subjectName.getField("CN");
    return {
        subject: cert.subject,
        issuer: cert.issuer,
        commonName: cn.length > 0 ? cn[0] : undefined,
        serialNumber: cert.serialNumber,
        dnsNames: names.filter((n) => n.type === "dns").map((n) => n.value),
        ipAddresses: names.filter((n) => n.type === "ip").map((n) => n.value),
        uris: names.filter((n) => n.type === "url").map((n) => n.value),
        keyUsages: ku ? KEY_USAGE_NAMES.filter(([flag]) => (ku.usages & flag) !== 0).map(([, n]) => n) : [],
        keyUsageCritical: ku?.critical,
        extKeyUsages: eku ? Array.from(eku.usages, (u) => OID_NAMES[String(u)] ?? String(u)) : [],
        isCa: bc?.ca ?? false,
        hasBasicConstraints: bc !== null && bc !== undefined,
        pathLength: bc?.pathLength,
        subjectKeyId: ski?.keyId,
        authorityKeyId: aki?.keyId,
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
        publicKeyAlgorithm: algorithm,
        namedCurve:
            algorithm === "ECDSA"
                ? (CURVES[key.asymmetricKeyDetails?.namedCurve ?? ""] ?? key.asymmetricKeyDetails?.namedCurve)
                : undefined,
        signatureHash: (cert.signatureAlgorithm as { hash?: { name?: string } }).hash?.name,
    };
}
