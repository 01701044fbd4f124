/**
 * A 5-replica bus on simulated pods (one network namespace each, see harness.ts), on the oldest
 * nats-server installed: the cluster forms over verified TLS routes and a `kill -9` of the stream
 * leader is survived under load.
 */
import { after, before, describe, it } from "node:test";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { createStream, type StreamOutputs } from "../../components/stream/provider-impl";
import { Cleanup } from "../support/nats";
import { secs, SimCluster } from "./harness";
import { assertClusterFormed, killNineUnderLoad } from "./scenarios";
import { OLDEST, SKIP } from "./common";

describe(`5 simulated pods, nats-server ${OLDEST?.version ?? "(none)"}`, { skip: SKIP }, () => {
    const cleanup = new Cleanup();
    let cluster: SimCluster;
    let nc: NatsConnection;
    let jsm: JetStreamManager;
    let stream: StreamOutputs;

    before(async () => {
        const t0 = Date.now();
        cluster = await SimCluster.start({ replicas: 5, binary: OLDEST! }, cleanup);
        console.log(`# 5 pods (bus version ${cluster.spec.version.version}) on ${cluster.lab.subnet}.0/24 started and healthy in ${secs(Date.now() - t0)}`);
        stream = (await createStream(cluster.streamProps())).outs;
        nc = await cluster.connect({ reconnect: true, maxReconnectAttempts: 1_000, reconnectTimeWait: 250 });
        jsm = await jetstreamManager(nc);
    });
    after(() => cleanup.run());

    it("forms the cluster over TLS routes between the pods' addresses, verified against the route certificate", async () => {
        const leader = await assertClusterFormed(cluster);
        console.log(`# 5-pod cluster formed over TLS routes; meta leader ${leader}`);
    });

    it("survives kill -9 of the stream leader: publishing and stream updates keep working, the node rejoins and catches up", async (t) => {
        stream = await killNineUnderLoad(cluster, nc, jsm, stream, "kill5", t);
    });
});
