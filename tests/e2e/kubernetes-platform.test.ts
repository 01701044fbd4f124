/**
 * `examples/platform` (a platform component with one bus per business domain, all through an explicit
 * Kubernetes provider built from a kubeconfig in the stack's config) deployed with the real Pulumi CLI
 * and Kubernetes provider to a real kube-apiserver. The engine has no ambient kubeconfig: every object,
 * every read and each stream's port-forward must go through the kubeconfig the program was given.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { createNamespace } from "../support/control-plane";
import {
    connectToBus,
    KubernetesTarget,
    kubernetesSkipReason,
    startKubernetesTarget,
    streamProgressLines,
} from "../support/kube-e2e";
import { Cleanup } from "../support/nats";
import { exampleProject, previewJson } from "../support/real-engine";

/** Application namespaces that exist before the platform (the example creates the buses' own namespaces). */
const APPLICATION_NAMESPACES = ["payments-api", "payments-jobs"];

/** Argo Events' EventBus CRD as the cluster would have it once Argo Events is installed (schema left open). */
const ARGO_EVENTBUS_CRD = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "eventbuses.argoproj.io" },
    spec: {
        group: "argoproj.io",
        names: {
            kind: "EventBus",
            listKind: "EventBusList",
            plural: "eventbuses",
            singular: "eventbus",
            shortNames: ["eb"],
        },
        scope: "Namespaced",
        versions: [
            {
                name: "v1alpha1",
                served: true,
                storage: true,
                schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
            },
        ],
    },
};

describe(
    "examples/platform on a real control plane: two domains through an explicit provider",
    { skip: kubernetesSkipReason() },
    () => {
        const cleanup = new Cleanup();
        let target: KubernetesTarget;

        before(async () => {
            target = await startKubernetesTarget(cleanup, [], exampleProject("platform"), { ambientKubeconfig: false });
            for (const namespace of APPLICATION_NAMESPACES) await createNamespace(target.plane, namespace);
            await target.plane.requestOk(
                "POST",
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                ARGO_EVENTBUS_CRD,
            );
            await target.pulumiOk(["config", "set", "--secret", "kubeconfig", "--", target.plane.kubeconfig]);
        });
        after(() => cleanup.run());

        it("pulumi up deploys both buses through the kubeconfig in config alone, each stream through its own port-forward", async (t) => {
            const up = await target.up();
            // What a user saw while a stream waited: a nats-server 2.10 cluster that left a server out of its meta group shows here.
            for (const line of streamProgressLines(up.stdout)) t.diagnostic(line);
            for (const domain of ["payments", "orders"]) {
                const sts = await target.plane.requestOk(
                    "GET",
                    `/apis/apps/v1/namespaces/${domain}/statefulsets/eventbus-${domain}-js`,
                );
                assert.equal(sts.status.readyReplicas, 3, domain);
                const claims = (
                    await target.plane.requestOk("GET", `/api/v1/namespaces/${domain}/persistentvolumeclaims`)
                ).items as any[];
                assert.equal(claims.length, 3, domain);
                // No class given: the cluster's default class, filled in by admission.
                assert.ok(
                    claims.every(
                        (c) =>
                            c.status.phase === "Bound" &&
                            c.spec.storageClassName === "standard" &&
                            c.status.capacity.storage === "10Gi",
                    ),
                    domain,
                );
                const { jsm } = await connectToBus(target, domain, domain, cleanup);
                const streams = await jsm.streams.list().next();
                assert.equal(streams.length, 1, domain);
                assert.equal(streams[0]!.config.num_replicas, 3);
            }
            // The servers run the release the platform pins.
            for (const server of target.pods.running().values()) {
                const varz = (await (await fetch(`${server.monitorUrl}/varz`)).json()) as { version: string };
                assert.equal(varz.version, "2.10.29", server.pod);
            }
        });

        it("each application namespace gets an Argo EventBus named default pointing at its domain's bus, with the client Secret", async () => {
            const expected: Record<string, string> = {
                "payments-api": "payments",
                "payments-jobs": "payments",
                orders: "orders",
            };
            for (const [namespace, domain] of Object.entries(expected)) {
                const eventBus = await target.plane.requestOk(
                    "GET",
                    `/apis/argoproj.io/v1alpha1/namespaces/${namespace}/eventbuses/default`,
                );
                assert.equal(
                    eventBus.spec.jetstreamExotic.url,
                    `nats://eventbus-${domain}-js-svc.${domain}.svc:4222`,
                    namespace,
                );
                assert.equal(
                    eventBus.spec.jetstreamExotic.accessSecret.name,
                    `eventbus-${domain}-js-client-auth`,
                    namespace,
                );
                const secret = await target.plane.requestOk(
                    "GET",
                    `/api/v1/namespaces/${namespace}/secrets/eventbus-${domain}-js-client-auth`,
                );
                assert.ok("client-auth" in secret.data, namespace);
            }
        });

        it("pulumi preview right after up plans nothing: only the two reads of Argo's CRD, which every preview makes", async () => {
            const preview = previewJson(await target.pulumi(["preview", "--json", "--expect-no-changes"]));
            assert.deepEqual(Object.keys(preview.changeSummary).sort(), ["read", "same"]);
            assert.equal(preview.changeSummary.read, 2);
        });

        it("a domain's bus from 3 servers to 1: the preview fails through the platform component, naming the field and how to keep the streams", async () => {
            const file = path.join(target.program.dir, "index.ts");
            const original = fs.readFileSync(file, "utf8");
            const changed = original.replace(
                `{ name: "orders", applicationNamespaces: ["orders"] }`,
                `{ name: "orders", applicationNamespaces: ["orders"], replicas: 1 }`,
            );
            assert.notEqual(changed, original, "the example's domains moved; update this test");
            fs.writeFileSync(file, changed);
            try {
                const preview = await target.pulumi(["preview"]);
                assert.notEqual(preview.code, 0);
                assert.match(
                    preview.stdout + preview.stderr,
                    /jetstream\.replicas 3 → 1 turns the cluster into a standalone server, which does not take over the cluster's streams\. Back up each stream \(nats stream backup <stream> <dir>\)/,
                );
            } finally {
                fs.writeFileSync(file, original);
            }
        });
    },
);
