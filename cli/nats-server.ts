/**
 * nats-server processes on this machine, for the `local` command, the tests and the benchmarks:
 * finding the binaries, giving a server the pods' host names (a private /etc/hosts), starting one and
 * waiting for its monitoring endpoint, stopping it with lame duck mode as a pod's preStop does.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** A nats-server executable and the version it reports. */
export interface NatsServerBinary {
    /** Without the leading "v", e.g. "2.10.29". */
    version: string;
    path: string;
}

/** How to get nats-server, for the message when it is missing. */
export const INSTALL_HINT =
    "install nats-server (Debian/Ubuntu: apt-get install nats-server; macOS: brew install nats-server; " +
    "any system with Go: go install github.com/nats-io/nats-server/v2@latest) or set NATS_SERVER=/path/to/nats-server";

/** Orders "2.9.10" < "2.10.0-RC.1" < "2.10.0"; negative, zero or positive like a comparator. */
export function compareVersions(a: string, b: string): number {
    const parse = (v: string) => {
        const [core, pre] = v.replace(/^v/, "").split("-", 2);
        return { nums: (core ?? "").split(".").map((n) => Number.parseInt(n, 10) || 0), pre };
    };
    const x = parse(a);
    const y = parse(b);
    for (let i = 0; i < Math.max(x.nums.length, y.nums.length); i++) {
        const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
        if (d !== 0) {
            return d;
        }
    }
    if (x.pre === y.pre) {
        return 0;
    }
    // A release sorts after its pre-releases.
    if (x.pre === undefined) {
        return 1;
    }
    if (y.pre === undefined) {
        return -1;
    }
    return x.pre.localeCompare(y.pre, "en", { numeric: true });
}

function isExecutable(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

function binaryVersion(file: string): string | undefined {
    try {
        const out = execFileSync(file, ["--version"], {
            encoding: "utf8",
            timeout: 10_000,
            stdio: ["ignore", "pipe", "pipe"],
        });
        return /v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)/.exec(out)?.[1];
    } catch {
        // Missing, not executable, or still being written by a concurrent build.
        return undefined;
    }
}

/** `$NATS_SERVER`, then `nats-server` in each folder of PATH, then `<dir>/<any>/nats-server` of `extraDirs`. */
function candidates(env: Record<string, string | undefined>, extraDirs: string[]): string[] {
    const found: string[] = [];
    if (env.NATS_SERVER) {
        found.push(env.NATS_SERVER);
    }
    for (const dir of (env.PATH ?? "").split(path.delimiter)) {
        if (dir) {
            found.push(path.join(dir, "nats-server"));
        }
    }
    for (const dir of extraDirs) {
        try {
            for (const entry of fs.readdirSync(dir).sort()) {
                found.push(path.join(dir, entry, "nats-server"));
            }
        } catch {
            // No builds there.
        }
    }
    return found;
}

/**
 * The nats-server of `$NATS_SERVER`, else the first on PATH; undefined when there is none. Its version is the release,
 * without a pre-release suffix.
 */
export function findNatsServer(env: Record<string, string | undefined> = process.env): NatsServerBinary | undefined {
    for (const candidate of candidates(env, [])) {
        const version = isExecutable(candidate) ? binaryVersion(candidate) : undefined;
        if (version) return { path: candidate, version: version.split("-")[0]! };
    }
    return undefined;
}

/**
 * Every usable nats-server: `$NATS_SERVER`, `nats-server` on PATH, and `<dir>/<any>/nats-server` of
 * `extraDirs`. One entry per version (first location wins, in that order), sorted oldest first.
 */
export function findNatsServers(
    extraDirs: string[] = [],
    env: Record<string, string | undefined> = process.env,
): NatsServerBinary[] {
    const byVersion = new Map<string, NatsServerBinary>();
    const seen = new Set<string>();
    for (const candidate of candidates(env, extraDirs)) {
        let real: string;
        try {
            real = fs.realpathSync(candidate);
        } catch {
            continue;
        }
        if (seen.has(real) || !isExecutable(real)) {
            continue;
        }
        seen.add(real);
        const version = binaryVersion(real);
        if (version && !byVersion.has(version)) {
            byVersion.set(version, { version, path: candidate });
        }
    }
    return [...byVersion.values()].sort((a, b) => compareVersions(a.version, b.version));
}

// ---------------------------------------------------------------------------
// The pods' host names
// ---------------------------------------------------------------------------

/**
 * Why this machine cannot give a process its own /etc/hosts (Linux user and mount namespaces), or undefined when it
 * can.
 */
export function privateHostsProblem(): string | undefined {
    try {
        execFileSync("unshare", ["-rm", "--", "sh", "-c", "mount --bind /etc/hosts /etc/hosts"], {
            stdio: "pipe",
            timeout: 10_000,
        });
        return undefined;
    } catch (err) {
        return `cannot map the bus's DNS names to 127.0.0.1 here: this needs Linux user and mount namespaces (unshare -rm): ${String((err as Error).message).split("\n")[0]}`;
    }
}

/**
 * Writes `<dir>/nats-server-with-hosts`, which runs `binary` with its arguments and the file
 * `hostsPath` bind-mounted over /etc/hosts in private user and mount namespaces, so routes and TLS use
 * the same names as in the cluster. The file may be rewritten in place later (the mount follows its
 * inode). Every process in the chain execs the next, so the launcher's pid is the server's.
 */
export function writeHostsLauncher(dir: string, binary: string, hostsPath: string): string {
    const launcher = path.join(dir, "nats-server-with-hosts");
    fs.writeFileSync(
        launcher,
        `#!/bin/sh\nexec unshare -rm -- sh -c 'hosts="$0"; binary="$1"; shift; mount --bind "$hosts" /etc/hosts && exec "$binary" "$@"' ${JSON.stringify(hostsPath)} ${JSON.stringify(binary)} "$@"\n`,
        { mode: 0o755 },
    );
    return launcher;
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/** Options for {@link startNatsServer}. */
export interface StartNatsServerOptions {
    /** Executable path or a {@link NatsServerBinary}. */
    binary: string | NatsServerBinary;
    configPath: string;
    /** Extra environment (merged over process.env); config files can reference it as `$VAR`. */
    env?: Record<string, string>;
    cwd?: string;
    /** Label used in errors; defaults to the config file name. */
    name?: string;
    /** Monitoring port from the config; readiness is polled there. */
    monitorPort: number;
    /** Defaults to 127.0.0.1. */
    monitorHost?: string;
    /** Defaults to `/healthz`; e.g. `/healthz?js-enabled-only=true`. */
    readyPath?: string;
    /** Overall startup deadline. Default 30000. */
    timeoutMs?: number;
    /** Extra command-line arguments after `-c <config>`. */
    args?: string[];
    /** Register the server here (as soon as it is spawned) so it is stopped when the cleanup runs. */
    cleanup?: { track(handle: NatsServerHandle): unknown };
    /** Called with the process once spawned, e.g. to kill it if the caller's process exits first. */
    onSpawn?: (child: ChildProcess) => void;
    /**
     * How a server that failed to become ready is stopped: SIGKILL (default), or SIGTERM (a clean
     * shutdown, SIGKILL after 10 s) as the kubelet stops a container whose startup probe failed.
     */
    stopOnFailure?: "SIGKILL" | "SIGTERM";
}

/** A running (or exited) nats-server started by {@link startNatsServer}. */
export interface NatsServerHandle {
    readonly name: string;
    readonly process: ChildProcess;
    readonly pid: number;
    readonly monitorUrl: string;
    /** The last ~200 lines of stdout/stderr. */
    logs(): string[];
    /** Whether the process has not exited yet. */
    isRunning(): boolean;
    /** Resolves with the exit code (null when ended by a signal) once the process exits. */
    exited(): Promise<number | null>;
    /** Resolves with the first log line (already seen or future) matching `pattern`. */
    waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
    /** Sends `signal`, escalates to SIGKILL after `timeoutMs`, resolves with the exit code. */
    stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
    /** SIGKILL right away (a crash); resolves once the process is gone. */
    kill9(): Promise<number | null>;
}

const LOG_RING = 200;

async function httpStatus(url: string): Promise<number> {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status;
}

/**
 * Spawns `nats-server -c configPath` and waits until the monitoring endpoint
 * at `readyPath` answers 200. On failure (early exit or timeout) the process
 * is killed and the error carries the last 30 log lines.
 */
export async function startNatsServer(opts: StartNatsServerOptions): Promise<NatsServerHandle> {
    const binary = typeof opts.binary === "string" ? opts.binary : opts.binary.path;
    const name = opts.name ?? path.basename(opts.configPath);
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const monitorUrl = `http://${opts.monitorHost ?? "127.0.0.1"}:${opts.monitorPort}`;
    const readyPath = opts.readyPath ?? "/healthz";

    const child = spawn(binary, ["-c", opts.configPath, ...(opts.args ?? [])], {
        cwd: opts.cwd,
        env: { ...process.env, ...opts.env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    opts.onSpawn?.(child);

    const ring: string[] = [];
    const lineListeners = new Set<(line: string) => void>();
    const onData = (() => {
        const partial: Record<string, string> = { out: "", err: "" };
        return (stream: "out" | "err") => (chunk: Buffer) => {
            const lines = (partial[stream] + chunk.toString("utf8")).split("\n");
            partial[stream] = lines.pop() ?? "";
            for (const line of lines) {
                ring.push(line);
                if (ring.length > LOG_RING) {
                    ring.shift();
                }
                for (const listener of lineListeners) {
                    listener(line);
                }
            }
        };
    })();
    child.stdout!.on("data", onData("out"));
    child.stderr!.on("data", onData("err"));

    let exitCode: number | null | undefined;
    let spawnError: Error | undefined;
    const exitedPromise = new Promise<number | null>((resolve) => {
        child.once("exit", (code) => {
            exitCode = code;
            resolve(code);
        });
        child.once("error", (err) => {
            spawnError = err;
            if (child.pid === undefined) {
                // Never started: there will be no 'exit' event.
                exitCode = null;
                resolve(null);
            }
        });
    });
    const isRunning = () => exitCode === undefined;

    // Clears its timer so a finished stop() does not keep the event loop alive.
    const waitExit = (ms: number) =>
        new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), ms);
            void exitedPromise.then(() => {
                clearTimeout(timer);
                resolve(true);
            });
        });

    const handle: NatsServerHandle = {
        name,
        process: child,
        get pid() {
            return child.pid ?? -1;
        },
        monitorUrl,
        logs: () => [...ring],
        isRunning,
        exited: () => exitedPromise,
        waitForLog(pattern, ms = 30_000) {
            const already = ring.find((l) => pattern.test(l));
            if (already !== undefined) {
                return Promise.resolve(already);
            }
            return new Promise<string>((resolve, reject) => {
                const timer = setTimeout(() => {
                    lineListeners.delete(listener);
                    reject(
                        new Error(
                            `${name}: no log line matching ${pattern} within ${ms}ms\n${ring.slice(-30).join("\n")}`,
                        ),
                    );
                }, ms);
                const listener = (line: string) => {
                    if (pattern.test(line)) {
                        clearTimeout(timer);
                        lineListeners.delete(listener);
                        resolve(line);
                    }
                };
                lineListeners.add(listener);
            });
        },
        async stop(signal: NodeJS.Signals = "SIGTERM", ms = 10_000) {
            if (isRunning()) {
                child.kill(signal);
                if (!(await waitExit(ms)) && isRunning()) {
                    child.kill("SIGKILL");
                }
            }
            return exitedPromise;
        },
        async kill9() {
            if (isRunning()) {
                child.kill("SIGKILL");
            }
            return exitedPromise;
        },
    };
    opts.cleanup?.track(handle);

    const fail = async (reason: string): Promise<never> => {
        await (opts.stopOnFailure === "SIGTERM" ? handle.stop("SIGTERM", 10_000) : handle.stop("SIGKILL", 2_000));
        throw new Error(`nats-server '${name}' ${reason}\n--- last log lines ---\n${ring.slice(-30).join("\n")}`);
    };

    const deadline = Date.now() + timeoutMs;
    let lastProblem: string;
    for (;;) {
        if (spawnError && child.pid === undefined) {
            return fail(`could not be started (${binary}): ${spawnError.message}`);
        }
        if (!isRunning()) {
            return fail(`exited during startup with code ${exitCode}`);
        }
        try {
            const status = await httpStatus(monitorUrl + readyPath);
            if (status === 200) {
                return handle;
            }
            lastProblem = `HTTP ${status}`;
        } catch (err) {
            lastProblem =
                err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
        }
        if (Date.now() >= deadline) {
            return fail(`not ready at ${monitorUrl}${readyPath} within ${timeoutMs}ms (${lastProblem})`);
        }
        await waitExit(150);
    }
}

/**
 * Stops a server as a pod's preStop does: lame duck mode through its pid file, then SIGTERM if it has
 * not exited after `graceMs`, then SIGKILL.
 */
export async function stopLameDuck(
    server: NatsServerHandle,
    binary: string,
    pidFile: string,
    graceMs: number,
): Promise<void> {
    if (!server.isRunning()) return;
    try {
        execFileSync(binary, [`--signal`, `ldm=${pidFile}`], { stdio: "pipe", timeout: 10_000 });
    } catch {
        server.process.kill("SIGTERM");
    }
    const exited = await Promise.race([
        server.exited().then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), graceMs)),
    ]);
    if (!exited) {
        server.process.kill("SIGKILL");
        await server.exited();
    }
}
