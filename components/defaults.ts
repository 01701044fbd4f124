/**
 * Every default of the package, each with where it comes from. Argo = Argo Events' EventBus
 * controller (https://github.com/argoproj/argo-events), Helm = the NATS Helm chart
 * (https://github.com/nats-io/k8s/tree/main/helm/charts/nats); "#N" is an issue or PR of the project named.
 */
export const DEFAULTS = {
    /** Namespace when none is given (Kubernetes' own default). */
    namespace: "default",
    /** Kubernetes cluster DNS domain. */
    clusterDomain: "cluster.local",
    /** Servers in the cluster (Argo Events' default). */
    replicas: 3,
    /** `max_payload` (Argo Events' default). */
    maxPayload: "1MB",
    /** PVC size (Argo Events' default; the NATS Helm chart uses 10Gi). */
    volumeSize: "20Gi",
    /** PVC access mode (Argo Events' default). */
    accessMode: "ReadWriteOnce",
    /** PVC retention: keep data when the bus is deleted or scaled down (Argo Events deletes it). */
    pvcRetention: "Retain",
    /** JetStream memory limit: -1 lets the server use 75% of memory (Argo Events' default). */
    maxMemoryStore: "-1",
    /**
     * JetStream file limit without persistence (Argo Events' default); with persistence the volume size (as the NATS
     * Helm chart).
     */
    maxFileStoreWithoutPersistence: "1TB",
    /**
     * Lame duck mode (Argo Events since https://github.com/argoproj/argo-events/pull/3959, and the NATS Helm chart; the
     * server's minimum is 30s; https://docs.nats.io/running-a-nats-service/configuration).
     */
    lameDuckDuration: "30s",
    /** Lame duck grace period (the NATS Helm chart's; must be below the duration). */
    lameDuckGracePeriod: "10s",
    /** Extra seconds of termination grace above lame duck, so Raft is left cleanly (Argo #3948, Helm k8s#994). */
    terminationGraceMarginSeconds: 30,
    /** Route connect retries (Argo Events' default). */
    connectRetries: 120,
    /** The client user name; the password is random. */
    username: "eventbus",
    /** Length of the generated client and system passwords. */
    passwordLength: 32,
    /** Length of the JetStream encryption-at-rest key. */
    encryptionKeyLength: 32,
    /** Days a CA certificate is valid, and how early before expiry `pulumi up` reissues it. */
    caValidityHours: 10 * 365 * 24,
    caEarlyRenewalHours: 365 * 24,
    /** Leaf certificates last a year and are reissued by `pulumi up` in their last 30 days. */
    leafValidityHours: 365 * 24,
    leafEarlyRenewalHours: 30 * 24,
    /** Certificate organization. */
    organization: "jetstream-eventbus",
    /** Pod user and group when no security context is given (restricted Pod Security Standard). */
    runAsUser: 1000,
    fsGroup: 1000,
    /** GOMEMLIMIT as a share of the main container's memory limit (the NATS Helm chart's). */
    goMemLimitShare: 0.8,
} as const;

/** Ports, as Argo Events' bus uses them. */
export const PORTS = {
    client: 4222,
    cluster: 6222,
    metrics: 7777,
    monitor: 8222,
} as const;

/** Paths inside the pod, as Argo Events' bus uses them. */
export const PATHS = {
    configDir: "/etc/nats-config",
    configFile: "/etc/nats-config/nats-js.conf",
    authFile: "auth.conf",
    pidDir: "/var/run/nats",
    pidFile: "/var/run/nats/nats.pid",
    dataDir: "/data/jetstream",
    storeDir: "/data/jetstream/store",
} as const;

/**
 * File names of the projected config volume (as Argo Events names them), relative to `PATHS.configDir`. One CA signs
 * both the client and the route certificates, so Argo's separate `cluster-ca-cert.pem` is not needed.
 */
export const CONFIG_FILES = {
    config: "nats-js.conf",
    auth: "auth.conf",
    serverKey: "server-key.pem",
    serverCert: "server-cert.pem",
    caCert: "ca-cert.pem",
    clusterKey: "cluster-server-key.pem",
    clusterCert: "cluster-server-cert.pem",
} as const;
