/**
 * A bus's stream across a nats-server upgrade from 2.9 to a release that can lose an encrypted
 * stream's key (nats-server PR #7678; 2.10.29 here), on a single TLS server started from the
 * rendered configuration, encryption at rest included as every bus has it. The server is restarted
 * on the new release with the same store, keys and ports, as a pod on a new image.
 *
 * The first test shows the defect the provider works around: without a stream update the stream is
 * gone after the second restart on the new release. The others show that the provider's update for
 * the new release, and its adoption of an existing stream, keep the stream and every message.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, JetStreamManager } from "@nats-io/jetstream";
import { losesEncryptedStreamKey } from "../../../components/stream/rules";
import { createStream, StreamOutputs, updateStream } from "../../../components/stream/provider-impl";
import {
    privateHostsProblem,
    connectClient,
    LocalCluster,
    startCluster,
    streamPropsFor,
    watchStreamWrites,
} from "../../support/cluster";
import { Cleanup, liveSuiteServers } from "../../support/nats";

const servers = liveSuiteServers();
const FROM = servers.find((s) => s.version.startsWith("2.9."));
const TO = servers.find((s) => losesEncryptedStreamKey(s.version));
const SKIP =
    privateHostsProblem() ??
    (FROM ? undefined : "no nats-server 2.9 installed (apt-get install nats-server)") ??
    (TO
        ? undefined
        : "no nats-server 2.10.x installed (go install github.com/nats-io/nats-server/v2@v2.10.29 into ~/.cache/jetstream-eventbus/nats/v2.10.29/)");
if (SKIP) console.log(`# stream upgrade tests skipped: ${SKIP}`);

const MESSAGES = 200;

/** Runs `fn` with a client of our own that verifies the server, closed afterwards. */
async function withClient<T>(
    cluster: LocalCluster,
    fn: (nc: NatsConnection, jsm: JetStreamManager) => Promise<T>,
): Promise<T> {
    const nc = await connectClient(cluster);
    try {
        return await fn(nc, await jetstreamManager(nc, { timeout: 20_000 }));
    } finally {
        await nc.close();
    }
}

async function publish(cluster: LocalCluster, count: number, tag = "before"): Promise<void> {
    await withClient(cluster, async (nc) => {
        const js = jetstream(nc);
        for (let i = 0; i < count; i++)
            await js.publish(`default.upgrade.e${i % 10}`, `m${i}`, { msgID: `${tag}-${i}`, retries: 8 });
    });
}

/** The stream's message count, or undefined when the server does not have the stream. */
async function messagesOnServer(cluster: LocalCluster): Promise<number | undefined> {
    return withClient(cluster, async (_nc, jsm) => {
        try {
            return (await jsm.streams.info("default")).state.messages;
        } catch (err) {
            if ((err as { code?: number }).code === 10059 || (err as Error).name === "StreamNotFoundError")
                return undefined;
            throw err;
        }
    });
}

/** Counts the JetStream API requests that change streams while `fn` runs. */
async function writesDuring(cluster: LocalCluster, fn: () => Promise<unknown>): Promise<string[]> {
    return withClient(cluster, async (nc) => {
        const watch = await watchStreamWrites(nc);
        await fn();
        await nc.flush();
        watch.stop();
        return watch.writes();
    });
}

const decryptFailures = (cluster: LocalCluster) =>
    cluster.servers[0].logs().filter((l) => /Error decrypting our stream metafile/.test(l));

describe(
    `stream across an upgrade nats-server ${FROM?.version ?? "2.9"} -> ${TO?.version ?? "2.10"}, single TLS server with encryption at rest`,
    { skip: SKIP },
    () => {
        const cleanup = new Cleanup();
        after(() => cleanup.run());

        /** A 1-replica bus on the old release with the stream created by the provider and messages in it. */
        async function busOnOldRelease(): Promise<{ cluster: LocalCluster; outs: StreamOutputs }> {
            const cluster = await startCluster(FROM!, cleanup, { replicas: 1 });
            const { outs } = await createStream(streamPropsFor(cluster, FROM!.version));
            await publish(cluster, MESSAGES);
            return { cluster, outs };
        }

        it("without a stream update the server drops the stream at its second start on the new release (the upstream defect)", async () => {
            const { cluster } = await busOnOldRelease();
            await cluster.restart(0, TO!);
            assert.equal(
                await messagesOnServer(cluster),
                MESSAGES,
                "the first start on the new release recovers the stream",
            );
            await cluster.restart(0, TO!);
            const left = await messagesOnServer(cluster);
            console.log(
                `# ${FROM!.version} -> ${TO!.version}, no update, second restart: stream ${left === undefined ? "gone" : `kept with ${left} messages`}; ${decryptFailures(cluster)[0]?.replace(/^.*\[WRN\]\s*/, "") ?? "no decrypt error"}`,
            );
            assert.equal(
                left,
                undefined,
                `nats-server ${TO!.version} kept the stream: the defect of nats-server PR #7678 is fixed there, so losesEncryptedStreamKey should not list it`,
            );
            assert.equal(decryptFailures(cluster).length, 1);
            // What a pod's startup probe sees: the full /healthz fails, so the pod never becomes Ready.
            const health = await (await fetch(`http://127.0.0.1:${cluster.ports[0].monitor}/healthz`)).json();
            console.log(`# /healthz: ${JSON.stringify(health)}`);
        });

        it("the provider's update for the new release writes the unchanged configuration once, and the stream and its messages survive every later restart", async () => {
            const { cluster, outs } = await busOnOldRelease();
            await cluster.restart(0, TO!);
            const writes = await writesDuring(cluster, () => updateStream(outs, streamPropsFor(cluster, TO!.version)));
            assert.deepEqual(writes, ["$JS.API.STREAM.UPDATE.default"]);
            for (let restart = 1; restart <= 2; restart++) {
                await cluster.restart(0, TO!);
                assert.equal(
                    await messagesOnServer(cluster),
                    MESSAGES,
                    `messages after restart ${restart} on ${TO!.version}`,
                );
            }
            assert.deepEqual(decryptFailures(cluster), []);
            await publish(cluster, 1, "after");
            assert.equal(await messagesOnServer(cluster), MESSAGES + 1);
        });

        it("adopting a stream that a 2.9 server wrote, after the upgrade, keeps it across restarts", async () => {
            const { cluster } = await busOnOldRelease();
            await cluster.restart(0, TO!);
            // The resource's state is gone (a new stack, or an import): create finds the stream and adopts it.
            const writes = await writesDuring(cluster, () => createStream(streamPropsFor(cluster, TO!.version)));
            assert.deepEqual(writes, ["$JS.API.STREAM.UPDATE.default"]);
            await cluster.restart(0, TO!);
            assert.equal(await messagesOnServer(cluster), MESSAGES);
            assert.deepEqual(decryptFailures(cluster), []);
        });
    },
);
