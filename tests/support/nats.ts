/**
 * Helpers for tests that run real nats-server processes: binary discovery,
 * port allocation, start/readiness/stop, config checking, and a cleanup
 * registry that guarantees processes and temp dirs do not outlive a test.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { versionEntryFor } from "../../cli/layout";

// ---------------------------------------------------------------------------
// Polling
// ---------------------------------------------------------------------------

/** Options for {@link waitFor}. */
export interface WaitForOptions {
    /** Give up after this long. Default 10000. */
    timeoutMs?: number;
    /** Pause between attempts. Default 100. */
    intervalMs?: number;
    /** Human description used in the timeout error. */
    what?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Calls `fn` until it returns a value other than `false`, `undefined` or
 * `null`, and returns that value. Exceptions thrown by `fn` count as "not
 * yet"; the last one is reported if the deadline passes.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitForOptions = {}): Promise<Exclude<T, false | null | undefined>> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const intervalMs = opts.intervalMs ?? 100;
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
        try {
            const value = await fn();
            if (value !== false && value !== undefined && value !== null) {
                return value as Exclude<T, false | null | undefined>;
            }
        } catch (err) {
            lastError = err;
        }
        if (Date.now() >= deadline) {
            const reason = lastError === undefined ? "" : `: last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
            throw new Error(`timed out after ${timeoutMs}ms waiting for ${opts.what ?? "condition"}${reason}`);
        }
        await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
    }
}

// ---------------------------------------------------------------------------
// Binaries
// ---------------------------------------------------------------------------

/** A nats-server executable and the version it reports. */
export interface NatsServerBinary {
    /** Without the leading "v", e.g. "2.10.29". */
    version: string;
    path: string;
}

/** `${XDG_CACHE_HOME:-$HOME/.cache}/jetstream-eventbus`, where CI keeps newer nats-server builds. */
export function cacheDir(): string {
    const base = process.env.XDG_CACHE_HOME || path.join(process.env.HOME || os.homedir(), ".cache");
    return path.join(base, "jetstream-eventbus");
}

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
        const out = execFileSync(file, ["--version"], { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "pipe"] });
        return /v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)/.exec(out)?.[1];
    } catch {
        // Missing, not executable, or still being written by a concurrent build.
        return undefined;
    }
}

/**
 * Every usable nats-server: `$NATS_SERVER`, `nats-server` on PATH, and
 * `<cacheDir>/nats/<any>/nats-server`. One entry per version (first location
 * wins, in that order), sorted oldest first.
 */
export function findNatsServers(): NatsServerBinary[] {
    const candidates: string[] = [];
    if (process.env.NATS_SERVER) {
        candidates.push(process.env.NATS_SERVER);
    }
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        if (dir) {
            candidates.push(path.join(dir, "nats-server"));
        }
    }
    const natsDir = path.join(cacheDir(), "nats");
    try {
        for (const entry of fs.readdirSync(natsDir).sort()) {
            candidates.push(path.join(natsDir, entry, "nats-server"));
        }
    } catch {
        // No cached builds.
    }
    const byVersion = new Map<string, NatsServerBinary>();
    const seen = new Set<string>();
    for (const candidate of candidates) {
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

/**
 * Release lines the slow suites against live servers (clusters, streams, the simulation) run on: the
 * oldest, the one that carries the 2.9 upgrade defect, and the newest. The configuration tests
 * (`nats-server -t`) run on every release line found, 2.11 and 2.12 included; this keeps CI's run
 * inside its time on two cores.
 */
export const LIVE_SUITE_LINES: readonly string[] = ["2.9", "2.10", "2.14"];

/** The nats-servers of {@link LIVE_SUITE_LINES} that have a version map entry, oldest first. */
export function liveSuiteServers(): NatsServerBinary[] {
    return findNatsServers().filter((s) => versionEntryFor(s.version) && LIVE_SUITE_LINES.some((line) => s.version.startsWith(`${line}.`)));
}

/**
 * The newest nats-server available (optionally at least `minVersion`), or an
 * error explaining how to provide one.
 */
export function requireNatsServer(opts: { minVersion?: string } = {}): NatsServerBinary {
    const all = findNatsServers();
    const usable = opts.minVersion ? all.filter((b) => compareVersions(b.version, opts.minVersion!) >= 0) : all;
    const newest = usable[usable.length - 1];
    if (!newest) {
        const found = all.length > 0 ? ` (found only ${all.map((b) => `${b.version} at ${b.path}`).join(", ")})` : "";
        throw new Error(
            `no nats-server${opts.minVersion ? ` >= ${opts.minVersion}` : ""} available${found}. ` +
                "Install the Debian package (`apt-get install nats-server`), put a nats-server binary on PATH, " +
                `set NATS_SERVER=/path/to/nats-server, or place builds at ${path.join(cacheDir(), "nats", "<version>", "nats-server")}.`,
        );
    }
    return newest;
}

// ---------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------

function listenEphemeral(host: string): Promise<net.Server> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.once("error", reject);
        server.listen(0, host, () => resolve(server));
    });
}

function closeServer(server: net.Server): Promise<void> {
    return new Promise((resolve) => server.close(() => resolve()));
}

/** An ephemeral TCP port that was free a moment ago on `host`. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
    const [port] = await freePorts(1, host);
    return port!;
}

/** `n` distinct ephemeral ports (all held open together, so none repeats). */
export async function freePorts(n: number, host = "127.0.0.1"): Promise<number[]> {
    const servers: net.Server[] = [];
    try {
        for (let i = 0; i < n; i++) {
            servers.push(await listenEphemeral(host));
        }
        return servers.map((s) => (s.address() as net.AddressInfo).port);
    } finally {
        await Promise.all(servers.map(closeServer));
    }
}

// ---------------------------------------------------------------------------
// Process bookkeeping
// ---------------------------------------------------------------------------

const liveChildren = new Set<ChildProcess>();
const liveTempDirs = new Set<string>();
let exitHooksInstalled = false;

function killLeftovers(): void {
    for (const child of liveChildren) {
        try {
            child.kill("SIGKILL");
        } catch {
            // Already gone.
        }
    }
    liveChildren.clear();
    for (const dir of liveTempDirs) {
        try {
            fs.rmSync(dir, { recursive: true, force: true });
        } catch {
            // Best effort at exit.
        }
    }
    liveTempDirs.clear();
}

/** A crashed or interrupted test run must not leave servers holding ports and disk. */
function installExitHooks(): void {
    if (exitHooksInstalled) {
        return;
    }
    exitHooksInstalled = true;
    process.on("exit", killLeftovers);
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
        process.once(signal, () => {
            killLeftovers();
            process.kill(process.pid, signal);
        });
    }
}

/** Kills `child` if this test process exits before it does (a crash or Ctrl-C must not leave it running). */
export function killAtExit(child: ChildProcess): ChildProcess {
    installExitHooks();
    liveChildren.add(child);
    child.once("exit", () => liveChildren.delete(child));
    return child;
}

/** Creates a fresh directory under the OS temp dir; removed at process exit unless removed earlier. */
export function makeTempDir(prefix: string): string {
    installExitHooks();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix.endsWith("-") ? prefix : `${prefix}-`));
    liveTempDirs.add(dir);
    return dir;
}

/** Removes a directory made by {@link makeTempDir} now. */
export function removeTempDir(dir: string): void {
    fs.rmSync(dir, { recursive: true, force: true });
    liveTempDirs.delete(dir);
}

// ---------------------------------------------------------------------------
// nats-server processes
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
    /** Register the server here so it is stopped when the cleanup runs. */
    cleanup?: Cleanup;
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
    installExitHooks();
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
    liveChildren.add(child);

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
            liveChildren.delete(child);
            resolve(code);
        });
        child.once("error", (err) => {
            spawnError = err;
            if (child.pid === undefined) {
                // Never started: there will be no 'exit' event.
                exitCode = null;
                liveChildren.delete(child);
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
                    reject(new Error(`${name}: no log line matching ${pattern} within ${ms}ms\n${ring.slice(-30).join("\n")}`));
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
    let lastProblem = "no response yet";
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
            lastProblem = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
        }
        if (Date.now() >= deadline) {
            return fail(`not ready at ${monitorUrl}${readyPath} within ${timeoutMs}ms (${lastProblem})`);
        }
        await waitExit(150);
    }
}

/** Result of {@link testConfig}. */
export interface ConfigTestResult {
    ok: boolean;
    /** Combined stdout and stderr. */
    output: string;
    code: number | null;
}

/** Runs `nats-server -t -c configPath [extraArgs]`: the server's own validation of its configuration and flags. */
export function testConfig(binary: string | NatsServerBinary, configPath: string, env: Record<string, string> = {}, extraArgs: string[] = []): Promise<ConfigTestResult> {
    const file = typeof binary === "string" ? binary : binary.path;
    return new Promise((resolve, reject) => {
        const child = spawn(file, ["-t", "-c", configPath, ...extraArgs], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
        liveChildren.add(child);
        let output = "";
        child.stdout!.on("data", (c: Buffer) => (output += c.toString("utf8")));
        child.stderr!.on("data", (c: Buffer) => (output += c.toString("utf8")));
        // Validation is quick; a hang means something else is wrong.
        const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
        child.once("error", (err) => {
            clearTimeout(timer);
            liveChildren.delete(child);
            reject(err);
        });
        child.once("close", (code) => {
            clearTimeout(timer);
            liveChildren.delete(child);
            resolve({ ok: code === 0, output: output.trim(), code });
        });
    });
}

// ---------------------------------------------------------------------------
// Cleanup registry
// ---------------------------------------------------------------------------

/**
 * Things to undo at the end of a test, run in reverse registration order.
 * Every step runs even if an earlier one fails.
 */
export class Cleanup {
    private readonly steps: (() => unknown | Promise<unknown>)[] = [];

    /** Registers an arbitrary async step. */
    defer(step: () => unknown | Promise<unknown>): void {
        this.steps.push(step);
    }

    /** Stops the server (SIGTERM, then SIGKILL) at cleanup time. */
    track<H extends { stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<unknown> }>(handle: H): H {
        this.defer(() => handle.stop("SIGTERM", 10_000));
        return handle;
    }

    /** A temp dir removed at cleanup time. */
    tempDir(prefix: string): string {
        const dir = makeTempDir(prefix);
        this.defer(() => removeTempDir(dir));
        return dir;
    }

    /** Runs and forgets all steps; throws an AggregateError if any failed. */
    async run(): Promise<void> {
        const errors: unknown[] = [];
        while (this.steps.length > 0) {
            const step = this.steps.pop()!;
            try {
                await step();
            } catch (err) {
                errors.push(err);
            }
        }
        if (errors.length > 0) {
            throw new AggregateError(errors, "cleanup failed");
        }
    }
}

/** A {@link Cleanup} that runs after the given node:test context (or suite) finishes, pass or fail. */
export function cleanupAfter(t: { after(fn: () => unknown): unknown }): Cleanup {
    const cleanup = new Cleanup();
    t.after(() => cleanup.run());
    return cleanup;
}

/** Runs `fn` with a fresh {@link Cleanup} that is always run afterwards; `fn`'s own error takes precedence. */
export async function withCleanup<T>(fn: (cleanup: Cleanup) => Promise<T>): Promise<T> {
    const cleanup = new Cleanup();
    let result: T;
    try {
        result = await fn(cleanup);
    } catch (err) {
        await cleanup.run().catch(() => undefined);
        throw err;
    }
    await cleanup.run();
    return result;
}
