/**
 * Runs an EventBus under the realistic mocks and hands back what it registered: the plain
 * Kubernetes objects as the provider would receive them, with real certificates and passwords.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { EventBus, EventBusArgs } from "../../components";
import { resolveBusSpec, BusSpec } from "../../components/validate";
import { installRealisticMocks, RealisticMocks, RecordedResource, resolve } from "./mocks";

// The SDK exports its RPC-queue wait only from the settings module.
const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

let mocks: RealisticMocks | undefined;

/** The mocks of this test process, installed once. */
export function testMocks(): RealisticMocks {
    mocks ??= installRealisticMocks({ project: "jetstream-eventbus", stack: "test" });
    return mocks;
}

/** Everything one EventBus registered, resolved. */
export interface RenderedBus {
    name: string;
    spec: BusSpec;
    bus: EventBus;
    resources: RecordedResource[];
    /** The Kubernetes object of `kind` (and `name` when several) as sent to the provider. */
    object(kind: string, name?: string): any;
    /** Every Kubernetes object, as sent to the provider. */
    kubernetesObjects(): any[];
    configText: string;
    serverSecret: Record<string, string>;
    clientSecret: Record<string, string>;
    password: string;
}

/** Kind of each Kubernetes resource type the component creates. */
export const KUBERNETES_KINDS: Record<string, string> = {
    "kubernetes:core/v1:Secret": "Secret",
    "kubernetes:core/v1:ConfigMap": "ConfigMap",
    "kubernetes:core/v1:Service": "Service",
    "kubernetes:apps/v1:StatefulSet": "StatefulSet",
    "kubernetes:policy/v1:PodDisruptionBudget": "PodDisruptionBudget",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": "NetworkPolicy",
};

/** Builds `new EventBus(name, args)` under the mocks and waits for every registration. */
export async function renderBus(
    name: string,
    args: EventBusArgs,
    opts?: pulumi.ComponentResourceOptions,
): Promise<RenderedBus> {
    const m = testMocks();
    m.reset();
    const bus = new EventBus(name, args, opts);
    const password = await resolve(bus.password);
    await resolve(bus.url);
    await settings.waitForRPCs();
    const resources = [...m.resources];
    const kubernetesObjects = () =>
        resources
            .filter((r) => KUBERNETES_KINDS[r.type])
            .map((r) => ({
                apiVersion: r.type.split(":")[1].replace(/^core\//, ""),
                kind: KUBERNETES_KINDS[r.type],
                ...r.inputs,
            }));
    const object = (kind: string, objectName?: string) => {
        const found = kubernetesObjects().filter(
            (o) => o.kind === kind && (objectName === undefined || o.metadata?.name === objectName),
        );
        if (found.length !== 1) {
            throw new Error(`expected one ${kind}${objectName ? ` named ${objectName}` : ""}, found ${found.length}`);
        }
        return found[0];
    };
    const spec = resolveBusSpec(name, args);
    return {
        name,
        spec,
        bus,
        resources,
        object,
        kubernetesObjects,
        configText: object("ConfigMap").data["nats-js"],
        serverSecret: object("Secret", spec.names.serverSecret).stringData,
        clientSecret: object("Secret", spec.names.clientSecret).stringData,
        password: password ?? "",
    };
}

/** Writes the files of the server's projected config volume into `dir`, as the pod sees them. */
export function writeConfigVolume(rendered: RenderedBus, dir: string, configText: string): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "nats-js.conf"), configText);
    const volume = rendered
        .object("StatefulSet")
        .spec.template.spec.volumes.find((v: any) => v.name === "config-volume");
    const secretSource = volume.projected.sources.find((s: any) => s.secret).secret;
    for (const item of secretSource.items) {
        fs.writeFileSync(path.join(dir, item.path), rendered.serverSecret[item.key], { mode: 0o600 });
    }
}

/**
 * Runs `new EventBus(name, args)` under the mocks, expecting it may throw, and returns what it threw and
 * every registration it made (all of them settled).
 */
export async function attemptEventBus(
    name: string,
    args: unknown,
): Promise<{ error: unknown; registered: RecordedResource[] }> {
    const m = testMocks();
    m.reset();
    let error: unknown;
    try {
        new EventBus(name, args as EventBusArgs);
    } catch (e) {
        error = e;
    }
    await settings.waitForRPCs();
    return { error, registered: [...m.resources] };
}
