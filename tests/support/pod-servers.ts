/**
 * Real nats-server processes behind the pods of a {@link ControlPlane}: what a kubelet and a container
 * runtime would do, done on this machine.
 *
 * For every pod scheduled on a fake node, the loop reads the pod, its ConfigMap, Secrets and volume
 * claims back from the API server, writes the files a kubelet would mount (projected volumes, emptyDir,
 * the claim's volume), resolves the container's environment (field and Secret references, `$(VAR)`),
 * and starts the container's nats-server command with them. Only three things move, because one
 * machine has one network and one filesystem: mount paths become folders (in the config and the
 * arguments), each pod listens on a loopback address of its own (given with `-a` and `--cluster`, the
 * config text is untouched), and the pods' DNS names resolve through a hosts file. Once the server
 * answers the pod's startup probe and then its readiness probe, as the kubelet asks them, a kwok PortForward sends the
 * pod's ports to it and the pod becomes
 * Ready; a deleted pod runs its preStop command (lame duck mode) and goes away once the server exits.
 *
 * It also provisions the volumes of {@link STORAGE_CLASS}: a hostPath PersistentVolume per claim.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { execFile } from "node:child_process";
import { writeHostsLauncher } from "../../cli/nats-server";
import {
    POD_IP_ANNOTATION,
    PROVISIONER,
    STARTED_ANNOTATION,
    STOPPED_ANNOTATION,
    STORAGE_CLASS,
    type ControlPlane,
} from "./control-plane";
import { Cleanup, NatsServerBinary, NatsServerHandle, startNatsServer, waitFor } from "./nats";

/** Something that happened to a pod's server. */
export interface PodServerEvent {
    /** Milliseconds since the epoch. */
    at: number;
    /** `namespace/name`. */
    pod: string;
    uid: string;
    what: "started" | "ready" | "stopping" | "stopped" | "failed";
    detail?: string;
}

/** A pod's running server. */
export interface PodServer {
    pod: string;
    uid: string;
    ip: string;
    clientPort: number;
    monitorUrl: string;
    handle: NatsServerHandle;
    /** The folder each volume of the pod is in, by volume name. */
    volumes: Record<string, string>;
    /** The nats-server binary it runs. */
    binary: string;
    /** The pod's nats-server container. */
    container: any;
    /** Moves the container's mount paths in a text to the folders above. */
    localPath(text: string): string;
}

/** The loop and what it has done. */
export interface PodServers {
    events: PodServerEvent[];
    /** Servers running now, by `namespace/name`. */
    running(): Map<string, PodServer>;
    /** PersistentVolumes it provisioned, by claim `namespace/name`: their folders. */
    volumes(): Map<string, string>;
    /** Problems it met (a pod whose image has no nats-server here, a server that did not start). */
    problems(): string[];
}

/** Options of {@link startPodServers}. */
export interface PodServersOptions {
    /** nats-server binaries; a pod runs the one whose version is its image's tag. */
    binaries: NatsServerBinary[];
    /** Pause between two passes of the loop; default 300 ms. */
    intervalMs?: number;
}

const MERGE_PATCH = "application/merge-patch+json";

/** Starts the loop; `cleanup` stops it and every server it started. */
export function startPodServers(plane: ControlPlane, cleanup: Cleanup, options: PodServersOptions): PodServers {
    const root = cleanup.tempDir("eventbus-pods");
    const hostsPath = path.join(root, "hosts");
    const events: PodServerEvent[] = [];
    const servers = new Map<string, PodServer>();
    const starting = new Set<string>();
    const stopping = new Set<string>();
    const provisioned = new Map<string, string>();
    const addresses = new Map<string, string>();
    const hostNames = new Map<string, string[]>();
    const problems: string[] = [];
    // A pod whose server failed to start is tried again after a pause, as the kubelet backs off.
    const failedAt = new Map<string, number>();
    // A loopback /16 of its own, so two control planes never share addresses.
    const octet = 100 + Math.floor(Math.random() * 150);
    let stopped = false;

    // One launcher per binary, written once: rewriting a shell script while another pod's shell reads it
    // makes that shell see an empty file and exit 0.
    const launchers = new Map<string, string>();
    const launcherFor = (binary: NatsServerBinary): string => {
        let launcher = launchers.get(binary.path);
        if (!launcher) {
            const dir = path.join(root, `launcher-${binary.version}`);
            fs.mkdirSync(dir, { recursive: true });
            launcher = writeHostsLauncher(dir, binary.path, hostsPath);
            launchers.set(binary.path, launcher);
        }
        return launcher;
    };

    const record = (pod: any, what: PodServerEvent["what"], detail?: string) =>
        events.push({
            at: Date.now(),
            pod: `${pod.metadata.namespace}/${pod.metadata.name}`,
            uid: pod.metadata.uid,
            what,
            ...(detail ? { detail } : {}),
        });

    const writeHosts = () => {
        const lines = ["127.0.0.1 localhost"];
        for (const [pod, ip] of addresses) lines.push(`${ip} ${hostNames.get(pod)!.join(" ")}`);
        // In place: every server's /etc/hosts is a bind mount of this inode.
        fs.writeFileSync(hostsPath, `${lines.join("\n")}\n`);
    };
    writeHosts();

    /** The pod's loopback address, the same for every pod of that name (a stable network identity). */
    const addressOf = (pod: any): string => {
        const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
        let ip = addresses.get(key);
        if (!ip) {
            ip = `127.${octet}.${Math.floor((addresses.size + 1) / 250)}.${((addresses.size + 1) % 250) + 1}`;
            addresses.set(key, ip);
            // StatefulSet pods' DNS names: <hostname>.<subdomain>.<namespace>.svc[.cluster.local].
            const names = [pod.spec.hostname ?? pod.metadata.name];
            if (pod.spec.subdomain) {
                const base = `${pod.spec.hostname ?? pod.metadata.name}.${pod.spec.subdomain}.${pod.metadata.namespace}.svc`;
                names.push(base, `${base}.cluster.local`);
            }
            hostNames.set(key, names);
            writeHosts();
        }
        return ip;
    };

    const provision = async () => {
        const claims = await plane.requestOk("GET", "/api/v1/persistentvolumeclaims");
        for (const claim of claims.items) {
            const key = `${claim.metadata.namespace}/${claim.metadata.name}`;
            const wanted =
                claim.metadata.annotations?.["volume.kubernetes.io/storage-provisioner"] === PROVISIONER ||
                claim.spec.storageClassName === STORAGE_CLASS;
            if (!wanted || claim.spec.volumeName || claim.status?.phase !== "Pending" || provisioned.has(key)) continue;
            const name = `pvc-${claim.metadata.uid}`;
            const dir = path.join(root, "volumes", name);
            fs.mkdirSync(dir, { recursive: true });
            await plane.requestOk("POST", "/api/v1/persistentvolumes", {
                apiVersion: "v1",
                kind: "PersistentVolume",
                metadata: { name, annotations: { "pv.kubernetes.io/provisioned-by": PROVISIONER } },
                spec: {
                    capacity: { storage: claim.spec.resources.requests.storage },
                    accessModes: claim.spec.accessModes,
                    persistentVolumeReclaimPolicy: "Retain",
                    storageClassName: claim.spec.storageClassName ?? STORAGE_CLASS,
                    volumeMode: claim.spec.volumeMode ?? "Filesystem",
                    hostPath: { path: dir, type: "Directory" },
                    claimRef: {
                        apiVersion: "v1",
                        kind: "PersistentVolumeClaim",
                        namespace: claim.metadata.namespace,
                        name: claim.metadata.name,
                        uid: claim.metadata.uid,
                    },
                },
            });
            provisioned.set(key, dir);
        }
    };

    const startPod = async (pod: any) => {
        const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
        const container = pod.spec.containers.find((c: any) =>
            String((c.command ?? [])[0] ?? "").endsWith("nats-server"),
        );
        if (!container) return;
        const tag = String(container.image)
            .split(":")
            .pop()!
            .replace(/-alpine$/, "");
        const binary = options.binaries.find((b) => b.version === tag);
        if (!binary) throw new Error(`no nats-server ${tag} here for image ${container.image}`);
        const ip = addressOf(pod);
        const podDir = path.join(root, "pods", pod.metadata.namespace, `${pod.metadata.name}-${pod.metadata.uid}`);
        const volumes = await materializeVolumes(plane, pod, podDir);
        const mounts = (container.volumeMounts ?? [])
            .map((m: any) => ({
                mountPath: String(m.mountPath).replace(/\/$/, ""),
                dir: path.join(volumes[m.name], m.subPath ?? ""),
            }))
            .sort((a: any, b: any) => b.mountPath.length - a.mountPath.length);
        const localPath = (text: string) =>
            mounts.reduce(
                (out: string, m: any) =>
                    out.replace(new RegExp(`${escapeRegExp(m.mountPath)}(?=[/"'\\s]|$)`, "gm"), m.dir),
                text,
            );
        const env = await resolveEnv(plane, pod, container, ip);
        const expand = (text: string) =>
            text.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name) => env[name] ?? whole);

        // The container's command: `<nats-server> --config <file> [args]`; its config file is read with the mount paths
        // moved.
        const words = [...(container.command ?? []).slice(1), ...(container.args ?? [])].map(expand);
        const configIndex = words.findIndex((w) => w === "--config" || w === "-c" || w === "-config");
        if (configIndex < 0 || configIndex + 1 >= words.length)
            throw new Error(`pod ${key}: the nats-server command has no --config: ${words.join(" ")}`);
        const configPath = localPath(words[configIndex + 1]);
        const configText = fs.readFileSync(configPath, "utf8");
        // Next to the mounted file, so its relative includes resolve as in the pod.
        const configCopy = path.join(path.dirname(configPath), `.local-${path.basename(configPath)}`);
        fs.writeFileSync(configCopy, localPath(configText));
        const rest = words.filter((_, i) => i !== configIndex && i !== configIndex + 1).map(localPath);
        const ports = Object.fromEntries(
            (container.ports ?? []).map((p: any) => [p.name ?? String(p.containerPort), p.containerPort as number]),
        );
        const bind = ["-a", ip];
        if (/^\s*cluster\s*\{/m.test(configText)) bind.push("--cluster", `nats://${ip}:${ports.cluster ?? 6222}`);
        // As the kubelet: no readiness before the startup probe has passed. Its full /healthz waits for
        // the server's streams to catch up, which is what keeps a roll from outrunning replication.
        const startup = container.startupProbe?.httpGet;
        const readiness = container.readinessProbe?.httpGet;
        const probe = startup ?? readiness;
        const monitorPort = typeof probe?.port === "number" ? probe.port : (ports[probe?.port ?? "monitor"] ?? 8222);

        record(pod, "started");
        const handle = await startNatsServer({
            binary: launcherFor(binary),
            configPath: configCopy,
            args: [...rest, ...bind],
            env,
            cwd: path.dirname(configPath),
            name: key,
            monitorHost: ip,
            monitorPort,
            readyPath: probe?.path ?? "/healthz",
            timeoutMs: 120_000,
            stopOnFailure: "SIGTERM",
        });
        if (startup && readiness?.path && readiness.path !== startup.path) {
            const url = `${handle.monitorUrl}${readiness.path}`;
            await waitFor(async () => (await fetch(url).catch(() => undefined))?.ok === true, {
                timeoutMs: 60_000,
                intervalMs: 250,
                what: `${key}'s readiness probe ${readiness.path}`,
            });
        }
        servers.set(key, {
            pod: key,
            uid: pod.metadata.uid,
            ip,
            clientPort: ports.client ?? 4222,
            monitorUrl: handle.monitorUrl,
            handle,
            volumes,
            binary: binary.path,
            container,
            localPath,
        });

        // kwok sends the pod's ports to this server, then reports the pod Ready with this address.
        const forward = {
            apiVersion: "kwok.x-k8s.io/v1alpha1",
            kind: "PortForward",
            metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace },
            spec: { forwards: Object.values(ports).map((port) => ({ ports: [port], target: { port, address: ip } })) },
        };
        const created = await plane.request(
            "POST",
            `/apis/kwok.x-k8s.io/v1alpha1/namespaces/${pod.metadata.namespace}/portforwards`,
            forward,
        );
        if (created.status !== 201 && created.status !== 409)
            throw new Error(`PortForward for ${key}: ${created.status} ${JSON.stringify(created.body)}`);
        await plane.requestOk(
            "PATCH",
            `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`,
            { metadata: { annotations: { [STARTED_ANNOTATION]: "true", [POD_IP_ANNOTATION]: ip } } },
            MERGE_PATCH,
        );
        record(pod, "ready");
    };

    const stopServer = async (server: PodServer, pod: any) => {
        record(pod, "stopping");
        const preStop: string[] | undefined = server.container?.lifecycle?.preStop?.exec?.command;
        if (preStop && String(preStop[0]).endsWith("nats-server")) {
            // The pod's preStop (lame duck mode through the pid file), with the mount paths moved like the server's.
            await runPreStop(server.binary, preStop.slice(1).map(server.localPath));
        }
        await server.handle.stop("SIGTERM", (pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000);
        servers.delete(server.pod);
        record(pod, "stopped");
    };

    /**
     * A terminating pod: its server stops, then kwok removes the pod (as the kubelet confirms the container exited).
     */
    const stopPod = async (pod: any, server: PodServer | undefined) => {
        if (server) await stopServer(server, pod);
        const res = await plane.request(
            "PATCH",
            `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`,
            { metadata: { annotations: { [STOPPED_ANNOTATION]: "true" } } },
            MERGE_PATCH,
        );
        if (res.status !== 200 && res.status !== 404)
            throw new Error(`marking ${pod.metadata.name} stopped: ${res.status} ${JSON.stringify(res.body)}`);
    };

    const pass = async () => {
        await provision();
        const pods = (await plane.requestOk("GET", "/api/v1/pods")).items as any[];
        const seen = new Set<string>();
        for (const pod of pods) {
            const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
            seen.add(key);
            if (starting.has(key) || stopping.has(key)) continue;
            const server = servers.get(key);
            const background = (set: Set<string>, work: Promise<void>) => {
                set.add(key);
                void work
                    .catch((err) => {
                        failedAt.set(key, Date.now());
                        problems.push(`pod ${key}: ${(err as Error).message}`);
                        record(pod, "failed", (err as Error).message.split("\n")[0]);
                    })
                    .finally(() => set.delete(key));
            };
            if (pod.metadata.deletionTimestamp) {
                if (pod.metadata.annotations?.[STOPPED_ANNOTATION] !== "true")
                    background(stopping, stopPod(pod, server));
            } else if (server && server.uid !== pod.metadata.uid) {
                background(stopping, stopServer(server, pod));
            } else if (
                !server &&
                pod.spec.nodeName &&
                pod.metadata.annotations?.[STARTED_ANNOTATION] !== "true" &&
                Date.now() - (failedAt.get(key) ?? 0) > 10_000
            ) {
                background(starting, startPod(pod));
            }
        }
        // A pod removed without passing through termination (force deletion): its server goes too.
        for (const [key, server] of servers) {
            if (!seen.has(key) && !stopping.has(key)) {
                stopping.add(key);
                await stopServer(server, {
                    metadata: { namespace: key.split("/")[0], name: key.split("/")[1], uid: server.uid },
                    spec: {},
                }).finally(() => stopping.delete(key));
            }
        }
    };

    const loop = (async () => {
        while (!stopped) {
            try {
                await pass();
            } catch (err) {
                if (!stopped) problems.push(`loop: ${(err as Error).message}`);
            }
            await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 300));
        }
    })();
    cleanup.defer(async () => {
        stopped = true;
        await loop;
        await Promise.all([...servers.values()].map((s) => s.handle.stop("SIGTERM", 10_000)));
    });

    return { events, running: () => servers, volumes: () => provisioned, problems: () => [...problems] };
}

/** Writes the files of every volume of `pod` as a kubelet would mount them; returns each volume's folder. */
async function materializeVolumes(plane: ControlPlane, pod: any, podDir: string): Promise<Record<string, string>> {
    const ns = pod.metadata.namespace;
    const folders: Record<string, string> = {};
    const writeItems = (
        dir: string,
        data: Record<string, string>,
        items: { key: string; path: string }[] | undefined,
        decode: boolean,
    ) => {
        for (const item of items ?? Object.keys(data).map((key) => ({ key, path: key }))) {
            if (!(item.key in data)) throw new Error(`pod ${pod.metadata.name}: key ${item.key} is missing`);
            const file = path.join(dir, item.path);
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, decode ? Buffer.from(data[item.key], "base64") : data[item.key], { mode: 0o600 });
        }
    };
    for (const volume of pod.spec.volumes ?? []) {
        const dir = path.join(podDir, "volumes", volume.name);
        if (volume.persistentVolumeClaim) {
            const claim = await plane.requestOk(
                "GET",
                `/api/v1/namespaces/${ns}/persistentvolumeclaims/${volume.persistentVolumeClaim.claimName}`,
            );
            if (!claim.spec.volumeName) throw new Error(`claim ${claim.metadata.name} is not bound`);
            const pv = await plane.requestOk("GET", `/api/v1/persistentvolumes/${claim.spec.volumeName}`);
            if (!pv.spec.hostPath) throw new Error(`volume ${pv.metadata.name} is not a hostPath volume`);
            folders[volume.name] = pv.spec.hostPath.path;
            continue;
        }
        fs.mkdirSync(dir, { recursive: true });
        folders[volume.name] = dir;
        const sources =
            volume.projected?.sources ??
            [
                volume.configMap
                    ? { configMap: volume.configMap }
                    : volume.secret
                      ? { secret: { ...volume.secret, name: volume.secret.secretName } }
                      : undefined,
            ].filter(Boolean);
        for (const source of sources) {
            if (source.configMap) {
                const cm = await plane.requestOk("GET", `/api/v1/namespaces/${ns}/configmaps/${source.configMap.name}`);
                writeItems(dir, cm.data ?? {}, source.configMap.items, false);
            } else if (source.secret) {
                const secret = await plane.requestOk("GET", `/api/v1/namespaces/${ns}/secrets/${source.secret.name}`);
                writeItems(dir, secret.data ?? {}, source.secret.items, true);
            }
        }
    }
    return folders;
}

/**
 * The container's environment as the kubelet builds it: values with `$(VAR)`, field and Secret/ConfigMap references.
 */
async function resolveEnv(plane: ControlPlane, pod: any, container: any, ip: string): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    const ns = pod.metadata.namespace;
    for (const variable of container.env ?? []) {
        if (variable.value !== undefined) {
            env[variable.name] = String(variable.value).replace(
                /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g,
                (whole, name) => env[name] ?? whole,
            );
        } else if (variable.valueFrom?.fieldRef) {
            const field = variable.valueFrom.fieldRef.fieldPath;
            const fields: Record<string, string> = {
                "metadata.name": pod.metadata.name,
                "metadata.namespace": ns,
                "metadata.uid": pod.metadata.uid,
                "spec.nodeName": pod.spec.nodeName,
                "spec.serviceAccountName": pod.spec.serviceAccountName,
                "status.podIP": ip,
            };
            if (!(field in fields)) throw new Error(`pod ${pod.metadata.name}: field ${field} is not supported here`);
            env[variable.name] = fields[field];
        } else if (variable.valueFrom?.secretKeyRef) {
            const ref = variable.valueFrom.secretKeyRef;
            const secret = await plane.requestOk("GET", `/api/v1/namespaces/${ns}/secrets/${ref.name}`);
            env[variable.name] = Buffer.from(secret.data[ref.key], "base64").toString("utf8");
        } else if (variable.valueFrom?.configMapKeyRef) {
            const ref = variable.valueFrom.configMapKeyRef;
            const cm = await plane.requestOk("GET", `/api/v1/namespaces/${ns}/configmaps/${ref.name}`);
            env[variable.name] = cm.data[ref.key];
        }
    }
    return env;
}

function runPreStop(binary: string, args: string[]): Promise<void> {
    return new Promise((resolve) => execFile(binary, args, { timeout: 10_000 }, () => resolve()));
}

function escapeRegExp(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
