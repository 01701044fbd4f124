import * as k8s from "@pulumi/kubernetes";
import { PORTS } from "../defaults";
import type { BusSpec } from "../validate";
import { commonLabels, selectorLabels } from "./names";

type Peer = k8s.types.input.networking.v1.NetworkPolicyPeer;

/** Checked NetworkPolicy settings. */
export interface NetworkPolicySpec {
    /** Namespaces whose pods may use the client port; undefined means every namespace. */
    clientNamespaces?: string[];
    /** Namespaces whose pods may scrape the monitoring and metrics ports; empty means none. */
    monitoringNamespaces: string[];
}

function fromNamespaces(namespaces: string[]): Peer[] {
    // `kubernetes.io/metadata.name` is set on every namespace by the API server (Kubernetes 1.22+).
    return namespaces.map((ns) => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } } }));
}

/**
 * NetworkPolicy `eventbus-<n>-js`: clients only on the client port (from the bus's namespace and the
 * ones given, or from anywhere), routes only between the bus's
 * own pods, monitoring and metrics only from the namespaces given. A port-forward reaches the pod
 * over its loopback interface, which no NetworkPolicy filters, so `pulumi up` keeps working.
 */
export function networkPolicyArgs(spec: BusSpec, policy: NetworkPolicySpec): k8s.networking.v1.NetworkPolicyArgs {
    const ownPods: Peer = { podSelector: { matchLabels: selectorLabels(spec.busName) } };
    const ingress: k8s.types.input.networking.v1.NetworkPolicyIngressRule[] = [
        {
            ports: [{ protocol: "TCP", port: PORTS.client }],
            // The bus's own namespace, where Argo's EventSources and Sensors usually run, is always allowed.
            ...(policy.clientNamespaces
                ? {
                      from: fromNamespaces([
                          spec.namespace,
                          ...policy.clientNamespaces.filter((ns) => ns !== spec.namespace),
                      ]),
                  }
                : {}),
        },
        { ports: [{ protocol: "TCP", port: PORTS.cluster }], from: [ownPods] },
    ];
    if (policy.monitoringNamespaces.length > 0) {
        ingress.push({
            ports: [
                { protocol: "TCP", port: PORTS.monitor },
                { protocol: "TCP", port: PORTS.metrics },
            ],
            from: fromNamespaces(policy.monitoringNamespaces),
        });
    }
    return {
        metadata: { name: spec.names.statefulSet, namespace: spec.namespace, labels: commonLabels(spec.busName) },
        spec: {
            podSelector: { matchLabels: selectorLabels(spec.busName) },
            policyTypes: ["Ingress"],
            ingress,
        },
    };
}
