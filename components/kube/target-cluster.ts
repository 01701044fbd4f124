/**
 * Which cluster the stream's port-forward goes to. The Kubernetes objects go wherever the Kubernetes
 * provider points; the stream provider runs beside `pulumi up` and must reach the same cluster, never
 * whatever the deployer's kubectl happens to point at.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { InputError } from "../check";

/**
 * What the port-forward is given: the kubeconfig text (secret) and context; both unset means KUBECONFIG, then
 * ~/.kube/config.
 */
export interface PortForwardCluster {
    kubeconfig?: pulumi.Input<string>;
    context?: string;
}

/**
 * The Kubernetes provider the component's children will use when one is explicit: from `provider`, `providers` or a
 * parent.
 */
export function explicitKubernetesProvider(
    opts: pulumi.ComponentResourceOptions | undefined,
): pulumi.ProviderResource | undefined {
    // The package a provider serves: public in the SDK's JavaScript, left out of its type declarations.
    const isKubernetes = (p: pulumi.ProviderResource | undefined) =>
        p !== undefined && (p as unknown as { getPackage(): string }).getPackage() === "kubernetes";
    if (isKubernetes(opts?.provider)) {
        return opts!.provider;
    }
    const providers = opts?.providers;
    const listed = Array.isArray(providers) ? providers.find(isKubernetes) : providers?.["kubernetes"];
    if (listed !== undefined) {
        return listed;
    }
    return opts?.parent?.getProvider("kubernetes::Resource");
}

/** What decides which cluster the bus's objects went to. */
export interface ClusterSource {
    /** `connection.kubeconfig` and `connection.context`. */
    kubeconfig?: pulumi.Input<string>;
    context?: string;
    /** Whether the objects go through an explicit Kubernetes provider. */
    explicitProvider: boolean;
    /** The stack's `kubernetes:kubeconfig` (text or a path) and `kubernetes:context`. */
    stackConfig: { kubeconfig?: string; context?: string };
    /** Reads a kubeconfig file named by `kubernetes:kubeconfig`; throws when it cannot. */
    readFile?: (file: string) => string;
}

/**
 * The cluster of the bus's objects, for the port-forward and any call to its API server:
 * - `connection.kubeconfig` when given (the same text as the provider's, typically);
 * - with an explicit provider and no kubeconfig: refused, since a provider's kubeconfig cannot be read
 *   back and the call would otherwise go to the deployer's own cluster;
 * - with the default provider: the stack's `kubernetes:kubeconfig` and `kubernetes:context`, which
 *   that provider uses (https://www.pulumi.com/registry/packages/kubernetes/installation-configuration/),
 *   else kubectl's resolution, as the default provider does.
 */
export function portForwardCluster(
    input: ClusterSource & { mode: "auto" | "portForward" | "direct" },
): PortForwardCluster {
    // `direct` connects to the URLs given.
    return input.mode === "direct" ? {} : apiServerCluster(input);
}

/** The rules of {@link portForwardCluster}, whatever the connection mode. */
export function apiServerCluster(input: ClusterSource): PortForwardCluster {
    if (input.kubeconfig !== undefined) {
        return { kubeconfig: pulumi.secret(input.kubeconfig), context: input.context };
    }
    if (input.explicitProvider) {
        throw new InputError(
            "connection.kubeconfig",
            "this bus's Kubernetes objects go through an explicit Kubernetes provider (opts.provider, opts.providers or a parent's), " +
                "and the stream's port-forward cannot read that provider's kubeconfig, so it would reach whatever cluster " +
                "the deployer's kubectl points at. Pass the kubeconfig the provider was given as connection.kubeconfig " +
                '(and connection.context when it uses one), or set connection.mode "direct" with servers reachable from where pulumi up runs',
        );
    }
    const { kubeconfig, context } = input.stackConfig;
    if (kubeconfig === undefined || kubeconfig.trim() === "") {
        return { context: input.context ?? context };
    }
    return {
        kubeconfig: pulumi.secret(kubeconfigText(kubeconfig, input.readFile ?? readKubeconfigFile)),
        context: input.context ?? context,
    };
}

/** `kubernetes:kubeconfig` holds either the text or the path of a file, as the provider reads it. */
function kubeconfigText(value: string, readFile: (file: string) => string): string {
    if (/\n/.test(value.trim()) || /^\s*[{]|apiVersion\s*:/.test(value)) {
        return value;
    }
    try {
        return readFile(value);
    } catch (err) {
        throw new InputError(
            "kubernetes:kubeconfig",
            `names the file ${value}, which cannot be read for the stream's port-forward: ${(err as Error).message}`,
        );
    }
}

function readKubeconfigFile(file: string): string {
    const expanded = file.startsWith("~/") ? path.join(os.homedir(), file.slice(2)) : file;
    return fs.readFileSync(expanded, "utf8");
}

/** The stack's configuration of the default Kubernetes provider. */
export function defaultProviderConfig(): { kubeconfig?: string; context?: string } {
    const config = new pulumi.Config("kubernetes");
    return { kubeconfig: config.get("kubeconfig"), context: config.get("context") };
}
