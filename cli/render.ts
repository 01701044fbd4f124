/**
 * The files of `render`: every Kubernetes object as YAML, each bus's `nats-js.conf`, and the stream
 * configuration, deterministic (same input, byte-identical files) and with every secret value
 * replaced by a marker, so a diff between two commits shows only real changes and leaks nothing.
 */
import { stringify } from "yaml";
import type { CapturedResource } from "./capture";

/** Stands where a Secret's value (or anything generated at deploy time) would be. */
export const SECRET_MARKER = "(secret, generated at deploy time)";

/** One output file: a path relative to the output folder, and its text. */
export interface RenderedFile {
    path: string;
    content: string;
}

const STREAM_TYPE = "pulumi-nodejs:dynamic/jetstream:Stream";

/** `kubernetes:apps/v1:StatefulSet` -> { apiVersion: "apps/v1", kind: "StatefulSet" }. */
function kubernetesKind(type: string): { apiVersion: string; kind: string } | undefined {
    const match = /^kubernetes:([^:]+):(.+)$/.exec(type);
    if (!match) return undefined;
    return { apiVersion: match[1].replace(/^core\//, ""), kind: match[2] };
}

/** A copy with object keys sorted at every level (arrays keep their order), for stable YAML. */
export function sortKeys(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(sortKeys);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(
            Object.keys(value)
                .sort()
                .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
                .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
        );
    }
    return value;
}

function redactValues(map: Record<string, unknown> | undefined): Record<string, string> | undefined {
    return map === undefined ? undefined : Object.fromEntries(Object.keys(map).map((key) => [key, SECRET_MARKER]));
}

/** The object as `kubectl apply` would take it; Secret values replaced by the marker. */
export function kubernetesObject(resource: CapturedResource): Record<string, any> | undefined {
    const kind = kubernetesKind(resource.type);
    // A Patch updates the data of an object rendered in full already (ConfigMap, Secrets).
    if (!kind || resource.read || kind.kind.endsWith("Patch")) return undefined;
    const { apiVersion: _a, kind: _k, ...body } = resource.inputs;
    const object: Record<string, any> = {
        apiVersion: resource.inputs.apiVersion ?? kind.apiVersion,
        kind: resource.inputs.kind ?? kind.kind,
        ...body,
    };
    if (object.kind === "Secret") {
        object.stringData = redactValues(object.stringData);
        object.data = redactValues(object.data);
    }
    return sortKeys(object) as Record<string, any>;
}

/**
 * The stream as the provider receives it, without its credentials and the CA (generated per run):
 * what changes between commits is its configuration and how it is reached.
 */
export function streamDocument(resource: CapturedResource): Record<string, any> {
    const { config, serverVersion, deletionPolicy, allowDataLoss, createTimeout, connection } = resource.inputs;
    const { password, caCert, clientCert, clientKey, kubernetes, ...reach } = connection ?? {};
    const target =
        kubernetes === undefined
            ? undefined
            : { ...kubernetes, kubeconfig: kubernetes.kubeconfig === undefined ? undefined : SECRET_MARKER };
    return sortKeys({
        resource: resource.name,
        config,
        serverVersion,
        deletionPolicy,
        allowDataLoss,
        createTimeout,
        connection: {
            ...reach,
            password: password === undefined ? undefined : SECRET_MARKER,
            caCert: caCert === undefined ? undefined : SECRET_MARKER,
            clientCert: clientCert === undefined ? undefined : SECRET_MARKER,
            clientKey: clientKey === undefined ? undefined : SECRET_MARKER,
            kubernetes: target,
        },
    }) as Record<string, any>;
}

function yaml(value: unknown): string {
    return stringify(value, { lineWidth: 0, sortMapEntries: false });
}

/** Every file of a render, in a stable order. */
export function renderFiles(resources: CapturedResource[]): RenderedFile[] {
    const files: RenderedFile[] = [];
    for (const resource of resources) {
        const object = kubernetesObject(resource);
        if (object) {
            const namespace = object.metadata?.namespace ?? "_cluster";
            files.push({
                path: `${namespace}/${object.kind.toLowerCase()}-${object.metadata?.name}.yaml`,
                content: yaml(object),
            });
            const config = object.kind === "ConfigMap" ? object.data?.["nats-js"] : undefined;
            if (typeof config === "string") {
                files.push({ path: `${namespace}/${object.metadata.name}.nats-js.conf`, content: config });
            }
        }
        if (resource.type === STREAM_TYPE) {
            files.push({ path: `streams/${resource.name}.yaml`, content: yaml(streamDocument(resource)) });
        }
    }
    return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** All objects and stream documents as one multi-document YAML stream (`render --format yaml`). */
export function renderMultiDocument(resources: CapturedResource[]): string {
    return renderFiles(resources)
        .filter((file) => file.path.endsWith(".yaml"))
        .map((file) => `# ${file.path}\n${file.content}`)
        .join("---\n");
}
