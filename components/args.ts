import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { StreamSettingsInput } from "./stream/model";
import type { StreamLifecycleArgs } from "./stream/resolve";
import type { PodMonitorArgs } from "./kube/pod-monitor";

import Core = k8s.types.input.core.v1;

/**
 * Settings for one of the bus's containers, as Argo's `ContainerTemplate`
 * (Argo Events, https://github.com/argoproj/argo-events).
 */
export interface ContainerTemplate {
    /** CPU and memory requests and limits. With a memory limit on `main`, `GOMEMLIMIT` is set to 80% of it. */
    resources?: pulumi.Input<Core.ResourceRequirements>;
    /** Image pull policy of the container. Kubernetes' default applies when unset. */
    imagePullPolicy?: pulumi.Input<string>;
    /** Container security context; replaces the restricted default of this package when set. */
    securityContext?: pulumi.Input<Core.SecurityContext>;
}

/** Persistent storage for JetStream, as Argo's `PersistenceStrategy`. */
export interface PersistenceArgs {
    /** Storage class of the PVCs. Unset uses the cluster's default class. */
    storageClassName?: string;
    /** Access mode of the PVCs. Default `ReadWriteOnce`. */
    accessMode?: "ReadWriteOnce" | "ReadWriteOncePod" | "ReadWriteMany";
    /** Size of each PVC as a Kubernetes quantity. Default `20Gi`. Also the default `max_file_store`. */
    volumeSize?: string;
    /**
     * What happens to the PVCs when the bus is deleted or scaled down (StatefulSet
     * `persistentVolumeClaimRetentionPolicy`). Default `Retain` for both: data is never deleted by surprise,
     * unlike Argo which deletes every PVC with the bus.
     */
    retentionPolicy?: {
        /** `Retain` (default) or `Delete` when the StatefulSet is deleted. */
        whenDeleted?: "Retain" | "Delete";
        /** `Retain` (default) or `Delete` when the StatefulSet is scaled down. */
        whenScaled?: "Retain" | "Delete";
    };
    /**
     * JetStream encryption-at-rest key (a secret; letters only, at least 16). Unset, the bus generates
     * one, and `pulumi destroy` deletes it while the retained volumes keep data encrypted with it: give
     * the key (and keep it) when the data must outlive the stack.
     */
    encryptionKey?: pulumi.Input<string>;
}

/** Labels and annotations for the bus pods, as Argo's `Metadata`. */
export interface PodMetadataArgs {
    /** Extra pod labels; the package's own labels win on conflict. */
    labels?: Record<string, string>;
    /** Pod annotations. */
    annotations?: Record<string, string>;
}

/** Image overrides for private registries and mirrors (Argo #2504). */
export interface ImageOverrides {
    /** Registry host (and path) put in front of every default image, e.g. `registry.example.com/mirror`. */
    registry?: string;
    /** Full nats-server image; wins over `registry`. */
    nats?: string;
    /** Full config reloader image; wins over `registry`. */
    reloader?: string;
    /** Full Prometheus exporter image; wins over `registry`. */
    metricsExporter?: string;
    /** Path of nats-server inside the image, when a custom image puts it elsewhere. */
    startCommand?: string;
}

/** Typed JetStream server limits, an alternative to Argo's free-text `settings`. */
export interface JetStreamServerSettings {
    /** `max_memory_store`: a size, or -1 for the server's automatic limit (75% of memory). Default -1. */
    maxMemoryStore?: string | number;
    /** `max_file_store`: a size. Default: the volume size with persistence, else 1TB (Argo Events' default). */
    maxFileStore?: string | number;
}

/**
 * A managed JetStream cluster: every field of Argo Events' `JetStreamBus` with the same name,
 * type and default, plus the options Argo lacks. Fields that decide names, sizes or the server
 * configuration are plain values, so that bad input fails the preview before anything is created.
 */
export interface JetStreamBusArgs {
    /** Key of the version map (e.g. `latest`, `2.10.29`). Required, matched exactly as Argo does. */
    version: string;
    /** Number of servers: 1, or 3 and more (a JetStream cluster of 2 cannot lose a node). Default 3. */
    replicas?: number;
    /** Settings of the `main` (nats-server) container. */
    containerTemplate?: ContainerTemplate;
    /** Settings of the `reloader` container. */
    reloaderContainerTemplate?: ContainerTemplate;
    /** Settings of the `metrics` (Prometheus exporter) container. */
    metricsContainerTemplate?: ContainerTemplate;
    /** Persistent volumes for JetStream. Unset means an emptyDir (data lost with the pod), as Argo. */
    persistence?: PersistenceArgs;
    /** Extra labels and annotations for the pods. */
    metadata?: PodMetadataArgs;
    /** Pod node selector. */
    nodeSelector?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Pod tolerations. */
    tolerations?: pulumi.Input<pulumi.Input<Core.Toleration>[]>;
    /** Pod security context. Replaces the restricted default (non-root 1000, fsGroup 1000, RuntimeDefault seccomp). */
    securityContext?: pulumi.Input<Core.PodSecurityContext>;
    /** Pull secrets for private registries. */
    imagePullSecrets?: pulumi.Input<pulumi.Input<Core.LocalObjectReference>[]>;
    /** Pod priority class. */
    priorityClassName?: pulumi.Input<string>;
    /** Pod priority. */
    priority?: pulumi.Input<number>;
    /** Pod affinity. Replaces the default soft anti-affinity that spreads the servers over nodes. */
    affinity?: pulumi.Input<Core.Affinity>;
    /** Service account of the pods. Default: the namespace's default service account. */
    serviceAccountName?: pulumi.Input<string>;
    /**
     * NATS configuration text pasted into the `jetstream {}` block, as Argo. Default (Argo Events'):
     * `max_memory_store: -1` and `max_file_store: 1TB`, or the volume size with persistence.
     */
    settings?: string;
    /** Typed alternative to `settings`; cannot be combined with it. */
    jetstreamSettings?: JetStreamServerSettings;
    /** Extra nats-server arguments, e.g. `["-D"]`. */
    startArgs?: string[];
    /** Argo's stream configuration YAML (maxMsgs, maxAge, maxBytes, replicas, duplicates, retention, discard). */
    streamConfig?: string;
    /** Typed stream configuration with every JetStream field; wins over `streamConfig`. */
    stream?: StreamSettingsInput;
    /** Deletion policy, data-loss permission and create timeout of the stream. Default: retain, no data loss, 5m. */
    streamLifecycle?: StreamLifecycleArgs;
    /** Largest message the server accepts (`max_payload`), as a size. Default `1MB`. */
    maxPayload?: string;

    /** Image overrides for private registries. */
    images?: ImageOverrides;
    /** Pod topology spread constraints (Argo #2425). Default none. */
    topologySpreadConstraints?: pulumi.Input<pulumi.Input<Core.TopologySpreadConstraint>[]>;
    /** Create a PodDisruptionBudget `maxUnavailable: 1`. Default true when replicas >= 3. */
    podDisruptionBudget?: boolean;
    /**
     * A NetworkPolicy for the bus's pods: clients only on the client port (from `clientNamespaces` when
     * given), routes only between the bus's pods, monitoring only from `monitoringNamespaces`. Default: none.
     */
    networkPolicy?: {
        /** Namespaces allowed on the client port; unset: every namespace. */
        clientNamespaces?: string[];
        /**
         * Namespaces allowed on the monitoring (8222) and metrics (7777) ports, e.g. your Prometheus's. Default none.
         */
        monitoringNamespaces?: string[];
    };
    /**
     * A Prometheus Operator PodMonitor for the metrics exporter (port `metrics`, 7777): `{}` for the
     * defaults, or labels for the Prometheus's podMonitorSelector and the scrape interval and timeout.
     * Needs the operator's CRD (the preview fails without it). Default: none.
     */
    podMonitor?: PodMonitorArgs;
    /** `lame_duck_duration`, at least 30s. Default `30s`. */
    lameDuckDuration?: string;
    /** `lame_duck_grace_period`, below `lameDuckDuration`. Default `10s`. */
    lameDuckGracePeriod?: string;
    /** Pod termination grace period; must exceed lame duck duration. Default: lame duck duration + 30s. */
    terminationGracePeriodSeconds?: number;
}

/** A key of a Kubernetes Secret, as Argo's `SecretKeySelector`. */
export interface SecretKeySelector {
    /** Secret name, in the bus's namespace. */
    name: string;
    /** Key in the Secret. */
    key: string;
}

/**
 * Argo's `TLSConfig`: Secrets holding the TLS material for the server you run
 * (https://argoproj.github.io/argo-events/eventbus/jetstream/).
 */
export interface ExoticTlsArgs {
    /** CA certificate the server certificate is verified against. */
    caCertSecret?: SecretKeySelector;
    /** Client certificate, for servers that require one (`verify: true`). */
    clientCertSecret?: SecretKeySelector;
    /** Client key, with `clientCertSecret`. */
    clientKeySecret?: SecretKeySelector;
    /** Skip verifying the server certificate. Avoid: anyone on the path can read the traffic. */
    insecureSkipVerify?: boolean;
    /** TLS verified against the system's CAs when no CA is given. */
    enabled?: boolean;
}

/**
 * Argo's `jetstreamExotic` (https://argoproj.github.io/argo-events/eventbus/jetstream/): a JetStream server you
 * run yourself. Nothing is
 * deployed; only the stream is managed, with the complete default configuration Argo leaves out (#3549).
 */
export interface JetStreamExoticArgs {
    /** Server URL, e.g. `nats://nats.example.svc:4222` (`tls://` for TLS). Required. */
    url: string;
    /** Secret key holding Argo's `username:` / `password:` YAML (not a plain password: Argo #2980). */
    accessSecret?: SecretKeySelector;
    /** User name, instead of `accessSecret`. */
    username?: pulumi.Input<string>;
    /** Password (secret), instead of `accessSecret`. */
    password?: pulumi.Input<string>;
    /** TLS from Secrets, as Argo. Unset (and no `caCert`): plaintext, as Argo since #4114. */
    tls?: ExoticTlsArgs;
    /** PEM of the server's CA, instead of `tls.caCertSecret`. */
    caCert?: pulumi.Input<string>;
    /** PEM client certificate, instead of `tls.clientCertSecret`. */
    clientCert?: pulumi.Input<string>;
    /** PEM client key (secret), instead of `tls.clientKeySecret`. */
    clientKey?: pulumi.Input<string>;
    /** Name the server certificate must carry, when it differs from the URL's host. */
    serverName?: string;
    /** Argo's stream configuration YAML, merged over Argo's defaults (Argo merges nothing in exotic mode). */
    streamConfig?: string;
    /** Typed stream configuration; `name` and `subjects` let several namespaces share one server (#3549). */
    stream?: StreamSettingsInput;
    /** Deletion policy, data-loss permission and create timeout of the stream. */
    streamLifecycle?: StreamLifecycleArgs;
    /**
     * The server's nats-server release, for the stream's update rules until it reports its own. Default: the latest of
     * the version map.
     */
    serverVersion?: string;
}

/**
 * Argo Events interop: an `argoproj.io/v1alpha1` EventBus of kind `jetstreamExotic` in each namespace,
 * pointing at this bus, so EventSources and Sensors there use it
 * (https://argoproj.github.io/argo-events/eventbus/jetstream/).
 */
export interface ArgoEventsArgs {
    /** Name of the EventBus objects. Default `default`, the one EventSources and Sensors use unless told otherwise. */
    eventBusName?: string;
    /** Namespaces to create the EventBus (and a copy of the client Secret) in. */
    namespaces: string[];
}

/**
 * How the stream provider, which runs where `pulumi up` runs, reaches the bus. docs/connecting.md
 * explains the modes and the RBAC a port-forward needs.
 */
export interface BusConnectionArgs {
    /**
     * `auto` (default): inside a cluster connect to the service's DNS name, elsewhere port-forward.
     * `portForward`: always through the Kubernetes API. `direct`: to `servers` (a LoadBalancer, a VPN).
     */
    mode?: "auto" | "portForward" | "direct";
    /** Server URLs for `direct`, e.g. `nats://nats.example.com:4222`. */
    servers?: string[];
    /** Name the server certificate is checked against for `direct`. Default: the service's DNS name. */
    serverName?: string;
    /**
     * Kubeconfig text (kept as a secret) for the port-forward, e.g. the one a platform stack passes to its
     * `k8s.Provider`. Default: the kubeconfig kubectl would use (KUBECONFIG, then ~/.kube/config), read when
     * the provider runs and never stored.
     */
    kubeconfig?: pulumi.Input<string>;
    /** Kubeconfig context for the port-forward. Default: the current context. */
    context?: string;
}

/** Arguments of an {@link EventBus}. */
export interface EventBusArgs {
    /** Namespace of every object. Default `default`. */
    namespace?: string;
    /** The Argo EventBus name used in object names (`eventbus-<busName>-js`). Default: the component's name. */
    busName?: string;
    /** Cluster DNS domain, for certificate names. Default `cluster.local`. */
    clusterDomain?: string;
    /** Labels for the StatefulSet, as Argo's EventBus `metadata.labels`. */
    labels?: Record<string, string>;
    /** A managed JetStream cluster. Exactly one of `jetstream` and `jetstreamExotic`. */
    jetstream?: JetStreamBusArgs;
    /** A JetStream server you run yourself. Exactly one of `jetstream` and `jetstreamExotic`. */
    jetstreamExotic?: JetStreamExoticArgs;
    /** How the stream is reached from where `pulumi up` runs. Default `auto`. */
    connection?: BusConnectionArgs;
    /** Argo Events EventBus objects pointing at this bus, in the given namespaces. Default none. */
    argoEvents?: ArgoEventsArgs;
}
