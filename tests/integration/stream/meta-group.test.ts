/**
 * A stream created on a cluster with a server left out of its JetStream meta group, the state a fresh
 * nats-server 2.10 cluster can start in (see components/stream/meta-group.ts): before, the provider
 * retried "no suitable peers" silently until its timeout. Now it says what it waits on, finds the
 * server left out through the pods' monitoring ports, evicts that pod, and creates the stream once the
 * server is back; where it may not evict, it stops at once and says which pod to restart.
 *
 * The cluster is real (3 TLS servers) and the stream's placement really fails: server 0 is stopped,
 * as the left-out server is absent from placement. The defect itself comes at random (1 fresh
 * 2.10.29 cluster in 90 started on one machine), so the pods' monitoring answers that show it are a
 * double: the views the three servers gave in that state, all routed, following one leader whose group
 * holds two. The Kubernetes API is the port-forward double, with evictions; an eviction restarts
 * server 0.
 */
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import * as net from "node:net";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { createStream, StreamProps } from "../../../components/stream/provider-impl";
import { connectClient, privateHostsProblem, fakePodsOf, LocalCluster, startCluster } from "../../support/cluster";
import { FakeKubeApi, FakePod, startFakeKubeApi } from "../../support/kube-api";
import { Cleanup, findNatsServers } from "../../support/nats";
import { versionEntryFor } from "../../support/local-layout";

const supported = findNatsServers().filter((s) => versionEntryFor(s.version));
// The release with the defect where it was built; the provider's behaviour does not depend on it.
const server = supported.find((s) => s.version.startsWith("2.10.")) ?? supported.at(-1);
const cannotRun = server ? privateHostsProblem() : "no nats-server available";

/** Monitoring answers of the three servers: the left-out state, or a healthy group of three once healed. */
function monitoringView(names: string[], index: number, healed: boolean): Record<string, unknown> {
    const leader = names[2];
    const members = healed ? names : [names[2], names[1]];
    return {
        "/varz": { server_name: names[index] },
        "/routez": { routes: names.filter((_, i) => i !== index).map((name) => ({ remote_name: name })) },
        "/jsz": {
            meta_cluster:
                names[index] === leader
                    ? {
                          leader,
                          cluster_size: members.length,
                          replicas: members.filter((m) => m !== leader).map((name) => ({ name })),
                      }
                    : { leader, cluster_size: members.length },
        },
    };
}

describe("a stream on a cluster with a server left out of the meta group", { skip: cannotRun }, () => {
    const cleanup = new Cleanup();
    let cluster: LocalCluster;
    let names: string[];
    let healed = false;
    const monitors: number[] = [];

    /** The pods: pod 0's client port reaches server 1 while server 0 is down, as any server answers for the cluster. */
    function pods(): FakePod[] {
        return fakePodsOf(cluster).map((pod, i) => ({
            ...pod,
            ports: {
                4222: { host: "127.0.0.1", port: cluster.ports[i === 0 && !healed ? 1 : i].client },
                8222: { host: "127.0.0.1", port: monitors[i] },
            },
        }));
    }

    function props(api: FakeKubeApi): StreamProps {
        const inputs = cluster.rendered.resources.find(
            (r) => r.type === "pulumi-nodejs:dynamic/jetstream:Stream",
        )!.inputs;
        return {
            config: inputs.config,
            serverVersion: server!.version,
            connection: {
                ...inputs.connection,
                mode: "portForward",
                kubernetes: { ...inputs.connection.kubernetes, kubeconfig: api.kubeconfig },
            },
            deletionPolicy: "retain",
            allowDataLoss: false,
            createTimeout: "3m",
        };
    }

    async function streamReplicas(): Promise<number | undefined> {
        const nc = await connectClient(cluster);
        try {
            const info = await (await jetstreamManager(nc)).streams.info("default").catch(() => undefined);
            return info?.config.num_replicas;
        } finally {
            await nc.close();
        }
    }

    before(async () => {
        cluster = await startCluster(server!, cleanup, { replicas: 3 });
        names = cluster.ports.map((_, i) => `eventbus-default-js-${i}`);
        for (let i = 0; i < 3; i++) {
            const monitor = http.createServer((req, res) => {
                const body = monitoringView(names, i, healed)[new URL(req.url ?? "/", "http://x").pathname];
                res.writeHead(body ? 200 : 404, { "Content-Type": "application/json" });
                res.end(JSON.stringify(body ?? {}));
            });
            await new Promise<void>((resolve) => monitor.listen(0, "127.0.0.1", resolve));
            monitors.push((monitor.address() as net.AddressInfo).port);
            cleanup.defer(() => new Promise((resolve) => monitor.close(resolve)));
        }
    });
    after(() => cleanup.run());

    /** Server 0 stopped: the cluster places no R3 stream, and the monitoring answers show it left out. */
    async function leaveServerZeroOut(): Promise<void> {
        healed = false;
        await cluster.servers[0].stop("SIGTERM", 30_000);
        // The placement fails as in the defect: "no suitable peers for placement".
        const nc = await connect({ servers: [cluster.urls[1]], ...(await credentials()) });
        try {
            const jsm = await jetstreamManager(nc);
            await assert.rejects(
                jsm.streams.add({ name: "probe", subjects: ["probe.>"], num_replicas: 3 }),
                (err: any) => err.code === 10005 || /no suitable peers/i.test(String(err.message)),
            );
        } finally {
            await nc.close();
        }
    }

    async function credentials(): Promise<Record<string, unknown>> {
        const input = cluster.rendered.resources.find((r) => r.type === "pulumi-nodejs:dynamic/jetstream:Stream")!
            .inputs.connection;
        return {
            user: input.username,
            pass: input.password,
            tls: { ca: input.caCert, servername: cluster.serviceHost },
            reconnect: false,
        };
    }

    afterEach(async () => {
        if (!healed) {
            healed = true;
            await cluster.restart(0, server!);
        }
    });

    it("reports what it waits on, evicts the pod left out once, and creates the stream when its server is back", async () => {
        await leaveServerZeroOut();
        const lines: string[] = [];
        const api: FakeKubeApi = await startFakeKubeApi({
            pods: pods(),
            onEviction: (pod) => {
                // The StatefulSet starts the pod again on its volume: server 0 comes back and joins.
                void cluster.restart(0, server!).then(() => {
                    healed = true;
                    api.setPods(pods());
                    api.setReady(pod.name, true);
                });
            },
        });
        cleanup.defer(() => api.close());

        const { outs } = await createStream(props(api), (line) => lines.push(line));

        assert.equal(outs.config.replicas, 3);
        assert.equal(await streamReplicas(), 3);
        assert.deepEqual(api.evictions(), ["argo-events/eventbus-default-js-0"]);
        const text = lines.join("\n");
        assert.match(
            text,
            /^creating stream "default": waiting \(attempt 1, \d+s of 3m\) through a port-forward to pod eventbus-default-js-\d in namespace argo-events: .*no suitable peers/m,
        );
        assert.match(
            text,
            /^creating stream "default": server eventbus-default-js-0 \(pod eventbus-default-js-0\) is routed to every server but not in the JetStream meta group of leader eventbus-default-js-2 \(2 of 3 servers\)/m,
        );
        assert.match(
            text,
            /^creating stream "default": evicted pod eventbus-default-js-0 in namespace argo-events so that its server restarts/m,
        );
        // Progress names pods and addresses, never a credential.
        const password = String((await credentials()).pass);
        assert.ok(!text.includes(password));
    });

    it("where RBAC refuses the eviction, stops at once naming the pod to restart and the permission, and creates nothing", async () => {
        const nc = await connect({ servers: cluster.urls, ...(await credentials()) });
        await (await jetstreamManager(nc)).streams.delete("default").catch(() => undefined);
        await nc.close();
        await leaveServerZeroOut();
        const api = await startFakeKubeApi({ pods: pods(), forbidEviction: true });
        cleanup.defer(() => api.close());
        const lines: string[] = [];

        await assert.rejects(
            createStream(props(api), (line) => lines.push(line)),
            (err: Error) => {
                assert.match(
                    err.message,
                    /^creating stream "default" through a port-forward to pod eventbus-default-js-\d in namespace argo-events failed after \d+ attempts over \d+s: server eventbus-default-js-0 \(pod eventbus-default-js-0\) is routed to every server but not in the JetStream meta group.*Restart it \(kubectl delete pod -n argo-events eventbus-default-js-0\) and run pulumi up again; .*refused to evict pod eventbus-default-js-0.*"create" on "pods\/eviction"/,
                );
                // Not the timeout: the refusal ended the wait.
                assert.doesNotMatch(err.message, /over 3m/);
                return true;
            },
        );
        assert.deepEqual(api.evictions(), []);
        assert.equal(await streamReplicas(), undefined);
    });
});
