/**
 * A Prometheus Operator `PodMonitor` for the bus's metrics exporter, as the NATS Helm chart offers
 * (https://github.com/nats-io/k8s/tree/main/helm/charts/nats): created only when asked, after the
 * monitoring.coreos.com CRD has been read, so a cluster without the operator fails the preview on that
 * read rather than on an object the API server does not know.
 */
import type * as k8s from "@pulumi/kubernetes";
import { InputError, keysOf, rejectUnknownKeys } from "../check";
import { checkShape } from "../shape";
import type { BusSpec } from "../validate";
import { commonLabels, selectorLabels } from "./names";
import { LABELS } from "./pod-fields";

/** The CRD read before a PodMonitor is created. */
export const POD_MONITOR_CRD = "podmonitors.monitoring.coreos.com";

/** `jetstream.podMonitor`. */
export interface PodMonitorArgs {
    /**
     * Labels the Prometheus's `podMonitorSelector` matches, e.g. `{ release: "prometheus" }`. Added to the bus's own.
     */
    labels?: Record<string, string>;
    /** Scrape interval, a Prometheus duration such as `30s`. Default: the Prometheus's own. */
    interval?: string;
    /** Scrape timeout, at most `interval`. Default: the Prometheus's own. */
    scrapeTimeout?: string;
}

/** Checked `jetstream.podMonitor`. */
export interface PodMonitorSpec {
    labels: Record<string, string>;
    interval?: string;
    scrapeTimeout?: string;
}

const KEYS = keysOf<PodMonitorArgs>()(["labels", "interval", "scrapeTimeout"]);

/**
 * Prometheus's duration grammar: units y, w, d, h, m, s, ms, largest first
 * (https://prometheus.io/docs/prometheus/latest/configuration/configuration/).
 */
const PROMETHEUS_DURATION = /^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$/;
const UNIT_MS: Record<string, number> = {
    y: 365 * 86_400_000,
    w: 7 * 86_400_000,
    d: 86_400_000,
    h: 3_600_000,
    m: 60_000,
    s: 1_000,
    ms: 1,
};

/** Milliseconds of a Prometheus duration; throws naming `field`. */
export function prometheusDurationMs(value: unknown, field: string): number {
    const match = typeof value === "string" && value !== "" ? PROMETHEUS_DURATION.exec(value) : null;
    if (match === null) {
        throw new InputError(
            field,
            `${JSON.stringify(value)} is not a Prometheus duration; use a number and units y, w, d, h, m, s or ms, largest first, e.g. "30s" or "1m30s"`,
        );
    }
    const units = ["y", "w", "d", "h", "m", "s", "ms"];
    const ms = units.reduce((sum, unit, i) => sum + Number(match[2 * i + 2] ?? 0) * UNIT_MS[unit], 0);
    if (ms === 0) {
        throw new InputError(field, `${JSON.stringify(value)} is zero; a scrape needs a positive duration`);
    }
    return ms;
}

/** Checks `jetstream.podMonitor`; undefined when not asked for. */
export function resolvePodMonitor(
    podMonitor: PodMonitorArgs | undefined | null,
    field = "jetstream.podMonitor",
): PodMonitorSpec | undefined {
    if (podMonitor === undefined || podMonitor === null) {
        return undefined;
    }
    if (typeof podMonitor !== "object" || Array.isArray(podMonitor)) {
        throw new InputError(field, "must be an object: {} for the defaults, or { labels, interval, scrapeTimeout }");
    }
    rejectUnknownKeys(podMonitor, KEYS, field);
    checkShape(podMonitor.labels, LABELS, `${field}.labels`);
    const interval =
        podMonitor.interval === undefined ? undefined : prometheusDurationMs(podMonitor.interval, `${field}.interval`);
    const timeout =
        podMonitor.scrapeTimeout === undefined
            ? undefined
            : prometheusDurationMs(podMonitor.scrapeTimeout, `${field}.scrapeTimeout`);
    if (interval !== undefined && timeout !== undefined && timeout > interval) {
        throw new InputError(
            `${field}.scrapeTimeout`,
            `${podMonitor.scrapeTimeout} is longer than interval ${podMonitor.interval}; Prometheus refuses a scrape timeout above the interval`,
        );
    }
    return { labels: { ...podMonitor.labels }, interval: podMonitor.interval, scrapeTimeout: podMonitor.scrapeTimeout };
}

/** PodMonitor `eventbus-<n>-js`: the `metrics` port (the exporter, 7777) of the bus's pods. */
export function podMonitorArgs(spec: BusSpec, podMonitor: PodMonitorSpec): k8s.apiextensions.CustomResourceArgs {
    return {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PodMonitor",
        // The bus's labels win, as on every other object.
        metadata: {
            name: spec.names.statefulSet,
            namespace: spec.namespace,
            labels: { ...podMonitor.labels, ...commonLabels(spec.busName) },
        },
        spec: {
            selector: { matchLabels: selectorLabels(spec.busName) },
            podMetricsEndpoints: [
                {
                    port: "metrics",
                    path: "/metrics",
                    ...(podMonitor.interval ? { interval: podMonitor.interval } : {}),
                    ...(podMonitor.scrapeTimeout ? { scrapeTimeout: podMonitor.scrapeTimeout } : {}),
                },
            ],
        },
    };
}
