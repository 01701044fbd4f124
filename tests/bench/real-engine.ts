/**
 * Group 6 of the benchmark: the real engine. The Pulumi CLI, the Node.js language host and the
 * Kubernetes provider built by `scripts/build-engine.sh` run against a real kube-apiserver (etcd,
 * controllers, scheduler, kwok), with a real nats-server answering for every pod, so each bus's pods
 * become Ready and its Stream is created through the port-forward.
 *
 * For 1 and 10 EventBuses (`jetstream: { version: "2.14.4", replicas: 1 }`, one namespace each), the
 * wall time of `pulumi preview` and of a no-op `pulumi up --yes --skip-preview` (after a first `up`
 * created everything), next to a baseline stack that declares the same Kubernetes objects with typed
 * @pulumi/kubernetes resources and no component. The baseline's objects are the component's own: the
 * inputs of its Kubernetes resources in the EventBus stack's state, with their namespaces moved from
 * `cmp-…` to `base-…` in plain text (Secret values are kept as they are), so both stacks live side by
 * side. Both commands run with `--expect-no-changes`: a run that would change something fails. The
 * tls and random providers are the end-to-end tests' doubles (tests/e2e/provider-double.ts), so the
 * EventBus figures include their cost, not that of the released providers.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { privateHostsProblem } from "../support/cluster";
import {
    createNamespace,
    findControlPlaneTools,
    startControlPlane,
    type ControlPlaneTools,
} from "../support/control-plane";
import { findNatsServers, withCleanup } from "../support/nats";
import { startPodServers } from "../support/pod-servers";
import {
    createProgramFolder,
    findEngineTools,
    typescriptProject,
    type EngineTools,
    type ProgramFolder,
} from "../support/real-engine";
import { ratioOf, row, Row, summarize } from "./stats";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const NATS_VERSION = "2.14.4";
const SIZES = [1, 10] as const;
/** Bound of a first `up`, which waits for every pod to be Ready. */
const DEPLOY_TIMEOUT_MS = 900_000;
/** Marks a secret value in `pulumi stack export --show-secrets`. */
const SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d";

type Kind = "eventbus" | "baseline";

/** The timed commands, run on stacks where nothing changes. */
const COMMANDS = [
    { key: "preview", label: "`preview`", args: ["preview", "--expect-no-changes"] },
    {
        key: "up",
        label: "no-op `up --yes --skip-preview`",
        args: ["up", "--yes", "--skip-preview", "--expect-no-changes"],
    },
] as const;

/** What group 6 measured, or why it did not run. */
export interface RealEngineResult {
    skipped?: string;
    rows: Row[];
    /** Wall times in ms of every run, by `<kind>:<buses>:<create|preview|up>`. */
    runs: Record<string, number[]>;
    /** Versions of the engine and of the control plane. */
    versions?: Record<string, string>;
}

/** Namespace of bus `i` of the `n`-bus stack of a kind. */
function namespaceOf(kind: Kind, n: number, i: number): string {
    return `${kind === "eventbus" ? "cmp" : "base"}-n${n}-${i}`;
}

/** The EventBus program: `buses` (stack config) buses, each in its own namespace. */
const EVENTBUS_PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { EventBus } from "jetstream-eventbus";

const buses = new pulumi.Config().requireNumber("buses");
for (let i = 0; i < buses; i++) {
    new EventBus(\`bus\${i}\`, { namespace: \`cmp-n\${buses}-\${i}\`, jetstream: { version: "${NATS_VERSION}", replicas: 1 } });
}
`;

/**
 * The baseline program: one typed resource per object of `objects-<stack>.json`, Secret values secret as the
 * component's are.
 */
const BASELINE_PROGRAM = `import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";

const objects: { type: string; name: string; inputs: any }[] = JSON.parse(fs.readFileSync(\`objects-\${pulumi.getStack()}.json\`, "utf8"));
for (const { type, name, inputs } of objects) {
    const [, module, kind] = type.split(":");
    const [group, version] = module.split("/");
    const Class = (k8s as any)[group.split(".")[0]][version][kind];
    if (kind === "Secret") {
        for (const field of ["data", "stringData"]) if (inputs[field] !== undefined) inputs[field] = pulumi.secret(inputs[field]);
    }
    new Class(name, inputs);
}
`;

/** The engine and the control plane, or why the group cannot run here. */
function findTools(): { engine: EngineTools; plane: ControlPlaneTools } | string {
    const engine = findEngineTools();
    if (typeof engine === "string") return engine;
    const plane = findControlPlaneTools();
    if (typeof plane === "string") return plane;
    if (!findNatsServers().some((s) => s.version === NATS_VERSION)) return `no nats-server ${NATS_VERSION} found`;
    return privateHostsProblem() ?? { engine, plane };
}

/** Replaces every secret of an exported state by its plain value. */
function reveal(value: any): any {
    if (Array.isArray(value)) return value.map(reveal);
    if (value === null || typeof value !== "object") return value;
    if (SECRET_SIGNATURE in value) return reveal(JSON.parse(value.plaintext));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)]));
}

/**
 * The Kubernetes objects the component declared, from `pulumi stack export --show-secrets`, moved to the baseline's
 * namespaces.
 */
function baselineObjects(exported: string): {
    objects: { type: string; name: string; inputs: unknown }[];
    resources: number;
} {
    const resources = (
        JSON.parse(exported) as { deployment: { resources: { type: string; urn: string; inputs?: unknown }[] } }
    ).deployment.resources;
    const objects = resources
        .filter((r) => r.type.startsWith("kubernetes:"))
        .map((r) => ({
            type: r.type,
            name: r.urn.split("::").pop()!,
            inputs: JSON.parse(JSON.stringify(reveal(r.inputs)).replace(/\bcmp-(n\d+-\d+)\b/g, "base-$1")),
        }));
    return { objects, resources: resources.length };
}

/**
 * Runs group 6 in this process (every `pulumi` command is a process of its own); the control plane,
 * the pod servers and the program folders are removed at the end, also on failure.
 */
export async function realEngineGroup(quick: boolean, log: (text: string) => void): Promise<RealEngineResult> {
    const tools = findTools();
    if (typeof tools === "string") return { skipped: tools, rows: [], runs: {} };
    const versions = JSON.parse(fs.readFileSync(path.join(ROOT, "scripts", "toolchain.json"), "utf8"));
    const G = "6 real engine";
    const reps = quick ? 1 : 3;
    const runs: Record<string, number[]> = {};
    const rows: Row[] = [];
    await withCleanup(async (cleanup) => {
        log("group 6/6: starting the control plane and the program folders");
        const plane = await startControlPlane(tools.plane, cleanup);
        const pods = startPodServers(plane, cleanup, { binaries: findNatsServers() });
        const [eventbus, baseline] = await Promise.all([
            createProgramFolder(tools.engine, cleanup, typescriptProject("bench-eventbus", EVENTBUS_PROGRAM)),
            createProgramFolder(tools.engine, cleanup, typescriptProject("bench-baseline", BASELINE_PROGRAM)),
        ]);
        const folders: [Kind, ProgramFolder][] = [
            ["eventbus", eventbus],
            ["baseline", baseline],
        ];
        const env = { KUBECONFIG: plane.kubeconfigPath };
        /** Wall time of one command that must succeed, in ms. */
        const timed = async (folder: ProgramFolder, args: string[], timeoutMs?: number) => {
            const begun = performance.now();
            await folder.pulumiOk(args, { env, timeoutMs }).catch((err: Error) => {
                const problems = pods.problems();
                throw problems.length > 0 ? new Error(`${err.message}\n--- pod servers\n${problems.join("\n")}`) : err;
            });
            return performance.now() - begun;
        };

        for (const n of SIZES) {
            const label = `${n} bus${n === 1 ? "" : "es"}`;
            const stack = ["--stack", `n${n}`];
            for (let i = 0; i < n; i++) {
                await createNamespace(plane, namespaceOf("eventbus", n, i));
                await createNamespace(plane, namespaceOf("baseline", n, i));
            }
            log(`group 6/6: ${label}: first up of the EventBus stack`);
            await eventbus.pulumiOk(["stack", "init", `n${n}`], { env });
            await eventbus.pulumiOk(["config", "set", "buses", String(n), ...stack], { env });
            runs[`eventbus:${n}:create`] = [
                await timed(eventbus, ["up", "--yes", "--skip-preview", ...stack], DEPLOY_TIMEOUT_MS),
            ];
            const { objects, resources } = baselineObjects(
                (await eventbus.pulumiOk(["stack", "export", "--show-secrets", ...stack], { env })).stdout,
            );
            fs.writeFileSync(path.join(baseline.dir, `objects-n${n}.json`), JSON.stringify(objects));

            log(`group 6/6: ${label}: first up of the baseline stack`);
            await baseline.pulumiOk(["stack", "init", `n${n}`], { env });
            runs[`baseline:${n}:create`] = [
                await timed(baseline, ["up", "--yes", "--skip-preview", ...stack], DEPLOY_TIMEOUT_MS),
            ];

            for (const kind of ["eventbus", "baseline"] as const)
                for (const c of COMMANDS) runs[`${kind}:${n}:${c.key}`] = [];
            for (let rep = 0; rep < reps; rep++) {
                log(`group 6/6: ${label}: preview and no-op up, run ${rep + 1}/${reps}`);
                // Interleaved, so a slower moment of the machine hits both stacks alike.
                for (const c of COMMANDS) {
                    for (const [kind, folder] of folders)
                        runs[`${kind}:${n}:${c.key}`]!.push(await timed(folder, [...c.args, ...stack]));
                }
            }

            for (const c of COMMANDS) {
                const ev = runs[`eventbus:${n}:${c.key}`]!;
                const ba = runs[`baseline:${n}:${c.key}`]!;
                rows.push(
                    row(G, `${label}: ${c.label}, EventBus`, "ms", ev, {
                        ratio: ratioOf(summarize(ev).median, summarize(ba).median),
                        ratioTo: "vs baseline",
                    }),
                );
                rows.push(
                    row(G, `${label}: ${c.label}, baseline`, "ms", ba, {
                        ratioTo: `${objects.length} objects; EventBus stack ${resources} resources`,
                    }),
                );
            }
            const created = runs[`eventbus:${n}:create`]!;
            const baseCreated = runs[`baseline:${n}:create`]!;
            rows.push(
                row(G, `${label}: first up (create), EventBus`, "ms", created, {
                    ratio: ratioOf(created[0]!, baseCreated[0]!),
                    ratioTo: "vs baseline",
                    detail: true,
                }),
            );
            rows.push(row(G, `${label}: first up (create), baseline`, "ms", baseCreated, { detail: true }));
        }
    });
    return {
        rows,
        runs,
        versions: {
            pulumi: versions.pulumi.version,
            languageHost: versions.languageHost.sdkVersion,
            kubernetesProvider: versions.kubernetesProvider.version,
            kubernetes: versions.kubernetes.version,
            natsServer: NATS_VERSION,
        },
    };
}
