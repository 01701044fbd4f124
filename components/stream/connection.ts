/**
 * How the stream provider reaches the JetStream server, decided where `pulumi up` runs.
 * Pure: the choice and the wording of errors, without any I/O.
 */
import * as net from "node:net";
import { checkServerIdentity, PeerCertificate } from "node:tls";

/** Ways of reaching the bus. */
export type ConnectionMode = "auto" | "portForward" | "direct";
export const CONNECTION_MODES: readonly ConnectionMode[] = ["auto", "portForward", "direct"];

/** The pods of a managed bus, for a port-forward through the Kubernetes API. */
export interface KubernetesTarget {
    namespace: string;
    /** StatefulSet name, for messages. */
    statefulSet: string;
    /** Labels selecting the bus's pods. */
    podSelector: Record<string, string>;
    /** Client port inside the pod. */
    port: number;
    /**
     * Kubeconfig text; unset means the default resolution (KUBECONFIG, then ~/.kube/config), read when the provider
     * runs.
     */
    kubeconfig?: string;
    /** Kubeconfig context; unset means its current context. */
    context?: string;
    /**
     * The uid of the StatefulSet Pulumi created. Pods the kubeconfig shows that another StatefulSet
     * owns mean another cluster: refused. Unset in state written by 0.1.0.
     */
    statefulSetUid?: string;
}

/** What the provider was given to reach the server. */
export interface ConnectionProps {
    /**
     * `auto` (default): in the bus's cluster connect directly, elsewhere port-forward when the bus is in Kubernetes.
     */
    mode?: ConnectionMode;
    /** Server URLs: the service's in-cluster URL for a managed bus, or explicit ones. */
    servers: string[];
    username?: string;
    /** Secret. */
    password?: string;
    /** PEM of the CA that signed the server certificate; set means TLS verified against it. */
    caCert?: string;
    /** Name the server certificate must carry, when it differs from the URL's host. */
    serverName?: string;
    /** PEM client certificate, for servers that require one. */
    clientCert?: string;
    /** PEM client key (secret). */
    clientKey?: string;
    /** Use TLS verified against the system's CAs even without `caCert`. */
    tls?: boolean;
    /** Do not verify the server certificate (Argo's `insecureSkipVerify`). */
    insecureSkipVerify?: boolean;
    /** Set for a managed bus: where its pods are. */
    kubernetes?: KubernetesTarget;
}

/** The route one operation takes. */
export type Route = { kind: "direct"; servers: string[] } | { kind: "portForward"; target: KubernetesTarget };

/**
 * True inside a Kubernetes pod: the kubelet sets these variables in every container (unless
 * service links are off, the API server's are always there).
 */
export function insideKubernetes(env: Record<string, string | undefined>): boolean {
    return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT);
}

/**
 * The route for `connection` in environment `env`: `direct` uses the URLs as given; `portForward`
 * tunnels through the Kubernetes API; `auto` connects directly inside a cluster (the service name
 * resolves there) unless a kubeconfig was given for the bus (it may be another cluster), tunnels
 * elsewhere, and connects directly when there is no Kubernetes target (a server run outside Kubernetes).
 */
export function chooseRoute(connection: ConnectionProps, env: Record<string, string | undefined>): Route {
    const mode = connection.mode ?? "auto";
    // A kubeconfig given for the bus may name another cluster than the one `pulumi up` runs in: its
    // service name would resolve in the wrong cluster, so go through that kubeconfig's API server.
    const elsewhere = connection.kubernetes?.kubeconfig !== undefined || !insideKubernetes(env);
    if (mode === "portForward" || (mode === "auto" && connection.kubernetes && elsewhere)) {
        if (!connection.kubernetes) {
            throw new Error(
                "connection mode portForward needs a bus in Kubernetes; use mode direct with explicit servers for a server run elsewhere",
            );
        }
        return { kind: "portForward", target: connection.kubernetes };
    }
    return { kind: "direct", servers: connection.servers };
}

/** Checks a server URL given for direct connections; returns a problem or undefined. */
export function serverUrlProblem(url: string): string | undefined {
    if (/^[a-z]+:\/\/[^/@\s]*@/i.test(url)) {
        // Never repeat what stands before the "@": it is a user name and password.
        return `a URL with credentials (${url.replace(/^([a-z]+:\/\/)[^/@\s]*@/i, "$1***@")}) is not accepted; give them as username and password`;
    }
    const match = /^(nats|tls):\/\/([^/:?#\s]+|\[[0-9a-fA-F:]+\])(:(\d+))?\/?$/.exec(url);
    if (!match) {
        return `${JSON.stringify(url)} is not a NATS URL like nats://nats.example.com:4222`;
    }
    if (match[4] !== undefined && (Number(match[4]) < 1 || Number(match[4]) > 65535)) {
        return `${JSON.stringify(url)} has port ${Number(match[4])}, out of range: ports go from 1 to 65535`;
    }
    return undefined;
}

/**
 * A clearer message for a failed connection: what the client saw, and what usually causes it.
 * Never includes credentials (the client errors do not carry them either).
 */
export function explainConnectionError(message: string, serverName: string | undefined): string {
    if (/authorization violation|authentication|authorization/i.test(message)) {
        return `${message}: the server refused the user name and password (check the bus's client secret)`;
    }
    if (/altnames|does not match|hostname/i.test(message)) {
        return `${message}: TLS name mismatch, the server certificate does not name ${serverName ?? "the server"}`;
    }
    if (/self.signed|unable to (get|verify)|certificate|CERT_/i.test(message)) {
        return `${message}: TLS verification failed, the server certificate is not signed by the given CA`;
    }
    return message;
}

/** The message for a port-forward the API server refused, by HTTP status. */
export function explainPortForwardRefusal(
    status: number | undefined,
    pod: string,
    namespace: string,
    detail: string,
): string {
    if (status === 401) {
        return `the Kubernetes API server did not accept the kubeconfig's credentials for the port-forward to pod ${pod} (401 Unauthorized)`;
    }
    if (status === 403) {
        return `the Kubernetes API server refused the port-forward to pod ${pod} in namespace ${namespace} (403 Forbidden); RBAC: the identity running pulumi up needs "get" and "create" on "pods/portforward" (the WebSocket port-forward this uses is authorized as get, and from Kubernetes 1.35 as create too) and "list" on "pods" in namespace ${namespace}`;
    }
    if (status === 404) {
        return `pod ${pod} in namespace ${namespace} is gone (404 Not Found)`;
    }
    return `the port-forward to pod ${pod} in namespace ${namespace} failed: ${detail}`;
}

/**
 * nats.js TLS options for a connection, or undefined for plaintext (nats.js still upgrades when the
 * server requires TLS). Extra Node options (`servername`, `rejectUnauthorized`) pass through to
 * `tls.connect` (nats.js, https://github.com/nats-io/nats.js).
 */
export function tlsOptions(connection: ConnectionProps): Record<string, unknown> | undefined {
    const wanted = Boolean(
        connection.caCert ||
        connection.clientCert ||
        connection.tls ||
        connection.insecureSkipVerify ||
        connection.servers.some((s) => s.startsWith("tls://")),
    );
    if (!wanted) {
        return undefined;
    }
    const ipHosts = connection.servers
        .map(urlHost)
        .filter((host): host is string => host !== undefined && net.isIP(host) !== 0);
    return {
        ...(connection.caCert ? { ca: connection.caCert } : {}),
        ...(connection.clientCert ? { cert: connection.clientCert, key: connection.clientKey } : {}),
        ...(connection.serverName ? { servername: connection.serverName } : {}),
        ...(connection.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
        // TLS has no server name for an IP address, and Node would then check the certificate against
        // "localhost": check it against the IP addresses of the URLs instead, as Go's client does.
        ...(!connection.serverName && ipHosts.length > 0
            ? {
                  checkServerIdentity: (_host: string, cert: PeerCertificate) =>
                      ipHosts.some((ip) => checkServerIdentity(ip, cert) === undefined)
                          ? undefined
                          : checkServerIdentity(ipHosts[0], cert),
              }
            : {}),
    };
}

/** The host of a NATS URL, without IPv6 brackets. */
function urlHost(url: string): string | undefined {
    const match = /^[a-z]+:\/\/(\[([0-9a-fA-F:]+)\]|[^/:?#\s]+)/.exec(url);
    return match ? (match[2] ?? match[1]) : undefined;
}
