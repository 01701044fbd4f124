/**
 * A stream is resolved once, for a bus or for a Stream of its own: settings, lifecycle and the server
 * release's rules, with errors that name the field as the user wrote it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InputError, Stream } from "../../../components";
import { resolveStream, resolveStreamLifecycle } from "../../../components/stream/resolve";

function rejected(work: () => unknown, field: string, message: RegExp): void {
    assert.throws(work, (err: unknown) => {
        assert.ok(err instanceof InputError, String(err));
        assert.equal(err.field, field);
        assert.match(err.message, message);
        return true;
    });
}

describe("resolveStream", () => {
    it("applies Argo's defaults, the bus size and the lifecycle defaults", () => {
        const resolved = resolveStream(
            { busReplicas: 1, serverVersion: "2.10.29", serverVersionSource: "" },
            "jetstream",
        );
        assert.equal(resolved.spec.name, "default");
        assert.equal(resolved.spec.replicas, 1);
        assert.equal(resolved.serverVersion, "2.10.29");
        assert.deepEqual(resolved.lifecycle, {
            deletionPolicy: "retain",
            allowDataLoss: false,
            createTimeout: "5m",
            createTimeoutMs: 300_000,
        });
    });

    it("refuses a field the server release lacks, saying which release", () => {
        rejected(
            () =>
                resolveStream(
                    {
                        stream: { compression: "s2" },
                        serverVersion: "2.9.25",
                        serverVersionSource: "serverVersion is 2.9.25",
                    },
                    "jetstreamExotic",
                ),
            "jetstreamExotic.stream.compression",
            /needs nats-server 2\.10 or later; serverVersion is 2\.9\.25$/,
        );
    });

    it("names lifecycle fields under their parent", () => {
        rejected(
            () => resolveStreamLifecycle({ deletionPolicy: "keep" as "retain" }, "jetstream.streamLifecycle"),
            "jetstream.streamLifecycle.deletionPolicy",
            /"keep" is not allowed; use one of retain, delete$/,
        );
        rejected(() => resolveStreamLifecycle({ createTimeout: "soon" }, ""), "createTimeout", /soon/);
    });
});

describe("a Stream of its own", () => {
    // Both throw before anything is registered, so no engine or mocks are needed.
    it("refuses, in its constructor, a field its server release lacks", () => {
        rejected(
            () =>
                new Stream("orders", {
                    connection: { servers: ["nats://127.0.0.1:4222"] },
                    stream: { firstSeq: 10 },
                    serverVersion: "2.9.25",
                }),
            "stream.firstSeq",
            /needs nats-server 2\.10 or later; serverVersion is 2\.9\.25$/,
        );
    });

    it("refuses a server version that is not one", () => {
        rejected(
            () => new Stream("orders", { connection: { servers: ["nats://127.0.0.1:4222"] }, serverVersion: "latest" }),
            "serverVersion",
            /"latest" is not a nats-server version like "2\.10\.29"/,
        );
    });
});
