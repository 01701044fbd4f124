/**
 * The servers' day-2 rules: which replica and volume changes are refused at preview (with the steps
 * to take), what the preview says each allowed change does, and the StatefulSet the volume growth
 * creates again. What the real provider and API server then do is proven in
 * tests/e2e/kubernetes-involved.test.ts and kubernetes-simple.test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkServers, describeChange, planServersDiff, refusal, ServersProps } from "../../../components/kube/servers";
import { applyManagerOf, recreatedStatefulSet } from "../../../components/kube/servers-impl";
import { runBus } from "../../support/exotic";

const VOLUMES = {
    size: "10Gi",
    storageClassName: "standard",
    accessMode: "ReadWriteOnce",
    claimTemplate: "eventbus-default-js-vol",
    whenScaled: "Retain" as const,
};

function servers(change: Partial<ServersProps> = {}): ServersProps {
    return {
        namespace: "argo-events",
        statefulSet: "eventbus-default-js",
        replicas: 3,
        volumes: VOLUMES,
        allowDataLoss: false,
        kubernetes: {},
        change: "",
        ...change,
    };
}

describe("volume changes", () => {
    it("growing is allowed, and the preview says how it is done", () => {
        const grown = servers({ volumes: { ...VOLUMES, size: "20Gi" } });
        assert.equal(refusal(servers(), grown), undefined);
        assert.equal(
            describeChange(servers(), grown),
            "volumes 10Gi → 20Gi: each claim eventbus-default-js-vol-eventbus-default-js-0, ... is expanded in place (its StorageClass must allow expansion), " +
                "then the StatefulSet is recreated with the new claim size without stopping its pods (deleted with propagation Orphan, created again, the pods adopted)",
        );
        assert.deepEqual(planServersDiff(servers(), checkServers(servers(), grown)), { changes: true });
    });

    it("the same size written another way is no change", () => {
        assert.equal(refusal(servers(), servers({ volumes: { ...VOLUMES, size: "10240Mi" } })), undefined);
    });

    it("shrinking, another class, another access mode, adding or removing persistence: refused, naming the field and the way out", () => {
        const cases: [Partial<ServersProps>, RegExp][] = [
            [
                { volumes: { ...VOLUMES, size: "5Gi" } },
                /^jetstream\.persistence\.volumeSize cannot shrink from 10Gi to 5Gi: Kubernetes does not shrink a volume\. Keep 10Gi/,
            ],
            [
                { volumes: { ...VOLUMES, storageClassName: "fast" } },
                /^jetstream\.persistence\.storageClassName cannot change from "standard" to "fast" on a running bus/,
            ],
            [{ volumes: { ...VOLUMES, storageClassName: "" } }, /cannot change from "standard" to the default class/],
            [
                { volumes: { ...VOLUMES, accessMode: "ReadWriteMany" } },
                /^jetstream\.persistence\.accessMode cannot change from ReadWriteOnce to ReadWriteMany/,
            ],
            [{ volumes: undefined }, /^jetstream\.persistence cannot be removed from a running bus/],
        ];
        for (const [change, expected] of cases) {
            const problem = refusal(servers(), servers(change));
            assert.ok(problem, JSON.stringify(change));
            assert.match(problem, expected);
            assert.match(problem, /nats stream backup <stream> <dir>/, "names how to move the streams");
            assert.throws(() => planServersDiff(servers(), servers(change)), { message: problem });
        }
        assert.match(
            refusal(servers({ volumes: undefined }), servers())!,
            /^jetstream\.persistence cannot be added to a running bus/,
        );
    });
});

describe("replica changes", () => {
    it("1 to 3 is refused unless data loss is allowed: nats-server deletes a standalone server's streams when it joins a cluster", () => {
        const problem = refusal(servers({ replicas: 1 }), servers({ replicas: 3 }));
        assert.match(problem!, /^jetstream\.replicas 1 → 3 turns the standalone server into a cluster member/);
        assert.match(problem!, /Detected orphaned stream/);
        assert.match(problem!, /jetstream\.streamLifecycle\.allowDataLoss: true/);
        assert.equal(refusal(servers({ replicas: 1 }), servers({ replicas: 3, allowDataLoss: true })), undefined);
        assert.match(
            describeChange(servers({ replicas: 1 }), servers({ replicas: 3, allowDataLoss: true })),
            /the streams of the standalone server are lost/,
        );
        assert.match(
            refusal(servers({ replicas: 3 }), servers({ replicas: 1 }))!,
            /^jetstream\.replicas 3 → 1 turns the cluster into a standalone server/,
        );
    });

    it("3 to 5: says which servers start, on which new claims, and that streams keep their replicas", () => {
        assert.equal(refusal(servers(), servers({ replicas: 5 })), undefined);
        assert.equal(
            describeChange(servers(), servers({ replicas: 5 })),
            "replicas 3 → 5: eventbus-default-js-3 and eventbus-default-js-4 start and join the cluster on new claims eventbus-default-js-vol-eventbus-default-js-3 and eventbus-default-js-vol-eventbus-default-js-4; " +
                "streams keep their replicas and servers until told otherwise (nats stream edit --replicas, or the bus's stream settings)",
        );
    });

    it("5 to 3: says which servers stop, that their claims are kept, and how to move stream replicas and meta peers off them", () => {
        const text = describeChange(servers({ replicas: 5 }), servers());
        assert.match(
            text,
            /^replicas 5 → 3: eventbus-default-js-3 and eventbus-default-js-4 stop; their claims eventbus-default-js-vol-eventbus-default-js-3 and eventbus-default-js-vol-eventbus-default-js-4 are kept with their data \(whenScaled Retain\)/,
        );
        assert.match(text, /nats stream cluster peer-remove <stream> <server>/);
        assert.match(text, /nats server raft peer-remove <server>/);
        assert.match(
            describeChange(servers({ replicas: 5, volumes: undefined }), servers({ volumes: undefined })),
            /their data \(emptyDir\) goes with them/,
        );
    });

    it("5 to 3 with whenScaled Delete deletes claims: refused unless data loss is allowed", () => {
        const deleting = { ...VOLUMES, whenScaled: "Delete" as const };
        const problem = refusal(servers({ replicas: 5, volumes: deleting }), servers({ volumes: deleting }));
        assert.match(
            problem!,
            /deletes the claims eventbus-default-js-vol-eventbus-default-js-3 and eventbus-default-js-vol-eventbus-default-js-4 \(persistence\.retentionPolicy\.whenScaled is Delete\)/,
        );
        assert.equal(
            refusal(servers({ replicas: 5, volumes: deleting }), servers({ volumes: deleting, allowDataLoss: true })),
            undefined,
        );
    });
});

describe("what the preview shows", () => {
    it("an unchanged bus keeps the recorded text, so it previews with no change", () => {
        const recorded = checkServers(servers(), servers({ replicas: 5 }));
        assert.match(recorded.change, /^replicas 3 → 5/);
        const again = checkServers(recorded, servers({ replicas: 5 }));
        assert.equal(again.change, recorded.change);
        assert.deepEqual(planServersDiff(recorded, again), { changes: false });
    });

    it("a new bus starts with no text, and a changed kubeconfig alone is no change", () => {
        assert.equal(checkServers(undefined, servers()).change, "");
        assert.equal(checkServers({}, servers()).change, "");
        assert.deepEqual(planServersDiff(servers(), servers({ kubernetes: { kubeconfig: "other" } })), {
            changes: false,
        });
    });
});

describe("the StatefulSet created again with bigger claims", () => {
    const live = {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: {
            name: "eventbus-default-js",
            namespace: "argo-events",
            uid: "old-uid",
            resourceVersion: "42",
            generation: 3,
            creationTimestamp: "2026-11-30T00:00:00Z",
            labels: { app: "nats" },
            annotations: { "jetstream-eventbus/volume-size": "10Gi" },
            managedFields: [
                {
                    manager: "kube-controller-manager",
                    operation: "Update",
                    subresource: "status",
                    fieldsV1: { "f:status": {} },
                },
                { manager: "pulumi-kubernetes-0abc", operation: "Apply", fieldsV1: { "f:spec": {} } },
            ],
        },
        spec: {
            replicas: 5,
            volumeClaimTemplates: [
                {
                    metadata: { name: "eventbus-default-js-vol" },
                    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Gi" } } },
                },
            ],
            template: { metadata: { labels: { app: "nats" } }, spec: { containers: [] } },
        },
        status: { replicas: 5 },
    };

    it("is the live object with the new size, without what the API server owns", () => {
        const object = recreatedStatefulSet(live, { ...VOLUMES, size: "20Gi" }, "jetstream-eventbus/volume-size");
        assert.deepEqual(object.metadata, {
            name: "eventbus-default-js",
            namespace: "argo-events",
            labels: { app: "nats" },
            annotations: { "jetstream-eventbus/volume-size": "20Gi" },
        });
        assert.equal(object.spec.volumeClaimTemplates[0].spec.resources.requests.storage, "20Gi");
        assert.deepEqual(object.spec.volumeClaimTemplates[0].spec.accessModes, ["ReadWriteOnce"]);
        assert.deepEqual(
            object.spec.template,
            live.spec.template,
            "the same pod template: the adopted pods do not roll",
        );
        assert.equal(object.status, undefined);
        assert.equal(
            live.spec.volumeClaimTemplates[0].spec.resources.requests.storage,
            "10Gi",
            "the live object is left alone",
        );
    });

    it("is applied by the manager that applied it before, so the provider's next update meets no conflict", () => {
        assert.equal(applyManagerOf(live), "pulumi-kubernetes-0abc");
        assert.equal(applyManagerOf({ metadata: {} }), "jetstream-eventbus");
    });
});

describe("the servers resource of a bus", () => {
    it("carries the replicas, the volumes and the stream lifecycle's allowDataLoss; an exotic bus has none", async () => {
        const run = await runBus("default", {
            namespace: "argo-events",
            jetstream: {
                version: "latest",
                replicas: 5,
                persistence: { storageClassName: "standard", volumeSize: "10Gi" },
                streamLifecycle: { allowDataLoss: true },
            },
        });
        const registered = run.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/jetstream:Servers");
        assert.equal(registered.length, 1);
        const inputs = registered[0].inputs;
        assert.equal(inputs.replicas, 5);
        assert.deepEqual(inputs.volumes, {
            size: "10Gi",
            storageClassName: "standard",
            accessMode: "ReadWriteOnce",
            claimTemplate: "eventbus-default-js-vol",
            whenScaled: "Retain",
        });
        assert.equal(inputs.allowDataLoss, true);
        assert.equal(inputs.statefulSet, "eventbus-default-js");

        const exotic = await runBus("default", {
            namespace: "argo-events",
            jetstreamExotic: { url: "nats://nats:4222" },
        });
        assert.equal(exotic.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/jetstream:Servers").length, 0);
    });
});
