/**
 * The stream reaches the cluster the bus's objects went to: with an explicit Kubernetes provider the
 * port-forward needs that provider's kubeconfig (refused at preview without it), with the default
 * provider it follows the stack's `kubernetes:kubeconfig` and `kubernetes:context`, and pods that
 * another StatefulSet owns (another cluster's bus of the same name) are refused.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { EventBus, EventBusArgs, InputError } from "../../../components";
import { explicitKubernetesProvider, portForwardCluster } from "../../../components/kube/target-cluster";
import { foreignPods } from "../../../components/stream/tunnel";
import { resolveStreamSpec } from "../../../components/stream/model";
import { planDiff } from "../../../components/stream/provider-impl";
import { toStreamView } from "../../../components/stream/view";
import { testMocks } from "../../support/bus";
import { resolve } from "../../support/mocks";

// The SDK's own setter of stack configuration, as the engine fills it in.
const runtimeConfig = require("@pulumi/pulumi/runtime/config") as {
    setConfig(key: string, value: string): void;
    setAllConfig(config: Record<string, string>): void;
};
const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

const STREAM_TYPE = "pulumi-nodejs:dynamic/jetstream:Stream";
const KUBECONFIG =
    "apiVersion: v1\nkind: Config\nclusters:\n- name: east\n  cluster: {server: https://east.example:6443}\n";
const ARGS: EventBusArgs = { namespace: "events", jetstream: { version: "latest" } };

/** `new EventBus` under the mocks: what it threw, and the Stream's connection target when it did not. */
async function build(
    args: EventBusArgs,
    opts?: pulumi.ComponentResourceOptions,
): Promise<{ error?: unknown; target?: any; registered: string[] }> {
    const mocks = testMocks();
    mocks.reset();
    let error: unknown;
    try {
        const bus = new EventBus("orders", args, opts);
        await resolve(bus.url);
    } catch (err) {
        error = err;
    }
    await settings.waitForRPCs();
    const stream = mocks.byType(STREAM_TYPE)[0];
    return { error, target: stream?.inputs.connection.kubernetes, registered: mocks.resources.map((r) => r.type) };
}

class Platform extends pulumi.ComponentResource {
    constructor(name: string, opts: pulumi.ComponentResourceOptions) {
        super("example:index:Platform", name, {}, opts);
    }
}

describe("the stream's cluster, with an explicit Kubernetes provider", () => {
    testMocks();
    const provider = new k8s.Provider("east", { kubeconfig: KUBECONFIG });

    it("is refused at preview without connection.kubeconfig, naming the field and what to pass, with nothing registered", async () => {
        const { error, registered } = await build(ARGS, { provider });
        assert.ok(error instanceof InputError, String(error));
        assert.equal(error.field, "connection.kubeconfig");
        assert.match(error.message, /explicit Kubernetes provider/);
        assert.match(error.message, /Pass the kubeconfig the provider was given as connection\.kubeconfig/);
        assert.match(error.message, /connection\.mode "direct"/);
        assert.deepEqual(
            registered.filter((t) => t !== "pulumi:providers:kubernetes"),
            [],
        );
    });

    it("is refused the same when the provider comes through providers, or from a parent component", async () => {
        for (const opts of [
            { providers: [provider] },
            { providers: { kubernetes: provider } },
            { parent: new Platform("platform", { providers: [provider] }) },
        ]) {
            const { error } = await build(ARGS, opts);
            assert.ok(error instanceof InputError, `${Object.keys(opts)}: ${String(error)}`);
            assert.equal(error.field, "connection.kubeconfig");
        }
    });

    it("uses the kubeconfig given, as a secret, with its context", async () => {
        const { error, target } = await build(
            { ...ARGS, connection: { kubeconfig: KUBECONFIG, context: "east" } },
            { provider },
        );
        assert.equal(error, undefined);
        assert.equal(target.kubeconfig, KUBECONFIG);
        assert.equal(target.context, "east");
        assert.equal(target.namespace, "events");
    });

    it("needs none for connection mode direct, which reaches the URLs given", async () => {
        const { error, target } = await build(
            { ...ARGS, connection: { mode: "direct", servers: ["nats://orders.example:4222"] } },
            { provider },
        );
        assert.equal(error, undefined);
        assert.equal(target, undefined);
    });

    it("finds the provider wherever Pulumi would give it to the children, and only a Kubernetes one", () => {
        const other = new k8s.Provider("west", { kubeconfig: KUBECONFIG });
        assert.equal(explicitKubernetesProvider({ provider }), provider);
        assert.equal(explicitKubernetesProvider({ providers: { kubernetes: other } }), other);
        assert.equal(
            explicitKubernetesProvider({ parent: new Platform("parent-of-one", { providers: [other] }) }),
            other,
        );
        assert.equal(
            explicitKubernetesProvider({
                parent: new Platform("nested", { parent: new Platform("outer", { providers: [other] }) }),
            }),
            other,
        );
        assert.equal(explicitKubernetesProvider({}), undefined);
        assert.equal(explicitKubernetesProvider(undefined), undefined);
        assert.equal(explicitKubernetesProvider({ parent: new Platform("no-provider", {}) }), undefined);
    });
});

describe("the stream's cluster, with the default provider", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "target-cluster-"));
    after(() => {
        runtimeConfig.setAllConfig({});
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("is kubectl's (KUBECONFIG, then ~/.kube/config) when the stack does not configure the provider", async () => {
        const { target } = await build(ARGS);
        assert.equal(target.kubeconfig, undefined);
        assert.equal(target.context, undefined);
    });

    it("follows the stack's kubernetes:kubeconfig (text or file) and kubernetes:context, as the default provider does", async () => {
        runtimeConfig.setConfig("kubernetes:kubeconfig", KUBECONFIG);
        runtimeConfig.setConfig("kubernetes:context", "east");
        let { target } = await build(ARGS);
        assert.equal(target.kubeconfig, KUBECONFIG);
        assert.equal(target.context, "east");

        const file = path.join(dir, "config");
        fs.writeFileSync(file, KUBECONFIG);
        runtimeConfig.setConfig("kubernetes:kubeconfig", file);
        ({ target } = await build({ ...ARGS, connection: { context: "mine" } }));
        assert.equal(target.kubeconfig, KUBECONFIG);
        assert.equal(target.context, "mine", "connection.context wins");

        runtimeConfig.setConfig("kubernetes:kubeconfig", path.join(dir, "missing"));
        const { error } = await build(ARGS);
        assert.ok(error instanceof InputError, String(error));
        assert.equal(error.field, "kubernetes:kubeconfig");
        assert.match(error.message, /missing/);
    });

    it("is the pure rule underneath: direct needs nothing, a kubeconfig given wins", () => {
        const base = { explicitProvider: false, stackConfig: { kubeconfig: KUBECONFIG } } as const;
        assert.deepEqual(portForwardCluster({ ...base, mode: "direct" }), {});
        assert.throws(
            () => portForwardCluster({ ...base, mode: "portForward", explicitProvider: true }),
            /connection\.kubeconfig/,
        );
        assert.doesNotThrow(() =>
            portForwardCluster({ ...base, mode: "auto", explicitProvider: true, kubeconfig: "x" }),
        );
    });
});

describe("pods another StatefulSet owns", () => {
    const target = {
        namespace: "events",
        statefulSet: "eventbus-orders-js",
        podSelector: {},
        port: 4222,
        statefulSetUid: "uid-here",
    };
    const pod = (name: string, owner?: string) => ({
        metadata: {
            name,
            ownerReferences: owner ? [{ kind: "StatefulSet", name: "eventbus-orders-js", uid: owner }] : [],
        },
    });

    it("are refused, naming both uids and what to pass", () => {
        const problem = foreignPods(
            [pod("eventbus-orders-js-0", "uid-elsewhere")],
            target,
            "https://east.example:6443",
        );
        assert.ok(problem);
        assert.match(problem, /in namespace events at https:\/\/east\.example:6443 belong to another StatefulSet/);
        assert.match(problem, /uid uid-elsewhere/);
        assert.match(problem, /uid uid-here/);
        assert.match(problem, /connection\.kubeconfig/);
    });

    it("are no concern when one pod is the bus's, when there are none yet, or without a uid (state from 0.1.0)", () => {
        const server = "https://east.example:6443";
        assert.equal(foreignPods([pod("a", "uid-elsewhere"), pod("b", "uid-here")], target, server), undefined);
        assert.equal(foreignPods([], target, server), undefined);
        assert.equal(
            foreignPods([pod("a", "uid-elsewhere")], { ...target, statefulSetUid: undefined }, server),
            undefined,
        );
        assert.ok(foreignPods([pod("orphan")], target, server), "a pod no StatefulSet owns is not the bus's");
    });
});

describe("the StatefulSet's uid in the Stream's diff", () => {
    const spec = resolveStreamSpec({});
    const connection = (uid?: string) => ({
        servers: ["nats://eventbus-default-js-svc.argo-events.svc:4222"],
        kubernetes: {
            namespace: "argo-events",
            statefulSet: "eventbus-default-js",
            podSelector: {},
            port: 4222,
            statefulSetUid: uid,
        },
    });
    const props = (uid?: string) => ({
        config: toStreamView(spec),
        serverVersion: "2.14.4",
        connection: connection(uid),
        deletionPolicy: "retain" as const,
        allowDataLoss: false,
        createTimeout: "5m",
    });
    const outputs = (uid?: string) => ({ ...props(uid), observedServerVersion: "2.14.4" });

    it("is taken without a change by state written before it existed", () => {
        assert.deepEqual(planDiff(outputs(undefined), props("uid-a")), { changes: false });
    });

    it("is an update when the StatefulSet was recreated (its volumes grown), and no change otherwise", () => {
        assert.deepEqual(planDiff(outputs("uid-a"), props("uid-a")), { changes: false });
        assert.deepEqual(planDiff(outputs("uid-a"), props("uid-b")), { changes: true });
    });
});
