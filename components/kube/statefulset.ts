import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import type { ContainerTemplate } from "../args";
import { renderJetStreamSettings } from "../config/jetstream-settings";
import { CONFIG_FILES, DEFAULTS, PATHS, PORTS } from "../defaults";
import { parseKubernetesQuantity } from "../units";
import type { BusSpec } from "../validate";
import { healthPaths } from "../versions";
import { commonLabels, selectorLabels, VOLUME_SIZE_ANNOTATION } from "./names";
import { CONFIG_MAP_KEY, SERVER_SECRET_ENV_KEYS, SERVER_SECRET_KEYS } from "./objects";

import Core = k8s.types.input.core.v1;

const VOLUMES = { config: "config-volume", pid: "pid", data: "js-data" } as const;

/** The restricted Pod Security Standard for the pod (non-root, RuntimeDefault seccomp, writable data volume). */
export function defaultPodSecurityContext(): Core.PodSecurityContext {
    return {
        runAsNonRoot: true,
        runAsUser: DEFAULTS.runAsUser,
        runAsGroup: DEFAULTS.runAsUser,
        fsGroup: DEFAULTS.fsGroup,
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/** The restricted Pod Security Standard for each container. */
export function defaultContainerSecurityContext(): Core.SecurityContext {
    return {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
    };
}

/**
 * Soft anti-affinity: spread the servers over nodes when the scheduler can (Argo Events' documentation recommends it).
 */
export function defaultAffinity(busName: string): Core.Affinity {
    return {
        podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
                {
                    weight: 100,
                    podAffinityTerm: {
                        topologyKey: "kubernetes.io/hostname",
                        labelSelector: { matchLabels: selectorLabels(busName) },
                    },
                },
            ],
        },
    };
}

/**
 * `GOMEMLIMIT` for a memory limit: 80% of it, so the Go runtime collects garbage before the
 * kernel kills the container (as the NATS Helm chart sets it). Undefined when there is no limit.
 */
export function goMemLimit(memoryLimit: string | undefined): string | undefined {
    if (memoryLimit === undefined) {
        return undefined;
    }
    const bytes = parseKubernetesQuantity(memoryLimit, "jetstream.containerTemplate.resources.limits.memory");
    return `${Math.floor((bytes * DEFAULTS.goMemLimitShare) / (1024 * 1024))}MiB`;
}

/** Environment of `main`, given to `reloader` too (Argo #3607: it expands the same variables). */
function serverEnv(spec: BusSpec): Core.EnvVar[] {
    return [
        { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "SERVER_NAME", value: "$(POD_NAME)" },
        { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
        { name: "CLUSTER_ADVERTISE", value: `$(POD_NAME).${spec.names.service}.$(POD_NAMESPACE).svc` },
        {
            name: "JS_KEY",
            valueFrom: { secretKeyRef: { name: spec.names.serverSecret, key: SERVER_SECRET_ENV_KEYS.encryption } },
        },
    ];
}

function mainEnv(spec: BusSpec, template: ContainerTemplate | undefined): pulumi.Input<Core.EnvVar[]> {
    return pulumi.output(template?.resources).apply((resources) => {
        const memory = resources?.limits?.memory;
        const limit = goMemLimit(memory === undefined ? undefined : String(memory));
        return limit ? [...serverEnv(spec), { name: "GOMEMLIMIT", value: limit }] : serverEnv(spec);
    });
}

function httpProbe(path: string, settings: Partial<Core.Probe>): Core.Probe {
    return { httpGet: { path, port: "monitor" }, timeoutSeconds: 5, ...settings };
}

function templateFields(template: ContainerTemplate | undefined) {
    return {
        resources: template?.resources,
        imagePullPolicy: template?.imagePullPolicy,
        securityContext: template?.securityContext ?? defaultContainerSecurityContext(),
    };
}

/**
 * The nats-server container, as Argo Events runs it, with the probes of the NATS Helm chart
 * (https://github.com/nats-io/k8s/tree/main/helm/charts/nats).
 */
function mainContainer(spec: BusSpec): Core.Container {
    const paths = healthPaths(spec.version.serverVersion);
    const template = spec.pod.containerTemplate;
    return {
        name: "main",
        image: spec.images.nats,
        command: [spec.images.startCommand, "--config", PATHS.configFile],
        args: spec.startArgs,
        ports: [
            { name: "client", containerPort: PORTS.client },
            { name: "cluster", containerPort: PORTS.cluster },
            { name: "monitor", containerPort: PORTS.monitor },
        ],
        env: mainEnv(spec, template),
        volumeMounts: [
            { name: VOLUMES.config, mountPath: PATHS.configDir },
            { name: VOLUMES.pid, mountPath: PATHS.pidDir },
            { name: spec.persistence ? spec.names.volumeClaim : VOLUMES.data, mountPath: PATHS.dataDir },
        ],
        // Startup waits for streams to recover (up to 15 minutes); readiness only needs the server
        // and the meta leader, so a node catching up still gets traffic routed away from it
        // without being marked unready for good (Argo #3458); liveness never restarts a node for
        // a lost quorum.
        startupProbe: httpProbe(paths.startup, { initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 90 }),
        readinessProbe: httpProbe(paths.readiness, { initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3 }),
        livenessProbe: httpProbe(paths.liveness, { initialDelaySeconds: 10, periodSeconds: 30, failureThreshold: 3 }),
        lifecycle: {
            // Lame duck mode: clients and Raft leadership move away before SIGTERM
            // (https://docs.nats.io/running-a-nats-service/configuration).
            preStop: { exec: { command: [spec.images.startCommand, `-sl=ldm=${PATHS.pidFile}`] } },
        },
        ...templateFields(template),
    };
}

/** Files the reloader watches: a renewed certificate or a changed password reloads the server without a restart. */
export function reloaderWatchedFiles(): string[] {
    return [PATHS.configFile, ...Object.values(SERVER_SECRET_KEYS).map(({ file }) => `${PATHS.configDir}/${file}`)];
}

function reloaderContainer(spec: BusSpec): Core.Container {
    return {
        name: "reloader",
        image: spec.images.reloader,
        args: ["-pid", PATHS.pidFile, ...reloaderWatchedFiles().flatMap((file) => ["-config", file])],
        env: serverEnv(spec),
        volumeMounts: [
            { name: VOLUMES.config, mountPath: PATHS.configDir },
            { name: VOLUMES.pid, mountPath: PATHS.pidDir },
        ],
        ...templateFields(spec.pod.reloaderContainerTemplate),
    };
}

function metricsContainer(spec: BusSpec): Core.Container {
    return {
        name: "metrics",
        image: spec.images.metricsExporter,
        // Argo Events' exporter flags, with the port explicit as the Helm chart does.
        args: [
            `-port=${PORTS.metrics}`,
            "-connz",
            "-routez",
            "-subz",
            "-varz",
            "-prefix=nats",
            "-use_internal_server_id",
            "-jsz=all",
            `http://localhost:${PORTS.monitor}/`,
        ],
        ports: [{ name: "metrics", containerPort: PORTS.metrics }],
        ...templateFields(spec.pod.metricsContainerTemplate),
    };
}

function volumes(spec: BusSpec): Core.Volume[] {
    const list: Core.Volume[] = [
        {
            name: VOLUMES.config,
            projected: {
                sources: [
                    {
                        configMap: {
                            name: spec.names.configMap,
                            items: [{ key: CONFIG_MAP_KEY, path: CONFIG_FILES.config }],
                        },
                    },
                    {
                        secret: {
                            name: spec.names.serverSecret,
                            items: Object.values(SERVER_SECRET_KEYS).map(({ key, file }) => ({ key, path: file })),
                        },
                    },
                ],
            },
        },
        { name: VOLUMES.pid, emptyDir: {} },
    ];
    if (!spec.persistence) {
        list.push({ name: VOLUMES.data, emptyDir: {} });
    }
    return list;
}

function volumeClaimTemplates(spec: BusSpec): Core.PersistentVolumeClaim[] | undefined {
    const persistence = spec.persistence;
    if (!persistence) {
        return undefined;
    }
    return [
        {
            metadata: { name: spec.names.volumeClaim, labels: selectorLabels(spec.busName) },
            spec: {
                accessModes: [persistence.accessMode],
                volumeMode: "Filesystem",
                storageClassName: persistence.storageClassName,
                resources: { requests: { storage: persistence.volumeSize } },
            },
        },
    ];
}

/** Pod template annotation whose change rolls the pods. */
export const RESTART_ANNOTATION = "jetstream-eventbus/jetstream-settings";

/**
 * A hash of the `jetstream {}` block. Every other change of nats-js.conf reaches the servers through
 * the reloader, but nats-server refuses to reload this block (2.9 and 2.10 any change, later releases
 * a lower limit), and a refused reload drops the file's other changes too: so a change here rolls
 * the pods, one at a time as the PodDisruptionBudget allows.
 */
export function jetstreamSettingsHash(spec: BusSpec): string {
    return createHash("sha256").update(renderJetStreamSettings(spec.jetstreamSettings)).digest("hex").slice(0, 16);
}

/**
 * StatefulSet `eventbus-<n>-js` (as Argo Events' controller, plus the NATS Helm chart's lifecycle and what Argo lacks).
 */
export function statefulSetArgs(spec: BusSpec): k8s.apps.v1.StatefulSetArgs {
    const js = spec.pod;
    const labels = commonLabels(spec.busName);
    return {
        metadata: {
            name: spec.names.statefulSet,
            namespace: spec.namespace,
            // EventBus labels reach the StatefulSet, ours win on conflict
            // (https://github.com/argoproj/argo-events/pull/2510).
            labels: { ...spec.labels, ...labels },
            // The claim template is ignored after creation (it cannot change in place); this says the
            // size asked for, so growing the volumes also updates the StatefulSet's state in Pulumi,
            // uid included, once the servers resource has recreated it.
            annotations: spec.persistence ? { [VOLUME_SIZE_ANNOTATION]: spec.persistence.volumeSize } : undefined,
        },
        spec: {
            // Parallel, as the NATS Helm chart: pod 0 alone never elects a meta leader, so it could never become ready.
            podManagementPolicy: "Parallel",
            replicas: spec.replicas,
            serviceName: spec.names.service,
            selector: { matchLabels: selectorLabels(spec.busName) },
            persistentVolumeClaimRetentionPolicy: spec.persistence
                ? { whenDeleted: spec.persistence.whenDeleted, whenScaled: spec.persistence.whenScaled }
                : undefined,
            volumeClaimTemplates: volumeClaimTemplates(spec),
            template: {
                metadata: {
                    labels: { ...js.metadata?.labels, ...labels },
                    annotations: { ...js.metadata?.annotations, [RESTART_ANNOTATION]: jetstreamSettingsHash(spec) },
                },
                spec: {
                    // The reloader signals nats-server through its pid file.
                    shareProcessNamespace: true,
                    enableServiceLinks: false,
                    terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds,
                    securityContext: js.securityContext ?? defaultPodSecurityContext(),
                    affinity: js.affinity ?? defaultAffinity(spec.busName),
                    topologySpreadConstraints: js.topologySpreadConstraints,
                    nodeSelector: js.nodeSelector,
                    tolerations: js.tolerations,
                    imagePullSecrets: js.imagePullSecrets,
                    priorityClassName: js.priorityClassName,
                    priority: js.priority,
                    serviceAccountName: js.serviceAccountName,
                    containers: [mainContainer(spec), reloaderContainer(spec), metricsContainer(spec)],
                    volumes: volumes(spec),
                },
            },
        },
    };
}
