/**
 * A 3-node cluster of real nats-server processes started from the rendered configuration, the
 * generated certificates and the generated password forms a JetStream cluster over mutually
 * authenticated TLS routes, and a client that verifies the CA and uses the password gets an R3 stream.
 * (tests/support/cluster.ts says how it maps the pods onto this machine.)
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { parse } from "yaml";
import { renderServerConfig } from "../../../components/config/render";
import { privateHostsProblem, LocalCluster, monitor, startCluster } from "../../support/cluster";
import { Cleanup, liveSuiteServers } from "../../support/nats";
import { localLayout } from "../../support/local-layout";

const servers = liveSuiteServers();
const noNamespaces = privateHostsProblem();

for (const server of servers) {
    describe(
        `3-node TLS cluster from the rendered configuration, nats-server ${server.version}`,
        { skip: noNamespaces },
        () => {
            const cleanup = new Cleanup();
            let cluster: LocalCluster;
            const connections: NatsConnection[] = [];
            const clientOptions = (port: number, extra: Record<string, unknown> = {}) => ({
                servers: `127.0.0.1:${port}`,
                // The credentials as Argo's clients read them: the client secret's YAML.
                user: clientAuth().username,
                pass: clientAuth().password,
                // Verify the server against our CA, by the name clients use in the cluster.
                tls: { ca: cluster.rendered.clientSecret["ca.crt"], servername: cluster.serviceHost } as object,
                reconnect: false,
                timeout: 10_000,
                ...extra,
            });

            const clientAuth = () =>
                parse(cluster.rendered.clientSecret["client-auth"]) as { username: string; password: string };

            before(async () => {
                cluster = await startCluster(server, cleanup);
            });
            after(async () => {
                await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
                await cleanup.run();
            });

            it("runs the configuration the ConfigMap holds, with only paths, ports and bind address moved", () => {
                const spec = cluster.rendered.spec;
                assert.equal(cluster.rendered.configText, renderServerConfig(spec, spec.version.serverVersion));
                const local = renderServerConfig(spec, server.version, localLayout(spec, 0, cluster.ports, "/x"));
                const movable =
                    /^\s*(host|port|http|listen|pid_file|store_dir|cert_file|key_file|ca_file):|^\s*"nats:\/\//;
                const strip = (text: string) => text.split("\n").filter((line) => !movable.test(line));
                assert.deepEqual(strip(local), strip(cluster.rendered.configText));
            });

            it("forms a cluster: every server has a route to the two others and agrees on one meta leader", async () => {
                const leaders = new Set<string>();
                for (const ports of cluster.ports) {
                    const routez = await monitor(ports.monitor, "/routez");
                    assert.equal(routez.num_routes >= 2, true, JSON.stringify(routez));
                    const remoteNames = new Set(
                        routez.routes.map(
                            (r: { remote_name?: string; remote_id: string }) => r.remote_name ?? r.remote_id,
                        ),
                    );
                    assert.equal(remoteNames.size, 2);
                    const jsz = await monitor(ports.monitor, "/jsz");
                    assert.equal(jsz.meta_cluster.cluster_size, 3);
                    leaders.add(jsz.meta_cluster.leader);
                }
                assert.equal(leaders.size, 1);
                assert.match([...leaders][0], /^eventbus-default-js-[0-2]$/);
            });

            it("requires TLS on routes: each route connection is TLS with the route certificate", async () => {
                const varz = await monitor(cluster.ports[0].monitor, "/varz");
                assert.equal(varz.cluster.tls_required, true);
                assert.equal(varz.cluster.tls_verify, true);
                assert.equal(varz.tls_required, true);
            });

            it("serves an R3 stream to a client that verifies the CA and uses the generated password", async () => {
                const nc = await connect(clientOptions(cluster.ports[1].client));
                connections.push(nc);
                // An R3 create waits for the stream's first election; one that misses costs a 4-9 s
                // election timeout (nats-server raft.go), beyond nats.js's 5 s default.
                const jsm = await jetstreamManager(nc, { timeout: 20_000 });
                const info = await jsm.streams.add({ name: "default", subjects: ["default.*.*"], num_replicas: 3 });
                assert.equal(info.config.num_replicas, 3);
                const js = jetstream(nc);
                for (let i = 0; i < 50; i++) {
                    // Retries, de-duplicated by the id, while the new stream's interest reaches every server.
                    const ack = await js.publish(`default.webhook.event${i % 5}`, `message ${i}`, {
                        msgID: `id-${i}`,
                        retries: 8,
                    });
                    assert.equal(ack.stream, "default");
                }
                const stored = await jsm.streams.info("default");
                assert.equal(stored.state.messages, 50);
                assert.equal(stored.cluster?.replicas?.length, 2);
                // Bounded: replicas catch up within seconds on loopback.
                const deadline = Date.now() + 20_000;
                let current = false;
                while (!current && Date.now() < deadline) {
                    const now = await jsm.streams.info("default");
                    current = (now.cluster?.replicas ?? []).every((r) => r.current);
                    if (!current) await new Promise((r) => setTimeout(r, 250));
                }
                assert.ok(current, "stream replicas did not become current");
            });

            it("refuses a client that does not trust the CA", async () => {
                await assert.rejects(
                    connect({
                        ...clientOptions(cluster.ports[0].client),
                        tls: { servername: cluster.serviceHost } as object,
                    }),
                    /self.signed|unable to (get|verify)/i,
                );
            });

            it("refuses a client whose expected server name is not in the certificate", async () => {
                await assert.rejects(
                    connect({
                        ...clientOptions(cluster.ports[0].client),
                        tls: { ca: cluster.rendered.clientSecret["ca.crt"], servername: "nats.example.com" } as object,
                    }),
                    /altnames|does not match|Hostname/i,
                );
            });

            it("refuses a wrong password", async () => {
                await assert.rejects(
                    connect(clientOptions(cluster.ports[0].client, { pass: `${clientAuth().password}x` })),
                    /authorization/i,
                );
            });
        },
    );
}

if (servers.length === 0) {
    it("has a nats-server to start", () => assert.fail("install nats-server (Debian package nats-server)"));
}
