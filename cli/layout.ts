/**
 * Maps a bus rendered for Kubernetes onto this machine: file paths into a temp folder, pod and
 * service host names onto loopback. Everything else (TLS, routes, auth, JetStream settings,
 * lame duck) is exactly what the pods get.
 */
import * as path from "node:path";
import { podLayout, ServerLayout } from "../components/config/render";
import { PATHS } from "../components/defaults";
import { serviceDns } from "../components/kube/names";
import type { BusSpec } from "../components/validate";
import { atLeast, VERSIONS, VersionEntry } from "../components/versions";

/** The pod's config text with its file paths moved under `dir` (ports and hosts unchanged). */
export function localizePaths(configText: string, dir: string): string {
    return configText
        .split(`${PATHS.configDir}/`)
        .join(`${dir}/`)
        .split(PATHS.storeDir)
        .join(path.join(dir, "store"))
        .split(PATHS.pidFile)
        .join(path.join(dir, "nats.pid"));
}

/** The environment Kubernetes gives pod `index` (StatefulSet env, Argo §2.6). */
export function podEnv(
    spec: BusSpec,
    index: number,
    encryptionKey: string,
    clusterPort?: number,
): Record<string, string> {
    const podName = `${spec.names.statefulSet}-${index}`;
    const advertise = `${podName}.${spec.names.service}.${spec.namespace}.svc`;
    return {
        POD_NAME: podName,
        SERVER_NAME: podName,
        POD_NAMESPACE: spec.namespace,
        CLUSTER_ADVERTISE: clusterPort === undefined ? advertise : `${advertise}:${clusterPort}`,
        JS_KEY: encryptionKey,
    };
}

/** Ports of one local server. */
export interface LocalPorts {
    client: number;
    cluster: number;
    monitor: number;
}

/**
 * The layout of server `index` of a local cluster: its own folder and ports on 127.0.0.1, routes
 * to every server by its pod DNS name (which the test's hosts file maps to 127.0.0.1), so route
 * TLS is verified against the same names as in the cluster.
 */
export function localLayout(spec: BusSpec, index: number, ports: LocalPorts[], dir: string): ServerLayout {
    const dns = serviceDns(spec.busName, spec.namespace, spec.replicas, 0, 0);
    return {
        ...podLayout(spec),
        bindHost: "127.0.0.1",
        clientPort: ports[index].client,
        clusterPort: ports[index].cluster,
        monitorPort: ports[index].monitor,
        configDir: dir,
        storeDir: path.join(dir, "store"),
        pidFile: path.join(dir, "nats.pid"),
        routeUrls: dns.podHosts.map((host, i) => `nats://${host}:${ports[i].cluster}`),
    };
}

/** A hosts file resolving every pod name and the service name of the bus to 127.0.0.1. */
export function hostsFile(spec: BusSpec): string {
    const dns = serviceDns(spec.busName, spec.namespace, spec.replicas, 0, 0);
    return ["127.0.0.1 localhost", ...[...dns.podHosts, dns.serviceHost].map((host) => `127.0.0.1 ${host}`), ""].join(
        "\n",
    );
}

/**
 * The version map entry that a local binary stands in for: the newest entry of the same
 * major.minor release, so the rendering under test is the one shipped for that release line.
 */
export function versionEntryFor(binaryVersion: string): VersionEntry | undefined {
    const [major, minor] = binaryVersion.split(".");
    const sameLine = VERSIONS.filter(
        (v) =>
            v.version !== "latest" &&
            !v.version.endsWith("-alpine") &&
            v.serverVersion.startsWith(`${major}.${minor}.`),
    );
    return sameLine.sort((a, b) => (atLeast(a.serverVersion, b.serverVersion) ? -1 : 1))[0];
}
