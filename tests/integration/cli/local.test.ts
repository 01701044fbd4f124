/**
 * `jetstream-eventbus local` as a user runs it: a child process that starts the bus of the repository's
 * Pulumi.yaml (3 servers), prints how to connect, and cleans up when interrupted.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { connect, NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { privateHostsProblem } from "../../../cli/nats-server";
import { findNatsServers, freePort } from "../../support/nats";

// The repository: this file runs from dist/tests/integration/cli.
const ROOT = path.resolve(__dirname, "../../../..");
const CLI = path.join(ROOT, "dist/cli/cli.js");
const cannotRun = findNatsServers().length === 0 ? "no nats-server" : privateHostsProblem();

/** Base port with the client (n), route (n+2000) and monitoring (n+4000) ranges of 3 servers free. */
async function freeBasePort(): Promise<number> {
    for (let attempt = 0; attempt < 20; attempt++) {
        const base = 20000 + Math.floor(Math.random() * 20000);
        const probes = await Promise.all(
            [0, 1, 2, 2000, 2001, 2002, 4000, 4001, 4002].map((offset) => portIsFree(base + offset)),
        );
        if (probes.every(Boolean)) return base;
    }
    throw new Error("no free port range");
}

async function portIsFree(port: number): Promise<boolean> {
    const net = await import("node:net");
    return new Promise((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
}

describe("npm run local", { skip: cannotRun }, () => {
    let child: ChildProcess;
    let output = "";
    let printed: { urls: string[]; serverName: string; caFile: string; user: string; passwordFile: string };
    let nc: NatsConnection;

    before(async () => {
        const base = await freeBasePort();
        child = spawn(process.execPath, [CLI, "local", "--port", String(base)], {
            cwd: ROOT,
            stdio: ["ignore", "pipe", "pipe"],
        });
        child.stdout!.on("data", (c) => (output += c));
        child.stderr!.on("data", (c) => (output += c));
        const deadline = Date.now() + 120_000;
        while (!/running; press Ctrl-C to stop/.test(output)) {
            assert.ok(Date.now() < deadline && child.exitCode === null, `local did not start:\n${output}`);
            await new Promise((r) => setTimeout(r, 100));
        }
        const field = (label: string) => new RegExp(`^\\s*${label}:\\s+(\\S+)`, "m").exec(output)![1];
        printed = {
            urls: field("URL").split(","),
            serverName: field("TLS name"),
            caFile: field("CA file"),
            user: field("user"),
            passwordFile: field("password in"),
        };
    });
    after(async () => {
        await nc?.close().catch(() => undefined);
        if (child.exitCode === null) child.kill("SIGKILL");
    });

    it("prints each step with its elapsed time", () => {
        for (const step of [
            /rendering bus "default" in namespace argo-events: 3 server\(s\)/,
            /starting eventbus-default-js-0/,
            /starting eventbus-default-js-2/,
            /cluster formed/,
            /stream "default" ready: subjects default\.\*\.\*, 3 replica\(s\)/,
        ]) {
            assert.match(output, new RegExp(`\\[\\s*\\d+\\.\\ds\\] .*${step.source}`));
        }
    });

    it("serves 1,000 messages to a client that verifies TLS and uses the printed credentials, stored on 3 replicas", async () => {
        assert.equal(printed.urls.length, 3);
        assert.equal(printed.serverName, "eventbus-default-js-svc.argo-events.svc");
        assert.equal(fs.statSync(printed.passwordFile).mode & 0o777, 0o600);
        nc = await connect({
            servers: printed.urls,
            user: printed.user,
            pass: fs.readFileSync(printed.passwordFile, "utf8"),
            tls: { ca: fs.readFileSync(printed.caFile, "utf8"), servername: printed.serverName } as object,
        });
        const js = jetstream(nc);
        for (let i = 0; i < 1000; i++) {
            // Retries, de-duplicated by the id, while the new stream's interest reaches every server.
            const ack = await js.publish(`default.webhook.event${i % 10}`, `message ${i}`, {
                msgID: `m-${i}`,
                retries: 8,
            });
            assert.equal(ack.stream, "default");
        }
        const jsm = await jetstreamManager(nc);
        const info = await jsm.streams.info("default");
        assert.equal(info.state.messages, 1000);
        assert.equal(info.config.num_replicas, 3);
        assert.ok(info.cluster?.leader);
        const deadline = Date.now() + 20_000;
        let current = false;
        while (!current && Date.now() < deadline) {
            current =
                ((await jsm.streams.info("default")).cluster?.replicas ?? []).every((r) => r.current) &&
                (info.cluster?.replicas?.length ?? 0) === 2;
            if (!current) await new Promise((r) => setTimeout(r, 250));
        }
        assert.ok(current, "both replicas current");
        const consumer = await jetstream(nc).consumers.get("default");
        const seen = new Set<string>();
        const messages = await consumer.fetch({ max_messages: 1000, expires: 10_000 });
        for await (const m of messages) {
            seen.add(m.string());
            if (seen.size === 1000) break;
        }
        assert.equal(seen.size, 1000);
        assert.ok(seen.has("message 0") && seen.has("message 999"));
    });

    it("stops on Ctrl-C with lame duck mode, leaving no process and no folder", async () => {
        await nc.close();
        const dir = path.dirname(printed.caFile);
        child.kill("SIGINT");
        const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
        assert.equal(code, 0, output);
        assert.match(output, /stopping: lame duck mode on every server/);
        assert.equal(fs.existsSync(dir), false, `${dir} left behind`);
        const left = spawnSync("pgrep", ["-f", dir], { encoding: "utf8" }).stdout.trim();
        assert.equal(left, "", `processes left: ${left}`);
    });
});

describe("npm run local, failures", () => {
    it("says how to install nats-server when there is none", () => {
        const result = spawnSync(process.execPath, [CLI, "local"], {
            cwd: ROOT,
            encoding: "utf8",
            env: { ...process.env, PATH: "/nonexistent", NATS_SERVER: "" },
            timeout: 60_000,
        });
        assert.equal(result.status, 2);
        assert.match(
            result.stderr,
            /^error: nats-server not found: install nats-server \(Debian\/Ubuntu: apt-get install nats-server/m,
        );
    });

    it("refuses invalid input before starting anything", () => {
        const dir = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "local-input-"));
        try {
            fs.writeFileSync(
                path.join(dir, "eventbus.yaml"),
                "apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata: { name: default }\nspec:\n  jetstream:\n    version: latest\n    replicas: 2\n",
            );
            const result = spawnSync(process.execPath, [CLI, "local", "--manifest", path.join(dir, "eventbus.yaml")], {
                cwd: ROOT,
                encoding: "utf8",
                timeout: 60_000,
            });
            assert.equal(result.status, 2);
            assert.match(
                result.stderr,
                /^error: jetstream\.replicas: 2 is not allowed: a JetStream bus needs 1 replica or 3 and more/m,
            );
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses a folder it cannot write to", async () => {
        const port = await freePort();
        const result = spawnSync(
            process.execPath,
            [CLI, "local", "--dir", "/proc/version/bus", "--port", String(port)],
            { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
        );
        assert.equal(result.status, 2);
        assert.match(result.stderr, /^error: cannot write to \/proc\/version\/bus/m);
    });
});
