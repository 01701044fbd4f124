/**
 * The repository's own Pulumi program: one EventBus from stack configuration.
 *
 *   pulumi config set namespace argo-events
 *   pulumi config set --path 'spec.jetstream.version' latest
 *
 * `spec` has the shape of an Argo Events EventBus `spec` (`jetstream` or `jetstreamExotic`), so an
 * existing manifest's spec can be pasted as YAML into the stack file. Or, instead of `spec`, point
 * `manifest` at an Argo EventBus YAML file (relative to the folder of Pulumi.yaml):
 *
 *   pulumi config set manifest eventbus.yaml
 *
 * Its `metadata.name`, `metadata.namespace` and `metadata.labels` are used unless `name`, `namespace`
 * or `labels` are set in the stack configuration.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { EventBus, EventBusArgs, fromArgoEventBus, InputError } from "./components";

const config = new pulumi.Config();
const manifestPath = config.get("manifest");
let imported: { name: string; args: EventBusArgs } | undefined;
if (manifestPath !== undefined) {
    if (config.getObject("spec") !== undefined) {
        throw new InputError("manifest", "cannot be combined with `spec`: the bus comes either from an Argo EventBus manifest file or from `spec`; remove one of them from the stack configuration");
    }
    // Relative to the project (where Pulumi.yaml is), not to dist/ where the compiled program runs;
    // without an engine (tests under mocks) there is no project folder, so the working directory.
    const projectRoot = pulumi.runtime.getRootDirectory();
    const file = path.resolve(path.isAbsolute(projectRoot) ? projectRoot : process.cwd(), manifestPath);
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new InputError("manifest", `cannot read ${file}: ${(err as Error).message}`);
    }
    imported = fromArgoEventBus(text);
}
const spec = imported?.args ?? config.requireObject<Pick<EventBusArgs, "jetstream" | "jetstreamExotic">>("spec");
const name = config.get("name") ?? imported?.name ?? "default";

const bus = new EventBus(name, {
    namespace: config.get("namespace") ?? imported?.args.namespace,
    busName: config.get("busName"),
    clusterDomain: config.get("clusterDomain"),
    labels: config.getObject<Record<string, string>>("labels") ?? imported?.args.labels,
    jetstream: spec.jetstream,
    jetstreamExotic: spec.jetstreamExotic,
});

export const url = bus.url;
export const namespace = bus.namespace;
export const serviceName = bus.serviceName;
export const statefulSetName = bus.statefulSetName;
export const clientSecretName = bus.clientSecretName;
export const caCert = bus.caCert;
export const username = bus.username;
export const password = bus.password;
export const streamName = bus.streamName;
