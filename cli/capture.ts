/**
 * Runs an EventBus without a Pulumi engine: under Pulumi's mocks, answered by the provider stand-ins,
 * so the objects, configuration and credentials are exactly what `pulumi up` would send, with real
 * keys, certificates and passwords. Used by the `local` and `render` commands, the tests and the
 * benchmarks.
 */
import * as pulumi from "@pulumi/pulumi";
import type { EventBusArgs } from "../components/args";
import { plain, STAND_INS } from "./stand-ins";

/** One resource the component registered. */
export interface CapturedResource {
    type: string;
    name: string;
    inputs: Record<string, any>;
    /** Inputs plus the stand-in's computed outputs; for a read, the object found. */
    state: Record<string, any>;
    /** The id the mocks answered; undefined while a preview leaves it unknown. */
    id: string | undefined;
    /** True for `Resource.get` reads of objects expected to exist. */
    read: boolean;
    /** A provider's resource, not a component. */
    custom: boolean;
}

/** Generated outputs of the stand-in resources, by resource name, to reuse in a later run. */
export type GeneratedMaterial = Record<string, Record<string, any>>;

/** Options of {@link standInMocks} and {@link captureEventBus}. */
export interface CaptureOptions {
    /** Outputs from an earlier run, reused so that keys, passwords and the encryption key stay the same. */
    reuse?: GeneratedMaterial;
    /** State for reads of existing objects (e.g. an exotic bus's `accessSecret`), by `type::id`; other reads fail. */
    existing?: Record<string, Record<string, any>>;
    /** As in `pulumi preview`: the computed outputs of new tls and random resources stay unknown. */
    preview?: boolean;
}

/** What {@link captureEventBus} returns. */
export interface CapturedBus {
    resources: CapturedResource[];
    /** Outputs of every generated resource, to pass as `reuse` next time. */
    generated: GeneratedMaterial;
}

// The SDK offers its wait for outstanding registrations only from this module.
const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

/**
 * Mocks that answer tls and random resources with the stand-ins (or with `options.reuse`), echo every
 * other resource, serve reads from `options.existing`, and record everything into `resources` (in the
 * order of registration) and `generated`. The commands, the tests and the benchmarks all run the
 * component under these.
 */
export function standInMocks(
    options: CaptureOptions,
    resources: CapturedResource[],
    generated: GeneratedMaterial,
): pulumi.runtime.Mocks {
    return {
        async newResource(mock) {
            const inputs = plain(mock.inputs ?? {});
            const record: CapturedResource = {
                type: mock.type,
                name: mock.name,
                inputs,
                state: inputs,
                id: `${mock.name}_id`,
                read: false,
                custom: mock.custom ?? true,
            };
            // Before the first await, so the order is that of registration.
            resources.push(record);
            if (mock.id !== undefined && mock.id !== "") {
                const state = options.existing?.[`${mock.type}::${mock.id}`];
                Object.assign(record, { read: true, id: mock.id, state: state ?? {} });
                if (!state) {
                    throw new Error(`${mock.type} ${mock.id} must exist in the cluster, and there is no cluster here`);
                }
                return { id: mock.id, state };
            }
            const standIn = STAND_INS[mock.type];
            if (!standIn) {
                return { id: record.id, state: inputs };
            }
            if (options.preview) {
                // The real providers report computed attributes of new resources as unknown during preview.
                record.id = undefined;
                return { id: undefined, state: inputs };
            }
            let outputs: Record<string, any>;
            try {
                outputs = options.reuse?.[mock.name] ?? (await standIn.outputs(inputs));
            } catch (err) {
                throw new Error(`${mock.type} '${mock.name}': ${err instanceof Error ? err.message : String(err)}`, {
                    cause: err,
                });
            }
            generated[mock.name] = outputs;
            const { _serial, ...visible } = outputs;
            record.state = { ...inputs, ...visible };
            record.id = standIn.id({ ...record.state, _serial }, mock.name);
            return { id: record.id, state: record.state };
        },
        call: (mock) => plain(mock.inputs ?? {}),
    };
}

/**
 * Builds `new EventBus(name, args)` under mocks and returns every registration once all are done.
 * Installs process-wide mocks: call it once per process, as the commands do.
 */
export async function captureEventBus(
    name: string,
    args: EventBusArgs,
    options: CaptureOptions = {},
): Promise<CapturedBus> {
    const resources: CapturedResource[] = [];
    const generated: GeneratedMaterial = {};
    const failures: unknown[] = [];
    await pulumi.runtime.setMocks(standInMocks(options, resources, generated), "jetstream-eventbus", "local", false);
    // Loaded after the mocks are in place; the component module registers nothing by itself.
    const { EventBus } = require("../components/eventbus") as typeof import("../components/eventbus");
    const onRejection = (err: unknown) => failures.push(err);
    process.on("unhandledRejection", onRejection);
    let onIdle: (() => void) | undefined;
    try {
        const bus = new EventBus(name, args);
        await new Promise<void>((resolve, reject) => {
            // An output that fails leaves the ones depending on it unresolved for good; once nothing else
            // is left to run, report the failure instead of letting the process end as if all went well.
            onIdle = () =>
                reject(
                    failures[0] ??
                        new Error(`EventBus ${name} did not finish registering its resources, and reported no error`),
                );
            process.once("beforeExit", onIdle);
            bus.url.apply(() => resolve());
        });
        await settings.waitForRPCs();
    } finally {
        if (onIdle) process.off("beforeExit", onIdle);
        process.off("unhandledRejection", onRejection);
    }
    if (failures.length > 0) {
        throw failures[0];
    }
    return { resources, generated };
}
