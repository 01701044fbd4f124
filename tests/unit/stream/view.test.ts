/**
 * The stream's configuration as the Stream resource stores it, and so as `pulumi preview --diff`
 * shows it: sizes and durations as people write them. State written by 0.1.0, which stored
 * milliseconds and bytes, must diff as no change against today's inputs of the same stream.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { resolveStreamSpec, StreamSpec } from "../../../components/stream/model";
import { checkProps, planDiff, StreamOutputs, StreamProps } from "../../../components/stream/provider-impl";
import {
    createTimeoutMsOf,
    fromStreamView,
    specOfStored,
    StreamConfigView,
    storedLike,
    toStreamView,
} from "../../../components/stream/view";

/** The Stream's state as version 0.1.0 wrote it (a real export; the connection left out). */
const FIXTURE = JSON.parse(
    fs.readFileSync(path.join(__dirname, "../../../../tests/fixtures/stream-state-0.1.0.json"), "utf8"),
);

const CONNECTION = {
    servers: ["nats://eventbus-default-js-svc.argo-events.svc:4222"],
    username: "admin",
    password: "s3cret",
};

function todaysProps(spec: StreamSpec, extra: Partial<StreamProps> = {}): StreamProps {
    return {
        config: toStreamView(spec),
        serverVersion: "2.14.4",
        connection: CONNECTION,
        deletionPolicy: "retain",
        allowDataLoss: false,
        createTimeout: "5m",
        ...extra,
    };
}

/** The 0.1.0 fixture's stream, as today's component resolves it. */
const ORDERS = resolveStreamSpec({ stream: { name: "orders", subjects: ["orders.>"] } });

describe("the stored stream configuration", () => {
    it("shows Argo's defaults as written: 168h, 5m, unlimited bytes", () => {
        const view = toStreamView(resolveStreamSpec({}));
        assert.equal(view.maxAge, "168h");
        assert.equal(view.duplicates, "5m");
        assert.equal(view.maxBytes, "unlimited");
        assert.equal(view.maxMsgs, 50000);
        assert.equal(view.maxMsgSize, "unlimited");
        assert.equal(view.maxMsgsPerSubject, "unlimited");
        assert.equal(view.maxConsumers, "unlimited");
        assert.equal("maxAgeMs" in view, false);
    });

    it("shows the issue's change as a reviewer reads it: maxAge 24h, maxBytes 1GB as 1GiB (nats-server's GB is 1024³ bytes)", () => {
        const view = toStreamView(resolveStreamSpec({ streamConfig: "maxAge: 24h\nmaxBytes: 1GB\n" }));
        assert.equal(view.maxAge, "24h");
        assert.equal(view.maxBytes, "1GiB");
        assert.equal(fromStreamView(view).maxBytes, 1024 ** 3, "nats-server's GB is 1024³ bytes");
        assert.equal(toStreamView(resolveStreamSpec({ stream: { maxAge: "1h30m", maxBytes: "10G" } })).maxAge, "1h30m");
        assert.equal(toStreamView(resolveStreamSpec({ stream: { maxBytes: "10G" } })).maxBytes, "10G");
        assert.equal(toStreamView(resolveStreamSpec({ stream: { maxBytes: "1536" } })).maxBytes, "1536");
        assert.equal(toStreamView(resolveStreamSpec({ stream: { maxMsgSize: "512KiB" } })).maxMsgSize, "512KiB");
        assert.equal(
            toStreamView(resolveStreamSpec({ stream: { maxAge: "0s" } })).maxAge,
            "unlimited",
            "the server reads 0 as no limit",
        );
    });

    it("reads back exactly what it writes, for any spec", () => {
        const limit = fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }));
        fc.assert(
            fc.property(
                limit,
                limit,
                fc.integer({ min: 0, max: 10 ** 12 }),
                fc.integer({ min: 1, max: 10 ** 12 }),
                limit,
                (maxBytes, maxMsgs, maxAgeMs, duplicatesMs, maxConsumers) => {
                    const spec: StreamSpec = {
                        ...ORDERS,
                        maxBytes,
                        maxMsgs,
                        maxAgeMs,
                        duplicatesMs,
                        maxConsumers,
                        maxMsgSize: maxBytes,
                    };
                    assert.deepEqual(fromStreamView(toStreamView(spec)), spec);
                },
            ),
        );
    });

    it("names the field of a malformed stored value", () => {
        const view: StreamConfigView = { ...toStreamView(ORDERS), maxAge: "a week" };
        assert.throws(() => fromStreamView(view), /config\.maxAge/);
        const failures = checkProps(todaysProps(ORDERS, { config: { ...toStreamView(ORDERS), maxConsumers: -2 } }));
        assert.equal(failures.length, 1);
        assert.equal(failures[0].property, "config");
        assert.match(failures[0].reason, /config\.maxConsumers/);
        assert.match(failures[0].reason, /"unlimited"/);
    });
});

describe("state written by 0.1.0", () => {
    const olds = FIXTURE.outputs as StreamOutputs;

    it("is the model form: milliseconds and bytes", () => {
        assert.equal(Object.hasOwn(olds.config, "maxAgeMs"), true);
        assert.equal(olds.createTimeoutMs, 300_000);
        assert.deepEqual(specOfStored(olds.config), ORDERS);
    });

    it("diffs as no change against today's inputs of the same stream", () => {
        assert.deepEqual(planDiff(olds, todaysProps(ORDERS, { connection: olds.connection })), { changes: false });
    });

    it("diffs as one in-place change when the stream does change", () => {
        const desired = resolveStreamSpec({
            stream: { name: "orders", subjects: ["orders.>"] },
            streamConfig: "maxAge: 24h\n",
        });
        assert.deepEqual(planDiff(olds, todaysProps(desired, { connection: olds.connection })), { changes: true });
        const timeout = planDiff(olds, todaysProps(ORDERS, { connection: olds.connection, createTimeout: "10m" }));
        assert.deepEqual(timeout, { changes: true });
    });

    it("keeps its form when read back, so a refresh rewrites nothing", () => {
        assert.deepEqual(storedLike(ORDERS, olds.config), ORDERS);
        assert.deepEqual(storedLike(ORDERS, toStreamView(ORDERS)), toStreamView(ORDERS));
        assert.equal(createTimeoutMsOf(olds), 300_000);
        assert.equal(createTimeoutMsOf({ createTimeout: "5m" }), 300_000);
    });
});
