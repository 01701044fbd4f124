/**
 * jetstream-eventbus: a NATS JetStream event bus on Kubernetes as a Pulumi component,
 * compatible with Argo Events' EventBus.
 *
 * The public API is what this file exports; every other module is internal and may change in any
 * release.
 */

/** The component: a managed JetStream cluster (`jetstream`) or the stream on your own server (`jetstreamExotic`). */
export { EventBus, EVENTBUS_TYPE } from "./eventbus";
export type { ManagedBusValue } from "./eventbus";
/** Its arguments, field by field as Argo Events' EventBus `spec` names them. */
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
/** The error bad input throws at preview; `field` names the argument at fault. */
export { InputError } from "./check";
/** An Argo Events EventBus manifest (YAML or object) turned into this component's name and arguments. */
export { fromArgoEventBus } from "./argo/import";
export type { ImportedEventBus } from "./argo/import";
/** The nats-server releases `jetstream.version` accepts, and the latest of them. */
export { VERSIONS, LATEST_SERVER_VERSION, supportedVersions } from "./versions";
export type { VersionEntry } from "./versions";
/** A JetStream stream of its own, on any server: the resource an EventBus uses for its stream. */
export { Stream } from "./stream/resource";
export type { KubernetesTargetArgs, StreamArgs, StreamConnectionArgs, StreamLifecycleArgs } from "./stream/resource";
/** Typed stream settings, and the stream's configuration as a Stream's `config` output shows it. */
export type { StreamSettingsInput, StreamPlacementInput } from "./stream/model";
export type { StreamConfigView } from "./stream/view";
