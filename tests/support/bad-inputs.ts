/**
 * Plausible mistakes a user makes, by class, with where each must be caught: the field the error names,
 * text that says the valid form, and values that must never be repeated. Shared by the API test
 * (tests/unit/bad-input.test.ts) and the `render` command test (tests/local/render-refusals.test.ts).
 */

/** The classes of mistakes, as the issue tracker grouped them. */
export type MistakeClass =
    | "settings text"
    | "start flags"
    | "values that used to fail after registration"
    | "Kubernetes fields"
    | "raw errors and echoed secrets"
    | "values and names";

export interface BadInput {
    kind: MistakeClass;
    what: string;
    /** The component name; default "default". */
    name?: string;
    /** EventBus arguments. */
    args: unknown;
    /** The field the InputError names. */
    field: string;
    /** Text that says what is allowed. */
    allowed: RegExp;
    /** Values that must not appear in the message (a password, a key). */
    secrets?: string[];
}

const PASSWORD = "Hunter2-Sup3r-Secret";
const PEM_KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkL7gq1pQ0Jr4m6VhwZJcE0h0TtB0y2c3sOZ2m3ExampleKey\n-----END EC PRIVATE KEY-----\n";

const bus = (jetstream: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ namespace: "argo-events", ...extra, jetstream: { version: "latest", ...jetstream } });
const settings = (text: string) => bus({ settings: text });
const exotic = (fields: Record<string, unknown>) => ({ namespace: "argo-events", jetstreamExotic: { url: "nats://nats.example.svc:4222", ...fields } });

export const BAD_INPUTS: BadInput[] = [
    // 1. jetstream.settings is read, checked and rendered by the package.
    { kind: "settings text", what: "a closing brace that escapes the jetstream block", args: settings("max_memory_store: 1GB\n}\nport: 4333\njetstream {"), field: "jetstream.settings", allowed: /line 2: a closing brace is not allowed.*only limits \{ \.\.\. \} is a block/ },
    { kind: "settings text", what: "a top-level port inside the block", args: settings("port: 4333"), field: "jetstream.settings", allowed: /"port" is not a setting of the jetstream \{\} block; allowed for nats-server 2\.14\.4: max_memory_store/ },
    { kind: "settings text", what: "a tls block inside the block", args: settings("tls { verify: false }"), field: "jetstream.settings", allowed: /"tls" cannot hold a block/ },
    { kind: "settings text", what: "max_payload inside the block", args: settings("max_payload: 2MB"), field: "jetstream.settings", allowed: /set jetstream\.maxPayload instead/ },
    { kind: "settings text", what: "a size that is a word", args: settings("max_memory_store: lots"), field: "jetstream.settings", allowed: /"lots" is not a size; use an integer number of bytes, -1 for unlimited/ },
    { kind: "settings text", what: "an unbalanced closing brace", args: settings("max_file_store: 1GB\n}"), field: "jetstream.settings", allowed: /a closing brace is not allowed/ },
    { kind: "settings text", what: "an authorization block with a password", args: settings(`authorization { user: admin, password: ${PASSWORD} }`), field: "jetstream.settings", allowed: /"authorization" cannot hold a block/, secrets: [PASSWORD] },
    { kind: "settings text", what: "a password line", args: settings(`password: ${PASSWORD}`), field: "jetstream.settings", allowed: /"password" is not a setting of the jetstream \{\} block; allowed/, secrets: [PASSWORD] },
    { kind: "settings text", what: "no_auth_user", args: settings("no_auth_user: eventbus"), field: "jetstream.settings", allowed: /"no_auth_user" is not a setting of the jetstream \{\} block/ },
    { kind: "settings text", what: "an include", args: settings("include /etc/passwd"), field: "jetstream.settings", allowed: /include is not allowed/ },
    { kind: "settings text", what: "the encryption key", args: settings(`key: ${PASSWORD}`), field: "jetstream.settings", allowed: /"key" is not allowed: the bus generates the encryption key/, secrets: [PASSWORD] },
    { kind: "settings text", what: "a 2.10 key on a 2.9 bus", args: { namespace: "argo-events", jetstream: { version: "2.9.25", settings: "sync_interval: 1m" } }, field: "jetstream.settings", allowed: /needs nats-server 2\.10\.0 or later, and this bus runs 2\.9\.25/ },
    { kind: "settings text", what: "max_file_store 0 with the stream on file storage", args: settings("max_file_store: 0"), field: "jetstream.settings", allowed: /turns file storage off.*use a size, or -1/ },
    { kind: "settings text", what: "settings as a mapping", args: bus({ settings: { max_file_store: "1GB" } }), field: "jetstream.settings", allowed: /must be NATS configuration text, e.g\. "max_file_store: 10GB", got a mapping/ },

    // 2. jetstream.startArgs: logging flags only.
    { kind: "start flags", what: "another configuration file", args: bus({ startArgs: ["--config", "/etc/nats/custom.conf"] }), field: "jetstream.startArgs[0]", allowed: /replaces the configuration file.*Allowed flags: -D\/--debug/ },
    { kind: "start flags", what: "another client port", args: bus({ startArgs: ["-p", "5222"] }), field: "jetstream.startArgs[0]", allowed: /changes the client port.*Allowed flags/ },
    { kind: "start flags", what: "a user and password", args: bus({ startArgs: ["--user", "admin", "--pass", PASSWORD] }), field: "jetstream.startArgs[0]", allowed: /credentials on the command line.*Allowed flags/, secrets: [PASSWORD] },
    { kind: "start flags", what: "a password alone", args: bus({ startArgs: [`--pass=${PASSWORD}`] }), field: "jetstream.startArgs[0]", allowed: /credentials on the command line/, secrets: [PASSWORD] },
    { kind: "start flags", what: "shell syntax in a flag", args: bus({ startArgs: ["-D; rm -rf /"] }), field: "jetstream.startArgs[0]", allowed: /is not a nats-server flag.*allowed flags: -D\/--debug, -V\/--trace/ },
    { kind: "start flags", what: "an unknown flag", args: bus({ startArgs: ["--bogus"] }), field: "jetstream.startArgs[0]", allowed: /allowed flags: -D\/--debug/ },
    { kind: "start flags", what: "TLS switched to client certificates", args: bus({ startArgs: ["--tlsverify"] }), field: "jetstream.startArgs[0]", allowed: /client certificates would lock out every client/ },
    { kind: "start flags", what: "JetStream's store elsewhere", args: bus({ startArgs: ["-sd", "/tmp"] }), field: "jetstream.startArgs[0]", allowed: /store directory/ },
    { kind: "start flags", what: "flags as one string", args: bus({ startArgs: "-D -V" }), field: "jetstream.startArgs", allowed: /must be a list of nats-server flags, e\.g\. \["-D"\]/ },

    // 3. Values that failed only after resources were registered.
    { kind: "values that used to fail after registration", what: "memory limit 1GB", args: bus({ containerTemplate: { resources: { limits: { memory: "1GB" } } } }), field: "jetstream.containerTemplate.resources.limits.memory", allowed: /Kubernetes quantities use Gi or G, not GB/ },
    { kind: "values that used to fail after registration", what: "memory limit in milli", args: bus({ containerTemplate: { resources: { limits: { memory: "500m" } } } }), field: "jetstream.containerTemplate.resources.limits.memory", allowed: /"m" is milli in Kubernetes; use "M" or "Mi"/ },
    { kind: "values that used to fail after registration", what: "reloader memory limit 64MB", args: bus({ reloaderContainerTemplate: { resources: { limits: { memory: "64MB" } } } }), field: "jetstream.reloaderContainerTemplate.resources.limits.memory", allowed: /not GB|not a Kubernetes quantity/ },
    { kind: "values that used to fail after registration", what: "StatefulSet labels that Kubernetes refuses", args: bus({}, { labels: { team: "platform team" } }), field: "labels.team", allowed: /a label value has at most 63 letters, digits/ },

    // 4. Kubernetes fields passed through to the pods.
    { kind: "Kubernetes fields", what: "cpu request \"two\"", args: bus({ containerTemplate: { resources: { requests: { cpu: "two" } } } }), field: "jetstream.containerTemplate.resources.requests.cpu", allowed: /is not a Kubernetes quantity: use a number with an optional suffix m \(milli\)/ },
    { kind: "Kubernetes fields", what: "tolerations as an object", args: bus({ tolerations: { key: "dedicated", value: "nats" } }), field: "jetstream.tolerations", allowed: /must be a list of Toleration mappings, got a mapping/ },
    { kind: "Kubernetes fields", what: "tolerations in kubectl's taint syntax", args: bus({ tolerations: ["dedicated=nats:NoSchedule"] }), field: "jetstream.tolerations[0]", allowed: /must be a mapping \(a Toleration: key, operator, value, effect, tolerationSeconds\), got a string/ },
    { kind: "Kubernetes fields", what: "imagePullSecrets as names", args: bus({ imagePullSecrets: ["regcred"] }), field: "jetstream.imagePullSecrets[0]", allowed: /must be a mapping \(a LocalObjectReference: name\)/ },
    { kind: "Kubernetes fields", what: "nodeSelector as a string", args: bus({ nodeSelector: "disktype=ssd" }), field: "jetstream.nodeSelector", allowed: /must be a mapping of names to values, got a string/ },
    { kind: "Kubernetes fields", what: "imagePullPolicy in lower case", args: bus({ containerTemplate: { imagePullPolicy: "always" } }), field: "jetstream.containerTemplate.imagePullPolicy", allowed: /\(did you mean "Always"\?\); use one of Always, IfNotPresent, Never/ },
    { kind: "Kubernetes fields", what: "a typo in a container template", args: bus({ containerTemplate: { resource: { limits: { cpu: "1" } } } }), field: "jetstream.containerTemplate.resource", allowed: /\(did you mean "resources"\?\); allowed fields: resources, imagePullPolicy, securityContext/ },
    { kind: "Kubernetes fields", what: "a typo in pod metadata", args: bus({ metadata: { label: { team: "a" } } }), field: "jetstream.metadata.label", allowed: /did you mean "labels"\?/ },
    { kind: "Kubernetes fields", what: "a toleration effect that does not exist", args: bus({ tolerations: [{ key: "dedicated", operator: "Equal", value: "nats", effect: "NoScheduled" }] }), field: "jetstream.tolerations[0].effect", allowed: /\(did you mean "NoSchedule"\?\); use one of NoSchedule, PreferNoSchedule, NoExecute/ },
    { kind: "Kubernetes fields", what: "an affinity typo", args: bus({ affinity: { podAntiAfinity: {} } }), field: "jetstream.affinity.podAntiAfinity", allowed: /did you mean "podAntiAffinity"\?/ },
    { kind: "Kubernetes fields", what: "an affinity term without topologyKey", args: bus({ affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: "x" } } }] } } }), field: "jetstream.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey", allowed: /is required in a PodAffinityTerm/ },
    { kind: "Kubernetes fields", what: "a weight out of range", args: bus({ affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 500, preference: {} }] } } }), field: "jetstream.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight", allowed: /500 is out of range: use a whole number from 1 to 100/ },
    { kind: "Kubernetes fields", what: "runAsUser as a string", args: bus({ securityContext: { runAsUser: "1000" } }), field: "jetstream.securityContext.runAsUser", allowed: /must be a whole number from 0 to .*write the number without quotes/ },
    { kind: "Kubernetes fields", what: "a seccomp profile without its type", args: bus({ securityContext: { seccompProfile: {} } }), field: "jetstream.securityContext.seccompProfile.type", allowed: /is required in a SeccompProfile/ },
    { kind: "Kubernetes fields", what: "capabilities as a string", args: bus({ containerTemplate: { securityContext: { capabilities: { drop: "ALL" } } } }), field: "jetstream.containerTemplate.securityContext.capabilities.drop", allowed: /must be a list of values, got a string/ },
    { kind: "Kubernetes fields", what: "a topology spread constraint without whenUnsatisfiable", args: bus({ topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone" }] }), field: "jetstream.topologySpreadConstraints[0].whenUnsatisfiable", allowed: /is required in a TopologySpreadConstraint/ },
    { kind: "Kubernetes fields", what: "a priority class name with capitals", args: bus({ priorityClassName: "High-Priority" }), field: "jetstream.priorityClassName", allowed: /lowercase letters, digits, '-' and '\.'/ },
    { kind: "Kubernetes fields", what: "priority as a word", args: bus({ priority: "high" }), field: "jetstream.priority", allowed: /must be a whole number from -2147483648 to 2147483647, got a string/ },
    { kind: "Kubernetes fields", what: "a service account name with an underscore", args: bus({ serviceAccountName: "nats_sa" }), field: "jetstream.serviceAccountName", allowed: /lowercase letters, digits, '-' and '\.'/ },
    { kind: "Kubernetes fields", what: "a pod label key with a space", args: bus({ metadata: { labels: { "my team": "a" } } }), field: "jetstream.metadata.labels[\"my team\"]", allowed: /a key is an optional DNS prefix and '\/'/ },
    { kind: "Kubernetes fields", what: "an annotation value that is a number", args: bus({ metadata: { annotations: { "example.com/port": 8080 } } }), field: "jetstream.metadata.annotations.example.com/port", allowed: /must be a string, got the number 8080/ },
    { kind: "Kubernetes fields", what: "a resource limit as an object", args: bus({ metricsContainerTemplate: { resources: { limits: { memory: { value: 64 } } } } }), field: "jetstream.metricsContainerTemplate.resources.limits.memory", allowed: /must be a Kubernetes quantity such as "500m", "2", "512Mi" or "1Gi", got a mapping/ },

    // 5. Raw errors, echoed secrets, messages that name the field but not the valid form.
    { kind: "raw errors and echoed secrets", what: "no arguments at all", args: undefined, field: "args", allowed: /are required: set jetstream \(a managed cluster, e\.g\. \{ jetstream: \{ version: "latest" \} \}\) or jetstreamExotic/ },
    { kind: "raw errors and echoed secrets", what: "arguments that are a string", args: "jetstream", field: "args", allowed: /must be an object, got a string/ },
    { kind: "raw errors and echoed secrets", what: "replicas as a string", args: bus({ replicas: "3" }), field: "jetstream.replicas", allowed: /must be a number, 1 or 3 and more, got a string \(in YAML, write replicas: 3 without quotes\)/ },
    { kind: "raw errors and echoed secrets", what: "an exotic URL with a port out of range", args: exotic({ url: "nats://nats.example.svc:70000" }), field: "jetstreamExotic.url", allowed: /port 70000, out of range: ports go from 1 to 65535/ },
    { kind: "raw errors and echoed secrets", what: "a password where the accessSecret reference belongs", args: exotic({ accessSecret: PASSWORD }), field: "jetstreamExotic.accessSecret", allowed: /must be an object, got a string/, secrets: [PASSWORD] },
    { kind: "raw errors and echoed secrets", what: "a password as the accessSecret name", args: exotic({ accessSecret: { name: PASSWORD, key: "client-auth" } }), field: "jetstreamExotic.accessSecret.name", allowed: /must be the name of a Secret \(use at most 253 lowercase letters/, secrets: [PASSWORD] },
    { kind: "raw errors and echoed secrets", what: "a PEM key as the CA secret", args: exotic({ tls: { caCertSecret: PEM_KEY } }), field: "jetstreamExotic.tls.caCertSecret", allowed: /must be an object, got a string/, secrets: [PEM_KEY, "MHcCAQEE"] },
    { kind: "raw errors and echoed secrets", what: "a password as a number", args: exotic({ username: "app", password: 12345678 }), field: "jetstreamExotic.password", allowed: /must be a non-empty string, got a number/, secrets: ["12345678"] },
    { kind: "raw errors and echoed secrets", what: "a client key that is not text", args: exotic({ clientCert: "x", clientKey: { pem: PEM_KEY } }), field: "jetstreamExotic.clientKey", allowed: /must be a non-empty string of PEM text, got a mapping/, secrets: [PEM_KEY, "MHcCAQEE"] },
    { kind: "raw errors and echoed secrets", what: "a storage class name with capitals", args: bus({ persistence: { storageClassName: "Fast_SSD" } }), field: "jetstream.persistence.storageClassName", allowed: /is not a valid storage class name: use at most 253 lowercase letters, digits, '-' and '\.'/ },
    { kind: "raw errors and echoed secrets", what: "a Secret key with a slash", args: exotic({ accessSecret: { name: "nats-creds", key: "a/b" } }), field: "jetstreamExotic.accessSecret.key", allowed: /at most 253 letters, digits, '-', '_' and '\.'/ },
    { kind: "raw errors and echoed secrets", what: "a kubeconfig that is not text", args: bus({}, { connection: { kubeconfig: { clusters: [] } } }), field: "connection.kubeconfig", allowed: /must be the text of a kubeconfig, got a mapping/ },
    { kind: "raw errors and echoed secrets", what: "a URL with credentials", args: exotic({ url: `nats://app:${PASSWORD}@nats.example.svc:4222` }), field: "jetstreamExotic.url", allowed: /give them as username and password/, secrets: [PASSWORD] },
    { kind: "raw errors and echoed secrets", what: "a comma list with an empty server", args: exotic({ url: "nats://a.example.svc:4222,,nats://b.example.svc:4222" }), field: "jetstreamExotic.url", allowed: /server 2 of 3: is empty/ },
    { kind: "raw errors and echoed secrets", what: "a comma list with credentials in one server", args: exotic({ url: `nats://a.example.svc:4222,nats://app:${PASSWORD}@b.example.svc:4222` }), field: "jetstreamExotic.url", allowed: /server 2 of 2: a URL with credentials/, secrets: [PASSWORD] },

    // Values and names checked since the first version.
    { kind: "values and names", what: "replicas 2", args: bus({ replicas: 2 }), field: "jetstream.replicas", allowed: /1 replica or 3 and more/ },
    { kind: "values and names", what: "replicas 0", args: bus({ replicas: 0 }), field: "jetstream.replicas", allowed: /1 replica or 3 and more/ },
    { kind: "values and names", what: "replicas -1", args: bus({ replicas: -1 }), field: "jetstream.replicas", allowed: /1 replica or 3 and more/ },
    { kind: "values and names", what: "an unknown version", args: { jetstream: { version: "2.99.0" } }, field: "jetstream.version", allowed: /supported versions: latest, .*2\.10\.29.*2\.14\.4/ },
    { kind: "values and names", what: "a missing version", args: { jetstream: {} }, field: "jetstream.version", allowed: /supported versions: latest/ },
    { kind: "values and names", what: "volume size 1XB", args: bus({ persistence: { volumeSize: "1XB" } }), field: "jetstream.persistence.volumeSize", allowed: /Gi/ },
    {
        kind: "values and names",
        what: "an encryption key with digits (nats-server misreads a $JS_KEY that starts with one)",
        args: bus({ persistence: { encryptionKey: "2024-restore-key-for-orders" } }),
        field: "jetstream.persistence.encryptionKey",
        allowed: /at least 16 letters \(A-Z, a-z\) and nothing else/,
        secrets: ["2024-restore-key-for-orders"],
    },
    { kind: "values and names", what: "maxPayload 1XB", args: bus({ maxPayload: "1XB" }), field: "jetstream.maxPayload", allowed: /MB/ },
    { kind: "values and names", what: "lameDuckDuration 7x", args: bus({ lameDuckDuration: "7x" }), field: "jetstream.lameDuckDuration", allowed: /units ns, us, ms, s, m, h/ },
    {
        kind: "values and names",
        what: "streamConfig maxAge 7x",
        args: bus({ streamConfig: "maxAge: 7x\n" }),
        field: "jetstream.streamConfig.maxAge",
        allowed: /units ns, us, ms, s, m, h/,
    },
    {
        kind: "values and names",
        what: "max_file_store in settings above the volume size",
        args: bus({ persistence: { volumeSize: "10Gi" }, settings: "max_file_store: 20GB\n" }),
        field: "jetstream.settings",
        allowed: /must not exceed persistence\.volumeSize 10Gi/,
    },
    {
        kind: "values and names",
        what: "jetstreamSettings.maxFileStore above the volume size",
        args: bus({ persistence: { volumeSize: "10Gi" }, jetstreamSettings: { maxFileStore: "11GB" } }),
        field: "jetstream.jetstreamSettings.maxFileStore",
        allowed: /must not exceed persistence\.volumeSize 10Gi/,
    },
    {
        kind: "values and names",
        what: "an unknown key in streamConfig",
        args: bus({ streamConfig: "maxAgee: 24h\n" }),
        field: "jetstream.streamConfig.maxAgee",
        allowed: /did you mean "maxAge"\?.*maxMsgs, maxAge, maxBytes, replicas, duplicates, retention, discard/,
    },
    {
        kind: "values and names",
        what: "an unknown key in the typed stream settings",
        args: bus({ stream: { maxAgee: "24h" } }),
        field: "jetstream.stream.maxAgee",
        allowed: /did you mean "maxAge"\?/,
    },
    {
        kind: "values and names",
        what: "stream replicas above the bus replicas",
        args: bus({ replicas: 1, streamConfig: "replicas: 3\n" }),
        field: "jetstream.streamConfig.replicas",
        allowed: /set replicas: 1 in streamConfig/,
    },
    { kind: "values and names", what: "negative maxPayload -1", args: bus({ maxPayload: "-1" }), field: "jetstream.maxPayload", allowed: /from 1 byte to 64MB/ },
    { kind: "values and names", what: "negative maxPayload -1MB", args: bus({ maxPayload: "-1MB" }), field: "jetstream.maxPayload", allowed: /MB/ },
    {
        kind: "values and names",
        what: "a component name that is not a Kubernetes name",
        name: "My_Bus",
        args: { jetstream: { version: "latest" } },
        field: "busName (defaults to the component name)",
        allowed: /lowercase letters, digits and '-'/,
    },
    { kind: "values and names", what: "a busName that is not a Kubernetes name", args: { busName: "bus.one", jetstream: { version: "latest" } }, field: "busName", allowed: /lowercase letters, digits and '-'/ },
    { kind: "values and names", what: "a busName too long for the StatefulSet", args: { busName: "a".repeat(60), jetstream: { version: "latest" } }, field: "busName", allowed: /at most \d+ lowercase/ },
    { kind: "values and names", what: "a namespace that is not a Kubernetes name", args: { namespace: "Argo_Events", jetstream: { version: "latest" } }, field: "namespace", allowed: /lowercase letters, digits and '-'/ },
    {
        kind: "values and names",
        what: "both jetstream and jetstreamExotic",
        args: { jetstream: { version: "latest" }, jetstreamExotic: { url: "nats://nats.example.svc:4222" } },
        field: "jetstream",
        allowed: /set exactly one/,
    },
    { kind: "values and names", what: "jetstream missing", args: { namespace: "argo-events" }, field: "jetstream", allowed: /set jetstream, or jetstreamExotic/ },
    { kind: "values and names", what: "the typo replica", args: bus({ replica: 3 }), field: "jetstream.replica", allowed: /did you mean "replicas"\?/ },
    {
        kind: "values and names",
        what: "an unknown top-level key",
        args: { namespace: "argo-events", jetstrem: { version: "latest" } },
        // Top-level fields are named without a prefix everywhere else ("namespace", "busName", "jetstream").
        field: "jetstrem",
        allowed: /did you mean "jetstream"\?/,
    },
    {
        kind: "values and names",
        what: "compression on a 2.9 bus",
        args: { namespace: "argo-events", jetstream: { version: "2.9.25", stream: { compression: "s2" } } },
        field: "jetstream.stream.compression",
        allowed: /needs nats-server 2\.10 or later/,
    },
    {
        kind: "values and names",
        what: "an unknown connection mode",
        args: { namespace: "argo-events", jetstream: { version: "latest" }, connection: { mode: "tunnel" } },
        field: "connection.mode",
        allowed: /auto, portForward, direct/,
    },
    {
        kind: "values and names",
        what: "direct mode without servers",
        args: { namespace: "argo-events", jetstream: { version: "latest" }, connection: { mode: "direct" } },
        field: "connection.servers",
        allowed: /nats:\/\/nats\.example\.com:4222/,
    },
    {
        kind: "values and names",
        what: "a server URL that is not a NATS URL",
        args: { namespace: "argo-events", jetstream: { version: "latest" }, connection: { mode: "direct", servers: ["http://nats:4222"] } },
        field: "connection.servers[0]",
        allowed: /not a NATS URL like nats:\/\/nats\.example\.com:4222/,
    },
    {
        kind: "values and names",
        what: "servers with the auto mode",
        args: { namespace: "argo-events", jetstream: { version: "latest" }, connection: { servers: ["nats://nats:4222"] } },
        field: "connection.servers",
        allowed: /only with mode direct/,
    },
    {
        kind: "values and names",
        what: "an invalid accessMode",
        args: bus({ persistence: { accessMode: "ReadWrite" } }),
        field: "jetstream.persistence.accessMode",
        allowed: /ReadWriteOnce, ReadWriteOncePod, ReadWriteMany/,
    },
    { kind: "values and names", what: "lameDuckDuration 10s", args: bus({ lameDuckDuration: "10s" }), field: "jetstream.lameDuckDuration", allowed: /at least 30s/ },
    {
        kind: "values and names",
        what: "terminationGracePeriodSeconds 20",
        args: bus({ terminationGracePeriodSeconds: 20 }),
        field: "jetstream.terminationGracePeriodSeconds",
        allowed: /above lameDuckDuration \(30s\)/,
    },
    { kind: "values and names", what: "settings with store_dir", args: bus({ settings: "store_dir: /tmp/js\n" }), field: "jetstream.settings", allowed: /line 1: "store_dir" is not allowed: the bus sets the store directory on its volume itself/ },
];

/** Mistakes that are not mistakes: an empty YAML value (null) means unset, as in Kubernetes. */
export const NULL_MEANS_UNSET: { what: string; args: Record<string, unknown>; same: Record<string, unknown> }[] = [
    { what: "networkPolicy: null", args: bus({ networkPolicy: null }), same: bus({}) },
    { what: "persistence: null", args: bus({ persistence: null }), same: bus({}) },
    { what: "argoEvents: null", args: { ...bus({}), argoEvents: null }, same: bus({}) },
    { what: "connection: null and labels: null", args: { ...bus({}), connection: null, labels: null }, same: bus({}) },
    { what: "accessSecret: null on an exotic bus", args: exotic({ accessSecret: null }), same: exotic({}) },
    { what: "containerTemplate with resources: null", args: bus({ containerTemplate: { resources: null } }), same: bus({ containerTemplate: {} }) },
];

/** The stack configuration (Pulumi.yaml `config:` keys) of a bad input, when a stack file can say it. */
export function stackConfigOf(input: BadInput): Record<string, unknown> | undefined {
    const args = input.args;
    if (args === null || typeof args !== "object" || Array.isArray(args)) {
        return undefined;
    }
    const { jetstream, jetstreamExotic, ...rest } = args as Record<string, unknown>;
    const allowed = ["namespace", "busName", "clusterDomain", "labels"];
    if (Object.keys(rest).some((key) => !allowed.includes(key))) {
        return undefined;
    }
    return { ...rest, ...(input.name ? { name: input.name } : {}), spec: { ...(jetstream !== undefined ? { jetstream } : {}), ...(jetstreamExotic !== undefined ? { jetstreamExotic } : {}) } };
}
