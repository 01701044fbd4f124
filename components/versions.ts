/**
 * The version map: what `jetstream.version` may say and which images and server features it means.
 *
 * Argo Events keeps the same kind of list in its controller ConfigMap and matches the user's
 * string exactly (Argo Events, https://github.com/argoproj/argo-events). Entries here are never removed
 * silently: Argo's rename of `2.10.10` to `2.10.29` broke pinned buses
 * (https://github.com/argoproj/argo-events/pull/3844).
 */

/** Images and start command for one supported `version` string. */
export interface VersionEntry {
    /** The `version` string as the user writes it. */
    readonly version: string;
    /** The nats-server release it runs, as "major.minor.patch". */
    readonly serverVersion: string;
    /** nats-server image. */
    readonly natsImage: string;
    /** Config reloader sidecar image. */
    readonly reloaderImage: string;
    /** Prometheus exporter sidecar image. */
    readonly metricsExporterImage: string;
    /** nats-server binary inside the image: `/nats-server` for scratch images, `nats-server` for alpine. */
    readonly startCommand: string;
}

// Sidecars do not depend on the server release: the reloader only signals the pid and the exporter
// reads the monitoring port, so every entry gets the current ones. Reloader >= 0.14 takes several
// `-config` flags, which is how it watches the certificate files, and these are the versions Argo's
// #4134 and the NATS Helm chart 2.14.2 ship (https://github.com/nats-io/k8s/tree/main/helm/charts/nats).
const RELOADER_IMAGE = "natsio/nats-server-config-reloader:0.23.0";
const EXPORTER_IMAGE = "natsio/prometheus-nats-exporter:0.20.1";

/** The release `latest` stands for. Pinned: `latest` must not move under a running bus. */
export const LATEST_SERVER_VERSION = "2.14.4";

function entry(version: string, serverVersion: string, alpine = false): VersionEntry {
    return {
        version,
        serverVersion,
        natsImage: `nats:${alpine ? `${serverVersion}-alpine` : serverVersion}`,
        reloaderImage: RELOADER_IMAGE,
        metricsExporterImage: EXPORTER_IMAGE,
        startCommand: alpine ? "nats-server" : "/nats-server",
    };
}

/**
 * Every supported `version` string. Argo's 2.9 and 2.10 entries are kept so pasted EventBus specs
 * work; 2.8 is left out because it lacks the health endpoints our probes use
 * (`js-server-only` came with 2.9; https://docs.nats.io/running-a-nats-service/nats_admin/monitoring).
 */
export const VERSIONS: readonly VersionEntry[] = [
    entry("latest", LATEST_SERVER_VERSION),
    entry("2.9.1", "2.9.1"),
    entry("2.9.12", "2.9.12"),
    entry("2.9.16", "2.9.16"),
    entry("2.9.25", "2.9.25"),
    entry("2.9.25-alpine", "2.9.25", true),
    entry("2.10.29", "2.10.29"),
    entry("2.10.29-alpine", "2.10.29", true),
    entry("2.11.17", "2.11.17"),
    entry("2.12.15", "2.12.15"),
    entry("2.14.4", "2.14.4"),
    entry("2.14.4-alpine", "2.14.4", true),
];

/** The `version` strings a user may write, in the order of the map. */
export function supportedVersions(): string[] {
    return VERSIONS.map((v) => v.version);
}

/** The entry for `version`, matched exactly as Argo does, or undefined. */
export function findVersion(version: string): VersionEntry | undefined {
    return VERSIONS.find((v) => v.version === version);
}

/** [major, minor, patch] of a "2.10.29"-style version. */
export function parseServerVersion(serverVersion: string): [number, number, number] {
    const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(serverVersion);
    if (!match) {
        throw new Error(`not a nats-server version: "${serverVersion}"`);
    }
    return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/** True when `serverVersion` is at least `minimum` (both "x.y.z"). */
export function atLeast(serverVersion: string, minimum: string): boolean {
    const a = parseServerVersion(serverVersion);
    const b = parseServerVersion(minimum);
    for (let i = 0; i < 3; i++) {
        if (a[i] !== b[i]) {
            return a[i] > b[i];
        }
    }
    return true;
}

/** The health endpoint paths of the Helm chart's probes, as the given server understands them. */
export interface HealthPaths {
    startup: string;
    readiness: string;
    liveness: string;
}

/**
 * Probe paths for a server release, as the NATS Helm chart sets them
 * (https://github.com/nats-io/k8s/tree/main/helm/charts/nats): startup on the full `/healthz`,
 * readiness on `js-server-only`, liveness on `js-enabled-only`. Before 2.9.10 the liveness option
 * was called `js-enabled`, and an unknown option silently means the full check, which would
 * restart a node that is merely catching up.
 */
export function healthPaths(serverVersion: string): HealthPaths {
    const jsEnabledOnly = atLeast(serverVersion, "2.9.10") ? "js-enabled-only=true" : "js-enabled=true";
    return {
        startup: "/healthz",
        readiness: "/healthz?js-server-only=true",
        liveness: `/healthz?${jsEnabledOnly}`,
    };
}
