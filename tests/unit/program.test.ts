/**
 * The repository's own Pulumi program (index.ts) driven by stack configuration, under the mocks.
 *
 * Pulumi reads PULUMI_CONFIG when its runtime is first loaded, so it is set before anything
 * requires @pulumi/pulumi; this file therefore runs in its own process (as every test file does).
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";

process.env.PULUMI_CONFIG = JSON.stringify({
    "jetstream-eventbus:namespace": "argo-events",
    "jetstream-eventbus:labels": JSON.stringify({ team: "platform" }),
    "jetstream-eventbus:spec": JSON.stringify({ jetstream: { version: "latest", replicas: 5, maxPayload: "2MB" } }),
});

// Loaded only now, after the configuration is in the environment.
const { testMocks, KUBERNETES_KINDS } = require("../support/bus") as typeof import("../support/bus");
const { isSecretOutput, resolve } = require("../support/mocks") as typeof import("../support/mocks");
const rpcSettings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

describe("index.ts, the stack's own program", () => {
    let program: any;
    let objects: any[];
    const only = (kind: string) => {
        const found = objects.filter((o) => o.kind === kind);
        assert.equal(found.length, 1, `one ${kind}`);
        return found[0];
    };

    before(async () => {
        const mocks = testMocks();
        mocks.reset();
        program = require("../../index.js");
        await resolve(program.url);
        await rpcSettings.waitForRPCs();
        objects = mocks.resources
            .filter((r) => KUBERNETES_KINDS[r.type])
            .map((r) => ({ kind: KUBERNETES_KINDS[r.type], ...r.inputs }));
    });

    it("names the bus default when config has no name, in the configured namespace", () => {
        assert.deepEqual(objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`).sort(), [
            "ConfigMap argo-events/eventbus-default-js-config",
            "PodDisruptionBudget argo-events/eventbus-default-js-pdb",
            "Secret argo-events/eventbus-default-js-client-auth",
            "Secret argo-events/eventbus-default-js-server",
            "Service argo-events/eventbus-default-js-svc",
            "StatefulSet argo-events/eventbus-default-js",
        ]);
    });

    it("takes the jetstream spec from config: 5 replicas of nats:2.14.4, max_payload 2MB", () => {
        const sts = only("StatefulSet");
        assert.equal(sts.spec.replicas, 5);
        assert.equal(sts.spec.template.spec.containers[0].image, "nats:2.14.4");
        assert.match(only("ConfigMap").data["nats-js"], /^max_payload: 2097152$/m);
    });

    it("puts the configured labels on the StatefulSet", () => {
        assert.equal(only("StatefulSet").metadata.labels.team, "platform");
        assert.equal(only("Service").metadata.labels.team, undefined);
    });

    it("exports the bus outputs, the password as a secret", async () => {
        assert.equal(await resolve(program.url), "nats://eventbus-default-js-svc.argo-events.svc:4222");
        assert.equal(await resolve(program.namespace), "argo-events");
        assert.equal(await resolve(program.serviceName), "eventbus-default-js-svc");
        assert.equal(await resolve(program.statefulSetName), "eventbus-default-js");
        assert.equal(await resolve(program.clientSecretName), "eventbus-default-js-client-auth");
        assert.equal(await resolve(program.streamName), "default");
        assert.match(await resolve(program.caCert), /^-----BEGIN CERTIFICATE-----/);
        assert.equal(await isSecretOutput(program.password), true);
    });
});
