/**
 * Object names and labels, the same as Argo Events' so its users find what they know
 * (Argo Events, https://github.com/argoproj/argo-events).
 */

/** The names of everything a bus creates in Kubernetes. */
export interface ObjectNames {
    /** Prefix of every name: `eventbus-<busName>-js`. Also the StatefulSet name. */
    statefulSet: string;
    /** Headless Service, used by clients and for the per-pod DNS names of routes. */
    service: string;
    /** ConfigMap holding `nats-js.conf`. */
    configMap: string;
    /** Secret with the auth include, TLS material and encryption key. */
    serverSecret: string;
    /** Secret with the client credentials, CA and URL. */
    clientSecret: string;
    /** PVC template name. */
    volumeClaim: string;
    /** PodDisruptionBudget. */
    podDisruptionBudget: string;
}

/** Names for bus `busName` (Argo Events' names, so Argo's clients find the same objects). */
export function objectNames(busName: string): ObjectNames {
    const prefix = `eventbus-${busName}-js`;
    return {
        statefulSet: prefix,
        service: `${prefix}-svc`,
        configMap: `${prefix}-config`,
        serverSecret: `${prefix}-server`,
        clientSecret: `${prefix}-client-auth`,
        volumeClaim: `${prefix}-vol`,
        podDisruptionBudget: `${prefix}-pdb`,
    };
}

/** StatefulSet annotation with the volume size its claims were last asked for. */
export const VOLUME_SIZE_ANNOTATION = "jetstream-eventbus/volume-size";

/** The selector labels: Argo Events' three, which select the pods of one bus. */
export function selectorLabels(busName: string): Record<string, string> {
    return {
        controller: "eventbus-controller",
        "eventbus-name": busName,
        "owner-name": busName,
    };
}

/** Labels on every object: Argo's plus the recommended `app.kubernetes.io/*` ones. */
export function commonLabels(busName: string): Record<string, string> {
    return {
        ...selectorLabels(busName),
        "app.kubernetes.io/name": "nats",
        "app.kubernetes.io/instance": `eventbus-${busName}`,
        "app.kubernetes.io/component": "eventbus",
        "app.kubernetes.io/managed-by": "jetstream-eventbus",
    };
}

/** DNS names of the bus inside the cluster. */
export interface ServiceDns {
    /** `<svc>.<ns>.svc`: the name clients use and verify the certificate against. */
    serviceHost: string;
    /** `nats://<svc>.<ns>.svc:4222`, as Argo Events publishes it. */
    url: string;
    /** Route URL of every pod, `.svc` not `.svc.<clusterDomain>` (Argo #2655). */
    routeUrls: string[];
    /** Host name of each pod. */
    podHosts: string[];
}

/** In-cluster DNS names of bus `busName` in `namespace`. */
export function serviceDns(
    busName: string,
    namespace: string,
    replicas: number,
    clientPort: number,
    clusterPort: number,
): ServiceDns {
    const names = objectNames(busName);
    const serviceHost = `${names.service}.${namespace}.svc`;
    const podHosts = Array.from({ length: replicas }, (_, i) => `${names.statefulSet}-${i}.${serviceHost}`);
    return {
        serviceHost,
        url: `nats://${serviceHost}:${clientPort}`,
        routeUrls: podHosts.map((host) => `nats://${host}:${clusterPort}`),
        podHosts,
    };
}

/**
 * Subject alternative names of the client certificate: every way a client in the cluster
 * may name the service: short, with the namespace, with `.svc`, and fully qualified.
 */
export function serverCertificateDnsNames(busName: string, namespace: string, clusterDomain: string): string[] {
    const service = objectNames(busName).service;
    return [
        service,
        `${service}.${namespace}`,
        `${service}.${namespace}.svc`,
        `${service}.${namespace}.svc.${clusterDomain}`,
    ];
}

/** Subject alternative names of the route certificate: wildcards over the pod names (Argo #2827). */
export function routeCertificateDnsNames(busName: string, namespace: string, clusterDomain: string): string[] {
    const service = objectNames(busName).service;
    return [`*.${service}.${namespace}.svc`, `*.${service}.${namespace}.svc.${clusterDomain}`];
}
