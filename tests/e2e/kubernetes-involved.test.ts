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
import { connectToBus, getObject, KubernetesTarget, kubernetesSkipReason, startKubernetesTarget } from "../support/kube-e2e";
import { Cleanup, waitFor } from "../support/nats";
import { previewJson, typescriptProject } from "../support/real-engine";

const EXAMPLE = path.resolve(__dirname, "../../../examples/involved/index.ts");
const NS = "argo-events";
const STS = `/apis/apps/v1/namespaces/${NS}/statefulsets/eventbus-default-js`;
const NANOS_PER_HOUR = 3_600_000_000_000;
const MESSAGES = 100;
/** A key the user keeps outside the stack (letters only, as nats-server needs). */
const ENCRYPTION_KEY = "OrdersBusKeyKeptInTheTeamVault";

/** The example, with its encryption key from config. */
function program(volumeSize = "10Gi"): string {
    const text = fs.readFileSync(EXAMPLE, "utf8");
    const changed = text
        .replace(`import { EventBus } from "jetstream-eventbus";`, `import * as pulumi from "@pulumi/pulumi";\nimport { EventBus } from "jetstream-eventbus";`)
        .replace(`volumeSize: "10Gi",`, `volumeSize: "${volumeSize}",\n            encryptionKey: new pulumi.Config().requireSecret("encryptionKey"),`);
    assert.notEqual(changed.indexOf("encryptionKey"), -1, "the example's persistence block moved; update this test");
    return changed;
}

describe("examples/involved on a real control plane: five servers on persistent volumes", { skip: kubernetesSkipReason() }, () => {
    const cleanup = new Cleanup();
    let target: KubernetesTarget;
    let jsm: JetStreamManager;

    before(async () => {
        target = await startKubernetesTarget(cleanup, [NS], typescriptProject("involved", program()));
        await target.pulumiOk(["config", "set", "--secret", "encryptionKey", ENCRYPTION_KEY]);
    });
    after(() => cleanup.run());

    const claims = async () => (await target.plane.requestOk("GET", `/api/v1/namespaces/${NS}/persistentvolumeclaims`)).items as any[];
    const podsOf = async () => (await target.plane.requestOk("GET", `/api/v1/namespaces/${NS}/pods?labelSelector=eventbus-name%3Ddefault`)).items as any[];

    it("pulumi up: five Ready pods, each on a bound 10Gi volume of class standard, and the stream with the example's settings", async () => {
        await target.up();
        assert.equal((await target.plane.requestOk("GET", STS)).status.readyReplicas, 5);

        const bound = await claims();
        assert.deepEqual(bound.map((c) => c.metadata.name).sort(), [0, 1, 2, 3, 4].map((i) => `eventbus-default-js-vol-eventbus-default-js-${i}`));
        for (const claim of bound) {
            assert.equal(claim.status.phase, "Bound", claim.metadata.name);
            assert.equal(claim.spec.storageClassName, "standard");
            assert.deepEqual(claim.spec.accessModes, ["ReadWriteOnce"]);
            assert.equal(claim.status.capacity.storage, "10Gi");
            const volume = await target.plane.requestOk("GET", `/api/v1/persistentvolumes/${claim.spec.volumeName}`);
            assert.equal(volume.spec.persistentVolumeReclaimPolicy, "Retain");
        }
        // Each server keeps its store on its pod's volume.
        for (const server of target.pods.running().values()) {
            const claim = bound.find((c) => c.metadata.name.endsWith(`-${server.pod.split("/")[1]}`))!;
            const jsz = (await (await fetch(`${server.monitorUrl}/jsz`)).json()) as { config: { max_storage: number; store_dir: string } };
            // settings: "max_file_store: 1GB"; nats-server reads GB as 2^30 bytes.
            assert.equal(jsz.config.max_storage, 1024 ** 3, server.pod);
            assert.ok(jsz.config.store_dir.startsWith(target.pods.volumes().get(`${NS}/${claim.metadata.name}`)!), `${server.pod} stores in ${jsz.config.store_dir}`);
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
        // 19: the encryption key is given, not generated.
        assert.deepEqual(preview.changeSummary, { same: 19 });
    });

    it("a persistence.volumeSize change: the real provider plans a replacement of the StatefulSet, the API server refuses its dry run, and the preview fails with nothing changed", async () => {
        const generation = (await target.plane.requestOk("GET", STS)).metadata.generation;
        const claimUids = (await claims()).map((c) => c.metadata.uid).sort();
        const podUids = (await podsOf()).map((p) => p.metadata.uid).sort();
        fs.writeFileSync(path.join(target.program.dir, "index.ts"), program("20Gi"));

        const preview = await target.pulumi(["preview", "--diff"]);
        assert.notEqual(preview.code, 0);
        assert.match(preview.stdout, /\+-kubernetes:apps\/v1:StatefulSet: \(replace\)/);
        assert.match(preview.stdout, /~ storage: "10Gi" => "20Gi"/);
        assert.match(preview.stdout + preview.stderr, /StatefulSet.apps "eventbus-default-js" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas'/);

        assert.equal((await target.plane.requestOk("GET", STS)).metadata.generation, generation);
        assert.deepEqual((await claims()).map((c) => c.metadata.uid).sort(), claimUids);
        assert.deepEqual((await podsOf()).map((p) => p.metadata.uid).sort(), podUids);
        fs.writeFileSync(path.join(target.program.dir, "index.ts"), program());
    });

    it("pulumi destroy keeps the claims (Retain) with the stream's data; the next up brings the bus back with its messages", async () => {
        const before = (await claims()).map((c) => `${c.metadata.name}=${c.spec.volumeName}`).sort();
        await target.pulumiOk(["destroy", "--yes", "--skip-preview"]);
        assert.equal(await getObject(target.plane, STS), undefined);
        await waitFor(async () => (await podsOf()).length === 0, { timeoutMs: 90_000, what: "the pods to go" });

        assert.deepEqual((await claims()).map((c) => `${c.metadata.name}=${c.spec.volumeName}`).sort(), before);
        // The stream's replicas left their files on three of the five volumes (store_dir/jetstream/<account>/streams/<stream>).
        const withStream = [...target.pods.volumes().values()].filter((dir) => fs.existsSync(path.join(dir, "store", "jetstream", "js", "streams", "default")));
        assert.equal(withStream.length, 3, [...target.pods.volumes().values()].join(", "));

        await target.up();
        const again = await connectToBus(target, NS, "default", cleanup);
        const info = await again.jsm.streams.info("default");
        assert.equal(info.state.messages, MESSAGES);
        assert.equal(info.config.max_age, 24 * NANOS_PER_HOUR);
        for (const { file, text } of target.program.stateFiles()) assert.ok(!text.includes(ENCRYPTION_KEY), `the key in ${file}`);
    });
});
