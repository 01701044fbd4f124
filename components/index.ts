/**
 * jetstream-eventbus: a NATS JetStream event bus on Kubernetes as a Pulumi component,
 * compatible with Argo Events' EventBus.
 */
export { EventBus, EVENTBUS_TYPE } from "./eventbus";
export type {
    ArgoEventsArgs,
    BusConnectionArgs,
    ContainerTemplate,
    EventBusArgs,
    ExoticTlsArgs,
    ImageOverrides,
    JetStreamBusArgs,
    JetStreamExoticArgs,
    JetStreamServerSettings,
    PersistenceArgs,
    PodMetadataArgs,
    SecretKeySelector,
} from "./args";
export { InputError } from "./check";
export { fromArgoEventBus } from "./argo/import";
export type { ImportedEventBus } from "./argo/import";
export { renderAuthConfig, renderServerConfig, podLayout } from "./config/render";
export type { ServerLayout } from "./config/render";
export { resolveBusSpec } from "./validate";
export type { BusSpec } from "./validate";
export { VERSIONS, LATEST_SERVER_VERSION, supportedVersions } from "./versions";
export type { StreamSettingsInput, StreamSpec } from "./stream/model";
export { Stream } from "./stream/resource";
export type { StreamArgs, StreamConnectionArgs, StreamLifecycleArgs } from "./stream/resource";
