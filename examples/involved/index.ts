/**
 * Argo Events' "more involved" JetStream EventBus as a Pulumi program: five servers on 10Gi volumes
 * of the `standard` class, streams kept for a day, a 1GB file store and debug logs.
 */
import { EventBus } from "jetstream-eventbus";

const bus = new EventBus("default", {
    namespace: "argo-events",
    jetstream: {
        version: "latest",
        replicas: 5,
        persistence: {
            storageClassName: "standard",
            accessMode: "ReadWriteOnce",
            volumeSize: "10Gi",
        },
        streamConfig: "maxAge: 24h\n",
        settings: "max_file_store: 1GB\n",
        startArgs: ["-D"],
    },
});

export const url = bus.url;
export const clientSecretName = bus.clientSecretName;
export const caCert = bus.caCert;
