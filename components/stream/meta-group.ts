/**
 * A cluster that places no replicated stream although every pod is Ready: one server left out of the
 * JetStream meta group. A fresh nats-server 2.10 cluster whose servers start together (a StatefulSet
 * with podManagementPolicy Parallel) now and then elects a meta leader that never takes the third
 * server in, although that server is routed to every other and follows the leader: the group stays at
 * two, every R3 stream fails with "no suitable peers for placement" (error 10005), and it does not heal
 * by itself. Restarting the server left out brings it in. Seen in 1 of 90 fresh 3-node
 * 2.10.29 clusters, never in 40 of 2.14.4.
 *
 * The pure part reads the servers' monitoring endpoints (/varz, /routez, /jsz); the rest reaches them
 * through port-forwards and restarts the pod with an eviction, which honours the PodDisruptionBudget.
 */
import { PORTS } from "../defaults";
import type { KubernetesTarget } from "./connection";
import { BusPods, forwardPort, listBusPods } from "./tunnel";

/** One server's view of its routes and of the JetStream meta group, from its monitoring endpoints. */
export interface ServerView {
    /** The pod it runs in. */
    pod: string;
    /** `server_name` from /varz. */
    server: string;
    /** Names of the servers it has routes to (2.10 and later pool several connections per peer). */
    routedTo: string[];
    /** /jsz `meta_cluster`: the leader it follows, the group's size and, on the leader, its followers. */
    meta: { leader?: string; cluster_size?: number; replicas?: { name: string }[] };
}

/** A server that is routed to every other but not in the meta leader's group. */
export interface LeftOut {
    pod: string;
    server: string;
    leader: string;
    /** The number of servers in the leader's group. */
    groupSize: number;
    /** The number of servers looked at. */
    servers: number;
}

/**
 * The server left out of the meta group, when the cluster is in that state: every server routed to
 * all the others and following the same leader, and the leader's group smaller than the cluster.
 * Undefined for a cluster still forming (routes missing, no leader agreed) or a healthy one.
 */
export function serverLeftOut(views: ServerView[]): LeftOut | undefined {
    if (views.length < 2) return undefined;
    const names = new Set(views.map((v) => v.server));
    const fullyRouted = views.every((v) => [...names].every((name) => name === v.server || v.routedTo.includes(name)));
    const leaderName = views[0].meta.leader;
    if (!fullyRouted || leaderName === undefined || views.some((v) => v.meta.leader !== leaderName)) return undefined;
    const leader = views.find((v) => v.server === leaderName);
    if (!leader || (leader.meta.cluster_size ?? views.length) >= views.length) return undefined;
    const members = new Set([leaderName, ...(leader.meta.replicas ?? []).map((r) => r.name)]);
    const outside = views.find((v) => !members.has(v.server));
    if (!outside) return undefined;
    return {
        pod: outside.pod,
        server: outside.server,
        leader: leaderName,
        groupSize: leader.meta.cluster_size ?? members.size,
        servers: views.length,
    };
}

/** What the state means, for progress lines and errors. */
export function describeLeftOut(left: LeftOut): string {
    return (
        `server ${left.server} (pod ${left.pod}) is routed to every server but not in the JetStream meta group ` +
        `of leader ${left.leader} (${left.groupSize} of ${left.servers} servers), so no stream with more replicas than that can be placed; ` +
        "a fresh nats-server 2.10 cluster can start so and does not heal until that server restarts"
    );
}

/** The container port named `monitor` of the bus's pods (Argo Events' 8222). */
export function monitorPortOf(pod: any): number {
    for (const container of pod?.spec?.containers ?? []) {
        const port = (container.ports ?? []).find((p: any) => p.name === "monitor");
        if (port && typeof port.containerPort === "number") return port.containerPort;
    }
    return PORTS.monitor;
}

/** GET of a monitoring endpoint through a tunnel's local port, as JSON, bounded in time. */
async function monitorJson(base: string, endpoint: string): Promise<any> {
    const res = await fetch(`${base}${endpoint}`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`${endpoint} answered ${res.status}`);
    return res.json();
}

/**
 * Each Ready pod's view, read from its monitoring port through a port-forward. Undefined when a pod
 * cannot be read (the views would not tell the whole cluster), or when fewer than two pods are Ready.
 */
export async function readServerViews(
    target: KubernetesTarget,
    found?: BusPods,
): Promise<{ views: ServerView[]; pods: BusPods } | undefined> {
    const pods = found ?? (await listBusPods(target));
    if (pods.ready.length < 2) return undefined;
    const byName = new Map(pods.pods.map((p) => [String(p.metadata?.name), p]));
    const views = await Promise.all(
        pods.ready.map(async (pod): Promise<ServerView | undefined> => {
            const tunnel = await forwardPort(pods, target.namespace, pod, monitorPortOf(byName.get(pod)));
            const base = tunnel.url.replace(/^nats:/, "http:");
            try {
                const [varz, routez, jsz] = await Promise.all([
                    monitorJson(base, "/varz"),
                    monitorJson(base, "/routez"),
                    monitorJson(base, "/jsz"),
                ]);
                const routedTo = [
                    ...new Set<string>(
                        (routez.routes ?? []).map(
                            (r: { remote_name?: string; remote_id: string }) => r.remote_name ?? r.remote_id,
                        ),
                    ),
                ];
                return { pod, server: String(varz.server_name), routedTo, meta: jsz.meta_cluster ?? {} };
            } catch {
                return undefined;
            } finally {
                await tunnel.close();
            }
        }),
    );
    if (views.some((v) => v === undefined)) return undefined;
    return { views: views as ServerView[], pods };
}

/** How an eviction went. */
export type EvictionResult = { evicted: true } | { evicted: false; retry: boolean; reason: string };

/**
 * Evicts `pod` (its StatefulSet starts it again, on the same volume), as `kubectl drain` would: the
 * API server refuses while the PodDisruptionBudget allows no disruption (429), which is worth waiting
 * out; a refusal by RBAC (403) is not.
 */
export async function evictPod(
    pods: Pick<BusPods, "k8s" | "kc">,
    namespace: string,
    pod: string,
): Promise<EvictionResult> {
    const core = pods.kc.makeApiClient(pods.k8s.CoreV1Api);
    try {
        await core.createNamespacedPodEviction({
            name: pod,
            namespace,
            body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: pod, namespace } },
        });
        return { evicted: true };
    } catch (err: any) {
        const status = err?.code ?? err?.statusCode;
        if (status === 401 || status === 403) {
            return {
                evicted: false,
                retry: false,
                reason: `the Kubernetes API server refused to evict pod ${pod} in namespace ${namespace} (${status}); RBAC: restarting it needs "create" on "pods/eviction"`,
            };
        }
        if (status === 429) {
            return {
                evicted: false,
                retry: true,
                reason: `the PodDisruptionBudget of namespace ${namespace} allows no disruption now`,
            };
        }
        return { evicted: false, retry: true, reason: String(err?.message ?? err).split("\n")[0] };
    }
}
