/**
 * One benchmark program, run in a fresh process by run.ts (Pulumi's mocks are process-wide):
 *
 *  - `eventbus`: N × `new EventBus` in one stack under mocks answered by the tls/random stand-ins,
 *    then (untimed for the program figure) `renderFiles` over every registration;
 *  - `eventbus-reuse`: the same with the stand-ins' outputs taken from an earlier run, so the figure
 *    is the component and the SDK alone, without generating keys, certificates and bcrypt hashes;
 *  - `baseline`: the same Kubernetes objects declared directly with @pulumi/kubernetes (plain inputs
 *    from an earlier `eventbus` run, Secret values replaced by fixed strings): no component, no
 *    certificates, no passwords, no Stream.
 *
 * Usage: node program.js '<task JSON>'; the figures go to task.result as JSON.
 */
import * as fs from "node:fs";
import { performance } from "node:perf_hooks";

export type ProgramKind = "eventbus" | "eventbus-reuse" | "baseline";

export interface ProgramTask {
    kind: ProgramKind;
    buses: number;
    /** Where to write the {@link ProgramResult}. */
    result: string;
    /** eventbus: write the Kubernetes objects (for the baseline) and the generated material (for reuse) here. */
    dump?: { objects: string; material: string };
    /** baseline: the objects; eventbus-reuse: the material. */
    input?: string;
    /** eventbus: also render the files, as `jetstream-eventbus render` does. */
    render?: boolean;
}

export interface ProgramResult {
    kind: ProgramKind;
    buses: number;
    /** Loading @pulumi/pulumi, installing the mocks and loading the component (or @pulumi/kubernetes). */
    loadMs: number;
    /** From the first constructor to every registration done. */
    evalMs: number;
    /** Peak resident set size at the end of the program, before any render. */
    maxRssMB: number;
    registrations: number;
    byType: Record<string, number>;
    serialization?: {
        /** Calls of the closure serializer (one per distinct provider object, when the cache works). */
        serializeCalls: number;
        serializeMs: number[];
        /** Loading @pulumi/pulumi/runtime/closure (done once, on the first dynamic resource). */
        closureModuleLoadMs: number;
        /** `pulumi.dynamic.Resource` constructor of each Stream, in order. */
        constructorMs: number[];
        /** Length of the `__provider` text of each Stream registration. */
        providerBytes: number[];
        distinctProviders: number;
    };
    render?: { renderMs: number; files: number; bytes: number; wallMs: number };
}

const STREAM_TYPE = "pulumi-nodejs:dynamic/jetstream:Stream";

/** Fixed values for the baseline's Secrets: same keys, no generated material. */
export function fixedSecretValues(inputs: Record<string, any>): Record<string, any> {
    const fix = (map: Record<string, unknown> | undefined) =>
        map === undefined ? undefined : Object.fromEntries(Object.keys(map).map((k) => [k, `fixed-${k}`]));
    const out = { ...inputs };
    if (out.stringData !== undefined) out.stringData = fix(out.stringData);
    if (out.data !== undefined) out.data = fix(out.data);
    return out;
}

/** Watches the closure serializer and the dynamic Resource constructor; must run before the component loads. */
export function instrumentSerialization(): NonNullable<ProgramResult["serialization"]> {
    const stats: NonNullable<ProgramResult["serialization"]> = {
        serializeCalls: 0,
        serializeMs: [],
        closureModuleLoadMs: 0,
        constructorMs: [],
        providerBytes: [],
        distinctProviders: 0,
    };
    const Module = require("node:module");
    const originalLoad = Module._load;
    let patched = false;
    Module._load = function (request: string, ...rest: unknown[]) {
        if (!patched && request.endsWith("closure/serializeClosure")) {
            const started = performance.now();
            const mod = originalLoad.call(this, request, ...rest);
            stats.closureModuleLoadMs = performance.now() - started;
            patched = true;
            const serialize = mod.serializeFunction;
            mod.serializeFunction = (...args: unknown[]) => {
                stats.serializeCalls++;
                const begun = performance.now();
                const promise = serialize(...args);
                void promise.then(
                    () => stats.serializeMs.push(performance.now() - begun),
                    () => undefined,
                );
                return promise;
            };
            return mod;
        }
        return originalLoad.call(this, request, ...rest);
    };
    const dynamic = require("@pulumi/pulumi/dynamic");
    const Original = dynamic.Resource;
    dynamic.Resource = class TimedResource extends Original {
        constructor(...args: any[]) {
            const begun = performance.now();
            super(...args);
            stats.constructorMs.push(performance.now() - begun);
        }
    };
    return stats;
}

async function main(task: ProgramTask): Promise<void> {
    const started = performance.now();
    const serialization = task.kind === "baseline" ? undefined : instrumentSerialization();
    const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
    const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
    const { standInMocks } = require("../../cli/capture") as typeof import("../../cli/capture");

    const material: Record<string, Record<string, any>> = task.kind === "eventbus-reuse"
        ? JSON.parse(fs.readFileSync(task.input!, "utf8"))
        : {};
    const generated: Record<string, Record<string, any>> = {};
    const resources: import("../../cli/capture").CapturedResource[] = [];
    await pulumi.runtime.setMocks(
        standInMocks({ reuse: material }, resources, generated),
        "jetstream-eventbus",
        "bench",
        false,
    );

    const failures: unknown[] = [];
    process.on("unhandledRejection", (err) => failures.push(err));
    let loaded: number;
    let evaluated: number;
    if (task.kind === "baseline") {
        const k8s = require("@pulumi/kubernetes") as typeof import("@pulumi/kubernetes");
        const classes: Record<string, new (name: string, args: any) => import("@pulumi/pulumi").CustomResource> = {
            "kubernetes:core/v1:Secret": k8s.core.v1.Secret,
            "kubernetes:core/v1:ConfigMap": k8s.core.v1.ConfigMap,
            "kubernetes:core/v1:SecretPatch": k8s.core.v1.SecretPatch,
            "kubernetes:core/v1:ConfigMapPatch": k8s.core.v1.ConfigMapPatch,
            "kubernetes:core/v1:Service": k8s.core.v1.Service,
            "kubernetes:apps/v1:StatefulSet": k8s.apps.v1.StatefulSet,
            "kubernetes:policy/v1:PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget,
            "kubernetes:networking.k8s.io/v1:NetworkPolicy": k8s.networking.v1.NetworkPolicy,
        };
        const objects = JSON.parse(fs.readFileSync(task.input!, "utf8")) as {
            type: string;
            name: string;
            inputs: Record<string, any>;
        }[];
        loaded = performance.now();
        const declared = objects.map((o) => {
            const Class = classes[o.type];
            if (!Class) throw new Error(`no baseline class for ${o.type}`);
            return new Class(o.name, o.inputs);
        });
        await Promise.all(declared.map((r) => new Promise<void>((resolve) => r.urn.apply(() => resolve()))));
        await settings.waitForRPCs();
        evaluated = performance.now();
    } else {
        const { EventBus } = require("../../components/eventbus") as typeof import("../../components/eventbus");
        loaded = performance.now();
        const buses = Array.from(
            { length: task.buses },
            (_, i) => new EventBus(`bus${i}`, { namespace: `ns${i}`, jetstream: { version: "latest" } }),
        );
        await Promise.all(buses.map((bus) => new Promise<void>((resolve) => bus.url.apply(() => resolve()))));
        await Promise.all(buses.map((bus) => new Promise<void>((resolve) => bus.streamName.apply(() => resolve()))));
        await settings.waitForRPCs();
        evaluated = performance.now();
    }
    if (failures.length > 0) throw failures[0];
    const maxRssMB = process.resourceUsage().maxRSS / 1024;

    const byType: Record<string, number> = {};
    for (const r of resources) byType[r.type] = (byType[r.type] ?? 0) + 1;
    const result: ProgramResult = {
        kind: task.kind,
        buses: task.buses,
        loadMs: loaded - started,
        evalMs: evaluated - loaded,
        maxRssMB,
        registrations: resources.length,
        byType,
    };
    if (serialization) {
        const texts = resources.filter((r) => r.type === STREAM_TYPE).map((r) => String(r.inputs.__provider ?? ""));
        serialization.providerBytes = texts.map((t) => Buffer.byteLength(t));
        serialization.distinctProviders = new Set(texts).size;
        result.serialization = serialization;
    }
    if (task.render) {
        const { renderFiles } = require("../../cli/render") as typeof import("../../cli/render");
        const begun = performance.now();
        const files = renderFiles(resources);
        const done = performance.now();
        result.render = {
            renderMs: done - begun,
            files: files.length,
            bytes: files.reduce((sum, f) => sum + Buffer.byteLength(f.content), 0),
            wallMs: done - started,
        };
    }
    if (task.dump) {
        const objects = resources
            .filter((r) => r.type.startsWith("kubernetes:"))
            .map((r) => ({
                type: r.type,
                name: r.name,
                inputs:
                    r.type === "kubernetes:core/v1:Secret" || r.type === "kubernetes:core/v1:SecretPatch"
                        ? fixedSecretValues(r.inputs)
                        : r.inputs,
            }));
        fs.writeFileSync(task.dump.objects, JSON.stringify(objects));
        fs.writeFileSync(task.dump.material, JSON.stringify(generated));
    }
    fs.writeFileSync(task.result, JSON.stringify(result));
}

if (require.main === module) {
    main(JSON.parse(process.argv[2]!) as ProgramTask).then(
        () => process.exit(0),
        (err) => {
            console.error(err);
            process.exit(1);
        },
    );
}
