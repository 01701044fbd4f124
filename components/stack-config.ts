/**
 * One EventBus from the root program's stack configuration: the shape of an Argo EventBus `spec`,
 * or a path to an Argo EventBus manifest. Shared by the root program (`pulumi up`) and the `local`
 * and `render` commands, so all three build the same bus from the same input. Pure but for reading
 * the manifest file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { EventBusArgs } from "./args";
import { fromArgoEventBus } from "./argo/import";
import { InputError, keysOf } from "./check";

/** The configuration keys of the project (`jetstream-eventbus:<key>`). */
export interface StackConfig {
    name?: string;
    namespace?: string;
    busName?: string;
    clusterDomain?: string;
    labels?: Record<string, string>;
    /** `{ jetstream: {...} }` or `{ jetstreamExotic: {...} }`, as an Argo EventBus `spec`. */
    spec?: Pick<EventBusArgs, "jetstream" | "jetstreamExotic">;
    /** Path of an Argo EventBus manifest, relative to `baseDir`. */
    manifest?: string;
}

/** The keys a stack may set; others are refused so that a typo is not ignored. */
export const STACK_CONFIG_KEYS = keysOf<StackConfig>()([
    "name",
    "namespace",
    "busName",
    "clusterDomain",
    "labels",
    "spec",
    "manifest",
]);

/** The component name and arguments for `config`; `baseDir` anchors a relative manifest path. */
export function busFromStackConfig(config: StackConfig, baseDir: string): { name: string; args: EventBusArgs } {
    let imported: { name: string; args: EventBusArgs } | undefined;
    if (config.manifest !== undefined) {
        if (config.spec !== undefined) {
            throw new InputError(
                "manifest",
                "cannot be combined with `spec`: the bus comes either from an Argo EventBus manifest file or from `spec`; remove one of them from the stack configuration",
            );
        }
        const file = path.resolve(baseDir, config.manifest);
        let text: string;
        try {
            text = fs.readFileSync(file, "utf8");
        } catch (err) {
            throw new InputError("manifest", `cannot read ${file}: ${(err as Error).message}`);
        }
        imported = fromArgoEventBus(text);
    }
    const spec = imported?.args ?? config.spec;
    if (spec === undefined) {
        throw new InputError(
            "spec",
            "is required: set `spec` (an Argo EventBus spec, e.g. {jetstream: {version: latest}}) or `manifest` (a path to an Argo EventBus manifest)",
        );
    }
    return {
        name: config.name ?? imported?.name ?? "default",
        args: {
            namespace: config.namespace ?? imported?.args.namespace,
            busName: config.busName,
            clusterDomain: config.clusterDomain,
            labels: config.labels ?? imported?.args.labels,
            jetstream: spec.jetstream,
            jetstreamExotic: spec.jetstreamExotic,
        },
    };
}
