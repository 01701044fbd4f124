import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { DEFAULTS } from "../defaults";
import { routeCertificateDnsNames, serverCertificateDnsNames } from "../kube/names";

/** What the bus's TLS needs, as Pulumi outputs. Private keys are secrets. */
export interface BusCertificates {
    caCertPem: pulumi.Output<string>;
    serverKeyPem: pulumi.Output<string>;
    serverCertPem: pulumi.Output<string>;
    routeKeyPem: pulumi.Output<string>;
    routeCertPem: pulumi.Output<string>;
}

/** The identity a set of certificates is made for. */
export interface CertificateSubject {
    busName: string;
    namespace: string;
    clusterDomain: string;
}

// ECDSA P-256: strong, small and fast. Never the provider's P224 default, which many TLS stacks refuse.
const KEY_ALGORITHM = { algorithm: "ECDSA", ecdsaCurve: "P256" } as const;

function leafCertificate(
    name: string,
    commonName: string,
    dnsNames: string[],
    allowedUses: string[],
    ca: { keyPem: pulumi.Output<string>; certPem: pulumi.Output<string> },
    opts: pulumi.CustomResourceOptions,
): { keyPem: pulumi.Output<string>; certPem: pulumi.Output<string> } {
    const key = new tls.PrivateKey(`${name}-key`, KEY_ALGORITHM, opts);
    const request = new tls.CertRequest(
        `${name}-csr`,
        {
            privateKeyPem: key.privateKeyPem,
            subject: { commonName, organization: DEFAULTS.organization },
            dnsNames,
        },
        opts,
    );
    const cert = new tls.LocallySignedCert(
        `${name}-cert`,
        {
            certRequestPem: request.certRequestPem,
            caPrivateKeyPem: ca.keyPem,
            caCertPem: ca.certPem,
            validityPeriodHours: DEFAULTS.leafValidityHours,
            // `pulumi up` in the last 30 days reissues the certificate; the reloader applies it (Argo #2824).
            earlyRenewalHours: DEFAULTS.leafEarlyRenewalHours,
            allowedUses,
        },
        opts,
    );
    return { keyPem: pulumi.secret(key.privateKeyPem), certPem: cert.certPem };
}

/**
 * One CA and two leaf certificates: the client certificate names the service
 * in every form a client may use; the route certificate covers every pod name and is both server
 * and client, since route TLS is mutual
 * (https://docs.nats.io/running-a-nats-service/configuration/clustering/cluster_tls). The CA key stays in Pulumi state,
 * as a
 * secret, so leaves can be reissued from the same CA and clients keep trusting it.
 */
export function createCertificates(
    name: string,
    subject: CertificateSubject,
    opts: pulumi.CustomResourceOptions,
): BusCertificates {
    const caKey = new tls.PrivateKey(`${name}-ca-key`, KEY_ALGORITHM, opts);
    const caCert = new tls.SelfSignedCert(
        `${name}-ca`,
        {
            privateKeyPem: caKey.privateKeyPem,
            subject: { commonName: `eventbus-${subject.busName} CA`, organization: DEFAULTS.organization },
            isCaCertificate: true,
            validityPeriodHours: DEFAULTS.caValidityHours,
            earlyRenewalHours: DEFAULTS.caEarlyRenewalHours,
            allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
        },
        opts,
    );
    const ca = { keyPem: caKey.privateKeyPem, certPem: caCert.certPem };
    const serverNames = serverCertificateDnsNames(subject.busName, subject.namespace, subject.clusterDomain);
    // Common names stay within X.509's 64 characters; clients check the subject alternative names.
    const service = `eventbus-${subject.busName}-js-svc`;
    const server = leafCertificate(
        `${name}-server`,
        service,
        serverNames,
        ["digital_signature", "key_encipherment", "server_auth"],
        ca,
        opts,
    );
    const routeNames = routeCertificateDnsNames(subject.busName, subject.namespace, subject.clusterDomain);
    const route = leafCertificate(
        `${name}-route`,
        `eventbus-${subject.busName}-js-route`,
        routeNames,
        ["digital_signature", "key_encipherment", "server_auth", "client_auth"],
        ca,
        opts,
    );
    return {
        caCertPem: caCert.certPem,
        serverKeyPem: server.keyPem,
        serverCertPem: server.certPem,
        routeKeyPem: route.keyPem,
        routeCertPem: route.certPem,
    };
}
