/**
 * `jetstream-eventbus render --stack FILE` on every mistake of tests/fixtures/bad-inputs.ts that a stack
 * file can hold: a non-zero status, the field and the valid form on stderr, no secret anywhere, and no
 * file written, so the README's pull-request recipe (render, then `git diff --exit-code`) fails on a
 * broken bus.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { BAD_INPUTS, BadInput, stackConfigOf } from "../../fixtures/bad-inputs";

// The repository: this file runs from dist/tests/integration/cli.
const ROOT = path.resolve(__dirname, "../../../..");
const CLI = path.join(ROOT, "dist/cli/cli.js");

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
}

function run(args: string[], cwd: string): Promise<Run> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
        const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
        child.once("error", reject);
        child.once("close", (status) => {
            clearTimeout(timer);
            resolve({ status, stdout, stderr });
        });
    });
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "render-refusals-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Writes a project and a stack file for `input` in a folder of its own; returns the folder. */
function projectFor(input: BadInput, index: number, config: Record<string, unknown>): string {
    const folder = path.join(dir, String(index));
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, "Pulumi.yaml"), "name: bus\nruntime: nodejs\n");
    const entries = Object.fromEntries(
        Object.entries(config).map(([key, value]) => [`jetstream-eventbus:${key}`, value]),
    );
    fs.writeFileSync(path.join(folder, "Pulumi.dev.yaml"), stringify({ config: entries }));
    return folder;
}

const stackInputs = BAD_INPUTS.map((input, index) => ({ input, index, config: stackConfigOf(input) })).filter(
    (c) => c.config !== undefined,
);

describe("render refuses every bad stack file", () => {
    // Four at a time: each run is a short Node process that fails before generating anything.
    const results = new Map<number, Promise<Run>>();
    const queue = [...stackInputs];
    const runners = Array.from({ length: 4 }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
            const folder = projectFor(next.input, next.index, next.config!);
            const result = run(["render", "--stack", "Pulumi.dev.yaml", "--out", "rendered"], folder);
            results.set(next.index, result);
            await result;
        }
    });
    const done = Promise.all(runners);

    it(`covers ${stackInputs.length} of the ${BAD_INPUTS.length} mistakes (the others are not expressible in a stack file)`, () => {
        assert.ok(
            stackInputs.length >= BAD_INPUTS.length - 8,
            `only ${stackInputs.length} can be written as a stack file`,
        );
    });

    for (const { input, index } of stackInputs) {
        it(`${input.kind}: ${input.what}`, async () => {
            await done;
            const result = await results.get(index)!;
            assert.equal(result.status, 2, `status ${result.status}\n${result.stdout}\n${result.stderr}`);
            assert.ok(result.stderr.startsWith(`error: ${input.field}: `), result.stderr);
            assert.match(result.stderr, input.allowed);
            for (const secret of input.secrets ?? []) {
                assert.ok(!result.stderr.includes(secret) && !result.stdout.includes(secret), "a secret was printed");
            }
            assert.equal(fs.existsSync(path.join(dir, String(index), "rendered")), false, "nothing is written");
        });
    }
});

describe("render's own options", () => {
    it("an unknown option is refused, listing the options", () => {
        const result = spawnSync(process.execPath, [CLI, "render", "--bogus"], {
            cwd: dir,
            encoding: "utf8",
            timeout: 60_000,
        });
        assert.equal(result.status, 2);
        assert.equal(
            result.stderr.trim(),
            "error: --bogus: unknown option; render takes --manifest FILE, --stack FILE, --project FILE, --out DIR, --format yaml",
        );
    });

    it("a near miss gets a suggestion", () => {
        const result = spawnSync(process.execPath, [CLI, "local", "--kep"], {
            cwd: dir,
            encoding: "utf8",
            timeout: 60_000,
        });
        assert.equal(result.status, 2);
        assert.match(result.stderr, /--kep: unknown option \(did you mean "--keep"\?\); local takes --manifest FILE/);
    });
});
