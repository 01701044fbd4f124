/**
 * Day-2 changes to a bus's servers that Kubernetes cannot make by updating the StatefulSet: the
 * number of servers and their volumes. A StatefulSet's `volumeClaimTemplates` cannot change, and
 * JetStream's data lives on those volumes, so each change is either made safely (growing volumes) or
 * refused at preview with the steps to take (shrinking them, another class or access mode, or a
 * standalone server joining a cluster, which deletes its streams). What a change does is written
 * into the plan, so `pulumi preview --diff` says it.
 *
 * Pure: no network. The dynamic provider in servers-impl.ts does the work at `pulumi up`.
 */
import { parseKubernetesQuantity } from "../units";

/** The volumes of the servers, as the StatefulSet's claim template asks for them. */
export interface ServerVolumes {
    /** Requested size per server, a Kubernetes quantity ("10Gi"). */
    size: string;
    /** StorageClass; "" for the cluster's default. */
    storageClassName: string;
    accessMode: string;
    /** Name of the claim template; claims are `<template>-<statefulSet>-<ordinal>`. */
    claimTemplate: string;
    /** What the StatefulSet does with a removed server's claim: `Retain` or `Delete`. */
    whenScaled: "Retain" | "Delete";
}

/** Inputs of the servers resource. */
export interface ServersProps {
    namespace: string;
    statefulSet: string;
    /** Servers in the StatefulSet. */
    replicas: number;
    /** Unset: no persistence (an emptyDir per server). */
    volumes?: ServerVolumes;
    /** The stream lifecycle's allowDataLoss: lets through changes that lose the servers' streams. */
    allowDataLoss: boolean;
    /**
     * Where the API server is: the kubeconfig text (secret) and context, unset meaning kubectl's; or,
     * when the bus's cluster cannot be known from here, why (said when the volumes have to grow).
     */
    kubernetes: { kubeconfig?: string; context?: string; problem?: string };
    /** What the last change of replicas or volumes does, written by check so the preview shows it. */
    change: string;
}

const FIELD = {
    replicas: "jetstream.replicas",
    size: "jetstream.persistence.volumeSize",
    storageClassName: "jetstream.persistence.storageClassName",
    accessMode: "jetstream.persistence.accessMode",
    persistence: "jetstream.persistence",
    allowDataLoss: "jetstream.streamLifecycle.allowDataLoss",
};

function claimName(volumes: ServerVolumes, statefulSet: string, ordinal: number): string {
    return `${volumes.claimTemplate}-${statefulSet}-${ordinal}`;
}

function ordinals(from: number, to: number): number[] {
    return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

function listed(names: string[]): string {
    return names.length <= 2 ? names.join(" and ") : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/** How to move streams to another bus, the way out of every change a live bus cannot make. */
function moveSteps(busChange: string): string {
    return (
        `To move: create a second bus ${busChange} (another busName), copy each stream to it ` +
        "(nats stream backup <stream> <dir> against this bus, nats stream restore <dir> against the new one, " +
        "or a stream on the new bus that sources from this one), point the clients at it, then delete this bus " +
        "and its claims (kubectl delete pvc -l eventbus-name=<busName>)."
    );
}

/**
 * Why the change from `olds` to `news` cannot be made, with the steps to take instead; undefined
 * when it can. Data is never deleted by surprise.
 */
export function refusal(olds: ServersProps, news: ServersProps): string | undefined {
    const was = olds.volumes;
    const now = news.volumes;
    if ((was === undefined) !== (now === undefined)) {
        return was === undefined
            ? `${FIELD.persistence} cannot be added to a running bus: its servers keep their streams on emptyDir volumes, which a new StatefulSet with claims would drop. ${moveSteps("with persistence")}`
            : `${FIELD.persistence} cannot be removed from a running bus: the streams on its claims would not follow. ${moveSteps("without persistence")}`;
    }
    if (was && now) {
        const wasBytes = parseKubernetesQuantity(was.size, FIELD.size);
        const nowBytes = parseKubernetesQuantity(now.size, FIELD.size);
        if (nowBytes < wasBytes) {
            return `${FIELD.size} cannot shrink from ${was.size} to ${now.size}: Kubernetes does not shrink a volume. Keep ${was.size}, or move to a smaller bus. ${moveSteps(`with volumeSize ${now.size}`)}`;
        }
        if (was.storageClassName !== now.storageClassName) {
            const name = (c: string) => (c === "" ? "the default class" : `"${c}"`);
            return `${FIELD.storageClassName} cannot change from ${name(was.storageClassName)} to ${name(now.storageClassName)} on a running bus: a claim keeps the class it was made with. ${moveSteps(`with the class ${name(now.storageClassName)}`)}`;
        }
        if (was.accessMode !== now.accessMode) {
            return `${FIELD.accessMode} cannot change from ${was.accessMode} to ${now.accessMode} on a running bus: a claim keeps the access mode it was made with. ${moveSteps(`with accessMode ${now.accessMode}`)}`;
        }
    }
    if (!news.allowDataLoss) {
        if (olds.replicas === 1 && news.replicas > 1) {
            return (
                `${FIELD.replicas} ${olds.replicas} → ${news.replicas} turns the standalone server into a cluster member, and nats-server then deletes ` +
                'the streams it kept on its own, messages included ("Detected orphaned stream ..., will cleanup", seen on 2.10 to 2.14). ' +
                "To keep them: back up each stream (nats stream backup <stream> <dir>), make the change, then restore it (nats stream restore <dir>). " +
                `To accept losing them, set ${FIELD.allowDataLoss}: true.`
            );
        }
        if (olds.replicas > 1 && news.replicas === 1) {
            return (
                `${FIELD.replicas} ${olds.replicas} → 1 turns the cluster into a standalone server, which does not take over the cluster's streams. ` +
                `Back up each stream (nats stream backup <stream> <dir>), make the change, then restore it (nats stream restore <dir>); or set ${FIELD.allowDataLoss}: true to accept losing them.`
            );
        }
        if (now?.whenScaled === "Delete" && news.replicas < olds.replicas) {
            const gone = ordinals(news.replicas, olds.replicas).map((i) => claimName(now, news.statefulSet, i));
            return (
                `${FIELD.replicas} ${olds.replicas} → ${news.replicas} deletes the claims ${listed(gone)} (persistence.retentionPolicy.whenScaled is Delete), with the data on them. ` +
                `Move stream replicas off those servers first (nats stream cluster peer-remove <stream> <server>), then set ${FIELD.allowDataLoss}: true for this change, or set whenScaled to Retain.`
            );
        }
    }
    return undefined;
}

/** What the change from `olds` to `news` does, in words for the preview; "" when replicas and volumes stay. */
export function describeChange(olds: ServersProps, news: ServersProps): string {
    const parts: string[] = [];
    const sts = news.statefulSet;
    const now = news.volumes;
    if (olds.replicas !== news.replicas) {
        const from = olds.replicas;
        const to = news.replicas;
        if (from === 1 || to === 1) {
            parts.push(
                `replicas ${from} → ${to}: the streams of the ${from === 1 ? "standalone server" : "cluster"} are lost (allowDataLoss is set)`,
            );
        } else if (to > from) {
            const added = ordinals(from, to).map((i) => `${sts}-${i}`);
            parts.push(
                `replicas ${from} → ${to}: ${listed(added)} start and join the cluster` +
                    (now ? ` on new claims ${listed(ordinals(from, to).map((i) => claimName(now, sts, i)))}` : "") +
                    "; streams keep their replicas and servers until told otherwise (nats stream edit --replicas, or the bus's stream settings)",
            );
        } else {
            const removed = ordinals(to, from).map((i) => `${sts}-${i}`);
            const claims = now ? ordinals(to, from).map((i) => claimName(now, sts, i)) : [];
            parts.push(
                `replicas ${from} → ${to}: ${listed(removed)} stop; ` +
                    (now
                        ? now.whenScaled === "Retain"
                            ? `their claims ${listed(claims)} are kept with their data (whenScaled Retain) and are used again if the bus grows back`
                            : `their claims ${listed(claims)} are deleted (whenScaled Delete)`
                        : "their data (emptyDir) goes with them") +
                    "; a stream replica on them is lost until moved (nats stream cluster peer-remove <stream> <server> moves it to a remaining server), " +
                    "and the JetStream meta group counts them as offline peers until removed (nats server raft peer-remove <server>)",
            );
        }
    }
    const was = olds.volumes;
    if (was && now && was.size !== now.size) {
        parts.push(
            `volumes ${was.size} → ${now.size}: each claim ${claimName(now, sts, 0)}, ... is expanded in place (its StorageClass must allow expansion), ` +
                "then the StatefulSet is recreated with the new claim size without stopping its pods (deleted with propagation Orphan, created again, the pods adopted)",
        );
    }
    return parts.join(". ");
}

/** True when the servers' replicas or volumes differ between `olds` and `news`. */
export function serversChanged(olds: ServersProps, news: ServersProps): boolean {
    return (
        olds.replicas !== news.replicas || JSON.stringify(olds.volumes ?? null) !== JSON.stringify(news.volumes ?? null)
    );
}

/**
 * check: the inputs, with `change` saying what this change does. An unchanged topology keeps the
 * recorded text, so an unchanged bus previews with no change.
 */
export function checkServers(olds: Partial<ServersProps> | undefined, news: ServersProps): ServersProps {
    if (olds === undefined || olds.replicas === undefined) {
        return { ...news, change: "" };
    }
    const before = olds as ServersProps;
    return { ...news, change: serversChanged(before, news) ? describeChange(before, news) : (before.change ?? "") };
}

/** diff: a refusal fails the preview; any other change of replicas or volumes is an update. */
export function planServersDiff(olds: ServersProps, news: ServersProps): { changes: boolean } {
    const problem = refusal(olds, news);
    if (problem !== undefined) {
        throw new Error(problem);
    }
    return { changes: serversChanged(olds, news) };
}
