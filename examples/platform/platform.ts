/**
 * A platform component built on EventBus: one JetStream bus per business domain, each in a namespace
 * of its own, all on a cluster reached through an explicit Kubernetes provider, and each exposed to
 * the namespaces where that domain's Argo Events EventSources and Sensors run.
 *
 * It is the shape a platform team ships to application teams: they ask for a domain, the platform
 * gives them a bus, its client Secret and an Argo `EventBus` named `default` in their namespaces.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { EventBus } from "jetstream-eventbus";

/** One business domain: a bus of its own, used from the listed application namespaces. */
export interface EventingDomain {
    /** Domain name. It names the bus's namespace and the bus (`eventbus-<name>-js` in namespace `<name>`). */
    name: string;
    /**
     * Namespaces where the domain's EventSources and Sensors run. Each gets an Argo `EventBus` named
     * `default` pointing at this bus, and a copy of the client Secret. They must exist, and Argo Events
     * must be installed in the cluster (its EventBus CRD is read before anything is created).
     */
    applicationNamespaces: string[];
    /** Servers in the bus. Default 3. */
    replicas?: number;
}

/** Arguments of an {@link EventingPlatform}. */
export interface EventingPlatformArgs {
    /** Kubeconfig of the target cluster (a secret). Used by the Kubernetes provider and by the stream's port-forward. */
    kubeconfig: pulumi.Input<string>;
    /** NATS version of every bus, a key of the package's version map. Pin one; default `2.10.29`. */
    natsVersion?: string;
    /** The domains, one bus each. */
    domains: EventingDomain[];
}

/** Type token of the component. */
export const EVENTING_PLATFORM_TYPE = "example:platform:EventingPlatform";

/** Buses for several domains in one cluster, each in its own namespace, wired to Argo Events. */
export class EventingPlatform extends pulumi.ComponentResource {
    /** The Kubernetes provider every object of the platform is created with. */
    public readonly provider: k8s.Provider;
    /** The bus of each domain, by domain name. */
    public readonly buses: Record<string, EventBus>;
    /** Client URL of each domain's bus, by domain name. */
    public readonly urls: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: EventingPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super(EVENTING_PLATFORM_TYPE, name, {}, opts);

        // An explicit provider: the platform never touches whatever cluster kubectl happens to point at.
        this.provider = new k8s.Provider(`${name}-cluster`, { kubeconfig: args.kubeconfig }, { parent: this });

        this.buses = {};
        for (const domain of args.domains) {
            const namespace = new k8s.core.v1.Namespace(
                `${name}-${domain.name}`,
                { metadata: { name: domain.name, labels: { "app.kubernetes.io/part-of": name } } },
                { parent: this, provider: this.provider },
            );
            this.buses[domain.name] = new EventBus(
                `${name}-${domain.name}`,
                {
                    namespace: domain.name,
                    busName: domain.name,
                    jetstream: {
                        version: args.natsVersion ?? "2.10.29",
                        replicas: domain.replicas,
                        persistence: { volumeSize: "10Gi" },
                    },
                    // The stream is managed from where `pulumi up` runs: port-forward into the same
                    // cluster the provider deploys to, not into kubectl's current context.
                    connection: { kubeconfig: args.kubeconfig },
                    argoEvents: { namespaces: domain.applicationNamespaces },
                },
                {
                    parent: this,
                    // Every Kubernetes object of the bus, reads included, goes through this provider.
                    providers: { kubernetes: this.provider },
                    // The bus's objects are registered only once the namespace exists.
                    dependsOn: [namespace],
                },
            );
        }

        this.urls = pulumi
            .all(Object.entries(this.buses).map(([domain, bus]) => bus.url.apply((url) => [domain, url] as const)))
            .apply((entries) => Object.fromEntries(entries));
        this.registerOutputs({ urls: this.urls });
    }
}
