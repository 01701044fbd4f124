/**
 * Scenarios run on simulated clusters of several sizes and versions, each asserting what it promises
 * and printing its figures (restart, rejoin and catch-up times; messages sent/acked/found).
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { createStream, readStream, updateStream, type StreamOutputs } from "../../components/stream/provider-impl";
import {
    copiesAgree,
    describeCopies,
    publishWithRetries,
    waitCopiesEqual,
    RollReport,
    secs,
    SimCluster,
    streamCluster,
    verifyExactlyOnce,
    waitCaughtUp,
    within,
    type PublishReport,
    type StreamCopy,
} from "./harness";
import { compareVersions, waitFor, type Cleanup, type NatsServerBinary } from "../support/nats";
import { printRoll } from "./common";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Before 2.11 a clustered stream de-duplicates `Nats-Msg-Id` only on the leader, with in-flight ids
 * staged in the leader's memory; a retry that reaches a new leader before it applied the first copy
 * is stored again (fixed by "Deterministic clustered dedupe", nats-server#6415, 2.11.0).
 */
const DETERMINISTIC_DEDUPE = "2.11.0";

/**
 * The last assertion of a load scenario: nothing stored twice. When a server release without
 * deterministic de-duplication took part and a message was doubled, the test is marked TODO with
 * the reason (a known server limitation, not the package's), and still reports the failure.
 */
export function assertNotDoubled(t: TestContext | undefined, doubled: string[], versions: string[]): void {
    const old = [...new Set(versions)].filter((v) => compareVersions(v, DETERMINISTIC_DEDUPE) < 0);
    if (doubled.length > 0 && old.length > 0 && t) {
        console.log(
            `# ${doubled.length} message(s) stored twice (${doubled.slice(0, 5).join(", ")}) with nats-server ${old.join(", ")} in the cluster: de-duplication across a leader change is deterministic only from ${DETERMINISTIC_DEDUPE} (nats-server#6415)`,
        );
        t.todo(
            `nats-server ${old.join(", ")} can store a retried Nats-Msg-Id twice across a leader change (nats-server#6415, fixed in ${DETERMINISTIC_DEDUPE})`,
        );
    }
    assert.deepEqual(doubled, [], "messages stored twice");
}

/**
 * A load scenario's other known-limitation check: every server's copy of the stream holds the same
 * messages. Before 2.11 a retried message can be stored on some copies and not others (the same
 * nats-server#6415), invisible through the leader until leadership moves; the test is then marked
 * TODO with the reason and still reports the failure.
 */
export function assertCopiesAgree(t: TestContext | undefined, copies: StreamCopy[], versions: string[]): void {
    const old = [...new Set(versions)].filter((v) => compareVersions(v, DETERMINISTIC_DEDUPE) < 0);
    if (!copiesAgree(copies) && old.length > 0 && t) {
        t.todo(
            `nats-server ${old.join(", ")} can store a retried Nats-Msg-Id on some copies of the stream only (nats-server#6415, fixed in ${DETERMINISTIC_DEDUPE})`,
        );
    }
    assert.ok(copiesAgree(copies), `the servers' copies of the stream differ: ${describeCopies(copies)}`);
}

/**
 * Every pod routes to every other pod (by address on the bridge) and all agree on one meta leader,
 * within 30 s: the startup probe passes once a quorum elected a leader, the last route may follow.
 */
export async function assertClusterFormed(cluster: SimCluster): Promise<string> {
    return waitFor(() => checkClusterFormed(cluster), {
        timeoutMs: 30_000,
        intervalMs: 250,
        what: "the cluster to form",
    });
}

async function checkClusterFormed(cluster: SimCluster): Promise<string> {
    const addresses = new Map(cluster.pods.map((p) => [p.host.address, p.name]));
    const leaders = new Set<string>();
    for (const pod of cluster.pods) {
        const varz = await cluster.monitor(pod.index, "/varz");
        assert.equal(varz.cluster.tls_required, true, "route TLS required");
        assert.equal(varz.cluster.tls_verify, true, "route TLS verifies the peer");
        const routez = await cluster.monitor(pod.index, "/routez");
        // From the peers' own addresses (2.10+ pools several connections per peer, and names them).
        const remotes = [...new Set(routez.routes.map((r: any) => addresses.get(r.ip) ?? `stranger ${r.ip}`))].sort();
        assert.deepEqual(
            remotes,
            cluster.pods
                .filter((p) => p !== pod)
                .map((p) => p.name)
                .sort(),
            JSON.stringify(routez.routes),
        );
        for (const r of routez.routes) {
            if (r.remote_name) assert.equal(r.remote_name, addresses.get(r.ip));
        }
        const jsz = await cluster.monitor(pod.index, "/jsz");
        assert.equal(jsz.meta_cluster.cluster_size, cluster.pods.length);
        leaders.add(jsz.meta_cluster.leader);
    }
    assert.equal(leaders.size, 1, `meta leaders ${[...leaders].join(", ")}`);
    return [...leaders][0];
}

/**
 * `kill -9` of the stream's leader under load: the stream gets a new leader, publishing goes on, a
 * stream update through the provider succeeds while the node is down; the node restarts on its
 * store, rejoins and catches up, and every acknowledged message is in the stream exactly once.
 */
export async function killNineUnderLoad(
    cluster: SimCluster,
    nc: NatsConnection,
    jsm: JetStreamManager,
    stream: StreamOutputs,
    tag: string,
    t?: TestContext,
): Promise<StreamOutputs> {
    const name = stream.config.name;
    const before = await streamCluster(jsm, name);
    const victim = cluster.pods.find((p) => p.name === before.leader);
    assert.ok(victim, `stream leader ${before.leader}`);
    let stop = false;
    const publishing = publishWithRetries(nc, {
        total: 3_000,
        prefix: tag,
        subject: (i) => `default.${tag}.e${i % 10}`,
        ratePerSecond: 250,
        window: 16,
        maxAttempts: 40,
        attemptTimeoutMs: 3_000,
        deadlineMs: 120_000,
        stop: () => stop,
    });
    try {
        await sleep(2_000);
        const killedAt = Date.now();
        await cluster.kill9(victim.index);
        let newLeader: string | undefined;
        while (Date.now() - killedAt < 60_000) {
            newLeader = await streamCluster(jsm, name).then(
                (c) => c.leader,
                () => undefined,
            );
            if (newLeader && newLeader !== victim.name) break;
            await sleep(100);
        }
        const newLeaderMs = Date.now() - killedAt;
        assert.ok(newLeader && newLeader !== victim.name, "no new stream leader");
        // A stream update through the provider (as `pulumi up` makes it) while the node is down.
        const desired = cluster.streamProps();
        const news = { ...desired, config: { ...desired.config, maxMsgs: Number(stream.config.maxMsgs) + 10_000 } };
        const u0 = Date.now();
        const updated = (await updateStream(stream, news)).outs;
        const updateMs = Date.now() - u0;
        assert.equal(updated.config.maxMsgs, news.config.maxMsgs);
        assert.equal((await readStream(name, updated)).props?.config.maxMsgs, news.config.maxMsgs);
        await sleep(2_000);
        const restartAt = Date.now();
        const startupMs = await cluster.startPod(victim.index);
        await cluster.waitReady(victim.index);
        await waitCaughtUp(cluster, jsm, victim.index, name);
        const caughtAt = Date.now();
        const report = await publishing;
        const check = await verifyExactlyOnce(nc, name, `default.${tag}.*`, report);
        console.log(
            `# kill -9 ${victim.name} (stream leader) on ${cluster.pods.length} pods: new leader ${newLeader} after ${secs(newLeaderMs)}; provider update (maxMsgs ${news.config.maxMsgs}) with the node down took ${secs(updateMs)}`,
        );
        console.log(
            `# ${victim.name} restarted on its store: startup probe (full /healthz) after ${secs(startupMs)}, stream replica current ${secs(caughtAt - restartAt)} after restart; down ${secs(restartAt - killedAt + startupMs)} in all`,
        );
        console.log(`# kill -9 load: ${check.line}`);
        assert.deepEqual(check.missing, [], "acknowledged messages missing");
        assert.deepEqual(report.failed, [], "messages never acknowledged");
        const copies = await waitCopiesEqual(cluster, jsm, name);
        console.log(`# all ${copies.copies} copies of the stream end at sequence ${copies.lastSeq}`);
        assertNotDoubled(
            t,
            check.doubled,
            cluster.pods.map((p) => p.binary.version),
        );
        return updated;
    } finally {
        stop = true;
        await within(publishing, 60_000);
        if (!victim.handle?.isRunning()) await cluster.startPod(victim.index).catch(() => undefined);
    }
}

/**
 * A rolling update (restart, or upgrade to `to`) while a publisher sends `total` messages with
 * `Nats-Msg-Id`, retrying unacknowledged ones. Asserts every ack is in the stream exactly once, the
 * PDB held, and every pod went through lame duck within its grace period.
 */
export async function rollUnderLoad(
    cluster: SimCluster,
    nc: NatsConnection,
    options: {
        tag: string;
        title: string;
        total?: number;
        ratePerSecond?: number;
        to?: { binary: NatsServerBinary; statefulSet: any };
        beforeRoll?: () => Promise<void>;
        t?: TestContext;
    },
): Promise<{ roll: RollReport; report: PublishReport; assertExactlyOnce: () => void }> {
    const total = options.total ?? 10_000;
    const versions = cluster.pods.map((p) => p.binary.version).concat(options.to ? [options.to.binary.version] : []);
    let rolling = false;
    let ackedDuringRoll = 0;
    const publishing = publishWithRetries(nc, {
        total,
        prefix: options.tag,
        subject: (i) => `default.${options.tag}.e${i % 10}`,
        ratePerSecond: options.ratePerSecond ?? 250,
        window: 32,
        maxAttempts: 60,
        attemptTimeoutMs: 4_000,
        deadlineMs: 300_000,
        onAck: () => rolling && ackedDuringRoll++,
    });
    let roll: RollReport | undefined;
    let outcome: PublishReport | "timeout";
    try {
        await sleep(1_500);
        await options.beforeRoll?.();
        rolling = true;
        roll = await cluster.rollingUpdate(options.to);
    } finally {
        rolling = false;
        outcome = await within(publishing, 300_000);
    }
    if (outcome === "timeout") assert.fail("the publisher did not finish");
    const report = outcome;
    const check = await verifyExactlyOnce(nc, "default", `default.${options.tag}.*`, report);
    printRoll(options.title, roll);
    console.log(`# ${options.title} load: ${check.line}; ${ackedDuringRoll} acknowledged while the roll ran`);
    assert.deepEqual(check.missing, [], "acknowledged messages missing");
    assert.deepEqual(report.failed, [], "messages never acknowledged");
    assert.ok(
        roll.maxUnavailable <= roll.allowedUnavailable,
        `${roll.maxUnavailable} pods unready at once, the PDB allows ${roll.allowedUnavailable}`,
    );
    for (const step of roll.steps) {
        assert.equal(step.sigkill, false, `${step.pod} needed SIGKILL: the grace period is shorter than lame duck`);
        assert.equal(step.lameDuck, true, `${step.pod} did not go through lame duck mode`);
    }
    // Last, so a known server limitation (marked TODO) cannot hide another failure.
    const assertExactlyOnce = () => assertNotDoubled(options.t, check.doubled, versions);
    return { roll, report, assertExactlyOnce };
}

/** A started simulated cluster with the bus's stream created through the provider, and a client. */
export interface SimBus {
    cluster: SimCluster;
    stream: StreamOutputs;
    nc: NatsConnection;
    jsm: JetStreamManager;
}

/**
 * Starts `replicas` pods on `binary`, creates the stream as the EventBus's Stream resource does
 * (the real provider), and connects a client that reconnects across restarts.
 */
export async function startSimBus(replicas: number, binary: NatsServerBinary, cleanup: Cleanup): Promise<SimBus> {
    const t0 = Date.now();
    const cluster = await SimCluster.start({ replicas, binary }, cleanup);
    console.log(
        `# ${replicas} pods (bus version ${cluster.spec.version.version}) on ${cluster.lab.subnet}.0/24 started and healthy in ${secs(Date.now() - t0)}`,
    );
    const stream = (await createStream(cluster.streamProps())).outs;
    const nc = await cluster.connect({ reconnect: true, maxReconnectAttempts: 1_000, reconnectTimeWait: 250 });
    return { cluster, stream, nc, jsm: await jetstreamManager(nc) };
}
