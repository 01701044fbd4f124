/**
 * A port-forward through the Kubernetes API to one Ready pod of the bus, as `kubectl port-forward`
 * does, listening on an ephemeral loopback port for the length of one operation.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import { explainPortForwardRefusal, insideKubernetes, KubernetesTarget } from "./connection";

/** An open tunnel. */
export interface Tunnel {
    /** `nats://127.0.0.1:<port>`. */
    url: string;
    /** The pod it reaches. */
    pod: string;
    /** What went wrong in the tunnel, if anything: more precise than what the NATS client saw. */
    failure(): Error | undefined;
    close(): Promise<void>;
}

/** An error about the route rather than the server; `retry` when another pod may work. */
export class TunnelError extends Error {
    constructor(
        message: string,
        readonly retry: boolean,
    ) {
        super(message);
        this.name = "TunnelError";
    }
}

function selector(labels: Record<string, string>): string {
    return Object.entries(labels)
        .map(([key, value]) => `${key}=${value}`)
        .join(",");
}

function isReady(pod: any): boolean {
    return (
        pod?.status?.phase === "Running" &&
        !pod?.metadata?.deletionTimestamp &&
        (pod?.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True")
    );
}

function statusOf(err: any): number | undefined {
    const code = err?.code ?? err?.statusCode ?? err?.response?.statusCode;
    if (typeof code === "number") return code;
    const match = /\b(40[0-9]|50[0-9])\b/.exec(String(err?.message ?? ""));
    return match ? Number(match[1]) : undefined;
}

/**
 * Why the pods found are not the bus's, when every one of them is owned by a StatefulSet other than
 * the one Pulumi created (`statefulSetUid`): the kubeconfig reaches another cluster with a bus of the
 * same name (`server` is its API server, for the message). Undefined when they are the bus's, when
 * there are none (yet), or when the uid is not known (state written by 0.1.0).
 */
export function foreignPods(pods: any[], target: KubernetesTarget, server: string): string | undefined {
    const uid = target.statefulSetUid;
    if (uid === undefined || pods.length === 0) {
        return undefined;
    }
    const owners = pods.map((p) => (p.metadata?.ownerReferences ?? []).find((o: any) => o.kind === "StatefulSet")?.uid);
    if (owners.includes(uid)) {
        return undefined;
    }
    return (
        `the pods of ${target.statefulSet} in namespace ${target.namespace} at ${server} belong to another StatefulSet ` +
        `(uid ${owners.find((o) => o !== undefined) ?? "none"}) than the one this stack deployed (uid ${uid}): the port-forward's ` +
        "kubeconfig reaches another cluster. Pass the kubeconfig of the Kubernetes provider the bus was deployed with as connection.kubeconfig"
    );
}

/**
 * Whether kubectl's resolution would find a configuration: KUBECONFIG, ~/.kube/config, or the pod's service account.
 */
export function defaultKubeconfigExists(env: Record<string, string | undefined>): boolean {
    if (env.KUBECONFIG) return true;
    const home = env.HOME ?? env.USERPROFILE ?? os.homedir();
    return fs.existsSync(path.join(home, ".kube", "config")) || insideKubernetes(env);
}

/**
 * The kubeconfig for the bus's cluster: the text given, else kubectl's resolution; `context` checked.
 * Throws a {@link TunnelError} (not worth retrying) saying what is missing.
 */
export async function loadKubeConfig(target: Pick<KubernetesTarget, "kubeconfig" | "context">): Promise<any> {
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig();
    if (target.kubeconfig) {
        kc.loadFromString(target.kubeconfig);
    } else if (!defaultKubeconfigExists(process.env)) {
        // The client would fall back to http://localhost:8080, which only confuses the error.
        throw new TunnelError(
            "no kubeconfig found to reach the bus's cluster: KUBECONFIG is not set, ~/.kube/config does not exist and this is not a Kubernetes pod; set one of them, pass connection.kubeconfig, or use connection mode direct",
            false,
        );
    } else {
        // As kubectl: $KUBECONFIG, then ~/.kube/config, then the in-cluster service account.
        kc.loadFromDefault();
    }
    if (target.context) {
        if (!kc.getContexts().some((c: any) => c.name === target.context)) {
            throw new TunnelError(
                `kubeconfig has no context "${target.context}" (it has: ${
                    kc
                        .getContexts()
                        .map((c: any) => c.name)
                        .join(", ") || "none"
                })`,
                false,
            );
        }
        kc.setCurrentContext(target.context);
    }
    if (!kc.getCurrentCluster()) {
        throw new TunnelError(
            "no Kubernetes cluster configured: set KUBECONFIG, create ~/.kube/config, or pass connection.kubeconfig",
            false,
        );
    }
    return { k8s, kc };
}

/** The bus's pods as the API server lists them, with the client to reach them. */
export interface BusPods {
    /** Every pod the selector finds, Ready or not. */
    pods: any[];
    /** Names of the Ready pods, sorted. */
    ready: string[];
    /** The API server's URL, for messages. */
    server: string;
    k8s: any;
    kc: any;
}

/**
 * Lists the pods of `target` through the API server its kubeconfig names. Throws a {@link TunnelError}
 * when the listing is refused or the pods are another StatefulSet's.
 */
export async function listBusPods(target: KubernetesTarget): Promise<BusPods> {
    const { k8s, kc } = await loadKubeConfig(target);
    const server = String(kc.getCurrentCluster()?.server);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    let pods: any[];
    try {
        pods =
            (await core.listNamespacedPod({ namespace: target.namespace, labelSelector: selector(target.podSelector) }))
                .items ?? [];
    } catch (err) {
        const status = statusOf(err);
        if (status === 401 || status === 403) {
            throw new TunnelError(
                `the Kubernetes API server ${server} refused to list the pods of ${target.statefulSet} in namespace ${target.namespace} (${status}); RBAC: the identity running pulumi up needs "list" on "pods" and "get" and "create" on "pods/portforward" there`,
                false,
            );
        }
        throw new TunnelError(
            `could not list the pods of ${target.statefulSet} in namespace ${target.namespace} at ${server}: ${(err as Error).message}`,
            true,
        );
    }
    const foreign = foreignPods(pods, target, server);
    if (foreign !== undefined) {
        throw new TunnelError(foreign, false);
    }
    const ready = pods
        .filter(isReady)
        .map((p) => String(p.metadata.name))
        .sort();
    return { pods, ready, server, k8s, kc };
}

/**
 * Opens a tunnel to a Ready pod of `target`, preferring pods not in `avoid` (ones that failed in
 * this operation already). Throws a {@link TunnelError} saying what was tried.
 */
export async function openTunnel(target: KubernetesTarget, avoid: ReadonlySet<string>): Promise<Tunnel> {
    const found = await listBusPods(target);
    const { pods, ready, server } = found;
    if (ready.length === 0) {
        const seen = pods.map((p) => `${p.metadata?.name} (${p.status?.phase ?? "unknown"}, not ready)`).join(", ");
        const where = seen
            ? `: ${seen}`
            : ` (no pods found at ${server}; is that the cluster the bus was deployed to?)`;
        throw new TunnelError(`no Ready pod of ${target.statefulSet} in namespace ${target.namespace}${where}`, true);
    }
    const pod = ready.find((name) => !avoid.has(name)) ?? ready[0];
    return forwardPort(found, target.namespace, pod, target.port);
}

/**
 * Forwards an ephemeral loopback port to `port` of `pod`, as `kubectl port-forward` does; each
 * connection to it opens its own stream through the API server.
 */
export async function forwardPort(
    { k8s, kc }: Pick<BusPods, "k8s" | "kc">,
    namespace: string,
    pod: string,
    port: number,
): Promise<Tunnel> {
    const forward = new k8s.PortForward(kc);
    const sockets = new Set<net.Socket>();
    const webSockets = new Set<any>();
    let failure: Error | undefined;
    const listener = net.createServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => undefined);
        // The error channel carries the kubelet's reason, e.g. "connection refused" inside the pod.
        const errors = new Writable({
            write(chunk, _encoding, done) {
                // The channel opens with the port number, which the client strips, leaving an empty write.
                const text = String(chunk).trim();
                if (text !== "") {
                    failure ??= new TunnelError(`the port-forward to pod ${pod} reported: ${text}`, true);
                }
                done();
            },
        });
        forward
            .portForward(namespace, pod, [port], socket, errors, socket)
            .then((ws: any) => {
                webSockets.add(ws);
                // The pod went away or the API server closed the stream: end the client's connection too.
                ws.on?.("close", () => socket.destroy());
            })
            .catch((err: any) => {
                failure ??= new TunnelError(
                    explainPortForwardRefusal(statusOf(err), pod, namespace, String(err?.message ?? err)),
                    statusOf(err) !== 401 && statusOf(err) !== 403,
                );
                socket.destroy();
            });
    });
    await new Promise<void>((resolve, reject) => {
        listener.once("error", reject);
        listener.listen(0, "127.0.0.1", () => resolve());
    });
    const localPort = (listener.address() as net.AddressInfo).port;
    return {
        url: `nats://127.0.0.1:${localPort}`,
        pod,
        failure: () => failure,
        close: async () => {
            for (const ws of webSockets) {
                if (ws.terminate) ws.terminate();
                else ws.close?.();
            }
            for (const socket of sockets) socket.destroy();
            await new Promise<void>((resolve) => listener.close(() => resolve()));
        },
    };
}
