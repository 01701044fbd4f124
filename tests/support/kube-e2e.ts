/**
 * What the end-to-end tests on a real control plane share: starting it with its pod servers, a
 * program folder whose engine reaches it, and a client of the bus as an application in the cluster
 * would have one (the client Secret's credentials and CA, the service's TLS name).
 */
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { parse as parseYaml } from "yaml";
import { privateHostsProblem } from "./cluster";
import {
    ControlPlane,
    ControlPlaneTools,
    createNamespace,
    findControlPlaneTools,
    startControlPlane,
} from "./control-plane";
import { Cleanup, findNatsServers } from "./nats";
import { PodServerEvent, PodServers, startPodServers } from "./pod-servers";
import { CommandResult, createProgramFolder, EngineTools, findEngineTools, ProgramFolder } from "./real-engine";

/** Why the tests on a real control plane cannot run here, or false when they can. */
export function kubernetesSkipReason(): string | false {
    const engine = findEngineTools();
    if (typeof engine === "string") return engine;
    const plane = findControlPlaneTools();
    if (typeof plane === "string") return plane;
    return privateHostsProblem() ?? (findNatsServers().length > 0 ? false : "no nats-server");
}

/** A control plane, real nats-servers behind its pods, and a program folder deploying to it. */
export interface KubernetesTarget {
    plane: ControlPlane;
    pods: PodServers;
    program: ProgramFolder;
    /** Runs `pulumi <args>` against the control plane (KUBECONFIG is its kubeconfig). */
    pulumi: ProgramFolder["pulumi"];
    pulumiOk: ProgramFolder["pulumiOk"];
    /** `pulumi up --yes --skip-preview`; a failure says what the pod servers met. */
    up(): Promise<CommandResult>;
}

/**
 * Starts a control plane with `namespaces` (enforcing the restricted Pod Security level), the pod
 * servers, and a program folder with `files` and a stack `dev`; `cleanup` stops it all. The engine
 * reaches the control plane through KUBECONFIG unless `ambientKubeconfig` is false: the program must
 * then bring its own (an explicit provider), as nothing else points at the cluster.
 */
export async function startKubernetesTarget(
    cleanup: Cleanup,
    namespaces: string[],
    files: Record<string, string>,
    options: { ambientKubeconfig?: boolean } = {},
): Promise<KubernetesTarget> {
    const plane = await startControlPlane(findControlPlaneTools() as ControlPlaneTools, cleanup);
    for (const namespace of namespaces) await createNamespace(plane, namespace);
    const pods = startPodServers(plane, cleanup, { binaries: findNatsServers() });
    const program = await createProgramFolder(findEngineTools() as EngineTools, cleanup, files);
    const env: NodeJS.ProcessEnv = options.ambientKubeconfig === false ? {} : { KUBECONFIG: plane.kubeconfigPath };
    const pulumi: ProgramFolder["pulumi"] = (args, options = {}) =>
        program.pulumi(args, { ...options, env: { ...env, ...options.env } });
    const pulumiOk: ProgramFolder["pulumiOk"] = (args, options = {}) =>
        program.pulumiOk(args, { ...options, env: { ...env, ...options.env } });
    await pulumiOk(["stack", "init", "dev"]);
    const up = async () => {
        const result = await pulumi(["up", "--yes", "--skip-preview"]);
        if (result.code !== 0) {
            const events = pods.events
                .slice(-12)
                .map((e) => `${new Date(e.at).toISOString()} ${e.pod} ${e.what}${e.detail ? `: ${e.detail}` : ""}`);
            throw new Error(
                `pulumi up failed with exit code ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}\n--- pod servers\n${pods.problems().slice(-5).join("\n")}\n${events.join("\n")}\n${(await meshSummary(pods)).join("\n")}`,
            );
        }
        return result;
    };
    return { plane, pods, program, pulumi, pulumiOk, up };
}

/** The lines the stream provider printed while it waited, once each (the CLI repeats them in its summary). */
export function streamProgressLines(output: string): string[] {
    const lines = output
        .split("\n")
        .map((line) => /((creating|updating|reading|deleting) stream "[^"]+": .*)$/.exec(line)?.[1]?.trim())
        .filter((line): line is string => line !== undefined);
    return [...new Set(lines)];
}

/** Each running pod server's routes and view of the JetStream meta group, for failure messages. */
async function meshSummary(pods: PodServers): Promise<string[]> {
    const get = async (base: string, endpoint: string) =>
        (await fetch(`${base}${endpoint}`, { signal: AbortSignal.timeout(5_000) })).json() as Promise<any>;
    return Promise.all(
        [...pods.running().values()].map(async (server) => {
            try {
                const [routez, jsz] = await Promise.all([
                    get(server.monitorUrl, "/routez"),
                    get(server.monitorUrl, "/jsz"),
                ]);
                const routed = new Set((routez.routes ?? []).map((r: any) => r.remote_name ?? r.remote_id));
                return `${server.pod}: routes to [${[...routed].join(", ")}], meta ${JSON.stringify(jsz.meta_cluster ?? {})}`;
            } catch (err) {
                return `${server.pod}: ${(err as Error).message}`;
            }
        }),
    );
}

/**
 * A client of the bus `eventbus-<busName>-js` with the credentials and CA of its client Secret, connected to the pods'
 * servers.
 */
export async function connectToBus(
    target: KubernetesTarget,
    namespace: string,
    busName: string,
    cleanup: Cleanup,
): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
    const secret = await target.plane.requestOk(
        "GET",
        `/api/v1/namespaces/${namespace}/secrets/eventbus-${busName}-js-client-auth`,
    );
    const text = (key: string) => Buffer.from(secret.data[key], "base64").toString("utf8");
    const auth = parseYaml(text("client-auth")) as { username: string; password: string };
    const servers = [...target.pods.running().values()]
        .filter((s) => s.pod.startsWith(`${namespace}/eventbus-${busName}-js-`))
        .map((s) => `nats://${s.ip}:${s.clientPort}`);
    const nc = await connect({
        servers,
        user: auth.username,
        pass: auth.password,
        // The certificate names the service, as the client Secret's URL does.
        tls: { ca: text("ca.crt"), servername: new URL(text("url")).hostname } as object,
        // Pods roll under it (settings changes): it comes back as a client in the cluster would.
        reconnect: true,
        maxReconnectAttempts: 240,
        reconnectTimeWait: 500,
    });
    cleanup.defer(() => nc.close());
    return { nc, jsm: await jetstreamManager(nc) };
}

/**
 * The most pods of `prefix` (`namespace/statefulset-`) that were down at once in `events`: a pod is
 * down from its server's "stopping" until a server for that pod name is "ready" again.
 */
export function mostPodsDownAtOnce(events: PodServerEvent[], prefix: string): number {
    const down = new Set<string>();
    let most = 0;
    for (const event of events.filter((e) => e.pod.startsWith(prefix))) {
        if (event.what === "stopping") down.add(event.pod);
        if (event.what === "ready") down.delete(event.pod);
        most = Math.max(most, down.size);
    }
    return most;
}

/** The object at `apiPath`, or undefined when the API server says 404. */
export async function getObject(plane: ControlPlane, apiPath: string): Promise<any | undefined> {
    const res = await plane.request("GET", apiPath);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET ${apiPath}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
}
