/**
 * nats-server processes on this machine: finding the binary, starting one with the pod names mapped
 * to loopback, waiting for it, stopping it with lame duck mode as a pod's preStop does.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** A nats-server binary and its release. */
export interface NatsServerBinary {
    path: string;
    version: string;
}

/** How to get nats-server, for the message when it is missing. */
export const INSTALL_HINT =
    "install nats-server (Debian/Ubuntu: apt-get install nats-server; macOS: brew install nats-server; " +
    "any system with Go: go install github.com/nats-io/nats-server/v2@latest) or set NATS_SERVER=/path/to/nats-server";

/** The nats-server of `$NATS_SERVER`, else the first on PATH; undefined when there is none. */
export function findNatsServer(env: Record<string, string | undefined> = process.env): NatsServerBinary | undefined {
    const candidates = [env.NATS_SERVER, ...(env.PATH ?? "").split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, "nats-server"))];
    for (const candidate of candidates) {
        if (!candidate) continue;
        try {
            fs.accessSync(candidate, fs.constants.X_OK);
            const out = execFileSync(candidate, ["--version"], { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "pipe"] });
            const version = /v?(\d+\.\d+\.\d+)/.exec(out)?.[1];
            if (version) return { path: candidate, version };
        } catch {
            // Not there or not runnable: try the next one.
        }
    }
    return undefined;
}

/** Whether this machine can give a process its own /etc/hosts (Linux user and mount namespaces). */
export function privateHostsProblem(): string | undefined {
    try {
        execFileSync("unshare", ["-rm", "--", "sh", "-c", "mount --bind /etc/hosts /etc/hosts"], { stdio: "pipe", timeout: 10_000 });
        return undefined;
    } catch (err) {
        return `cannot map the bus's DNS names to 127.0.0.1 here: this needs Linux user and mount namespaces (unshare -rm): ${String((err as Error).message).split("\n")[0]}`;
    }
}

/** A running server. */
export interface LocalServer {
    name: string;
    process: ChildProcess;
    /** The last lines it printed. */
    logs(): string[];
    exited(): Promise<number | null>;
}

/**
 * Starts nats-server with `config` and `env`, in a user and mount namespace whose /etc/hosts is
 * `hostsPath`, so routes and TLS use the same names as in the cluster.
 */
export function startServer(name: string, binary: string, configPath: string, hostsPath: string, env: Record<string, string>): LocalServer {
    const child = spawn("unshare", ["-rm", "--", "sh", "-c", 'hosts="$0"; binary="$1"; shift; mount --bind "$hosts" /etc/hosts && exec "$binary" "$@"', hostsPath, binary, "-c", configPath], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: string[] = [];
    const keep = (chunk: Buffer) => {
        lines.push(...chunk.toString("utf8").split("\n").filter((l) => l !== ""));
        lines.splice(0, Math.max(0, lines.length - 200));
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    return { name, process: child, logs: () => [...lines], exited: () => exited };
}

/** Polls `url` until it answers 200, the server exits, or `timeoutMs` passes; throws with the server's last lines. */
export async function waitHealthy(server: LocalServer, url: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exitCode: number | null | undefined;
    void server.exited().then((code) => (exitCode = code));
    for (;;) {
        if (exitCode !== undefined) {
            throw new Error(`${server.name} exited with code ${exitCode}; its last lines:\n  ${server.logs().slice(-15).join("\n  ")}`);
        }
        try {
            const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
            await res.arrayBuffer();
            if (res.status === 200) return;
        } catch {
            // Not listening yet.
        }
        if (Date.now() > deadline) {
            throw new Error(`${server.name} did not become healthy at ${url} within ${Math.round(timeoutMs / 1000)}s; its last lines:\n  ${server.logs().slice(-15).join("\n  ")}`);
        }
        await new Promise((r) => setTimeout(r, 250));
    }
}

/**
 * Stops a server as a pod's preStop does: lame duck mode through its pid file, then SIGTERM if it has
 * not exited after `graceMs`, then SIGKILL.
 */
export async function stopServer(server: LocalServer, binary: string, pidFile: string, graceMs: number): Promise<void> {
    if (server.process.exitCode !== null || server.process.signalCode !== null) return;
    try {
        execFileSync(binary, [`--signal`, `ldm=${pidFile}`], { stdio: "pipe", timeout: 10_000 });
    } catch {
        server.process.kill("SIGTERM");
    }
    const exited = await Promise.race([server.exited().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs))]);
    if (!exited) {
        server.process.kill("SIGKILL");
        await server.exited();
    }
}
