/**
 * The Kubernetes fields a bus passes through to its pods (Argo's `JetStreamBus` pod settings), as
 * shapes checked before anything is created. Each object shape lists every field of its
 * `@pulumi/kubernetes` input type, checked by the compiler (see `FieldShapes`), with the enums and
 * required fields of the Kubernetes API reference (https://kubernetes.io/docs/reference/kubernetes-api/).
 */
import * as k8s from "@pulumi/kubernetes";
import type { ContainerTemplate, JetStreamBusArgs, PodMetadataArgs } from "../args";
import { DNS_LABEL, DNS_LABEL_RULE, DNS_SUBDOMAIN, DNS_SUBDOMAIN_RULE } from "../check";
import { checkShape, Shape, shapes } from "../shape";

import Core = k8s.types.input.core.v1;
import Meta = k8s.types.input.meta.v1;

/** A label or annotation key: an optional DNS-subdomain prefix and `/`, then a name of up to 63 characters. */
const QUALIFIED_NAME = new RegExp(
    `^(${DNS_SUBDOMAIN.source.slice(1, -1)}\\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`,
);
const QUALIFIED_NAME_RULE =
    "a key is an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit (e.g. example.com/team)";
/** A label value: empty, or up to 63 characters. */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_VALUE_RULE =
    "a label value has at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit";

const { string, int32, int64, boolean, quantity, object, map, list } = shapes;

const name = string({ pattern: DNS_SUBDOMAIN, rule: DNS_SUBDOMAIN_RULE, maxLength: 253 });
const labelKey = string({ pattern: QUALIFIED_NAME, rule: QUALIFIED_NAME_RULE, maxLength: 317 });

/** Labels: qualified keys, short values. */
export const LABELS: Shape = map(string({ pattern: LABEL_VALUE, rule: LABEL_VALUE_RULE, maxLength: 63 }), labelKey);
/** Annotations: qualified keys, any text. */
export const ANNOTATIONS: Shape = map(string(), labelKey);

const labelSelector = object<Meta.LabelSelector>("LabelSelector", {
    matchLabels: LABELS,
    matchExpressions: list(
        object<Meta.LabelSelectorRequirement>(
            "LabelSelectorRequirement",
            {
                key: labelKey,
                operator: string({ choices: ["In", "NotIn", "Exists", "DoesNotExist"] }),
                values: list(string()),
            },
            ["key", "operator"],
        ),
    ),
});

const nodeSelectorRequirement = object<Core.NodeSelectorRequirement>(
    "NodeSelectorRequirement",
    {
        key: string(),
        operator: string({ choices: ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"] }),
        values: list(string()),
    },
    ["key", "operator"],
);

const nodeSelectorTerm = object<Core.NodeSelectorTerm>("NodeSelectorTerm", {
    matchExpressions: list(nodeSelectorRequirement),
    matchFields: list(nodeSelectorRequirement),
});

const weight = int32(1, 100);

const podAffinityTerm = object<Core.PodAffinityTerm>(
    "PodAffinityTerm",
    {
        labelSelector,
        matchLabelKeys: list(labelKey),
        mismatchLabelKeys: list(labelKey),
        namespaceSelector: labelSelector,
        namespaces: list(string({ pattern: DNS_LABEL, rule: DNS_LABEL_RULE, maxLength: 63 })),
        topologyKey: labelKey,
    },
    ["topologyKey"],
);

const podAffinityFields = {
    requiredDuringSchedulingIgnoredDuringExecution: list(podAffinityTerm),
    preferredDuringSchedulingIgnoredDuringExecution: list(
        object<Core.WeightedPodAffinityTerm>("WeightedPodAffinityTerm", { weight, podAffinityTerm }, [
            "weight",
            "podAffinityTerm",
        ]),
    ),
};

/** `affinity` of the pod. */
export const AFFINITY: Shape = object<Core.Affinity>("Affinity", {
    nodeAffinity: object<Core.NodeAffinity>("NodeAffinity", {
        requiredDuringSchedulingIgnoredDuringExecution: object<Core.NodeSelector>(
            "NodeSelector",
            { nodeSelectorTerms: list(nodeSelectorTerm) },
            ["nodeSelectorTerms"],
        ),
        preferredDuringSchedulingIgnoredDuringExecution: list(
            object<Core.PreferredSchedulingTerm>("PreferredSchedulingTerm", { weight, preference: nodeSelectorTerm }, [
                "weight",
                "preference",
            ]),
        ),
    }),
    podAffinity: object<Core.PodAffinity>("PodAffinity", podAffinityFields),
    podAntiAffinity: object<Core.PodAntiAffinity>("PodAntiAffinity", podAffinityFields),
});

/** `tolerations` of the pod. */
export const TOLERATIONS: Shape = list(
    object<Core.Toleration>("Toleration", {
        key: labelKey,
        operator: string({ choices: ["Exists", "Equal"] }),
        value: string(),
        effect: string({ choices: ["NoSchedule", "PreferNoSchedule", "NoExecute"] }),
        tolerationSeconds: int64(),
    }),
);

/** `topologySpreadConstraints` of the pod. */
export const TOPOLOGY_SPREAD_CONSTRAINTS: Shape = list(
    object<Core.TopologySpreadConstraint>(
        "TopologySpreadConstraint",
        {
            labelSelector,
            matchLabelKeys: list(labelKey),
            maxSkew: int32(1),
            minDomains: int32(1),
            nodeAffinityPolicy: string({ choices: ["Honor", "Ignore"] }),
            nodeTaintsPolicy: string({ choices: ["Honor", "Ignore"] }),
            topologyKey: labelKey,
            whenUnsatisfiable: string({ choices: ["DoNotSchedule", "ScheduleAnyway"] }),
        },
        ["maxSkew", "topologyKey", "whenUnsatisfiable"],
    ),
);

/** `imagePullSecrets` of the pod: references by name, not the names themselves. */
export const IMAGE_PULL_SECRETS: Shape = list(
    object<Core.LocalObjectReference>("LocalObjectReference", { name }, ["name"]),
);

/** `nodeSelector` of the pod. */
export const NODE_SELECTOR: Shape = map(
    string({ pattern: LABEL_VALUE, rule: LABEL_VALUE_RULE, maxLength: 63 }),
    labelKey,
);

/** A resource name: cpu, memory, ephemeral-storage, hugepages-<size> or a vendor's `example.com/gpu`. */
const resourceName = string({
    pattern: QUALIFIED_NAME,
    rule: "a resource name such as cpu, memory or ephemeral-storage",
});

/** `resources` of a container. */
export const RESOURCES: Shape = object<Core.ResourceRequirements>("ResourceRequirements", {
    limits: map(quantity(), resourceName),
    requests: map(quantity(), resourceName),
    claims: list(object<Core.ResourceClaim>("ResourceClaim", { name: string(), request: string() }, ["name"])),
});

const seLinuxOptions = object<Core.SELinuxOptions>("SELinuxOptions", {
    level: string(),
    role: string(),
    type: string(),
    user: string(),
});
const seccompProfile = object<Core.SeccompProfile>(
    "SeccompProfile",
    {
        type: string({ choices: ["RuntimeDefault", "Unconfined", "Localhost"] }),
        localhostProfile: string(),
    },
    ["type"],
);
const appArmorProfile = object<Core.AppArmorProfile>(
    "AppArmorProfile",
    {
        type: string({ choices: ["RuntimeDefault", "Unconfined", "Localhost"] }),
        localhostProfile: string(),
    },
    ["type"],
);
const windowsOptions = object<Core.WindowsSecurityContextOptions>("WindowsSecurityContextOptions", {
    gmsaCredentialSpec: string(),
    gmsaCredentialSpecName: string(),
    hostProcess: boolean(),
    runAsUserName: string(),
});
const id = int64(0);

/** `securityContext` of a container. */
export const CONTAINER_SECURITY_CONTEXT: Shape = object<Core.SecurityContext>("SecurityContext", {
    allowPrivilegeEscalation: boolean(),
    appArmorProfile,
    capabilities: object<Core.Capabilities>("Capabilities", { add: list(string()), drop: list(string()) }),
    privileged: boolean(),
    procMount: string({ choices: ["Default", "Unmasked"] }),
    readOnlyRootFilesystem: boolean(),
    runAsGroup: id,
    runAsNonRoot: boolean(),
    runAsUser: id,
    seLinuxOptions,
    seccompProfile,
    windowsOptions,
});

/** `securityContext` of the pod. */
export const POD_SECURITY_CONTEXT: Shape = object<Core.PodSecurityContext>("PodSecurityContext", {
    appArmorProfile,
    fsGroup: id,
    fsGroupChangePolicy: string({ choices: ["OnRootMismatch", "Always"] }),
    runAsGroup: id,
    runAsNonRoot: boolean(),
    runAsUser: id,
    seLinuxChangePolicy: string({ choices: ["MountOption", "Recursive"] }),
    seLinuxOptions,
    seccompProfile,
    supplementalGroups: list(id),
    supplementalGroupsPolicy: string({ choices: ["Merge", "Strict"] }),
    sysctls: list(object<Core.Sysctl>("Sysctl", { name: string(), value: string() }, ["name", "value"])),
    windowsOptions,
});

/** Argo's `ContainerTemplate`. */
export const CONTAINER_TEMPLATE: Shape = object<ContainerTemplate>("container template", {
    resources: RESOURCES,
    imagePullPolicy: string({ choices: ["Always", "IfNotPresent", "Never"] }),
    securityContext: CONTAINER_SECURITY_CONTEXT,
});

/** Argo's pod `metadata`. */
export const POD_METADATA: Shape = object<PodMetadataArgs>("pod metadata", {
    labels: LABELS,
    annotations: ANNOTATIONS,
});

/** Every pod field a managed bus passes through, by its name in `JetStreamBusArgs`. */
export const POD_FIELDS = {
    containerTemplate: CONTAINER_TEMPLATE,
    reloaderContainerTemplate: CONTAINER_TEMPLATE,
    metricsContainerTemplate: CONTAINER_TEMPLATE,
    metadata: POD_METADATA,
    nodeSelector: NODE_SELECTOR,
    tolerations: TOLERATIONS,
    securityContext: POD_SECURITY_CONTEXT,
    imagePullSecrets: IMAGE_PULL_SECRETS,
    priorityClassName: name,
    priority: int32(),
    affinity: AFFINITY,
    serviceAccountName: name,
    topologySpreadConstraints: TOPOLOGY_SPREAD_CONSTRAINTS,
} as const satisfies Partial<Record<keyof JetStreamBusArgs, Shape>>;

/** Checks the pod fields of a `jetstream` object (API args or an Argo manifest), under `field`. */
export function checkPodFields(jetstream: Record<string, unknown>, field: string): void {
    for (const [key, shape] of Object.entries(POD_FIELDS)) {
        checkShape(jetstream[key], shape, `${field}.${key}`);
    }
}
