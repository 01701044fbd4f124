/**
 * A 5-replica bus on simulated pods (one network namespace each, see harness.ts), on the oldest
 * nats-server installed: the cluster forms over verified TLS routes and a `kill -9` of the stream
 * leader is survived under load.
 */
import { after, before, describe, it } from "node:test";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { StreamOutputs } from "../../components/stream/provider-impl";
import { Cleanup } from "../support/nats";
import { SimCluster } from "./harness";
import { assertClusterFormed, killNineUnderLoad, startSimBus } from "./scenarios";
import { OLDEST, SKIP } from "./common";

describe(`5 simulated pods, nats-server ${OLDEST?.version ?? "(none)"}`, { skip: SKIP }, () => {
    const cleanup = new Cleanup();
    let cluster: SimCluster;
    let nc: NatsConnection;
    let jsm: JetStreamManager;
    let stream: StreamOutputs;

    before(async () => {
        ({ cluster, stream, nc, jsm } = await startSimBus(5, OLDEST!, cleanup));
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
