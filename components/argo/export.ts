/**
 * Argo Events interop: the `jetstreamExotic` EventBus Argo's EventSources and Sensors read, pointing
 * at a bus of this package (Argo Events, https://github.com/argoproj/argo-events). Pure builders.
 */
import type { ArgoEventsArgs } from "../args";
import {
    DNS_LABEL_RULE,
    DNS_SUBDOMAIN_RULE,
    InputError,
    isDnsLabel,
    isDnsSubdomain,
    keysOf,
    rejectUnknownKeys,
} from "../check";
import { StreamSpec, toArgoStreamConfig } from "../stream/model";

/** The Argo EventBus CRD this needs. */
export const ARGO_EVENTBUS_CRD = "eventbuses.argoproj.io";

/** Keys of the client Secret copied into each namespace, as Argo's clients mount them. */
export const ARGO_CLIENT_SECRET_KEYS = {
    auth: "client-auth",
    caCert: "ca.crt",
    clientCert: "client.crt",
    clientKey: "client.key",
} as const;

/** What the bus's clients need, as far as the Argo EventBus spec is concerned. */
export interface ArgoClientMaterial {
    /** A user name and password exist (the copied Secret has `client-auth`). */
    withAuth: boolean;
    /** A CA exists (the copied Secret has `ca.crt`). */
    withCa: boolean;
    /** A client certificate and key exist (the copied Secret has `client.crt` and `client.key`). */
    withClientCert: boolean;
    /** The server certificate is not verified. */
    insecureSkipVerify: boolean;
}

const ARGO_EVENTS_KEYS = keysOf<ArgoEventsArgs>()(["eventBusName", "namespaces"]);

/** Checked Argo interop settings. */
export interface ArgoEventsSpec {
    eventBusName: string;
    namespaces: string[];
}

/**
 * Checks `argoEvents`. Argo's clients use stream `default` and subjects `default.<source>.<event>`
 * whatever the EventBus says (https://github.com/argoproj/argo-events/issues/3549), so a renamed stream cannot serve
 * them.
 */
export function resolveArgoEvents(
    argoEvents: { eventBusName?: string; namespaces?: string[] } | undefined,
    stream: StreamSpec,
    field = "argoEvents",
): ArgoEventsSpec | undefined {
    if (argoEvents === undefined) {
        return undefined;
    }
    rejectUnknownKeys(argoEvents, ARGO_EVENTS_KEYS, field);
    const eventBusName = argoEvents.eventBusName ?? "default";
    if (!isDnsSubdomain(eventBusName)) {
        throw new InputError(
            `${field}.eventBusName`,
            `${JSON.stringify(eventBusName)} is not a valid Kubernetes object name: ${DNS_SUBDOMAIN_RULE}`,
        );
    }
    const namespaces = argoEvents.namespaces;
    if (!Array.isArray(namespaces) || namespaces.length === 0) {
        throw new InputError(`${field}.namespaces`, "list at least one namespace to create the Argo EventBus in");
    }
    namespaces.forEach((ns, i) => {
        if (!isDnsLabel(ns)) {
            throw new InputError(
                `${field}.namespaces[${i}]`,
                `${JSON.stringify(ns)} is not a valid namespace name: ${DNS_LABEL_RULE}`,
            );
        }
        if (namespaces.indexOf(ns) !== i) {
            throw new InputError(`${field}.namespaces[${i}]`, `"${ns}" is listed twice`);
        }
    });
    if (stream.name !== "default" || stream.subjects.length !== 1 || stream.subjects[0] !== "default.*.*") {
        throw new InputError(
            field,
            `Argo Events' clients use stream "default" with subjects "default.*.*"; this bus's stream is "${stream.name}" with ${JSON.stringify(stream.subjects)}`,
        );
    }
    return { eventBusName, namespaces: [...namespaces] };
}

/**
 * The `spec` of the Argo EventBus: kind `jetstreamExotic` with the bus's URL, the client Secret in
 * Argo's format, the CA so Argo's clients verify the server (Argo's own bus skips verification), a
 * client certificate when the server needs one, and the complete stream configuration, since Argo
 * applies no defaults in exotic mode (https://github.com/argoproj/argo-events/issues/3549). Any TLS is explicit, so
 * Argo behaves the same before and
 * after #4114; a plaintext server gets no `tls`.
 */
export function argoEventBusSpec(
    url: string,
    clientSecretName: string,
    stream: StreamSpec,
    material: ArgoClientMaterial,
): Record<string, unknown> {
    const key = (name: string) => ({ name: clientSecretName, key: name });
    const tls = {
        ...(material.withCa ? { caCertSecret: key(ARGO_CLIENT_SECRET_KEYS.caCert) } : {}),
        ...(material.withClientCert
            ? {
                  clientCertSecret: key(ARGO_CLIENT_SECRET_KEYS.clientCert),
                  clientKeySecret: key(ARGO_CLIENT_SECRET_KEYS.clientKey),
              }
            : {}),
        ...(material.insecureSkipVerify ? { insecureSkipVerify: true } : {}),
    };
    return {
        jetstreamExotic: {
            url,
            ...(material.withAuth ? { accessSecret: key(ARGO_CLIENT_SECRET_KEYS.auth) } : {}),
            ...(Object.keys(tls).length > 0 ? { tls } : {}),
            streamConfig: toArgoStreamConfig(stream),
        },
    };
}
