/**
 * The repository's own Pulumi program: one EventBus from stack configuration.
 *
 *   pulumi config set namespace argo-events
 *   pulumi config set --path 'spec.jetstream.version' latest
 *
 * `spec` has the shape of an Argo Events EventBus `spec` (`jetstream` or `jetstreamExotic`), so an
 * existing manifest's spec can be pasted as YAML into the stack file.
 */
import * as pulumi from "@pulumi/pulumi";
import { EventBus, EventBusArgs } from "./components";

const config = new pulumi.Config();
const name = config.get("name") ?? "default";
const spec = config.requireObject<Pick<EventBusArgs, "jetstream" | "jetstreamExotic">>("spec");

const bus = new EventBus(name, {
    namespace: config.get("namespace"),
    busName: config.get("busName"),
    clusterDomain: config.get("clusterDomain"),
    labels: config.getObject<Record<string, string>>("labels"),
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
