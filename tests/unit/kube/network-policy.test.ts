/** The optional NetworkPolicy: who may reach which port of the bus's pods. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventBus } from "../../../components";
import { renderBus } from "../../support/bus";

const selector = { controller: "eventbus-controller", "eventbus-name": "default", "owner-name": "default" };

describe("jetstream.networkPolicy", () => {
    it("is not created unless asked for", async () => {
        const r = await renderBus("default", { namespace: "argo-events", jetstream: { version: "latest" } });
        assert.equal(r.kubernetesObjects().filter((o) => o.kind === "NetworkPolicy").length, 0);
    });

    it("opens the client port to everyone, routes only to the bus's pods, and monitoring to nobody by default", async () => {
        const r = await renderBus("default", {
            namespace: "argo-events",
            jetstream: { version: "latest", networkPolicy: {} },
        });
        const policy = r.object("NetworkPolicy");
        assert.equal(policy.metadata.name, "eventbus-default-js");
        assert.equal(policy.metadata.namespace, "argo-events");
        assert.deepEqual(policy.spec.podSelector, { matchLabels: selector });
        assert.deepEqual(policy.spec.policyTypes, ["Ingress"]);
        assert.deepEqual(policy.spec.ingress, [
            { ports: [{ protocol: "TCP", port: 4222 }] },
            { ports: [{ protocol: "TCP", port: 6222 }], from: [{ podSelector: { matchLabels: selector } }] },
        ]);
    });

    it("limits clients and monitoring to the namespaces given", async () => {
        const r = await renderBus("default", {
            namespace: "argo-events",
            jetstream: {
                version: "latest",
                networkPolicy: { clientNamespaces: ["apps"], monitoringNamespaces: ["monitoring"] },
            },
        });
        const ingress = r.object("NetworkPolicy").spec.ingress;
        assert.deepEqual(ingress[0], {
            ports: [{ protocol: "TCP", port: 4222 }],
            from: [
                { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "argo-events" } } },
                { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "apps" } } },
            ],
        });
        assert.deepEqual(ingress[2], {
            ports: [
                { protocol: "TCP", port: 8222 },
                { protocol: "TCP", port: 7777 },
            ],
            from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
        });
    });

    it("validates against the Kubernetes OpenAPI schema", async () => {
        const { NetworkPolicy } = await import("kubernetes-models/networking.k8s.io/v1");
        const r = await renderBus("default", {
            namespace: "argo-events",
            jetstream: {
                version: "latest",
                networkPolicy: { clientNamespaces: ["apps"], monitoringNamespaces: ["monitoring"] },
            },
        });
        const { apiVersion: _, kind: __, ...body } = r.object("NetworkPolicy");
        new NetworkPolicy(body).validate();
        assert.throws(() => new NetworkPolicy({ ...body, spec: { ...body.spec, policyTypes: "Ingress" } }).validate());
    });

    it("refuses a namespace name that is not valid", () => {
        assert.throws(
            () =>
                new EventBus("default", {
                    namespace: "argo-events",
                    jetstream: { version: "latest", networkPolicy: { clientNamespaces: ["Apps"] } },
                }),
            (err: Error) =>
                err.message.startsWith("jetstream.networkPolicy.clientNamespaces[0]: ") &&
                /valid Kubernetes namespace/.test(err.message),
        );
    });
});
