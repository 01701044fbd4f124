/**
 * The stream created from "a laptop": through a port-forward via a Kubernetes API server (a local
 * test double speaking the real pod listing and v4.channel.k8s.io port-forward protocol, reached with
 * the real @kubernetes/client-node and a kubeconfig) to a real 3-node TLS cluster whose certificates
 * carry only in-cluster names. TLS is verified against the service name.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { resolveStreamSpec } from "../../../components/stream/model";
import { createStream, StreamProps } from "../../../components/stream/provider-impl";
import { streamProvider } from "../../../components/stream/provider";
import { privateHostsProblem, fakePodsOf, LocalCluster, startCluster } from "../../support/cluster";
import { FakeKubeApi, startFakeKubeApi } from "../../support/kube-api";
import { Cleanup, findNatsServers } from "../../support/nats";
import { versionEntryFor } from "../../support/local-layout";

const server = findNatsServers()
    .filter((s) => versionEntryFor(s.version))
    .pop();
const cannotRun = server ? privateHostsProblem() : "no nats-server available";

describe("creating the stream through a port-forward", { skip: cannotRun }, () => {
    const cleanup = new Cleanup();
    let cluster: LocalCluster;
    let api: FakeKubeApi;
    let kubeconfigPath: string;

    /** The EventBus's own Stream inputs, with the kubeconfig the test wrote. */
    function props(extra: Partial<StreamProps> = {}, connection: Record<string, unknown> = {}): StreamProps {
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
                ...connection,
            },
            deletionPolicy: "retain",
            allowDataLoss: false,
            createTimeout: "20s",
            ...extra,
        };
    }

    async function streamOnServer(): Promise<any | undefined> {
        const inputs = cluster.rendered.resources.find(
            (r) => r.type === "pulumi-nodejs:dynamic/jetstream:Stream",
        )!.inputs;
        const nc = await connect({
            servers: cluster.urls,
            user: inputs.connection.username,
            pass: inputs.connection.password,
            tls: { ca: inputs.connection.caCert, servername: cluster.serviceHost } as object,
            reconnect: false,
        });
        try {
            const jsm = await jetstreamManager(nc);
            return await jsm.streams.info("default").catch(() => undefined);
        } finally {
            await nc.close();
        }
    }

    async function deleteStreamOnServer(): Promise<void> {
        const inputs = cluster.rendered.resources.find(
            (r) => r.type === "pulumi-nodejs:dynamic/jetstream:Stream",
        )!.inputs;
        const nc = await connect({
            servers: cluster.urls,
            user: inputs.connection.username,
            pass: inputs.connection.password,
            tls: { ca: inputs.connection.caCert, servername: cluster.serviceHost } as object,
            reconnect: false,
        });
        await (await jetstreamManager(nc)).streams.delete("default").catch(() => undefined);
        await nc.close();
    }

    before(async () => {
        cluster = await startCluster(server!, cleanup, { replicas: 3 });
        api = await startFakeKubeApi({ pods: fakePodsOf(cluster) });
        cleanup.defer(() => api.close());
        kubeconfigPath = api.writeKubeconfig(cleanup.tempDir("kubeconfig"));
    });
    after(() => cleanup.run());

    it("lists the Ready pods, forwards to one, verifies TLS by the service name, and closes the tunnel", async () => {
        const { id, outs } = await createStream(props());
        assert.equal(id, "default");
        assert.equal(outs.config.replicas, 3);
        assert.equal((await streamOnServer())?.config.num_replicas, 3);
        const list = api.requests.find((r) => r.method === "GET" && r.path === "/api/v1/namespaces/argo-events/pods");
        assert.ok(list, "listed the pods");
        assert.match(
            decodeURIComponent(list.query),
            /labelSelector=controller=eventbus-controller,eventbus-name=default,owner-name=default/,
        );
        const sessions = api.portForwards();
        assert.ok(sessions.length >= 1);
        assert.ok(
            sessions.every((s) => s.port === 4222 && s.protocol === "v4.channel.k8s.io" && !s.open),
            JSON.stringify(sessions),
        );
    });

    it("reads the kubeconfig kubectl would use (KUBECONFIG) when none is given, and honours the context", async () => {
        await deleteStreamOnServer();
        const previous = process.env.KUBECONFIG;
        process.env.KUBECONFIG = kubeconfigPath;
        try {
            const base = props();
            const { kubeconfig: _, ...target } = base.connection.kubernetes!;
            await createStream({ ...base, connection: { ...base.connection, kubernetes: target } });
            assert.ok(await streamOnServer());
            await assert.rejects(
                createStream({
                    ...base,
                    createTimeout: "2s",
                    connection: { ...base.connection, kubernetes: { ...target, context: "missing" } },
                }),
                /kubeconfig has no context "missing" \(it has: fake, other\)/,
            );
        } finally {
            if (previous === undefined) delete process.env.KUBECONFIG;
            else process.env.KUBECONFIG = previous;
        }
    });

    it("fails naming the StatefulSet and namespace when no pod is Ready", async () => {
        api.setPods(fakePodsOf(cluster, { 0: { ready: false }, 1: { ready: false }, 2: { ready: false } }));
        try {
            await assert.rejects(createStream(props({ createTimeout: "2s" })), (err: Error) => {
                assert.match(
                    err.message,
                    /no Ready pod of eventbus-default-js in namespace argo-events: eventbus-default-js-0 \(Running, not ready\)/,
                );
                assert.match(err.message, /after \d+ attempts/);
                return true;
            });
        } finally {
            api.setPods(fakePodsOf(cluster));
        }
    });

    it("moves to another pod when the one it forwards to dies mid-operation", async () => {
        await deleteStreamOnServer();
        // Pod 0 accepts connections and then hangs, as a server stuck in a dying pod does.
        const hung = new Set<net.Socket>();
        const blackHole = net.createServer((socket) => hung.add(socket));
        await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", () => resolve()));
        cleanup.defer(
            () =>
                new Promise<void>((resolve) => {
                    hung.forEach((s) => s.destroy());
                    blackHole.close(() => resolve());
                }),
        );
        api.setPods(
            fakePodsOf(cluster, {
                0: { ports: { 4222: { host: "127.0.0.1", port: (blackHole.address() as net.AddressInfo).port } } },
            }),
        );
        const before = api.portForwards().length;
        const creating = createStream(props());
        // Kill pod 0 once the provider is connected through it.
        const deadline = Date.now() + 10_000;
        while (
            !api
                .portForwards()
                .slice(before)
                .some((s) => s.pod === "eventbus-default-js-0" && s.open)
        ) {
            assert.ok(Date.now() < deadline, "no port-forward to pod 0 opened");
            await new Promise((r) => setTimeout(r, 20));
        }
        api.killPod("eventbus-default-js-0");
        const { outs } = await creating;
        assert.equal(outs.config.name, "default");
        const pods = api
            .portForwards()
            .slice(before)
            .map((s) => s.pod);
        assert.equal(pods[0], "eventbus-default-js-0");
        assert.ok(
            pods.slice(1).every((p) => p !== "eventbus-default-js-0"),
            pods.join(", "),
        );
        api.setPods(fakePodsOf(cluster));
    });

    it("reports a forbidden port-forward with the RBAC permission it needs, without retrying", async () => {
        const forbidden = await startFakeKubeApi({ pods: fakePodsOf(cluster), forbidPortForward: true });
        cleanup.defer(() => forbidden.close());
        const base = props();
        const started = Date.now();
        await assert.rejects(
            createStream({
                ...base,
                connection: {
                    ...base.connection,
                    kubernetes: { ...base.connection.kubernetes!, kubeconfig: forbidden.kubeconfig },
                },
            }),
            (err: Error) => {
                assert.match(
                    err.message,
                    /refused the port-forward to pod eventbus-default-js-0 in namespace argo-events \(403 Forbidden\); RBAC: the identity running pulumi up needs "get" and "create" on "pods\/portforward"/,
                );
                assert.doesNotMatch(err.message, /attempts/);
                return true;
            },
        );
        assert.ok(Date.now() - started < 10_000);
    });

    it("refuses a server whose certificate is not signed by the given CA", async () => {
        const other = await startCluster(server!, cleanup, { replicas: 1 });
        const wrongCa = other.rendered.clientSecret["ca.crt"];
        await assert.rejects(createStream(props({ createTimeout: "2s" }, { caCert: wrongCa })), (err: Error) => {
            assert.match(
                err.message,
                /through a port-forward to pod eventbus-default-js-\d in namespace argo-events failed/,
            );
            assert.match(err.message, /TLS verification failed, the server certificate is not signed by the given CA/);
            // A certificate problem does not go away by itself: no retries.
            assert.doesNotMatch(err.message, /attempts/);
            return true;
        });
    });

    it("opens no socket in check and diff (pulumi preview), though create does", async () => {
        let connections = 0;
        const counter = net.createServer((socket) => {
            connections++;
            socket.destroy();
        });
        await new Promise<void>((resolve) => counter.listen(0, "127.0.0.1", () => resolve()));
        cleanup.defer(() => new Promise<void>((resolve) => counter.close(() => resolve())));
        const direct = props(
            { createTimeout: "1s" },
            { mode: "direct", servers: [`nats://127.0.0.1:${(counter.address() as net.AddressInfo).port}`] },
        );
        const forwarded = props();
        const apiRequests = api.requests.length;
        for (const news of [direct, forwarded]) {
            const olds = { ...news, observedServerVersion: server!.version };
            await streamProvider.check!({}, news);
            await streamProvider.check!(olds, {
                ...news,
                config: resolveStreamSpec({ stream: { maxMsgs: 10 }, busReplicas: 3 }),
            });
            await streamProvider.diff!("default", olds, news);
            await streamProvider.diff!("default", olds, {
                ...news,
                config: resolveStreamSpec({ stream: { maxMsgs: 10 }, busReplicas: 3 }),
            });
        }
        assert.equal(connections, 0);
        assert.equal(api.requests.length, apiRequests);
        // The counters do see an operation that connects.
        await assert.rejects(streamProvider.create!(direct));
        assert.ok(connections > 0);
    });
});
