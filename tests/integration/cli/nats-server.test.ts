/**
 * The nats-server launcher of the CLI (cli/nats-server.ts), which the tests and the benchmarks start
 * their servers with too.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { connect } from "@nats-io/transport-node";
import { findNatsServer, privateHostsProblem, writeHostsLauncher } from "../../../cli/nats-server";
import {
    cleanupAfter,
    compareVersions,
    findNatsServers,
    freePorts,
    requireNatsServer,
    startNatsServer,
    waitFor,
    withCleanup,
    type NatsServerBinary,
    type NatsServerHandle,
} from "../../support/nats";

test("findNatsServers lists distinct versions, oldest first", () => {
    const all = findNatsServers();
    assert.ok(all.length > 0, "at least one nats-server is installed");
    const versions = all.map((b) => b.version);
    assert.equal(new Set(versions).size, versions.length);
    assert.deepEqual([...versions].sort(compareVersions), versions);
    assert.equal(requireNatsServer().version, versions[versions.length - 1]);
    assert.throws(() => requireNatsServer({ minVersion: "999.0.0" }), /apt-get install nats-server/);
    assert.ok(compareVersions("2.9.10", "2.10.0") < 0);
    assert.ok(compareVersions("2.10.0-RC.1", "2.10.0") < 0);
});

test("a single JetStream server starts, serves requests and is cleaned up", async (t) => {
    for (const binary of findNatsServers()) {
        await t.test(`nats-server ${binary.version}`, () => roundTrip(binary));
    }
});

async function roundTrip(binary: NatsServerBinary): Promise<void> {
    let dir = "";
    let server: NatsServerHandle | undefined;

    await withCleanup(async (cleanup) => {
        dir = cleanup.tempDir("nats-harness");
        const [clientPort, monitorPort] = await freePorts(2);
        const configPath = path.join(dir, "nats.conf");
        fs.writeFileSync(
            configPath,
            [
                "server_name: harness",
                `listen: 127.0.0.1:${clientPort}`,
                `http: 127.0.0.1:${monitorPort}`,
                "jetstream {",
                `  store_dir: "${path.join(dir, "js")}"`,
                "  max_memory_store: 64MB",
                "  max_file_store: 256MB",
                "}",
                "",
            ].join("\n"),
        );
        server = await startNatsServer({ binary, configPath, monitorPort, name: "harness", cleanup });
        assert.ok(server.isRunning());
        assert.ok(
            server.logs().some((l) => /Server is ready/.test(l)),
            server.logs().join("\n"),
        );
        await server.waitForLog(/Starting JetStream/, 5_000);

        const nc = await connect({ servers: `127.0.0.1:${clientPort}` });
        try {
            const sub = nc.subscribe("harness.echo");
            void (async () => {
                for await (const m of sub) {
                    m.respond(`echo:${m.string()}`);
                }
            })();
            const reply = await nc.request("harness.echo", "ping", { timeout: 5_000 });
            assert.equal(reply.string(), "echo:ping");

            const jsz = await waitFor(
                async () => {
                    const res = await fetch(`${server!.monitorUrl}/jsz`);
                    return res.ok ? ((await res.json()) as { config?: { store_dir?: string } }) : undefined;
                },
                { timeoutMs: 5_000, what: "/jsz" },
            );
            assert.equal(jsz.config?.store_dir, path.join(dir, "js", "jetstream"));
        } finally {
            await nc.close();
        }
    });

    assert.ok(server);
    assert.equal(server.isRunning(), false, "cleanup stopped the server");
    // A graceful SIGTERM shutdown exits 1 before nats-server 2.11 and 0 after.
    assert.ok([0, 1].includes((await server.exited()) as number));
    assert.ok(
        server.logs().some((l) => /Server Exiting/.test(l)),
        "shut down gracefully, not killed",
    );
    assert.throws(() => process.kill(server!.pid, 0), /ESRCH/);
    assert.equal(fs.existsSync(dir), false, "temp dir removed");
}

test("startup failure reports the server's own log lines", async (t) => {
    const cleanup = cleanupAfter(t);
    const dir = cleanup.tempDir("nats-harness-bad");
    const [clientPort, monitorPort] = await freePorts(2);
    // A valid config whose client port is taken: the server exits at startup.
    const blocker = net.createServer().listen(clientPort, "127.0.0.1");
    await once(blocker, "listening");
    cleanup.defer(() => new Promise((r) => blocker.close(r)));
    const configPath = path.join(dir, "nats.conf");
    fs.writeFileSync(configPath, `listen: 127.0.0.1:${clientPort}\nhttp: 127.0.0.1:${monitorPort}\n`);
    await assert.rejects(
        startNatsServer({ binary: requireNatsServer(), configPath, monitorPort, timeoutMs: 10_000, cleanup }),
        (err: Error) => /exited during startup/.test(err.message) && /address already in use/.test(err.message),
    );
});

test("findNatsServer takes $NATS_SERVER first, else the first nats-server on PATH, by its release", (t) => {
    const all = findNatsServers();
    const newest = all[all.length - 1]!;
    const dir = cleanupAfter(t).tempDir("nats-server-path");
    fs.symlinkSync(fs.realpathSync(newest.path), path.join(dir, "nats-server"));
    assert.deepEqual(findNatsServer({ PATH: [path.join(dir, "missing"), dir].join(path.delimiter) }), {
        path: path.join(dir, "nats-server"),
        version: newest.version.split("-")[0],
    });
    assert.equal(findNatsServer({ NATS_SERVER: all[0]!.path, PATH: dir })?.path, all[0]!.path);
    assert.equal(findNatsServer({ PATH: path.join(dir, "missing") }), undefined);
});

test("the hosts launcher runs its binary with the given file as /etc/hosts", { skip: privateHostsProblem() }, (t) => {
    const dir = cleanupAfter(t).tempDir("nats-server-hosts");
    const hostsPath = path.join(dir, "hosts");
    fs.writeFileSync(hostsPath, "127.0.0.1 eventbus-default-js-0.eventbus-default-js-svc.argo-events.svc\n");
    const launcher = writeHostsLauncher(dir, "cat", hostsPath);
    assert.equal(execFileSync(launcher, ["/etc/hosts"], { encoding: "utf8" }), fs.readFileSync(hostsPath, "utf8"));
    // Only inside: this process still sees the machine's own file.
    assert.notEqual(fs.readFileSync("/etc/hosts", "utf8"), fs.readFileSync(hostsPath, "utf8"));
});
