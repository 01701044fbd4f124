/**
 * Stand-ins for the `tls` and `random` providers: real keys, certificates, CSRs, passwords and
 * bcrypt hashes from the same inputs the providers get, following the Terraform providers'
 * semantics (defaults, key-usage mapping, extension layout).
 *
 * `pulumi.runtime.setMocks` runs no provider. The commands that render a bus without an engine
 * (`local`, `render`) and the tests run the component under mocks answered by these, so servers
 * started from the output get genuine material and a misconfiguration shows in it.
 */
import "./reflect-metadata";
import * as crypto from "node:crypto";
import * as x509 from "@peculiar/x509";
import bcrypt from "bcryptjs";

x509.cryptoProvider.set(crypto.webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
// WebCrypto has no P-224, so signatures over that curve are produced by node:crypto
// (see nodeCrypto below); the ASN.1 signature formatter still needs its point size.
x509.AsnEcSignatureFormatter.namedCurveSize.set("P-224", 28);

/** Computes a resource's outputs from its inputs. */
type Generator = (inputs: Record<string, any>) => Record<string, any> | Promise<Record<string, any>>;

// ---------------------------------------------------------------------------
// Input normalisation
// ---------------------------------------------------------------------------

export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4";
export const SPECIAL_SIG_KEY = "4dabf18193072939515e22adb298388d";

/**
 * Strips secret / output-value wrappers. The mock monitor currently hands us
 * plain values, but the wire format allows wrapped ones, so accept both.
 */
export function plain(value: any): any {
    if (Array.isArray(value)) {
        return value.map(plain);
    }
    if (value !== null && typeof value === "object") {
        const sig = value[SPECIAL_SIG_KEY];
        if (sig === SECRET_SIG || sig === OUTPUT_SIG) {
            return plain(value.value);
        }
        const out: Record<string, any> = {};
        for (const [k, v] of Object.entries(value)) {
            out[k] = plain(v);
        }
        return out;
    }
    return value;
}

class MissingInputError extends Error {}

function required<T>(inputs: Record<string, any>, ...keys: string[]): T {
    for (const key of keys) {
        if (inputs[key] !== undefined && inputs[key] !== null && inputs[key] !== "") {
            return inputs[key] as T;
        }
    }
    throw new MissingInputError(`missing required input '${keys[0]}'`);
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

type ProviderKeyAlgorithm = "RSA" | "ECDSA" | "ED25519";

const CURVES: Record<string, { openssl: string; web: string; ssh?: string; hash: string; size: number }> = {
    P224: { openssl: "secp224r1", web: "P-224", hash: "SHA-256", size: 28 },
    P256: { openssl: "prime256v1", web: "P-256", ssh: "nistp256", hash: "SHA-256", size: 32 },
    P384: { openssl: "secp384r1", web: "P-384", ssh: "nistp384", hash: "SHA-384", size: 48 },
    P521: { openssl: "secp521r1", web: "P-521", ssh: "nistp521", hash: "SHA-512", size: 66 },
};

export function curveByOpenssl(name: string | undefined): (typeof CURVES)[string] & { id: string } {
    for (const [id, c] of Object.entries(CURVES)) {
        if (c.openssl === name) {
            return { id, ...c };
        }
    }
    throw new Error(`unsupported EC curve ${name}`);
}

export function providerAlgorithmOf(key: crypto.KeyObject): ProviderKeyAlgorithm {
    switch (key.asymmetricKeyType) {
        case "rsa":
            return "RSA";
        case "ec":
            return "ECDSA";
        case "ed25519":
            return "ED25519";
        default:
            throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
    }
}

function sshString(data: Buffer | string): Buffer {
    const body = typeof data === "string" ? Buffer.from(data) : data;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    return Buffer.concat([len, body]);
}

function sshMpint(b64url: string): Buffer {
    let bytes = Buffer.from(b64url, "base64url");
    while (bytes.length > 1 && bytes[0] === 0) {
        bytes = bytes.subarray(1);
    }
    if (bytes[0]! & 0x80) {
        bytes = Buffer.concat([Buffer.from([0]), bytes]);
    }
    return sshString(bytes);
}

/**
 * The bytes Go hashes for a subject key identifier and embeds in SSH keys:
 * the uncompressed EC point, the PKCS#1 RSAPublicKey, or the raw Ed25519 key.
 * Read from the SPKI because node cannot export P-224 keys as JWK.
 */
function publicKeyBytes(pub: crypto.KeyObject): Buffer {
    const spki = pub.export({ type: "spki", format: "der" });
    switch (pub.asymmetricKeyType) {
        case "ec": {
            const size = curveByOpenssl(pub.asymmetricKeyDetails?.namedCurve).size;
            return spki.subarray(spki.length - (2 * size + 1));
        }
        case "ed25519":
            return spki.subarray(spki.length - 32);
        case "rsa":
            return pub.export({ type: "pkcs1", format: "der" });
        default:
            throw new Error(`unsupported key type ${pub.asymmetricKeyType}`);
    }
}

/** Subject key identifier input as the provider computes it (Ed25519 keys are asn1-marshalled as an OCTET STRING). */
function skiSourceOf(pub: crypto.KeyObject): Buffer {
    const bytes = publicKeyBytes(pub);
    return pub.asymmetricKeyType === "ed25519" ? Buffer.concat([Buffer.from([0x04, bytes.length]), bytes]) : bytes;
}

/** SSH wire-format public key, or undefined where OpenSSH has no encoding (P-224). */
function sshPublicKey(pub: crypto.KeyObject): { type: string; blob: Buffer } | undefined {
    switch (pub.asymmetricKeyType) {
        case "rsa": {
            const jwk = pub.export({ format: "jwk" });
            return { type: "ssh-rsa", blob: Buffer.concat([sshString("ssh-rsa"), sshMpint(jwk.e!), sshMpint(jwk.n!)]) };
        }
        case "ed25519":
            return { type: "ssh-ed25519", blob: Buffer.concat([sshString("ssh-ed25519"), sshString(publicKeyBytes(pub))]) };
        case "ec": {
            const curve = curveByOpenssl(pub.asymmetricKeyDetails?.namedCurve);
            if (!curve.ssh) {
                return undefined;
            }
            const type = `ecdsa-sha2-${curve.ssh}`;
            return { type, blob: Buffer.concat([sshString(type), sshString(curve.ssh), sshString(publicKeyBytes(pub))]) };
        }
        default:
            return undefined;
    }
}

function privateKeyOutputs(inputs: Record<string, any>): Record<string, any> {
    const algorithm = required<string>(inputs, "algorithm");
    // Provider defaults, echoed into state as the provider does.
    const ecdsaCurve: string = inputs.ecdsaCurve ?? "P224";
    const rsaBits: number = inputs.rsaBits ?? 2048;
    let pair: crypto.KeyPairKeyObjectResult;
    let pem: string;
    switch (algorithm) {
        case "RSA":
            pair = crypto.generateKeyPairSync("rsa", { modulusLength: rsaBits });
            pem = pair.privateKey.export({ type: "pkcs1", format: "pem" }) as string;
            break;
        case "ECDSA": {
            const curve = CURVES[ecdsaCurve];
            if (!curve) {
                throw new Error(`invalid ecdsaCurve '${ecdsaCurve}' (expected one of ${Object.keys(CURVES).join(", ")})`);
            }
            pair = crypto.generateKeyPairSync("ec", { namedCurve: curve.openssl });
            pem = pair.privateKey.export({ type: "sec1", format: "pem" }) as string;
            break;
        }
        case "ED25519":
            pair = crypto.generateKeyPairSync("ed25519");
            pem = pair.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
            break;
        default:
            throw new Error(`invalid algorithm '${algorithm}' (expected RSA, ECDSA or ED25519)`);
    }
    const ssh = sshPublicKey(pair.publicKey);
    return {
        algorithm,
        ecdsaCurve,
        rsaBits,
        privateKeyPem: pem,
        privateKeyPemPkcs8: pair.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
        publicKeyPem: pair.publicKey.export({ type: "spki", format: "pem" }) as string,
        publicKeyOpenssh: ssh ? `${ssh.type} ${ssh.blob.toString("base64")}\n` : "",
        publicKeyFingerprintSha256: ssh ? `SHA256:${crypto.createHash("sha256").update(ssh.blob).digest("base64").replace(/=+$/, "")}` : "",
        publicKeyFingerprintMd5: ssh ? (crypto.createHash("md5").update(ssh.blob).digest("hex").match(/../g) ?? []).join(":") : "",
    };
}

// ---------------------------------------------------------------------------
// Signing through node:crypto, exposed to @peculiar/x509 as WebCrypto
// ---------------------------------------------------------------------------

type X509Crypto = Parameters<typeof x509.X509CertificateGenerator.create>[1];

/** Stand-in CryptoKey: @peculiar/x509 only reads `algorithm` and hands the key back to our subtle. */
interface ShimKey {
    type: "private" | "public";
    extractable: boolean;
    usages: string[];
    algorithm: { name: string; namedCurve?: string; hash?: { name: string } };
}

const shimKeys = new WeakMap<object, crypto.KeyObject>();

interface LoadedKey {
    providerAlgorithm: ProviderKeyAlgorithm;
    privateKey: ShimKey;
    publicKey: ShimKey;
    spki: Buffer;
    signingAlgorithm: { name: string; hash?: string };
    /** Bytes Go feeds to SHA-1 for the subject key identifier. */
    skiSource: Buffer;
}

function loadPrivateKey(pem: string): LoadedKey {
    const key = crypto.createPrivateKey(pem);
    const pub = crypto.createPublicKey(key);
    const spki = pub.export({ type: "spki", format: "der" });
    const providerAlgorithm = providerAlgorithmOf(key);
    let algorithm: ShimKey["algorithm"];
    let signingAlgorithm: LoadedKey["signingAlgorithm"];
    switch (providerAlgorithm) {
        case "ECDSA": {
            const curve = curveByOpenssl(key.asymmetricKeyDetails?.namedCurve);
            algorithm = { name: "ECDSA", namedCurve: curve.web };
            // Go picks the digest from the curve: P-224/P-256 -> SHA-256, P-384 -> SHA-384, P-521 -> SHA-512.
            signingAlgorithm = { name: "ECDSA", hash: curve.hash };
            break;
        }
        case "RSA":
            algorithm = { name: "RSASSA-PKCS1-v1_5", hash: { name: "SHA-256" } };
            signingAlgorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
            break;
        case "ED25519":
            algorithm = { name: "Ed25519" };
            signingAlgorithm = { name: "Ed25519" };
            break;
    }
    const skiSource = skiSourceOf(pub);
    const privateKey: ShimKey = { type: "private", extractable: false, usages: ["sign"], algorithm };
    const publicKey: ShimKey = { type: "public", extractable: true, usages: ["verify"], algorithm };
    shimKeys.set(privateKey, key);
    shimKeys.set(publicKey, pub);
    return { providerAlgorithm, privateKey, publicKey, spki, signingAlgorithm, skiSource };
}

function hashName(alg: any): string | null {
    const h = typeof alg?.hash === "string" ? alg.hash : alg?.hash?.name;
    return h ? String(h).replace("-", "").toLowerCase() : null;
}

/**
 * The subset of WebCrypto @peculiar/x509 uses while building certificates and
 * CSRs, implemented with node:crypto so every curve the provider supports
 * (including P-224) can sign.
 */
const nodeCrypto = {
    getRandomValues: <T extends ArrayBufferView>(array: T): T => crypto.webcrypto.getRandomValues(array as any) as T,
    subtle: {
        async sign(alg: any, key: ShimKey, data: ArrayBuffer | ArrayBufferView): Promise<ArrayBuffer> {
            const keyObject = shimKeys.get(key);
            if (!keyObject) {
                throw new Error("unknown signing key");
            }
            const bytes = Buffer.from(ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data));
            const name = String(alg?.name ?? key.algorithm.name).toUpperCase();
            let signature: Buffer;
            if (name === "ECDSA") {
                // WebCrypto's r||s layout, which the x509 formatter converts to DER.
                signature = crypto.sign(hashName(alg), bytes, { key: keyObject, dsaEncoding: "ieee-p1363" });
            } else if (name === "ED25519") {
                signature = crypto.sign(null, bytes, keyObject);
            } else {
                signature = crypto.sign(hashName(alg) ?? "sha256", bytes, keyObject);
            }
            return new Uint8Array(signature).buffer;
        },
        async exportKey(format: string, key: ShimKey): Promise<ArrayBuffer> {
            const keyObject = shimKeys.get(key);
            if (!keyObject || format !== "spki") {
                throw new Error(`cannot export ${format}`);
            }
            const pub = keyObject.type === "private" ? crypto.createPublicKey(keyObject) : keyObject;
            return new Uint8Array(pub.export({ type: "spki", format: "der" })).buffer;
        },
        digest(alg: any, data: ArrayBuffer | ArrayBufferView): Promise<ArrayBuffer> {
            return crypto.webcrypto.subtle.digest(alg, data);
        },
    },
} as unknown as X509Crypto;

// ---------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------

const KEY_USAGES: Record<string, x509.KeyUsageFlags> = {
    digital_signature: x509.KeyUsageFlags.digitalSignature,
    content_commitment: x509.KeyUsageFlags.nonRepudiation,
    key_encipherment: x509.KeyUsageFlags.keyEncipherment,
    data_encipherment: x509.KeyUsageFlags.dataEncipherment,
    key_agreement: x509.KeyUsageFlags.keyAgreement,
    cert_signing: x509.KeyUsageFlags.keyCertSign,
    crl_signing: x509.KeyUsageFlags.cRLSign,
    encipher_only: x509.KeyUsageFlags.encipherOnly,
    decipher_only: x509.KeyUsageFlags.decipherOnly,
};

const EXT_KEY_USAGES: Record<string, { oid: string; name: string }> = {
    any_extended: { oid: "2.5.29.37.0", name: "anyExtendedKeyUsage" },
    server_auth: { oid: "1.3.6.1.5.5.7.3.1", name: "serverAuth" },
    client_auth: { oid: "1.3.6.1.5.5.7.3.2", name: "clientAuth" },
    code_signing: { oid: "1.3.6.1.5.5.7.3.3", name: "codeSigning" },
    email_protection: { oid: "1.3.6.1.5.5.7.3.4", name: "emailProtection" },
    ipsec_end_system: { oid: "1.3.6.1.5.5.7.3.5", name: "ipsecEndSystem" },
    ipsec_tunnel: { oid: "1.3.6.1.5.5.7.3.6", name: "ipsecTunnel" },
    ipsec_user: { oid: "1.3.6.1.5.5.7.3.7", name: "ipsecUser" },
    timestamping: { oid: "1.3.6.1.5.5.7.3.8", name: "timeStamping" },
    ocsp_signing: { oid: "1.3.6.1.5.5.7.3.9", name: "OCSPSigning" },
    microsoft_server_gated_crypto: { oid: "1.3.6.1.4.1.311.10.3.3", name: "microsoftServerGatedCrypto" },
    netscape_server_gated_crypto: { oid: "2.16.840.1.113730.4.1", name: "netscapeServerGatedCrypto" },
    microsoft_commercial_code_signing: { oid: "1.3.6.1.4.1.311.2.1.22", name: "microsoftCommercialCodeSigning" },
    microsoft_kernel_code_signing: { oid: "1.3.6.1.4.1.311.61.1.1", name: "microsoftKernelCodeSigning" },
};

export const OID_NAMES: Record<string, string> = Object.fromEntries(Object.values(EXT_KEY_USAGES).map((e) => [e.oid, e.name]));

const NAME_OIDS = {
    country: "2.5.4.6",
    province: "2.5.4.8",
    locality: "2.5.4.7",
    streetAddress: "2.5.4.9",
    postalCode: "2.5.4.17",
    organization: "2.5.4.10",
    organizationalUnit: "2.5.4.11",
    commonName: "2.5.4.3",
    serialNumber: "2.5.4.5",
    emailAddress: "1.2.840.113549.1.9.1",
};

function nameValue(oid: string, value: string): x509.JsonAttributeObject {
    if (oid === NAME_OIDS.emailAddress) {
        return { ia5String: value };
    }
    // Go's rule: PrintableString when possible (it tolerates '*' and '&'), else UTF8String.
    return /^[A-Za-z0-9 '()+,\-./:=?*&]*$/.test(value) ? { printableString: value } : { utf8String: value };
}

/** Builds the subject in Go's pkix.Name RDN order. */
function subjectName(subject: Record<string, any> | undefined): x509.Name {
    const s = subject ?? {};
    const rdns: x509.JsonAttributeAndObjectValue[] = [];
    const add = (oid: string, values: unknown) => {
        const list = (Array.isArray(values) ? values : values === undefined || values === null || values === "" ? [] : [values]).map(String);
        if (list.length > 0) {
            rdns.push({ [oid]: list.map((v) => nameValue(oid, v)) });
        }
    };
    add(NAME_OIDS.country, s.country);
    add(NAME_OIDS.province, s.province);
    add(NAME_OIDS.locality, s.locality);
    add(NAME_OIDS.streetAddress, s.streetAddresses);
    add(NAME_OIDS.postalCode, s.postalCode);
    add(NAME_OIDS.organization, s.organization);
    add(NAME_OIDS.organizationalUnit, s.organizationalUnit);
    add(NAME_OIDS.commonName, s.commonName);
    add(NAME_OIDS.serialNumber, s.serialNumber);
    add(NAME_OIDS.emailAddress, s.emailAddress);
    return new x509.Name(rdns);
}

function sanNames(inputs: Record<string, any>): x509.JsonGeneralName[] {
    return [
        ...((inputs.dnsNames ?? []) as string[]).map((value) => ({ type: "dns" as const, value })),
        ...((inputs.ipAddresses ?? []) as string[]).map((value) => ({ type: "ip" as const, value })),
        ...((inputs.uris ?? []) as string[]).map((value) => ({ type: "url" as const, value })),
    ];
}

function rfc3339(d: Date): string {
    return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

interface CertificatePlan {
    subject: x509.Name;
    issuer: x509.Name;
    sans: x509.JsonGeneralName[];
    subjectSpki: Buffer;
    subjectSkiSource: Buffer;
    signer: LoadedKey;
    issuerSubjectKeyId?: string;
    selfSigned: boolean;
}

/** Mirrors the provider's createCertificate() on top of Go's x509.CreateCertificate defaults. */
async function createCertificate(inputs: Record<string, any>, plan: CertificatePlan): Promise<Record<string, any>> {
    const validityPeriodHours = Number(required<number>(inputs, "validityPeriodHours"));
    const allowedUses: string[] = required<string[]>(inputs, "allowedUses");
    // Whole seconds: that is all a certificate can carry.
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
    const notAfter = new Date(notBefore.getTime() + validityPeriodHours * 3600 * 1000);
    const serial = crypto.randomBytes(16);
    serial[0]! &= 0x7f;
    if (serial[0] === 0) {
        serial[0] = 1;
    }

    let keyUsage = 0;
    const extKeyUsages: string[] = [];
    for (const use of allowedUses) {
        if (KEY_USAGES[use] !== undefined) {
            keyUsage |= KEY_USAGES[use]!;
        }
        if (EXT_KEY_USAGES[use]) {
            extKeyUsages.push(EXT_KEY_USAGES[use]!.oid);
        }
    }
    const isCa = inputs.isCaCertificate === true;
    if (isCa && plan.subject.toJSON().length === 0) {
        throw new Error("Invalid Certificate Subject: must contain at least one Distinguished Name when creating a CA");
    }
    let subjectKeyId: string | undefined;
    if (isCa || inputs.setSubjectKeyId === true) {
        subjectKeyId = crypto.createHash("sha1").update(plan.subjectSkiSource).digest("hex");
    }
    let authorityKeyId: string | undefined;
    if (!plan.selfSigned) {
        // Go copies the parent's SKI into the AKI of every non-self-signed certificate.
        authorityKeyId = plan.issuerSubjectKeyId;
    } else if (inputs.setAuthorityKeyId === true) {
        authorityKeyId = subjectKeyId;
    }

    // Same extensions, order and criticality as Go's buildCertExtensions.
    const extensions: x509.Extension[] = [];
    if (keyUsage !== 0) {
        extensions.push(new x509.KeyUsagesExtension(keyUsage, true));
    }
    if (extKeyUsages.length > 0) {
        extensions.push(new x509.ExtendedKeyUsageExtension(extKeyUsages, false));
    }
    const maxPathLength = inputs.maxPathLength;
    extensions.push(new x509.BasicConstraintsExtension(isCa, isCa && typeof maxPathLength === "number" && maxPathLength > 0 ? maxPathLength : undefined, true));
    if (subjectKeyId) {
        extensions.push(new x509.SubjectKeyIdentifierExtension(subjectKeyId, false));
    }
    if (authorityKeyId) {
        extensions.push(new x509.AuthorityKeyIdentifierExtension(authorityKeyId, false));
    }
    if (plan.sans.length > 0) {
        extensions.push(new x509.SubjectAlternativeNameExtension(plan.sans, plan.subject.toJSON().length === 0));
    }

    const cert = await x509.X509CertificateGenerator.create(
        {
            serialNumber: serial.toString("hex"),
            subject: plan.subject,
            issuer: plan.issuer,
            notBefore,
            notAfter,
            publicKey: plan.subjectSpki,
            signingKey: plan.signer.privateKey as unknown as crypto.webcrypto.CryptoKey,
            signingAlgorithm: plan.signer.signingAlgorithm,
            extensions,
        },
        nodeCrypto,
    );
    return {
        certPem: cert.toString("pem") + "\n",
        validityStartTime: rfc3339(notBefore),
        validityEndTime: rfc3339(notAfter),
        readyForRenewal: false,
        earlyRenewalHours: inputs.earlyRenewalHours ?? 0,
        isCaCertificate: isCa,
        setSubjectKeyId: inputs.setSubjectKeyId ?? false,
        _serial: BigInt("0x" + serial.toString("hex")).toString(),
    };
}

async function selfSignedCertOutputs(inputs: Record<string, any>): Promise<Record<string, any>> {
    const key = loadPrivateKey(required<string>(inputs, "privateKeyPem", "privateKeyPemWo"));
    const subject = subjectName(inputs.subject);
    const out = await createCertificate(inputs, {
        subject,
        issuer: subject,
        sans: sanNames(inputs),
        subjectSpki: key.spki,
        subjectSkiSource: key.skiSource,
        signer: key,
        selfSigned: true,
    });
    return { ...out, keyAlgorithm: key.providerAlgorithm, setAuthorityKeyId: inputs.setAuthorityKeyId ?? false };
}

async function certRequestOutputs(inputs: Record<string, any>): Promise<Record<string, any>> {
    const key = loadPrivateKey(required<string>(inputs, "privateKeyPem", "privateKeyPemWo"));
    const subject = subjectName(inputs.subject);
    const sans = sanNames(inputs);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create(
        {
            name: subject,
            keys: { privateKey: key.privateKey as unknown as crypto.webcrypto.CryptoKey, publicKey: key.publicKey as unknown as crypto.webcrypto.CryptoKey },
            signingAlgorithm: key.signingAlgorithm,
            extensions: sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans, subject.toJSON().length === 0)] : [],
        },
        nodeCrypto,
    );
    return { certRequestPem: csr.toString("pem") + "\n", keyAlgorithm: key.providerAlgorithm };
}

async function locallySignedCertOutputs(inputs: Record<string, any>): Promise<Record<string, any>> {
    const csr = new x509.Pkcs10CertificateRequest(required<string>(inputs, "certRequestPem"));
    const caKey = loadPrivateKey(required<string>(inputs, "caPrivateKeyPem", "caPrivateKeyPemWo"));
    const caCert = new x509.X509Certificate(required<string>(inputs, "caCertPem"));
    const caSki = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
    const sanRaw = csr.extensions.find((e) => e.type === "2.5.29.17");
    const sanExt = sanRaw ? new x509.SubjectAlternativeNameExtension(sanRaw.rawData) : undefined;
    const csrKey = crypto.createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: "der", type: "spki" });
    const skiSource = skiSourceOf(csrKey);
    const out = await createCertificate(inputs, {
        subject: new x509.Name(csr.subjectName.toJSON()),
        issuer: new x509.Name(caCert.subjectName.toJSON()),
        sans: sanExt ? sanExt.names.toJSON() : [],
        subjectSpki: Buffer.from(csr.publicKey.rawData),
        subjectSkiSource: skiSource,
        signer: caKey,
        issuerSubjectKeyId: caSki?.keyId,
        selfSigned: false,
    });
    return { ...out, caKeyAlgorithm: caKey.providerAlgorithm };
}

// ---------------------------------------------------------------------------
// random
// ---------------------------------------------------------------------------

const NUMERIC = "0123456789";
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

function randomFrom(alphabet: string, count: number): string[] {
    if (count > 0 && alphabet.length === 0) {
        throw new Error("the character set specified is empty");
    }
    return Array.from({ length: Math.max(0, count) }, () => alphabet[crypto.randomInt(alphabet.length)]!);
}

/** The random provider's CreateString: minimums first, fill from the enabled classes, shuffle. */
function randomStringOutputs(inputs: Record<string, any>): Record<string, any> {
    const length = Number(required<number>(inputs, "length"));
    const upper = inputs.upper ?? true;
    const lower = inputs.lower ?? true;
    // `number` is the deprecated alias of `numeric`; the provider keeps them in sync.
    const numeric = inputs.numeric === false || inputs.number === false ? false : true;
    const special = inputs.special ?? true;
    const specialChars = inputs.overrideSpecial ? String(inputs.overrideSpecial) : DEFAULT_SPECIAL;
    const mins = {
        minUpper: Number(inputs.minUpper ?? 0),
        minLower: Number(inputs.minLower ?? 0),
        minNumeric: Number(inputs.minNumeric ?? 0),
        minSpecial: Number(inputs.minSpecial ?? 0),
    };
    const sumMins = mins.minUpper + mins.minLower + mins.minNumeric + mins.minSpecial;
    if (length < 1 || length < sumMins) {
        throw new Error(`length (${length}) must be at least 1 and at least the sum of the minimums (${sumMins})`);
    }
    let alphabet = "";
    alphabet += upper ? UPPER : "";
    alphabet += lower ? LOWER : "";
    alphabet += numeric ? NUMERIC : "";
    alphabet += special ? specialChars : "";
    // As in the provider, minimums draw from their class even if the class is disabled.
    const chars = [
        ...randomFrom(NUMERIC, mins.minNumeric),
        ...randomFrom(LOWER, mins.minLower),
        ...randomFrom(UPPER, mins.minUpper),
        ...randomFrom(specialChars, mins.minSpecial),
    ];
    chars.push(...randomFrom(alphabet, length - chars.length));
    for (let i = chars.length - 1; i > 0; i--) {
        const j = crypto.randomInt(i + 1);
        [chars[i], chars[j]] = [chars[j]!, chars[i]!];
    }
    return {
        length,
        upper,
        lower,
        numeric,
        number: numeric,
        special,
        ...mins,
        result: chars.join(""),
    };
}

function randomPasswordOutputs(inputs: Record<string, any>): Record<string, any> {
    const out = randomStringOutputs(inputs);
    // Go's bcrypt.GenerateFromPassword(DefaultCost) emits "$2a$10$"; bcryptjs defaults to "$2b$".
    const salt = bcrypt.genSaltSync(10).replace(/^\$2b\$/, "$2a$");
    return { ...out, bcryptHash: bcrypt.hashSync(out.result, salt) };
}

function randomIdOutputs(inputs: Record<string, any>): Record<string, any> {
    const byteLength = Number(required<number>(inputs, "byteLength"));
    if (!Number.isInteger(byteLength) || byteLength < 1) {
        throw new Error(`byteLength must be a positive integer, got ${byteLength}`);
    }
    const prefix = inputs.prefix ?? "";
    const bytes = crypto.randomBytes(byteLength);
    return {
        byteLength,
        b64Url: prefix + bytes.toString("base64url"),
        b64Std: prefix + bytes.toString("base64"),
        hex: prefix + bytes.toString("hex"),
        dec: prefix + BigInt("0x" + bytes.toString("hex")).toString(),
    };
}

/** The stand-in for each provider resource type: its computed outputs and its id. */
export const STAND_INS: Record<string, { outputs: Generator; id: (state: Record<string, any>, name: string) => string }> = {
    "tls:index/privateKey:PrivateKey": {
        outputs: privateKeyOutputs,
        id: (s) => crypto.createHash("sha1").update(s.publicKeyPem).digest("hex"),
    },
    "tls:index/selfSignedCert:SelfSignedCert": { outputs: selfSignedCertOutputs, id: (s) => s._serial },
    "tls:index/certRequest:CertRequest": { outputs: certRequestOutputs, id: (_s, name) => `${name}_id` },
    "tls:index/locallySignedCert:LocallySignedCert": { outputs: locallySignedCertOutputs, id: (s) => s._serial },
    "random:index/randomPassword:RandomPassword": { outputs: randomPasswordOutputs, id: () => "none" },
    "random:index/randomString:RandomString": { outputs: randomStringOutputs, id: (s) => s.result },
    "random:index/randomId:RandomId": { outputs: randomIdOutputs, id: (s) => s.b64Url },
};
