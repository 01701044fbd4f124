/**
 * Helpers for tests that run real nats-server processes: binary discovery
 * (including CI's cached builds), port allocation, start/readiness/stop
 * through the launcher of cli/nats-server.ts, config checking, and a cleanup
 * registry that guarantees processes and temp dirs do not outlive a test.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { versionEntryFor } from "../../cli/layout";
import {
    compareVersions,
    findNatsServers as findNatsServersIn,
    startNatsServer as startNatsServerProcess,
    type NatsServerBinary,
    type NatsServerHandle,
    type StartNatsServerOptions,
} from "../../cli/nats-server";

export { compareVersions };
export type { NatsServerBinary, NatsServerHandle, StartNatsServerOptions } from "../../cli/nats-server";

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
export async function waitFor<T>(
    fn: () => T | Promise<T>,
    opts: WaitForOptions = {},
): Promise<Exclude<T, false | null | undefined>> {
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
            const reason =
                lastError === undefined
                    ? ""
                    : `: last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
            throw new Error(`timed out after ${timeoutMs}ms waiting for ${opts.what ?? "condition"}${reason}`);
        }
        await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
    }
}

// ---------------------------------------------------------------------------
// Binaries
// ---------------------------------------------------------------------------

/** `${XDG_CACHE_HOME:-$HOME/.cache}/jetstream-eventbus`, where CI keeps newer nats-server builds. */
export function cacheDir(): string {
    const base = process.env.XDG_CACHE_HOME || path.join(process.env.HOME || os.homedir(), ".cache");
    return path.join(base, "jetstream-eventbus");
}

/**
 * Every usable nats-server: `$NATS_SERVER`, `nats-server` on PATH, and
 * `<cacheDir>/nats/<any>/nats-server`. One entry per version (first location
 * wins, in that order), sorted oldest first.
 */
export function findNatsServers(): NatsServerBinary[] {
    return findNatsServersIn([path.join(cacheDir(), "nats")]);
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
    return findNatsServers().filter(
        (s) => versionEntryFor(s.version) && LIVE_SUITE_LINES.some((line) => s.version.startsWith(`${line}.`)),
    );
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
const exitKillers = new Set<() => void>();
let exitHooksInstalled = false;

function killLeftovers(): void {
    for (const kill of exitKillers) {
        try {
            kill();
        } catch {
            // Best effort at exit.
        }
    }
    exitKillers.clear();
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

/** How often a test process checks that the runner which started it is still there. */
const ORPHAN_CHECK_MS = 1_000;

/**
 * A crashed or interrupted test run must not leave servers holding ports and disk. `node --test`
 * passes a SIGTERM or SIGINT on to its test files; a runner killed outright (SIGKILL, a crash)
 * cannot, so each test process also watches for its parent to go and then cleans up and exits.
 */
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
    const parent = process.ppid;
    if (parent > 1) {
        setInterval(() => {
            if (process.ppid === parent) return;
            console.error(`# the test runner (pid ${parent}) is gone: stopping this test's processes`);
            killLeftovers();
            process.exit(1);
        }, ORPHAN_CHECK_MS).unref();
    }
}

/**
 * Runs `kill` (synchronous, best effort) if this test process exits, is interrupted or loses its
 * runner first: for processes it does not hold as children, such as plugins in process groups of
 * their own. Returns a function that withdraws it once the test has cleaned up normally.
 */
export function killAtExitWith(kill: () => void): () => void {
    installExitHooks();
    exitKillers.add(kill);
    return () => exitKillers.delete(kill);
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

/**
 * Starts a server with {@link startNatsServerProcess}; it is killed if this test process exits first
 * (a crash or Ctrl-C must not leave it running).
 */
export function startNatsServer(opts: StartNatsServerOptions): Promise<NatsServerHandle> {
    return startNatsServerProcess({ ...opts, onSpawn: killAtExit });
}

/** Result of {@link testConfig}. */
export interface ConfigTestResult {
    ok: boolean;
    /** Combined stdout and stderr. */
    output: string;
    code: number | null;
}

/** Runs `nats-server -t -c configPath [extraArgs]`: the server's own validation of its configuration and flags. */
export function testConfig(
    binary: string | NatsServerBinary,
    configPath: string,
    env: Record<string, string> = {},
    extraArgs: string[] = [],
): Promise<ConfigTestResult> {
    const file = typeof binary === "string" ? binary : binary.path;
    return new Promise((resolve, reject) => {
        const child = spawn(file, ["-t", "-c", configPath, ...extraArgs], {
            env: { ...process.env, ...env },
            stdio: ["ignore", "pipe", "pipe"],
        });
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
