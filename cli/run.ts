/**
 * `local`: the bus as rendered for Kubernetes, run on this machine. One nats-server per replica from
 * the rendered configuration, certificates and credentials, the pod names mapped to 127.0.0.1, the
 * stream created through the same provider code as `pulumi up`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { EventBusArgs } from "../components/args";
import { renderServerConfig } from "../components/config/render";
import { CLIENT_SECRET_KEYS, SERVER_SECRET_ENV_KEYS, SERVER_SECRET_KEYS } from "../components/kube/objects";
import { createStream, StreamProps } from "../components/stream/provider-impl";
import { BusSpec, resolveBusSpec } from "../components/validate";
import { captureEventBus, CapturedResource, GeneratedMaterial } from "./capture";
import { hostsFile, LocalPorts, localLayout, podEnv } from "./layout";
import {
    findNatsServer,
    INSTALL_HINT,
    NatsServerHandle,
    privateHostsProblem,
    startNatsServer,
    stopLameDuck,
    writeHostsLauncher,
} from "./nats-server";
import { healthPaths } from "../components/versions";

/** Options of {@link runLocalBus}. */
export interface LocalOptions {
    name: string;
    args: EventBusArgs;
    /** Folder for configuration, data and credentials. Default: a temporary folder, removed on exit. */
    dir?: string;
    /** Keep the folder (data, credentials, encryption key) for the next run. */
    keep?: boolean;
    /** Client port of server 0; server i uses basePort + i, cluster and monitor ports 2000 and 4000 above. */
    basePort?: number;
    /** Where progress goes. */
    log?: (line: string) => void;
}

/** What a running local bus offers a client. */
export interface LocalBus {
    urls: string[];
    serverName: string;
    caFile: string;
    username: string;
    passwordFile: string;
    dir: string;
    /** Lame duck mode on every server, then removes the folder unless kept. */
    stop(): Promise<void>;
    /** Ends every server at once (a second Ctrl-C); a `stop()` under way then finishes straight away. */
    kill(): void;
}

/** A problem the user must fix (bad input, missing nats-server): reported without a stack trace. */
export class LocalError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "LocalError";
    }
}

const MATERIAL_FILE = "generated-material.json";

function object(resources: CapturedResource[], type: string, name?: string): CapturedResource {
    const found = resources.find((r) => r.type === type && (name === undefined || r.inputs.metadata?.name === name));
    if (!found) throw new Error(`the bus registered no ${type}${name ? ` named ${name}` : ""}`);
    return found;
}

/** Starts the bus, creates its stream and prints how to connect; `stop()` stops it and cleans up. */
export async function runLocalBus(options: LocalOptions): Promise<LocalBus> {
    const started = Date.now();
    const log = options.log ?? ((line: string) => console.log(line));
    const step = (text: string) => log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${text}`);

    if (options.args.jetstreamExotic !== undefined) {
        throw new LocalError(
            "a jetstreamExotic bus runs on a server of yours; local runs managed buses (jetstream) only",
        );
    }
    const spec: BusSpec = resolveBusSpec(options.name, options.args);
    const binary = findNatsServer();
    if (!binary) {
        throw new LocalError(`nats-server not found: ${INSTALL_HINT}`);
    }
    const namespaces = privateHostsProblem();
    if (namespaces) {
        throw new LocalError(namespaces);
    }
    const dir = options.dir
        ? path.resolve(options.dir)
        : fs.mkdtempSync(path.join(os.tmpdir(), "jetstream-eventbus-local-"));
    try {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        fs.accessSync(dir, fs.constants.W_OK);
    } catch (err) {
        throw new LocalError(`cannot write to ${dir}: ${(err as Error).message}`);
    }
    const removeDir = () => {
        if (!options.keep) fs.rmSync(dir, { recursive: true, force: true });
    };

    step(
        `rendering bus "${spec.busName}" in namespace ${spec.namespace}: ${spec.replicas} server(s), nats-server ${binary.version} at ${binary.path}${spec.version.serverVersion === binary.version ? "" : ` (the bus runs ${spec.version.serverVersion} in Kubernetes)`}`,
    );
    const materialPath = path.join(dir, MATERIAL_FILE);
    const reuse: GeneratedMaterial | undefined =
        options.keep && fs.existsSync(materialPath) ? JSON.parse(fs.readFileSync(materialPath, "utf8")) : undefined;
    const { resources, generated } = await captureEventBus(options.name, options.args, { reuse });
    if (options.keep) {
        // Same keys, passwords and encryption key next time, so the kept data stays readable.
        fs.writeFileSync(materialPath, JSON.stringify(generated), { mode: 0o600 });
    }
    const serverSecret = object(resources, "kubernetes:core/v1:Secret", spec.names.serverSecret).inputs.stringData;
    const clientSecret = object(resources, "kubernetes:core/v1:Secret", spec.names.clientSecret).inputs.stringData;
    const streamInputs = object(resources, "pulumi-nodejs:dynamic/jetstream:Stream").inputs;

    const base = options.basePort ?? 4222;
    const ports: LocalPorts[] = Array.from({ length: spec.replicas }, (_, i) => ({
        client: base + i,
        cluster: base + 2000 + i,
        monitor: base + 4000 + i,
    }));
    const hostsPath = path.join(dir, "hosts");
    fs.writeFileSync(hostsPath, hostsFile(spec));
    const launcher = writeHostsLauncher(dir, binary.path, hostsPath);
    // Each server as soon as it is spawned, so that a failed start stops the others too.
    const servers: { handle: NatsServerHandle; pidFile: string }[] = [];
    const kill = () => servers.forEach((s) => s.handle.process.kill("SIGKILL"));
    const stop = async () => {
        step(
            `stopping: lame duck mode on every server (up to ${spec.lameDuckDuration} plus its grace period; Ctrl-C again to stop at once)`,
        );
        await Promise.all(servers.map((s) => stopLameDuck(s.handle, binary.path, s.pidFile, 60_000)));
        removeDir();
        step(options.keep ? `stopped; data and credentials kept in ${dir}` : "stopped; removed the temporary folder");
    };
    try {
        const ready = healthPaths(binary.version).startup;
        const starts: Promise<NatsServerHandle>[] = [];
        for (let i = 0; i < spec.replicas; i++) {
            const podDir = path.join(dir, `${spec.names.statefulSet}-${i}`);
            fs.mkdirSync(path.join(podDir, "store"), { recursive: true });
            fs.writeFileSync(
                path.join(podDir, "nats-js.conf"),
                renderServerConfig(spec, binary.version, localLayout(spec, i, ports, podDir)),
            );
            for (const { key, file } of Object.values(SERVER_SECRET_KEYS)) {
                fs.writeFileSync(path.join(podDir, file), serverSecret[key], { mode: 0o600 });
            }
            const env = podEnv(spec, i, serverSecret[SERVER_SECRET_ENV_KEYS.encryption], ports[i].cluster);
            step(
                `starting ${env.POD_NAME}: client port ${ports[i].client}, route port ${ports[i].cluster}, monitoring http://127.0.0.1:${ports[i].monitor}`,
            );
            const pidFile = path.join(podDir, "nats.pid");
            starts.push(
                startNatsServer({
                    binary: launcher,
                    configPath: path.join(podDir, "nats-js.conf"),
                    env,
                    name: env.POD_NAME,
                    monitorPort: ports[i].monitor,
                    readyPath: ready,
                    timeoutMs: 120_000,
                    cleanup: { track: (handle) => servers.push({ handle, pidFile }) },
                }),
            );
        }
        // Together: a cluster's servers are ready only once they have formed it.
        await Promise.all(starts);
        step(
            spec.replicas > 1 ? "cluster formed: a meta leader is elected and every server is current" : "server ready",
        );

        const urls = ports.map((p) => `nats://127.0.0.1:${p.client}`);
        const props: StreamProps = {
            config: streamInputs.config,
            serverVersion: binary.version,
            connection: { ...streamInputs.connection, mode: "direct", kubernetes: undefined, servers: urls },
            deletionPolicy: streamInputs.deletionPolicy,
            allowDataLoss: streamInputs.allowDataLoss,
            createTimeout: streamInputs.createTimeout,
        };
        const { outs } = await createStream(props);
        step(
            `stream "${outs.config.name}" ready: subjects ${outs.config.subjects.join(", ")}, ${outs.config.replicas} replica(s)`,
        );

        const caFile = path.join(dir, "ca.crt");
        const passwordFile = path.join(dir, "password");
        fs.writeFileSync(caFile, clientSecret[CLIENT_SECRET_KEYS.caCert]);
        fs.writeFileSync(passwordFile, streamInputs.connection.password, { mode: 0o600 });
        const bus: LocalBus = {
            urls,
            serverName: streamInputs.connection.serverName,
            caFile,
            username: streamInputs.connection.username,
            passwordFile,
            dir,
            stop,
            kill,
        };
        log("");
        log(`  URL:         ${urls.join(",")}`);
        log(`  TLS name:    ${bus.serverName}  (the certificate names the in-cluster service; verify against it)`);
        log(`  CA file:     ${caFile}`);
        log(`  user:        ${bus.username}`);
        log(`  password in: ${passwordFile}`);
        log("");
        return bus;
    } catch (err) {
        await Promise.all(servers.map((s) => stopLameDuck(s.handle, binary.path, s.pidFile, 5_000)));
        removeDir();
        throw err;
    }
}
