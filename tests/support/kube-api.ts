/**
 * A local test double of the Kubernetes API server, just large enough for a
 * client to find a NATS pod and port-forward to it the way
 * `@kubernetes/client-node` does it:
 *
 *  - HTTPS on 127.0.0.1 with its own throwaway CA (ECDSA P-256, made with
 *    @peculiar/x509); the server certificate carries the IP SAN 127.0.0.1, so
 *    clients verify it with `certificate-authority-data` exactly as against a
 *    real cluster.
 *  - Bearer-token authentication (401 + Status), an RBAC switch for `list pods`
 *    and `create pods/portforward` (403 + Status).
 *  - `GET /api/v1/namespaces/{ns}/pods[?labelSelector=…&fieldSelector=…]`,
 *    `GET /api/v1/pods`, `GET /api/v1/namespaces/{ns}/pods/{name}`.
 *  - The WebSocket port-forward protocol of the kubelet, as proxied by the API
 *    server (`…/pods/{name}/portforward?ports=4222`): sub-protocols
 *    `v4.channel.k8s.io` (binary) and `v4.base64.channel.k8s.io` (text), or
 *    none at all (binary). For port index i the data channel is 2i and the
 *    error channel 2i+1; the first frame on each carries the port number as
 *    2 bytes little-endian. Client frames on a data channel go to a TCP
 *    connection to where that pod port "really" is; the target's bytes come
 *    back on the same channel. A failed target dial is reported as text on the
 *    error channel, after which the WebSocket is closed; so is the end of the
 *    target's stream.
 *
 * What the real kube-apiserver/kubelet would answer is mimicked where it is
 * observable to a client (status codes, Status bodies, framing, sub-protocol
 * choice). Everything the double opens is tracked and torn down by close().
 */
import "../../cli/reflect-metadata";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as net from "node:net";
import * as path from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import * as x509 from "@peculiar/x509";
import WebSocket, { WebSocketServer } from "ws";

// ---------------------------------------------------------------------------
// Public API

export type FakePodPhase = "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";

export interface FakePod {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    ready: boolean;
    /** where port 4222 (or any container port) of this pod really is */
    ports: Record<number, { host: string; port: number }>;
    /** defaults to "Running"; port-forward to a pod in another phase is refused with 400 */
    phase?: FakePodPhase;
}

export interface FakeKubeApiOptions {
    pods: FakePod[];
    /** the bearer token the server accepts; random when omitted */
    token?: string;
    /** answer 403 Forbidden to port-forward, like RBAC without pods/portforward create */
    forbidPortForward?: boolean;
    /** answer 403 to pod listing */
    forbidList?: boolean;
    /** answer 403 to evictions, like RBAC without pods/eviction create */
    forbidEviction?: boolean;
    /** called after an eviction was accepted (the pod is then not Ready, its streams cut, as killPod does) */
    onEviction?: (pod: FakePod) => void;
}

export interface FakeKubeRequest {
    method: string;
    /** path without the query string, e.g. /api/v1/namespaces/nats/pods */
    path: string;
    /** the raw query string without "?", e.g. labelSelector=app%3Dnats */
    query: string;
    authorized: boolean;
    /** the HTTP status the double answered (101 for an accepted WebSocket upgrade) */
    status: number;
    /** whether this was an `Upgrade: websocket` request */
    websocket: boolean;
    /** sub-protocols the client offered, in its order (WebSocket requests only) */
    protocols?: string[];
}

export interface FakePortForwardSession {
    namespace: string;
    pod: string;
    port: number;
    /** true while the WebSocket carrying it is open */
    open: boolean;
    /** the negotiated sub-protocol ("" when the client offered none) */
    protocol: string;
    /** bytes client → target and target → client (payload only, no channel bytes) */
    bytesToTarget: number;
    bytesFromTarget: number;
    /** text sent on the error channel, if any */
    error?: string;
}

export interface FakeKubeApi {
    /** https://127.0.0.1:<port> */
    url: string;
    /** PEM of the CA that signed the server certificate */
    caPem: string;
    token: string;
    /**
     * YAML text: cluster "fake" with certificate-authority-data (the server's own
     * CA), user "fake" with the token, context "fake" as current-context, and a
     * context "other" whose cluster points at a closed port.
     */
    kubeconfig: string;
    /** writes the kubeconfig into dir (mode 0600), returns the path */
    writeKubeconfig(dir: string): string;
    requests: FakeKubeRequest[];
    /** every port-forward session so far (copies) */
    portForwards(): FakePortForwardSession[];
    setPods(pods: FakePod[]): void;
    setReady(name: string, ready: boolean): void;
    /** the pod dies: its open port-forward streams are cut (socket destroyed) and it is no longer Ready */
    killPod(name: string): void;
    /** the pods evicted so far, as `namespace/name` */
    evictions(): string[];
    close(): Promise<void>;
}

/** The sub-protocols the kubelet's WebSocket port-forward handler accepts. */
export const PORT_FORWARD_PROTOCOLS = ["v4.channel.k8s.io", "v4.base64.channel.k8s.io"] as const;

// ---------------------------------------------------------------------------
// TLS material

interface TlsMaterial {
    caPem: string;
    certPem: string;
    keyPem: string;
}

function pemOf(label: string, der: ArrayBuffer): string {
    const b64 = Buffer.from(der)
        .toString("base64")
        .replace(/(.{64})/g, "$1\n")
        .replace(/\n$/, "");
    return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
type X509KeyPair = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]["keys"];

async function makeTlsMaterial(): Promise<TlsMaterial> {
    const wc = crypto.webcrypto as unknown as X509Crypto;
    const subtle = crypto.webcrypto.subtle;
    const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
    const now = Date.now();
    const notBefore = new Date(now - 60 * 60 * 1000);
    const notAfter = new Date(now + 24 * 60 * 60 * 1000);

    const caKeys = (await subtle.generateKey(alg, true, ["sign", "verify"])) as unknown as X509KeyPair;
    const ca = await x509.X509CertificateGenerator.createSelfSigned(
        {
            serialNumber: crypto
                .randomBytes(8)
                .toString("hex")
                .replace(/^[89a-f]/, "1"),
            name: "CN=fake-kube-apiserver-ca",
            notBefore,
            notAfter,
            signingAlgorithm: alg,
            keys: caKeys,
            extensions: [
                new x509.BasicConstraintsExtension(true, 0, true),
                new x509.KeyUsagesExtension(
                    x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
                    true,
                ),
                await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, wc),
            ],
        },
        wc,
    );

    const serverKeys = (await subtle.generateKey(alg, true, ["sign", "verify"])) as unknown as X509KeyPair;
    const server = await x509.X509CertificateGenerator.create(
        {
            serialNumber: crypto
                .randomBytes(8)
                .toString("hex")
                .replace(/^[89a-f]/, "1"),
            subject: "CN=kube-apiserver",
            issuer: ca.subject,
            notBefore,
            notAfter,
            signingAlgorithm: alg,
            publicKey: serverKeys.publicKey,
            signingKey: caKeys.privateKey,
            extensions: [
                new x509.BasicConstraintsExtension(false, undefined, true),
                new x509.KeyUsagesExtension(
                    x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
                    true,
                ),
                new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
                new x509.SubjectAlternativeNameExtension(
                    [
                        { type: "ip", value: "127.0.0.1" },
                        { type: "dns", value: "localhost" },
                        { type: "dns", value: "kubernetes.default.svc" },
                    ],
                    false,
                ),
                await x509.SubjectKeyIdentifierExtension.create(serverKeys.publicKey, false, wc),
                await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, wc),
            ],
        },
        wc,
    );

    return {
        caPem: ca.toString("pem") + "\n",
        certPem: server.toString("pem") + "\n",
        keyPem: pemOf(
            "PRIVATE KEY",
            await subtle.exportKey("pkcs8", serverKeys.privateKey as unknown as crypto.webcrypto.CryptoKey),
        ),
    };
}

// ---------------------------------------------------------------------------
// Kubernetes objects

interface Status {
    kind: "Status";
    apiVersion: "v1";
    metadata: Record<string, never>;
    status: "Failure";
    message: string;
    reason: string;
    details?: { name?: string; kind?: string; group?: string };
    code: number;
}

const REASONS: Record<number, string> = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
};

function status(code: number, message: string, details?: Status["details"]): Status {
    return {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message,
        reason: REASONS[code] ?? "InternalError",
        ...(details ? { details } : {}),
        code,
    };
}

interface PodState {
    pod: FakePod;
    uid: string;
    created: string;
    readyChanged: string;
    restarts: number;
}

class SelectorError extends Error {}

type Requirement = (labels: Record<string, string>) => boolean;

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(s: string): string[] {
    const parts: string[] = [];
    let depth = 0;
    let cur = "";
    for (const ch of s) {
        if (ch === "(") depth++;
        if (ch === ")") depth--;
        if (ch === "," && depth === 0) {
            parts.push(cur);
            cur = "";
        } else {
            cur += ch;
        }
    }
    parts.push(cur);
    return parts;
}

const KEY = String.raw`[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?`;
const VALUE = String.raw`([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;

/**
 * Parses a label selector the way labels.Parse does for the forms clients use:
 * `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, joined by
 * commas (AND). An empty selector selects everything.
 */
export function parseLabelSelector(selector: string): Requirement {
    if (selector.trim() === "") {
        return () => true;
    }
    const reqs: Requirement[] = splitTopLevel(selector).map((raw) => {
        const term = raw.trim();
        let m: RegExpMatchArray | null;
        if ((m = term.match(new RegExp(`^(${KEY})\\s*(==|!=|=)\\s*(${VALUE})$`)))) {
            const [key, op, value] = [m[1], m[3], m[4]];
            return op === "!=" ? (l) => l[key] !== value : (l) => l[key] === value;
        }
        if ((m = term.match(new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^()]*)\\)$`)))) {
            const [key, op] = [m[1], m[3]];
            const values = m[4].split(",").map((v) => v.trim());
            if (values.some((v) => !new RegExp(`^${VALUE}$`).test(v))) {
                throw new SelectorError(`unable to parse requirement: invalid label value in "${term}"`);
            }
            return op === "in"
                ? (l) => key in l && values.includes(l[key])
                : (l) => !(key in l) || !values.includes(l[key]);
        }
        if ((m = term.match(new RegExp(`^!\\s*(${KEY})$`)))) {
            const key = m[1];
            return (l) => !(key in l);
        }
        if ((m = term.match(new RegExp(`^(${KEY})$`)))) {
            const key = m[1];
            return (l) => key in l;
        }
        throw new SelectorError(
            `unable to parse requirement: found '${term}', expected: key, !key, key=value, key!=value, key in (...), key notin (...)`,
        );
    });
    return (labels) => reqs.every((r) => r(labels));
}

/** Field selectors the API server supports for pods (equality forms only). */
function parseFieldSelector(selector: string): (fields: Record<string, string>) => boolean {
    if (selector.trim() === "") {
        return () => true;
    }
    const supported = new Set([
        "metadata.name",
        "metadata.namespace",
        "status.phase",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "status.podIP",
        "status.nominatedNodeName",
    ]);
    const reqs = selector.split(",").map((raw) => {
        const m = raw.trim().match(/^([A-Za-z.]+)\s*(==|!=|=)\s*(.*)$/);
        if (!m) {
            throw new SelectorError(`invalid selector: '${selector}'; can't understand '${raw}'`);
        }
        const [, field, op, value] = m;
        if (!supported.has(field)) {
            throw new SelectorError(`field label not supported: ${field}`);
        }
        return op === "!="
            ? (f: Record<string, string>) => f[field] !== value
            : (f: Record<string, string>) => f[field] === value;
    });
    return (fields) => reqs.every((r) => r(fields));
}

const NODE_NAME = "fake-node";

function podFields(s: PodState): Record<string, string> {
    return {
        "metadata.name": s.pod.name,
        "metadata.namespace": s.pod.namespace,
        "status.phase": s.pod.phase ?? "Running",
        "spec.nodeName": NODE_NAME,
        "spec.restartPolicy": "Always",
        "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": "default",
        "status.podIP": podIp(s),
        "status.nominatedNodeName": "",
    };
}

function podIp(s: PodState): string {
    const h = crypto.createHash("sha256").update(`${s.pod.namespace}/${s.pod.name}`).digest();
    return `10.244.${h[0]}.${(h[1] % 253) + 2}`;
}

function podJson(s: PodState, rv: number): Record<string, unknown> {
    const { pod } = s;
    const phase = pod.phase ?? "Running";
    const running = phase === "Running";
    const ready = running && pod.ready;
    const condition = (type: string, ok: boolean, at: string) => ({
        type,
        status: ok ? "True" : "False",
        lastProbeTime: null,
        lastTransitionTime: at,
        ...(ok ? {} : { reason: type === "Ready" ? "ContainersNotReady" : "PodNotReady" }),
    });
    const ports = Object.keys(pod.ports)
        .map(Number)
        .sort((a, b) => a - b)
        .map((p) => ({ containerPort: p, protocol: "TCP" }));
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
            name: pod.name,
            namespace: pod.namespace,
            uid: s.uid,
            resourceVersion: String(rv),
            creationTimestamp: s.created,
            labels: { ...pod.labels },
        },
        spec: {
            containers: [{ name: "main", image: "nats:2", ports }],
            nodeName: NODE_NAME,
            restartPolicy: "Always",
            schedulerName: "default-scheduler",
            serviceAccountName: "default",
        },
        status: {
            phase,
            conditions: [
                condition("PodScheduled", true, s.created),
                condition("Initialized", phase !== "Pending", s.created),
                condition("ContainersReady", ready, s.readyChanged),
                condition("Ready", ready, s.readyChanged),
            ],
            hostIP: "172.18.0.2",
            podIP: podIp(s),
            podIPs: [{ ip: podIp(s) }],
            startTime: s.created,
            containerStatuses: [
                {
                    name: "main",
                    image: "nats:2",
                    imageID: "",
                    ready,
                    started: running,
                    restartCount: s.restarts,
                    state: running
                        ? { running: { startedAt: s.readyChanged } }
                        : { waiting: { reason: phase === "Pending" ? "ContainerCreating" : "Completed" } },
                },
            ],
        },
    };
}

// ---------------------------------------------------------------------------
// The server

interface LiveSession {
    record: FakePortForwardSession;
    ws: WebSocket;
    targets: net.Socket[];
}

const POD_LIST = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/;
const POD_GET = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/;
const POD_PORTFORWARD = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/;
const POD_EVICTION = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/;

/** Target → WebSocket: pause the target while this much is queued on the WebSocket. */
const HIGH_WATER = 1 << 20;

export async function startFakeKubeApi(opts: FakeKubeApiOptions): Promise<FakeKubeApi> {
    const token = opts.token ?? crypto.randomBytes(24).toString("hex");
    const tls = await makeTlsMaterial();

    const pods = new Map<string, PodState>(); // key: ns/name
    let resourceVersion = 1000;
    const keyOf = (ns: string, name: string) => `${ns}/${name}`;
    const setPods = (list: FakePod[]) => {
        const previous = new Map(pods);
        pods.clear();
        const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
        for (const pod of list) {
            const key = keyOf(pod.namespace, pod.name);
            if (pods.has(key)) {
                throw new Error(`duplicate fake pod ${key}`);
            }
            const old = previous.get(key);
            pods.set(key, {
                pod: { ...pod, labels: { ...pod.labels }, ports: { ...pod.ports } },
                uid: old?.uid ?? crypto.randomUUID(),
                created: old?.created ?? now,
                readyChanged: old && old.pod.ready === pod.ready ? old.readyChanged : now,
                restarts: old?.restarts ?? 0,
            });
        }
        resourceVersion++;
    };
    setPods(opts.pods);

    /** Pods by name alone (names are unique in the tests); throws if ambiguous or missing. */
    const podNamed = (name: string): PodState => {
        const found = [...pods.values()].filter(
            (s) => s.pod.name === name || keyOf(s.pod.namespace, s.pod.name) === name,
        );
        if (found.length !== 1) {
            throw new Error(
                found.length === 0
                    ? `no fake pod named ${name}`
                    : `fake pod name ${name} is ambiguous; use namespace/name`,
            );
        }
        return found[0];
    };

    const requests: FakeKubeRequest[] = [];
    const evicted: string[] = [];
    const sessions: LiveSession[] = [];
    const sockets = new Set<Duplex>();
    const targets = new Set<net.Socket>();

    const wss = new WebSocketServer({
        noServer: true,
        // The choice is made (and refused when impossible) before handleUpgrade.
        handleProtocols: (_offered, req) =>
            (req as IncomingMessage & { chosenProtocol?: string }).chosenProtocol || false,
        perMessageDeflate: false,
        maxPayload: 64 << 20,
    });

    const server = https.createServer({ key: tls.keyPem, cert: tls.certPem, minVersion: "TLSv1.2" });
    server.keepAliveTimeout = 5_000;
    server.on("connection", (socket: net.Socket) => {
        sockets.add(socket);
        socket.once("close", () => sockets.delete(socket));
    });

    const authorized = (req: IncomingMessage) => req.headers.authorization === `Bearer ${token}`;
    const splitUrl = (req: IncomingMessage) => {
        const url = new URL(req.url ?? "/", "https://127.0.0.1");
        return { url, path: url.pathname, query: url.search.replace(/^\?/, "") };
    };

    // ----- plain HTTP --------------------------------------------------------
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
        const { url, path: p, query } = splitUrl(req);
        const ok = authorized(req);
        const entry: FakeKubeRequest = {
            method: req.method ?? "GET",
            path: p,
            query,
            authorized: ok,
            status: 0,
            websocket: false,
        };
        requests.push(entry);
        const send = (code: number, body: unknown) => {
            entry.status = code;
            const text = JSON.stringify(body);
            res.writeHead(code, {
                "Content-Type": "application/json",
                "Content-Length": Buffer.byteLength(text),
                "Cache-Control": "no-cache, private",
            });
            res.end(text);
        };
        req.resume();

        if (!ok) {
            return send(401, status(401, "Unauthorized"));
        }
        if (p === "/version") {
            return send(200, { major: "1", minor: "33", gitVersion: "v1.33.0-fake", platform: "linux/amd64" });
        }

        let m: RegExpMatchArray | null;
        const listIn = (ns: string | undefined) => {
            if (req.method !== "GET") {
                return send(405, status(405, "the server does not allow this method on the requested resource"));
            }
            if (opts.forbidList) {
                const where = ns === undefined ? "at the cluster scope" : `in the namespace "${ns}"`;
                return send(
                    403,
                    status(
                        403,
                        `pods is forbidden: User "system:serviceaccount:default:fake" cannot list resource "pods" in API group "" ${where}`,
                        { kind: "pods" },
                    ),
                );
            }
            if (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1") {
                return send(400, status(400, "watch is not supported by the fake Kubernetes API"));
            }
            let labelMatch: Requirement;
            let fieldMatch: (f: Record<string, string>) => boolean;
            try {
                labelMatch = parseLabelSelector(url.searchParams.get("labelSelector") ?? "");
                fieldMatch = parseFieldSelector(url.searchParams.get("fieldSelector") ?? "");
            } catch (e) {
                if (e instanceof SelectorError) {
                    return send(400, status(400, e.message));
                }
                throw e;
            }
            const items = [...pods.values()]
                .filter(
                    (s) =>
                        (ns === undefined || s.pod.namespace === ns) &&
                        labelMatch(s.pod.labels) &&
                        fieldMatch(podFields(s)),
                )
                .sort((a, b) => keyOf(a.pod.namespace, a.pod.name).localeCompare(keyOf(b.pod.namespace, b.pod.name)))
                .map((s) => {
                    // List items carry no apiVersion/kind, as from the real server.
                    const { apiVersion: _a, kind: _k, ...rest } = podJson(s, resourceVersion);
                    return rest;
                });
            return send(200, {
                kind: "PodList",
                apiVersion: "v1",
                metadata: { resourceVersion: String(resourceVersion) },
                items,
            });
        };

        if (p === "/api/v1/pods") {
            return listIn(undefined);
        }
        if ((m = p.match(POD_LIST))) {
            return listIn(decodeURIComponent(m[1]));
        }
        if ((m = p.match(POD_GET))) {
            if (req.method !== "GET") {
                return send(405, status(405, "the server does not allow this method on the requested resource"));
            }
            const [ns, name] = [decodeURIComponent(m[1]), decodeURIComponent(m[2])];
            const s = pods.get(keyOf(ns, name));
            return s
                ? send(200, podJson(s, resourceVersion))
                : send(404, status(404, `pods "${name}" not found`, { name, kind: "pods" }));
        }
        if ((m = p.match(POD_EVICTION))) {
            if (req.method !== "POST") {
                return send(405, status(405, "the server does not allow this method on the requested resource"));
            }
            const [ns, name] = [decodeURIComponent(m[1]), decodeURIComponent(m[2])];
            if (opts.forbidEviction) {
                return send(
                    403,
                    status(
                        403,
                        `pods "${name}" is forbidden: User "system:serviceaccount:default:fake" cannot create resource "pods/eviction" in API group "" in the namespace "${ns}"`,
                        { name, kind: "pods" },
                    ),
                );
            }
            const s = pods.get(keyOf(ns, name));
            if (!s) {
                return send(404, status(404, `pods "${name}" not found`, { name, kind: "pods" }));
            }
            evicted.push(keyOf(ns, name));
            api.killPod(keyOf(ns, name));
            send(201, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 });
            opts.onEviction?.({ ...s.pod });
            return;
        }
        if ((m = p.match(POD_PORTFORWARD))) {
            const [ns, name] = [decodeURIComponent(m[1]), decodeURIComponent(m[2])];
            const refusal = portForwardRefusal(ns, name, url);
            if (refusal) {
                return send(refusal.code, refusal);
            }
            // No Upgrade header: the kubelet's SPDY upgrader refuses it.
            return send(400, status(400, "Upgrade request required"));
        }
        return send(404, status(404, "the server could not find the requested resource", {}));
    });

    /** RBAC, existence, phase and query checks, in the API server's order. */
    function portForwardRefusal(ns: string, name: string, url: URL): Status | undefined {
        if (opts.forbidPortForward) {
            return status(
                403,
                `pods "${name}" is forbidden: User "system:serviceaccount:default:fake" cannot create resource "pods/portforward" in API group "" in the namespace "${ns}"`,
                { name, kind: "pods" },
            );
        }
        const s = pods.get(keyOf(ns, name));
        if (!s) {
            return status(404, `pods "${name}" not found`, { name, kind: "pods" });
        }
        const phase = s.pod.phase ?? "Running";
        if (phase !== "Running") {
            return status(400, `unable to forward port because pod is not running. Current status=${phase}`);
        }
        if (parsePorts(url) === undefined) {
            return status(400, `query parameter "port" is required and must be a list of ports in 1-65535`);
        }
        return undefined;
    }

    function parsePorts(url: URL): number[] | undefined {
        const raw = url.searchParams.getAll("ports").flatMap((v) => v.split(","));
        if (raw.length === 0) {
            return undefined;
        }
        const ports = raw.map((v) => (/^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN));
        return ports.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535) ? ports : undefined;
    }

    // ----- WebSocket upgrades ------------------------------------------------
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        sockets.add(socket);
        socket.once("close", () => sockets.delete(socket));
        socket.on("error", () => socket.destroy());

        const { url, path: p, query } = splitUrl(req);
        const ok = authorized(req);
        const offered = (req.headers["sec-websocket-protocol"] ?? "")
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean);
        const isWebSocket = (req.headers.upgrade ?? "").toLowerCase() === "websocket";
        const entry: FakeKubeRequest = {
            method: req.method ?? "GET",
            path: p,
            query,
            authorized: ok,
            status: 0,
            websocket: isWebSocket,
            protocols: offered,
        };
        requests.push(entry);

        const refuse = (code: number, body?: Status) => {
            entry.status = code;
            const text = body ? JSON.stringify(body) : "";
            const reason =
                {
                    400: "Bad Request",
                    401: "Unauthorized",
                    403: "Forbidden",
                    404: "Not Found",
                    405: "Method Not Allowed",
                }[code] ?? "Error";
            socket.end(
                `HTTP/1.1 ${code} ${reason}\r\n` +
                    (body ? "Content-Type: application/json\r\n" : "") +
                    `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
            );
        };

        if (!ok) {
            return refuse(401, status(401, "Unauthorized"));
        }
        const m = p.match(POD_PORTFORWARD);
        if (!m) {
            return refuse(404, status(404, "the server could not find the requested resource", {}));
        }
        const [ns, name] = [decodeURIComponent(m[1]), decodeURIComponent(m[2])];
        const refusal = portForwardRefusal(ns, name, url);
        if (refusal) {
            return refuse(refusal.code, refusal);
        }
        if (!isWebSocket) {
            // e.g. SPDY/3.1 as kubectl used to send; this double only speaks WebSocket.
            return refuse(
                400,
                status(
                    400,
                    `unable to upgrade connection: ${req.headers.upgrade} is not supported by the fake Kubernetes API; use WebSocket`,
                ),
            );
        }
        if (req.method !== "GET") {
            // golang.org/x/net/websocket refuses any other method.
            return refuse(405);
        }
        // wsstream handshake: the first protocol the client offered that the
        // handler supports; no offer at all means binary channels without a
        // protocol; an offer with no match is refused with a bare 403.
        let chosen = "";
        if (offered.length > 0) {
            const match = offered.find((o) => (PORT_FORWARD_PROTOCOLS as readonly string[]).includes(o));
            if (!match) {
                return refuse(403);
            }
            chosen = match;
        }
        (req as IncomingMessage & { chosenProtocol?: string }).chosenProtocol = chosen;
        const ports = parsePorts(url)!;
        wss.handleUpgrade(req, socket, head, (ws) => {
            entry.status = 101;
            runPortForward(ws, chosen, ns, name, ports);
        });
    });

    function runPortForward(ws: WebSocket, protocol: string, ns: string, name: string, ports: number[]) {
        const base64 = protocol === "v4.base64.channel.k8s.io";
        const frame = (channel: number, data: Buffer): Buffer | string =>
            base64
                ? String.fromCharCode(48 + channel) + data.toString("base64")
                : Buffer.concat([Buffer.of(channel), data]);
        const live: LiveSession[] = [];
        let wsOpen = true;

        const send = (channel: number, data: Buffer, cb?: (err?: Error) => void) => {
            if (ws.readyState !== WebSocket.OPEN) {
                cb?.(new Error("closed"));
                return;
            }
            ws.send(frame(channel, data), { binary: !base64 }, cb);
        };

        let finished = 0;
        const portDone = () => {
            // The kubelet closes the connection once every port's forwarder has returned.
            if (++finished === ports.length && ws.readyState === WebSocket.OPEN) {
                ws.close(1000);
            }
        };

        ports.forEach((port, i) => {
            const dataCh = 2 * i;
            const errCh = 2 * i + 1;
            const record: FakePortForwardSession = {
                namespace: ns,
                pod: name,
                port,
                open: true,
                protocol,
                bytesToTarget: 0,
                bytesFromTarget: 0,
            };
            const session: LiveSession = { record, ws, targets: [] };
            sessions.push(session);
            live.push(session);

            const portBytes = Buffer.alloc(2);
            portBytes.writeUInt16LE(port);
            send(dataCh, portBytes);
            send(errCh, portBytes);

            const state = pods.get(keyOf(ns, name));
            const where = state?.pod.ports[port];
            const fail = (message: string) => {
                const text = `error forwarding port ${port} to pod ${name}, uid ${state?.uid ?? ""}: ${message}`;
                record.error = text;
                send(errCh, Buffer.from(text));
                portDone();
            };
            if (!where) {
                // Nothing listens on that port inside the pod's network namespace.
                fail(
                    `failed to connect to localhost:${port} inside namespace "${name}", IPv4: dial tcp4 127.0.0.1:${port}: connect: connection refused IPv6 dial tcp6 [::1]:${port}: connect: connection refused `,
                );
                return;
            }
            const target = net.connect({ host: where.host, port: where.port });
            session.targets.push(target);
            targets.add(target);
            let connected = false;
            let done = false;
            target.setNoDelay(true);
            target.on("connect", () => (connected = true));
            target.on("data", (chunk: Buffer) => {
                record.bytesFromTarget += chunk.length;
                send(dataCh, chunk, () => {
                    if (target.isPaused() && ws.bufferedAmount < HIGH_WATER / 2) target.resume();
                });
                if (ws.bufferedAmount > HIGH_WATER) target.pause();
            });
            target.on("error", (err: NodeJS.ErrnoException) => {
                if (done) return;
                done = true;
                fail(
                    connected
                        ? `error copying from remote stream to local connection: ${err.message}`
                        : `failed to connect to localhost:${port} inside namespace "${name}": dial tcp4 ${where.host}:${where.port}: ${err.code ?? err.message}`,
                );
            });
            target.on("close", () => {
                targets.delete(target);
                if (!done) {
                    done = true;
                    portDone();
                }
            });
            // Client → target.
            session.ws.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
                let buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
                if (buf.length === 0) return;
                let channel: number;
                if (base64 || !isBinary) {
                    const text = buf.toString("latin1");
                    channel = text.charCodeAt(0) - 48;
                    buf = Buffer.from(text.slice(1), "base64");
                } else {
                    channel = buf[0];
                    buf = buf.subarray(1);
                }
                if (channel !== dataCh || buf.length === 0 || target.destroyed) return; // error channels are write-only
                record.bytesToTarget += buf.length;
                if (!target.write(buf) && wsOpen) {
                    ws.pause();
                    target.once("drain", () => wsOpen && ws.resume());
                }
            });
        });

        ws.on("error", () => ws.terminate());
        ws.on("close", () => {
            wsOpen = false;
            for (const s of live) {
                s.record.open = false;
                for (const t of s.targets) {
                    // The client hung up: half-close towards the target, then let go.
                    t.end();
                    setTimeout(() => t.destroy(), 1_000).unref();
                }
            }
        });
    }

    // ----- listen --------------------------------------------------------------
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            server.off("error", reject);
            resolve();
        });
    });
    const port = (server.address() as net.AddressInfo).port;
    const url = `https://127.0.0.1:${port}`;
    const caData = Buffer.from(tls.caPem).toString("base64");
    const kubeconfig = [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: fake",
        "  cluster:",
        `    server: ${url}`,
        `    certificate-authority-data: ${caData}`,
        "- name: other",
        "  cluster:",
        "    server: https://127.0.0.1:1",
        `    certificate-authority-data: ${caData}`,
        "users:",
        "- name: fake",
        "  user:",
        `    token: ${token}`,
        "contexts:",
        "- name: fake",
        "  context:",
        "    cluster: fake",
        "    user: fake",
        "    namespace: default",
        "- name: other",
        "  context:",
        "    cluster: other",
        "    user: fake",
        "current-context: fake",
        "",
    ].join("\n");

    let closed = false;
    const api: FakeKubeApi = {
        url,
        caPem: tls.caPem,
        token,
        kubeconfig,
        writeKubeconfig(dir: string) {
            fs.mkdirSync(dir, { recursive: true });
            const file = path.join(dir, "kubeconfig");
            fs.writeFileSync(file, kubeconfig, { mode: 0o600 });
            return file;
        },
        requests,
        portForwards: () => sessions.map((s) => ({ ...s.record })),
        setPods,
        setReady(name: string, ready: boolean) {
            const s = podNamed(name);
            if (s.pod.ready !== ready) {
                s.pod.ready = ready;
                s.readyChanged = new Date().toISOString().replace(/\.\d+Z$/, "Z");
                resourceVersion++;
            }
        },
        evictions: () => [...evicted],
        killPod(name: string) {
            const s = podNamed(name);
            s.pod.ready = false;
            s.restarts++;
            s.readyChanged = new Date().toISOString().replace(/\.\d+Z$/, "Z");
            resourceVersion++;
            for (const session of sessions) {
                if (
                    session.record.pod === s.pod.name &&
                    session.record.namespace === s.pod.namespace &&
                    session.record.open
                ) {
                    for (const t of session.targets) t.destroy();
                    session.record.open = false;
                    session.ws.terminate();
                }
            }
        },
        async close() {
            if (closed) return;
            closed = true;
            for (const s of sessions) {
                s.record.open = false;
                s.ws.terminate();
            }
            for (const t of targets) t.destroy();
            for (const sock of sockets) sock.destroy();
            wss.close();
            server.closeAllConnections();
            await new Promise<void>((resolve) => server.close(() => resolve()));
        },
    };
    return api;
}
