/**
 * `npm run bench`: what the component costs, printed as a table and written as JSON. Every figure is
 * the median of several runs, with min and max; each program runs in a fresh Node process (Pulumi's
 * mocks are process-wide, and peak memory is per process).
 *
 *  1. program evaluation under mocks, 1/10/50 EventBuses in one stack, against a baseline that
 *     declares the same Kubernetes objects directly (program.ts);
 *  2. the serialized stream provider: bytes in state per stream, first and further serializations
 *     (serialize.ts, and the 50-bus programs of group 1);
 *  3. stream operations against a local 3-node TLS cluster, next to bare nats.js (stream-ops.ts);
 *  4. connecting directly versus through a port-forward (stream-ops.ts);
 *  5. `render` for 1 and 50 buses (the group-1 programs render their files after the timed part;
 *     also the CLI itself for one bus, in the JSON);
 *  6. the real engine: `pulumi preview` and a no-op `pulumi up` for 1 and 10 buses with the real CLI,
 *     Kubernetes provider and kube-apiserver, against a baseline stack of the same objects
 *     (real-engine.ts; skipped, saying why, when the engine or the control plane is not built).
 *
 * Options: --out FILE (default dist/bench-results.json), --quick (fewer runs, to try it out),
 * --only N (group N alone; groups 2 and 5 also run group 1, whose programs they read; 3 and 4 run together).
 * Not part of `npm test`: no file here is named *.test.ts, and nothing asserts on time.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import type { ProgramKind, ProgramResult, ProgramTask } from "./program";
import type { SerializeResult } from "./serialize";
import type { StreamOpsResult } from "./stream-ops";
import { realEngineGroup, type RealEngineResult } from "./real-engine";
import { ratioOf, row, Row, summarize, table } from "./stats";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const HERE = __dirname;

function parseArgs(argv: string[]): { out: string; quick: boolean; only?: number } {
    let out = path.join(ROOT, "dist", "bench-results.json");
    let quick = false;
    let only: number | undefined;
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--out") out = path.resolve(argv[++i] ?? out);
        else if (argv[i] === "--quick") quick = true;
        else if (argv[i] === "--only") {
            only = Number(argv[++i]);
            if (!Number.isInteger(only) || only < 1 || only > 6)
                throw new Error(`--only takes a group number, 1 to 6, got ${argv[i]}`);
        } else throw new Error(`unknown option ${argv[i]}; use --out FILE, --quick or --only N`);
    }
    return { out, quick, only };
}

const log = (text: string) =>
    process.stderr.write(`[bench ${(performance.now() / 1000).toFixed(0).padStart(4)}s] ${text}\n`);

/** Runs a bench script in a fresh Node process from the repository root; returns what it wrote. */
function child<T>(script: string, task: Record<string, unknown>, tmp: string): T {
    const result = path.join(tmp, `result-${process.hrtime.bigint()}.json`);
    try {
        execFileSync(
            process.execPath,
            ["--no-warnings", path.join(HERE, script), JSON.stringify({ ...task, result })],
            {
                cwd: ROOT,
                stdio: ["ignore", "pipe", "pipe"],
                maxBuffer: 64 * 1024 * 1024,
                timeout: 300_000,
            },
        );
    } catch (err) {
        const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
        throw new Error(
            `${script} ${JSON.stringify(task)} failed: ${e.message}\n${e.stderr?.toString() ?? ""}${e.stdout?.toString() ?? ""}`,
            { cause: err },
        );
    }
    return JSON.parse(fs.readFileSync(result, "utf8")) as T;
}

const median = (values: number[]) => summarize(values).median;

function programGroup(quick: boolean, tmp: string): { rows: Row[]; runs: Record<string, ProgramResult[]> } {
    const rows: Row[] = [];
    const runs: Record<string, ProgramResult[]> = {};
    const G = "1 program";
    const evalOf = (n: number, kind: ProgramKind) => runs[`${kind}:${n}`]!.map((r) => r.evalMs);
    for (const n of [1, 10, 50]) {
        const reps = quick ? 2 : n === 50 ? 3 : 5;
        const objects = path.join(tmp, `objects-${n}.json`);
        const material = path.join(tmp, `material-${n}.json`);
        for (const kind of ["eventbus", "eventbus-reuse", "baseline"] as const) runs[`${kind}:${n}`] = [];
        for (let rep = 0; rep < reps; rep++) {
            log(`group 1/6: ${n} bus(es), run ${rep + 1}/${reps}`);
            const task = (kind: ProgramKind): Omit<ProgramTask, "result"> => ({
                kind,
                buses: n,
                render: kind === "eventbus",
                dump: kind === "eventbus" && rep === 0 ? { objects, material } : undefined,
                input: kind === "baseline" ? objects : kind === "eventbus-reuse" ? material : undefined,
            });
            // Interleaved, so a slower moment of the machine hits all three alike.
            for (const kind of ["eventbus", "eventbus-reuse", "baseline"] as const) {
                runs[`${kind}:${n}`]!.push(
                    child<ProgramResult>("program.js", task(kind) as unknown as Record<string, unknown>, tmp),
                );
            }
        }
        const ev = evalOf(n, "eventbus");
        const re = evalOf(n, "eventbus-reuse");
        const ba = evalOf(n, "baseline");
        const label = `${n} bus${n === 1 ? "" : "es"}`;
        const regs = runs[`eventbus:${n}`]![0]!.registrations;
        const baseRegs = runs[`baseline:${n}`]![0]!.registrations;
        rows.push(
            row(G, `${label}: eval, EventBus`, "ms", ev, {
                ratio: ratioOf(median(ev), median(ba)),
                ratioTo: "vs baseline",
            }),
        );
        rows.push(
            row(G, `${label}: eval, EventBus, tls/random reused`, "ms", re, {
                ratio: ratioOf(median(re), median(ba)),
                ratioTo: "vs baseline",
            }),
        );
        rows.push(row(G, `${label}: eval, baseline`, "ms", ba, { ratioTo: `${baseRegs} vs ${regs} registrations` }));
        const rss = runs[`eventbus:${n}`]!.map((r) => r.maxRssMB);
        const baseRss = runs[`baseline:${n}`]!.map((r) => r.maxRssMB);
        rows.push(
            row(G, `${label}: peak RSS, EventBus`, "MB", rss, {
                ratio: ratioOf(median(rss), median(baseRss)),
                ratioTo: `vs baseline ${median(baseRss).toFixed(0)}MB`,
            }),
        );
        rows.push(
            row(
                G,
                `${label}: peak RSS, EventBus, reused`,
                "MB",
                runs[`eventbus-reuse:${n}`]!.map((r) => r.maxRssMB),
                { detail: true },
            ),
        );
        rows.push(row(G, `${label}: peak RSS, baseline`, "MB", baseRss, { detail: true }));
        rows.push(
            row(
                G,
                `${label}: module load, EventBus`,
                "ms",
                runs[`eventbus:${n}`]!.map((r) => r.loadMs),
                { detail: true },
            ),
        );
        rows.push(
            row(
                G,
                `${label}: module load, baseline`,
                "ms",
                runs[`baseline:${n}`]!.map((r) => r.loadMs),
                { detail: true },
            ),
        );
    }
    // Per-bus cost, and whether 50 buses cost 50 times one.
    for (const [kind, name] of [
        ["eventbus", "EventBus"],
        ["eventbus-reuse", "EventBus, reused"],
        ["baseline", "baseline"],
    ] as const) {
        const one = median(evalOf(1, kind));
        const fifty = evalOf(50, kind);
        rows.push(
            row(
                G,
                `per bus at 50, ${name}`,
                "ms",
                fifty.map((t) => t / 50),
                {
                    ratio: ratioOf(median(fifty), 50 * one),
                    ratioTo: "of 50 x 1 bus",
                    detail: kind === "baseline",
                },
            ),
        );
        rows.push(
            row(
                G,
                `marginal bus 10->50, ${name}`,
                "ms",
                fifty.map((t) => (t - median(evalOf(10, kind))) / 40),
                { detail: true },
            ),
        );
    }
    return { rows, runs };
}

function serializationGroup(
    quick: boolean,
    tmp: string,
    programs: Record<string, ProgramResult[]>,
): { rows: Row[]; runs: SerializeResult[] } {
    const G = "2 serialize";
    const reps = quick ? 2 : 5;
    const runs: SerializeResult[] = [];
    for (let rep = 0; rep < reps; rep++) {
        log(`group 2/6: serialized provider, run ${rep + 1}/${reps}`);
        runs.push(child<SerializeResult>("serialize.js", { streams: 20 }, tmp));
    }
    const fifty = programs["eventbus:50"]!.map((r) => r.serialization!);
    const text = runs[0]!.providerBytes[0]!;
    // The dynamic provider host copies __provider into the outputs: state holds it in inputs and outputs, JSON-escaped.
    const rows: Row[] = [
        row(
            G,
            "__provider in state, per stream",
            "B",
            runs.map((r) => 2 * r.providerJsonBytes),
            { ratioTo: `text ${text} B, in inputs + outputs` },
        ),
        row(
            G,
            "serializations for 50 streams",
            "count",
            fifty.map((s) => s.serializeCalls),
            {
                ratioTo: `${Math.max(...fifty.map((s) => s.distinctProviders))} distinct text, ${fifty[0]!.providerBytes.length} streams`,
            },
        ),
        row(
            G,
            "first stream, registered",
            "ms",
            runs.map((r) => r.registerMs[0]!),
            { ratioTo: `closure module load ${median(runs.map((r) => r.closureModuleLoadMs)).toFixed(0)}ms` },
        ),
        row(
            G,
            "each further stream, registered",
            "ms",
            runs.map((r) => median(r.registerMs.slice(1))),
            {
                ratio: ratioOf(
                    median(runs.map((r) => median(r.registerMs.slice(1)))),
                    median(runs.map((r) => r.uncachedSerializeMs)),
                ),
                ratioTo: `of uncached serialize ${median(runs.map((r) => r.uncachedSerializeMs)).toFixed(1)}ms`,
            },
        ),
        row(
            G,
            "Resource constructor, first stream",
            "ms",
            runs.map((r) => r.constructorMs[0]!),
            { detail: true },
        ),
        row(
            G,
            "Resource constructor, further streams",
            "ms",
            runs.map((r) => median(r.constructorMs.slice(1))),
            { detail: true },
        ),
        row(
            G,
            "uncached serialization (warm)",
            "ms",
            runs.map((r) => r.uncachedSerializeMs),
            { detail: true },
        ),
    ];
    return { rows, runs };
}

function renderGroup(
    quick: boolean,
    tmp: string,
    programs: Record<string, ProgramResult[]>,
): { rows: Row[]; cliMs: number[] } {
    const G = "5 render";
    const rows: Row[] = [];
    const one = programs["eventbus:1"]!.map((r) => r.render!);
    const fifty = programs["eventbus:50"]!.map((r) => r.render!);
    rows.push(
        row(
            G,
            "1 bus: wall (load + program + files)",
            "ms",
            one.map((r) => r.wallMs),
            { ratioTo: `${one[0]!.files} files` },
        ),
    );
    rows.push(
        row(
            G,
            "1 bus: output size",
            "B",
            one.map((r) => r.bytes),
        ),
    );
    rows.push(
        row(
            G,
            "50 buses: wall",
            "ms",
            fifty.map((r) => r.wallMs),
            {
                ratio: ratioOf(median(fifty.map((r) => r.wallMs)), 50 * median(one.map((r) => r.wallMs))),
                ratioTo: `of 50 x 1 bus, ${fifty[0]!.files} files`,
            },
        ),
    );
    rows.push(
        row(
            G,
            "50 buses: output size",
            "B",
            fifty.map((r) => r.bytes),
            {
                ratio: ratioOf(median(fifty.map((r) => r.bytes)), 50 * median(one.map((r) => r.bytes))),
                ratioTo: "of 50 x 1 bus",
            },
        ),
    );
    rows.push(
        row(
            G,
            "1 bus: renderFiles only",
            "ms",
            one.map((r) => r.renderMs),
            { detail: true },
        ),
    );
    rows.push(
        row(
            G,
            "50 buses: renderFiles only",
            "ms",
            fifty.map((r) => r.renderMs),
            { detail: true },
        ),
    );
    // The command itself, one bus (the project's Pulumi.yaml), process start to exit.
    const cliMs: number[] = [];
    const reps = quick ? 1 : 3;
    for (let rep = 0; rep < reps; rep++) {
        log(`group 5/6: jetstream-eventbus render, run ${rep + 1}/${reps}`);
        const out = fs.mkdtempSync(path.join(tmp, "render-"));
        fs.rmSync(out, { recursive: true });
        const begun = performance.now();
        execFileSync(
            process.execPath,
            ["--no-warnings", path.join(ROOT, "dist", "cli", "cli.js"), "render", "--out", out],
            { cwd: ROOT, stdio: "pipe" },
        );
        cliMs.push(performance.now() - begun);
    }
    rows.push(row(G, "1 bus: `jetstream-eventbus render` process", "ms", cliMs, { detail: true }));
    return { rows, cliMs };
}

/** Group 6, never throwing: a failure is printed and becomes a row, and the exit code says so. */
async function realEngine(quick: boolean): Promise<RealEngineResult> {
    const G = "6 real engine";
    try {
        const result = await realEngineGroup(quick, log);
        if (result.skipped) {
            log(`group 6/6: skipped: ${result.skipped}`);
            result.rows.push(row(G, "skipped", "-", NaN, { ratioTo: result.skipped }));
        }
        return result;
    } catch (err) {
        console.error(err);
        process.exitCode = 1;
        return { rows: [row(G, "failed", "-", NaN, { ratioTo: (err as Error).message.split("\n")[0] })], runs: {} };
    }
}

async function main(): Promise<void> {
    const { out, quick, only } = parseArgs(process.argv.slice(2));
    const wants = (...groups: number[]) => only === undefined || groups.includes(only);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "jetstream-eventbus-bench-"));
    const started = performance.now();
    try {
        const program = wants(1, 2, 5) ? programGroup(quick, tmp) : undefined;
        const serialization = program && wants(2) ? serializationGroup(quick, tmp, program.runs) : undefined;
        let ops: StreamOpsResult | undefined;
        if (wants(3, 4)) {
            log("groups 3/6 and 4/6: local 3-node TLS cluster");
            ops = child<StreamOpsResult>("stream-ops.js", { runs: quick ? 2 : 5 }, tmp);
            if (ops.skipped) {
                ops.rows.push(
                    row("3 stream", "skipped", "-", NaN, { ratioTo: ops.skipped }),
                    row("4 connect", "skipped", "-", NaN, { ratioTo: ops.skipped }),
                );
            }
        }
        const render = program && wants(5) ? renderGroup(quick, tmp, program.runs) : undefined;
        const engine = wants(6) ? await realEngine(quick) : undefined;
        const rows = [
            ...(program?.rows ?? []),
            ...(serialization?.rows ?? []),
            ...(ops?.rows ?? []),
            ...(render?.rows ?? []),
            ...(engine?.rows ?? []),
        ];
        const seconds = (performance.now() - started) / 1000;
        const engineVersions = engine?.versions
            ? `, pulumi ${engine.versions.pulumi}, kubernetes ${engine.versions.kubernetes}`
            : "";
        const header = `jetstream-eventbus bench: node ${process.version}, ${os.cpus().length} CPU(s) ${os.cpus()[0]?.model ?? ""}, nats-server ${ops?.server ?? "-"}${engineVersions}, ${seconds.toFixed(0)}s${quick ? " (--quick)" : ""}${only ? ` (--only ${only})` : ""}`;
        process.stdout.write(`${header}\n\n${table(rows)}\n\n`);
        fs.mkdirSync(path.dirname(out), { recursive: true });
        fs.writeFileSync(
            out,
            JSON.stringify(
                {
                    generatedAt: new Date().toISOString(),
                    node: process.version,
                    cpus: os.cpus().length,
                    cpuModel: os.cpus()[0]?.model,
                    natsServer: ops?.server,
                    seconds,
                    quick,
                    only,
                    rows,
                    requestSubjects: ops?.subjects,
                    programRuns: program?.runs,
                    serializeRuns: serialization?.runs,
                    realEngine: engine && { versions: engine.versions, skipped: engine.skipped, runs: engine.runs },
                },
                null,
                2,
            ) + "\n",
        );
        process.stdout.write(`Figures (with every run, and the JSON-only detail rows) written to ${out}\n`);
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
