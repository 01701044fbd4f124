/**
 * A server version upgrade as Kubernetes rolls it: 3 simulated pods run the oldest nats-server
 * installed (Debian's 2.9) with the configuration rendered for its release line; the bus's
 * `version` changes to the next release line installed (a `go install`-built 2.10, else newer), so
 * the ConfigMap changes (the reloaders signal the old servers) and the pod template's image changes
 * (the StatefulSet rolls the pods one by one), while a publisher sends 10,000 messages.
 * Then the stream is updated by the provider for the new release, and a `settings` change is
 * delivered the reloader's way to the upgraded servers.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { createStream, planDiff, updateStream, type StreamOutputs } from "../../components/stream/provider-impl";
import { losesEncryptedStreamKey } from "../../components/stream/rules";
import { Cleanup } from "../support/nats";
import { watchStreamWrites } from "../support/cluster";
import { versionEntryFor } from "../support/local-layout";
import { copiesAgree, describeCopies, restartedCopyProblems, secs, SimCluster, streamCopies } from "./harness";
import { assertClusterFormed, assertCopiesAgree, rollUnderLoad } from "./scenarios";
import { OLDEST, renderBus, SKIP, upgradeTarget } from "./common";

const TARGET = OLDEST ? upgradeTarget(OLDEST) : undefined;
const SKIP_UPGRADE =
    SKIP ??
    (TARGET
        ? undefined
        : `only nats-server ${OLDEST?.version} is installed; an upgrade needs a newer release line (e.g. go install github.com/nats-io/nats-server/v2@v2.10.29 into ~/.cache/jetstream-eventbus/nats/v2.10.29/)`);
if (SKIP_UPGRADE && !SKIP) console.log(`# upgrade roll skipped: ${SKIP_UPGRADE}`);

describe(
    `upgrade roll nats-server ${OLDEST?.version ?? "?"} -> ${TARGET?.version ?? "?"} on 3 simulated pods`,
    { skip: SKIP_UPGRADE },
    () => {
        const cleanup = new Cleanup();
        let cluster: SimCluster;
        let nc: NatsConnection;
        let stream: StreamOutputs;

        before(async () => {
            cluster = await SimCluster.start({ replicas: 3, binary: OLDEST! }, cleanup);
            stream = (await createStream(cluster.streamProps())).outs;
            nc = await cluster.connect({ reconnect: true, maxReconnectAttempts: 1_000, reconnectTimeWait: 250 });
        });
        after(() => cleanup.run());

        it("rolls the pods to the new release under 10,000 messages: every ack in the stream exactly once, the cluster re-forms on the new version", async (t) => {
            const fromBus = cluster.spec.version.version;
            const toBus = versionEntryFor(TARGET!.version)!.version;
            const upgraded = await renderBus("default", {
                namespace: "argo-events",
                jetstream: { version: toBus, replicas: 3 },
            });
            const statefulSet = upgraded.object("StatefulSet");
            const image = (s: any) => s.spec.template.spec.containers.find((c: any) => c.name === "main").image;
            console.log(
                `# upgrade: bus version ${fromBus} (image ${image(cluster.pods[0].statefulSet)}, running nats-server ${OLDEST!.version}) -> ${toBus} (image ${image(statefulSet)}, running nats-server ${TARGET!.version}); ConfigMap ${upgraded.configText === cluster.configText ? "unchanged" : "changed"}`,
            );
            const { roll, assertExactlyOnce } = await rollUnderLoad(cluster, nc, {
                tag: "upgrade",
                t,
                title: `upgrade roll ${OLDEST!.version} -> ${TARGET!.version}`,
                to: { binary: TARGET!, statefulSet },
                // The new ConfigMap reaches every pod first; each old server's reloader signals it.
                beforeRoll: async () => {
                    const reloads = await cluster.deliverConfig(upgraded.configText);
                    for (const r of reloads) {
                        console.log(
                            `# ${r.pod} (${OLDEST!.version}) reloading the ${toBus} ConfigMap: ${r.ok ? "ok" : r.line}`,
                        );
                        assert.equal(r.ok, true, `an old server refused the new release's configuration: ${r.line}`);
                    }
                },
            });
            assert.deepEqual(
                roll.steps.map((s) => s.to),
                [TARGET!.version, TARGET!.version, TARGET!.version],
            );
            for (const pod of cluster.pods) {
                assert.equal((await cluster.monitor(pod.index, "/varz")).version, TARGET!.version);
            }
            await assertClusterFormed(cluster);
            const copies = await streamCopies(cluster, "default");
            console.log(`# after the upgrade roll: ${describeCopies(copies)}`);
            assertCopiesAgree(t, copies, [OLDEST!.version, TARGET!.version]);
            assertExactlyOnce();
        });

        it("lets the provider update the stream for the new release after the roll", async () => {
            const news = cluster.streamProps({ serverVersion: versionEntryFor(TARGET!.version)!.serverVersion });
            const plan = planDiff(stream, news);
            assert.equal(plan.replaces, undefined);
            const t0 = Date.now();
            const watch = await watchStreamWrites(nc);
            stream = (await updateStream(stream, news)).outs;
            await nc.flush();
            watch.stop();
            const seen = watch.writes();
            assert.equal(stream.observedServerVersion, TARGET!.version);
            // Unchanged settings, but a store written by 2.9 on a release that loses its key (nats-server PR #7678).
            assert.deepEqual(seen, losesEncryptedStreamKey(TARGET!.version) ? ["$JS.API.STREAM.UPDATE.default"] : []);
            const info = await (await jetstreamManager(nc)).streams.info("default");
            assert.equal(info.config.num_replicas, 3);
            console.log(
                `# provider update after the upgrade: ${secs(Date.now() - t0)}, server reports ${stream.observedServerVersion}, ${info.state.messages} messages kept, ${seen.length} write request`,
            );
        });

        it("applies a `settings` change: the reloader delivers it, and the pods roll where the server refuses the reload", async () => {
            const before = await cluster.monitor(0, "/varz");
            const changed = await renderBus("default", {
                namespace: "argo-events",
                jetstream: {
                    version: cluster.spec.version.version,
                    replicas: 3,
                    maxPayload: "2MB",
                    settings: "max_memory_store: -1\nmax_file_store: 2TB",
                },
            });
            const results = await cluster.deliverConfig(changed.configText);
            for (const r of results)
                console.log(
                    `# settings (max_file_store 1TB -> 2TB, with maxPayload 2MB) reload on ${r.pod}, nats-server ${TARGET!.version}: ${r.ok ? "applied" : `refused: ${r.line?.replace(/^.*\[(ERR|INF|WRN)\]\s*/, "")}`}`,
                );
            const annotation = (sts: any) =>
                sts.spec.template.metadata.annotations["jetstream-eventbus/jetstream-settings"];
            assert.notEqual(
                annotation(changed.object("StatefulSet")),
                annotation(cluster.rendered.object("StatefulSet")),
            );
            const jsm = await jetstreamManager(nc, { timeout: 20_000 });
            const storeFailures = () =>
                cluster.allLogs().filter((l) => /Error decrypting|could not be recovered/.test(l));
            assert.deepEqual(storeFailures(), []);
            // Each server's own copy, not only the leader's count: a message stored twice during the
            // upgrade roll (before 2.11, nats-server#6415) can be in some copies and not others, and
            // the leader after this roll may be another server.
            const copiesBefore = await streamCopies(cluster, "default");
            console.log(
                `# before the settings roll: ${describeCopies(copiesBefore)}${copiesAgree(copiesBefore) ? "" : ` (the copies differ: a message stored twice during the upgrade, nats-server#6415)`}`,
            );
            const roll = await cluster.rollingUpdate({ binary: TARGET!, statefulSet: changed.object("StatefulSet") });
            assert.ok(roll.maxUnavailable <= 1);
            // The first restarts after the upgrade: every server recovers the stream from its own store.
            assert.deepEqual(storeFailures(), []);
            const copiesAfter = await streamCopies(cluster, "default");
            console.log(`# after the settings roll: ${describeCopies(copiesAfter)}`);
            const info = await jsm.streams.info("default");
            const leader = info.cluster?.leader ?? "(none)";
            assert.deepEqual(restartedCopyProblems(copiesBefore, copiesAfter, leader), []);
            assert.equal(
                info.state.messages,
                copiesAfter.find((c) => c.pod === leader)!.messages,
                "the leader serves its own copy",
            );
            const varz = await cluster.monitor(0, "/varz");
            console.log(
                `# after the roll: max_file_store ${varz.jetstream?.config?.max_storage} (was ${before.jetstream?.config?.max_storage}), max_payload ${varz.max_payload} (was ${before.max_payload}), ${secs(roll.totalMs)}`,
            );
            assert.equal(varz.jetstream?.config?.max_storage, 2 * 1024 ** 4);
            assert.equal(varz.max_payload, 2 * 1024 * 1024);
        });
    },
);
