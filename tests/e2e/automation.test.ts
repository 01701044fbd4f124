/**
 * The Automation API, as a platform team scripts it: an inline program (no Pulumi.yaml, no language
 * host) that creates an exotic bus, driven through preview, up, refresh and destroy by a Node.js
 * script in a folder where the packed package is installed, against a real 3-node TLS cluster.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { JetStreamManager } from "@nats-io/jetstream";
import { Cleanup } from "../support/nats";
import {
    CLI_TIMEOUT_MS,
    createProgramFolder,
    EngineTools,
    exoticTargetSkipReason,
    findEngineTools,
    ProgramFolder,
    run,
    startExoticTarget,
} from "../support/real-engine";

const NS_PER_MS = 1_000_000;

/**
 * `node deploy.js <preview|up|refresh|destroy> <config JSON>`: one operation on stack `platform`,
 * printed as JSON. The workspace is the script's folder, where the package is installed: the engine
 * starts the stream's dynamic provider there.
 */
const SCRIPT = `const pulumi = require("@pulumi/pulumi");
const { LocalWorkspace } = require("@pulumi/pulumi/automation");
const { EventBus } = require("jetstream-eventbus");

async function program() {
    const config = new pulumi.Config();
    const bus = new EventBus("payments", {
        namespace: "platform",
        jetstreamExotic: {
            url: config.require("url"),
            username: config.require("username"),
            password: config.requireSecret("password"),
            caCert: config.require("caCert"),
            serverName: config.require("serverName"),
            stream: { name: "payments", subjects: ["payments.>"] },
            streamConfig: config.get("streamConfig"),
            streamLifecycle: { deletionPolicy: "delete" },
        },
    });
    return { url: bus.url, streamName: bus.streamName };
}

async function main() {
    const [operation, configJson] = process.argv.slice(2);
    const stack = await LocalWorkspace.createOrSelectStack(
        { projectName: "payments-platform", stackName: "platform", program },
        { workDir: __dirname },
    );
    const config = JSON.parse(configJson);
    for (const [key, { value, secret }] of Object.entries(config)) {
        await stack.setConfig(key, { value, secret });
    }
    if (config.streamConfig === undefined) {
        await stack.removeConfig("streamConfig").catch(() => undefined);
    }
    let result;
    switch (operation) {
        case "preview": {
            const preview = await stack.preview({ diff: true });
            result = { changeSummary: preview.changeSummary, stdout: preview.stdout };
            break;
        }
        case "up": {
            const up = await stack.up();
            result = { summary: up.summary.resourceChanges, outputs: Object.fromEntries(Object.entries(up.outputs).map(([k, v]) => [k, v.value])) };
            break;
        }
        case "refresh": {
            const refresh = await stack.refresh();
            result = { summary: refresh.summary.resourceChanges };
            break;
        }
        case "destroy": {
            const destroy = await stack.destroy();
            result = { summary: destroy.summary.resourceChanges };
            break;
        }
        default:
            throw new Error("unknown operation " + operation);
    }
    console.log(JSON.stringify(result));
}

main().catch((err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exit(1);
});
`;

describe(
    "Automation API: an inline program's exotic bus on a 3-node TLS cluster",
    { skip: exoticTargetSkipReason() },
    () => {
        const cleanup = new Cleanup();
        let program: ProgramFolder;
        let jsm: JetStreamManager;
        let config: Record<string, { value: string; secret?: boolean }>;

        /** Runs one operation of the script and returns what it printed. */
        async function deploy(operation: string, extra: Record<string, { value: string }> = {}): Promise<any> {
            const result = await run(
                process.execPath,
                ["deploy.js", operation, JSON.stringify({ ...config, ...extra })],
                { cwd: program.dir, env: program.env, timeoutMs: CLI_TIMEOUT_MS },
            );
            assert.equal(result.code, 0, `deploy.js ${operation} failed\n${result.stdout}\n${result.stderr}`);
            return JSON.parse(result.stdout.trim().split("\n").pop()!);
        }

        before(async () => {
            const target = await startExoticTarget(cleanup);
            jsm = target.jsm;
            program = await createProgramFolder(findEngineTools() as EngineTools, cleanup, { "deploy.js": SCRIPT });
            config = {
                url: { value: target.url },
                username: { value: target.username },
                password: { value: target.password, secret: true },
                caCert: { value: target.caCert },
                serverName: { value: target.serverName },
            };
        });
        after(() => cleanup.run());

        it("previews, creates the stream, and previews and refreshes again with no changes", async () => {
            assert.deepEqual((await deploy("preview")).changeSummary, { create: 3 });
            const up = await deploy("up");
            assert.deepEqual(up.summary, { create: 3 });
            assert.equal(up.outputs.streamName, "payments");
            const info = await jsm.streams.info("payments");
            assert.deepEqual(info.config.subjects, ["payments.>"]);
            assert.equal(info.config.max_age, 168 * 3600 * 1000 * NS_PER_MS);
            assert.deepEqual((await deploy("preview")).changeSummary, { same: 3 });
            assert.deepEqual(
                (await deploy("refresh")).summary,
                { same: 3 },
                "a refresh of an unchanged stream finds nothing",
            );
            assert.deepEqual((await deploy("preview")).changeSummary, { same: 3 });
        });

        it("updates the stream in place when streamConfig changes", async () => {
            const preview = await deploy("preview", { streamConfig: { value: "maxBytes: 1GiB" } });
            assert.deepEqual(preview.changeSummary, { same: 2, update: 1 });
            // As written, not in bytes.
            assert.match(preview.stdout, /~ maxBytes\s*: "unlimited" => "1GiB"/);
            assert.deepEqual((await deploy("up", { streamConfig: { value: "maxBytes: 1GiB" } })).summary, {
                same: 2,
                update: 1,
            });
            assert.equal((await jsm.streams.info("payments")).config.max_bytes, 1024 ** 3);
        });

        it("records drift on refresh and deletes the stream on destroy (deletionPolicy delete)", async () => {
            const current = (await jsm.streams.info("payments")).config;
            await jsm.streams.update("payments", { ...current, max_msgs: 99 });
            assert.deepEqual((await deploy("refresh", { streamConfig: { value: "maxBytes: 1GiB" } })).summary, {
                same: 2,
                update: 1,
            });
            const preview = await deploy("preview", { streamConfig: { value: "maxBytes: 1GiB" } });
            assert.match(preview.stdout, /~ maxMsgs\s*: 99 => 50000/);
            assert.deepEqual((await deploy("destroy")).summary, { delete: 3 });
            await assert.rejects(jsm.streams.info("payments"), /stream not found/);
        });
    },
);
