/**
 * A real Kubernetes control plane on loopback ports, started and stopped by a test: etcd,
 * kube-apiserver (default admission plugins, Pod Security included; RBAC; service-account keys),
 * kube-controller-manager, kube-scheduler, and kwok playing the kubelet of fake nodes. The binaries
 * are the ones `scripts/build-engine.sh` builds from Go modules.
 *
 * What kwok cannot do (run containers, mount volumes) is done by {@link startPodServers} in
 * `pod-servers.ts`: real nats-server processes answer for the pods.
 */
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { cacheDir, Cleanup, freePorts, killAtExit, waitFor } from "./nats";
import { requiredUnlessMissing, run, type CommandResult } from "./real-engine";

const REPO = path.resolve(__dirname, "../../..");

/** Paths of the control plane's binaries. */
export interface ControlPlaneTools {
    kubeApiserver: string;
    kubeControllerManager: string;
    kubeScheduler: string;
    /** kubectl of the same release, for what a user would do by hand. */
    kubectl: string;
    etcd: string;
    kwok: string;
    /** kwok's PortForward CRD, installed so pod servers can be registered one pod at a time. */
    portForwardCrd: string;
    /** The Kubernetes version the binaries report, e.g. `1.34.3`. */
    version: string;
}

/**
 * The control plane built by `scripts/build-engine.sh`, or why it cannot be used: the tests then skip,
 * unless `JETSTREAM_EVENTBUS_E2E=required` (as CI sets it), where a missing piece is an error.
 */
export function findControlPlaneTools(): ControlPlaneTools | string {
    const versions = JSON.parse(fs.readFileSync(path.join(REPO, "scripts/toolchain.json"), "utf8"));
    const cache = cacheDir();
    const kube = path.join(cache, "kubernetes", `v${versions.kubernetes.version}`);
    const kwok = path.join(cache, "kwok", `v${versions.kwok.version}`);
    const tools: ControlPlaneTools = {
        kubeApiserver: path.join(kube, "kube-apiserver"),
        kubeControllerManager: path.join(kube, "kube-controller-manager"),
        kubeScheduler: path.join(kube, "kube-scheduler"),
        kubectl: path.join(kube, "kubectl"),
        etcd: path.join(cache, "etcd", `v${versions.etcd.version}`, "etcd"),
        kwok: path.join(kwok, "kwok"),
        portForwardCrd: path.join(kwok, "portforwards-crd.yaml"),
        version: versions.kubernetes.version,
    };
    const missing = Object.values(tools).find((file) => file !== tools.version && !fs.existsSync(file));
    return requiredUnlessMissing(
        missing ? `${path.basename(missing)} is not built (run scripts/build-engine.sh)` : tools,
    );
}

/**
 * Annotation a pod server sets once its nats-server passes the pod's readiness probe; kwok then marks the pod Ready.
 */
export const STARTED_ANNOTATION = "e2e.jetstream-eventbus/started";
/** Annotation with the loopback address a pod's nats-server listens on; kwok reports it as the pod IP. */
export const POD_IP_ANNOTATION = "e2e.jetstream-eventbus/pod-ip";
/** Annotation a pod server sets once the nats-server of a terminating pod has exited; kwok then removes the pod. */
export const STOPPED_ANNOTATION = "e2e.jetstream-eventbus/stopped";
/** The StorageClass every test volume comes from (the `standard` of the involved example), default class too. */
export const STORAGE_CLASS = "standard";
/** Provisioner name of {@link STORAGE_CLASS}: the pod servers' loop creates its volumes. */
export const PROVISIONER = "e2e.jetstream-eventbus/hostpath";

/**
 * kwok's stages: nodes become Ready at once; a pod is Running and Ready only once its server has
 * started (as a readiness probe would say), and a deleted pod goes away only once its server has
 * stopped (as the kubelet waits for the container to exit).
 */
function kwokStages(): string {
    const stage = (name: string, kind: string, selector: string, next: string) =>
        `apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata:\n  name: ${name}\nspec:\n  resourceRef:\n    apiGroup: v1\n    kind: ${kind}\n  selector:\n    matchExpressions:\n${selector}  next:\n${next}`;
    const annotation = (name: string) => `'.metadata.annotations["${name}"]'`;
    return [
        stage(
            "node-ready",
            "Node",
            `    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'\n      operator: NotIn\n      values: ["True"]\n`,
            `    statusTemplate: |
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ Now | Quote }}
        lastTransitionTime: {{ Now | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}
      addresses:
      - address: {{ NodeIP | Quote }}
        type: InternalIP
      - address: {{ NodeName | Quote }}
        type: Hostname
      daemonEndpoints:
        kubeletEndpoint:
          Port: {{ NodePort }}
      allocatable: { cpu: "16", memory: 64Gi, pods: "110" }
      capacity: { cpu: "16", memory: 64Gi, pods: "110" }
      nodeInfo: { architecture: amd64, operatingSystem: linux, kubeletVersion: fake }
      phase: Running
`,
        ),
        stage(
            "pod-started",
            "Pod",
            `    - key: '.metadata.deletionTimestamp'\n      operator: DoesNotExist\n    - key: '.status.phase'\n      operator: In\n      values: ["Pending"]\n    - key: ${annotation(STARTED_ANNOTATION)}\n      operator: In\n      values: ["true"]\n`,
            `    statusTemplate: |
      conditions:
      - { type: Initialized, status: "True", lastTransitionTime: {{ Now | Quote }} }
      - { type: Ready, status: "True", lastTransitionTime: {{ Now | Quote }} }
      - { type: ContainersReady, status: "True", lastTransitionTime: {{ Now | Quote }} }
      - { type: PodScheduled, status: "True", lastTransitionTime: {{ Now | Quote }} }
      containerStatuses:
      {{ range .spec.containers }}
      - { name: {{ .name | Quote }}, image: {{ .image | Quote }}, ready: true, started: true, restartCount: 0, state: { running: { startedAt: {{ Now | Quote }} } } }
      {{ end }}
      hostIP: "127.0.0.1"
      podIP: {{ index .metadata.annotations "${POD_IP_ANNOTATION}" | Quote }}
      podIPs:
      - ip: {{ index .metadata.annotations "${POD_IP_ANNOTATION}" | Quote }}
      phase: Running
      startTime: {{ Now | Quote }}
`,
        ),
        stage(
            "pod-stopped",
            "Pod",
            `    - key: '.metadata.deletionTimestamp'\n      operator: Exists\n    - key: ${annotation(STOPPED_ANNOTATION)}\n      operator: In\n      values: ["true"]\n`,
            `    delete: true\n`,
        ),
        "",
    ].join("---\n");
}

/** A running control plane. */
export interface ControlPlane {
    /** Path of a kubeconfig with the admin token (cluster-admin), for kubectl, the engine and the tests. */
    kubeconfigPath: string;
    /** Its text. */
    kubeconfig: string;
    /** `https://127.0.0.1:<port>`. */
    server: string;
    /** Kubernetes version, e.g. `1.34.3`. */
    version: string;
    /** Fake node names. */
    nodes: string[];
    /** A JSON request to the API server as the admin; resolves with status and body, never throws on HTTP errors. */
    request(
        method: string,
        apiPath: string,
        body?: unknown,
        contentType?: string,
    ): Promise<{ status: number; body: any }>;
    /** Like {@link request}, but throws unless the status is 2xx. */
    requestOk(method: string, apiPath: string, body?: unknown, contentType?: string): Promise<any>;
    /** Runs kubectl (of the control plane's release) against the control plane. */
    kubectl(args: string[], input?: string): Promise<CommandResult>;
    /** The last lines a component printed (`kube-apiserver`, `kwok`, ...), for failure messages. */
    logTail(component: string, lines?: number): string;
}

/** Options of {@link startControlPlane}. */
export interface StartControlPlaneOptions {
    /** Fake nodes; default 3. */
    nodes?: number;
}

interface Component {
    name: string;
    logFile: string;
}

/** Starts a control plane on free loopback ports; `cleanup` stops every process and removes its files. */
export async function startControlPlane(
    tools: ControlPlaneTools,
    cleanup: Cleanup,
    options: StartControlPlaneOptions = {},
): Promise<ControlPlane> {
    const dir = cleanup.tempDir("eventbus-kube");
    const [etcdClient, etcdPeer, apiPort, kwokPort] = await freePorts(4);
    const components: Component[] = [];
    const start = (name: string, binary: string, args: string[]) => {
        const logFile = path.join(dir, `${name}.log`);
        const log = fs.openSync(logFile, "a");
        const child = killAtExit(spawn(binary, args, { stdio: ["ignore", log, log], cwd: dir }));
        fs.closeSync(log);
        components.push({ name, logFile });
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        cleanup.defer(async () => {
            child.kill("SIGTERM");
            const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
            await exited;
            clearTimeout(timer);
        });
        return child;
    };
    const logTail = (component: string, lines = 30) => {
        const found = components.find((c) => c.name === component);
        if (!found) return `(no component ${component})`;
        return fs.readFileSync(found.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    };
    const fail = (what: string, component: string) => (err: unknown) => {
        throw new Error(`${what}: ${(err as Error).message}\n--- last lines of ${component}\n${logTail(component)}`);
    };

    // etcd: one member; fsync off, as nothing here outlives the test.
    start("etcd", tools.etcd, [
        "--name=e2e",
        `--data-dir=${path.join(dir, "etcd")}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=e2e=http://127.0.0.1:${etcdPeer}`,
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok, {
        timeoutMs: 30_000,
        intervalMs: 200,
        what: "etcd",
    }).catch(fail("etcd did not start", "etcd"));

    // Service-account keys and an admin token in system:masters.
    const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const saKey = path.join(dir, "sa.key");
    const saPub = path.join(dir, "sa.pub");
    fs.writeFileSync(saKey, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    fs.writeFileSync(saPub, publicKey.export({ type: "spki", format: "pem" }));
    const token = crypto.randomBytes(24).toString("hex");
    const tokenFile = path.join(dir, "tokens.csv");
    fs.writeFileSync(tokenFile, `${token},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });
    const certDir = path.join(dir, "serving");

    // Default admission plugins (NamespaceLifecycle, LimitRanger, ServiceAccount, DefaultStorageClass,
    // PodSecurity, ...): nothing is turned off.
    start("kube-apiserver", tools.kubeApiserver, [
        `--etcd-servers=http://127.0.0.1:${etcdClient}`,
        "--bind-address=127.0.0.1",
        // The in-cluster `kubernetes` Service would point at 127.0.0.1, which Endpoints refuse; no pod here calls it.
        "--endpoint-reconciler-type=none",
        `--secure-port=${apiPort}`,
        `--cert-dir=${certDir}`,
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--token-auth-file=${tokenFile}`,
        "--authorization-mode=Node,RBAC",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--allow-privileged=false",
    ]);
    const server = `https://127.0.0.1:${apiPort}`;
    const servingCert = path.join(certDir, "apiserver.crt");
    await waitFor(() => fs.existsSync(servingCert), {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: "the API server's serving certificate",
    }).catch(fail("kube-apiserver did not start", "kube-apiserver"));
    const ca = fs.readFileSync(servingCert, "utf8");

    const request = (method: string, apiPath: string, body?: unknown, contentType = "application/json") =>
        new Promise<{ status: number; body: any }>((resolve, reject) => {
            const payload = body === undefined ? undefined : JSON.stringify(body);
            const req = https.request(
                `${server}${apiPath}`,
                {
                    method,
                    ca,
                    headers: {
                        Authorization: `Bearer ${token}`,
                        Accept: "application/json",
                        ...(payload ? { "Content-Type": contentType } : {}),
                    },
                    timeout: 30_000,
                },
                (res) => {
                    let text = "";
                    res.setEncoding("utf8");
                    res.on("data", (chunk) => (text += chunk));
                    res.on("end", () => {
                        let parsed: any = text;
                        try {
                            parsed = JSON.parse(text);
                        } catch {
                            // Not JSON (e.g. /readyz): keep the text.
                        }
                        resolve({ status: res.statusCode ?? 0, body: parsed });
                    });
                },
            );
            req.on("timeout", () => req.destroy(new Error(`${method} ${apiPath} timed out`)));
            req.on("error", reject);
            req.end(payload);
        });
    const requestOk = async (method: string, apiPath: string, body?: unknown, contentType?: string) => {
        const res = await request(method, apiPath, body, contentType);
        if (res.status < 200 || res.status > 299) {
            throw new Error(
                `${method} ${apiPath}: ${res.status} ${typeof res.body === "string" ? res.body : (res.body?.message ?? JSON.stringify(res.body))}`,
            );
        }
        return res.body;
    };
    await waitFor(async () => (await request("GET", "/readyz")).status === 200, {
        timeoutMs: 120_000,
        intervalMs: 250,
        what: "kube-apiserver /readyz",
    }).catch(fail("kube-apiserver did not become ready", "kube-apiserver"));

    const kubeconfig = [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: e2e",
        "  cluster:",
        `    server: ${server}`,
        `    certificate-authority-data: ${Buffer.from(ca).toString("base64")}`,
        "users:",
        "- name: admin",
        "  user:",
        `    token: ${token}`,
        "contexts:",
        "- name: e2e",
        "  context: { cluster: e2e, user: admin }",
        "current-context: e2e",
        "",
    ].join("\n");
    const kubeconfigPath = path.join(dir, "kubeconfig");
    fs.writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });

    // Controllers (StatefulSet, garbage collector, PV binder, disruption, service accounts, ...) and
    // the scheduler; no serving ports, so several control planes can run side by side.
    start("kube-controller-manager", tools.kubeControllerManager, [
        `--kubeconfig=${kubeconfigPath}`,
        "--leader-elect=false",
        "--secure-port=0",
        `--service-account-private-key-file=${saKey}`,
        `--root-ca-file=${servingCert}`,
        "--use-service-account-credentials=false",
        "--controllers=*",
    ]);
    start("kube-scheduler", tools.kubeScheduler, [
        `--kubeconfig=${kubeconfigPath}`,
        "--leader-elect=false",
        "--secure-port=0",
    ]);

    // kwok: the kubelet of every node. Its port-forward targets come from PortForward objects.
    await requestOk(
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        parseYaml(fs.readFileSync(tools.portForwardCrd, "utf8")),
    );
    const stages = path.join(dir, "kwok-stages.yaml");
    fs.writeFileSync(stages, kwokStages());
    start("kwok", tools.kwok, [
        `--kubeconfig=${kubeconfigPath}`,
        `--config=${stages}`,
        "--manage-all-nodes=true",
        "--node-ip=127.0.0.1",
        `--node-port=${kwokPort}`,
        `--server-address=127.0.0.1:${kwokPort}`,
        "--enable-crds=PortForward",
        // Node heartbeats as Leases, as kubelets send them: without them the node lifecycle controller
        // finds the nodes silent after its grace period and marks every pod on them not Ready.
        "--node-lease-duration-seconds=40",
    ]);

    const nodes = Array.from({ length: options.nodes ?? 3 }, (_, i) => `node-${i}`);
    for (const name of nodes) {
        await requestOk("POST", "/api/v1/nodes", {
            apiVersion: "v1",
            kind: "Node",
            metadata: {
                name,
                labels: {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "topology.kubernetes.io/zone": `zone-${name.slice(5)}`,
                },
            },
        });
    }
    await waitFor(
        async () => {
            const list = await requestOk("GET", "/api/v1/nodes");
            return list.items.every((n: any) =>
                n.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"),
            );
        },
        { timeoutMs: 60_000, intervalMs: 250, what: "the fake nodes to be Ready" },
    ).catch(fail("kwok did not make the nodes Ready", "kwok"));
    // The namespace `default`'s service account appears once the controller manager runs: pods need it.
    await waitFor(
        async () => (await request("GET", "/api/v1/namespaces/default/serviceaccounts/default")).status === 200,
        {
            timeoutMs: 60_000,
            intervalMs: 250,
            what: "the controller manager to create service accounts",
        },
    ).catch(fail("kube-controller-manager did not start", "kube-controller-manager"));

    // The default StorageClass: volumes from the pod servers' provisioner, kept when their claim goes (Retain).
    await requestOk("POST", "/apis/storage.k8s.io/v1/storageclasses", {
        apiVersion: "storage.k8s.io/v1",
        kind: "StorageClass",
        metadata: { name: STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
        provisioner: PROVISIONER,
        reclaimPolicy: "Retain",
        volumeBindingMode: "Immediate",
        allowVolumeExpansion: true,
    });

    return {
        kubeconfigPath,
        kubeconfig,
        server,
        version: tools.version,
        nodes,
        request,
        requestOk,
        kubectl: (args, input) => runWithInput(tools.kubectl, [`--kubeconfig=${kubeconfigPath}`, ...args], dir, input),
        logTail,
    };
}

/** Creates a namespace whose Pod Security admission enforces `level` (default `restricted`). */
export async function createNamespace(
    plane: ControlPlane,
    name: string,
    level: "restricted" | "baseline" | "privileged" = "restricted",
): Promise<void> {
    await plane.requestOk("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: {
            name,
            labels: {
                "pod-security.kubernetes.io/enforce": level,
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        },
    });
    await waitFor(
        async () => (await plane.request("GET", `/api/v1/namespaces/${name}/serviceaccounts/default`)).status === 200,
        {
            timeoutMs: 30_000,
            intervalMs: 200,
            what: `the default service account of namespace ${name}`,
        },
    );
}

function runWithInput(command: string, args: string[], cwd: string, input?: string): Promise<CommandResult> {
    if (input === undefined) {
        return run(command, args, { cwd, env: process.env, timeoutMs: 120_000 });
    }
    return new Promise((resolve) => {
        const child = spawn(command, args, { cwd, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c) => (stdout += c));
        child.stderr.on("data", (c) => (stderr += c));
        const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code: code ?? 1, stdout, stderr });
        });
        child.stdin.end(input);
    });
}
