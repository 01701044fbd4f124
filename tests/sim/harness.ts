/**
 * Cluster simulation: the pods of a rendered EventBus, each a real nats-server in its own network
 * namespace on a private bridge (tests/support/netns.ts), with the names Kubernetes DNS gives.
 *
 * What each "pod" gets, and where it comes from:
 * - `nats-js.conf`: the ConfigMap's text exactly, with only its file paths moved into the pod's
 *   folder (localizePaths). Ports 4222/6222/8222 on every interface, routes to
 *   `eventbus-<n>-js-<i>.eventbus-<n>-js-svc.<ns>.svc:6222`, TLS, auth include: all unchanged.
 * - The projected config volume: the server Secret's keys under the file names the StatefulSet's
 *   volume gives them.
 * - Environment: the `main` container's `env` of the StatefulSet, expanded as the kubelet does
 *   (fieldRef metadata.name/namespace, secretKeyRef from the server Secret, `$(VAR)` references).
 * - Command: `nats-server --config <conf>` plus the StatefulSet's `args`; preStop is the container's
 *   own preStop command (its `-sl=ldm=<pid file>`, path moved) run in the pod's namespace with the
 *   pod's binary; `terminationGracePeriodSeconds`, the startup and readiness probe paths and the
 *   PDB's `maxUnavailable` are read from the rendered objects.
 * - `/etc/hosts` (via /etc/netns/<ns>/hosts): the kubelet's own line, every pod's
 *   `<pod>.<svc>.<ns>.svc[.<clusterDomain>]`, and the service names resolving to every pod
 *   (a headless service with publishNotReadyAddresses).
 * - A PVC: the pod's `store` folder, kept across restarts.
 *
 * The test process is in the root namespace and reaches pods by address; it verifies the server
 * certificate against the service name, as in-cluster clients do. A "client pod" namespace runs a
 * Node client that uses the client Secret's URL as is (resolved by its hosts file).
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { parse } from "yaml";
import type { EventBusArgs } from "../../components";
import type { StreamProps } from "../../components/stream/provider-impl";
import { renderBus, RenderedBus, writeConfigVolume } from "../support/bus";
import { localizePaths, podEnv, versionEntryFor } from "../support/local-layout";
import { Cleanup, NatsServerBinary, NatsServerHandle, startNatsServer } from "../support/nats";
import { LabHost, NetLab } from "../support/netns";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `promise`, or "timeout" after `ms` (the timer is cleared either way, so nothing keeps the process alive). */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)));
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Seconds with one decimal, for the figures the tests print. */
export const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

const CLIENT_PORT = 4222;
const MONITOR_PORT = 8222;

// ---------------------------------------------------------------------------
// Kubernetes semantics
// ---------------------------------------------------------------------------

/** A container's `env` as the kubelet resolves it for one pod. */
export function kubeletEnv(
    env: any[],
    pod: { name: string; namespace: string },
    secrets: Record<string, Record<string, string>>,
): Record<string, string> {
    const out: Record<string, string> = {};
    // $(VAR) refers to a variable defined earlier; $$ escapes; an unknown reference stays as written.
    const expand = (value: string) =>
        value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name) =>
            m === "$$" ? "$" : name in out ? out[name] : m,
        );
    for (const v of env) {
        if (typeof v.value === "string") {
            out[v.name] = expand(v.value);
        } else if (v.valueFrom?.fieldRef) {
            const field = v.valueFrom.fieldRef.fieldPath;
            const fields: Record<string, string> = { "metadata.name": pod.name, "metadata.namespace": pod.namespace };
            if (!(field in fields)) throw new Error(`env ${v.name}: fieldRef ${field} is not simulated`);
            out[v.name] = fields[field];
        } else if (v.valueFrom?.secretKeyRef) {
            const { name, key } = v.valueFrom.secretKeyRef;
            const value = secrets[name]?.[key];
            if (value === undefined) throw new Error(`env ${v.name}: Secret ${name} has no key ${key}`);
            out[v.name] = value;
        } else {
            throw new Error(`env ${v.name}: unsupported source ${JSON.stringify(v)}`);
        }
    }
    return out;
}

/** The `main` container of a rendered StatefulSet object. */
export function mainContainer(statefulSet: any): any {
    return statefulSet.spec.template.spec.containers.find((c: any) => c.name === "main");
}

// ---------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------

/** Every log line of one server process (nats.ts keeps only the last 200), with waits from a mark. */
class LogTap {
    readonly lines: string[] = [];
    private readonly waiters = new Set<() => void>();

    constructor(child: ChildProcess) {
        const partial = { out: "", err: "" };
        const take = (stream: "out" | "err") => (chunk: Buffer) => {
            const parts = (partial[stream] + chunk.toString("utf8")).split("\n");
            partial[stream] = parts.pop() ?? "";
            if (this.lines.length < 50_000) this.lines.push(...parts);
            for (const w of [...this.waiters]) w();
        };
        child.stdout?.on("data", take("out"));
        child.stderr?.on("data", take("err"));
    }

    mark(): number {
        return this.lines.length;
    }

    /** The first line from `from` on matching `pattern`, waiting up to `timeoutMs`. */
    wait(pattern: RegExp, from: number, timeoutMs: number): Promise<string | undefined> {
        const find = () => this.lines.slice(from).find((l) => pattern.test(l));
        const found = find();
        if (found !== undefined) return Promise.resolve(found);
        return new Promise((resolve) => {
            const done = (value: string | undefined) => {
                clearTimeout(timer);
                this.waiters.delete(check);
                resolve(value);
            };
            const check = () => {
                const line = find();
                if (line !== undefined) done(line);
            };
            const timer = setTimeout(() => done(undefined), timeoutMs);
            this.waiters.add(check);
        });
    }
}

// ---------------------------------------------------------------------------
// The cluster
// ---------------------------------------------------------------------------

/** One simulated pod of the StatefulSet. */
export interface SimPod {
    index: number;
    /** `eventbus-<n>-js-<i>`. */
    name: string;
    host: LabHost;
    /** Config volume, store (PVC) and pid file live here. */
    dir: string;
    /** The nats-server this pod's image holds. */
    binary: NatsServerBinary;
    /** The StatefulSet object the pod was created from (probes, preStop, grace period). */
    statefulSet: any;
    handle?: NatsServerHandle;
    log?: LogTap;
    /** Logs of every process this pod ran, for the secret checks. */
    pastLogs: string[];
    starts: number;
    /** What the kubelet knows: terminating and stopped pods are not Ready whatever their probes say. */
    phase: "starting" | "running" | "terminating" | "stopped";
    /** When the current run of failed readiness probes began (undefined: the last probe passed). */
    failingSince?: number;
    /** A readiness probe passed since the last start (a new container is not Ready before). */
    everReady: boolean;
}

/** Options of {@link SimCluster.start}. */
export interface SimOptions {
    replicas: number;
    binary: NatsServerBinary;
    /** `jetstream.version` of the bus; default the version map entry of the binary's release line. */
    busVersion?: string;
    /** More `jetstream` arguments. */
    jetstream?: Omit<NonNullable<EventBusArgs["jetstream"]>, "version" | "replicas">;
    busName?: string;
    namespace?: string;
}

/** What a kubelet-style termination observed. */
export interface TerminationReport {
    pod: string;
    /** The server logged that it entered lame duck mode. */
    lameDuck: boolean;
    /** preStop start to process exit. */
    exitMs: number;
    /** The grace period ran out and the kubelet had to SIGKILL. */
    sigkill: boolean;
    exitCode: number | null;
}

/** One pod of a rolling update. */
export interface RollStep extends TerminationReport {
    from: string;
    to: string;
    /** New process start to the startup probe passing (the full /healthz: streams current). */
    startupMs: number;
    /** Containers the kubelet restarted because the startup probe never passed (see startPodAsKubelet). */
    startupRestarts: number;
    /** Termination start to the pod Ready again. */
    downMs: number;
}

export interface RollReport {
    steps: RollStep[];
    /** Most pods seen unready at once by the availability monitor. */
    maxUnavailable: number;
    /** The PDB's maxUnavailable. */
    allowedUnavailable: number;
    /** Most running pods whose readiness probe failed at the same moment (below Kubernetes' tolerance). */
    maxProbeFailing: number;
    samples: number;
    totalMs: number;
    /** For an upgrade: how the old servers took the new ConfigMap the reloader signalled. */
    reloads: ReloadResult[];
}

export interface ReloadResult {
    pod: string;
    ok: boolean;
    line?: string;
}

export class SimCluster {
    readonly pods: SimPod[] = [];
    /** The ConfigMap's `nats-js.conf` currently in the pods' config volumes. */
    configText: string;
    private clientHost?: LabHost;

    private constructor(
        readonly lab: NetLab,
        readonly rendered: RenderedBus,
        readonly root: string,
        private readonly cleanup: Cleanup,
    ) {
        this.configText = rendered.configText;
    }

    get spec() {
        return this.rendered.spec;
    }

    /** `<svc>.<ns>.svc`: the name clients use and check the certificate against. */
    get serviceHost(): string {
        return `${this.spec.names.service}.${this.spec.namespace}.svc`;
    }

    get podUrls(): string[] {
        return this.pods.map((p) => `nats://${p.host.address}:${CLIENT_PORT}`);
    }

    /** The client Secret's credentials (Argo's YAML). */
    get clientAuth(): { username: string; password: string } {
        return parse(this.rendered.clientSecret["client-auth"]);
    }

    /** Renders the bus and starts one pod per replica, all at once (podManagementPolicy Parallel). */
    static async start(options: SimOptions, cleanup: Cleanup): Promise<SimCluster> {
        const busVersion = options.busVersion ?? versionEntryFor(options.binary.version)?.version;
        if (!busVersion) throw new Error(`no version map entry for nats-server ${options.binary.version}`);
        const rendered = await renderBus(options.busName ?? "default", {
            namespace: options.namespace ?? "argo-events",
            jetstream: { ...options.jetstream, version: busVersion, replicas: options.replicas },
        });
        const lab = NetLab.create();
        cleanup.defer(() => {
            const problems = lab.destroy();
            if (problems.length > 0) throw new Error(`network cleanup: ${problems.join("; ")}`);
        });
        const root = cleanup.tempDir("eventbus-sim");
        const cluster = new SimCluster(lab, rendered, root, cleanup);
        // Stop the servers (registered after the lab, so they run before it is destroyed).
        cleanup.defer(() => Promise.all(cluster.pods.map((p) => p.handle?.stop("SIGKILL", 5_000))));
        const statefulSet = rendered.object("StatefulSet");
        if (statefulSet.spec.podManagementPolicy !== "Parallel")
            throw new Error("the simulation starts pods in parallel, as the StatefulSet must");
        for (let i = 0; i < options.replicas; i++) {
            const name = `${rendered.spec.names.statefulSet}-${i}`;
            const host = lab.addHost(`p${i}`);
            const dir = path.join(root, name);
            fs.mkdirSync(path.join(dir, "store"), { recursive: true });
            cluster.pods.push({
                index: i,
                name,
                host,
                dir,
                binary: options.binary,
                statefulSet,
                pastLogs: [],
                starts: 0,
                phase: "stopped",
                everReady: false,
            });
        }
        for (const pod of cluster.pods) {
            lab.writeEtc(pod.host.ns, "hosts", cluster.hostsFile(pod));
            cluster.writeConfigVolume(pod);
        }
        await Promise.all(cluster.pods.map((pod) => cluster.startPod(pod.index)));
        return cluster;
    }

    /** `/etc/hosts` of a pod (the kubelet's line for itself) plus what cluster DNS answers. */
    hostsFile(pod?: SimPod): string {
        const { service, statefulSet } = this.spec.names;
        const ns = this.spec.namespace;
        const domain = this.spec.clusterDomain;
        const lines = ["127.0.0.1\tlocalhost"];
        if (pod) lines.push(`${pod.host.address}\t${pod.name}.${service}.${ns}.svc.${domain}\t${pod.name}`);
        for (const p of this.pods) {
            lines.push(
                `${p.host.address}\t${statefulSet}-${p.index}.${service}.${ns}.svc\t${statefulSet}-${p.index}.${service}.${ns}.svc.${domain}`,
            );
        }
        // A headless service: its name resolves to every pod.
        for (const p of this.pods) {
            lines.push(`${p.host.address}\t${service}.${ns}.svc\t${service}.${ns}.svc.${domain}`);
        }
        return `${lines.join("\n")}\n`;
    }

    /** The pod's config text: the ConfigMap's, with file paths in the pod's folder. */
    podConfigText(pod: SimPod, configText = this.configText): string {
        return localizePaths(configText, pod.dir);
    }

    /** What the kubelet puts in the projected config volume (ConfigMap key + Secret keys). */
    private writeConfigVolume(pod: SimPod, configText = this.configText): void {
        writeConfigVolume(this.rendered, pod.dir, this.podConfigText(pod, configText));
    }

    /** The environment of `main` for this pod, expanded like the kubelet. */
    podEnvironment(pod: SimPod): Record<string, string> {
        const env = kubeletEnv(
            mainContainer(pod.statefulSet).env,
            { name: pod.name, namespace: this.spec.namespace },
            { [this.spec.names.serverSecret]: this.rendered.serverSecret },
        );
        // The package's own reading of the same env (tests/support/local-layout.ts) must agree.
        const expected = podEnv(this.spec, pod.index, this.rendered.serverSecret.encryption);
        for (const [key, value] of Object.entries(expected)) {
            if (env[key] !== value)
                throw new Error(
                    `env ${key} of ${pod.name}: kubelet gives ${JSON.stringify(env[key]?.slice(0, 80))}, expected ${JSON.stringify(value.slice(0, 80))}`,
                );
        }
        return env;
    }

    /** A script that runs `binary` with its arguments inside the pod's network namespace: the container. */
    private launcher(pod: SimPod, binary: NatsServerBinary): string {
        const dir = path.join(this.root, "launchers", pod.host.ns);
        fs.mkdirSync(dir, { recursive: true });
        const file = path.join(dir, `nats-server-${binary.version}`);
        if (!fs.existsSync(file)) {
            fs.writeFileSync(
                file,
                `#!/bin/sh\nexec ip netns exec ${pod.host.ns} ${JSON.stringify(fs.realpathSync(binary.path))} "$@"\n`,
                { mode: 0o755 },
            );
        }
        return file;
    }

    private probePath(pod: SimPod, probe: "startupProbe" | "readinessProbe" | "livenessProbe"): string {
        return mainContainer(pod.statefulSet)[probe].httpGet.path;
    }

    /** Starts the pod's container and waits for its startup probe. Returns ms from spawn to startup probe success. */
    async startPod(index: number, timeoutMs = 90_000): Promise<number> {
        const pod = this.pods[index];
        if (pod.handle?.isRunning()) throw new Error(`${pod.name} is running`);
        const container = mainContainer(pod.statefulSet);
        if (container.command[1] !== "--config" || !container.command[2].endsWith("/nats-js.conf")) {
            throw new Error(`unexpected command ${JSON.stringify(container.command)}`);
        }
        const t0 = Date.now();
        pod.starts++;
        pod.phase = "starting";
        // Not Ready until a readiness probe passes.
        pod.everReady = false;
        pod.failingSince = undefined;
        const handle = await startNatsServer({
            binary: this.launcher(pod, pod.binary),
            configPath: path.join(pod.dir, "nats-js.conf"),
            args: container.args ?? [],
            env: this.podEnvironment(pod),
            name: pod.name,
            monitorHost: pod.host.address,
            monitorPort: MONITOR_PORT,
            // The startup probe: the full /healthz (JetStream recovered, meta leader, assets current).
            readyPath: this.probePath(pod, "startupProbe"),
            timeoutMs,
            // The kubelet stops a container whose startup probe failed as any other: SIGTERM first.
            stopOnFailure: "SIGTERM",
        });
        pod.handle = handle;
        pod.phase = "running";
        pod.log = new LogTap(handle.process);
        // The first lines were printed before the tap: keep them from the ring.
        pod.log.lines.unshift(...handle.logs());
        return Date.now() - t0;
    }

    /**
     * Starts the pod's container and, as the kubelet does when the startup probe has failed
     * `failureThreshold` times, stops it (SIGTERM) and starts it again (once). The rendered probe allows
     * 10 s + 90 x 10 s; the simulation allows `budgetMs` per container. Each failed start is
     * printed with what the other servers report about this one, so a stuck start is explained.
     */
    async startPodAsKubelet(
        index: number,
        budgetMs = 120_000,
    ): Promise<{ startupMs: number; startupRestarts: number }> {
        const pod = this.pods[index];
        const t0 = Date.now();
        for (let restarts = 0; ; restarts++) {
            try {
                await this.startPod(index, budgetMs);
                return { startupMs: Date.now() - t0, startupRestarts: restarts };
            } catch (err) {
                pod.phase = "stopped";
                if (restarts >= 1) throw err;
                const lines = String((err as Error).message).split("\n");
                const why = lines.filter((l) => /Healthcheck failed/.test(l)).pop() ?? lines[lines.length - 1];
                console.log(
                    `# ${pod.name} (${pod.binary.version}): startup probe still failing after ${secs(budgetMs)}; the kubelet restarts the container. ${lines[0]}; ${why.replace(/^.*\[(WRN|INF|ERR)\]\s*/, "")}`,
                );
                console.log(`#   the other servers on its stream replicas: ${await this.streamReplicaViews(index)}`);
            }
        }
    }

    /** What every other running pod's /jsz says about the stream replicas, for a stuck start's report. */
    private async streamReplicaViews(index: number): Promise<string> {
        const views: string[] = [];
        for (const other of this.pods) {
            if (other.index === index || !other.handle?.isRunning()) continue;
            try {
                const jsz = await this.monitor(other.index, "/jsz?accounts=true&streams=true");
                for (const account of jsz.account_details ?? []) {
                    for (const stream of account.stream_detail ?? []) {
                        const c = stream.cluster ?? {};
                        const replicas = (c.replicas ?? [])
                            .map(
                                (r: any) =>
                                    `${r.name} current=${r.current} lag=${r.lag ?? 0}${r.offline ? " offline" : ""}`,
                            )
                            .join(", ");
                        views.push(
                            `${other.name}: ${stream.name} leader ${c.leader ?? "none"}, last seq ${stream.state?.last_seq}; ${replicas}`,
                        );
                    }
                }
            } catch (err) {
                views.push(`${other.name}: /jsz failed (${(err as Error).message})`);
            }
        }
        return views.join(" | ") || "none running";
    }

    /** GET on the pod's monitoring port; true on 200. */
    async probe(index: number, probePath: string, timeoutMs = 2_000): Promise<boolean> {
        try {
            const res = await fetch(`http://${this.pods[index].host.address}:${MONITOR_PORT}${probePath}`, {
                signal: AbortSignal.timeout(timeoutMs),
            });
            await res.arrayBuffer();
            return res.status === 200;
        } catch {
            return false;
        }
    }

    /** Whether the pod would be Ready: running and its readiness probe passing. */
    async isReady(index: number): Promise<boolean> {
        const pod = this.pods[index];
        const ok =
            pod.phase === "running" &&
            Boolean(pod.handle?.isRunning()) &&
            (await this.probe(index, this.probePath(pod, "readinessProbe")));
        if (ok) {
            // One kubelet: a pass seen here counts for the availability monitor too.
            pod.everReady = true;
            pod.failingSince = undefined;
        }
        return ok;
    }

    async waitReady(index: number, timeoutMs = 60_000): Promise<void> {
        const deadline = Date.now() + timeoutMs;
        while (!(await this.isReady(index))) {
            if (Date.now() > deadline) throw new Error(`${this.pods[index].name} not ready within ${timeoutMs}ms`);
            await sleep(200);
        }
    }

    async monitor(index: number, endpoint: string): Promise<any> {
        const res = await fetch(`http://${this.pods[index].host.address}:${MONITOR_PORT}${endpoint}`, {
            signal: AbortSignal.timeout(5_000),
        });
        return res.json();
    }

    /** A crash: SIGKILL, no preStop. */
    async kill9(index: number): Promise<void> {
        const pod = this.pods[index];
        pod.phase = "stopped";
        await pod.handle?.kill9();
        this.retireLog(pod);
    }

    private retireLog(pod: SimPod): void {
        if (pod.log) pod.pastLogs.push(...pod.log.lines);
        pod.log = undefined;
    }

    /**
     * Terminates the pod as the kubelet does: the preStop hook (the container's own command, here
     * `nats-server -sl=ldm=<pid file>` with the pod's binary in its namespace), then SIGTERM, then
     * SIGKILL when `terminationGracePeriodSeconds` (counted from the start) runs out.
     */
    async terminate(index: number): Promise<TerminationReport> {
        const pod = this.pods[index];
        const handle = pod.handle;
        if (!handle?.isRunning()) throw new Error(`${pod.name} is not running`);
        const graceMs = pod.statefulSet.spec.template.spec.terminationGracePeriodSeconds * 1000;
        const preStop: string[] = mainContainer(pod.statefulSet).lifecycle.preStop.exec.command;
        const mark = pod.log?.mark() ?? 0;
        const t0 = Date.now();
        pod.phase = "terminating";
        const exited = handle.exited();
        const hook = spawn(
            this.launcher(pod, pod.binary),
            preStop.slice(1).map((arg) => localizePaths(arg, pod.dir)),
            { stdio: ["ignore", "pipe", "pipe"] },
        );
        let hookOutput = "";
        hook.stdout.on("data", (c: Buffer) => (hookOutput += c.toString()));
        hook.stderr.on("data", (c: Buffer) => (hookOutput += c.toString()));
        const hookDone = new Promise<number | null>((resolve) => hook.once("exit", (code) => resolve(code)));
        const hookCode = await within(hookDone, graceMs);
        if (hookCode === "timeout") hook.kill("SIGKILL");
        else if (hookCode !== 0) throw new Error(`preStop of ${pod.name} failed (${hookCode}): ${hookOutput.trim()}`);
        // `-sl=ldm` returns once SIGUSR2 is sent, and the server starts lame duck on a goroutine; a
        // SIGTERM in the same instant can beat it and shut the server down at once (clean, but no
        // lame duck). The kubelet's stop call through the container runtime leaves that moment; a
        // direct kill here would not, so the SIGTERM waits (at most 2 s) for lame duck to begin.
        if (hookCode === 0) await Promise.race([pod.log?.wait(/lame duck/i, mark, 2_000), exited]);
        if (handle.isRunning()) handle.process.kill("SIGTERM");
        const left = Math.max(0, t0 + graceMs - Date.now());
        let sigkill = false;
        if ((await within(exited, left)) === "timeout") {
            sigkill = true;
            await handle.kill9();
        }
        const exitCode = await exited;
        pod.phase = "stopped";
        const exitMs = Date.now() - t0;
        const lameDuck = (await pod.log?.wait(/lame duck/i, mark, 0)) !== undefined;
        this.retireLog(pod);
        return { pod: pod.name, lameDuck, exitMs, sigkill, exitCode };
    }

    /**
     * What the reloader sidecar does when a watched file changes: SIGHUP to the pid in the pid file.
     * Resolves with whether the server took the new configuration.
     */
    async reload(index: number, timeoutMs = 10_000): Promise<ReloadResult> {
        const pod = this.pods[index];
        const pid = Number(fs.readFileSync(path.join(pod.dir, "nats.pid"), "utf8").trim());
        if (pid !== pod.handle?.pid)
            throw new Error(`pid file of ${pod.name} holds ${pid}, the server is ${pod.handle?.pid}`);
        const mark = pod.log!.mark();
        process.kill(pid, "SIGHUP");
        const line = await pod.log!.wait(/Reloaded server configuration|[Ff]ailed to reload/, mark, timeoutMs);
        return { pod: pod.name, ok: line !== undefined && /Reloaded server configuration/.test(line), line };
    }

    /**
     * A ConfigMap change as the pods see it: the kubelet rewrites every pod's config volume, then
     * each reloader signals its server. Resolves with each server's answer.
     */
    async deliverConfig(configText: string): Promise<ReloadResult[]> {
        this.configText = configText;
        for (const pod of this.pods) this.writeConfigVolume(pod, configText);
        const results: ReloadResult[] = [];
        for (const pod of this.pods) {
            if (pod.handle?.isRunning()) results.push(await this.reload(pod.index));
        }
        return results;
    }

    /**
     * A rolling update as the StatefulSet controller performs it: highest ordinal first, one pod at
     * a time; each is terminated (preStop, SIGTERM, grace period), recreated from `to` (the new pod
     * template: image = binary) and must pass its startup and readiness probes before the next one.
     * The controller only touches a pod when all pods are Ready, which with the PDB's
     * `maxUnavailable: 1` an availability monitor checks throughout.
     */
    async rollingUpdate(to?: { binary: NatsServerBinary; statefulSet: any }): Promise<RollReport> {
        const t0 = Date.now();
        const allowedUnavailable = this.rendered.object("PodDisruptionBudget").spec.maxUnavailable;
        let maxUnavailable = 0;
        let samples = 0;
        let monitoring = true;
        // The kubelet's view of Ready: not while terminating, stopped or before the first passing
        // readiness probe; afterwards unready only once the probe has failed for
        // periodSeconds x failureThreshold (Kubernetes' own tolerance). Probes run every 250ms.
        // Separately, how many running pods fail the probe at the same moment (a meta leader election
        // fails /healthz?js-server-only on every 2.9/2.10 pod) is recorded for the figures.
        let maxProbeFailing = 0;
        const probeOnce = async (pod: SimPod) => {
            const probe = mainContainer(pod.statefulSet).readinessProbe;
            const now = Date.now();
            const ok =
                pod.phase === "running" &&
                (await this.probe(pod.index, probe.httpGet.path, (probe.timeoutSeconds ?? 1) * 1000));
            if (ok) {
                pod.everReady = true;
                pod.failingSince = undefined;
            } else {
                pod.failingSince ??= now;
            }
            const tolerance = (probe.periodSeconds ?? 10) * (probe.failureThreshold ?? 3) * 1000;
            const ready =
                pod.phase === "running" &&
                pod.everReady &&
                (pod.failingSince === undefined || now - pod.failingSince < tolerance);
            return { ready, probeFailing: pod.phase === "running" && !ok };
        };
        const monitor = (async () => {
            while (monitoring) {
                const states = await Promise.all(this.pods.map(probeOnce));
                maxUnavailable = Math.max(maxUnavailable, states.filter((r) => !r.ready).length);
                maxProbeFailing = Math.max(maxProbeFailing, states.filter((r) => r.probeFailing).length);
                samples++;
                await sleep(250);
            }
        })();
        const steps: RollStep[] = [];
        try {
            for (let i = this.pods.length - 1; i >= 0; i--) {
                for (const p of this.pods) await this.waitReady(p.index, 120_000);
                const pod = this.pods[i];
                const from = pod.binary.version;
                const started = Date.now();
                const termination = await this.terminate(i);
                if (to) {
                    pod.binary = to.binary;
                    pod.statefulSet = to.statefulSet;
                }
                const { startupMs, startupRestarts } = await this.startPodAsKubelet(i);
                await this.waitReady(i, 60_000);
                steps.push({
                    ...termination,
                    from,
                    to: pod.binary.version,
                    startupMs,
                    startupRestarts,
                    downMs: Date.now() - started,
                });
            }
        } finally {
            monitoring = false;
            await monitor;
        }
        return {
            steps,
            maxUnavailable,
            allowedUnavailable,
            maxProbeFailing,
            samples,
            totalMs: Date.now() - t0,
            reloads: [],
        };
    }

    // -----------------------------------------------------------------------
    // Clients
    // -----------------------------------------------------------------------

    /** nats.js options of an in-cluster client: every pod (the headless service), TLS verified by the service name. */
    clientOptions(extra: Partial<ConnectionOptions> = {}): ConnectionOptions {
        return {
            servers: this.podUrls,
            user: this.clientAuth.username,
            pass: this.clientAuth.password,
            tls: { ca: this.rendered.clientSecret["ca.crt"], servername: this.serviceHost } as object,
            ignoreClusterUpdates: true,
            timeout: 10_000,
            ...extra,
        } as ConnectionOptions;
    }

    async connect(extra: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
        const nc = await connect(this.clientOptions(extra));
        this.cleanup.defer(() => nc.close().catch(() => undefined));
        return nc;
    }

    /** The Stream resource's inputs as the provider gets them, with the pods' addresses as servers. */
    streamProps(overrides: Partial<StreamProps> = {}): StreamProps {
        const inputs = this.rendered.resources.find((r) => r.type === "pulumi-nodejs:dynamic/jetstream:Stream")!.inputs;
        const { __provider: _provider, observedServerVersion: _observed, ...props } = inputs;
        return {
            ...props,
            connection: { ...props.connection, mode: "direct", kubernetes: undefined, servers: this.podUrls },
            createTimeout: "1m",
            ...overrides,
        } as StreamProps;
    }

    /**
     * Runs `script` (a CommonJS body; `input` is the parsed stdin, `lib(name)` requires from the
     * package) with Node in a "client pod": its own namespace on the bridge whose hosts file is what
     * cluster DNS answers. Resolves with the JSON the script prints last.
     */
    async runInClientPod(script: string, input: unknown, timeoutMs = 30_000): Promise<any> {
        if (!this.clientHost) {
            this.clientHost = this.lab.addHost("client");
            this.lab.writeEtc(this.clientHost.ns, "hosts", this.hostsFile());
        }
        const file = path.join(this.root, `client-${Date.now()}.js`);
        const packageRoot = path.resolve(__dirname, "..", "..", "..");
        fs.writeFileSync(
            file,
            [
                `const { createRequire } = require("node:module");`,
                `const lib = createRequire(${JSON.stringify(path.join(packageRoot, "index.js"))});`,
                `const input = JSON.parse(require("node:fs").readFileSync(0, "utf8"));`,
                `(async () => {`,
                script,
                `})().then((r) => { console.log(JSON.stringify(r)); process.exit(0); }, (e) => { console.log(JSON.stringify({ error: String(e && e.message || e), code: e && e.code })); process.exit(0); });`,
            ].join("\n"),
        );
        const child = spawn("ip", ["netns", "exec", this.clientHost.ns, process.execPath, file], {
            stdio: ["pipe", "pipe", "pipe"],
        });
        let out = "";
        let err = "";
        child.stdout.on("data", (c: Buffer) => (out += c.toString()));
        child.stderr.on("data", (c: Buffer) => (err += c.toString()));
        child.stdin.end(JSON.stringify(input));
        const code = await within(
            new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c))),
            timeoutMs,
        );
        if (code === "timeout") child.kill("SIGKILL");
        if (code !== 0)
            throw new Error(
                `client pod script ${code === "timeout" ? "timed out" : `exited with ${code}`}: ${err.trim().slice(-2000)}`,
            );
        const last = out.trim().split("\n").pop() ?? "";
        return JSON.parse(last);
    }

    /** Every log line every server of this cluster printed so far. */
    allLogs(): string[] {
        return this.pods.flatMap((p) => [...p.pastLogs, ...(p.log?.lines ?? [])]);
    }
}

// ---------------------------------------------------------------------------
// JetStream checks
// ---------------------------------------------------------------------------

/** Name of the leader of `stream` and its replicas. */
export async function streamCluster(
    jsm: JetStreamManager,
    stream: string,
): Promise<{
    leader?: string;
    replicas: { name: string; current: boolean; lag?: number; offline?: boolean }[];
    messages: number;
    lastSeq: number;
}> {
    const info = await jsm.streams.info(stream);
    return {
        leader: info.cluster?.leader,
        replicas: (info.cluster?.replicas ?? []).map((r) => ({
            name: r.name,
            current: r.current,
            lag: r.lag,
            offline: r.offline,
        })),
        messages: info.state.messages,
        lastSeq: info.state.last_seq,
    };
}

/** The stream as one server holds it (its own copy), from /jsz. */
export async function localStreamState(
    cluster: SimCluster,
    index: number,
    stream: string,
): Promise<{ messages: number; lastSeq: number } | undefined> {
    const jsz = await cluster.monitor(index, "/jsz?accounts=true&streams=true");
    for (const account of jsz.account_details ?? []) {
        for (const s of account.stream_detail ?? []) {
            if (s.name === stream) return { messages: s.state.messages, lastSeq: s.state.last_seq };
        }
    }
    return undefined;
}

/** One pod's own copy of a stream, as its /jsz reports it. */
export interface StreamCopy {
    pod: string;
    messages: number;
    lastSeq: number;
}

/** Every pod's copy of `stream` now; a pod that holds none, or does not answer, shows -1. */
async function readCopies(cluster: SimCluster, stream: string): Promise<StreamCopy[]> {
    return Promise.all(
        cluster.pods.map(async (pod) => {
            const local = await localStreamState(cluster, pod.index, stream).catch(() => undefined);
            return { pod: pod.name, messages: local?.messages ?? -1, lastSeq: local?.lastSeq ?? -1 };
        }),
    );
}

/**
 * Every pod's copy of `stream` once the copies have settled: all agree (followers apply the leader's
 * last entries a moment after the ack), or they stayed the same for `stableMs` (copies that
 * diverged, see nats-server#6415), or `timeoutMs` passed.
 */
export async function streamCopies(
    cluster: SimCluster,
    stream: string,
    { stableMs = 5_000, timeoutMs = 30_000 } = {},
): Promise<StreamCopy[]> {
    const deadline = Date.now() + timeoutMs;
    let previous = "";
    let sameSince = Date.now();
    for (;;) {
        const copies = await readCopies(cluster, stream);
        const now = Date.now();
        const seen = JSON.stringify(copies);
        if (seen !== previous) [previous, sameSince] = [seen, now];
        if (copiesAgree(copies) || now - sameSince >= stableMs || now >= deadline) return copies;
        await new Promise<void>((r) => setTimeout(r, 500));
    }
}

/** True when every copy holds the same messages up to the same last sequence. */
export function copiesAgree(copies: StreamCopy[]): boolean {
    return copies.every((c) => c.messages >= 0 && c.messages === copies[0].messages && c.lastSeq === copies[0].lastSeq);
}

/**
 * What is wrong with each pod's copy after a roll restarted every pod, compared with the copies
 * before it: a restarted server holds what its store held, or what it caught up from the stream's
 * leader; and where the copies agreed before, nothing may move at all. Empty when all is well.
 */
export function restartedCopyProblems(before: StreamCopy[], after: StreamCopy[], leader: string): string[] {
    const leaderCopy = after.find((c) => c.pod === leader);
    if (!leaderCopy) return [`the stream's leader ${leader} is none of the pods`];
    const same = (a: StreamCopy, b: StreamCopy) => a.messages === b.messages && a.lastSeq === b.lastSeq;
    const problems: string[] = [];
    const agreed = copiesAgree(before);
    for (const copy of after) {
        const own = before.find((c) => c.pod === copy.pod);
        if (!own) {
            problems.push(`${copy.pod} had no copy before the roll`);
        } else if (agreed ? !same(copy, own) : !same(copy, own) && !same(copy, leaderCopy)) {
            problems.push(
                `${copy.pod} holds ${copy.messages} messages to seq ${copy.lastSeq} after its restart: ` +
                    (agreed
                        ? `every copy held ${own.messages} to seq ${own.lastSeq} before`
                        : `neither its own copy from before (${own.messages} to seq ${own.lastSeq}) nor the leader's (${leaderCopy.messages} to seq ${leaderCopy.lastSeq})`),
            );
        }
    }
    return problems;
}

/** "pod-0 10000 msgs to seq 10000, ..." for a test's log. */
export function describeCopies(copies: StreamCopy[]): string {
    return copies.map((c) => `${c.pod} ${c.messages} msgs to seq ${c.lastSeq}`).join(", ");
}

/**
 * Waits until `index` holds a current copy of `stream`: it is the leader or a current replica with no
 * lag, and its own store has the leader's last sequence. Returns the ms it took.
 */
export async function waitCaughtUp(
    cluster: SimCluster,
    jsm: JetStreamManager,
    index: number,
    stream: string,
    timeoutMs = 60_000,
): Promise<number> {
    const t0 = Date.now();
    const name = cluster.pods[index].name;
    let last: string;
    for (;;) {
        try {
            const c = await streamCluster(jsm, stream);
            const replica = c.replicas.find((r) => r.name === name);
            const local = await localStreamState(cluster, index, stream);
            last = `leader ${c.leader} last_seq ${c.lastSeq}, replicas ${JSON.stringify(c.replicas)}, local ${JSON.stringify(local)}`;
            if (c.leader === name || (replica && replica.current && !replica.offline && (replica.lag ?? 0) === 0)) {
                return Date.now() - t0;
            }
            if (!replica && c.leader !== name) {
                // Not a peer of this stream (an R3 stream on 5 pods): nothing to catch up.
                return Date.now() - t0;
            }
        } catch (err) {
            // A leader change in progress: ask again.
            last = String((err as Error).message);
        }
        if (Date.now() - t0 > timeoutMs)
            throw new Error(`${name} did not catch up on stream ${stream} within ${timeoutMs}ms; last seen: ${last}`);
        await sleep(250);
    }
}

/**
 * Waits until every pod that holds `stream` has the leader's last sequence in its own store (after the writes stopped).
 */
export async function waitCopiesEqual(
    cluster: SimCluster,
    jsm: JetStreamManager,
    stream: string,
    timeoutMs = 30_000,
): Promise<{ lastSeq: number; copies: number }> {
    const t0 = Date.now();
    let last: string;
    for (;;) {
        const c = await streamCluster(jsm, stream).catch(() => undefined);
        const copies = await readCopies(cluster, stream);
        const held = copies.filter((copy) => copy.lastSeq >= 0);
        last = `leader last_seq ${c?.lastSeq}, copies ${describeCopies(copies)}`;
        if (c && held.length === Math.min(cluster.pods.length, 3) && held.every((copy) => copy.lastSeq === c.lastSeq))
            return { lastSeq: c.lastSeq, copies: held.length };
        if (Date.now() - t0 > timeoutMs)
            throw new Error(`the copies of ${stream} differ after ${timeoutMs}ms: ${last}`);
        await sleep(250);
    }
}

/** Options of {@link publishWithRetries}. */
export interface PublishOptions {
    total: number;
    /** `Nats-Msg-Id` prefix; the id of message i is `<prefix>-<i>`. */
    prefix: string;
    /** Subject of message i; must be captured by the stream. */
    subject: (i: number) => string;
    ratePerSecond: number;
    /** Publishes awaiting their ack at once. */
    window: number;
    /** Attempts per message before it counts as failed. */
    maxAttempts: number;
    attemptTimeoutMs: number;
    /** Nothing is retried after this long from the start. */
    deadlineMs: number;
    /** Stop early (messages not yet started are not sent). */
    stop?: () => boolean;
    /** Called on every acknowledged message. */
    onAck?: () => void;
}

export interface PublishReport {
    sent: number;
    /** Message id -> stream sequence of its ack. */
    acked: Map<string, number>;
    /** Acks with `duplicate: true`: an earlier attempt had been stored, the server dropped this one. */
    serverDuplicates: number;
    attempts: number;
    /** Ids never acknowledged. */
    failed: string[];
    errors: Record<string, number>;
    durationMs: number;
}

/**
 * A publisher like an EventSource's: every message with a `Nats-Msg-Id`, paced at `ratePerSecond`
 * with up to `window` in flight, each retried (bounded attempts, exponential backoff with jitter)
 * until acknowledged.
 */
export async function publishWithRetries(nc: NatsConnection, options: PublishOptions): Promise<PublishReport> {
    const js = jetstream(nc);
    const report: PublishReport = {
        sent: 0,
        acked: new Map(),
        serverDuplicates: 0,
        attempts: 0,
        failed: [],
        errors: {},
        durationMs: 0,
    };
    const t0 = Date.now();
    const deadline = t0 + options.deadlineMs;
    let next = 0;
    const one = async (i: number) => {
        const id = `${options.prefix}-${i}`;
        for (let attempt = 1; ; attempt++) {
            report.attempts++;
            try {
                const ack = await js.publish(options.subject(i), `payload ${i}`, {
                    msgID: id,
                    timeout: options.attemptTimeoutMs,
                    retries: 1,
                });
                if (ack.duplicate) report.serverDuplicates++;
                report.acked.set(id, ack.seq);
                options.onAck?.();
                return;
            } catch (err) {
                const e = err as { name?: string; code?: unknown; message?: string };
                const kind = `${e.name ?? "Error"}${e.code !== undefined ? `:${e.code}` : ""}`;
                report.errors[kind] = (report.errors[kind] ?? 0) + 1;
                if (attempt >= options.maxAttempts || Date.now() > deadline) {
                    report.failed.push(id);
                    return;
                }
                await sleep(Math.min(2_000, 50 * 2 ** attempt) + Math.random() * 50);
            }
        }
    };
    const worker = async () => {
        for (;;) {
            if (options.stop?.()) return;
            const i = next++;
            if (i >= options.total) return;
            const due = t0 + (i * 1000) / options.ratePerSecond;
            if (due > Date.now()) await sleep(due - Date.now());
            report.sent++;
            await one(i);
        }
    };
    await Promise.all(Array.from({ length: options.window }, worker));
    report.durationMs = Date.now() - t0;
    return report;
}

/** How often each `Nats-Msg-Id` occurs in the stream (messages on `filter`), read with an ordered consumer. */
export async function readMessageIds(
    nc: NatsConnection,
    stream: string,
    filter: string,
    expected: number,
    timeoutMs = 60_000,
): Promise<{ counts: Map<string, number>; messages: number }> {
    const counts = new Map<string, number>();
    let messages = 0;
    if (expected === 0) return { counts, messages };
    const js = jetstream(nc);
    const consumer = await js.consumers.get(stream, { filter_subjects: filter }); // a string: filter_subject, which 2.9 knows
    const iter = await consumer.consume({ max_messages: 1000 });
    const timer = setTimeout(() => void iter.stop(), timeoutMs);
    try {
        for await (const m of iter) {
            messages++;
            const id = m.headers?.get("Nats-Msg-Id") ?? "";
            counts.set(id, (counts.get(id) ?? 0) + 1);
            if (m.info.pending === 0) break;
        }
    } finally {
        clearTimeout(timer);
        await iter.close?.().catch(() => undefined);
    }
    return { counts, messages };
}

/**
 * Reads back what `report` says was acknowledged and checks the promise of deduplication: every
 * acknowledged id is in the stream exactly once. Returns the figures to print.
 */
export async function verifyExactlyOnce(
    nc: NatsConnection,
    stream: string,
    filter: string,
    report: PublishReport,
): Promise<{ found: number; missing: string[]; doubled: string[]; messages: number; line: string }> {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream, { subjects_filter: filter } as any);
    const inStream = Object.values((info.state as any).subjects ?? {}).reduce(
        (a: number, b: any) => a + Number(b),
        0,
    ) as number;
    const { counts, messages } = await readMessageIds(nc, stream, filter, inStream);
    const missing = [...report.acked.keys()].filter((id) => !counts.has(id));
    const doubled = [...counts.entries()].filter(([, n]) => n > 1).map(([id]) => id);
    const found = [...report.acked.keys()].filter((id) => counts.get(id) === 1).length;
    const retried = report.attempts - report.sent;
    const line =
        `sent ${report.sent}, acked ${report.acked.size}, found ${found} (stream holds ${messages} on ${filter}), ` +
        `missing ${missing.length}, doubled ${doubled.length}, duplicates dropped by the server ${report.serverDuplicates}, ` +
        `retries ${retried}, unacked ${report.failed.length}, in ${secs(report.durationMs)}` +
        (Object.keys(report.errors).length ? `; errors ${JSON.stringify(report.errors)}` : "");
    return { found, missing, doubled, messages, line };
}
