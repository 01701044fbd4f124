/**
 * Argo Events EventBus manifest import (components/argo/import.ts) and the root program's `manifest`
 * stack configuration.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fromArgoEventBus } from "../../../components/argo/import";
import { InputError } from "../../../components/check";

/**
 * Asserts that `fn` throws an InputError for `field` whose message starts with the field path and matches `pattern`.
 */
function assertRefused(fn: () => unknown, field: string, pattern?: RegExp): void {
    assert.throws(fn, (err: unknown) => {
        assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
        assert.equal(err.field, field);
        assert.ok(err.message.startsWith(`${field}: `), `message starts with the field path: ${err.message}`);
        if (pattern !== undefined) {
            assert.match(err.message, pattern);
        }
        return true;
    });
}

// The three examples of Argo's JetStream documentation page
// (https://argoproj.github.io/argo-events/eventbus/jetstream/), verbatim.
const SIMPLE = `apiVersion: argoproj.io/v1alpha1
kind: EventBus
metadata:
  name: default
spec:
  jetstream:
    version: latest # Do NOT use "latest" but a specific version in your real deployment
`;

const INVOLVED = `apiVersion: argoproj.io/v1alpha1
kind: EventBus
metadata:
  name: default
spec:
  jetstream:
    version: latest # Do NOT use "latest" but a specific version in your real deployment
    replicas: 5
    persistence: # optional
        storageClassName: standard
        accessMode: ReadWriteOnce
        volumeSize: 10Gi
    streamConfig: |             # see default values in argo-events-controller-config
      maxAge: 24h
    settings: |
      max_file_store: 1GB       # see default values in argo-events-controller-config
    startArgs:
      - "-D"                    # debug-level logs
`;

const EXOTIC = `apiVersion: argoproj.io/v1alpha1
kind: EventBus
metadata:
  name: default
spec:
  jetstreamExotic:
      url: nats://xxxxx:xxx
      accessSecret:
        name: my-secret-name
        key: secret-key
      streamConfig: ""
`;

const INVOLVED_ARGS = {
    jetstream: {
        version: "latest",
        replicas: 5,
        persistence: { storageClassName: "standard", accessMode: "ReadWriteOnce", volumeSize: "10Gi" },
        streamConfig: "maxAge: 24h\n",
        settings: "max_file_store: 1GB       # see default values in argo-events-controller-config\n",
        startArgs: ["-D"],
    },
};

/** `kubectl get eventbus default -n argo-events -o yaml` of the involved example, as the API server returns it. */
const FROM_KUBECTL = `apiVersion: argoproj.io/v1alpha1
kind: EventBus
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"argoproj.io/v1alpha1","kind":"EventBus","metadata":{"annotations":{},"name":"default","namespace":"argo-events"}}
  creationTimestamp: "2026-07-20T09:12:44Z"
  finalizers:
  - eventbus-controller
  generation: 1
  labels:
    team: platform
  managedFields:
  - apiVersion: argoproj.io/v1alpha1
    fieldsType: FieldsV1
    fieldsV1:
      f:spec:
        .: {}
        f:jetstream: {}
    manager: kubectl-client-side-apply
    operation: Update
    time: "2026-07-20T09:12:44Z"
  name: default
  namespace: argo-events
  resourceVersion: "48211"
  uid: 0f6c1f7e-2d3b-4a8e-9a51-0f3c1b2d4e5f
spec:
  jetstream:
    persistence:
      accessMode: ReadWriteOnce
      storageClassName: standard
      volumeSize: 10Gi
    replicas: 5
    settings: |
      max_file_store: 1GB       # see default values in argo-events-controller-config
    startArgs:
    - -D
    streamConfig: |
      maxAge: 24h
    version: latest
status:
  conditions:
  - lastTransitionTime: "2026-07-20T09:12:45Z"
    status: "True"
    type: Configured
  - lastTransitionTime: "2026-07-20T09:12:45Z"
    message: JetStream is deployed
    reason: Succeeded
    status: "True"
    type: Deployed
  config:
    jetstream:
      accessSecret:
        key: client-auth
        name: eventbus-default-js-client-auth
      streamConfig: |
        maxage: 24h
      url: nats://eventbus-default-js-svc.argo-events.svc:4222
`;

describe("fromArgoEventBus: the examples of Argo's JetStream documentation", () => {
    it("imports the simplest example", () => {
        assert.deepEqual(fromArgoEventBus(SIMPLE), { name: "default", args: { jetstream: { version: "latest" } } });
    });

    it("imports the more involved example, keeping the text blocks and start arguments as written", () => {
        assert.deepEqual(fromArgoEventBus(INVOLVED), { name: "default", args: INVOLVED_ARGS });
    });

    it("imports the exotic example", () => {
        assert.deepEqual(fromArgoEventBus(EXOTIC), {
            name: "default",
            args: {
                jetstreamExotic: {
                    url: "nats://xxxxx:xxx",
                    accessSecret: { name: "my-secret-name", key: "secret-key" },
                    streamConfig: "",
                },
            },
        });
    });
});

describe("fromArgoEventBus: manifests as clusters print them", () => {
    it("ignores status and server-set metadata, and takes the namespace and labels", () => {
        assert.deepEqual(fromArgoEventBus(FROM_KUBECTL), {
            name: "default",
            args: { namespace: "argo-events", labels: { team: "platform" }, ...INVOLVED_ARGS },
        });
    });

    it("reads a kind: List as kubectl prints for several objects, when it holds one EventBus", () => {
        const list = `apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: ""\nitems:\n${SIMPLE.replace(/^/gm, "  ").replace(/^ {2}apiVersion/, "- apiVersion")}`;
        assert.deepEqual(fromArgoEventBus(list), { name: "default", args: { jetstream: { version: "latest" } } });
    });

    it("keeps a numeric volumeSize as a string, and treats YAML nulls as unset", () => {
        const manifest = `apiVersion: argoproj.io/v1alpha1
kind: EventBus
metadata:
  name: bus
spec:
  nats:
  jetstream:
    version: "2.10"
    persistence:
      volumeSize: 10737418240
    affinity:
`;
        assert.deepEqual(fromArgoEventBus(manifest), {
            name: "bus",
            args: { jetstream: { version: "2.10", persistence: { volumeSize: "10737418240" } } },
        });
    });

    it("passes every Argo JetStreamBus field through", () => {
        const jetstream = {
            version: "2.10.29",
            replicas: 3,
            containerTemplate: { resources: { limits: { memory: "1Gi" } }, imagePullPolicy: "IfNotPresent" },
            reloaderContainerTemplate: { securityContext: { runAsUser: 1000 } },
            metricsContainerTemplate: { resources: { requests: { cpu: "10m" } } },
            persistence: { volumeSize: "5Gi" },
            metadata: { labels: { app: "bus" }, annotations: { note: "x" } },
            nodeSelector: { "kubernetes.io/os": "linux" },
            tolerations: [{ key: "dedicated", operator: "Exists" }],
            securityContext: { fsGroup: 2000 },
            imagePullSecrets: [{ name: "regcred" }],
            priorityClassName: "high",
            priority: 1000,
            affinity: { nodeAffinity: {} },
            serviceAccountName: "nats",
            settings: "max_memory_store: 1GB\n",
            startArgs: ["-D", "-V"],
            streamConfig: "maxMsgs: 10\n",
            maxPayload: "2MB",
        };
        assert.equal(Object.keys(jetstream).length, 19);
        const manifest = {
            apiVersion: "argoproj.io/v1alpha1",
            kind: "EventBus",
            metadata: { name: "b" },
            spec: { jetstream },
        };
        assert.deepEqual(fromArgoEventBus(manifest), { name: "b", args: { jetstream } });
    });

    it("passes jetstreamExotic tls through", () => {
        const manifest = `apiVersion: argoproj.io/v1alpha1
kind: EventBus
metadata:
  name: external
  namespace: events
spec:
  jetstreamExotic:
    url: nats://nats.example.svc:4222
    tls:
      caCertSecret: {name: nats-ca, key: ca.crt}
      clientCertSecret: {name: nats-client, key: tls.crt}
      clientKeySecret: {name: nats-client, key: tls.key}
      insecureSkipVerify: false
      enabled: true
`;
        assert.deepEqual(fromArgoEventBus(manifest), {
            name: "external",
            args: {
                namespace: "events",
                jetstreamExotic: {
                    url: "nats://nats.example.svc:4222",
                    tls: {
                        caCertSecret: { name: "nats-ca", key: "ca.crt" },
                        clientCertSecret: { name: "nats-client", key: "tls.crt" },
                        clientKeySecret: { name: "nats-client", key: "tls.key" },
                        insecureSkipVerify: false,
                        enabled: true,
                    },
                },
            },
        });
    });
});

describe("fromArgoEventBus: inputs", () => {
    it("accepts an already parsed object", () => {
        const parsed = {
            apiVersion: "argoproj.io/v1alpha1",
            kind: "EventBus",
            metadata: { name: "default" },
            spec: { jetstream: { version: "latest" } },
        };
        assert.deepEqual(fromArgoEventBus(parsed), { name: "default", args: { jetstream: { version: "latest" } } });
    });

    it("accepts a Buffer as fs.readFileSync returns it", () => {
        assert.deepEqual(fromArgoEventBus(Buffer.from(SIMPLE)), {
            name: "default",
            args: { jetstream: { version: "latest" } },
        });
    });

    it("picks the one EventBus of a multi-document file", () => {
        const secret = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: my-secret-name\nstringData:\n  secret-key: "username: a"\n`;
        assert.deepEqual(fromArgoEventBus(`---\n${secret}---\n${EXOTIC}---\n`), {
            name: "default",
            args: {
                jetstreamExotic: {
                    url: "nats://xxxxx:xxx",
                    accessSecret: { name: "my-secret-name", key: "secret-key" },
                    streamConfig: "",
                },
            },
        });
    });

    it("refuses a file with two EventBuses, naming the count", () => {
        assertRefused(
            () => fromArgoEventBus(`${SIMPLE}---\n${INVOLVED}`),
            "manifest",
            /holds 2 EventBus documents; expected exactly one/,
        );
    });

    it("refuses a file of several documents with no EventBus", () => {
        assertRefused(
            () => fromArgoEventBus("kind: Secret\n---\nkind: ConfigMap\n"),
            "manifest",
            /none is an EventBus/,
        );
    });

    it("refuses empty text and invalid YAML", () => {
        assertRefused(() => fromArgoEventBus("# nothing here\n"), "manifest", /is empty/);
        assertRefused(() => fromArgoEventBus("kind: EventBus\n  bad: [indent\n"), "manifest", /is not valid YAML/);
    });
});

describe("fromArgoEventBus: refusals", () => {
    it("refuses another apiVersion", () => {
        assertRefused(
            () => fromArgoEventBus(SIMPLE.replace("argoproj.io/v1alpha1", "argoproj.io/v1beta1")),
            "apiVersion",
            /expected "argoproj\.io\/v1alpha1".*got "argoproj\.io\/v1beta1"/,
        );
        assertRefused(() => fromArgoEventBus({ kind: "EventBus" }), "apiVersion", /got nothing/);
    });

    it("refuses another kind", () => {
        assertRefused(
            () => fromArgoEventBus(SIMPLE.replace("kind: EventBus", "kind: Sensor")),
            "kind",
            /expected "EventBus", got "Sensor"/,
        );
    });

    it("refuses NATS Streaming with how to migrate", () => {
        const nats = SIMPLE.replace(/jetstream:\n.*\n/, "nats:\n    native:\n      replicas: 3\n");
        assertRefused(
            () => fromArgoEventBus(nats),
            "spec.nats",
            /JetStream only.*deprecated.*replace `nats:` with `jetstream: \{ version:/,
        );
        const exotic = SIMPLE.replace(/jetstream:\n.*\n/, "nats:\n    exotic:\n      url: nats://stan:4222\n");
        assertRefused(() => fromArgoEventBus(exotic), "spec.nats", /JetStream only.*`spec\.jetstreamExotic\.url`/);
    });

    it("refuses Kafka with how to migrate", () => {
        const kafka = SIMPLE.replace(/jetstream:\n.*\n/, "kafka:\n    url: kafka:9092\n");
        assertRefused(
            () => fromArgoEventBus(kafka),
            "spec.kafka",
            /JetStream only.*replace `kafka:` with `jetstream: \{ version:/,
        );
    });

    it("refuses an unknown spec key with a suggestion", () => {
        assertRefused(
            () => fromArgoEventBus(SIMPLE.replace("jetstream:", "jetstrem:")),
            "spec.jetstrem",
            /unknown field \(did you mean "jetstream"\?\)/,
        );
    });

    it("refuses an unknown jetstream field with a suggestion", () => {
        assertRefused(
            () => fromArgoEventBus(INVOLVED.replace("replicas:", "replica:")),
            "spec.jetstream.replica",
            /unknown field \(did you mean "replicas"\?\)/,
        );
        assertRefused(
            () => fromArgoEventBus(INVOLVED.replace("volumeSize:", "volumesize:")),
            "spec.jetstream.persistence.volumesize",
            /did you mean "volumeSize"/,
        );
    });

    it("refuses an unknown top-level key with a suggestion", () => {
        assertRefused(() => fromArgoEventBus(SIMPLE.replace("spec:", "sepc:")), "sepc", /did you mean "spec"/);
    });

    it("refuses both jetstream and jetstreamExotic, which Argo resolves silently", () => {
        const both = `${SIMPLE}  jetstreamExotic:\n    url: nats://x:4222\n`;
        assertRefused(() => fromArgoEventBus(both), "spec", /both `jetstream` and `jetstreamExotic`/);
    });

    it("refuses a spec with no bus, and a missing spec", () => {
        assertRefused(() => fromArgoEventBus(SIMPLE.replace(/jetstream:\n.*\n/, "jetstream:\n")), "spec", /has no bus/);
        assertRefused(() => fromArgoEventBus(SIMPLE.replace(/spec:[^]*/, "")), "spec", /is required/);
    });

    it("requires jetstreamExotic.url, as Argo does", () => {
        assertRefused(
            () => fromArgoEventBus(EXOTIC.replace("      url: nats://xxxxx:xxx\n", "")),
            "spec.jetstreamExotic.url",
            /is required/,
        );
    });

    it("requires jetstream.version, and refuses a version YAML reads as a number", () => {
        assertRefused(
            () => fromArgoEventBus(SIMPLE.replace(/version: .*/, "replicas: 3")),
            "spec.jetstream.version",
            /is required/,
        );
        assertRefused(
            () => fromArgoEventBus(SIMPLE.replace(/version: .*/, "version: 2.10")),
            "spec.jetstream.version",
            /must be a string, got the number 2\.1; quote it/,
        );
    });

    it("requires metadata.name, a string", () => {
        assertRefused(
            () => fromArgoEventBus(SIMPLE.replace("  name: default\n", "  namespace: x\n")),
            "metadata.name",
            /is required/,
        );
        assertRefused(
            () => fromArgoEventBus(SIMPLE.replace("name: default", "name: [a]")),
            "metadata.name",
            /must be a string/,
        );
        assertRefused(
            () => fromArgoEventBus(SIMPLE.replace("metadata:\n  name: default\n", "")),
            "metadata",
            /is required/,
        );
    });

    it("checks the types of Argo's value shapes", () => {
        assertRefused(
            () => fromArgoEventBus(INVOLVED.replace("replicas: 5", 'replicas: "5"')),
            "spec.jetstream.replicas",
            /must be a number, got a string/,
        );
        assertRefused(
            () => fromArgoEventBus(INVOLVED.replace('- "-D"', "- 1")),
            "spec.jetstream.startArgs[0]",
            /must be a string/,
        );
        assertRefused(
            () => fromArgoEventBus(INVOLVED.replace('startArgs:\n      - "-D"', "startArgs: -D")),
            "spec.jetstream.startArgs",
            /must be a list of strings/,
        );
        assertRefused(
            () => fromArgoEventBus(INVOLVED.replace("streamConfig: |", "streamConfig:")),
            "spec.jetstream.streamConfig",
            /must be a string, got a mapping; .*block scalar/,
        );
        assertRefused(
            () => fromArgoEventBus(INVOLVED.replace("settings: |", "settings:")),
            "spec.jetstream.settings",
            /must be a string/,
        );
        assertRefused(
            () => fromArgoEventBus(SIMPLE.replace("name: default", "name: default\n  labels:\n    tier: 1")),
            "metadata.labels.tier",
            /must be a string/,
        );
        assertRefused(
            () => fromArgoEventBus(EXOTIC.replace("key: secret-key", "kee: secret-key")),
            "spec.jetstreamExotic.accessSecret.kee",
            /did you mean "key"/,
        );
        assertRefused(
            () => fromArgoEventBus(EXOTIC.replace('streamConfig: ""', "tls:\n        enabled: yes")),
            "spec.jetstreamExotic.tls.enabled",
            /must be true or false/,
        );
    });

    it("leaves value checks to the EventBus: replicas 2 and an odd volume size import as written", () => {
        const manifest = INVOLVED.replace("replicas: 5", "replicas: 2").replace("volumeSize: 10Gi", "volumeSize: lots");
        const { args } = fromArgoEventBus(manifest);
        assert.equal(args.jetstream?.replicas, 2);
        assert.equal(args.jetstream?.persistence?.volumeSize, "lots");
    });
});

describe("index.ts with the manifest stack configuration", () => {
    const root = path.resolve(__dirname, "../../..");

    /** Runs the root program under the mocks in a child process (Pulumi reads its config once per process). */
    function runProgram(
        config: Record<string, string>,
        files: Record<string, string>,
    ): { ok: boolean; out: any; error?: string } {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "argo-import-"));
        for (const [name, text] of Object.entries(files)) {
            fs.writeFileSync(path.join(dir, name), text);
        }
        const script = `
            const { testMocks } = require(${JSON.stringify(path.join(root, "tests/support/bus.js"))});
            const { resolve } = require(${JSON.stringify(path.join(root, "tests/support/mocks.js"))});
            const mocks = testMocks();
            (async () => {
                let program;
                try {
                    program = require(${JSON.stringify(path.join(root, "index.js"))});
                } catch (err) {
                    console.log(JSON.stringify({ ok: false, error: err.message }));
                    return;
                }
                const url = await resolve(program.url);
                await require(${JSON.stringify(require.resolve("@pulumi/pulumi/runtime/settings"))}).waitForRPCs();
                const sts = mocks.resources.find((r) => r.type === "kubernetes:apps/v1:StatefulSet");
                console.log(JSON.stringify({ ok: true, out: { url, replicas: sts.inputs.spec.replicas, labels: sts.inputs.metadata.labels } }));
            })().catch((err) => { console.log(JSON.stringify({ ok: false, error: String(err && err.stack || err) })); });
        `;
        const env = {
            ...process.env,
            PULUMI_CONFIG: JSON.stringify(
                Object.fromEntries(Object.entries(config).map(([k, v]) => [`jetstream-eventbus:${k}`, v])),
            ),
        };
        const child = spawnSync(process.execPath, ["-e", script], {
            cwd: dir,
            env,
            encoding: "utf8",
            timeout: 120_000,
        });
        fs.rmSync(dir, { recursive: true, force: true });
        const line = child.stdout.trim().split("\n").pop() ?? "";
        assert.ok(line.startsWith("{"), `program output: ${child.stdout}\n${child.stderr}`);
        return JSON.parse(line);
    }

    it("builds the bus from the manifest file, relative to the working directory", () => {
        const result = runProgram({ manifest: "eventbus.yaml" }, { "eventbus.yaml": FROM_KUBECTL });
        assert.equal(result.error, undefined);
        assert.deepEqual(result.out, {
            url: "nats://eventbus-default-js-svc.argo-events.svc:4222",
            replicas: 5,
            labels: { ...result.out.labels, team: "platform" },
        });
    });

    it("lets the stack's name and namespace override the manifest's", () => {
        const result = runProgram(
            { manifest: "bus.yaml", name: "main", namespace: "events" },
            { "bus.yaml": FROM_KUBECTL },
        );
        assert.equal(result.error, undefined);
        assert.equal(result.out.url, "nats://eventbus-main-js-svc.events.svc:4222");
    });

    it("refuses manifest and spec together", () => {
        const result = runProgram(
            { manifest: "bus.yaml", spec: JSON.stringify({ jetstream: { version: "latest" } }) },
            { "bus.yaml": SIMPLE },
        );
        assert.equal(result.ok, false);
        assert.match(result.error ?? "", /^manifest: cannot be combined with `spec`/);
    });

    it("reports a manifest file that cannot be read", () => {
        const result = runProgram({ manifest: "missing.yaml" }, {});
        assert.equal(result.ok, false);
        assert.match(result.error ?? "", /^manifest: cannot read .*missing\.yaml/);
    });
});
