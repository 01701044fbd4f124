/**
 * Argo Events' simplest JetStream EventBus as a Pulumi program:
 *
 *   apiVersion: argoproj.io/v1alpha1
 *   kind: EventBus
 *   metadata: { name: default }
 *   spec: { jetstream: { version: latest } }
 *
 * Three servers with TLS and a password, a PodDisruptionBudget and the `default` stream.
 */
import { EventBus } from "jetstream-eventbus";

const bus = new EventBus("default", {
    namespace: "argo-events",
    // Pin a release in real deployments; `latest` is pinned by the package, but moves when it is upgraded.
    jetstream: { version: "latest" },
});

export const url = bus.url;
export const clientSecretName = bus.clientSecretName;
export const caCert = bus.caCert;
