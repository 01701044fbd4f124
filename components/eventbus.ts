import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { EventBusArgs } from "./args";
import { renderAuthConfig, renderServerConfig } from "./config/render";
import { PORTS } from "./defaults";
import { selectorLabels, serviceDns } from "./kube/names";
import { clientSecretArgs, configMapArgs, headlessServiceArgs, podDisruptionBudgetArgs, serverSecretArgs } from "./kube/objects";
import { statefulSetArgs } from "./kube/statefulset";
import { createCertificates } from "./security/certificates";
import { clientAuthYaml, createCredentials } from "./security/credentials";
import { Stream } from "./stream/resource";
import { resolveBusSpec } from "./validate";

/** Type token of the component; changing it needs an alias. */
export const EVENTBUS_TYPE = "jetstream-eventbus:index:EventBus";

/**
 * A NATS JetStream event bus on Kubernetes: what Argo Events' EventBus controller creates for the
 * `jetstream` kind, with TLS that clients verify, certificates that renew, a PodDisruptionBudget,
 * probes that fit JetStream, and image overrides.
 *
 * All logic lives in pure helpers (validation, config rendering, object builders); this class only
 * wires them to resources. Bad input throws before anything is registered.
 */
export class EventBus extends pulumi.ComponentResource {
    /** `nats://eventbus-<n>-js-svc.<ns>.svc:4222`, the URL clients in the cluster use. */
    public readonly url: pulumi.Output<string>;
    /** Name of the headless Service. */
    public readonly serviceName: pulumi.Output<string>;
    /** Name of the StatefulSet. */
    public readonly statefulSetName: pulumi.Output<string>;
    /** Namespace of every object. */
    public readonly namespace: pulumi.Output<string>;
    /** Secret with `client-auth` (Argo's YAML), `ca.crt` and `url`. */
    public readonly clientSecretName: pulumi.Output<string>;
    /** PEM of the CA that signed the server certificates; clients verify the server with it. */
    public readonly caCert: pulumi.Output<string>;
    /** Client user name. */
    public readonly username: pulumi.Output<string>;
    /** Client password (secret). */
    public readonly password: pulumi.Output<string>;
    /** Name of the JetStream stream of the bus. */
    public readonly streamName: pulumi.Output<string>;

    constructor(name: string, args: EventBusArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate first, so bad input fails the preview with nothing registered.
        const spec = resolveBusSpec(name, args);
        const serverConfig = renderServerConfig(spec, spec.version.serverVersion);
        super(EVENTBUS_TYPE, name, {}, opts);

        // Objects have fixed names (DNS names and SANs depend on them): a replacement must delete first.
        const childOpts: pulumi.CustomResourceOptions = { parent: this, deleteBeforeReplace: true };
        const dns = serviceDns(spec.busName, spec.namespace, spec.replicas, PORTS.client, PORTS.cluster);

        const certificates = createCertificates(name, spec, { parent: this });
        const credentials = createCredentials(name, { parent: this });

        const serverSecret = new k8s.core.v1.Secret(
            `${name}-server`,
            serverSecretArgs(spec, {
                authConfig: pulumi
                    .all([credentials.passwordHash, credentials.systemPasswordHash])
                    .apply(([passwordHash, systemPasswordHash]) => renderAuthConfig({ username: credentials.username, passwordHash, systemPasswordHash })),
                encryptionKey: credentials.encryptionKey,
                systemPassword: credentials.systemPassword,
                caCertPem: certificates.caCertPem,
                serverKeyPem: certificates.serverKeyPem,
                serverCertPem: certificates.serverCertPem,
                routeKeyPem: certificates.routeKeyPem,
                routeCertPem: certificates.routeCertPem,
            }),
            childOpts,
        );
        const clientSecret = new k8s.core.v1.Secret(
            `${name}-client-auth`,
            clientSecretArgs(spec, credentials.password.apply((password) => clientAuthYaml(credentials.username, password)), certificates.caCertPem, dns.url),
            childOpts,
        );
        const configMap = new k8s.core.v1.ConfigMap(`${name}-config`, configMapArgs(spec, serverConfig), childOpts);
        const service = new k8s.core.v1.Service(`${name}-svc`, headlessServiceArgs(spec), childOpts);
        // Not on the Service: a Service with a selector may wait for ready pods (design.md "Known traps").
        const statefulSet = new k8s.apps.v1.StatefulSet(`${name}-js`, statefulSetArgs(spec, args.labels), {
            ...childOpts,
            dependsOn: [serverSecret, configMap],
        });
        if (spec.podDisruptionBudget) {
            new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, podDisruptionBudgetArgs(spec), childOpts);
        }
        const js = spec.args;
        // After the StatefulSet: Pulumi waits for its pods to be ready before creating the stream.
        const stream = new Stream(
            `${name}-stream`,
            {
                connection: {
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
                                  kubeconfig: args.connection?.kubeconfig === undefined ? undefined : pulumi.secret(args.connection.kubeconfig),
                                  context: spec.connection.context,
                              },
                },
                streamConfig: js.streamConfig,
                stream: js.stream,
                busReplicas: spec.replicas,
                serverVersion: spec.version.serverVersion,
                deletionPolicy: spec.streamLifecycle.deletionPolicy,
                allowDataLoss: spec.streamLifecycle.allowDataLoss,
                createTimeout: spec.streamLifecycle.createTimeout,
            },
            { parent: this, dependsOn: [statefulSet] },
        );

        this.url = pulumi.all([service.metadata.name, statefulSet.metadata.name]).apply(() => dns.url);
        this.serviceName = service.metadata.name;
        this.statefulSetName = statefulSet.metadata.name;
        this.namespace = pulumi.output(spec.namespace);
        this.clientSecretName = clientSecret.metadata.name;
        this.caCert = certificates.caCertPem;
        this.username = pulumi.output(credentials.username);
        this.password = credentials.password;
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
