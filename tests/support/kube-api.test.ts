import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { once } from "node:events";
import { PassThrough } from "node:stream";
import WebSocket from "ws";
import { FakeKubeApi, FakePod, parseLabelSelector, startFakeKubeApi } from "./kube-api";

type K8s = typeof import("@kubernetes/client-node", { with: { "resolution-mode": "import" } });
const loadK8s = (): Promise<K8s> => import("@kubernetes/client-node");

const cleanups: (() => unknown)[] = [];
after(async () => {
    for (const c of cleanups.reverse()) await c();
});

async function listen(server: net.Server): Promise<number> {
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    cleanups.push(() => new Promise((r) => server.close(r)));
    return (server.address() as net.AddressInfo).port;
}

/** A plain TCP echo server standing in for NATS on 4222. */
async function echoServer(): Promise<{ port: number; sockets: Set<net.Socket> }> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
        s.on("error", () => {});
        s.pipe(s);
    });
    const port = await listen(server);
    cleanups.push(() => sockets.forEach((s) => s.destroy()));
    return { port, sockets };
}

async function fake(
    pods: FakePod[],
    extra: Partial<Parameters<typeof startFakeKubeApi>[0]> = {},
): Promise<FakeKubeApi> {
    const api = await startFakeKubeApi({ pods, token: "s3cret", ...extra });
    cleanups.push(() => api.close());
    return api;
}

async function kubeConfig(text: string) {
    const k8s = await loadK8s();
    const kc = new k8s.KubeConfig();
    kc.loadFromString(text);
    return { k8s, kc };
}

const pod = (name: string, labels: Record<string, string>, ready: boolean, port4222 = 1, ns = "nats"): FakePod => ({
    name,
    namespace: ns,
    labels,
    ready,
    ports: { 4222: { host: "127.0.0.1", port: port4222 } },
});

/** What the provider will do: a local listener whose connections are port-forwarded to the pod. */
async function localForward(kc: unknown, k8s: K8s, ns: string, podName: string, errors?: PassThrough) {
    const pf = new k8s.PortForward(kc as InstanceType<K8s["KubeConfig"]>);
    const failures: unknown[] = [];
    const server = net.createServer(async (socket) => {
        socket.on("error", () => {});
        try {
            const ws = (await pf.portForward(ns, podName, [4222], socket, errors ?? null, socket)) as WebSocket;
            // client-node does not end the output when the WebSocket closes; the caller must.
            ws.on("close", () => socket.destroy());
            if (ws.readyState === WebSocket.CLOSED) socket.destroy();
        } catch (e) {
            failures.push(e);
            socket.destroy();
        }
    });
    const port = await listen(server);
    return { port, failures };
}

async function roundTrip(port: number, payload: Buffer): Promise<{ socket: net.Socket; echoed: Buffer }> {
    const socket = net.connect(port, "127.0.0.1");
    cleanups.push(() => socket.destroy());
    await once(socket, "connect");
    const chunks: Buffer[] = [];
    let total = 0;
    const got = new Promise<void>((resolve, reject) => {
        const onData = (c: Buffer) => {
            chunks.push(c);
            total += c.length;
            if (total >= payload.length) {
                socket.off("data", onData);
                resolve();
            }
        };
        socket.on("data", onData);
        socket.once("close", () => reject(new Error(`closed after ${total} of ${payload.length} bytes`)));
    });
    socket.write(payload);
    await got;
    return { socket, echoed: Buffer.concat(chunks) };
}

async function waitFor(cond: () => boolean, what: string, ms = 5_000) {
    const end = Date.now() + ms;
    while (!cond()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
    }
}

test("label selector parsing follows labels.Parse", () => {
    const l = { app: "nats", tier: "bus" };
    assert.equal(parseLabelSelector("")(l), true);
    assert.equal(parseLabelSelector("app=nats,tier==bus")(l), true);
    assert.equal(parseLabelSelector("app!=nats")(l), false);
    assert.equal(parseLabelSelector("missing!=x")(l), true);
    assert.equal(parseLabelSelector("app in (a, nats),tier notin (x)")(l), true);
    assert.equal(parseLabelSelector("app notin (nats)")(l), false);
    assert.equal(parseLabelSelector("tier,!missing")(l), true);
    assert.equal(parseLabelSelector("!app")(l), false);
    assert.throws(() => parseLabelSelector("app=(x"));
});

test("CoreV1Api lists pods by namespace and label selector, with Ready conditions", { timeout: 30_000 }, async () => {
    const api = await fake([
        pod("bus-0", { app: "nats", bus: "default" }, true),
        pod("bus-1", { app: "nats", bus: "default" }, false),
        pod("other-0", { app: "nats", bus: "other" }, true),
        pod("web-0", { app: "web" }, true),
        pod("bus-0", { app: "nats", bus: "default" }, true, 1, "elsewhere"),
    ]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-kube-"));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = api.writeKubeconfig(dir);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);

    const k8s = await loadK8s();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(file);
    assert.equal(kc.getCurrentContext(), "fake");
    assert.deepEqual(
        kc.getContexts().map((c) => c.name),
        ["fake", "other"],
    );
    const core = kc.makeApiClient(k8s.CoreV1Api);

    const list = await core.listNamespacedPod({ namespace: "nats", labelSelector: "app=nats,bus=default" });
    assert.equal(list.kind, "PodList");
    const byName = Object.fromEntries(list.items.map((p) => [p.metadata!.name!, p]));
    assert.deepEqual(Object.keys(byName).sort(), ["bus-0", "bus-1"]);
    const readyOf = (p: (typeof list.items)[number]) => p.status?.conditions?.find((c) => c.type === "Ready")?.status;
    assert.equal(byName["bus-0"].status!.phase, "Running");
    assert.equal(readyOf(byName["bus-0"]), "True");
    assert.equal(readyOf(byName["bus-1"]), "False");
    assert.equal(byName["bus-0"].metadata!.namespace, "nats");
    assert.deepEqual(byName["bus-0"].metadata!.labels, { app: "nats", bus: "default" });

    api.setReady("nats/bus-1", true);
    const again = await core.listNamespacedPod({ namespace: "nats", labelSelector: "app=nats,bus=default" });
    assert.ok(again.items.every((p) => readyOf(p) === "True"));

    const one = await core.readNamespacedPod({ namespace: "nats", name: "web-0" });
    assert.equal(one.metadata!.labels!.app, "web");
    await assert.rejects(
        core.readNamespacedPod({ namespace: "nats", name: "nope" }),
        (e: any) => e.code === 404 && JSON.parse(e.body).message === 'pods "nope" not found',
    );
    await assert.rejects(
        core.listNamespacedPod({ namespace: "nats", labelSelector: "app in (x" }),
        (e: any) => e.code === 400,
    );

    const sent = api.requests.find((r) => r.path === "/api/v1/namespaces/nats/pods");
    assert.ok(sent && sent.authorized && sent.method === "GET");
    assert.equal(new URLSearchParams(sent.query).get("labelSelector"), "app=nats,bus=default");

    // The second context points at nothing.
    kc.setCurrentContext("other");
    await assert.rejects(kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: "nats" }), /ECONNREFUSED/);
});

test("listing is refused with 403 when RBAC forbids it", { timeout: 30_000 }, async () => {
    const api = await fake([pod("bus-0", { app: "nats" }, true)], { forbidList: true });
    const { k8s, kc } = await kubeConfig(api.kubeconfig);
    await assert.rejects(
        kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: "nats", labelSelector: "app=nats" }),
        (e: any) => e.code === 403 && e.body.includes("cannot list resource"),
    );
});

test("PortForward round-trips bytes through the double to the pod's real port", { timeout: 30_000 }, async () => {
    const echo = await echoServer();
    const api = await fake([pod("bus-0", { app: "nats" }, true, echo.port)]);
    const { k8s, kc } = await kubeConfig(api.kubeconfig);
    const local = await localForward(kc, k8s, "nats", "bus-0");

    const payload = Buffer.concat([Buffer.from("PING\r\n"), Buffer.alloc(300_000, 7), Buffer.from([0, 1, 2, 255])]);
    const { socket, echoed } = await roundTrip(local.port, payload);
    assert.ok(echoed.equals(payload));

    const [session] = api.portForwards();
    assert.equal(session.pod, "bus-0");
    assert.equal(session.port, 4222);
    assert.equal(session.open, true);
    assert.equal(session.protocol, "v4.channel.k8s.io");
    assert.equal(session.bytesToTarget, payload.length);

    const upgrade = api.requests.find((r) => r.websocket)!;
    assert.equal(upgrade.method, "GET");
    assert.equal(upgrade.path, "/api/v1/namespaces/nats/pods/bus-0/portforward");
    assert.equal(upgrade.query, "ports=4222");
    assert.equal(upgrade.status, 101);
    assert.deepEqual(upgrade.protocols, [
        "v5.channel.k8s.io",
        "v4.channel.k8s.io",
        "v3.channel.k8s.io",
        "v2.channel.k8s.io",
        "channel.k8s.io",
    ]);

    // The local client hanging up closes the WebSocket and the target connection.
    socket.end();
    await waitFor(() => !api.portForwards()[0].open && echo.sockets.size === 0, "session to close");
    assert.deepEqual(local.failures, []);
});

test("a forbidden port-forward surfaces as an error (403 before the upgrade)", { timeout: 30_000 }, async () => {
    const api = await fake([pod("bus-0", { app: "nats" }, true)], { forbidPortForward: true });
    const { k8s, kc } = await kubeConfig(api.kubeconfig);
    const out = new PassThrough();
    await assert.rejects(
        new k8s.PortForward(kc).portForward("nats", "bus-0", [4222], out, null, new PassThrough()),
        (e: any) => /403/.test(String(e.message)),
    );
    assert.equal(api.requests.at(-1)!.status, 403);
    assert.deepEqual(api.portForwards(), []);

    // Same refusal on the wire, with the Status body.
    const res = await rawUpgrade(
        api,
        "/api/v1/namespaces/nats/pods/bus-0/portforward?ports=4222",
        ["v4.channel.k8s.io"],
        "s3cret",
    );
    assert.equal(res.status, 403);
    assert.match(res.body, /cannot create resource \\"pods\/portforward\\"/);
});

test("a wrong token gets 401 for listing and for port-forward", { timeout: 30_000 }, async () => {
    const api = await fake([pod("bus-0", { app: "nats" }, true)]);
    const { k8s, kc } = await kubeConfig(api.kubeconfig.replace("token: s3cret", "token: wrong"));
    await assert.rejects(
        kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: "nats" }),
        (e: any) => e.code === 401 /* client-node drops 401 bodies */,
    );
    await assert.rejects(
        new k8s.PortForward(kc).portForward("nats", "bus-0", [4222], new PassThrough(), null, new PassThrough()),
        (e: any) => /401/.test(String(e.message)),
    );
    assert.ok(api.requests.length >= 2 && api.requests.every((r) => !r.authorized && r.status === 401));
});

test("killPod cuts an open forward and makes the pod unready", { timeout: 30_000 }, async () => {
    const echo = await echoServer();
    const api = await fake([
        pod("bus-0", { app: "nats" }, true, echo.port),
        pod("bus-1", { app: "nats" }, true, echo.port),
    ]);
    const { k8s, kc } = await kubeConfig(api.kubeconfig);
    const to0 = await localForward(kc, k8s, "nats", "bus-0");
    const to1 = await localForward(kc, k8s, "nats", "bus-1");
    const a = await roundTrip(to0.port, Buffer.from("hello"));
    const b = await roundTrip(to1.port, Buffer.from("world"));
    assert.equal(echo.sockets.size, 2);

    const closed = once(a.socket, "close");
    api.killPod("bus-0");
    await closed;
    await waitFor(() => echo.sockets.size === 1, "target socket of bus-0 to be destroyed");
    const sessions = api.portForwards();
    assert.deepEqual(
        sessions.map((s) => [s.pod, s.open]),
        [
            ["bus-0", false],
            ["bus-1", true],
        ],
    );

    // The other pod's forward is untouched.
    b.socket.write("still");
    const [more] = await once(b.socket, "data");
    assert.equal(more.toString(), "still");

    const core = kc.makeApiClient(k8s.CoreV1Api);
    const p0 = await core.readNamespacedPod({ namespace: "nats", name: "bus-0" });
    assert.equal(p0.status!.conditions!.find((c) => c.type === "Ready")!.status, "False");
    assert.equal(p0.status!.containerStatuses![0].restartCount, 1);
});

test("a target that refuses the connection is reported on the error channel", { timeout: 30_000 }, async () => {
    const closedPort = await (async () => {
        const s = net.createServer();
        s.listen(0, "127.0.0.1");
        await once(s, "listening");
        const p = (s.address() as net.AddressInfo).port;
        await new Promise((r) => s.close(r));
        return p;
    })();
    const api = await fake([pod("bus-0", { app: "nats" }, true, closedPort)]);
    const { k8s, kc } = await kubeConfig(api.kubeconfig);
    const errors = new PassThrough();
    let errText = "";
    errors.on("data", (c) => (errText += c));
    const local = await localForward(kc, k8s, "nats", "bus-0", errors);
    const s = net.connect(local.port, "127.0.0.1");
    s.on("error", () => {});
    await once(s, "close");
    assert.match(errText, /^error forwarding port 4222 to pod bus-0, uid [0-9a-f-]+: .*ECONNREFUSED/);
    assert.match(api.portForwards()[0].error!, /ECONNREFUSED/);
});

test("the wire protocol: port preamble, channels, sub-protocol choice, refusals", { timeout: 30_000 }, async () => {
    const echo = await echoServer();
    const api = await fake([
        pod("bus-0", { app: "nats" }, true, echo.port),
        { ...pod("pending-0", { app: "nats" }, false, echo.port), phase: "Pending" },
    ]);
    const base = "/api/v1/namespaces/nats/pods";

    // Binary v4: [0, 0x7e, 0x10] and [1, 0x7e, 0x10] first, then echoed data on channel 0.
    {
        const ws = await openWs(api, `${base}/bus-0/portforward?ports=4222`, [
            "v5.channel.k8s.io",
            "v4.channel.k8s.io",
        ]);
        assert.equal(ws.protocol, "v4.channel.k8s.io");
        const frames = collect(ws);
        await waitFor(() => frames.length >= 2, "port preamble");
        assert.deepEqual(
            frames.slice(0, 2).map((f) => [...(f as Buffer)]),
            [
                [0, 0x7e, 0x10],
                [1, 0x7e, 0x10],
            ],
        );
        ws.send(Buffer.from([1, 9, 9])); // the error channel is write-only: ignored
        ws.send(Buffer.from([0, ...Buffer.from("abc")]));
        await waitFor(() => frames.length >= 3, "echo");
        assert.deepEqual([...(frames[2] as Buffer)], [0, ...Buffer.from("abc")]);
        ws.close();
        await once(ws, "close");
    }
    // Base64 v4: text frames "<digit><base64>".
    {
        const ws = await openWs(api, `${base}/bus-0/portforward?ports=4222`, ["v4.base64.channel.k8s.io"]);
        const frames = collect(ws);
        ws.send("0" + Buffer.from("xyz").toString("base64"));
        await waitFor(() => frames.length >= 3, "echo");
        assert.deepEqual(frames, [
            "0" + Buffer.from([0x7e, 0x10]).toString("base64"),
            "1" + Buffer.from([0x7e, 0x10]).toString("base64"),
            "0" + Buffer.from("xyz").toString("base64"),
        ]);
        ws.terminate();
    }
    // Refusals before the upgrade.
    assert.equal(
        (await rawUpgrade(api, `${base}/bus-0/portforward?ports=4222`, ["channel.k8s.io"], "s3cret")).status,
        403,
    );
    assert.equal(
        (await rawUpgrade(api, `${base}/nope/portforward?ports=4222`, ["v4.channel.k8s.io"], "s3cret")).status,
        404,
    );
    const pending = await rawUpgrade(api, `${base}/pending-0/portforward?ports=4222`, ["v4.channel.k8s.io"], "s3cret");
    assert.equal(pending.status, 400);
    assert.match(pending.body, /not running/);
    assert.equal((await rawUpgrade(api, `${base}/bus-0/portforward`, ["v4.channel.k8s.io"], "s3cret")).status, 400);
    assert.equal(
        (await rawUpgrade(api, `${base}/bus-0/portforward?ports=4222`, ["v4.channel.k8s.io"], "bad")).status,
        401,
    );
});

test("close() tears down open forwards and the server", { timeout: 30_000 }, async () => {
    const echo = await echoServer();
    const api = await startFakeKubeApi({ pods: [pod("bus-0", { app: "nats" }, true, echo.port)] });
    const { k8s, kc } = await kubeConfig(api.kubeconfig);
    const local = await localForward(kc, k8s, "nats", "bus-0");
    const { socket } = await roundTrip(local.port, Buffer.from("x"));
    const closed = once(socket, "close");
    await api.close();
    await closed;
    await waitFor(() => echo.sockets.size === 0, "target sockets to close");
    await assert.rejects(kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: "nats" }), /ECONNREFUSED/);
});

// ---------------------------------------------------------------------------

function openWs(api: FakeKubeApi, p: string, protocols: string[]): Promise<WebSocket> {
    const ws = new WebSocket(api.url.replace("https", "wss") + p, protocols, {
        ca: api.caPem,
        headers: { Authorization: `Bearer ${api.token}` },
    });
    cleanups.push(() => ws.terminate());
    return new Promise((resolve, reject) => {
        ws.once("open", () => resolve(ws));
        ws.once("error", reject);
    });
}

function collect(ws: WebSocket): (Buffer | string)[] {
    const frames: (Buffer | string)[] = [];
    ws.on("message", (d: WebSocket.RawData, isBinary) => frames.push(isBinary ? (d as Buffer) : d.toString()));
    return frames;
}

function rawUpgrade(
    api: FakeKubeApi,
    p: string,
    protocols: string[],
    token: string,
): Promise<{ status: number; body: string }> {
    const ws = new WebSocket(api.url.replace("https", "wss") + p, protocols, {
        ca: api.caPem,
        headers: { Authorization: `Bearer ${token}` },
    });
    return new Promise((resolve, reject) => {
        ws.once("open", () => {
            ws.terminate();
            reject(new Error("unexpectedly upgraded"));
        });
        ws.once("unexpected-response", (_req, res) => {
            let body = "";
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        ws.once("error", reject);
    });
}
