import * as pulumi from "@pulumi/pulumi";
import { LATEST_SERVER_VERSION } from "../versions";
import type { StreamSettingsInput } from "./model";
import type { ConnectionMode } from "./connection";
import { streamProvider } from "./provider";
import { checkServerVersion, ResolvedStream, resolveStream, StreamLifecycleArgs } from "./resolve";
import { StreamConfigView, toStreamView } from "./view";

export type { StreamLifecycleArgs } from "./resolve";

/** A copy without the keys whose value is undefined (they would show as diffs against stored state). */
function withoutUndefined<T extends object>(value: T): T {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** How the provider reaches the JetStream server. */
export interface StreamConnectionArgs {
    /** Server URLs, e.g. `nats://nats.example.svc:4222`. */
    servers: pulumi.Input<pulumi.Input<string>[]>;
    /** User name, when the server requires a password. */
    username?: pulumi.Input<string>;
    /** Password; kept as a secret. */
    password?: pulumi.Input<string>;
    /** PEM of the CA that signed the server certificate. Set: TLS, verified against it. */
    caCert?: pulumi.Input<string>;
    /** Name the server certificate must carry when it differs from the URL's host. */
    serverName?: pulumi.Input<string>;
    /** PEM client certificate, for servers that require one. */
    clientCert?: pulumi.Input<string>;
    /** PEM client key; kept as a secret. */
    clientKey?: pulumi.Input<string>;
    /** TLS verified against the system's CAs even without `caCert`. */
    tls?: pulumi.Input<boolean>;
    /** Do not verify the server certificate. Avoid. */
    insecureSkipVerify?: pulumi.Input<boolean>;
    /** `direct` (default for a Stream of its own), `portForward` or `auto`; see docs/connecting.md. */
    mode?: pulumi.Input<ConnectionMode>;
    /** Where the server's pods are, for `portForward` and `auto`. */
    kubernetes?: pulumi.Input<KubernetesTargetArgs>;
}

/** The pods to port-forward to. */
export interface KubernetesTargetArgs {
    namespace: pulumi.Input<string>;
    /** Name used in messages, e.g. the StatefulSet's. */
    statefulSet: pulumi.Input<string>;
    /** Labels selecting the pods. */
    podSelector: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Client port inside the pods, usually 4222. */
    port: pulumi.Input<number>;
    /** Kubeconfig text (secret). Unset: KUBECONFIG, then ~/.kube/config, read when the provider runs. */
    kubeconfig?: pulumi.Input<string>;
    /** Kubeconfig context. Unset: its current context. */
    context?: pulumi.Input<string>;
    /** The StatefulSet's uid: pods owned by another StatefulSet (another cluster's) are refused. */
    statefulSetUid?: pulumi.Input<string>;
}

/** Arguments of a {@link Stream}. */
export interface StreamArgs extends StreamLifecycleArgs {
    /** How to reach the server. */
    connection: pulumi.Input<StreamConnectionArgs>;
    /** Argo's `streamConfig` YAML. */
    streamConfig?: string;
    /** Typed stream settings; they win over `streamConfig`. */
    stream?: StreamSettingsInput;
    /** Servers in the cluster, when known: stream replicas may not exceed it. */
    busReplicas?: number;
    /**
     * The nats-server release, for the rules of what can change in place until the server reports its own. Default the
     * latest in the version map.
     */
    serverVersion?: string;
}

/** Dynamic resource type `pulumi-nodejs:dynamic/jetstream:Stream`; changing it needs an alias. */
export const STREAM_MODULE = "jetstream";
export const STREAM_TYPE = "Stream";

/**
 * A JetStream stream managed through nats.js: created (adopting one that exists), updated in place
 * with the full configuration, replaced only where the server requires it and only when data loss is
 * allowed, refreshed from the server, and kept on delete unless asked otherwise.
 */
// Output properties are `declare`d: a class field would overwrite the value the base constructor sets.
export class Stream extends pulumi.dynamic.Resource {
    /** The stream's configuration as the server holds it, sizes and durations as people write them. */
    declare public readonly config: pulumi.Output<StreamConfigView>;
    /** The nats-server release seen at the last operation. */
    declare public readonly observedServerVersion: pulumi.Output<string>;

    constructor(name: string, args: StreamArgs, opts?: pulumi.CustomResourceOptions) {
        const serverVersion = checkServerVersion(args.serverVersion ?? LATEST_SERVER_VERSION, "serverVersion");
        const resolved = resolveStream(
            {
                streamConfig: args.streamConfig,
                stream: args.stream,
                streamLifecycle: {
                    deletionPolicy: args.deletionPolicy,
                    allowDataLoss: args.allowDataLoss,
                    createTimeout: args.createTimeout,
                },
                busReplicas: args.busReplicas,
                serverVersion,
                serverVersionSource: `serverVersion is ${serverVersion}`,
            },
            "",
        );
        super(
            streamProvider,
            name,
            streamInputs(resolved, args.connection),
            streamOptions(opts),
            STREAM_MODULE,
            STREAM_TYPE,
        );
    }
}

/**
 * The stream of an EventBus, resolved with the bus's arguments, so nothing is checked or defaulted
 * twice. The same resource type as a {@link Stream}: state moves between them without a change.
 */
export class BusStream extends pulumi.dynamic.Resource {
    /** The stream's configuration as the server holds it, sizes and durations as people write them. */
    declare public readonly config: pulumi.Output<StreamConfigView>;
    /** The nats-server release seen at the last operation. */
    declare public readonly observedServerVersion: pulumi.Output<string>;

    constructor(
        name: string,
        stream: ResolvedStream,
        connection: StreamArgs["connection"],
        opts?: pulumi.CustomResourceOptions,
    ) {
        super(streamProvider, name, streamInputs(stream, connection), streamOptions(opts), STREAM_MODULE, STREAM_TYPE);
    }
}

/** The resource's inputs: the configuration in the units people write, the connection as a secret. */
function streamInputs(stream: ResolvedStream, connectionArgs: StreamArgs["connection"]): pulumi.Inputs {
    const connection = pulumi.output(connectionArgs).apply((c) =>
        withoutUndefined({
            mode: c.mode ?? "direct",
            servers: c.servers,
            kubernetes: c.kubernetes === undefined ? undefined : withoutUndefined(c.kubernetes),
            username: c.username,
            password: c.password,
            caCert: c.caCert,
            serverName: c.serverName,
            clientCert: c.clientCert,
            clientKey: c.clientKey,
            tls: c.tls,
            insecureSkipVerify: c.insecureSkipVerify,
        }),
    );
    return {
        config: toStreamView(stream.spec),
        serverVersion: stream.serverVersion,
        connection: pulumi.secret(connection),
        deletionPolicy: stream.lifecycle.deletionPolicy,
        allowDataLoss: stream.lifecycle.allowDataLoss,
        createTimeout: stream.lifecycle.createTimeout,
        observedServerVersion: undefined,
    };
}

/** The connection holds the password: keep it encrypted in state. */
function streamOptions(opts: pulumi.CustomResourceOptions | undefined): pulumi.CustomResourceOptions {
    return { ...opts, additionalSecretOutputs: ["connection"] };
}
