import * as pulumi from "@pulumi/pulumi";
import type { ServersProps, ServerVolumes } from "./servers";

/** Dynamic resource type `pulumi-nodejs:dynamic/jetstream:Servers`; changing it needs an alias. */
export const SERVERS_MODULE = "jetstream";
export const SERVERS_TYPE = "Servers";

/** Loads the implementation from the program's folder, as the stream's provider does (see stream/provider.ts). */
function loadImplementation() {
    const { createRequire } = require("node:module");
    const { join } = require("node:path");
    return createRequire(join(process.cwd(), "index.js"))("jetstream-eventbus/servers-provider");
}

/** The servers' dynamic provider as Pulumi serializes it: a few kilobytes, no captured value, no secret. */
export const serversProvider: pulumi.dynamic.ResourceProvider = {
    async check(olds, news) {
        return { inputs: loadImplementation().checkServers(olds, news) };
    },
    async diff(_id, olds, news) {
        return loadImplementation().planServersDiff(olds, news);
    },
    async create(inputs) {
        return loadImplementation().createServers(inputs);
    },
    async update(_id, olds, news) {
        return loadImplementation().updateServers(olds, news);
    },
    async delete() {
        // The claims follow the StatefulSet's retention policy; nothing of the servers' own to remove.
    },
};

/** Arguments of {@link Servers}. */
export interface ServersArgs {
    namespace: string;
    statefulSet: string;
    replicas: number;
    volumes?: ServerVolumes;
    allowDataLoss: boolean;
    /** The cluster the StatefulSet is in: kubeconfig text (secret) and context; unset means kubectl's. */
    kubernetes: { kubeconfig?: pulumi.Input<string>; context?: string; problem?: string };
}

/**
 * The replicas and volumes of a managed bus's servers: changes the StatefulSet cannot take are made
 * safely (volume growth) or refused at preview with the steps, and the preview says what each does.
 */
export class Servers extends pulumi.dynamic.Resource {
    /** What the last change of replicas or volumes did. */
    declare public readonly change: pulumi.Output<string>;

    constructor(name: string, args: ServersArgs, opts?: pulumi.CustomResourceOptions) {
        const kubernetes = pulumi
            .output(args.kubernetes)
            .apply((k) => Object.fromEntries(Object.entries(k).filter(([, v]) => v !== undefined)));
        const props: Record<keyof ServersProps, unknown> = {
            namespace: args.namespace,
            statefulSet: args.statefulSet,
            replicas: args.replicas,
            volumes: args.volumes,
            allowDataLoss: args.allowDataLoss,
            kubernetes: pulumi.secret(kubernetes),
            change: undefined,
        };
        super(
            serversProvider,
            name,
            props,
            { ...opts, additionalSecretOutputs: ["kubernetes"] },
            SERVERS_MODULE,
            SERVERS_TYPE,
        );
    }
}
