/**
 * What the stream's dynamic provider does, loaded by the serialized provider with `require` at the
 * start of each operation (so the serialized code stays small and holds no module graph).
 *
 * check and diff are pure. create, read, update and delete open one connection each, with a
 * deadline, and close it before returning.
 */
import type * as pulumi from "@pulumi/pulumi";
import { StreamSpec } from "./model";
import { fromServerStreamConfig, toServerStreamConfig, toServerUpdateConfig } from "./server-format";
import { createTimeoutMsOf, specOfStored, StoredStreamConfig, storedLike } from "./view";
import {
    changedFields,
    conflictingChange,
    fieldsNeedingNewerServer,
    needsMetadataRewrite,
    replaceReasons,
} from "./rules";
import { DELETION_POLICIES, DeletionPolicy } from "./resolve";
import {
    chooseRoute,
    CONNECTION_MODES,
    ConnectionProps,
    explainConnectionError,
    serverUrlProblem,
    tlsOptions,
} from "./connection";
import { listBusPods, openTunnel, Tunnel, TunnelError } from "./tunnel";
import { describeLeftOut, evictPod, LeftOut, readServerViews, serverLeftOut } from "./meta-group";

export type { ConnectionProps } from "./connection";

/** The inputs of a Stream resource. */
export interface StreamProps {
    /** The configuration in the units people write; state written by 0.1.0 holds the normalized model. */
    config: StoredStreamConfig;
    /** The nats-server release the stream lives on, for the update rules until the server has told us. */
    serverVersion: string;
    connection: ConnectionProps;
    /** `retain` (default) keeps the stream and its messages when the resource is deleted. */
    deletionPolicy: DeletionPolicy;
    /** Allow a replacement, which deletes the stream's messages. */
    allowDataLoss: boolean;
    /** How long create keeps retrying while the cluster elects its leader, e.g. "5m". */
    createTimeout?: string;
    /** The same in milliseconds, as 0.1.0 stored it; read when `createTimeout` is absent. */
    createTimeoutMs?: number;
}

/** The outputs: the inputs, with `config` as the server holds it and the server's release. */
export interface StreamOutputs extends StreamProps {
    /** The server release seen at the last operation. */
    observedServerVersion: string;
}

/** The name of a property in check failures and diffs. */
const CONFIG = "config";

// The value Pulumi's dynamic provider host gives to inputs that are not known yet (during preview).
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function containsUnknown(value: unknown): boolean {
    if (value === UNKNOWN) return true;
    if (Array.isArray(value)) return value.some(containsUnknown);
    if (typeof value === "object" && value !== null) return Object.values(value).some(containsUnknown);
    return false;
}

/** Pure checks of the inputs; unknown values (preview) are left for later. */
export function checkProps(news: StreamProps): pulumi.dynamic.CheckFailure[] {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!containsUnknown(news.connection)) {
        const servers = news.connection?.servers;
        if (!Array.isArray(servers) || servers.length === 0 || servers.some((s) => typeof s !== "string" || s === "")) {
            failures.push({
                property: "connection",
                reason: "connection.servers must list at least one server URL, e.g. nats://nats.example.svc:4222",
            });
        } else {
            const problem = servers.map(serverUrlProblem).find((p) => p !== undefined);
            if (problem) failures.push({ property: "connection", reason: `connection.servers: ${problem}` });
        }
        const mode = news.connection?.mode;
        if (mode !== undefined && !CONNECTION_MODES.includes(mode)) {
            failures.push({
                property: "connection",
                reason: `connection.mode must be one of ${CONNECTION_MODES.join(", ")}, got ${JSON.stringify(mode)}`,
            });
        }
    }
    if (!DELETION_POLICIES.includes(news.deletionPolicy)) {
        failures.push({
            property: "deletionPolicy",
            reason: `deletionPolicy must be one of ${DELETION_POLICIES.join(", ")}, got ${JSON.stringify(news.deletionPolicy)}`,
        });
    }
    if (!containsUnknown(news.config)) {
        let spec: StreamSpec | undefined;
        try {
            spec = specOfStored(news.config);
        } catch (err) {
            failures.push({ property: CONFIG, reason: (err as Error).message });
        }
        const needs =
            spec === undefined || containsUnknown(news.serverVersion)
                ? []
                : fieldsNeedingNewerServer(spec, news.serverVersion);
        if (needs.length > 0) {
            failures.push({
                property: CONFIG,
                reason: `${needs.join(", ")} need nats-server 2.10 or later; the bus runs ${news.serverVersion}`,
            });
        }
    }
    if (!containsUnknown(news.createTimeout)) {
        try {
            createTimeoutMsOf(news);
        } catch (err) {
            failures.push({ property: "createTimeout", reason: (err as Error).message });
        }
    }
    return failures;
}

/**
 * The plan for moving from the recorded state to the new inputs. Throws, failing the preview,
 * when the change would delete the stream's messages and the user did not allow data loss.
 */
export function planDiff(olds: StreamOutputs, news: StreamProps): pulumi.dynamic.DiffResult {
    if (containsUnknown(news.config)) {
        return { changes: true };
    }
    // The release the server runs when the update happens: the declared one when it changes (the
    // stream is updated after the StatefulSet has rolled), else the one the server last reported.
    const serverVersion =
        olds.serverVersion !== news.serverVersion
            ? news.serverVersion
            : (olds.observedServerVersion ?? news.serverVersion);
    // Compared as normalized specs: the stored form (0.1.0's milliseconds or today's "168h") is not a change.
    const current = specOfStored(olds.config);
    const desired = specOfStored(news.config);
    const changed = changedFields(current, desired);
    const reasons = replaceReasons(current, desired, serverVersion);
    const conflict = conflictingChange(current, desired);
    if (conflict && reasons.length === 0) {
        throw new Error(`stream "${desired.name}": ${conflict}`);
    }
    if (reasons.length > 0 && !news.allowDataLoss) {
        const list = reasons.map((r) => `${r.field} (${r.reason})`).join("; ");
        throw new Error(
            `stream "${current.name}": changing ${list} means deleting the stream and creating it again, which deletes its messages. ` +
                "Set allowDataLoss: true on the stream to allow it, or revert the change.",
        );
    }
    const settingsChanged =
        ["deletionPolicy", "allowDataLoss", "serverVersion"].some(
            (key) =>
                JSON.stringify((olds as unknown as Record<string, unknown>)[key]) !==
                JSON.stringify((news as unknown as Record<string, unknown>)[key]),
        ) || createTimeoutMsOf(olds) !== createTimeoutMsOf(news);
    // The StatefulSet's uid guards the port-forward. State written before it existed takes it without a
    // change; a new uid (the StatefulSet recreated to grow its volumes) is an update that changes nothing
    // on the server but keeps refresh and delete, which get the recorded outputs, pointed at it.
    const recordedUid = olds.connection?.kubernetes?.statefulSetUid;
    const comparable = (c: ConnectionProps | undefined) =>
        c?.kubernetes && recordedUid === undefined
            ? { ...c, kubernetes: { ...c.kubernetes, statefulSetUid: undefined } }
            : c;
    const connectionChanged =
        containsUnknown(comparable(news.connection)) ||
        JSON.stringify(comparable(olds.connection)) !== JSON.stringify(comparable(news.connection));
    const changes = changed.length > 0 || settingsChanged || connectionChanged;
    return reasons.length > 0 ? { changes, replaces: [CONFIG], deleteBeforeReplace: true } : { changes };
}

/** Errors of the first seconds of a cluster, worth retrying (nats.js, https://github.com/nats-io/nats.js). */
export function isTransient(err: unknown): boolean {
    const e = err as { name?: string; code?: unknown; status?: unknown; message?: string; cause?: unknown };
    if (!e) return false;
    // A refused password stays refused ("Authentication Timeout" included): fail at once.
    if (e.name === "AuthorizationError" || /authoriz|authenticat/i.test(String(e.message ?? ""))) return false;
    if (e.code === 10008 || e.status === 503) return true;
    if (
        [
            "TimeoutError",
            "NoRespondersError",
            "NoResponders",
            "JetStreamNotEnabled",
            "ConnectionError",
            "ClosedConnectionError",
        ].includes(e.name ?? "")
    )
        return true;
    const message = String(e.message ?? "");
    if (
        /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|timeout|no responders|temporarily unavailable|no suitable peers|insufficient resources/i.test(
            message,
        )
    )
        return true;
    return e.cause !== undefined && e.cause !== err ? isTransient(e.cause) : false;
}

function isStreamNotFound(err: unknown): boolean {
    const e = err as { name?: string; code?: unknown };
    return e?.code === 10059 || e?.name === "StreamNotFoundError";
}

/** A server error as the user reads it: the message, its code, and what to do for the ones we know. */
export function describeError(err: unknown): string {
    const e = err as { message?: string; code?: unknown; cause?: { message?: string } };
    const code = typeof e?.code === "number" ? ` (error ${e.code})` : "";
    if (e?.code === 10005) {
        // Still there at the deadline: not a cluster that is electing, but one short of servers.
        return (
            `${e.message}${code}: the meta leader does not count enough servers for the stream's replicas. ` +
            "Check that every pod is Ready and in the JetStream meta group (nats server report jetstream); " +
            "a new 2.10.29 cluster can leave one routed server out of it until that pod restarts"
        );
    }
    if (e?.code === 10074) {
        return `${e.message}${code}: the server is not clustered; set replicas: 1 in the stream configuration`;
    }
    if (e?.code === 10065) {
        // Typically the stream this resource had under its old name, kept by deletionPolicy "retain".
        return `${e.message}${code}: another stream captures the same subjects; delete it or change the subjects`;
    }
    const cause = e?.cause?.message && e.cause.message !== e.message ? `: ${e.cause.message}` : "";
    return `${e?.message ?? String(err)}${code}${cause}`;
}

/**
 * What to check when an operation gave up on a transient error: the pods, the meta leader, the
 * route. Empty for errors that say it themselves.
 */
export function whatToCheck(err: unknown): string {
    const e = err as { name?: string; code?: unknown; status?: unknown; message?: string };
    if (err instanceof TunnelError || e?.code === 10005 || e?.code === 10074 || e?.code === 10065) return "";
    if (
        e?.status === 503 ||
        /NoResponders|JetStreamNotEnabled/.test(e?.name ?? "") ||
        /no responders/i.test(String(e?.message))
    ) {
        return "; no JetStream server answered: check that a majority of the bus's pods are Ready and that they elected a meta leader (nats server report jetstream)";
    }
    if (isTransient(err)) {
        return "; check that the bus's pods are Ready and reachable from where pulumi up runs, and that they elected a meta leader (nats server report jetstream)";
    }
    return "";
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Session {
    jsm: any;
    serverVersion: string;
    /** Sends one JetStream API request and returns its reply, throwing the API's error. */
    api(subject: string, body: unknown): Promise<any>;
}

/** What one operation learned across its attempts. */
interface Attempts {
    /** Pods whose tunnel broke, so the next attempt goes through another one. */
    failedPods: Set<string>;
    /** How the last attempt reached the server, for the error message. */
    via: string;
}

/**
 * One connection for one attempt, closed afterwards (tunnel included), so `pulumi up` never waits
 * on an open socket; `deadline` bounds connecting and every request.
 */
async function withJetStream<T>(
    connection: ConnectionProps,
    deadline: number,
    attempts: Attempts,
    work: (session: Session) => Promise<T>,
): Promise<T> {
    const { connect } = require("@nats-io/transport-node");
    const { jetstreamManager } = require("@nats-io/jetstream");
    const remaining = () => Math.max(1_000, deadline - Date.now());
    const route = chooseRoute(connection, process.env);
    let tunnel: Tunnel | undefined;
    let nc: any;
    try {
        let servers: string[];
        if (route.kind === "portForward") {
            attempts.via = `a port-forward to a pod of ${route.target.statefulSet} in namespace ${route.target.namespace}`;
            tunnel = await openTunnel(route.target, attempts.failedPods);
            attempts.via = `a port-forward to pod ${tunnel.pod} in namespace ${route.target.namespace}`;
            servers = [tunnel.url];
        } else {
            servers = route.servers;
            attempts.via = servers.join(", ");
        }
        const tls = tlsOptions(connection);
        nc = await connect({
            servers,
            user: connection.username,
            pass: connection.password,
            tls,
            timeout: Math.min(10_000, remaining()),
            reconnect: false,
            // Pod addresses gossiped by the cluster are neither reachable from here nor in the certificate.
            ignoreClusterUpdates: true,
            name: "jetstream-eventbus stream provider",
        });
        const timeout = Math.min(10_000, remaining());
        // No account-info probe: the first real request answers the same question (no responders).
        const jsm = await jetstreamManager(nc, { timeout, checkAPI: false });
        const api = async (subject: string, body: unknown) => {
            const reply = (await nc.request(`$JS.API.${subject}`, JSON.stringify(body), { timeout })).json();
            if (reply.error) {
                throw Object.assign(new Error(reply.error.description), {
                    name: "JetStreamApiError",
                    code: reply.error.err_code,
                    status: reply.error.code,
                });
            }
            return reply;
        };
        return await work({ jsm, api, serverVersion: String(nc.info?.version ?? "0.0.0") });
    } catch (err) {
        // The tunnel knows better than the NATS client why a connection through it broke.
        const cause = tunnel?.failure() ?? err;
        if (tunnel && (cause instanceof TunnelError ? cause.retry : isTransient(cause))) {
            attempts.failedPods.add(tunnel.pod);
        }
        throw cause;
    } finally {
        await nc?.close().catch(() => undefined);
        await tunnel?.close();
    }
}

/** Where progress lines go: the plugin's stderr, which the engine shows as `pulumi up` runs. */
export type ProgressReporter = (line: string) => void;

export const reportToEngine: ProgressReporter = (line) => {
    process.stderr.write(`${line}\n`);
};

/** A duration for people: "45s", "4m10s". */
export function humanDuration(ms: number): string {
    const seconds = Math.max(0, Math.round(ms / 1000));
    return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${seconds % 60 ? `${seconds % 60}s` : ""}`;
}

/** The line `pulumi up` shows while an operation waits: what, through which pod or address, why, and for how long. */
export function waitingLine(
    what: string,
    via: string,
    attempt: number,
    elapsedMs: number,
    timeoutMs: number,
    failure: string,
): string {
    return `${what}: waiting (attempt ${attempt}, ${humanDuration(elapsedMs)} of ${humanDuration(timeoutMs)}) through ${via}: ${failure}`;
}

/** Progress lines no more often than this, unless what is seen changes. */
const REPORT_EVERY_MS = 10_000;
/** A server left out of the meta group for this long is restarted: a forming cluster settles within seconds. */
const LEFT_OUT_STABLE_MS = 20_000;
/** Restarts of left-out servers one operation may make. */
const MAX_EVICTIONS = 2;

/**
 * Watches for a server left out of the meta group while placements fail (error 10005), and restarts
 * it once the state has lasted {@link LEFT_OUT_STABLE_MS}: what an operator would do, and what the
 * server needs to join. Only through a port-forward: elsewhere the pods' monitoring ports are not known.
 */
class MetaGroupWatch {
    private seen?: { server: string; pod: string; since: number };
    private evictions = 0;
    private lastLook = 0;
    /** The last left-out state seen, for the final error. */
    last?: LeftOut;

    constructor(
        private readonly what: string,
        private readonly report: ProgressReporter,
    ) {}

    /** Looks at the cluster after `err`; returns the error to stop with when the restart it needs was refused. */
    async look(connection: ConnectionProps, err: unknown): Promise<TunnelError | undefined> {
        const route = chooseRoute(connection, process.env);
        if ((err as { code?: unknown })?.code !== 10005 || route.kind !== "portForward") return undefined;
        if (Date.now() - this.lastLook < 4_000) return undefined;
        this.lastLook = Date.now();
        const target = route.target;
        const found = await listBusPods(target).catch(() => undefined);
        const read = found && (await readServerViews(target, found).catch(() => undefined));
        const left = read ? serverLeftOut(read.views) : undefined;
        this.last = left;
        if (!left) {
            this.seen = undefined;
            return undefined;
        }
        if (this.seen?.server !== left.server || this.seen.pod !== left.pod) {
            this.seen = { server: left.server, pod: left.pod, since: Date.now() };
            this.report(
                `${this.what}: ${describeLeftOut(left)}; restarting pod ${left.pod} if it stays so for ${humanDuration(LEFT_OUT_STABLE_MS)}`,
            );
            return;
        }
        if (Date.now() - this.seen.since < LEFT_OUT_STABLE_MS || this.evictions >= MAX_EVICTIONS) return;
        const eviction = await evictPod(found!, target.namespace, left.pod);
        if (eviction.evicted) {
            this.evictions++;
            this.seen = undefined;
            this.report(
                `${this.what}: evicted pod ${left.pod} in namespace ${target.namespace} so that its server restarts and joins the meta group (its volume stays)`,
            );
        } else if (!eviction.retry) {
            return new TunnelError(
                `${describeLeftOut(left)}. Restart it (kubectl delete pod -n ${target.namespace} ${left.pod}) and run pulumi up again; ${eviction.reason}`,
                false,
            );
        } else {
            this.report(`${this.what}: could not evict pod ${left.pod} yet: ${eviction.reason}`);
        }
        return undefined;
    }
}

/**
 * Retries `work` on transient errors until `timeoutMs` has passed, then fails saying what was tried,
 * the last error and what to check. While it waits it reports, through `report`, what it waits on.
 */
async function withRetries<T>(
    what: string,
    connection: ConnectionProps,
    timeoutMs: number,
    work: (session: Session) => Promise<T>,
    report: ProgressReporter = reportToEngine,
): Promise<T> {
    const started = Date.now();
    const deadline = started + timeoutMs;
    const attempts: Attempts = { failedPods: new Set(), via: connection.servers.join(", ") };
    const metaGroup = new MetaGroupWatch(what, report);
    let delay = 250;
    let count = 0;
    let lastReport: { at: number; text: string } | undefined;
    for (;;) {
        count++;
        try {
            return await withJetStream(connection, deadline, attempts, work);
        } catch (err) {
            const transient = err instanceof TunnelError ? err.retry : isTransient(err);
            // A server left out of the meta group that cannot be restarted from here ends the wait at once.
            const refused = transient && deadline > Date.now() ? await metaGroup.look(connection, err) : undefined;
            const failure = refused ?? err;
            if (!transient || refused || deadline - Date.now() <= 0) {
                const retried = count > 1 ? ` after ${count} attempts over ${humanDuration(Date.now() - started)}` : "";
                const leftOut = metaGroup.last && failure === err ? `; ${describeLeftOut(metaGroup.last)}` : "";
                throw new Error(
                    `${what} through ${attempts.via} failed${retried}: ${explainConnectionError(describeError(failure), connection.serverName)}${leftOut}${whatToCheck(failure)}`,
                    { cause: err },
                );
            }
            const text = explainConnectionError(describeError(err), connection.serverName);
            if (!lastReport || lastReport.text !== text || Date.now() - lastReport.at >= REPORT_EVERY_MS) {
                report(waitingLine(what, attempts.via, count, Date.now() - started, timeoutMs, text));
                lastReport = { at: Date.now(), text };
            }
            // Keep trying until the deadline itself, so a slow election still succeeds.
            await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
            delay = Math.min(delay * 2, 5_000);
        }
    }
}

async function streamInfo(jsm: any, name: string): Promise<any | undefined> {
    try {
        return await jsm.streams.info(name);
    } catch (err) {
        if (isStreamNotFound(err)) return undefined;
        throw err;
    }
}

/**
 * Creates a stream right after the one of the same name was deleted. nats-server 2.10 and later
 * remove the account's stream folder on a goroutine once it is empty, which can race the new
 * stream's `mkdir`: "error creating store for stream" (10049), seen in 2 of 100 delete-and-create
 * cycles on 2.10.29 and on 2.14.4. That error is retried a few times here, and only here: anywhere
 * else it means a disk or key problem that waiting does not fix.
 */
export async function addAfterDelete(
    jsm: { streams: { add(config: any): Promise<any> } },
    config: Record<string, unknown>,
    attempts = 5,
): Promise<any> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await jsm.streams.add(config);
        } catch (err) {
            if ((err as { code?: unknown }).code !== 10049 || attempt >= attempts) throw err;
            await sleep(100 * attempt);
        }
    }
}

/**
 * Brings the server to `desired`: creates, adopts, updates, or (when allowed) recreates the stream.
 * `priorVersions`: the releases this resource last saw the stream on; undefined on create.
 */
async function reconcile(session: Session, props: StreamProps, priorVersions?: string[]): Promise<any> {
    const { jsm, serverVersion } = session;
    const desired = specOfStored(props.config);
    const existing = await streamInfo(jsm, desired.name);
    if (!existing) {
        return jsm.streams.add(toServerStreamConfig(desired));
    }
    const current = fromServerStreamConfig(existing.config);
    const reasons = replaceReasons(current, desired, serverVersion);
    if (reasons.length > 0) {
        if (!props.allowDataLoss) {
            throw new Error(
                `stream "${desired.name}" exists with settings that cannot be changed in place (${reasons.map((r) => r.field).join(", ")}) and holds ${existing.state?.messages ?? 0} messages; ` +
                    "set allowDataLoss: true to delete and recreate it, or match its settings",
            );
        }
        await jsm.streams.delete(desired.name);
        return addAfterDelete(jsm, toServerStreamConfig(desired));
    }
    if (changedFields(current, desired).length === 0 && !needsMetadataRewrite(priorVersions, serverVersion)) {
        return existing;
    }
    // The configuration just read is the base of the merge: nats.js's update() would fetch it again.
    return session.api(`STREAM.UPDATE.${desired.name}`, {
        ...existing.config,
        ...toServerUpdateConfig(desired, serverVersion),
    });
}

/** The outputs: the server's configuration, in the form the inputs used. */
function outputs(props: StreamProps, info: any, serverVersion: string): StreamOutputs {
    return {
        ...props,
        config: storedLike(fromServerStreamConfig(info.config), props.config),
        observedServerVersion: serverVersion,
    };
}

function streamName(props: StreamProps): string {
    return specOfStored(props.config).name;
}

/** create: retried while the cluster forms; a stream that exists already is adopted. */
export async function createStream(
    props: StreamProps,
    report: ProgressReporter = reportToEngine,
): Promise<{ id: string; outs: StreamOutputs }> {
    return withRetries(
        `creating stream "${streamName(props)}"`,
        props.connection,
        createTimeoutMsOf(props),
        async (session) => {
            const info = await reconcile(session, props);
            return { id: streamName(props), outs: outputs(props, info, session.serverVersion) };
        },
        report,
    );
}

/** update: the full desired configuration. */
export async function updateStream(
    olds: StreamOutputs,
    news: StreamProps,
    report: ProgressReporter = reportToEngine,
): Promise<{ outs: StreamOutputs }> {
    return withRetries(
        `updating stream "${streamName(news)}"`,
        news.connection,
        createTimeoutMsOf(news),
        async (session) => {
            const info = await reconcile(
                session,
                news,
                [olds.serverVersion, olds.observedServerVersion].filter((v) => typeof v === "string"),
            );
            return { outs: outputs(news, info, session.serverVersion) };
        },
        report,
    );
}

/**
 * read (refresh): the server's configuration; a stream deleted behind our back is reported gone. The
 * inputs follow the server too, so the next preview shows which fields drifted and what `up` will set
 * them back to (with only the outputs refreshed, it would plan an update showing no changed field).
 */
export async function readStream(
    id: string,
    props: StreamOutputs,
): Promise<{ id?: string; props?: StreamOutputs; inputs?: StreamProps }> {
    return withRetries(`reading stream "${id}"`, props.connection, createTimeoutMsOf(props), async (session) => {
        const info = await streamInfo(session.jsm, id);
        if (!info) {
            return {};
        }
        const refreshed = outputs(props, info, session.serverVersion);
        const { observedServerVersion: _observed, ...inputs } = refreshed;
        return { id, props: refreshed, inputs };
    });
}

/** delete: only with deletionPolicy "delete"; the default keeps the stream and its messages. */
export async function deleteStream(id: string, props: StreamOutputs): Promise<void> {
    if (props.deletionPolicy !== "delete") {
        return;
    }
    await withRetries(`deleting stream "${id}"`, props.connection, createTimeoutMsOf(props), async ({ jsm }) => {
        if (await streamInfo(jsm, id)) {
            await jsm.streams.delete(id);
        }
    });
}
