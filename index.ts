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
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { EventBus } from "./components";
import { busFromStackConfig } from "./components/stack-config";

const config = new pulumi.Config();
// A relative manifest path is relative to the project (where Pulumi.yaml is), not to dist/ where the
// compiled program runs; without an engine (tests under mocks) there is no project folder.
const projectRoot = pulumi.runtime.getRootDirectory();
const { name, args } = busFromStackConfig(
    {
        name: config.get("name"),
        namespace: config.get("namespace"),
        busName: config.get("busName"),
        clusterDomain: config.get("clusterDomain"),
        labels: config.getObject<Record<string, string>>("labels"),
        spec: config.getObject("spec"),
        manifest: config.get("manifest"),
    },
    path.isAbsolute(projectRoot) ? projectRoot : process.cwd(),
);
const bus = new EventBus(name, args);

export const url = bus.url;
export const namespace = bus.namespace;
export const serviceName = bus.serviceName;
export const statefulSetName = bus.statefulSetName;
export const clientSecretName = bus.clientSecretName;
export const caCert = bus.caCert;
export const username = bus.username;
export const password = bus.password;
export const streamName = bus.streamName;
