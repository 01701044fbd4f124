/**
 * What the servers' dynamic provider does at `pulumi up`, loaded by the serialized provider with
 * `require` at the start of each operation (as the stream's is).
 *
 * Growing the volumes of a live bus, as operators of the NATS Helm chart do by hand
 * (https://docs.nats.io/running-a-nats-service/nats-kubernetes): every claim is expanded in place,
 * then the StatefulSet, whose claim template cannot change, is deleted with propagation Orphan (its
 * pods keep running) and created again with the new size; it adopts the same pods, whose template is
 * unchanged, so none restarts. Nothing is changed when a claim's StorageClass does not allow
 * expansion. check and diff are pure (servers.ts).
 */
import * as http from "node:http";
import * as https from "node:https";
import { parseKubernetesQuantity } from "../units";
import type { ServersProps, ServerVolumes } from "./servers";
import { loadKubeConfig } from "../stream/tunnel";
import { VOLUME_SIZE_ANNOTATION } from "./names";

export { checkServers, planServersDiff } from "./servers";

/** How long the API server may take to let go of the old StatefulSet. */
const RECREATE_TIMEOUT_MS = 120_000;

interface Response {
    status: number;
    body: any;
}

/** One request to the API server the kubeconfig names, with its credentials. */
type Api = (method: string, path: string, body?: unknown, contentType?: string) => Promise<Response>;

async function connectApi(kubernetes: ServersProps["kubernetes"]): Promise<{ api: Api; server: string }> {
    // The same cluster, found the same way, as the stream's port-forward.
    const { kc } = await loadKubeConfig(kubernetes ?? {});
    const server: string = kc.getCurrentCluster().server;
    const api: Api = async (method, path, body, contentType = "application/json") => {
        const url = new URL(path, server);
        const options: https.RequestOptions = { method, headers: { Accept: "application/json" } };
        await kc.applyToHTTPSOptions(options);
        const payload = body === undefined ? undefined : JSON.stringify(body);
        if (payload !== undefined) {
            options.headers = {
                ...options.headers,
                "Content-Type": contentType,
                "Content-Length": Buffer.byteLength(payload),
            };
        }
        return new Promise<Response>((resolve, reject) => {
            const request = (url.protocol === "http:" ? http : https).request(
                url,
                { ...options, timeout: 30_000 },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (chunk) => chunks.push(chunk));
                    res.on("end", () => {
                        const text = Buffer.concat(chunks).toString("utf8");
                        let parsed: unknown = text;
                        try {
                            parsed = text === "" ? undefined : JSON.parse(text);
                        } catch {
                            // Not JSON: kept as text for the message.
                        }
                        resolve({ status: res.statusCode ?? 0, body: parsed });
                    });
                },
            );
            request.on("timeout", () => request.destroy(new Error(`${method} ${url.pathname} timed out`)));
            request.on("error", reject);
            request.end(payload);
        });
    };
    return { api, server };
}

function failure(what: string, response: Response): Error {
    const message =
        typeof response.body === "object" && response.body?.message
            ? response.body.message
            : String(response.body ?? "");
    return new Error(`${what}: the API server answered ${response.status}${message ? `: ${message}` : ""}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function claimSize(claim: any): number {
    return parseKubernetesQuantity(String(claim?.spec?.resources?.requests?.storage ?? "0"), "storage");
}

/** The claims of the servers, in ordinal order: `<template>-<statefulSet>-<n>`. */
async function serverClaims(api: Api, props: ServersProps, volumes: ServerVolumes): Promise<any[]> {
    const response = await api("GET", `/api/v1/namespaces/${props.namespace}/persistentvolumeclaims`);
    if (response.status !== 200) throw failure(`listing the claims in namespace ${props.namespace}`, response);
    const pattern = new RegExp(
        `^${volumes.claimTemplate.replace(/[.]/g, "\\.")}-${props.statefulSet.replace(/[.]/g, "\\.")}-(\\d+)$`,
    );
    return (response.body.items as any[])
        .filter((claim) => pattern.test(claim.metadata.name))
        .sort((a, b) => Number(pattern.exec(a.metadata.name)![1]) - Number(pattern.exec(b.metadata.name)![1]));
}

/** Refuses, before anything changes, when a claim to grow is of a class that does not allow expansion. */
async function checkExpandable(api: Api, claims: any[]): Promise<void> {
    const classes = new Map<string, boolean>();
    for (const claim of claims) {
        const name = claim.spec.storageClassName;
        if (!name) {
            throw new Error(
                `claim ${claim.metadata.name} has no StorageClass, so it cannot be expanded; nothing was changed`,
            );
        }
        if (!classes.has(name)) {
            const response = await api("GET", `/apis/storage.k8s.io/v1/storageclasses/${name}`);
            if (response.status !== 200)
                throw failure(`reading StorageClass ${name} to expand claim ${claim.metadata.name}`, response);
            classes.set(name, response.body.allowVolumeExpansion === true);
        }
        if (!classes.get(name)) {
            throw new Error(
                `StorageClass ${name} does not allow volume expansion (allowVolumeExpansion is not true), so claim ${claim.metadata.name} cannot grow; nothing was changed. ` +
                    `Allow it (kubectl patch storageclass ${name} -p '{"allowVolumeExpansion": true}', if its provisioner supports it) and run pulumi up again, or revert jetstream.persistence.volumeSize`,
            );
        }
    }
}

/**
 * The StatefulSet as it must be created again: the live object with the new claim size, without what the API server
 * owns.
 */
export function recreatedStatefulSet(live: any, volumes: ServerVolumes, sizeAnnotation: string): any {
    const { name, namespace, labels, annotations, ownerReferences } = live.metadata;
    const templates = (live.spec.volumeClaimTemplates ?? []).map((template: any) =>
        template.metadata?.name === volumes.claimTemplate
            ? {
                  ...template,
                  spec: {
                      ...template.spec,
                      resources: {
                          ...template.spec.resources,
                          requests: { ...template.spec.resources?.requests, storage: volumes.size },
                      },
                  },
              }
            : template,
    );
    return {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: {
            name,
            namespace,
            labels,
            annotations: { ...annotations, [sizeAnnotation]: volumes.size },
            ...(ownerReferences ? { ownerReferences } : {}),
        },
        spec: { ...live.spec, volumeClaimTemplates: templates },
    };
}

/**
 * The field manager the Kubernetes provider applies this object with, so the recreated object is
 * its own again and its next update meets no conflict; a fixed name when there is none.
 */
export function applyManagerOf(live: any): string {
    const entries: any[] = live.metadata?.managedFields ?? [];
    const owner =
        entries.find((e) => e.operation === "Apply" && e.fieldsV1?.["f:spec"] !== undefined) ??
        entries.find((e) => e.operation === "Apply");
    return owner?.manager ?? "jetstream-eventbus";
}

/** Brings the claims and the StatefulSet's claim template to `volumes.size`; idempotent. */
async function growVolumes(props: ServersProps, volumes: ServerVolumes): Promise<void> {
    const { api, server } = await connectApi(props.kubernetes);
    const size = parseKubernetesQuantity(volumes.size, "jetstream.persistence.volumeSize");
    const base = `/apis/apps/v1/namespaces/${props.namespace}/statefulsets/${props.statefulSet}`;
    const current = await api("GET", base);
    if (current.status === 404) {
        // A new bus: the StatefulSet makes its claims at the requested size.
        return;
    }
    if (current.status !== 200)
        throw failure(`reading StatefulSet ${props.namespace}/${props.statefulSet} at ${server}`, current);
    const template = (current.body.spec.volumeClaimTemplates ?? []).find(
        (t: any) => t.metadata?.name === volumes.claimTemplate,
    );
    const claims = (await serverClaims(api, props, volumes)).filter((claim) => claimSize(claim) < size);
    if (claims.length > 0) {
        await checkExpandable(api, claims);
        for (const claim of claims) {
            const patched = await api(
                "PATCH",
                `/api/v1/namespaces/${props.namespace}/persistentvolumeclaims/${claim.metadata.name}`,
                { spec: { resources: { requests: { storage: volumes.size } } } },
                "application/merge-patch+json",
            );
            if (patched.status !== 200)
                throw failure(`expanding claim ${claim.metadata.name} to ${volumes.size}`, patched);
        }
    }
    if (template === undefined || claimSize(template) === size) {
        return;
    }
    const replacement = recreatedStatefulSet(current.body, volumes, VOLUME_SIZE_ANNOTATION);
    const manager = applyManagerOf(current.body);
    const deleted = await api("DELETE", `${base}?propagationPolicy=Orphan`, {
        kind: "DeleteOptions",
        apiVersion: "v1",
        propagationPolicy: "Orphan",
    });
    if (deleted.status !== 200 && deleted.status !== 202 && deleted.status !== 404) {
        throw failure(
            `deleting StatefulSet ${props.statefulSet} (propagation Orphan, its pods keep running) to change its claim size`,
            deleted,
        );
    }
    const deadline = Date.now() + RECREATE_TIMEOUT_MS;
    while ((await api("GET", base)).status !== 404) {
        if (Date.now() > deadline) {
            throw new Error(
                `StatefulSet ${props.statefulSet} was deleted with propagation Orphan but is still there after ${RECREATE_TIMEOUT_MS / 1000}s; its pods run on. Run pulumi up again once it is gone`,
            );
        }
        await sleep(250);
    }
    let created: Response | undefined;
    for (let attempt = 1; attempt <= 5; attempt++) {
        // Server-side apply creates it, every field owned by the manager that owned them before.
        created = await api(
            "PATCH",
            `${base}?fieldManager=${encodeURIComponent(manager)}&force=true`,
            replacement,
            "application/apply-patch+yaml",
        );
        if (created.status === 201 || created.status === 200) return;
        await sleep(1_000 * attempt);
    }
    throw failure(
        `creating StatefulSet ${props.statefulSet} again with claims of ${volumes.size} (its pods run on without it; pulumi refresh then pulumi up creates it)`,
        created!,
    );
}

/**
 * create: nothing to do. A new bus's StatefulSet makes its claims at the requested size, and a stack
 * that adopts this resource on a running bus changes nothing by doing so.
 */
export async function createServers(props: ServersProps): Promise<{ id: string; outs: ServersProps }> {
    return { id: `${props.namespace}/${props.statefulSet}`, outs: props };
}

/**
 * update: grows the volumes when their size went up (diff refused every other volume change); replicas are the
 * StatefulSet's.
 */
export async function updateServers(olds: ServersProps, news: ServersProps): Promise<{ outs: ServersProps }> {
    if (news.volumes && olds.volumes && news.volumes.size !== olds.volumes.size) {
        if (news.kubernetes?.problem) {
            throw new Error(
                `growing the volumes of ${news.statefulSet} needs its cluster's API server: ${news.kubernetes.problem}`,
            );
        }
        await growVolumes(news, news.volumes);
    }
    return { outs: news };
}
