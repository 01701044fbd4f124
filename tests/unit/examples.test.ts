/**
 * The four programs of examples/, compiled, run under the realistic mocks: what each registers.
 *
 * simple and involved are checked field by field in eventbus.test.ts; here they only get a smoke test.
 * exotic and platform are checked against what their READMEs promise.
 *
 * Pulumi reads PULUMI_CONFIG when its runtime is first loaded, so the platform's kubeconfig is put in
 * the environment before anything requires @pulumi/pulumi (this file runs in its own process).
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { isBuiltin } from "node:module";
import * as path from "node:path";
import * as ts from "typescript";
import { parse as parseYaml } from "yaml";
import type { RecordedResource } from "../support/mocks";

const KUBECONFIG = [
    "apiVersion: v1",
    "kind: Config",
    "clusters: [{ name: platform, cluster: { server: https://platform.example.com:6443 } }]",
    "users: [{ name: deployer, user: { token: not-a-real-token } }]",
    "contexts: [{ name: platform, context: { cluster: platform, user: deployer } }]",
    "current-context: platform",
    "",
].join("\n");

// The mocks run every program as project "jetstream-eventbus", so that is the namespace of its keys.
process.env.PULUMI_CONFIG = JSON.stringify({ "jetstream-eventbus:kubeconfig": KUBECONFIG });

// Loaded only now, after the configuration is in the environment.
const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
const { testMocks } = require("../support/bus") as typeof import("../support/bus");
const { resolve } = require("../support/mocks") as typeof import("../support/mocks");
const { EventBus, fromArgoEventBus } = require("../../components") as typeof import("../../components");
const rpcSettings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

const REPO = path.resolve(__dirname, "../../..");
const STREAM_TYPE = "pulumi-nodejs:dynamic/jetstream:Stream";
const EVENTBUS_TYPE = "jetstream-eventbus:index:EventBus";
const ARGO_EVENTBUS_TYPE = "kubernetes:argoproj.io/v1alpha1:EventBus";
const ARGO_CRD = { type: "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", id: "eventbuses.argoproj.io" };

/** One request to the resource monitor, with the provider reference the engine would receive. */
interface MonitorCall {
    kind: "register" | "read";
    type: string;
    name: string;
    /** `<provider urn>::<provider id>`, or "" for the default provider. */
    provider: string;
    /** The id of the object read (reads only). */
    id: string;
}

const mocks = testMocks();
const calls: MonitorCall[] = [];
watchMonitor();

/**
 * Records the provider reference of every registration and read. The mocks see it, but do not keep
 * it; the monitor request is the one place it travels.
 */
function watchMonitor(): void {
    const monitor = pulumi.runtime.getMonitor() as any;
    for (const [method, kind] of [
        ["registerResource", "register"],
        ["readResource", "read"],
    ] as const) {
        const original = monitor[method].bind(monitor);
        monitor[method] = (req: any, callback: unknown) => {
            calls.push({
                kind,
                type: req.getType(),
                name: req.getName(),
                provider: req.getProvider?.() ?? "",
                id: kind === "read" ? req.getId() : "",
            });
            return original(req, callback);
        };
    }
}

interface ExampleRun {
    exports: Record<string, unknown>;
    resources: RecordedResource[];
    calls: MonitorCall[];
}

/** Requires a compiled example (which registers its resources) and waits for every registration. */
async function runExample(name: string): Promise<ExampleRun> {
    mocks.reset();
    calls.length = 0;
    const exports = require(path.join(REPO, "dist", "examples", name, "index.js")) as Record<string, unknown>;
    for (const value of Object.values(exports)) {
        if (pulumi.Output.isInstance(value)) {
            await resolve(value);
        }
    }
    await rpcSettings.waitForRPCs();
    return { exports, resources: [...mocks.resources], calls: [...calls] };
}

function ofType(run: { resources: RecordedResource[] }, type: string): RecordedResource[] {
    return run.resources.filter((r) => r.type === type);
}

function onlyOfType(run: { resources: RecordedResource[] }, type: string): RecordedResource {
    const found = ofType(run, type);
    assert.equal(found.length, 1, `one ${type}`);
    return found[0];
}

/** `Kind namespace/name` of every Kubernetes object of a type, sorted. */
function objectsOf(run: ExampleRun, type: string): string[] {
    return ofType(run, type)
        .map((r) => `${r.inputs.metadata.namespace}/${r.inputs.metadata.name}`)
        .sort();
}

describe("examples/simple and examples/involved (smoke)", () => {
    for (const [example, replicas] of [
        ["simple", 3],
        ["involved", 5],
    ] as const) {
        it(`${example} registers one EventBus "default" with its StatefulSet and stream`, async () => {
            const run = await runExample(example);
            assert.deepEqual(
                ofType(run, EVENTBUS_TYPE).map((r) => r.name),
                ["default"],
            );
            const sts = onlyOfType(run, "kubernetes:apps/v1:StatefulSet");
            assert.equal(
                `${sts.inputs.metadata.namespace}/${sts.inputs.metadata.name}`,
                "argo-events/eventbus-default-js",
            );
            assert.equal(sts.inputs.spec.replicas, replicas);
            assert.equal(onlyOfType(run, STREAM_TYPE).inputs.config.name, "default");
            assert.equal(await resolve(run.exports.url as any), "nats://eventbus-default-js-svc.argo-events.svc:4222");
        });
    }
});

describe("examples/exotic (Argo's exotic EventBus: a server you run)", () => {
    const SECRET_TEXT = "username: argo\npassword: s3cret-Pa55\n";
    let run: ExampleRun;

    before(async () => {
        mocks.clearExisting();
        // The accessSecret the README asks you to create before `pulumi up`.
        mocks.setExisting("kubernetes:core/v1:Secret", "argo-events/my-secret-name", {
            metadata: { name: "my-secret-name", namespace: "argo-events" },
            data: { "secret-key": Buffer.from(SECRET_TEXT).toString("base64") },
        });
        run = await runExample("exotic");
    });

    it("deploys nothing: no Kubernetes object is created, only the accessSecret is read", () => {
        assert.deepEqual(
            run.calls.filter((c) => c.kind === "register" && c.type.startsWith("kubernetes:")),
            [],
        );
        assert.deepEqual(
            run.calls.filter((c) => c.kind === "read").map((c) => `${c.type} ${c.id}`),
            ["kubernetes:core/v1:Secret argo-events/my-secret-name"],
        );
    });

    it("manages the stream default with all of Argo's stream defaults, although streamConfig is empty", () => {
        const config = onlyOfType(run, STREAM_TYPE).inputs.config;
        assert.deepEqual(
            {
                name: config.name,
                subjects: config.subjects,
                storage: config.storage,
                maxMsgs: config.maxMsgs,
                maxAge: config.maxAge,
                maxBytes: config.maxBytes,
                replicas: config.replicas,
                duplicates: config.duplicates,
                retention: config.retention,
                discard: config.discard,
            },
            {
                name: "default",
                subjects: ["default.*.*"],
                storage: "file",
                maxMsgs: 50000,
                maxAge: "168h",
                maxBytes: "unlimited",
                replicas: 3,
                duplicates: "5m",
                retention: "limits",
                discard: "old",
            },
        );
    });

    it("reaches the server at the URL directly, with the user and password of the accessSecret and no TLS", () => {
        const connection = onlyOfType(run, STREAM_TYPE).inputs.connection;
        assert.deepEqual(connection, {
            mode: "direct",
            servers: ["nats://nats.nats.svc:4222"],
            username: "argo",
            password: "s3cret-Pa55",
        });
    });

    it("exports the URL, the stream name and the user", async () => {
        assert.equal(await resolve(run.exports.url as any), "nats://nats.nats.svc:4222");
        assert.equal(await resolve(run.exports.streamName as any), "default");
        assert.equal(await resolve(run.exports.username as any), "argo");
    });

    it("is the same bus as Argo's manifest in eventbus.yaml, read by fromArgoEventBus", async () => {
        const manifest = fs.readFileSync(path.join(REPO, "examples", "exotic", "eventbus.yaml"), "utf8");
        const { name, args } = fromArgoEventBus(manifest);
        assert.deepEqual(
            { name, args },
            {
                name: "default",
                args: {
                    namespace: "argo-events",
                    jetstreamExotic: {
                        url: "nats://nats.nats.svc:4222",
                        accessSecret: { name: "my-secret-name", key: "secret-key" },
                        streamConfig: "",
                    },
                },
            },
        );
        mocks.reset();
        const bus = new EventBus(name, args);
        await resolve(bus.streamName);
        await rpcSettings.waitForRPCs();
        const fromManifest = onlyOfType({ resources: mocks.resources }, STREAM_TYPE).inputs;
        const fromProgram = onlyOfType(run, STREAM_TYPE).inputs;
        assert.deepEqual(fromManifest.config, fromProgram.config);
        assert.deepEqual(fromManifest.connection, fromProgram.connection);
    });
});

describe("examples/platform (two buses, an explicit provider, Argo Events interop)", () => {
    let run: ExampleRun;
    let provider: RecordedResource;

    before(async () => {
        mocks.clearExisting();
        // Argo Events is installed in the target cluster: its EventBus CRD exists.
        mocks.setExisting(ARGO_CRD.type, ARGO_CRD.id, { metadata: { name: ARGO_CRD.id } });
        run = await runExample("platform");
        provider = onlyOfType(run, "pulumi:providers:kubernetes");
    });

    it("creates one Kubernetes provider, inside the platform component, from the kubeconfig of the stack configuration", () => {
        assert.equal(provider.name, "eventing-cluster");
        assert.equal(provider.inputs.kubeconfig, KUBECONFIG);
        assert.match(
            provider.urn,
            /::example:platform:EventingPlatform\$pulumi:providers:kubernetes::eventing-cluster$/,
        );
    });

    it("creates the namespaces payments and orders", () => {
        assert.deepEqual(
            ofType(run, "kubernetes:core/v1:Namespace")
                .map((r) => r.inputs.metadata.name)
                .sort(),
            ["orders", "payments"],
        );
    });

    it("runs one bus in each namespace, as children of the platform", () => {
        assert.deepEqual(
            ofType(run, EVENTBUS_TYPE)
                .map((r) => r.name)
                .sort(),
            ["eventing-orders", "eventing-payments"],
        );
        assert.deepEqual(objectsOf(run, "kubernetes:apps/v1:StatefulSet"), [
            "orders/eventbus-orders-js",
            "payments/eventbus-payments-js",
        ]);
        // The mock monitor's URNs carry the parent's type only, so the chain is checked one link at a time.
        for (const bus of ofType(run, EVENTBUS_TYPE)) {
            assert.match(
                bus.urn,
                /::example:platform:EventingPlatform\$jetstream-eventbus:index:EventBus::eventing-(payments|orders)$/,
            );
        }
        for (const sts of ofType(run, "kubernetes:apps/v1:StatefulSet")) {
            assert.match(
                sts.urn,
                /::jetstream-eventbus:index:EventBus\$kubernetes:apps\/v1:StatefulSet::eventing-(payments|orders)-js$/,
            );
        }
    });

    it("sends every Kubernetes registration and read through the explicit provider", () => {
        const reference = `${provider.urn}::${provider.id}`;
        const kubernetesCalls = run.calls.filter((c) => c.type.startsWith("kubernetes:"));
        // Two namespaces, two buses' objects, the Argo objects and the two reads of the Argo CRD.
        assert.ok(kubernetesCalls.length > 20, `${kubernetesCalls.length} Kubernetes calls`);
        assert.equal(kubernetesCalls.filter((c) => c.kind === "read" && c.type === ARGO_CRD.type).length, 2);
        for (const c of kubernetesCalls) {
            assert.equal(c.provider, reference, `${c.kind} ${c.type} ${c.name}`);
        }
    });

    it("port-forwards each stream into the same cluster, with the kubeconfig of the stack configuration", () => {
        const streams = ofType(run, STREAM_TYPE).map((r) => r.inputs.connection);
        assert.deepEqual(
            streams
                .map((c) => [c.mode, c.kubernetes.namespace, c.kubernetes.statefulSet, c.kubernetes.kubeconfig])
                .sort(),
            [
                ["auto", "orders", "eventbus-orders-js", KUBECONFIG],
                ["auto", "payments", "eventbus-payments-js", KUBECONFIG],
            ],
        );
    });

    it("puts an Argo EventBus named default in every application namespace, pointing at the domain's bus", () => {
        const argo = ofType(run, ARGO_EVENTBUS_TYPE)
            .map((r) => [r.inputs.metadata.namespace, r.inputs.metadata.name, r.inputs.spec.jetstreamExotic.url])
            .sort();
        assert.deepEqual(argo, [
            ["orders", "default", "nats://eventbus-orders-js-svc.orders.svc:4222"],
            ["payments-api", "default", "nats://eventbus-payments-js-svc.payments.svc:4222"],
            ["payments-jobs", "default", "nats://eventbus-payments-js-svc.payments.svc:4222"],
        ]);
        for (const r of ofType(run, ARGO_EVENTBUS_TYPE)) {
            const exotic = r.inputs.spec.jetstreamExotic;
            const secret =
                r.inputs.metadata.namespace === "orders"
                    ? "eventbus-orders-js-client-auth"
                    : "eventbus-payments-js-client-auth";
            assert.deepEqual(exotic.accessSecret, { name: secret, key: "client-auth" });
            assert.deepEqual(exotic.tls, { caCertSecret: { name: secret, key: "ca.crt" } });
        }
    });

    it("copies the payments client Secret into payments-api and payments-jobs; orders has the bus's own", () => {
        assert.deepEqual(objectsOf(run, "kubernetes:core/v1:Secret"), [
            "orders/eventbus-orders-js-client-auth",
            "orders/eventbus-orders-js-server",
            "payments-api/eventbus-payments-js-client-auth",
            "payments-jobs/eventbus-payments-js-client-auth",
            "payments/eventbus-payments-js-client-auth",
            "payments/eventbus-payments-js-server",
        ]);
    });

    it("exports the URL of each bus", async () => {
        assert.deepEqual(await resolve(run.exports.urls as any), {
            payments: "nats://eventbus-payments-js-svc.payments.svc:4222",
            orders: "nats://eventbus-orders-js-svc.orders.svc:4222",
        });
    });
});

describe("each example is a Pulumi TypeScript program a user can copy out of the repository", () => {
    const rootPackage = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as {
        name: string;
        peerDependencies: Record<string, string>;
        devDependencies: Record<string, string>;
    };
    /**
     * What `pulumi new typescript` puts in devDependencies: the compiler and Node's types, which no program imports.
     */
    const TOOLING = ["@types/node", "typescript"];

    /** Every .ts file of the example, as paths relative to its folder (a user's `npm install` output left out). */
    function programFiles(dir: string, under = ""): string[] {
        return fs.readdirSync(path.join(dir, under), { withFileTypes: true }).flatMap((entry) => {
            const relative = path.join(under, entry.name);
            if (entry.isDirectory())
                return entry.name === "node_modules" || entry.name === "bin" ? [] : programFiles(dir, relative);
            return entry.name.endsWith(".ts") ? [relative] : [];
        });
    }

    /** The package a bare specifier names (`@scope/name/sub` is `@scope/name`), or undefined for Node's own modules. */
    function packageOf(specifier: string): string | undefined {
        if (specifier.startsWith("node:") || isBuiltin(specifier)) return undefined;
        const parts = specifier.split("/");
        return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
    }

    /**
     * The packages the example's files import, and its relative imports as absolute paths (with the file that makes
     * each).
     */
    function importsOf(dir: string): { packages: Set<string>; relative: { from: string; target: string }[] } {
        const packages = new Set<string>();
        const relative: { from: string; target: string }[] = [];
        for (const file of programFiles(dir)) {
            const text = fs.readFileSync(path.join(dir, file), "utf8");
            // The compiler's own scan: import and export declarations, require() and import() calls.
            for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
                if (fileName.startsWith(".") || path.isAbsolute(fileName)) {
                    relative.push({ from: file, target: path.resolve(dir, path.dirname(file), fileName) });
                } else {
                    const name = packageOf(fileName);
                    if (name !== undefined) packages.add(name);
                }
            }
        }
        return { packages, relative };
    }

    function checkExample(example: string): void {
        const dir = path.join(REPO, "examples", example);

        // Pulumi runs index.ts itself, through its TypeScript support: no compiled entry point, nothing outside the
        // folder.
        const project = parseYaml(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")) as {
            runtime: unknown;
            main?: unknown;
        };
        assert.equal(
            typeof project.runtime === "string" ? project.runtime : (project.runtime as { name?: string }).name,
            "nodejs",
        );
        assert.equal(project.main, undefined, "Pulumi.yaml sets no main: Pulumi starts from the folder's package.json");
        assert.deepEqual(
            typeof project.runtime === "object"
                ? (project.runtime as { options?: Record<string, unknown> }).options?.typescript
                : undefined,
            undefined,
            "TypeScript support stays on",
        );
        const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as {
            private?: boolean;
            main?: string;
            dependencies?: Record<string, string>;
            devDependencies?: Record<string, string>;
        };
        assert.equal(pkg.private, true);
        assert.equal(pkg.main, "index.ts");
        assert.ok(fs.existsSync(path.join(dir, "index.ts")), "index.ts");
        assert.ok(!fs.existsSync(path.join(dir, "main.js")), "no main.js");
        const tsconfig = JSON.parse(fs.readFileSync(path.join(dir, "tsconfig.json"), "utf8")) as {
            compilerOptions?: { strict?: boolean };
        };
        assert.equal(tsconfig.compilerOptions?.strict, true, "tsconfig.json, strict");

        // Every import resolves inside the folder or to a declared package.
        const { packages, relative } = importsOf(dir);
        for (const { from, target } of relative) {
            assert.ok(
                target.startsWith(dir + path.sep),
                `${from} imports ${path.relative(dir, target)}, outside the example`,
            );
            assert.ok(
                [".ts", "/index.ts"].some((ext) => fs.existsSync(target + ext)),
                `${from} imports ${path.relative(dir, target)}, a file of the example`,
            );
        }
        assert.ok(packages.has(rootPackage.name), `the example imports ${rootPackage.name}`);
        // The packages imported, and the peers of the package (npm installs them, but a user's package.json names
        // them).
        const needed = new Set([...packages, ...Object.keys(rootPackage.peerDependencies)]);
        const dependencies = pkg.dependencies ?? {};
        assert.deepEqual(
            Object.keys(dependencies).sort(),
            [...needed].sort(),
            "dependencies: what the program imports and the package's peers, nothing else",
        );
        // In the repository the package is the repository's own build; the peers accept what the package accepts.
        assert.equal(dependencies[rootPackage.name], "file:../..");
        for (const [name, range] of Object.entries(rootPackage.peerDependencies)) {
            assert.equal(dependencies[name], range, `${name}: the package's peer range`);
        }
        assert.deepEqual(
            pkg.devDependencies,
            Object.fromEntries(TOOLING.map((name) => [name, rootPackage.devDependencies[name]])),
            "devDependencies: the compiler and Node's types only",
        );
    }

    for (const example of ["simple", "involved", "exotic", "platform"]) {
        it(example, () => checkExample(example));
    }

    it("the four are every example", () => {
        const folders = fs
            .readdirSync(path.join(REPO, "examples"), { withFileTypes: true })
            .filter((e) => e.isDirectory())
            .map((e) => e.name);
        assert.deepEqual(folders.sort(), ["exotic", "involved", "platform", "simple"]);
    });
});
