/**
 * A 3-replica bus on simulated pods (one network namespace each, see harness.ts): the cluster forms
 * over verified TLS routes, clients verify the server by the service name, a `kill -9` is survived,
 * a Kubernetes-style rolling restart under load loses and doubles nothing, and configuration changes
 * reach the servers the way the reloader delivers them.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { StreamOutputs } from "../../components/stream/provider-impl";
import { Cleanup } from "../support/nats";
import { podEnv } from "../support/local-layout";
import { secs, SimCluster } from "./harness";
import { assertClusterFormed, killNineUnderLoad, rollUnderLoad, startSimBus } from "./scenarios";
import { NEWEST, renderBus, SKIP, startStranger } from "./common";

const STREAM = "default";

describe(`3 simulated pods, nats-server ${NEWEST?.version ?? "(none)"}`, { skip: SKIP }, () => {
    const cleanup = new Cleanup();
    let cluster: SimCluster;
    let nc: NatsConnection;
    let jsm: JetStreamManager;
    let stream: StreamOutputs;

    before(async () => {
        ({ cluster, stream, nc, jsm } = await startSimBus(3, NEWEST!, cleanup));
    });
    after(() => cleanup.run());

    it("runs the ConfigMap's nats-js.conf with only file paths moved, and the pods' environment", async () => {
        for (const pod of cluster.pods) {
            const local = fs.readFileSync(path.join(pod.dir, "nats-js.conf"), "utf8").split("\n");
            const original = cluster.rendered.configText.split("\n");
            assert.equal(local.length, original.length);
            original.forEach((line, i) => {
                if (!/\/etc\/nats-config\/|\/data\/jetstream\/store|\/var\/run\/nats\/nats\.pid/.test(line))
                    assert.equal(local[i], line);
            });
            const env = cluster.podEnvironment(pod);
            assert.equal(env.CLUSTER_ADVERTISE, `${pod.name}.eventbus-default-js-svc.argo-events.svc`);
            assert.deepEqual(env, { ...podEnv(cluster.spec, pod.index, cluster.rendered.serverSecret.encryption) });
            const varz = await cluster.monitor(pod.index, "/varz");
            assert.equal(varz.server_name, pod.name);
            assert.equal(varz.port, 4222);
            assert.equal(varz.http_port, 8222);
            assert.equal(varz.cluster.cluster_port ?? varz.cluster.port, 6222);
        }
    });

    it("forms the cluster over TLS routes between the pods' addresses, verified against the route certificate", async () => {
        const leader = await assertClusterFormed(cluster);
        console.log(`# cluster formed over TLS routes; meta leader ${leader}`);
    });

    it("rejects routes from a server whose certificate another CA signed, and routes dialled by a name the certificate lacks", async () => {
        const foreign = await renderBus("default", {
            namespace: "argo-events",
            jetstream: { version: cluster.spec.version.version, replicas: 3 },
        });
        const secret = cluster.rendered.serverSecret;
        const files = (cert: string, key: string, ca: string) => ({
            "server-cert.pem": cert,
            "server-key.pem": key,
            "ca-cert.pem": ca,
            "cluster-server-cert.pem": cert,
            "cluster-server-key.pem": key,
            "auth.conf": secret.auth,
        });
        const marks = cluster.pods.map((p) => p.log!.mark());
        // 1. Trusts our CA (so it accepts the pods' certificates) but presents a certificate of another CA.
        const impostor = await startStranger(cluster, "impostor", {
            configText: cluster.configText,
            files: files(
                foreign.serverSecret["cluster-cert"],
                foreign.serverSecret["cluster-private-key"],
                secret["ca-cert"],
            ),
            env: podEnv(cluster.spec, 3, secret.encryption),
        });
        cleanup.track(impostor.handle);
        // 2. The genuine route certificate, dialling pod 0 by an alias that is not in the pods' certificate.
        const alias = "eventbus-sim-alias.example.org";
        const misnamed = await startStranger(cluster, "misnamed", {
            configText: cluster.configText.replace(/"nats:\/\/[^"]+:6222"/g, `"nats://${alias}:6222"`),
            files: files(secret["cluster-cert"], secret["cluster-private-key"], secret["ca-cert"]),
            extraHosts: `${cluster.pods[0].host.address}\t${alias}\n`,
            env: podEnv(cluster.spec, 4, secret.encryption),
        });
        cleanup.track(misnamed.handle);

        // The pods refuse the impostor's certificate (they verify route clients against the CA).
        const refusals = await Promise.all(
            cluster.pods.map((p, i) => p.log!.wait(/TLS route handshake error|certificate/i, marks[i], 20_000)),
        );
        const refusal = refusals.find((l) => l !== undefined);
        assert.ok(refusal, "no pod logged a refused route handshake");
        assert.match(refusal!, /unknown authority|bad certificate|verify/i);
        // The misnamed server refuses pod 0's certificate for the alias (it verifies the name it dials).
        const deadline = Date.now() + 20_000;
        let nameError: string | undefined;
        while (!nameError && Date.now() < deadline) {
            nameError = misnamed.logs().find((l) => /certificate is valid for|not valid for|x509/i.test(l));
            if (!nameError) await new Promise((r) => setTimeout(r, 200));
        }
        assert.ok(nameError, `no certificate name error in: ${misnamed.logs().slice(-10).join("\n")}`);
        assert.match(nameError!, new RegExp(alias.replace(/\./g, "\\.")));
        console.log(`# refused route from another CA: ${refusal!.replace(/^.*\[(ERR|INF|WRN)\]\s*/, "")}`);
        console.log(`# refused route by alias: ${nameError!.replace(/^.*\[(ERR|INF|WRN)\]\s*/, "")}`);

        // Only the pods are connected (2.10+ pools several connections per peer).
        const podAddresses = cluster.pods.map((p) => p.host.address);
        for (const pod of cluster.pods) {
            const routez = await cluster.monitor(pod.index, "/routez");
            const peers = [...new Set(routez.routes.map((r: any) => r.ip))].sort();
            assert.deepEqual(
                peers,
                podAddresses.filter((a) => a !== pod.host.address).sort(),
                `${pod.name} has routes from ${JSON.stringify(peers)}`,
            );
        }
        for (const stranger of [impostor, misnamed]) {
            const varz = (await (await fetch(`${stranger.handle.monitorUrl}/routez`)).json()) as { num_routes: number };
            assert.equal(varz.num_routes, 0);
            await stranger.handle.stop("SIGKILL", 5_000);
        }
    });

    it("serves a client that uses the client Secret as is (service URL, CA, YAML credentials) from a client pod", async () => {
        const result = await cluster.runInClientPod(
            `
            const { connect } = lib("@nats-io/transport-node");
            const { jetstream } = lib("@nats-io/jetstream");
            const { parse } = lib("yaml");
            const dns = require("node:dns/promises");
            const auth = parse(input.secret["client-auth"]);
            const host = new URL(input.secret.url).hostname;
            const resolved = (await dns.lookup(host, { all: true })).map((a) => a.address).sort();
            const nc = await connect({ servers: input.secret.url, user: auth.username, pass: auth.password, tls: { ca: input.secret["ca.crt"] }, timeout: 10000, reconnect: false });
            // Retries (de-duplicated by the id) cover the moment the stream leader's interest takes to reach every pod.
            const ack = await jetstream(nc).publish("default.client.pod", "hello", { msgID: "client-pod-1", retries: 8 });
            const server = nc.info.server_name;
            await nc.close();
            let byPodName;
            try {
                const other = await connect({ servers: input.podUrl, user: auth.username, pass: auth.password, tls: { ca: input.secret["ca.crt"] }, timeout: 10000, reconnect: false });
                await other.close();
                byPodName = "connected";
            } catch (e) { byPodName = String(e.message || e) + " " + String(e.cause && e.cause.message || ""); }
            return { host, resolved, server, stream: ack.stream, seq: ack.seq, byPodName };
            `,
            {
                secret: cluster.rendered.clientSecret,
                podUrl: `nats://${cluster.pods[0].name}.${cluster.serviceHost}:4222`,
            },
        );
        assert.equal(result.error, undefined, result.error);
        assert.equal(result.host, cluster.serviceHost);
        assert.deepEqual(result.resolved, cluster.pods.map((p) => p.host.address).sort());
        assert.match(result.server, /^eventbus-default-js-[0-2]$/);
        assert.equal(result.stream, STREAM);
        // The server certificate names the service, not the pods: a client dialling a pod name is refused.
        assert.match(result.byPodName, /altnames|does not match|Hostname|IP/i);
        console.log(
            `# client pod: ${result.host} -> ${result.resolved.join(", ")}, served by ${result.server}; by pod name: ${result.byPodName.trim().slice(0, 120)}`,
        );
    });

    it("refuses a client that trusts another CA, and one that expects another name", async () => {
        const foreign = await renderBus("default", {
            namespace: "argo-events",
            jetstream: { version: cluster.spec.version.version, replicas: 3 },
        });
        await assert.rejects(
            cluster.connect({
                reconnect: false,
                tls: { ca: foreign.clientSecret["ca.crt"], servername: cluster.serviceHost } as object,
            }),
            /self.signed|unable to (get|verify)|certificate/i,
        );
        await assert.rejects(
            cluster.connect({
                reconnect: false,
                tls: { ca: cluster.rendered.clientSecret["ca.crt"], servername: "nats.example.com" } as object,
            }),
            /altnames|does not match|Hostname/i,
        );
    });

    it("survives kill -9 of the stream leader: publishing and stream updates keep working, the node rejoins and catches up", async (t) => {
        stream = await killNineUnderLoad(cluster, nc, jsm, stream, "kill3", t);
    });

    it("rolls like the StatefulSet controller (preStop lame duck, SIGTERM, restart, one pod at a time) under 10,000 messages: every ack in the stream exactly once", async (t) => {
        const { assertExactlyOnce } = await rollUnderLoad(cluster, nc, { tag: "roll3", title: "rolling restart", t });
        assertExactlyOnce();
    });

    it("applies a reloadable change (maxPayload) delivered as the reloader delivers it, without a restart", async () => {
        const changed = await renderBus("default", {
            namespace: "argo-events",
            jetstream: { version: cluster.spec.version.version, replicas: 3, maxPayload: "2MB" },
        });
        const pids = cluster.pods.map((p) => p.handle!.pid);
        const results = await cluster.deliverConfig(changed.configText);
        for (const r of results) assert.equal(r.ok, true, `${r.pod}: ${r.line}`);
        for (const pod of cluster.pods) {
            const varz = await cluster.monitor(pod.index, "/varz");
            assert.equal(varz.max_payload, 2 * 1024 * 1024);
            assert.equal(pod.handle!.pid, pids[pod.index]);
        }
    });

    it("applies a `settings` change that raises JetStream limits, delivered as the reloader delivers it, without a restart", async () => {
        const changed = await renderBus("default", {
            namespace: "argo-events",
            jetstream: {
                version: cluster.spec.version.version,
                replicas: 3,
                maxPayload: "2MB",
                settings: "max_memory_store: -1\nmax_file_store: 2TB",
            },
        });
        const pids = cluster.pods.map((p) => p.handle!.pid);
        const results = await cluster.deliverConfig(changed.configText);
        for (const r of results)
            console.log(
                `# settings (max_file_store 1TB -> 2TB) reload on ${r.pod}, nats-server ${cluster.pods[0].binary.version}: ${r.ok ? "applied" : `refused: ${r.line?.replace(/^.*\[(ERR|INF|WRN)\]\s*/, "")}`}`,
            );
        for (const pod of cluster.pods) {
            const varz = await cluster.monitor(pod.index, "/varz");
            assert.equal(varz.jetstream?.config?.max_storage, 2 * 1024 ** 4, `${pod.name} max_storage`);
            assert.equal(pod.handle!.pid, pids[pod.index], "restarted");
        }
    });

    it("applies a `settings` change that lowers JetStream limits by rolling the pods, since the server refuses to reload it", async () => {
        const bus = (maxFileStore: string) =>
            renderBus("default", {
                namespace: "argo-events",
                jetstream: {
                    version: cluster.spec.version.version,
                    replicas: 3,
                    maxPayload: "2MB",
                    settings: `max_memory_store: -1\nmax_file_store: ${maxFileStore}`,
                },
            });
        // The bus as the previous test left it (2TB, reloaded in place).
        const before = await bus("2TB");
        const changed = await bus("1TB");
        const results = await cluster.deliverConfig(changed.configText);
        for (const r of results)
            console.log(
                `# settings (max_file_store 2TB -> 1TB) reload on ${r.pod}: ${r.ok ? "applied" : `refused: ${r.line?.replace(/^.*\[(ERR|INF|WRN)\]\s*/, "")}`}`,
            );
        // The component changes the pod template for it, so Kubernetes rolls the pods one at a time.
        const annotation = (sts: any) =>
            sts.spec.template.metadata.annotations["jetstream-eventbus/jetstream-settings"];
        assert.notEqual(annotation(changed.object("StatefulSet")), annotation(before.object("StatefulSet")));
        const roll = await cluster.rollingUpdate({
            binary: cluster.pods[0].binary,
            statefulSet: changed.object("StatefulSet"),
        });
        console.log(
            `# roll for the settings change: ${secs(roll.totalMs)}, at most ${roll.maxUnavailable} pod unready`,
        );
        assert.ok(roll.maxUnavailable <= 1);
        for (const pod of cluster.pods) {
            const varz = await cluster.monitor(pod.index, "/varz");
            assert.equal(varz.jetstream?.config?.max_storage, 1024 ** 4, `${pod.name} max_storage`);
        }
    });
});
