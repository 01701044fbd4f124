import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { CONFIG_FILES, PORTS } from "../defaults";
import type { BusSpec } from "../validate";
import { commonLabels, selectorLabels } from "./names";

/** Keys of the server Secret (as Argo Events names them), and the file each is projected to. */
export const SERVER_SECRET_KEYS = {
    auth: { key: "auth", file: CONFIG_FILES.auth },
    serverKey: { key: "private-key", file: CONFIG_FILES.serverKey },
    serverCert: { key: "cert", file: CONFIG_FILES.serverCert },
    caCert: { key: "ca-cert", file: CONFIG_FILES.caCert },
    clusterKey: { key: "cluster-private-key", file: CONFIG_FILES.clusterKey },
    clusterCert: { key: "cluster-cert", file: CONFIG_FILES.clusterCert },
} as const;

/** Secret keys that are not files in the pod. */
export const SERVER_SECRET_ENV_KEYS = {
    /** JetStream encryption-at-rest key, the `JS_KEY` variable, as Argo Events names it. */
    encryption: "encryption",
    /** Password of the `sys` user, for operators (`nats server report`). */
    systemPassword: "system-password",
} as const;

/** Keys of the client Secret: Argo Events' `client-auth` plus what a client needs to verify TLS. */
export const CLIENT_SECRET_KEYS = {
    auth: "client-auth",
    caCert: "ca.crt",
    url: "url",
} as const;

/** The key of `nats-js.conf` in the ConfigMap, as Argo Events names it. */
export const CONFIG_MAP_KEY = "nats-js";

/** Everything secret or generated that goes into the server Secret. */
export interface ServerSecretData {
    authConfig: pulumi.Input<string>;
    encryptionKey: pulumi.Input<string>;
    systemPassword: pulumi.Input<string>;
    caCertPem: pulumi.Input<string>;
    serverKeyPem: pulumi.Input<string>;
    serverCertPem: pulumi.Input<string>;
    routeKeyPem: pulumi.Input<string>;
    routeCertPem: pulumi.Input<string>;
}

function metadata(spec: BusSpec, name: string): k8s.types.input.meta.v1.ObjectMeta {
    return { name, namespace: spec.namespace, labels: commonLabels(spec.busName) };
}

/** Secret `eventbus-<n>-js-server`: auth include, TLS material, encryption key, as Argo Events' server Secret. */
export function serverSecretArgs(spec: BusSpec, data: ServerSecretData): k8s.core.v1.SecretArgs {
    return {
        metadata: metadata(spec, spec.names.serverSecret),
        type: "Opaque",
        stringData: {
            [SERVER_SECRET_KEYS.auth.key]: data.authConfig,
            [SERVER_SECRET_KEYS.serverKey.key]: data.serverKeyPem,
            [SERVER_SECRET_KEYS.serverCert.key]: data.serverCertPem,
            [SERVER_SECRET_KEYS.caCert.key]: data.caCertPem,
            [SERVER_SECRET_KEYS.clusterKey.key]: data.routeKeyPem,
            [SERVER_SECRET_KEYS.clusterCert.key]: data.routeCertPem,
            [SERVER_SECRET_ENV_KEYS.encryption]: data.encryptionKey,
            [SERVER_SECRET_ENV_KEYS.systemPassword]: data.systemPassword,
        },
    };
}

/** Secret `eventbus-<n>-js-client-auth`: Argo Events' YAML credentials plus `ca.crt` and `url`. */
export function clientSecretArgs(
    spec: BusSpec,
    clientAuthYaml: pulumi.Input<string>,
    caCertPem: pulumi.Input<string>,
    url: string,
): k8s.core.v1.SecretArgs {
    return {
        metadata: metadata(spec, spec.names.clientSecret),
        type: "Opaque",
        stringData: {
            [CLIENT_SECRET_KEYS.auth]: clientAuthYaml,
            [CLIENT_SECRET_KEYS.caCert]: caCertPem,
            [CLIENT_SECRET_KEYS.url]: url,
        },
    };
}

/** ConfigMap `eventbus-<n>-js-config` with `nats-js.conf`, as Argo Events names it. Holds no secret. */
export function configMapArgs(spec: BusSpec, serverConfig: string): k8s.core.v1.ConfigMapArgs {
    return {
        metadata: metadata(spec, spec.names.configMap),
        data: { [CONFIG_MAP_KEY]: serverConfig },
    };
}

/**
 * Headless Service `eventbus-<n>-js-svc`, as Argo Events names it. `publishNotReadyAddresses` lets the pods find
 * each other by DNS before they are ready, which a forming cluster needs.
 */
export function headlessServiceArgs(spec: BusSpec): k8s.core.v1.ServiceArgs {
    return {
        metadata: metadata(spec, spec.names.service),
        spec: {
            type: "ClusterIP",
            clusterIP: "None",
            publishNotReadyAddresses: true,
            selector: selectorLabels(spec.busName),
            ports: [
                { name: "tcp-client", port: PORTS.client, protocol: "TCP", appProtocol: "tls" },
                { name: "cluster", port: PORTS.cluster, protocol: "TCP", appProtocol: "tls" },
                { name: "metrics", port: PORTS.metrics, protocol: "TCP", appProtocol: "http" },
                { name: "monitor", port: PORTS.monitor, protocol: "TCP", appProtocol: "http" },
            ],
        },
    };
}

/**
 * PodDisruptionBudget `maxUnavailable: 1`, as the NATS Helm chart: a drain never takes two servers of a
 * 3-node cluster at once, which would lose the quorum. Argo Events creates none.
 */
export function podDisruptionBudgetArgs(spec: BusSpec): k8s.policy.v1.PodDisruptionBudgetArgs {
    return {
        metadata: metadata(spec, spec.names.podDisruptionBudget),
        spec: {
            maxUnavailable: 1,
            selector: { matchLabels: selectorLabels(spec.busName) },
        },
    };
}

/**
 * The Kubernetes provider replaces a ConfigMap or Secret whose data changes unless the provider itself
 * is configured otherwise (`enableConfigMapMutable`, `enableSecretMutable`), and with a fixed name it
 * deletes the object before creating it again, under running pods. So the object resource creates it
 * and keeps its name and labels (its data is ignored after creation), and a Patch resource of the same
 * object owns the data and updates it in place with server-side apply
 * (https://www.pulumi.com/registry/packages/kubernetes/how-to-guides/managing-resources-with-server-side-apply/).
 */
export const DATA_OWNED_BY_PATCH = ["data", "stringData"];

/** Server-side apply takes the fields over from the object resource, which created them. */
const PATCH_FORCE = { "pulumi.com/patchForce": "true" };

/** The data of a ConfigMap, as its Patch applies it in place. */
export function configMapDataPatchArgs(args: k8s.core.v1.ConfigMapArgs): k8s.core.v1.ConfigMapPatchArgs {
    const meta = args.metadata as k8s.types.input.meta.v1.ObjectMeta;
    return { metadata: { name: meta.name, namespace: meta.namespace, annotations: PATCH_FORCE }, data: args.data };
}

/**
 * The data of a Secret, as its Patch applies it in place: base64 `data`, which server-side apply tracks key by key (it
 * does not track `stringData`).
 */
export function secretDataPatchArgs(args: k8s.core.v1.SecretArgs): k8s.core.v1.SecretPatchArgs {
    const meta = args.metadata as k8s.types.input.meta.v1.ObjectMeta;
    const data = pulumi.secret(
        pulumi
            .output(args.stringData ?? {})
            .apply((values) =>
                Object.fromEntries(
                    Object.entries(values ?? {}).map(([key, value]) => [
                        key,
                        Buffer.from(String(value), "utf8").toString("base64"),
                    ]),
                ),
            ),
    );
    return { metadata: { name: meta.name, namespace: meta.namespace, annotations: PATCH_FORCE }, data };
}
