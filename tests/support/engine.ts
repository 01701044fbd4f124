/**
 * Just enough of the Pulumi engine to drive a dynamic provider the way `pulumi up` does: a fake
 * Engine gRPC service (the address every plugin gets as its argument, recording the log calls), the
 * real `pulumi-resource-pulumi-nodejs` plugin started as the engine starts it (that shell wrapper
 * runs `@pulumi/pulumi/cmd/dynamic-provider`), and a ResourceProvider client for the calls.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import * as enginerpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as engineproto from "@pulumi/pulumi/proto/engine_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";

/** The key and value that mark a secret in a Struct sent to a provider that accepts secrets. */
export const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** `value` as the engine sends a secret to a provider whose Configure said it accepts secrets. */
export function secret(value: unknown): Record<string, unknown> {
    return { [SECRET_SIG_KEY]: SECRET_SIG, value };
}

/** A JavaScript object as a `google.protobuf.Struct`, as the engine marshals properties. */
export function toStruct(value: Record<string, unknown>): Struct {
    return Struct.fromJavaScript(value as never);
}

/** A `google.protobuf.Struct` back as a JavaScript object (an absent struct is `{}`). */
export function fromStruct(value: Struct | undefined): any {
    return value ? value.toJavaScript() : {};
}

/** One `Engine.Log` call the plugin made. */
export interface EngineLog {
    severity: engineproto.LogSeverity;
    message: string;
    urn: string;
}

/** The fake engine: its address and everything it was told. */
export interface FakeEngine {
    /** `127.0.0.1:<port>`, passed to plugins as their first argument. */
    address: string;
    logs: EngineLog[];
    /** Names of every Engine RPC called, in order. */
    calls: string[];
    stop(): Promise<void>;
}

/** Starts the Engine gRPC service on loopback; `Log` is recorded, the root resource is remembered. */
export async function startFakeEngine(): Promise<FakeEngine> {
    const logs: EngineLog[] = [];
    const calls: string[] = [];
    let rootUrn = "";
    const server = new grpc.Server();
    const service: enginerpc.IEngineServer = {
        log(call, callback) {
            calls.push("Log");
            const req = call.request;
            logs.push({ severity: req.getSeverity(), message: req.getMessage(), urn: req.getUrn() });
            callback(null, new Empty());
        },
        getRootResource(_call, callback) {
            calls.push("GetRootResource");
            callback(null, new engineproto.GetRootResourceResponse().setUrn(rootUrn));
        },
        setRootResource(call, callback) {
            calls.push("SetRootResource");
            rootUrn = call.request.getUrn();
            callback(null, new engineproto.SetRootResourceResponse());
        },
        startDebugging(_call, callback) {
            calls.push("StartDebugging");
            callback(null, new Empty());
        },
        requirePulumiVersion(_call, callback) {
            calls.push("RequirePulumiVersion");
            callback(null, new engineproto.RequirePulumiVersionResponse());
        },
    };
    server.addService(enginerpc.EngineService, service as unknown as grpc.UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
            err ? reject(err) : resolve(p),
        ),
    );
    let stopped = false;
    return {
        address: `127.0.0.1:${port}`,
        logs,
        calls,
        async stop() {
            if (stopped) return;
            stopped = true;
            await withTimeout(
                new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
                5_000,
                "engine shutdown",
            ).catch(() => server.forceShutdown());
        },
    };
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** How a host process ended. */
export interface HostExit {
    code: number | null;
    signal: NodeJS.Signals | null;
}

/** A running dynamic provider host. */
export interface ProviderHost {
    /** Pid of the plugin process the engine started (the shell wrapper); also its process group. */
    pid: number;
    port: number;
    client: provrpc.ResourceProviderClient;
    /** Everything the plugin wrote; the engine shows both streams to the user. */
    stdout(): string;
    stderr(): string;
    /** Pids still alive in the plugin's process group (the wrapper and the node host it runs). */
    livePids(): number[];
    /** Resolves when the plugin process has exited. */
    exited: Promise<HostExit>;
    /**
     * Stops the plugin as the engine does (SIGINT to its process group, SIGKILL after `graceMs`) and
     * reports how it ended and whether the SIGKILL was needed. Safe to call twice.
     */
    stop(graceMs?: number): Promise<HostExit & { killed: boolean }>;
}

/** Options of {@link startProviderHost}. */
export interface StartProviderHostOptions {
    /**
     * The program's folder: the engine runs the plugin there; `@pulumi/pulumi` and the program's packages resolve from
     * it.
     */
    cwd: string;
    engineAddress: string;
    /** Bound on the wait for the port the plugin prints. Default 30 s. */
    timeoutMs?: number;
}

function processGroupOf(pid: number): number | undefined {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return fields[0] === "Z" ? undefined : Number(fields[2]);
    } catch {
        return undefined;
    }
}

/** Live (non-zombie) pids whose process group is `pgid`. */
export function processGroupMembers(pgid: number): number[] {
    return fs
        .readdirSync("/proc")
        .filter((entry) => /^\d+$/.test(entry))
        .map(Number)
        .filter((pid) => processGroupOf(pid) === pgid);
}

/**
 * Starts `node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs <engine>` in `cwd`, the way the
 * engine starts the `pulumi-nodejs` provider plugin, and connects to the port it prints.
 */
export async function startProviderHost(opts: StartProviderHostOptions): Promise<ProviderHost> {
    const plugin = path.join(opts.cwd, "node_modules", "@pulumi", "pulumi", "pulumi-resource-pulumi-nodejs");
    // Its own process group, as the engine does, so the wrapper and its node child stop together.
    const child: ChildProcess = spawn(plugin, [opts.engineAddress], {
        cwd: opts.cwd,
        env: { ...process.env, NODE_OPTIONS: "" },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
    });
    const pid = child.pid;
    if (pid === undefined) {
        throw new Error(`could not start ${plugin}`);
    }
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const exited = new Promise<HostExit>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    let exit: HostExit | undefined;
    void exited.then((e) => (exit = e));

    const signalGroup = (signal: NodeJS.Signals) => {
        try {
            process.kill(-pid, signal);
        } catch {
            // Already gone.
        }
    };
    let stopping: Promise<HostExit & { killed: boolean }> | undefined;
    const stop = (graceMs = 5_000) =>
        (stopping ??= (async () => {
            let killed = false;
            if (!exit) signalGroup("SIGINT");
            const ended = await withTimeout(exited, graceMs, "the provider host to exit on SIGINT").catch(
                () => undefined,
            );
            // The node host may outlive the wrapper; give the group the same grace, then SIGKILL.
            const deadline = Date.now() + graceMs;
            while (processGroupMembers(pid).length > 0 && Date.now() < deadline) {
                await new Promise((r) => setTimeout(r, 50));
            }
            if (!ended || processGroupMembers(pid).length > 0) {
                killed = true;
                signalGroup("SIGKILL");
            }
            const result = await withTimeout(exited, 5_000, "the provider host to exit on SIGKILL");
            client.close();
            return { ...result, killed };
        })());

    const port = await withTimeout(
        new Promise<number>((resolve, reject) => {
            const onData = () => {
                const line = /^(\d+)\s*$/m.exec(stdout);
                if (line) {
                    child.stdout!.off("data", onData);
                    resolve(Number(line[1]));
                }
            };
            child.stdout!.on("data", onData);
            void exited.then((e) =>
                reject(
                    new Error(
                        `provider host exited (${JSON.stringify(e)}) before printing its port; stderr: ${stderr}`,
                    ),
                ),
            );
        }),
        opts.timeoutMs ?? 30_000,
        "the provider host to print its port",
    ).catch(async (err) => {
        signalGroup("SIGKILL");
        throw err;
    });
    const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return {
        pid,
        port,
        client,
        stdout: () => stdout,
        stderr: () => stderr,
        livePids: () => processGroupMembers(pid),
        exited,
        stop,
    };
}

type Unary<Req, Res> = (
    request: Req,
    metadata: grpc.Metadata,
    options: Partial<grpc.CallOptions>,
    callback: (err: grpc.ServiceError | null, res: Res) => void,
) => unknown;

/** One unary call with a deadline: `call(client, client.check, request)`. */
export function call<Req, Res>(
    client: provrpc.ResourceProviderClient,
    method: Unary<Req, Res>,
    request: Req,
    timeoutMs = 60_000,
): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
        method.call(client, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
            err ? reject(err) : resolve(res),
        );
    });
}
