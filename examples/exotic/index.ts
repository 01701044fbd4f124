/**
 * Argo Events' exotic JetStream EventBus as a Pulumi program: a NATS server with JetStream that you
 * run yourself. Argo's manifest (eventbus.yaml next to this file holds it, with a real URL):
 *
 *   spec:
 *     jetstreamExotic:
 *       url: nats://xxxxx:xxx
 *       accessSecret: { name: my-secret-name, key: secret-key }
 *       streamConfig: ""
 *
 * Nothing is deployed. The bus manages the `default` stream on that server, and unlike Argo it gives
 * the stream the full default configuration (50000 messages, 7 days, 3 replicas, ...) even though
 * `streamConfig` is empty; Argo would create it with no limits and a single replica (Argo #3549).
 */
import * as pulumi from "@pulumi/pulumi";
import { EventBus } from "jetstream-eventbus";

const config = new pulumi.Config();

const bus = new EventBus("default", {
    namespace: "argo-events",
    jetstreamExotic: {
        // Reached from where `pulumi up` runs, and from the EventSources and Sensors.
        url: config.get("url") ?? "nats://nats.nats.svc:4222",
        // A Secret in the bus's namespace whose key holds YAML "username: ..." and "password: ...".
        accessSecret: { name: "my-secret-name", key: "secret-key" },
        // Empty: every one of Argo's stream defaults applies.
        streamConfig: "",
    },
});

export const url = bus.url;
export const streamName = bus.streamName;
export const username = bus.username;
