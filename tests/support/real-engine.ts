/**
 * The real Pulumi engine for the end-to-end tests: the CLI, the Node.js language host and the
 * Kubernetes provider that `scripts/build-engine.sh` builds from Go modules, the dynamic-provider
 * launcher, and the tls/random provider doubles. A program folder is made as a user makes one: the
 * package packed with `npm pack`, installed from the tarball with its peer dependencies, or an example
 * copied out of `examples/` with the tarball in place of the repository link of its package.json.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { privateHostsProblem, connectClient, LocalCluster, startCluster } from "./cluster";
import { STREAM_TYPE } from "./exotic";
import { DEFAULT_CREATE_TIMEOUT } from "../../components/stream/view";
import { parseDurationMs } from "../../components/units";
import { cacheDir, Cleanup, findNatsServers, killAtExit, killAtExitWith } from "./nats";

const REPO = path.resolve(__dirname, "../../..");

interface Toolchain {
    pulumi: { version: string };
    languageHost: { sdkVersion: string };
    kubernetesProvider: { version: string };
}

/** Paths of the built engine. */
export interface EngineTools {
    pulumi: string;
    languageHost: string;
    dynamicProviderLauncher: string;
    kubernetesProvider: string;
}

/**
 * The engine built by `scripts/build-engine.sh`, or why it cannot be used: the tests then skip, unless
 * `JETSTREAM_EVENTBUS_E2E=required` (as CI sets it), where a missing tool is an error.
 */
export function findEngineTools(): EngineTools | string {
    return requiredUnlessMissing(locateEngineTools());
}

/**
 * Tools found, or why not: the reason to skip, unless `JETSTREAM_EVENTBUS_E2E=required` (as CI sets
 * it), where it is an error.
 */
export function requiredUnlessMissing<T>(found: T | string): T | string {
    if (typeof found === "string" && process.env.JETSTREAM_EVENTBUS_E2E === "required") {
        throw new Error(`the end-to-end tests are required here, and ${found}`);
    }
    return found;
}

function locateEngineTools(): EngineTools | string {
    const versions = JSON.parse(fs.readFileSync(path.join(REPO, "scripts/toolchain.json"), "utf8")) as Toolchain;
    const cache = cacheDir();
    const tools: EngineTools = {
        pulumi: path.join(cache, "pulumi", `v${versions.pulumi.version}`, "pulumi"),
        dynamicProviderLauncher: path.join(
            cache,
            "pulumi",
            `v${versions.pulumi.version}`,
            "pulumi-resource-pulumi-nodejs",
        ),
        languageHost: path.join(
            cache,
            "pulumi-language-nodejs",
            `v${versions.languageHost.sdkVersion}`,
            "pulumi-language-nodejs",
        ),
        kubernetesProvider: path.join(
            cache,
            "pulumi-kubernetes",
            `v${versions.kubernetesProvider.version}`,
            "pulumi-resource-kubernetes",
        ),
    };
    for (const file of [tools.pulumi, tools.dynamicProviderLauncher, tools.languageHost, tools.kubernetesProvider]) {
        if (!fs.existsSync(file)) {
            return `${path.basename(file)} is not built (run scripts/build-engine.sh)`;
        }
    }
    return tools;
}

/** Version of a package installed in this repository (the program folder pins the same, so npm's cache has it). */
function installedVersion(name: string): string {
    return JSON.parse(fs.readFileSync(path.join(REPO, "node_modules", name, "package.json"), "utf8")).version;
}

let packed: string | undefined;

/** `npm pack` of the built package, once per test process. */
function packPackage(cleanup: Cleanup): string {
    if (!packed || !fs.existsSync(packed)) {
        const dir = cleanup.tempDir("eventbus-pack");
        const name = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], {
            cwd: REPO,
            encoding: "utf8",
        })
            .trim()
            .split("\n")
            .pop()!;
        packed = path.join(dir, name);
    }
    return packed;
}

/** Result of one CLI run. */
export interface CommandResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** A Pulumi program folder with the packed package installed, its own state backend and plugins. */
export interface ProgramFolder {
    dir: string;
    /** Environment for the CLI and the Automation API: the built engine and doubles first on PATH. */
    env: NodeJS.ProcessEnv;
    /** Runs `pulumi <args>` in the folder. */
    pulumi(args: string[], options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<CommandResult>;
    /** Like {@link pulumi}, but throws with the output when the command fails. */
    pulumiOk(args: string[], options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<CommandResult>;
    /** Every file the backend has written (state, backups, history) as text. */
    stateFiles(): { file: string; text: string }[];
}

/** The environment variable that marks the processes of one program folder's CLI runs. */
export const PROGRAM_MARK = "JETSTREAM_EVENTBUS_TEST_PROGRAM";

/** The processes whose environment carries `PROGRAM_MARK=<mark>` (Linux: /proc/<pid>/environ). */
export function markedProcesses(mark: string): number[] {
    const wanted = `${PROGRAM_MARK}=${mark}`;
    const found: number[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        const pid = Number(entry);
        if (!Number.isInteger(pid) || pid === process.pid) continue;
        try {
            if (fs.readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(wanted)) found.push(pid);
        } catch {
            // Gone, or not ours to read.
        }
    }
    return found;
}

/** Sends SIGKILL to every process marked with `mark`; returns how many there were. */
export function signalMarkedProcesses(mark: string): number {
    const pids = markedProcesses(mark);
    for (const pid of pids) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            // Gone already.
        }
    }
    return pids.length;
}

/** Kills every process marked with `mark` (see {@link markedProcesses}) and waits, up to 10 s, until they are gone. */
export async function killMarkedProcesses(mark: string): Promise<void> {
    const until = Date.now() + 10_000;
    while (signalMarkedProcesses(mark) > 0 && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

/**
 * How long one CLI command may run: above the Stream's default create timeout, so a stream that cannot
 * be created fails with the provider's own error (what it waited on, through which pod) rather than
 * with the test's limit.
 */
export const CLI_TIMEOUT_MS = parseDurationMs(DEFAULT_CREATE_TIMEOUT, "createTimeout") + 120_000;

/** Passphrase of the test stacks' secrets provider. */
const PASSPHRASE = "end-to-end test passphrase";

/** Writes a wrapper that runs the tls or random provider double under this Node.js. */
function writeDoubleWrapper(binDir: string, packageName: "tls" | "random"): void {
    const double = path.join(REPO, "dist/tests/support/provider-double.js");
    const version = installedVersion(`@pulumi/${packageName}`);
    fs.writeFileSync(
        path.join(binDir, `pulumi-resource-${packageName}`),
        `#!/bin/sh\n# Test double of the ${packageName} provider (see tests/support/provider-double.ts).\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(double)} ${packageName} ${version} "$@"\n`,
        { mode: 0o755 },
    );
}

/** The files of a TypeScript project: Pulumi.yaml (`runtime: nodejs`), `index.ts` and a strict tsconfig. */
export function typescriptProject(name: string, program: string): Record<string, string> {
    return {
        "Pulumi.yaml": `name: ${name}\nruntime: nodejs\n`,
        "index.ts": program,
        "tsconfig.json": JSON.stringify({
            compilerOptions: {
                strict: true,
                target: "es2022",
                module: "node16",
                moduleResolution: "node16",
                skipLibCheck: true,
            },
        }),
    };
}

/**
 * The files of `examples/<name>` as a user copies them out of the repository: everything but what
 * `npm install` and `tsc` would have left there. `replace` writes over some (an edited `index.ts`).
 */
export function exampleProject(name: string, replace: Record<string, string> = {}): Record<string, string> {
    const root = path.join(REPO, "examples", name);
    const files: Record<string, string> = {};
    const walk = (under: string) => {
        for (const entry of fs.readdirSync(path.join(root, under), { withFileTypes: true })) {
            const relative = path.join(under, entry.name);
            if (entry.isDirectory()) {
                if (!["node_modules", "bin"].includes(entry.name)) walk(relative);
            } else if (entry.name !== "package-lock.json") {
                files[relative] = fs.readFileSync(path.join(root, relative), "utf8");
            }
        }
    };
    walk("");
    assert.ok("package.json" in files, `examples/${name} has a package.json`);
    return { ...files, ...replace };
}

/** Whether `version` is in `range`, for the forms the examples use: `^x.y.z`, `~x.y.z` or `x.y.z`. */
function satisfies(version: string, range: string): boolean {
    const parse = (text: string) => {
        const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(text);
        if (!match) throw new Error(`not a version the test understands: ${text}`);
        return match.slice(1).map(Number) as [number, number, number];
    };
    const operator = /^[\^~]/.test(range) ? range[0] : "";
    const [min, have] = [parse(range.slice(operator.length)), parse(version)];
    const compare = have[0] - min[0] || have[1] - min[1] || have[2] - min[2];
    if (operator === "") return compare === 0;
    // ^ keeps the first non-zero part; ~ keeps major and minor.
    const fixed = operator === "~" ? 2 : min[0] !== 0 ? 1 : min[1] !== 0 ? 2 : 3;
    return compare >= 0 && have.slice(0, fixed).every((part, i) => part === min[i]);
}

/**
 * The program's package.json: the example's own when `files` has one, each dependency at the version
 * installed in this repository (which must be in the example's range), the package from the tarball
 * instead of the repository link; otherwise one that depends on the package and its peers.
 */
function programPackage(files: Record<string, string>, tarball: string): string {
    if (!("package.json" in files)) {
        const dependencies: Record<string, string> = { "jetstream-eventbus": `file:${tarball}` };
        for (const name of [
            "@pulumi/pulumi",
            "@pulumi/kubernetes",
            "@pulumi/tls",
            "@pulumi/random",
            "typescript",
            "@types/node",
        ]) {
            dependencies[name] = installedVersion(name);
        }
        return JSON.stringify({ name: "eventbus-e2e-program", private: true, dependencies }, null, 2);
    }
    const pkg = JSON.parse(files["package.json"]!) as Record<string, unknown> & {
        dependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
    };
    for (const field of ["dependencies", "devDependencies"] as const) {
        for (const [name, range] of Object.entries(pkg[field] ?? {})) {
            if (name === "jetstream-eventbus") {
                pkg[field]![name] = `file:${tarball}`;
            } else {
                const version = installedVersion(name);
                assert.ok(
                    satisfies(version, range),
                    `${name} ${range} in the example's package.json, but the repository tests ${version}`,
                );
                pkg[field]![name] = version;
            }
        }
    }
    assert.ok(
        pkg.dependencies?.["jetstream-eventbus"]?.startsWith("file:"),
        "the example depends on jetstream-eventbus",
    );
    return JSON.stringify(pkg, null, 2);
}

/**
 * Makes a program folder as a user would: `files` (Pulumi.yaml, the program, ...; with or without a
 * package.json, see {@link programPackage}), `npm install`, and a file backend logged in.
 */
export async function createProgramFolder(
    tools: EngineTools,
    cleanup: Cleanup,
    files: Record<string, string>,
): Promise<ProgramFolder> {
    const dir = cleanup.tempDir("eventbus-program");
    const tarball = packPackage(cleanup);
    fs.writeFileSync(path.join(dir, "package.json"), programPackage(files, tarball));
    for (const [name, text] of Object.entries(files).filter(([file]) => file !== "package.json")) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), text);
    }
    // Install scripts are skipped: @pulumi/kubernetes's would try to download the provider plugin.
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts"], {
        cwd: dir,
        env: process.env,
        timeoutMs: 300_000,
    }).then(failOnError("npm install"));

    const binDir = path.join(dir, ".bin");
    fs.mkdirSync(binDir);
    for (const tool of [tools.pulumi, tools.languageHost, tools.dynamicProviderLauncher, tools.kubernetesProvider]) {
        fs.symlinkSync(tool, path.join(binDir, path.basename(tool)));
    }
    writeDoubleWrapper(binDir, "tls");
    writeDoubleWrapper(binDir, "random");

    const stateDir = path.join(dir, ".state");
    fs.mkdirSync(stateDir);
    // Every process the CLI starts inherits this mark: the plugins run in process groups of their own,
    // and one the CLI leaves behind (killed at a time limit) is found by it and stopped.
    const mark = `${path.basename(dir)}-${process.pid}`;
    // A test process stopped from outside (the runner interrupted or killed) stops them too.
    const withdraw = killAtExitWith(() => signalMarkedProcesses(mark));
    cleanup.defer(async () => {
        await killMarkedProcesses(mark);
        withdraw();
    });
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        [PROGRAM_MARK]: mark,
        PATH: [binDir, path.dirname(process.execPath), process.env.PATH].join(path.delimiter),
        PULUMI_HOME: path.join(dir, ".pulumi"),
        PULUMI_BACKEND_URL: `file://${stateDir}`,
        PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
        // No cluster unless a test gives one: nothing may reach a developer's own kubeconfig.
        KUBECONFIG: path.join(dir, "no-kubeconfig"),
        NO_COLOR: "1",
    };
    const pulumi = (args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}) =>
        run(tools.pulumi, ["--non-interactive", ...args], {
            cwd: dir,
            env: { ...env, ...options.env },
            timeoutMs: options.timeoutMs ?? CLI_TIMEOUT_MS,
        });
    return {
        dir,
        env,
        pulumi,
        pulumiOk: (args, options) => pulumi(args, options).then(failOnError(`pulumi ${args.join(" ")}`)),
        stateFiles: () => listFiles(stateDir).map((file) => ({ file, text: fs.readFileSync(file, "utf8") })),
    };
}

function listFiles(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        return entry.isDirectory() ? listFiles(full) : [full];
    });
}

function failOnError(what: string): (result: CommandResult) => CommandResult {
    return (result) => {
        if (result.code !== 0) {
            throw new Error(
                `${what} failed with exit code ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
            );
        }
        return result;
    };
}

/**
 * Runs a command to completion, bounded in time; resolves with its exit code and output. It runs in a
 * process group of its own, and a timeout kills the whole group: the CLI's plugins (providers,
 * language host) must not outlive it.
 */
export function run(
    command: string,
    args: string[],
    options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<CommandResult> {
    return new Promise((resolve) => {
        const child = spawn(command, args, {
            cwd: options.cwd,
            env: options.env,
            detached: true,
            stdio: ["ignore", "pipe", "pipe"],
        });
        killAtExit(child);
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (chunk) => (stdout += chunk));
        child.stderr!.on("data", (chunk) => (stderr += chunk));
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            killGroup(child.pid);
        }, options.timeoutMs);
        child.once("error", (err) => (stderr += `\n${err.message}`));
        child.once("close", async (code) => {
            clearTimeout(timer);
            // Whatever the command left behind in its group goes with it.
            killGroup(child.pid);
            // The CLI's plugins run in groups of their own: killed with it, it cannot stop them itself.
            const mark = options.env[PROGRAM_MARK];
            if (timedOut && mark) await killMarkedProcesses(mark);
            resolve({
                code: timedOut ? 1 : (code ?? 1),
                stdout,
                stderr: timedOut ? `${stderr}\n${command} timed out after ${options.timeoutMs} ms` : stderr,
            });
        });
    });
}

function killGroup(pid: number | undefined): void {
    if (pid === undefined) return;
    try {
        process.kill(-pid, "SIGKILL");
    } catch {
        // The group is gone already.
    }
}

/** One step of `pulumi preview --json`. */
export interface PreviewStep {
    op: string;
    urn: string;
    newState?: { type: string; inputs?: Record<string, any> };
}

/** What `pulumi preview --json` printed. */
export interface PreviewJson {
    steps: PreviewStep[];
    changeSummary: Record<string, number>;
    diagnostics?: { message: string; severity: string; urn?: string }[];
}

/** Parses `pulumi preview --json` output. */
export function previewJson(result: CommandResult): PreviewJson {
    try {
        return JSON.parse(result.stdout) as PreviewJson;
    } catch {
        throw new Error(
            `pulumi preview --json printed no JSON (exit code ${result.code})\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
        );
    }
}

/**
 * The changed lines (`~`) of `pulumi preview --diff`, spaces collapsed: which resources and which
 * fields a reviewer sees move. Dynamic resources report no detailed diff, so the engine's own
 * comparison of old and new inputs is what a pull request shows.
 */
export function changedLines(previewText: string): string[] {
    const body = previewText.split(/^Resources:/m)[0]!;
    return body
        .split("\n")
        .map((line) => line.trim().replace(/\s+/g, " ").replace(/ :/g, ":"))
        .filter((line) => line.startsWith("~ "))
        .map((line) => line.replace(/ \[.*$/, ""));
}

/** The resource type of a step. */
export function stepType(step: PreviewStep): string {
    return step.urn.split("::")[2]!.split("$").pop()!;
}

/** Why the tests of an exotic bus on a local cluster cannot run here, or false when they can. */
export function exoticTargetSkipReason(): string | false {
    const tools = findEngineTools();
    if (typeof tools === "string") return tools;
    return privateHostsProblem() ?? (findNatsServers().length > 0 ? false : "no nats-server");
}

/**
 * A 3-node TLS cluster on the newest nats-server found, the settings an exotic bus needs to reach it, and a client of
 * the test's own.
 */
export interface ExoticTarget {
    cluster: LocalCluster;
    /** The test's own look at the servers. */
    jsm: JetStreamManager;
    url: string;
    username: string;
    password: string;
    caCert: string;
    serverName: string;
}

/** Starts an {@link ExoticTarget}; `cleanup` stops it. */
export async function startExoticTarget(cleanup: Cleanup): Promise<ExoticTarget> {
    const cluster = await startCluster(findNatsServers().at(-1)!, cleanup);
    const nc = await connectClient(cluster);
    cleanup.defer(() => nc.close());
    const connection = cluster.rendered.resources.find((r) => r.type === STREAM_TYPE)!.inputs.connection;
    return {
        cluster,
        jsm: await jetstreamManager(nc),
        url: cluster.urls.join(","),
        username: connection.username,
        password: connection.password,
        caCert: connection.caCert,
        serverName: cluster.serviceHost,
    };
}
