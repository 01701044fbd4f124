/**
 * `pulumi preview`, `up`, `refresh` and `destroy` with the real Pulumi CLI and Node.js language host,
 * in a project folder (Pulumi.yaml, `runtime: nodejs`, a TypeScript program) where the packed package
 * is installed as a user installs it, against a real 3-node TLS nats-server cluster: a
 * `jetstreamExotic` bus, whose stream is the only thing managed.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import type { JetStreamManager } from "@nats-io/jetstream";
import { createTestCa, issueTestCert, STREAM_TYPE } from "../support/exotic";
import { Cleanup, freePort } from "../support/nats";
import {
    changedLines,
    createProgramFolder,
    EngineTools,
    exoticTargetSkipReason,
    findEngineTools,
    markedProcesses,
    previewJson,
    PROGRAM_MARK,
    ProgramFolder,
    startExoticTarget,
    stepType,
    typescriptProject,
} from "../support/real-engine";

const NS_PER_MS = 1_000_000;

const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { EventBus } from "jetstream-eventbus";

const config = new pulumi.Config();
const bus = new EventBus("orders", {
    namespace: "shop",
    jetstreamExotic: {
        url: config.require("url"),
        username: config.require("username"),
        password: config.requireSecret("password"),
        caCert: config.require("caCert"),
        clientCert: config.get("clientCert"),
        clientKey: config.getSecret("clientKey"),
        serverName: config.require("serverName"),
        stream: { name: "orders", subjects: ["orders.>"] },
        streamConfig: config.get("streamConfig"),
        streamLifecycle: { deletionPolicy: config.get("deletionPolicy") === "delete" ? "delete" : "retain" },
    },
});

export const url = bus.url;
export const streamName = bus.streamName;
export const password = bus.password;
`;

describe(
    "pulumi CLI in a project folder: an exotic bus on a 3-node TLS cluster",
    { skip: exoticTargetSkipReason() },
    () => {
        const cleanup = new Cleanup();
        let program: ProgramFolder;
        let jsm: JetStreamManager;
        let password: string;
        let clientKey: string;

        before(async () => {
            const target = await startExoticTarget(cleanup);
            jsm = target.jsm;
            password = target.password;
            program = await createProgramFolder(
                findEngineTools() as EngineTools,
                cleanup,
                typescriptProject("orders-bus", PROGRAM),
            );
            // A client certificate the servers do not ask for: here to prove its key is kept secret.
            const clientCa = await createTestCa("orders clients");
            const client = await issueTestCert(clientCa, { commonName: "orders-deployer", usage: "client" });
            clientKey = client.keyPem;
            await program.pulumiOk(["stack", "init", "dev"]);
            const set = (key: string, value: string, secret = false) =>
                program.pulumiOk(["config", "set", ...(secret ? ["--secret"] : []), key, "--", value]);
            await set("url", target.url);
            await set("username", target.username);
            await set("password", password, true);
            await set("caCert", target.caCert);
            await set("serverName", target.serverName);
            await set("clientCert", client.certPem);
            await set("clientKey", clientKey, true);
        });
        after(() => cleanup.run());

        it("previews without opening a connection: a server that cannot be reached previews fine", async () => {
            // A listener that counts and drops every connection: a preview must not dial it.
            let connections = 0;
            const listener = net.createServer((socket) => {
                connections++;
                socket.destroy();
            });
            await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
            cleanup.defer(() => new Promise((resolve) => listener.close(resolve)));
            const port = (listener.address() as net.AddressInfo).port;
            const closedPort = await freePort();
            await program.pulumiOk(["stack", "init", "offline"]);
            const offline = ["--stack", "offline"];
            await program.pulumiOk([
                "config",
                "set",
                ...offline,
                "url",
                `nats://127.0.0.1:${port},nats://127.0.0.1:${closedPort}`,
            ]);
            for (const key of ["username", "serverName"]) {
                await program.pulumiOk(["config", "set", ...offline, key, "x"]);
            }
            await program.pulumiOk(["config", "set", ...offline, "--secret", "password", "x"]);
            await program.pulumiOk([
                "config",
                "set",
                ...offline,
                "caCert",
                "--",
                (await createTestCa("unused")).certPem,
            ]);

            const preview = previewJson(await program.pulumiOk(["preview", "--json", ...offline]));
            assert.deepEqual(
                preview.steps.map((s) => `${s.op} ${stepType(s)}`),
                ["create pulumi:pulumi:Stack", "create jetstream-eventbus:index:EventBus", `create ${STREAM_TYPE}`],
            );
            assert.equal(connections, 0, "the preview connected to the server");
            await program.pulumiOk(["stack", "rm", "--yes", "offline"]);
        });

        it("creates the stream on `pulumi up`, then previews with no changes", async () => {
            const first = previewJson(await program.pulumiOk(["preview", "--json", "--stack", "dev"]));
            assert.deepEqual(first.changeSummary, { create: 3 });
            await program.pulumiOk(["up", "--yes", "--skip-preview", "--stack", "dev"]);

            const info = await jsm.streams.info("orders");
            assert.deepEqual(info.config.subjects, ["orders.>"]);
            assert.equal(info.config.num_replicas, 3);
            assert.equal(info.config.max_age, 168 * 3600 * 1000 * NS_PER_MS, "Argo's default maxAge, 168h");
            assert.equal(info.config.max_msgs, 50_000);

            const outputs = JSON.parse(
                (await program.pulumiOk(["stack", "output", "--json", "--show-secrets", "--stack", "dev"])).stdout,
            );
            assert.equal(outputs.streamName, "orders");
            assert.equal(outputs.password, password);

            const again = await program.pulumi(["preview", "--json", "--expect-no-changes", "--stack", "dev"]);
            assert.equal(again.code, 0, again.stdout + again.stderr);
            assert.deepEqual(previewJson(again).changeSummary, { same: 3 });
        });

        it("upgrades from 0.1.0 without a change: its state previews, refreshes and updates clean, and then a change shows only its field", async () => {
            // Today's state, then the same stack as 0.1.0 wrote it: the Stream's configuration, lifecycle
            // and serialized provider from a real 0.1.0 export of this program; the connection (this run's
            // servers and password, encrypted) kept.
            const today = (await program.pulumiOk(["stack", "export", "--stack", "dev"])).stdout;
            const fixture = JSON.parse(
                fs.readFileSync(path.join(__dirname, "../../../tests/fixtures/stream-state-0.1.0.json"), "utf8"),
            );
            const state = JSON.parse(today);
            const stream = state.deployment.resources.find((r: { type: string }) => r.type === STREAM_TYPE);
            for (const side of ["inputs", "outputs"] as const) {
                const { config: _config, createTimeout: _timeout, __provider: _provider, ...kept } = stream[side];
                stream[side] = { ...kept, ...fixture[side], connection: stream[side].connection };
            }
            const oldStateFile = path.join(program.dir, "state-0.1.0.json");
            fs.writeFileSync(oldStateFile, JSON.stringify(state));
            await program.pulumiOk(["stack", "import", "--stack", "dev", "--file", oldStateFile]);
            try {
                const preview = await program.pulumi(["preview", "--json", "--expect-no-changes", "--stack", "dev"]);
                assert.equal(preview.code, 0, preview.stdout + preview.stderr);
                assert.deepEqual(previewJson(preview).changeSummary, { same: 3 });
                const refresh = await program.pulumi(["refresh", "--yes", "--expect-no-changes", "--stack", "dev"]);
                assert.equal(refresh.code, 0, refresh.stdout + refresh.stderr);

                // A `pulumi up` with nothing to do records today's inputs (the engine keeps the inputs of an
                // unchanged resource from the program), so the next change shows only its own field.
                const up = await program.pulumi(["up", "--yes", "--expect-no-changes", "--stack", "dev"]);
                assert.equal(up.code, 0, up.stdout + up.stderr);
                await program.pulumiOk(["config", "set", "--stack", "dev", "streamConfig", "maxAge: 24h"]);
                const text = (await program.pulumiOk(["preview", "--diff", "--stack", "dev"])).stdout;
                assert.deepEqual(
                    changedLines(text),
                    [`~ ${STREAM_TYPE}: (update)`, "~ config: {", '~ maxAge: "168h" => "24h"'],
                    text,
                );
            } finally {
                await program.pulumiOk(["config", "rm", "--stack", "dev", "streamConfig"]);
                fs.writeFileSync(oldStateFile, today);
                await program.pulumiOk(["stack", "import", "--stack", "dev", "--file", oldStateFile]);
            }
        });

        it("previews a streamConfig change as one in-place update of that field, and applies it", async () => {
            await program.pulumiOk(["config", "set", "--stack", "dev", "streamConfig", "maxAge: 24h"]);
            const preview = previewJson(await program.pulumiOk(["preview", "--json", "--stack", "dev"]));
            const changed = preview.steps.filter((s) => s.op !== "same");
            assert.deepEqual(
                changed.map((s) => `${s.op} ${stepType(s)}`),
                [`update ${STREAM_TYPE}`],
            );
            const text = (await program.pulumiOk(["preview", "--diff", "--stack", "dev"])).stdout;
            // In the units the user wrote, not milliseconds.
            assert.deepEqual(
                changedLines(text),
                [`~ ${STREAM_TYPE}: (update)`, "~ config: {", '~ maxAge: "168h" => "24h"'],
                text,
            );

            await program.pulumiOk(["up", "--yes", "--skip-preview", "--stack", "dev"]);
            assert.equal((await jsm.streams.info("orders")).config.max_age, 24 * 3600 * 1000 * NS_PER_MS);
        });

        it("finds drift made outside Pulumi on `pulumi refresh`, and `up` undoes it", async () => {
            const current = (await jsm.streams.info("orders")).config;
            await jsm.streams.update("orders", { ...current, max_msgs: 1234 });
            await program.pulumiOk(["refresh", "--yes", "--stack", "dev"]);
            const state = JSON.parse((await program.pulumiOk(["stack", "export", "--stack", "dev"])).stdout);
            const stream = state.deployment.resources.find((r: { type: string }) => r.type === STREAM_TYPE);
            assert.equal(stream.outputs.config.maxMsgs, 1234, "refresh records the server's value");

            const preview = previewJson(await program.pulumiOk(["preview", "--json", "--stack", "dev"]));
            const changed = preview.steps.filter((s) => s.op !== "same");
            assert.deepEqual(
                changed.map((s) => `${s.op} ${stepType(s)}`),
                [`update ${STREAM_TYPE}`],
            );
            const text = (await program.pulumiOk(["preview", "--diff", "--stack", "dev"])).stdout;
            assert.deepEqual(
                changedLines(text),
                [`~ ${STREAM_TYPE}: (update)`, "~ config: {", "~ maxMsgs: 1234 => 50000"],
                text,
            );
            await program.pulumiOk(["up", "--yes", "--skip-preview", "--stack", "dev"]);
            assert.equal((await jsm.streams.info("orders")).config.max_msgs, 50_000);
        });

        it("keeps no password or key in clear text in state, and a small serialized provider", () => {
            const files = program.stateFiles();
            assert.ok(
                files.some((f) => f.text.includes(STREAM_TYPE)),
                "the state was written",
            );
            for (const { file, text } of files) {
                assert.ok(!text.includes(password), `${file} holds the password`);
                assert.ok(!text.includes(clientKey.split("\n")[1]), `${file} holds the client key`);
                assert.ok(!/PRIVATE KEY/.test(text), `${file} holds a private key`);
            }
            const latest = JSON.parse(files.find((f) => f.file.endsWith("/stacks/orders-bus/dev.json"))!.text);
            const stream = latest.checkpoint.latest.resources.find((r: { type: string }) => r.type === STREAM_TYPE);
            assert.ok(
                stream.inputs.__provider.length < 16 * 1024,
                `__provider is ${stream.inputs.__provider.length} bytes`,
            );
            assert.equal(stream.outputs.connection.ciphertext !== undefined, true, "the connection is encrypted");
        });

        it("keeps the stream on destroy by default, and deletes it with deletionPolicy delete", async () => {
            await program.pulumiOk(["destroy", "--yes", "--skip-preview", "--stack", "dev"]);
            assert.equal((await jsm.streams.info("orders")).config.name, "orders", "the stream and its messages stay");

            await program.pulumiOk(["config", "set", "--stack", "dev", "deletionPolicy", "delete"]);
            await program.pulumiOk(["up", "--yes", "--skip-preview", "--stack", "dev"]);
            await program.pulumiOk(["destroy", "--yes", "--skip-preview", "--stack", "dev"]);
            await assert.rejects(jsm.streams.info("orders"), /stream not found/);
        });

        it("a server that never answers: `pulumi up` says what it waits on, and a run stopped at its limit leaves no plugin behind", async () => {
            // Accepts connections and says nothing, as a server behind a broken route would.
            const silent = net.createServer(() => undefined);
            await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
            cleanup.defer(() => new Promise((resolve) => silent.close(resolve)));
            const port = (silent.address() as net.AddressInfo).port;
            const stack = ["--stack", "silent"];
            await program.pulumiOk(["stack", "init", "silent"]);
            for (const key of ["username", "caCert", "serverName"]) {
                const value = await program.pulumiOk(["config", "get", "--stack", "dev", key]);
                await program.pulumiOk(["config", "set", ...stack, key, "--", value.stdout.trim()]);
            }
            await program.pulumiOk(["config", "set", ...stack, "--secret", "password", "--", password]);
            await program.pulumiOk(["config", "set", ...stack, "url", `nats://127.0.0.1:${port}`]);

            // Well inside the stream's 5-minute create timeout: the test's limit stops the CLI.
            const result = await program.pulumi(["up", "--yes", "--skip-preview", ...stack], { timeoutMs: 40_000 });

            assert.match(result.stderr, /timed out after 40000 ms/);
            assert.match(
                result.stdout,
                new RegExp(
                    `creating stream "orders": waiting \\(attempt 1, \\d+s of 5m\\) through nats://127\\.0\\.0\\.1:${port}: \\S`,
                ),
            );
            assert.ok(!result.stdout.includes(password), "no password in what pulumi up printed");
            assert.deepEqual(markedProcesses(program.env[PROGRAM_MARK]!), [], "plugins left running");
        });
    },
);
