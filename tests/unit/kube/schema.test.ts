/**
 * Every Kubernetes object the bus sends to the provider validates against the Kubernetes OpenAPI
 * schema (kubernetes-models), for the configurations users actually write — and the validation
 * is shown to be able to fail.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { renderBus } from "../../support/bus";
import type { EventBusArgs } from "../../../components";

interface Model {
    validate(): void;
}
type ModelClass = new (data: any) => Model;

/** kind -> kubernetes-models class, loaded in `before` (the package is ESM only). */
let MODELS: Record<string, ModelClass>;

before(async () => {
    const core = await import("kubernetes-models/v1");
    const apps = await import("kubernetes-models/apps/v1");
    const policy = await import("kubernetes-models/policy/v1");
    const networking = await import("kubernetes-models/networking.k8s.io/v1");
    MODELS = {
        "v1/Secret": core.Secret,
        "v1/ConfigMap": core.ConfigMap,
        "v1/Service": core.Service,
        "apps/v1/StatefulSet": apps.StatefulSet,
        "policy/v1/PodDisruptionBudget": policy.PodDisruptionBudget,
        "networking.k8s.io/v1/NetworkPolicy": networking.NetworkPolicy,
    };
});

function modelOf(object: any): ModelClass {
    const model = MODELS[`${object.apiVersion}/${object.kind}`];
    assert.ok(model, `no kubernetes-models class for ${object.apiVersion} ${object.kind}`);
    return model;
}

/** Validates one object, turning the schema error into an assertion message naming the object. */
function validate(object: any): void {
    const Model = modelOf(object);
    try {
        new Model(object).validate();
    } catch (error) {
        assert.fail(`${object.kind} ${object.metadata?.name} does not validate: ${(error as Error).message}`);
    }
}

function expectInvalid(object: any, what: string): void {
    const Model = modelOf(object);
    assert.throws(() => new Model(object).validate(), `${object.kind} with ${what} should not validate`);
}

const EVERY_OPTION: EventBusArgs = {
    namespace: "argo-events",
    busName: "full",
    clusterDomain: "corp.example",
    labels: { team: "platform" },
    jetstream: {
        version: "2.10.29",
        replicas: 3,
        containerTemplate: {
            resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } },
            imagePullPolicy: "IfNotPresent",
            securityContext: {
                runAsNonRoot: true,
                allowPrivilegeEscalation: false,
                capabilities: { drop: ["ALL"] },
                readOnlyRootFilesystem: true,
            },
        },
        reloaderContainerTemplate: { resources: { limits: { cpu: "50m", memory: "64Mi" } }, imagePullPolicy: "Always" },
        metricsContainerTemplate: { resources: { requests: { cpu: "10m", memory: "32Mi" } }, imagePullPolicy: "Never" },
        persistence: {
            storageClassName: "standard",
            accessMode: "ReadWriteOncePod",
            volumeSize: "10Gi",
            retentionPolicy: { whenDeleted: "Delete", whenScaled: "Retain" },
        },
        metadata: {
            labels: { tier: "messaging" },
            annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": "7777" },
        },
        nodeSelector: { "kubernetes.io/os": "linux" },
        tolerations: [{ key: "dedicated", operator: "Equal", value: "nats", effect: "NoSchedule" }],
        securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            fsGroup: 1000,
            seccompProfile: { type: "RuntimeDefault" },
        },
        imagePullSecrets: [{ name: "regcred" }],
        priorityClassName: "messaging-critical",
        priority: 1000000,
        serviceAccountName: "nats",
        settings: "max_memory_store: 512MB\nmax_file_store: 8GB\n",
        startArgs: ["-D"],
        streamConfig: "maxAge: 24h\nreplicas: 3\n",
        maxPayload: "8MB",
        images: { registry: "registry.example.com/mirror" },
        topologySpreadConstraints: [
            {
                maxSkew: 1,
                topologyKey: "topology.kubernetes.io/zone",
                whenUnsatisfiable: "DoNotSchedule",
                labelSelector: { matchLabels: { "eventbus-name": "full" } },
            },
        ],
        podDisruptionBudget: true,
        lameDuckDuration: "45s",
        lameDuckGracePeriod: "15s",
        terminationGracePeriodSeconds: 90,
    },
};

const SCHEDULING: EventBusArgs = {
    namespace: "argo-events",
    jetstream: {
        version: "latest",
        affinity: {
            podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [
                    {
                        topologyKey: "kubernetes.io/hostname",
                        labelSelector: {
                            matchLabels: { controller: "eventbus-controller", "eventbus-name": "default" },
                        },
                    },
                ],
            },
            nodeAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                    {
                        weight: 50,
                        preference: { matchExpressions: [{ key: "node-role", operator: "In", values: ["messaging"] }] },
                    },
                ],
            },
        },
        tolerations: [
            { key: "dedicated", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
            { operator: "Exists" },
        ],
        topologySpreadConstraints: [
            {
                maxSkew: 1,
                topologyKey: "topology.kubernetes.io/zone",
                whenUnsatisfiable: "ScheduleAnyway",
                labelSelector: { matchLabels: { "eventbus-name": "default" } },
            },
            {
                maxSkew: 2,
                topologyKey: "kubernetes.io/hostname",
                whenUnsatisfiable: "DoNotSchedule",
                labelSelector: { matchLabels: { "eventbus-name": "default" } },
                minDomains: 2,
            },
        ],
    },
};

const BASE = ["ConfigMap", "Secret", "Secret", "Service", "StatefulSet"];
const WITH_PDB = [...BASE, "PodDisruptionBudget"].sort();

/** Label, arguments, and the kinds the bus must emit (so every kind is really validated). */
const CONFIGURATIONS: [string, EventBusArgs, string[]][] = [
    ["1 replica", { namespace: "argo-events", jetstream: { version: "latest", replicas: 1 } }, BASE],
    ["3 replicas (the default)", { namespace: "argo-events", jetstream: { version: "latest" } }, WITH_PDB],
    [
        "5 replicas with default persistence",
        { namespace: "argo-events", jetstream: { version: "latest", replicas: 5, persistence: {} } },
        WITH_PDB,
    ],
    ["version 2.9.1", { namespace: "argo-events", jetstream: { version: "2.9.1" } }, WITH_PDB],
    ["version 2.14.4-alpine", { namespace: "argo-events", jetstream: { version: "2.14.4-alpine" } }, WITH_PDB],
    ["every optional field set", EVERY_OPTION, WITH_PDB],
    ["affinity, tolerations and topology spread constraints", SCHEDULING, WITH_PDB],
];

for (const [label, args, kinds] of CONFIGURATIONS) {
    describe(`schema: ${label}`, () => {
        let objects: any[];
        before(async () => {
            objects = (await renderBus("default", args)).kubernetesObjects();
        });

        it(`emits ${[...new Set(kinds)].join(", ")}`, () => {
            assert.deepEqual(objects.map((o) => o.kind).sort(), [...kinds].sort());
        });

        it("every emitted Kubernetes object validates against the OpenAPI schema", () => {
            for (const object of objects) {
                validate(object);
            }
        });
    });
}

describe("schema: every optional field set reaches the objects validated", () => {
    it("the StatefulSet carries the claim template, probes, resources and scheduling fields", async () => {
        const sts = (await renderBus("default", EVERY_OPTION)).object("StatefulSet");
        assert.equal(sts.spec.volumeClaimTemplates.length, 1);
        assert.deepEqual(sts.spec.persistentVolumeClaimRetentionPolicy, {
            whenDeleted: "Delete",
            whenScaled: "Retain",
        });
        const pod = sts.spec.template.spec;
        assert.equal(pod.priority, 1000000);
        assert.equal(pod.topologySpreadConstraints.length, 1);
        assert.deepEqual(pod.containers[0].resources.limits, { cpu: "2", memory: "2Gi" });
        validate(sts);
    });
});

describe("schema validation can fail", () => {
    let objects: any[];
    const find = (kind: string) => structuredClone(objects.find((o) => o.kind === kind));
    before(async () => {
        objects = (
            await renderBus("default", { namespace: "argo-events", jetstream: { version: "latest", persistence: {} } })
        ).kubernetesObjects();
    });

    it("the unmodified objects validate (so the failures below come from the change)", () => {
        for (const object of objects) {
            validate(object);
        }
    });

    it("rejects a StatefulSet with replicas 'three'", () => {
        const sts = find("StatefulSet");
        sts.spec.replicas = "three";
        expectInvalid(sts, 'replicas "three"');
    });

    it("rejects a StatefulSet whose container has no name", () => {
        const sts = find("StatefulSet");
        delete sts.spec.template.spec.containers[0].name;
        expectInvalid(sts, "a nameless container");
    });

    it("rejects a StatefulSet with a string containerPort", () => {
        const sts = find("StatefulSet");
        sts.spec.template.spec.containers[0].ports[0].containerPort = "client";
        expectInvalid(sts, "containerPort 'client'");
    });

    it("rejects a Service with a port number as text", () => {
        const svc = find("Service");
        svc.spec.ports[0].port = "4222";
        expectInvalid(svc, 'port "4222"');
    });

    it("rejects a ConfigMap whose data value is not a string", () => {
        const cm = find("ConfigMap");
        cm.data["nats-js"] = 42;
        expectInvalid(cm, "numeric data");
    });

    it("rejects a PodDisruptionBudget whose selector is a string", () => {
        const pdb = find("PodDisruptionBudget");
        pdb.spec.selector = "eventbus-name=default";
        expectInvalid(pdb, "a string selector");
    });
});
