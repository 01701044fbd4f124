/**
 * The stream's serialized dynamic provider, in a fresh process: M Streams registered one after
 * another under mocks, each awaited, so the first one's time holds the serialization and the others
 * show what a further Stream costs when the serialized text is shared (Pulumi caches it per provider
 * object). Also times one uncached serialization more, which every further Stream would pay if the
 * provider object were not shared.
 *
 * Usage: node serialize.js '{"streams": M, "result": FILE}'.
 */
import * as fs from "node:fs";
import { performance } from "node:perf_hooks";
import { instrumentSerialization } from "./program";

export interface SerializeResult {
    streams: number;
    /** Per Stream: constructor start to its registration reaching the (mock) engine. */
    registerMs: number[];
    constructorMs: number[];
    serializeCalls: number;
    closureModuleLoadMs: number;
    providerBytes: number[];
    /** The text as a JSON string in the state file (escaped, without the quotes). */
    providerJsonBytes: number;
    distinctProviders: number;
    /** One more serializer call on the same provider, bypassing the cache (warm process). */
    uncachedSerializeMs: number;
}

async function main(task: { streams: number; result: string }): Promise<void> {
    const stats = instrumentSerialization();
    const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
    const registered: Record<string, any>[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource: (mock) => {
                registered.push(mock.inputs);
                return { id: `${mock.name}_id`, state: mock.inputs };
            },
            call: (mock) => mock.inputs,
        },
        "jetstream-eventbus",
        "bench",
        false,
    );
    const { Stream } = require("../../components/stream/resource") as typeof import("../../components/stream/resource");
    const { streamProvider } =
        require("../../components/stream/provider") as typeof import("../../components/stream/provider");
    const registerMs: number[] = [];
    for (let i = 0; i < task.streams; i++) {
        const begun = performance.now();
        const stream = new Stream(`stream${i}`, {
            connection: {
                servers: [`nats://eventbus-bus${i}-js-svc.ns${i}.svc:4222`],
                username: "eventbus",
                password: "fixed-password",
                caCert: "fixed-ca",
            },
            busReplicas: 3,
        });
        await new Promise<void>((resolve) => stream.urn.apply(() => resolve()));
        registerMs.push(performance.now() - begun);
    }
    const closure = require("@pulumi/pulumi/runtime/closure/serializeClosure");
    const begun = performance.now();
    await closure.serializeFunction(() => streamProvider, { allowSecrets: true });
    const uncachedSerializeMs = performance.now() - begun;
    const texts = registered
        .filter((inputs) => inputs.__provider !== undefined)
        .map((inputs) => String(inputs.__provider));
    const result: SerializeResult = {
        streams: task.streams,
        registerMs,
        constructorMs: stats.constructorMs,
        // The extra uncached call above is not the program's.
        serializeCalls: stats.serializeCalls - 1,
        closureModuleLoadMs: stats.closureModuleLoadMs,
        providerBytes: texts.map((t) => Buffer.byteLength(t)),
        providerJsonBytes: Buffer.byteLength(JSON.stringify(texts[0] ?? "")) - 2,
        distinctProviders: new Set(texts).size,
        uncachedSerializeMs,
    };
    fs.writeFileSync(task.result, JSON.stringify(result));
}

if (require.main === module) {
    main(JSON.parse(process.argv[2]!)).then(
        () => process.exit(0),
        (err) => {
            console.error(err);
            process.exit(1);
        },
    );
}
