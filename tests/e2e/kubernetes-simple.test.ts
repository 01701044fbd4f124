/**
 * `examples/simple` (Argo Events' simplest JetStream EventBus) deployed with the real Pulumi CLI and
 * Kubernetes provider to a real kube-apiserver, in a namespace that enforces the `restricted` Pod
 * Security level, with real nats-servers behind the pods: the stream is created through the API
 * server's port-forward. Then what a platform team does in its first weeks: previews of an unchanged
 * bus, a stream change, a settings change, more replicas, refresh, render, destroy.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { jetstream, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { createStream } from "../../components/stream/provider-impl";
import {
    connectToBus,
    getObject,
    KubernetesTarget,
    kubernetesSkipReason,
    mostPodsDownAtOnce,
    startKubernetesTarget,
} from "../support/kube-e2e";
import { Cleanup, waitFor } from "../support/nats";
import { exampleProject, previewJson, run, stepType } from "../support/real-engine";

const EXAMPLE = path.resolve(__dirname, "../../../examples/simple/index.ts");
const NS = "argo-events";
const STS = `/apis/apps/v1/namespaces/${NS}/statefulsets/eventbus-default-js`;
const CONFIG_MAP = `/api/v1/namespaces/${NS}/configmaps/eventbus-default-js-config`;
const NANOS_PER_HOUR = 3_600_000_000_000;

/** The example with `extra` added to its `jetstream` block. */
function withJetstream(extra: string): string {
    const text = fs.readFileSync(EXAMPLE, "utf8");
    const changed = text.replace(`jetstream: { version: "latest" }`, `jetstream: { version: "latest", ${extra} }`);
    assert.notEqual(changed, text, "the example's jetstream block moved; update this test");
    return changed;
}

/** Operations of a preview other than `same`, as `Type: op`, sorted. */
function plannedChanges(json: ReturnType<typeof previewJson>): string[] {
    return json.steps
        .filter((s) => s.op !== "same")
        .map((s) => `${stepType(s).split(":").pop()}: ${s.op}`)
        .sort();
}

/**
 * Every field of `expected` is in `actual` with the same value; empty lists and maps stand for absent ones (the API
 * server drops them).
 */
function assertContained(expected: unknown, actual: unknown, where: string): void {
    if (Array.isArray(expected)) {
        if (expected.length === 0 && actual === undefined) return;
        assert.ok(Array.isArray(actual), `${where}: expected a list, the server has ${JSON.stringify(actual)}`);
        assert.equal(actual.length, expected.length, `${where}: list length`);
        expected.forEach((item, i) => assertContained(item, actual[i], `${where}[${i}]`));
    } else if (expected !== null && typeof expected === "object") {
        if (Object.keys(expected).length === 0 && actual === undefined) return;
        assert.ok(
            actual !== null && typeof actual === "object",
            `${where}: expected an object, the server has ${JSON.stringify(actual)}`,
        );
        for (const [key, value] of Object.entries(expected))
            assertContained(value, (actual as Record<string, unknown>)[key], `${where}.${key}`);
    } else {
        assert.equal(actual, expected, where);
    }
}

describe("examples/simple on a real control plane", { skip: kubernetesSkipReason() }, () => {
    const cleanup = new Cleanup();
    let target: KubernetesTarget;
    let jsm: JetStreamManager;
    let nc: NatsConnection;

    before(async () => {
        target = await startKubernetesTarget(cleanup, [NS], exampleProject("simple"));
    });
    after(() => cleanup.run());

    const podsOf = async () =>
        (await target.plane.requestOk("GET", `/api/v1/namespaces/${NS}/pods?labelSelector=eventbus-name%3Ddefault`))
            .items as any[];
    const writeProgram = (text: string) => fs.writeFileSync(path.join(target.program.dir, "index.ts"), text);

    it("pulumi up creates what the README lists, the pods become Ready behind real servers, and the stream is created through port-forward", async () => {
        await target.up();
        assert.deepEqual(previewJson(await target.pulumi(["preview", "--json"])).changeSummary, { same: 24 });

        const sts = await target.plane.requestOk("GET", STS);
        assert.equal(sts.status.readyReplicas, 3);
        const service = await target.plane.requestOk(
            "GET",
            `/api/v1/namespaces/${NS}/services/eventbus-default-js-svc`,
        );
        assert.equal(service.spec.clusterIP, "None");
        const configMap = await target.plane.requestOk(
            "GET",
            `/api/v1/namespaces/${NS}/configmaps/eventbus-default-js-config`,
        );
        assert.deepEqual(Object.keys(configMap.data), ["nats-js"]);
        const server = await target.plane.requestOk(
            "GET",
            `/api/v1/namespaces/${NS}/secrets/eventbus-default-js-server`,
        );
        assert.deepEqual(Object.keys(server.data).sort(), [
            "auth",
            "ca-cert",
            "cert",
            "cluster-cert",
            "cluster-private-key",
            "encryption",
            "private-key",
            "system-password",
        ]);
        const client = await target.plane.requestOk(
            "GET",
            `/api/v1/namespaces/${NS}/secrets/eventbus-default-js-client-auth`,
        );
        assert.deepEqual(Object.keys(client.data).sort(), ["ca.crt", "client-auth", "url"]);
        const pdb = await target.plane.requestOk(
            "GET",
            `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/eventbus-default-js-pdb`,
        );
        assert.equal(pdb.spec.maxUnavailable, 1);
        await waitFor(
            async () =>
                (
                    await target.plane.requestOk(
                        "GET",
                        `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/eventbus-default-js-pdb`,
                    )
                ).status?.currentHealthy === 3,
            {
                timeoutMs: 30_000,
                what: "the PDB to count 3 healthy pods",
            },
        );

        // Each Ready pod is answered by a server started from what the API server holds, routed to the other two.
        const pods = await podsOf();
        assert.deepEqual(pods.map((p) => p.metadata.name).sort(), [
            "eventbus-default-js-0",
            "eventbus-default-js-1",
            "eventbus-default-js-2",
        ]);
        for (const pod of pods) {
            assert.ok(
                pod.status.conditions.some((c: any) => c.type === "Ready" && c.status === "True"),
                `${pod.metadata.name} is not Ready`,
            );
            const running = target.pods.running().get(`${NS}/${pod.metadata.name}`);
            assert.equal(running?.uid, pod.metadata.uid, `${pod.metadata.name} has no server`);
            const routez = (await (await fetch(`${running!.monitorUrl}/routez`)).json()) as { num_routes: number };
            assert.equal(routez.num_routes >= 2, true, `${pod.metadata.name} has ${routez.num_routes} routes`);
        }

        // Secrets reach state encrypted only: the Secrets' Patches hold them base64-encoded.
        const password = parseYaml(Buffer.from(client.data["client-auth"], "base64").toString("utf8"))
            .password as string;
        for (const { file, text } of target.program.stateFiles()) {
            for (const leak of [
                password,
                Buffer.from(password).toString("base64"),
                "PRIVATE KEY",
                Buffer.from("-----BEGIN EC PRIVATE KEY").toString("base64").slice(0, 24),
            ]) {
                assert.ok(!text.includes(leak), `${file} holds ${leak.slice(0, 12)}... in clear text`);
            }
        }

        ({ jsm, nc } = await connectToBus(target, NS, "default", cleanup));
        const info = await jsm.streams.info("default");
        assert.deepEqual(info.config.subjects, ["default.*.*"]);
        assert.equal(info.config.num_replicas, 3);
        assert.equal(info.config.max_msgs, 50_000);
        assert.equal(info.config.max_age, 168 * NANOS_PER_HOUR);
    });

    it("the stream's port-forward reaches only pods of the StatefulSet this stack created: another StatefulSet's pods are refused", async () => {
        const state = JSON.parse((await target.pulumiOk(["stack", "export", "--show-secrets"])).stdout);
        const stream = state.deployment.resources.find((r: { type: string }) => r.type.endsWith(":Stream"));
        const connection = JSON.parse(stream.inputs.connection.plaintext);
        const sts = await target.plane.requestOk("GET", STS);
        assert.equal(connection.kubernetes.statefulSetUid, sts.metadata.uid);

        // As if the kubeconfig reached another cluster with a bus of the same name: the uid differs.
        const props = {
            ...stream.inputs,
            connection: {
                ...connection,
                mode: "portForward",
                kubernetes: {
                    ...connection.kubernetes,
                    kubeconfig: target.plane.kubeconfig,
                    statefulSetUid: "0d6e5c8e-0000-4000-8000-000000000000",
                },
            },
            createTimeout: "5s",
        };
        await assert.rejects(createStream(props), (err: Error) => {
            assert.match(
                err.message,
                /belong to another StatefulSet \(uid [0-9a-f-]{36}\) than the one this stack deployed \(uid 0d6e5c8e-/,
            );
            assert.match(err.message, /connection\.kubeconfig/);
            return true;
        });
    });

    it("the namespace enforces the restricted Pod Security level: the bus's pods are admitted, a non-compliant copy is refused", async () => {
        const namespace = await target.plane.requestOk("GET", `/api/v1/namespaces/${NS}`);
        assert.equal(namespace.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
        const sts = await target.plane.requestOk("GET", STS);
        const podFrom = (spec: any) => ({
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "admission-check", namespace: NS },
            spec,
        });

        const admitted = await target.plane.request(
            "POST",
            `/api/v1/namespaces/${NS}/pods?dryRun=All`,
            podFrom(sts.spec.template.spec),
        );
        assert.equal(admitted.status, 201, JSON.stringify(admitted.body));

        const escalating = structuredClone(sts.spec.template.spec);
        escalating.containers[0].securityContext.allowPrivilegeEscalation = true;
        const refused = await target.plane.request(
            "POST",
            `/api/v1/namespaces/${NS}/pods?dryRun=All`,
            podFrom(escalating),
        );
        assert.equal(refused.status, 403, JSON.stringify(refused.body));
        assert.match(
            refused.body.message,
            /violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false \(container "main"/,
        );
    });

    it("pulumi preview right after up plans nothing, and pulumi refresh finds nothing", async () => {
        const preview = previewJson(await target.pulumi(["preview", "--json", "--expect-no-changes"]));
        assert.deepEqual(preview.changeSummary, { same: 24 });
        const refresh = await target.pulumi(["refresh", "--yes", "--expect-no-changes"]);
        assert.equal(refresh.code, 0, `${refresh.stdout}\n${refresh.stderr}`);
        assert.match(refresh.stdout, /24 unchanged/);
        const again = previewJson(await target.pulumi(["preview", "--json", "--expect-no-changes"]));
        assert.deepEqual(again.changeSummary, { same: 24 });
    });

    it("npm run render's YAML passes kubectl apply --dry-run=server and matches what pulumi up created", async () => {
        const manifest = path.join(target.program.dir, "eventbus.yaml");
        fs.writeFileSync(
            manifest,
            `apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata:\n  name: default\n  namespace: ${NS}\nspec:\n  jetstream:\n    version: latest\n`,
        );
        const out = path.join(target.program.dir, "rendered");
        // The command `npm run render` runs, from this repository's build.
        const cli = path.resolve(__dirname, "../../cli/cli.js");
        const render = await run(process.execPath, [cli, "render", "--manifest", manifest, "--out", out], {
            cwd: target.program.dir,
            env: process.env,
            timeoutMs: 60_000,
        });
        assert.equal(render.code, 0, render.stderr);
        const dryRun = await target.plane.kubectl(["apply", "--dry-run=server", "-R", "-f", path.join(out, NS)]);
        assert.equal(dryRun.code, 0, dryRun.stderr);
        assert.match(dryRun.stdout, /statefulset.apps\/eventbus-default-js configured \(server dry run\)/);

        const files = fs.readdirSync(path.join(out, NS)).filter((f) => f.endsWith(".yaml"));
        assert.equal(files.length, 6, files.join(", "));
        const plural: Record<string, string> = {
            StatefulSet: "apis/apps/v1/namespaces/NS/statefulsets",
            Service: "api/v1/namespaces/NS/services",
            ConfigMap: "api/v1/namespaces/NS/configmaps",
            Secret: "api/v1/namespaces/NS/secrets",
            PodDisruptionBudget: "apis/policy/v1/namespaces/NS/poddisruptionbudgets",
        };
        for (const file of files) {
            for (const doc of parseAllDocuments(fs.readFileSync(path.join(out, NS, file), "utf8"))) {
                const rendered = doc.toJS();
                const live = await target.plane.requestOk(
                    "GET",
                    `/${plural[rendered.kind]!.replace("NS", NS)}/${rendered.metadata.name}`,
                );
                const where = `${rendered.kind} ${rendered.metadata.name}`;
                assertContained(rendered.metadata.labels, live.metadata.labels, `${where} labels`);
                if (rendered.kind === "Secret") {
                    // Rendered Secrets hold placeholders: the keys must match, the values are made at deploy time.
                    assert.deepEqual(Object.keys(rendered.stringData).sort(), Object.keys(live.data).sort(), where);
                } else {
                    const { metadata: _m, ...body } = rendered;
                    assertContained(body, live, where);
                }
            }
        }
    });

    it("a streamConfig change updates only the Stream: the StatefulSet's generation does not move and no pod restarts", async () => {
        const before = await target.plane.requestOk("GET", STS);
        const uids = (await podsOf()).map((p) => p.metadata.uid).sort();
        const eventCount = target.pods.events.length;
        writeProgram(withJetstream(`streamConfig: "maxAge: 24h\\n"`));

        const preview = previewJson(await target.pulumi(["preview", "--json"]));
        assert.deepEqual(plannedChanges(preview), ["Stream: update"]);
        await target.up();

        assert.equal((await jsm.streams.info("default")).config.max_age, 24 * NANOS_PER_HOUR);
        const afterwards = await target.plane.requestOk("GET", STS);
        assert.equal(afterwards.metadata.generation, before.metadata.generation);
        assert.deepEqual((await podsOf()).map((p) => p.metadata.uid).sort(), uids);
        assert.deepEqual(target.pods.events.slice(eventCount), []);
    });

    it("a JetStream settings change shows the pod template change and rolls the pods one at a time", async () => {
        const uids = new Set((await podsOf()).map((p) => p.metadata.uid));
        const js = jetstream(nc);
        for (let i = 0; i < 20; i++) await js.publish("default.e2e.roll", `message ${i}`);
        const stored = (await jsm.streams.info("default")).state.messages;
        const eventCount = target.pods.events.length;
        writeProgram(withJetstream(`streamConfig: "maxAge: 24h\\n", settings: "max_file_store: 2GB\\n"`));

        const diff = await target.pulumi(["preview", "--diff"]);
        assert.equal(diff.code, 0, diff.stderr);
        assert.match(diff.stdout, /~ jetstream-eventbus\/jetstream-settings: "[0-9a-f]{16}" => "[0-9a-f]{16}"/);
        assert.match(diff.stdout, /-\s+max_file_store: 1099511627776\n\s+\+\s+max_file_store: 2GB/);
        const preview = previewJson(await target.pulumi(["preview", "--json"]));
        // The ConfigMap's data changes in place through its Patch: the object is never deleted under the pods.
        assert.deepEqual(plannedChanges(preview), ["ConfigMapPatch: update", "StatefulSet: update"]);
        const configMap = await target.plane.requestOk("GET", CONFIG_MAP);

        await target.up();
        const updated = await target.plane.requestOk("GET", CONFIG_MAP);
        assert.equal(updated.metadata.uid, configMap.metadata.uid, "the ConfigMap was deleted and created again");
        assert.match(updated.data["nats-js"], /max_file_store: 2GB/);
        // The provider's rollout wait can end while the last old pod is still terminating: the roll
        // itself is the StatefulSet controller's, and it finishes on its own.
        await waitFor(
            async () => {
                const pods = await podsOf();
                return (
                    pods.length === 3 &&
                    pods.every(
                        (p) =>
                            !uids.has(p.metadata.uid) &&
                            p.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"),
                    )
                );
            },
            { timeoutMs: 60_000, intervalMs: 250, what: "every pod replaced and Ready" },
        );
        const rolled = target.pods.events.slice(eventCount);
        assert.equal(rolled.filter((e) => e.what === "stopping").length, 3, JSON.stringify(rolled));
        assert.equal(mostPodsDownAtOnce(rolled, `${NS}/eventbus-default-js-`), 1, JSON.stringify(rolled));
        // The new servers run the new limit.
        for (const server of target.pods.running().values()) {
            const jsz = (await (await fetch(`${server.monitorUrl}/jsz`)).json()) as { config: { max_storage: number } };
            // nats-server reads "GB" as 2^30 bytes.
            assert.equal(jsz.config.max_storage, 2 * 1024 ** 3, server.pod);
        }
        const info = await waitFor(() => jsm.streams.info("default"), {
            timeoutMs: 30_000,
            intervalMs: 500,
            what: "the stream's info after the roll",
        });
        assert.equal(info.config.num_replicas, 3);
        // Every server restarted on an empty volume (no persistence): the messages came back by replication.
        assert.equal(info.state.messages, stored);
        assert.ok(stored >= 20);
    });

    it("replicas 3 to 5: the preview plans the StatefulSet update and the routes, no replacement of the StatefulSet; up adds two Ready pods and the stream keeps its 3 replicas", async () => {
        writeProgram(withJetstream(`streamConfig: "maxAge: 24h\\n", settings: "max_file_store: 2GB\\n", replicas: 5`));
        const diff = await target.pulumi(["preview", "--diff"]);
        assert.equal(diff.code, 0, diff.stderr);
        assert.match(diff.stdout, /~ replicas: 3 => 5/);
        assert.match(
            diff.stdout,
            /\+\s+"nats:\/\/eventbus-default-js-4\.eventbus-default-js-svc\.argo-events\.svc:6222"/,
        );
        // What the change does, in the plan: the servers resource's own words.
        assert.match(
            diff.stdout,
            /replicas 3 → 5: eventbus-default-js-3 and eventbus-default-js-4 start and join the cluster; streams keep their replicas/,
        );
        const preview = previewJson(await target.pulumi(["preview", "--json"]));
        assert.deepEqual(plannedChanges(preview), ["ConfigMapPatch: update", "Servers: update", "StatefulSet: update"]);
        const configMap = await target.plane.requestOk("GET", CONFIG_MAP);
        const uids = (await podsOf()).map((p) => p.metadata.uid).sort();

        await target.up();
        assert.equal(
            (await target.plane.requestOk("GET", CONFIG_MAP)).metadata.uid,
            configMap.metadata.uid,
            "the ConfigMap was deleted and created again",
        );
        const pods = await podsOf();
        assert.equal(pods.length, 5);
        // The routes reach the running servers through the reloader: the three servers run on, not restarted.
        assert.deepEqual(
            pods
                .map((p) => p.metadata.uid)
                .filter((uid) => uids.includes(uid))
                .sort(),
            uids,
        );
        assert.ok(pods.every((p) => p.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True")));
        // JetStream is briefly unavailable while the meta group takes in the new servers.
        const info = await waitFor(() => jsm.streams.info("default"), {
            timeoutMs: 30_000,
            intervalMs: 500,
            what: "the stream's info after the scale-up",
        });
        assert.equal(info.config.num_replicas, 3);
        const previewAgain = previewJson(await target.pulumi(["preview", "--json", "--expect-no-changes"]));
        assert.equal(previewAgain.changeSummary.same, 24);
    });

    it("a PodMonitor asked for: the preview fails on the Prometheus Operator's missing CRD; once installed, up creates it for the exporter's port", async () => {
        writeProgram(
            withJetstream(
                `streamConfig: "maxAge: 24h\\n", settings: "max_file_store: 2GB\\n", replicas: 5, podMonitor: { labels: { release: "prometheus" }, interval: "15s" }`,
            ),
        );
        const missing = await target.pulumi(["preview"]);
        assert.notEqual(missing.code, 0);
        assert.match(missing.stdout + missing.stderr, /default-prometheus-operator-podmonitor-crd/);
        assert.match(missing.stdout + missing.stderr, /podmonitors\.monitoring\.coreos\.com/);

        // The operator's CRD, as installing the operator would leave it (its schema is the operator's business).
        await target.plane.requestOk("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
            apiVersion: "apiextensions.k8s.io/v1",
            kind: "CustomResourceDefinition",
            metadata: { name: "podmonitors.monitoring.coreos.com" },
            spec: {
                group: "monitoring.coreos.com",
                scope: "Namespaced",
                names: {
                    kind: "PodMonitor",
                    plural: "podmonitors",
                    singular: "podmonitor",
                    listKind: "PodMonitorList",
                },
                versions: [
                    {
                        name: "v1",
                        served: true,
                        storage: true,
                        schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
                    },
                ],
            },
        });
        await waitFor(
            async () =>
                (
                    await target.plane.requestOk(
                        "GET",
                        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/podmonitors.monitoring.coreos.com",
                    )
                ).status?.conditions?.some((c: any) => c.type === "Established" && c.status === "True"),
            { timeoutMs: 30_000, what: "the PodMonitor CRD to be established" },
        );
        assert.deepEqual(plannedChanges(previewJson(await target.pulumi(["preview", "--json"]))), [
            "CustomResourceDefinition: read",
            "PodMonitor: create",
        ]);
        await target.up();
        const monitor = await target.plane.requestOk(
            "GET",
            `/apis/monitoring.coreos.com/v1/namespaces/${NS}/podmonitors/eventbus-default-js`,
        );
        assert.equal(monitor.metadata.labels.release, "prometheus");
        assert.deepEqual(monitor.spec.podMetricsEndpoints, [{ port: "metrics", path: "/metrics", interval: "15s" }]);
        // It selects exactly the bus's pods, and they have the port it names.
        const selected = (
            await target.plane.requestOk(
                "GET",
                `/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent(
                    Object.entries(monitor.spec.selector.matchLabels)
                        .map(([k, v]) => `${k}=${v}`)
                        .join(","),
                )}`,
            )
        ).items as any[];
        assert.deepEqual(
            selected.map((p) => p.metadata.name).sort(),
            (await podsOf()).map((p) => p.metadata.name).sort(),
        );
        assert.ok(
            selected.every((p) =>
                p.spec.containers.some((c: any) => c.ports?.some((port: any) => port.name === "metrics")),
            ),
        );
    });

    it("replicas 5 to 3: the preview says which servers stop and what to move off them; up removes two pods, the stream on the others carries on", async () => {
        const podMonitor = `podMonitor: { labels: { release: "prometheus" }, interval: "15s" }`;
        writeProgram(
            withJetstream(
                `streamConfig: "maxAge: 24h\\n", settings: "max_file_store: 2GB\\n", replicas: 3, ${podMonitor}`,
            ),
        );
        const diff = await target.pulumi(["preview", "--diff"]);
        assert.equal(diff.code, 0, diff.stderr);
        assert.match(
            diff.stdout,
            /replicas 5 → 3: eventbus-default-js-3 and eventbus-default-js-4 stop; their data \(emptyDir\) goes with them; a stream replica on them is lost until moved \(nats stream cluster peer-remove <stream> <server>/,
        );
        assert.deepEqual(plannedChanges(previewJson(await target.pulumi(["preview", "--json"]))), [
            "ConfigMapPatch: update",
            "CustomResourceDefinition: read",
            "Servers: update",
            "StatefulSet: update",
        ]);
        // The stream was placed when the bus had three servers: none of its replicas is on the two that go.
        const peers = async () => {
            const cluster = (await jsm.streams.info("default")).cluster!;
            return [cluster.leader, ...(cluster.replicas ?? []).map((r) => r.name)].sort();
        };
        assert.deepEqual(await peers(), ["eventbus-default-js-0", "eventbus-default-js-1", "eventbus-default-js-2"]);
        const stored = (await jsm.streams.info("default")).state.messages;
        assert.ok(stored >= 20);

        await target.up();
        await waitFor(async () => (await podsOf()).length === 3, { timeoutMs: 60_000, what: "two pods to go" });
        const info = await waitFor(() => jsm.streams.info("default"), {
            timeoutMs: 30_000,
            intervalMs: 500,
            what: "the stream's info after the scale-down",
        });
        assert.equal(info.config.num_replicas, 3);
        assert.equal(info.state.messages, stored);
    });

    it("pulumi destroy removes the bus's objects, and its servers stop with their pods", async () => {
        await target.pulumiOk(["destroy", "--yes", "--skip-preview"]);
        assert.equal(await getObject(target.plane, STS), undefined);
        assert.equal(
            await getObject(target.plane, `/api/v1/namespaces/${NS}/configmaps/eventbus-default-js-config`),
            undefined,
        );
        assert.equal(
            await getObject(target.plane, `/api/v1/namespaces/${NS}/secrets/eventbus-default-js-server`),
            undefined,
        );
        await waitFor(async () => (await podsOf()).length === 0, { timeoutMs: 60_000, what: "the pods to go" });
        assert.equal(target.pods.running().size, 0);
    });
});
