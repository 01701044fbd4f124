import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { EventBusArgs, SecretKeySelector } from "./args";
import { ClientAuth, parseClientAuth, secretText } from "./argo/client-auth";
import { ARGO_CLIENT_SECRET_KEYS, ARGO_EVENTBUS_CRD, ArgoEventsSpec, argoEventBusSpec } from "./argo/export";
import { renderAuthConfig, renderServerConfig } from "./config/render";
import { PORTS } from "./defaults";
import { commonLabels, objectNames, selectorLabels, serviceDns } from "./kube/names";
import {
    clientSecretArgs,
    configMapArgs,
    configMapDataPatchArgs,
    DATA_OWNED_BY_PATCH,
    headlessServiceArgs,
    podDisruptionBudgetArgs,
    secretDataPatchArgs,
    serverSecretArgs,
} from "./kube/objects";
import { networkPolicyArgs } from "./kube/network-policy";
import { POD_MONITOR_CRD, podMonitorArgs } from "./kube/pod-monitor";
import { statefulSetArgs } from "./kube/statefulset";
import {
    apiServerCluster,
    ClusterSource,
    defaultProviderConfig,
    explicitKubernetesProvider,
    portForwardCluster,
    PortForwardCluster,
} from "./kube/target-cluster";
import { Servers, ServersArgs } from "./kube/servers-resource";
import { createCertificates } from "./security/certificates";
import { clientAuthYaml, createCredentials } from "./security/credentials";
import { StreamSpec } from "./stream/model";
import { BusStream, StreamArgs } from "./stream/resource";
import { BusSpec, ExoticSpec, PemSource, resolveBus } from "./validate";

/** Type token of the component; changing it needs an alias. */
export const EVENTBUS_TYPE = "jetstream-eventbus:index:EventBus";

/** What the rest of the component needs from either kind of bus. */
interface Reachable {
    url: pulumi.Output<string>;
    username: pulumi.Output<string | undefined>;
    password: pulumi.Output<string | undefined>;
    caCert: pulumi.Output<string | undefined>;
    /** Client certificate and key, for a server that requires one (exotic). */
    clientCert: pulumi.Output<string | undefined>;
    clientKey: pulumi.Output<string | undefined>;
    insecureSkipVerify: boolean;
    clientSecretName: pulumi.Output<string | undefined>;
    serviceName: pulumi.Output<string | undefined>;
    statefulSetName: pulumi.Output<string | undefined>;
    /** The Stream's connection and what it must wait for. */
    streamConnection: StreamArgs["connection"];
    streamDependsOn: pulumi.Resource[];
}

/**
 * An output every managed bus has, which a `jetstreamExotic` bus may lack (its server may take clients
 * without a password or TLS, and nothing is deployed): `T` when the arguments' type has `jetstream`,
 * `T | undefined` otherwise, so `new EventBus(name, { jetstream: {...} })` needs no undefined checks.
 */
export type ManagedBusValue<Args, T> = Args extends { jetstream: object } ? T : T | undefined;

/**
 * A NATS JetStream event bus on Kubernetes: what Argo Events' EventBus controller creates for the
 * `jetstream` kind, with TLS that clients verify, certificates that renew, a PodDisruptionBudget,
 * probes that fit JetStream, and image overrides; or, for `jetstreamExotic`, only the stream on a
 * server you run.
 *
 * All logic lives in pure helpers (validation, config rendering, object builders); this class only
 * wires them to resources. Bad input throws before anything is registered.
 */
export class EventBus<Args extends EventBusArgs = EventBusArgs> extends pulumi.ComponentResource {
    /** Client URL: `nats://eventbus-<n>-js-svc.<ns>.svc:4222` for a managed bus, `jetstreamExotic.url` otherwise. */
    public readonly url: pulumi.Output<string>;
    /** Name of the headless Service (managed bus). */
    public readonly serviceName: pulumi.Output<ManagedBusValue<Args, string>>;
    /** Name of the StatefulSet (managed bus). */
    public readonly statefulSetName: pulumi.Output<ManagedBusValue<Args, string>>;
    /** Namespace of the bus. */
    public readonly namespace: pulumi.Output<string>;
    /** Secret with `client-auth` (Argo's YAML), `ca.crt` and `url`; for an exotic bus, its `accessSecret`. */
    public readonly clientSecretName: pulumi.Output<ManagedBusValue<Args, string>>;
    /** PEM of the CA that signed the server certificate; clients verify the server with it. */
    public readonly caCert: pulumi.Output<ManagedBusValue<Args, string>>;
    /** Client user name. */
    public readonly username: pulumi.Output<ManagedBusValue<Args, string>>;
    /** Client password (secret). */
    public readonly password: pulumi.Output<ManagedBusValue<Args, string>>;
    /** Name of the JetStream stream of the bus. */
    public readonly streamName: pulumi.Output<string>;

    constructor(name: string, args: Args, opts?: pulumi.ComponentResourceOptions) {
        // Validate first, so bad input fails the preview with nothing registered. The stream must
        // reach the cluster the objects go to: that too is decided before anything is registered.
        const spec = resolveBus(name, args);
        const managed =
            spec.kind === "managed"
                ? {
                      spec,
                      serverConfig: renderServerConfig(spec, spec.version.serverVersion),
                      clusters: busClusters(spec, opts),
                  }
                : undefined;
        super(EVENTBUS_TYPE, name, {}, opts);

        const bus = managed
            ? deployManagedBus(name, managed.spec, managed.serverConfig, managed.clusters, this)
            : connectExoticBus(name, spec as ExoticSpec, this);
        // For a managed bus, after the StatefulSet: Pulumi waits for its pods to be ready first.
        const stream = new BusStream(`${name}-stream`, spec.stream, bus.streamConnection, {
            parent: this,
            dependsOn: bus.streamDependsOn,
        });
        if (spec.argoEvents) {
            // A managed bus has its client Secret in its own namespace already.
            exposeToArgoEvents(
                name,
                spec.argoEvents,
                spec.stream.spec,
                bus,
                managed ? spec.namespace : undefined,
                spec.busName,
                this,
            );
        }

        this.url = bus.url;
        // A managed bus has every one of these; the type says so when `jetstream` is given (see ManagedBusValue).
        this.serviceName = bus.serviceName as pulumi.Output<ManagedBusValue<Args, string>>;
        this.statefulSetName = bus.statefulSetName as pulumi.Output<ManagedBusValue<Args, string>>;
        this.namespace = pulumi.output(spec.namespace);
        this.clientSecretName = bus.clientSecretName as pulumi.Output<ManagedBusValue<Args, string>>;
        this.caCert = bus.caCert as pulumi.Output<ManagedBusValue<Args, string>>;
        this.username = bus.username as pulumi.Output<ManagedBusValue<Args, string>>;
        this.password = pulumi.secret(bus.password) as pulumi.Output<ManagedBusValue<Args, string>>;
        this.streamName = stream.config.apply((config) => config.name);

        this.registerOutputs({
            url: this.url,
            serviceName: this.serviceName,
            statefulSetName: this.statefulSetName,
            namespace: this.namespace,
            clientSecretName: this.clientSecretName,
            caCert: this.caCert,
            username: this.username,
            password: this.password,
            streamName: this.streamName,
        });
    }
}

/** Where a managed bus's cluster is reached: by the stream's port-forward, and by calls to its API server. */
interface BusClusters {
    portForward: PortForwardCluster;
    api: ServersArgs["kubernetes"];
}

/**
 * The cluster the objects go to, for the port-forward (refused at preview when it cannot be known) and
 * for the servers' day-2 changes (where it cannot be known, e.g. a direct connection through an
 * explicit provider, the reason is kept and said only if the volumes have to grow).
 */
function busClusters(spec: BusSpec, opts: pulumi.ComponentResourceOptions | undefined): BusClusters {
    const where: ClusterSource = {
        kubeconfig: spec.connection.kubeconfig,
        context: spec.connection.context,
        explicitProvider: explicitKubernetesProvider(opts) !== undefined,
        stackConfig: defaultProviderConfig(),
    };
    const portForward = portForwardCluster({ ...where, mode: spec.connection.mode });
    try {
        return { portForward, api: apiServerCluster(where) };
    } catch (err) {
        return { portForward, api: { problem: (err as Error).message } };
    }
}

/** The managed cluster: certificates, credentials, Secrets, ConfigMap, Service, StatefulSet, PDB. */
function deployManagedBus(
    name: string,
    spec: BusSpec,
    serverConfig: string,
    clusters: BusClusters,
    parent: pulumi.Resource,
): Reachable {
    const cluster = clusters.portForward;
    // Objects have fixed names (DNS names and SANs depend on them): a replacement must delete first.
    const childOpts: pulumi.CustomResourceOptions = { parent, deleteBeforeReplace: true };
    const dns = serviceDns(spec.busName, spec.namespace, spec.replicas, PORTS.client, PORTS.cluster);
    const certificates = createCertificates(name, spec, { parent });
    const credentials = createCredentials(name, { parent }, spec.persistence?.encryptionKey);

    const serverSecretInputs = serverSecretArgs(spec, {
        authConfig: pulumi
            .all([credentials.passwordHash, credentials.systemPasswordHash])
            .apply(([passwordHash, systemPasswordHash]) =>
                renderAuthConfig({ username: credentials.username, passwordHash, systemPasswordHash }),
            ),
        encryptionKey: credentials.encryptionKey,
        systemPassword: credentials.systemPassword,
        caCertPem: certificates.caCertPem,
        serverKeyPem: certificates.serverKeyPem,
        serverCertPem: certificates.serverCertPem,
        routeKeyPem: certificates.routeKeyPem,
        routeCertPem: certificates.routeCertPem,
    });
    const clientSecretInputs = clientSecretArgs(
        spec,
        credentials.password.apply((password) => clientAuthYaml(credentials.username, password)),
        certificates.caCertPem,
        dns.url,
    );
    const configMapInputs = configMapArgs(spec, serverConfig);
    // Created by the object resources, their data then updated in place by a Patch each: never deleted under running
    // pods.
    const createOnly = { ...childOpts, ignoreChanges: DATA_OWNED_BY_PATCH };
    const serverSecret = new k8s.core.v1.Secret(`${name}-server`, serverSecretInputs, createOnly);
    const clientSecret = new k8s.core.v1.Secret(`${name}-client-auth`, clientSecretInputs, createOnly);
    const configMap = new k8s.core.v1.ConfigMap(`${name}-config`, configMapInputs, createOnly);
    const serverSecretData = new k8s.core.v1.SecretPatch(
        `${name}-server-data`,
        secretDataPatchArgs(serverSecretInputs),
        { parent, dependsOn: [serverSecret] },
    );
    new k8s.core.v1.SecretPatch(`${name}-client-auth-data`, secretDataPatchArgs(clientSecretInputs), {
        parent,
        dependsOn: [clientSecret],
    });
    const configMapData = new k8s.core.v1.ConfigMapPatch(
        `${name}-config-data`,
        configMapDataPatchArgs(configMapInputs),
        { parent, dependsOn: [configMap] },
    );
    const service = new k8s.core.v1.Service(`${name}-svc`, headlessServiceArgs(spec), childOpts);
    // Before the StatefulSet: volumes grow (or the change is refused) before the pods roll.
    const servers = new Servers(
        `${name}-servers`,
        {
            namespace: spec.namespace,
            statefulSet: spec.names.statefulSet,
            replicas: spec.replicas,
            volumes: spec.persistence && {
                size: spec.persistence.volumeSize,
                storageClassName: spec.persistence.storageClassName ?? "",
                accessMode: spec.persistence.accessMode,
                claimTemplate: spec.names.volumeClaim,
                whenScaled: spec.persistence.whenScaled,
            },
            allowDataLoss: spec.stream.lifecycle.allowDataLoss,
            kubernetes: clusters.api,
        },
        { parent },
    );
    // Not on the Service: Pulumi's await logic makes a Service with a selector wait for ready pods.
    const statefulSet = new k8s.apps.v1.StatefulSet(`${name}-js`, statefulSetArgs(spec), {
        ...childOpts,
        dependsOn: [serverSecretData, configMapData, servers],
        // The claim template cannot change in place: the servers resource grows the claims and
        // recreates the StatefulSet with the new size, and the provider then applies the live value.
        ignoreChanges: ["spec.volumeClaimTemplates"],
    });
    if (spec.podDisruptionBudget) {
        new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, podDisruptionBudgetArgs(spec), childOpts);
    }
    if (spec.networkPolicy) {
        new k8s.networking.v1.NetworkPolicy(`${name}-netpol`, networkPolicyArgs(spec, spec.networkPolicy), childOpts);
    }
    if (spec.podMonitor) {
        // Read first: without the Prometheus Operator's CRD the preview fails here, naming it.
        const crd = k8s.apiextensions.v1.CustomResourceDefinition.get(
            `${name}-prometheus-operator-podmonitor-crd`,
            POD_MONITOR_CRD,
            { parent },
        );
        new k8s.apiextensions.CustomResource(`${name}-podmonitor`, podMonitorArgs(spec, spec.podMonitor), {
            ...childOpts,
            dependsOn: [crd],
        });
    }
    return {
        url: pulumi.all([service.metadata.name, statefulSet.metadata.name]).apply(() => dns.url),
        username: pulumi.output(credentials.username),
        password: credentials.password,
        caCert: certificates.caCertPem,
        clientCert: pulumi.output(undefined),
        clientKey: pulumi.output(undefined),
        insecureSkipVerify: false,
        clientSecretName: clientSecret.metadata.name,
        serviceName: service.metadata.name,
        statefulSetName: statefulSet.metadata.name,
        streamConnection: {
            mode: spec.connection.mode,
            servers: spec.connection.servers ?? [dns.url],
            username: credentials.username,
            password: credentials.password,
            caCert: certificates.caCertPem,
            serverName: spec.connection.serverName ?? dns.serviceHost,
            kubernetes:
                spec.connection.mode === "direct"
                    ? undefined
                    : {
                          namespace: spec.namespace,
                          statefulSet: spec.names.statefulSet,
                          podSelector: selectorLabels(spec.busName),
                          port: PORTS.client,
                          kubeconfig: cluster.kubeconfig,
                          context: cluster.context,
                          // The port-forward checks that the pods it reaches belong to this very StatefulSet.
                          statefulSetUid: statefulSet.metadata.uid,
                      },
        },
        streamDependsOn: [statefulSet],
    };
}

/** The text of one key of an existing Secret in the bus's namespace, read through the Kubernetes provider. */
function existingSecretText(
    name: string,
    namespace: string,
    selector: SecretKeySelector,
    field: string,
    parent: pulumi.Resource,
): pulumi.Output<string> {
    const secret = k8s.core.v1.Secret.get(name, `${namespace}/${selector.name}`, { parent });
    return pulumi.secret(
        secret.data.apply((data) => secretText(data, selector.key, `${field}: Secret ${namespace}/${selector.name}`)),
    );
}

/** A server run elsewhere (Argo's `jetstreamExotic`): nothing is deployed, only the stream is managed. */
function connectExoticBus(name: string, spec: ExoticSpec, parent: pulumi.Resource): Reachable {
    const credentials = spec.credentials;
    let auth: pulumi.Output<ClientAuth | undefined>;
    if (credentials === undefined) {
        auth = pulumi.output(undefined);
    } else if ("accessSecret" in credentials) {
        const selector = credentials.accessSecret;
        const where = `jetstreamExotic.accessSecret: Secret ${spec.namespace}/${selector.name} key ${selector.key}`;
        auth = existingSecretText(
            `${name}-access-secret`,
            spec.namespace,
            selector,
            "jetstreamExotic.accessSecret",
            parent,
        ).apply((text) => parseClientAuth(text, where));
    } else {
        auth = pulumi
            .all([credentials.username, credentials.password])
            .apply(([username, password]) => ({ username, password }));
    }
    /** The PEM text of `source`: inline, or read from its Secret (named in errors by `secretField`). */
    const pem = (source: PemSource | undefined, suffix: string, secretField: string) =>
        source === undefined
            ? undefined
            : "secret" in source
              ? existingSecretText(`${name}-${suffix}`, spec.namespace, source.secret, secretField, parent)
              : pulumi.output(source.text);
    const caCert = pem(spec.caCert, "ca-cert", "jetstreamExotic.tls.caCertSecret");
    const clientCert = pem(spec.clientCert, "client-cert", "jetstreamExotic.tls.clientCertSecret");
    const clientKeyText = pem(spec.clientKey, "client-key", "jetstreamExotic.tls.clientKeySecret");
    const clientKey = clientKeyText === undefined ? undefined : pulumi.secret(clientKeyText);
    return {
        url: pulumi.output(spec.url),
        username: auth.apply((a) => a?.username),
        password: pulumi.secret(auth.apply((a) => a?.password)),
        caCert: caCert === undefined ? pulumi.output(undefined) : pulumi.output(caCert),
        clientCert: pulumi.output(clientCert),
        clientKey: pulumi.secret(pulumi.output(clientKey)),
        insecureSkipVerify: spec.insecureSkipVerify,
        clientSecretName: pulumi.output(
            credentials !== undefined && "accessSecret" in credentials ? credentials.accessSecret.name : undefined,
        ),
        serviceName: pulumi.output(undefined),
        statefulSetName: pulumi.output(undefined),
        streamConnection: {
            mode: "direct",
            servers: spec.servers,
            username: auth.apply((a) => a?.username as string),
            password: pulumi.secret(auth.apply((a) => a?.password as string)),
            caCert,
            clientCert,
            clientKey,
            serverName: spec.serverName,
            tls: spec.tlsEnabled || undefined,
            insecureSkipVerify: spec.insecureSkipVerify || undefined,
        },
        streamDependsOn: [],
    };
}

/**
 * Argo Events interop: in each namespace, a copy of the client Secret in Argo's format and an Argo
 * `EventBus` of kind `jetstreamExotic` pointing at this bus. The Argo CRD is read first, so a cluster
 * without Argo Events fails the preview on it rather than on the first EventBus.
 */
function exposeToArgoEvents(
    name: string,
    argo: ArgoEventsSpec,
    stream: StreamSpec,
    bus: Reachable,
    secretNamespace: string | undefined,
    busName: string,
    parent: pulumi.Resource,
): void {
    const crd = k8s.apiextensions.v1.CustomResourceDefinition.get(
        `${name}-argo-events-eventbus-crd`,
        ARGO_EVENTBUS_CRD,
        { parent },
    );
    const secretName = objectNames(busName).clientSecret;
    const keys = ARGO_CLIENT_SECRET_KEYS;
    const secretData = pulumi
        .all([bus.username, bus.password, bus.caCert, bus.clientCert, bus.clientKey])
        .apply(([username, password, ca, cert, key]) => ({
            ...(username !== undefined ? { [keys.auth]: clientAuthYaml(username, password ?? "") } : {}),
            ...(ca !== undefined ? { [keys.caCert]: ca } : {}),
            ...(cert !== undefined && key !== undefined ? { [keys.clientCert]: cert, [keys.clientKey]: key } : {}),
        }));
    const material = pulumi.all([bus.url, secretData]).apply(([url, data]) => ({
        url,
        withAuth: keys.auth in data,
        withCa: keys.caCert in data,
        withClientCert: keys.clientCert in data,
        insecureSkipVerify: bus.insecureSkipVerify,
    }));
    for (const ns of argo.namespaces) {
        const dependsOn: pulumi.Resource[] = [crd];
        if (ns !== secretNamespace) {
            dependsOn.push(
                new k8s.core.v1.Secret(
                    `${name}-argo-${ns}-client-auth`,
                    {
                        metadata: { name: secretName, namespace: ns, labels: commonLabels(busName) },
                        type: "Opaque",
                        stringData: secretData,
                    },
                    // Credentials go nowhere until the Argo CRD is known to exist.
                    { parent, deleteBeforeReplace: true, dependsOn: [crd] },
                ),
            );
        }
        new k8s.apiextensions.CustomResource(
            `${name}-argo-${ns}`,
            {
                apiVersion: "argoproj.io/v1alpha1",
                kind: "EventBus",
                metadata: { name: argo.eventBusName, namespace: ns, labels: commonLabels(busName) },
                spec: material.apply((m) => argoEventBusSpec(m.url, secretName, stream, m)),
            },
            { parent, dependsOn },
        );
    }
}
