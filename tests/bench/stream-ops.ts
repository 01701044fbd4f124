/**
 * Groups 3 and 4 of the benchmark, in a fresh process: the stream provider's operations against a
 * real local 3-node TLS cluster started from a rendered bus, next to the same operations made with
 * bare nats.js calls in the same run; and the cost of reaching the server directly versus through a
 * port-forward (a local Kubernetes API double speaking the real protocol).
 *
 * JetStream API requests are counted by a raw client subscribed to `$JS.API.>` in the same account;
 * connections by the servers' own `total_connections` (/varz). Each operation, ours and the bare
 * one, opens its own connection and closes it, as the provider does.
 *
 * Usage: node stream-ops.js '{"runs": 5, "result": FILE}'; writes rows (see stats.ts) as JSON.
 */
import * as fs from "node:fs";
import { performance } from "node:perf_hooks";
import { connect, NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { resolveStreamSpec } from "../../components/stream/model";
import { toServerStreamConfig } from "../../components/stream/server-format";
import {
    createStream,
    readStream,
    StreamOutputs,
    StreamProps,
    updateStream,
} from "../../components/stream/provider-impl";
import { specOfStored } from "../../components/stream/view";
import { streamProvider } from "../../components/stream/provider";
import { tlsOptions } from "../../components/stream/connection";
import { openTunnel } from "../../components/stream/tunnel";
import { privateHostsProblem, fakePodsOf, LocalCluster, startCluster } from "../support/cluster";
import { startFakeKubeApi } from "../support/kube-api";
import { Cleanup, findNatsServers } from "../support/nats";
import { versionEntryFor } from "../support/local-layout";
import { ratioOf, row, Row, summarize } from "./stats";

const STREAM_TYPE = "pulumi-nodejs:dynamic/jetstream:Stream";
const WRITE = /\.(CREATE|UPDATE|DELETE|PURGE)\./;

export interface StreamOpsResult {
    skipped?: string;
    server?: string;
    rows: Row[];
    /** Subjects of the requests of one run of each operation, to read what was sent. */
    subjects: Record<string, string[]>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What one operation did. */
interface Sample {
    ms: number;
    requests: string[];
    connections: number;
}

async function main(task: { runs: number; result: string }): Promise<void> {
    const server = findNatsServers()
        .filter((s) => versionEntryFor(s.version))
        .pop();
    const cannot = server ? privateHostsProblem() : "no nats-server with a version map entry on PATH";
    if (!server || cannot) {
        fs.writeFileSync(
            task.result,
            JSON.stringify({ skipped: cannot, rows: [], subjects: {} } satisfies StreamOpsResult),
        );
        return;
    }
    const cleanup = new Cleanup();
    try {
        const result = await measure(
            server.version,
            await startCluster(server, cleanup, { replicas: 3 }),
            cleanup,
            task.runs,
        );
        fs.writeFileSync(task.result, JSON.stringify(result));
    } finally {
        await cleanup.run();
    }
}

async function measure(
    serverVersion: string,
    cluster: LocalCluster,
    cleanup: Cleanup,
    runs: number,
): Promise<StreamOpsResult> {
    const inputs = cluster.rendered.resources.find((r) => r.type === STREAM_TYPE)!.inputs;
    // The EventBus's own Stream inputs (credentials, CA, server name); only the addresses are local.
    const props = (maxMsgs?: number): StreamProps => ({
        config: resolveStreamSpec({ stream: maxMsgs === undefined ? {} : { maxMsgs }, busReplicas: 3 }),
        serverVersion,
        connection: { ...inputs.connection, mode: "direct", kubernetes: undefined, servers: cluster.urls },
        deletionPolicy: "retain",
        allowDataLoss: false,
        createTimeout: "30s",
    });
    const base = props();
    // The bare client connects exactly as the provider does (same URLs, TLS options, credentials).
    const connectOptions = {
        servers: base.connection.servers,
        user: base.connection.username,
        pass: base.connection.password,
        tls: tlsOptions(base.connection),
        reconnect: false,
        ignoreClusterUpdates: true,
    };
    const bare = async <T>(work: (jsm: any) => Promise<T>): Promise<T> => {
        const nc = await connect(connectOptions as never);
        try {
            return await work(await jetstreamManager(nc, { checkAPI: false }));
        } finally {
            await nc.close();
        }
    };

    const raw: NatsConnection = await connect(connectOptions as never);
    cleanup.defer(() => raw.close());
    const rawJsm = await jetstreamManager(raw, { checkAPI: false });
    const seen: string[] = [];
    raw.subscribe("$JS.API.>", { callback: (_err, msg) => void seen.push(msg.subject) });
    await raw.flush();

    const totalConnections = async () => {
        let total = 0;
        for (const p of cluster.ports) {
            total += (
                (await (await fetch(`http://127.0.0.1:${p.monitor}/varz`)).json()) as { total_connections: number }
            ).total_connections;
        }
        return total;
    };
    /** Runs `op` once, timed; counts its requests (the subscriber sees them across the routes) and connections. */
    const sample = async (op: () => Promise<unknown>): Promise<Sample> => {
        await raw.flush();
        await sleep(50);
        const connectionsBefore = await totalConnections();
        const from = seen.length;
        const begun = performance.now();
        await op();
        const ms = performance.now() - begun;
        await raw.flush();
        await sleep(150);
        await raw.flush();
        return { ms, requests: seen.slice(from), connections: (await totalConnections()) - connectionsBefore };
    };

    const rows: Row[] = [];
    const subjects: Record<string, string[]> = {};
    const G = "3 stream";
    const connectionsPerOp: number[] = [];
    const addPair = (
        name: string,
        ours: Sample[],
        theirs: Sample[] | undefined,
        bareWhat: string,
        showWrites = false,
    ) => {
        const ms = ours.map((s) => s.ms);
        const reqs = ours.map((s) => s.requests.length);
        const writes = ours.map((s) => s.requests.filter((r) => WRITE.test(r)).length);
        const conns = ours.map((s) => s.connections);
        subjects[`${name} (provider)`] = ours[0]!.requests.map(shortSubject);
        if (theirs) {
            subjects[`${name} (bare: ${bareWhat})`] = theirs[0]!.requests.map(shortSubject);
            connectionsPerOp.push(...conns);
            const bms = summarize(theirs.map((s) => s.ms));
            const breqs = summarize(theirs.map((s) => s.requests.length));
            const lat = summarize(ms).median;
            const req = summarize(reqs).median;
            rows.push(
                row(G, `${name}: latency`, "ms", ms, {
                    ratio: ratioOf(lat, bms.median),
                    ratioTo: `bare ${bareWhat} ${bms.median.toFixed(1)}ms`,
                }),
            );
            rows.push(
                row(G, `${name}: JS API requests`, "count", reqs, {
                    ratio: ratioOf(req, breqs.median),
                    ratioTo: `bare ${breqs.median}`,
                }),
            );
            rows.push(
                row(
                    G,
                    `${name}: latency, bare nats.js ${bareWhat}`,
                    "ms",
                    theirs.map((s) => s.ms),
                    { detail: true },
                ),
            );
            rows.push(
                row(
                    G,
                    `${name}: JS API requests, bare nats.js ${bareWhat}`,
                    "count",
                    theirs.map((s) => s.requests.length),
                    { detail: true },
                ),
            );
            rows.push(row(G, `${name}: connections opened`, "count", conns, { detail: true }));
        } else {
            rows.push(
                row(G, `${name}: JS API requests`, "count", reqs, {
                    ratioTo: `connections ${summarize(conns).max}, ${summarize(ms).median.toFixed(2)}ms`,
                }),
            );
        }
        rows.push(row(G, `${name}: write requests`, "count", writes, { detail: !showWrites }));
    };

    // create: the stream is absent before every run (deleted outside the measurement).
    const deleteStream = () => rawJsm.streams.delete("default").catch(() => undefined);
    const created: Sample[] = [];
    const createdBare: Sample[] = [];
    let outs: StreamOutputs | undefined;
    for (let i = 0; i < runs; i++) {
        await deleteStream();
        created.push(await sample(async () => (outs = (await createStream(base)).outs)));
        await deleteStream();
        createdBare.push(
            await sample(() => bare((jsm) => jsm.streams.add(toServerStreamConfig(specOfStored(base.config))))),
        );
    }
    await deleteStream();
    outs = (await createStream(base)).outs;
    addPair("create", created, createdBare, "add");

    // no-op `pulumi up`: the engine calls check and diff; with no changes, no update.
    const up: Sample[] = [];
    for (let i = 0; i < runs; i++) {
        up.push(
            await sample(async () => {
                const checked = await streamProvider.check!(outs, base);
                const plan = await streamProvider.diff!("default", outs, checked.inputs);
                if (plan.changes) throw new Error("a no-op up found changes");
            }),
        );
    }
    addPair("no-op up (check + diff)", up, undefined, "");

    // update with unchanged inputs (what `up` would run if the engine called update anyway).
    const noop: Sample[] = [];
    const noopBare: Sample[] = [];
    for (let i = 0; i < runs; i++) {
        noop.push(await sample(async () => (outs = (await updateStream(outs!, base)).outs)));
        noopBare.push(await sample(() => bare((jsm) => jsm.streams.info("default"))));
    }
    addPair("no-op update", noop, noopBare, "info", true);

    // update of one field: max_msgs alternates, so every run changes it.
    const one: Sample[] = [];
    const oneBare: Sample[] = [];
    for (let i = 0; i < runs; i++) {
        const target = 1000 + i;
        one.push(await sample(async () => (outs = (await updateStream(outs!, props(target))).outs)));
        if (outs!.config.maxMsgs !== target) throw new Error(`update did not set maxMsgs ${target}`);
        oneBare.push(await sample(() => bare((jsm) => jsm.streams.update("default", { max_msgs: 2000 + i }))));
    }
    addPair("update one field", one, oneBare, "update");

    // read (refresh).
    const read: Sample[] = [];
    const readBare: Sample[] = [];
    for (let i = 0; i < runs; i++) {
        read.push(await sample(() => readStream("default", outs!)));
        readBare.push(await sample(() => bare((jsm) => jsm.streams.info("default"))));
    }
    addPair("read", read, readBare, "info");
    rows.push(row(G, "connections per operation (all ops)", "count", connectionsPerOp));

    // Group 4: connecting, directly versus through a port-forward.
    const api = await startFakeKubeApi({ pods: fakePodsOf(cluster) });
    cleanup.defer(() => api.close());
    const target = { ...inputs.connection.kubernetes, kubeconfig: api.kubeconfig };
    const tls = tlsOptions(base.connection);
    const connectDirect = async () => {
        const begun = performance.now();
        const nc = await connect(connectOptions as never);
        const ms = performance.now() - begun;
        await nc.close();
        return ms;
    };
    const connectForwarded = async () => {
        const begun = performance.now();
        const tunnel = await openTunnel(target, new Set());
        const nc = await connect({ ...connectOptions, servers: [tunnel.url], tls } as never);
        const ms = performance.now() - begun;
        await nc.close();
        await tunnel.close();
        return ms;
    };
    const G4 = "4 connect";
    // The first port-forward loads @kubernetes/client-node: once per provider process.
    const requestsBefore = api.requests.length;
    const coldForward = await connectForwarded();
    const direct: number[] = [];
    const forwarded: number[] = [];
    const apiRequests: number[] = [];
    for (let i = 0; i < runs; i++) {
        direct.push(await connectDirect());
        const before = api.requests.length;
        forwarded.push(await connectForwarded());
        apiRequests.push(api.requests.length - before);
    }
    const kinds = api.requests
        .slice(requestsBefore, requestsBefore + apiRequests[0]! + 2)
        .map((r) => `${r.method} ${r.path}${r.websocket ? " (websocket)" : ""}`);
    subjects["port-forward: Kubernetes API requests per connection"] = [...new Set(kinds)];
    rows.push(row(G4, "TLS connect, direct", "ms", direct));
    rows.push(
        row(G4, "TLS connect, through port-forward", "ms", forwarded, {
            ratio: ratioOf(summarize(forwarded).median, summarize(direct).median),
            ratioTo: "vs direct",
        }),
    );
    rows.push(
        row(G4, "TLS connect, port-forward, first in process", "ms", coldForward, {
            ratioTo: "loads @kubernetes/client-node",
        }),
    );
    rows.push(
        row(G4, "Kubernetes API requests per port-forward", "count", apiRequests, {
            ratioTo: "list pods + portforward",
        }),
    );
    // A whole operation both ways.
    const readDirect: number[] = [];
    const readForwarded: number[] = [];
    for (let i = 0; i < runs; i++) {
        readDirect.push((await sample(() => readStream("default", outs!))).ms);
        readForwarded.push(
            (
                await sample(() =>
                    readStream("default", {
                        ...outs!,
                        connection: { ...outs!.connection, mode: "portForward", kubernetes: target },
                    }),
                )
            ).ms,
        );
    }
    rows.push(
        row(G4, "read, through port-forward", "ms", readForwarded, {
            ratio: ratioOf(summarize(readForwarded).median, summarize(readDirect).median),
            ratioTo: "vs direct read",
            detail: true,
        }),
    );
    return { server: serverVersion, rows, subjects };
}

/** `$JS.API.STREAM.INFO.default` -> `STREAM.INFO`. */
function shortSubject(subject: string): string {
    return subject.replace(/^\$JS\.API\./, "").replace(/\.default$/, "");
}

if (require.main === module) {
    main(JSON.parse(process.argv[2]!)).then(
        () => process.exit(0),
        (err) => {
            console.error(err);
            process.exit(1);
        },
    );
}
