/**
 * Stand-ins for the `tls` and `random` provider resources the component creates: real keys,
 * certificates, CSRs, passwords and bcrypt hashes from the same inputs the providers get, following
 * the Terraform providers' semantics (defaults, key-usage mapping, extension layout).
 *
 * `pulumi.runtime.setMocks` runs no provider. The commands that render a bus without an engine
 * (`local`, `render`) and the tests run the component under mocks answered by these, so servers
 * started from the output get genuine material and a misconfiguration shows in it.
 *
 * Only what the component and the tests use is implemented: ECDSA P-256 keys, a self-signed CA,
 * CSRs and certificates it signs (subject common name and organization, DNS names and IP
 * addresses), and random passwords with their bcrypt hash. Anything else is refused, so a
 * component that starts to need more says so.
 */
import "./reflect-metadata";
import * as crypto from "node:crypto";
import * as x509 from "@peculiar/x509";
import bcrypt from "bcryptjs";

x509.cryptoProvider.set(crypto.webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

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

/** Refuses inputs the stand-ins do not implement, rather than ignoring them. */
function unsupported(type: string, inputs: Record<string, any>, keys: string[]): void {
    const set = keys.filter((key) => {
        const value = inputs[key];
        return (
            value !== undefined &&
            value !== null &&
            value !== false &&
            value !== "" &&
            !(Array.isArray(value) && value.length === 0)
        );
    });
    if (set.length > 0) {
        throw new Error(`the ${type} stand-in does not implement ${set.join(", ")} (the component does not use it)`);
    }
}

// ---------------------------------------------------------------------------
// Keys: ECDSA P-256, the component's only algorithm
// ---------------------------------------------------------------------------

const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;

function privateKeyOutputs(inputs: Record<string, any>): Record<string, any> {
    const algorithm = required<string>(inputs, "algorithm");
    // The provider's default curve is P224; the component always asks for P256.
    const ecdsaCurve: string = inputs.ecdsaCurve ?? "P224";
    if (algorithm !== "ECDSA" || ecdsaCurve !== "P256") {
        throw new Error(
            `the PrivateKey stand-in makes ECDSA P256 keys only, not ${algorithm}${algorithm === "ECDSA" ? ` ${ecdsaCurve}` : ""}`,
        );
    }
    const pair = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    return {
        algorithm,
        ecdsaCurve,
        // Echoed into state with its default, as the provider does.
        rsaBits: inputs.rsaBits ?? 2048,
        privateKeyPem: pair.privateKey.export({ type: "sec1", format: "pem" }) as string,
        privateKeyPemPkcs8: pair.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
        publicKeyPem: pair.publicKey.export({ type: "spki", format: "pem" }) as string,
    };
}

/** The uncompressed EC point of a P-256 public key: what Go hashes for a subject key identifier. */
function p256Point(spki: Buffer): Buffer {
    const key = crypto.createPublicKey({ key: spki, format: "der", type: "spki" });
    if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
        throw new Error(
            `the stand-ins handle ECDSA P256 keys only, not ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ""}`.trim(),
        );
    }
    return spki.subarray(spki.length - 65);
}

interface LoadedKey {
    privateKey: crypto.webcrypto.CryptoKey;
    publicKey: crypto.webcrypto.CryptoKey;
    spki: Buffer;
    /** Bytes Go feeds to SHA-1 for the subject key identifier. */
    skiSource: Buffer;
}

async function loadPrivateKey(pem: string): Promise<LoadedKey> {
    const key = crypto.createPrivateKey(pem);
    const spki = crypto.createPublicKey(key).export({ type: "spki", format: "der" });
    const skiSource = p256Point(spki);
    const pkcs8 = key.export({ type: "pkcs8", format: "der" });
    const privateKey = await crypto.webcrypto.subtle.importKey("pkcs8", pkcs8, EC_P256, false, ["sign"]);
    const publicKey = await crypto.webcrypto.subtle.importKey("spki", spki, EC_P256, true, ["verify"]);
    return { privateKey, publicKey, spki, skiSource };
}

// Go picks the digest from the curve: SHA-256 for P-256.
const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" };

// ---------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------

const KEY_USAGES: Record<string, x509.KeyUsageFlags> = {
    digital_signature: x509.KeyUsageFlags.digitalSignature,
    key_encipherment: x509.KeyUsageFlags.keyEncipherment,
    cert_signing: x509.KeyUsageFlags.keyCertSign,
    crl_signing: x509.KeyUsageFlags.cRLSign,
};

const EXT_KEY_USAGES: Record<string, { oid: string; name: string }> = {
    server_auth: { oid: "1.3.6.1.5.5.7.3.1", name: "serverAuth" },
    client_auth: { oid: "1.3.6.1.5.5.7.3.2", name: "clientAuth" },
};

export const OID_NAMES: Record<string, string> = Object.fromEntries(
    Object.values(EXT_KEY_USAGES).map((e) => [e.oid, e.name]),
);

const NAME_OIDS = {
    organization: "2.5.4.10",
    commonName: "2.5.4.3",
};

function nameValue(oid: string, value: string): x509.JsonAttributeObject {
    // Go's rule: PrintableString when possible (it tolerates '*' and '&'), else UTF8String.
    return /^[A-Za-z0-9 '()+,\-./:=?*&]*$/.test(value) ? { printableString: value } : { utf8String: value };
}

/** The subject (organization and common name) in Go's pkix.Name RDN order. */
function subjectName(type: string, subject: Record<string, any> | undefined): x509.Name {
    const s = subject ?? {};
    unsupported(
        type,
        s,
        Object.keys(s).filter((key) => key !== "commonName" && key !== "organization"),
    );
    const rdns: x509.JsonAttributeAndObjectValue[] = [];
    const add = (oid: string, value: unknown) => {
        if (value !== undefined && value !== null && value !== "") {
            rdns.push({ [oid]: [nameValue(oid, String(value))] });
        }
    };
    add(NAME_OIDS.organization, s.organization);
    add(NAME_OIDS.commonName, s.commonName);
    return new x509.Name(rdns);
}

/** DNS names (the component's), then IP addresses (a test's server on 127.0.0.1). */
function sanNames(type: string, inputs: Record<string, any>): x509.JsonGeneralName[] {
    unsupported(type, inputs, ["uris"]);
    return [
        ...((inputs.dnsNames ?? []) as string[]).map((value) => ({ type: "dns" as const, value })),
        ...((inputs.ipAddresses ?? []) as string[]).map((value) => ({ type: "ip" as const, value })),
    ];
}

function rfc3339(d: Date): string {
    return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

interface CertificatePlan {
    type: string;
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
    unsupported(plan.type, inputs, ["maxPathLength", "setSubjectKeyId", "setAuthorityKeyId"]);
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
        if (KEY_USAGES[use] === undefined && !EXT_KEY_USAGES[use]) {
            throw new Error(
                `the ${plan.type} stand-in does not implement the use ${use} (the component does not use it)`,
            );
        }
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
    // Go gives every CA a subject key identifier, and copies the parent's into the authority key
    // identifier of every certificate it signs.
    const subjectKeyId = isCa ? crypto.createHash("sha1").update(plan.subjectSkiSource).digest("hex") : undefined;
    const authorityKeyId = plan.selfSigned ? undefined : plan.issuerSubjectKeyId;

    // Same extensions, order and criticality as Go's buildCertExtensions.
    const extensions: x509.Extension[] = [];
    if (keyUsage !== 0) {
        extensions.push(new x509.KeyUsagesExtension(keyUsage, true));
    }
    if (extKeyUsages.length > 0) {
        extensions.push(new x509.ExtendedKeyUsageExtension(extKeyUsages, false));
    }
    extensions.push(new x509.BasicConstraintsExtension(isCa, undefined, true));
    if (subjectKeyId) {
        extensions.push(new x509.SubjectKeyIdentifierExtension(subjectKeyId, false));
    }
    if (authorityKeyId) {
        extensions.push(new x509.AuthorityKeyIdentifierExtension(authorityKeyId, false));
    }
    if (plan.sans.length > 0) {
        extensions.push(new x509.SubjectAlternativeNameExtension(plan.sans, plan.subject.toJSON().length === 0));
    }

    const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial.toString("hex"),
        subject: plan.subject,
        issuer: plan.issuer,
        notBefore,
        notAfter,
        publicKey: plan.subjectSpki,
        signingKey: plan.signer.privateKey,
        signingAlgorithm: SIGNING_ALGORITHM,
        extensions,
    });
    return {
        certPem: cert.toString("pem") + "\n",
        validityStartTime: rfc3339(notBefore),
        validityEndTime: rfc3339(notAfter),
        readyForRenewal: false,
        earlyRenewalHours: inputs.earlyRenewalHours ?? 0,
        isCaCertificate: isCa,
        setSubjectKeyId: false,
        _serial: BigInt("0x" + serial.toString("hex")).toString(),
    };
}

async function selfSignedCertOutputs(inputs: Record<string, any>): Promise<Record<string, any>> {
    const key = await loadPrivateKey(required<string>(inputs, "privateKeyPem", "privateKeyPemWo"));
    const subject = subjectName("SelfSignedCert", inputs.subject);
    const out = await createCertificate(inputs, {
        type: "SelfSignedCert",
        subject,
        issuer: subject,
        sans: sanNames("SelfSignedCert", inputs),
        subjectSpki: key.spki,
        subjectSkiSource: key.skiSource,
        signer: key,
        selfSigned: true,
    });
    return { ...out, keyAlgorithm: "ECDSA", setAuthorityKeyId: false };
}

async function certRequestOutputs(inputs: Record<string, any>): Promise<Record<string, any>> {
    const key = await loadPrivateKey(required<string>(inputs, "privateKeyPem", "privateKeyPemWo"));
    const subject = subjectName("CertRequest", inputs.subject);
    const sans = sanNames("CertRequest", inputs);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
        name: subject,
        keys: { privateKey: key.privateKey, publicKey: key.publicKey },
        signingAlgorithm: SIGNING_ALGORITHM,
        extensions:
            sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans, subject.toJSON().length === 0)] : [],
    });
    return { certRequestPem: csr.toString("pem") + "\n", keyAlgorithm: "ECDSA" };
}

async function locallySignedCertOutputs(inputs: Record<string, any>): Promise<Record<string, any>> {
    const csr = new x509.Pkcs10CertificateRequest(required<string>(inputs, "certRequestPem"));
    const caKey = await loadPrivateKey(required<string>(inputs, "caPrivateKeyPem", "caPrivateKeyPemWo"));
    const caCert = new x509.X509Certificate(required<string>(inputs, "caCertPem"));
    const caSki = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
    const sanRaw = csr.extensions.find((e) => e.type === "2.5.29.17");
    const sanExt = sanRaw ? new x509.SubjectAlternativeNameExtension(sanRaw.rawData) : undefined;
    const csrSpki = Buffer.from(csr.publicKey.rawData);
    const out = await createCertificate(inputs, {
        type: "LocallySignedCert",
        subject: new x509.Name(csr.subjectName.toJSON()),
        issuer: new x509.Name(caCert.subjectName.toJSON()),
        sans: sanExt ? sanExt.names.toJSON() : [],
        subjectSpki: csrSpki,
        subjectSkiSource: p256Point(csrSpki),
        signer: caKey,
        issuerSubjectKeyId: caSki?.keyId,
        selfSigned: false,
    });
    return { ...out, caKeyAlgorithm: "ECDSA" };
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

/** The stand-in for each provider resource type the component creates: its computed outputs and its id. */
export const STAND_INS: Record<
    string,
    { outputs: Generator; id: (state: Record<string, any>, name: string) => string }
> = {
    "tls:index/privateKey:PrivateKey": {
        outputs: privateKeyOutputs,
        id: (s) => crypto.createHash("sha1").update(s.publicKeyPem).digest("hex"),
    },
    "tls:index/selfSignedCert:SelfSignedCert": { outputs: selfSignedCertOutputs, id: (s) => s._serial },
    "tls:index/certRequest:CertRequest": { outputs: certRequestOutputs, id: (_s, name) => `${name}_id` },
    "tls:index/locallySignedCert:LocallySignedCert": { outputs: locallySignedCertOutputs, id: (s) => s._serial },
    "random:index/randomPassword:RandomPassword": { outputs: randomPasswordOutputs, id: () => "none" },
};
