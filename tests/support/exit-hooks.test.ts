/**
 * A test run stopped from outside leaves nothing behind: the servers a test started as children and
 * the plugins the CLI started in process groups of their own both go, whether the runner is
 * interrupted (SIGTERM, passed on to the test files) or killed outright (SIGKILL, seen by the test
 * process as the loss of its parent).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cleanupAfter, waitFor } from "./nats";

const PROGRAM = path.join(__dirname, "..", "fixtures", "exit-hooks-program.js");

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return !fs.readFileSync(`/proc/${pid}/stat`, "latin1").includes(") Z ");
    } catch {
        return false;
    }
}

async function stopRunnerWith(signal: NodeJS.Signals, t: { after(fn: () => unknown): unknown }): Promise<void> {
    const cleanup = cleanupAfter(t);
    const report = path.join(cleanup.tempDir("exit-hooks"), "pids.json");
    // Without NODE_TEST_CONTEXT, which would make the nested `node --test` act as this runner's child.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const runner = spawn(process.execPath, ["--test", PROGRAM], {
        env: { ...env, EXIT_HOOKS_REPORT: report },
        stdio: "ignore",
    });
    cleanup.defer(() => {
        if (runner.exitCode === null) runner.kill("SIGKILL");
    });
    const pids = await waitFor(
        () =>
            fs.existsSync(report) ? (JSON.parse(fs.readFileSync(report, "utf8")) as Record<string, number>) : undefined,
        { timeoutMs: 30_000, intervalMs: 100, what: "the test program to start its processes" },
    );
    cleanup.defer(() => {
        for (const pid of Object.values(pids)) if (alive(pid)) process.kill(pid, "SIGKILL");
    });
    assert.ok(alive(pids.child) && alive(pids.plugin), "both processes run before the runner is stopped");
    runner.kill(signal);
    const left = await waitFor(
        () => {
            const running = Object.entries(pids).filter(([, pid]) => alive(pid));
            return running.length === 0 ? [] : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 100, what: `the processes to go after the runner got ${signal}` },
    ).catch(() =>
        Object.entries(pids)
            .filter(([, pid]) => alive(pid))
            .map(([name]) => name),
    );
    assert.deepEqual(left, [], `still running after the runner got ${signal}`);
}

describe("a test run stopped from outside", () => {
    it("interrupted (SIGTERM): stops its child processes and the marked plugins", (t) => stopRunnerWith("SIGTERM", t));
    it("killed (SIGKILL): the orphaned test process stops them too", (t) => stopRunnerWith("SIGKILL", t));
});
