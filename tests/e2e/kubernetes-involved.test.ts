/**
 * `examples/involved` (Argo Events' "more involved" JetStream EventBus: five servers on 10Gi volumes of
 * the `standard` class) deployed with the real Pulumi CLI and Kubernetes provider to a real
 * kube-apiserver whose claims are bound to provisioned volumes, with real nats-servers behind the
 * pods: what persistence means to a user, from the first `up` to a `destroy` that keeps the data.
 *
 * The program is the example with one line added: the encryption key comes from the stack's config, so
 * the data on the retained volumes can be read by the bus a later `up` creates. With a generated key,
 * `destroy` deletes the key with the stack and the new bus's servers cannot decrypt their stores.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import type { JetStreamManager } from "@nats-io/jetstream";
import {
    connectToBus,
    getObject,
    KubernetesTarget,
    kubernetesSkipReason,
    startKubernetesTarget,
} from "../support/kube-e2e";
import { Cleanup, waitFor } from "../support/nats";
import { exampleProject, previewJson } from "../support/real-engine";

const EXAMPLE = path.resolve(__dirname, "../../../examples/involved/index.ts");
const NS = "argo-events";
const STS = `/apis/apps/v1/namespaces/${NS}/statefulsets/eventbus-default-js`;
const NANOS_PER_HOUR = 3_600_000_000_000;
const MESSAGES = 100;
/** What the program registers: the encryption key is given, not generated. */
const RESOURCES = 23;
/** A key the user keeps outside the stack (letters only, as nats-server needs). */
const ENCRYPTION_KEY = "OrdersBusKeyKeptInTheTeamVault";

/** The example, with its encryption key from config. */
function program(volumeSize = "10Gi", storageClassName = "standard"): string {
    const text = fs.readFileSync(EXAMPLE, "utf8");
    const changed = text
        .replace(
            `import { EventBus } from "jetstream-eventbus";`,
            `import * as pulumi from "@pulumi/pulumi";\nimport { EventBus } from "jetstream-eventbus";`,
        )
        .replace(`storageClassName: "standard",`, `storageClassName: "${storageClassName}",`)
        .replace(
            `volumeSize: "10Gi",`,
            `volumeSize: "${volumeSize}",\n            encryptionKey: new pulumi.Config().requireSecret("encryptionKey"),`,
        );
    assert.notEqual(changed.indexOf("encryptionKey"), -1, "the example's persistence block moved; update this test");
    return changed;
}

describe(
    "examples/involved on a real control plane: five servers on persistent volumes",
    { skip: kubernetesSkipReason() },
    () => {
        const cleanup = new Cleanup();
        let target: KubernetesTarget;
        let jsm: JetStreamManager;

        before(async () => {
            target = await startKubernetesTarget(cleanup, [NS], exampleProject("involved", { "index.ts": program() }));
            await target.pulumiOk(["config", "set", "--secret", "encryptionKey", ENCRYPTION_KEY]);
        });
        after(() => cleanup.run());

        const claims = async () =>
            (await target.plane.requestOk("GET", `/api/v1/namespaces/${NS}/persistentvolumeclaims`)).items as any[];
        const podsOf = async () =>
            (await target.plane.requestOk("GET", `/api/v1/namespaces/${NS}/pods?labelSelector=eventbus-name%3Ddefault`))
                .items as any[];

        it("pulumi up: five Ready pods, each on a bound 10Gi volume of class standard, and the stream with the example's settings", async () => {
            await target.up();
            assert.equal((await target.plane.requestOk("GET", STS)).status.readyReplicas, 5);

            const bound = await claims();
            assert.deepEqual(
                bound.map((c) => c.metadata.name).sort(),
                [0, 1, 2, 3, 4].map((i) => `eventbus-default-js-vol-eventbus-default-js-${i}`),
            );
            for (const claim of bound) {
                assert.equal(claim.status.phase, "Bound", claim.metadata.name);
                assert.equal(claim.spec.storageClassName, "standard");
                assert.deepEqual(claim.spec.accessModes, ["ReadWriteOnce"]);
                assert.equal(claim.status.capacity.storage, "10Gi");
                const volume = await target.plane.requestOk(
                    "GET",
                    `/api/v1/persistentvolumes/${claim.spec.volumeName}`,
                );
                assert.equal(volume.spec.persistentVolumeReclaimPolicy, "Retain");
            }
            // Each server keeps its store on its pod's volume.
            for (const server of target.pods.running().values()) {
                const claim = bound.find((c) => c.metadata.name.endsWith(`-${server.pod.split("/")[1]}`))!;
                const jsz = (await (await fetch(`${server.monitorUrl}/jsz`)).json()) as {
                    config: { max_storage: number; store_dir: string };
                };
                // settings: "max_file_store: 1GB"; nats-server reads GB as 2^30 bytes.
                assert.equal(jsz.config.max_storage, 1024 ** 3, server.pod);
                assert.ok(
                    jsz.config.store_dir.startsWith(target.pods.volumes().get(`${NS}/${claim.metadata.name}`)!),
                    `${server.pod} stores in ${jsz.config.store_dir}`,
                );
            }

            ({ jsm } = await connectToBus(target, NS, "default", cleanup));
            const info = await jsm.streams.info("default");
            assert.equal(info.config.max_age, 24 * NANOS_PER_HOUR);
            assert.equal(info.config.num_replicas, 3);
            const js = jsm.jetstream();
            for (let i = 0; i < MESSAGES; i++) await js.publish("default.orders.created", `order ${i}`);
            assert.equal((await jsm.streams.info("default")).state.messages, MESSAGES);
        });

        it("pulumi preview right after up plans nothing", async () => {
            const preview = previewJson(await target.pulumi(["preview", "--json", "--expect-no-changes"]));
            // 23: the encryption key is given, not generated.
            assert.deepEqual(preview.changeSummary, { same: RESOURCES });
        });

        const stateOf = async () => ({
            statefulSet: await target.plane.requestOk("GET", STS),
            claims: (await claims())
                .map((c) => `${c.metadata.name} ${c.metadata.uid} ${c.spec.resources.requests.storage}`)
                .sort(),
            pods: (await podsOf()).map((p) => p.metadata.uid).sort(),
        });
        const setProgram = (text: string) => fs.writeFileSync(path.join(target.program.dir, "index.ts"), text);
        const STANDARD = "/apis/storage.k8s.io/v1/storageclasses/standard";

        it("volumeSize 10Gi to 20Gi on a class that does not allow expansion: the preview says what will happen, and up fails before anything changes", async () => {
            await target.plane.requestOk(
                "PATCH",
                STANDARD,
                { allowVolumeExpansion: false },
                "application/merge-patch+json",
            );
            const before = await stateOf();
            setProgram(program("20Gi"));
            try {
                const up = await target.pulumi(["up", "--yes", "--skip-preview"]);
                assert.notEqual(up.code, 0);
                assert.match(
                    up.stdout + up.stderr,
                    /StorageClass standard does not allow volume expansion \(allowVolumeExpansion is not true\), so claim eventbus-default-js-vol-eventbus-default-js-0 cannot grow; nothing was changed/,
                );
                const after = await stateOf();
                assert.equal(after.statefulSet.metadata.uid, before.statefulSet.metadata.uid);
                assert.equal(after.statefulSet.metadata.generation, before.statefulSet.metadata.generation);
                assert.deepEqual(after.claims, before.claims);
                assert.deepEqual(after.pods, before.pods);
            } finally {
                await target.plane.requestOk(
                    "PATCH",
                    STANDARD,
                    { allowVolumeExpansion: true },
                    "application/merge-patch+json",
                );
            }
        });

        it("volumeSize 10Gi to 20Gi: up expands every claim and recreates the StatefulSet with the new size, no pod restarts and no message is lost", async () => {
            const before = await stateOf();
            const eventCount = target.pods.events.length;

            const diff = await target.pulumi(["preview", "--diff"]);
            assert.equal(diff.code, 0, diff.stdout + diff.stderr);
            assert.doesNotMatch(diff.stdout + diff.stderr, /Forbidden/);
            assert.match(
                diff.stdout,
                /volumes 10Gi → 20Gi: each claim eventbus-default-js-vol-eventbus-default-js-0, \.\.\. is expanded in place/,
            );
            assert.match(diff.stdout, /~ size\s*: "10Gi" => "20Gi"/);
            assert.deepEqual(
                previewJson(await target.pulumi(["preview", "--json"]))
                    .steps.filter((s) => s.op !== "same")
                    .map((s) => `${s.op} ${s.urn.split("::").pop()}`)
                    .sort(),
                ["update default-js", "update default-servers"],
            );

            await target.up();
            const after = await stateOf();
            // Every claim is the same object, asking for 20Gi.
            assert.deepEqual(
                after.claims,
                before.claims.map((c) => c.replace(/ 10Gi$/, " 20Gi")),
            );
            // A new StatefulSet with the new claim size, which adopted the same pods: none stopped.
            assert.notEqual(after.statefulSet.metadata.uid, before.statefulSet.metadata.uid);
            assert.equal(after.statefulSet.spec.volumeClaimTemplates[0].spec.resources.requests.storage, "20Gi");
            assert.equal(after.statefulSet.metadata.annotations["jetstream-eventbus/volume-size"], "20Gi");
            assert.deepEqual(after.pods, before.pods);
            assert.deepEqual(target.pods.events.slice(eventCount), []);
            await waitFor(
                async () =>
                    (await podsOf()).every(
                        (p) => p.metadata.ownerReferences?.[0]?.uid === after.statefulSet.metadata.uid,
                    ),
                {
                    timeoutMs: 30_000,
                    what: "the new StatefulSet to adopt every pod",
                },
            );
            assert.equal((await jsm.streams.info("default")).state.messages, MESSAGES);

            // Settled: nothing more to do, and the stream's port-forward follows the new StatefulSet.
            assert.deepEqual(
                previewJson(await target.pulumi(["preview", "--json", "--expect-no-changes"])).changeSummary,
                { same: RESOURCES },
            );
            const refresh = await target.pulumi(["refresh", "--yes", "--expect-no-changes"]);
            assert.equal(refresh.code, 0, refresh.stdout + refresh.stderr);
        });

        it("volumeSize 20Gi to 10Gi, or another storage class: the preview refuses with the steps, and nothing changes", async () => {
            const before = await stateOf();
            setProgram(program("10Gi"));
            const shrink = await target.pulumi(["preview"]);
            assert.notEqual(shrink.code, 0);
            assert.match(
                shrink.stdout + shrink.stderr,
                /jetstream\.persistence\.volumeSize cannot shrink from 20Gi to 10Gi: Kubernetes does not shrink a volume\. Keep 20Gi, or move to a smaller bus\. To move: create a second bus/,
            );

            setProgram(program("20Gi", "fast"));
            const otherClass = await target.pulumi(["preview"]);
            assert.notEqual(otherClass.code, 0);
            assert.match(
                otherClass.stdout + otherClass.stderr,
                /jetstream\.persistence\.storageClassName cannot change from "standard" to "fast" on a running bus: a claim keeps the class it was made with/,
            );
            assert.match(otherClass.stdout + otherClass.stderr, /nats stream backup <stream> <dir>/);

            setProgram(program("20Gi"));
            const after = await stateOf();
            assert.equal(after.statefulSet.metadata.resourceVersion, before.statefulSet.metadata.resourceVersion);
            assert.deepEqual(after.claims, before.claims);
            assert.deepEqual(after.pods, before.pods);
        });

        it("pulumi destroy keeps the claims (Retain) with the stream's data; the next up brings the bus back with its messages", async () => {
            const before = (await claims()).map((c) => `${c.metadata.name}=${c.spec.volumeName}`).sort();
            await target.pulumiOk(["destroy", "--yes", "--skip-preview"]);
            assert.equal(await getObject(target.plane, STS), undefined);
            await waitFor(async () => (await podsOf()).length === 0, { timeoutMs: 90_000, what: "the pods to go" });

            assert.deepEqual((await claims()).map((c) => `${c.metadata.name}=${c.spec.volumeName}`).sort(), before);
            // The stream's replicas left their files on three of the five volumes
            // (store_dir/jetstream/<account>/streams/<stream>).
            const withStream = [...target.pods.volumes().values()].filter((dir) =>
                fs.existsSync(path.join(dir, "store", "jetstream", "js", "streams", "default")),
            );
            assert.equal(withStream.length, 3, [...target.pods.volumes().values()].join(", "));

            await target.up();
            const again = await connectToBus(target, NS, "default", cleanup);
            const info = await again.jsm.streams.info("default");
            assert.equal(info.state.messages, MESSAGES);
            assert.equal(info.config.max_age, 24 * NANOS_PER_HOUR);
            for (const { file, text } of target.program.stateFiles())
                assert.ok(!text.includes(ENCRYPTION_KEY), `the key in ${file}`);
        });
    },
);
