/**
 * The outputs' types follow the kind of bus: a bus built with `jetstream` has its Service, StatefulSet,
 * client Secret, CA and credentials, so those outputs are not optional; with arguments whose kind is not
 * known from their type, they may be undefined, as for a `jetstreamExotic` bus. The compiler checks the
 * types (this file does not build otherwise); the tests check the values agree.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type * as pulumi from "@pulumi/pulumi";
import { EventBus, EventBusArgs } from "../../components";
import { testMocks } from "../support/bus";
import { resolve } from "../support/mocks";

/** True when X and Y are the same type. */
type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
function assertType<_T extends true>(): void {}

describe("EventBus output types", () => {
    it("a bus built with jetstream has every output, none of them undefined", async () => {
        testMocks().reset();
        const bus = new EventBus("typed", { namespace: "argo-events", jetstream: { version: "latest" } });
        assertType<Equal<typeof bus.serviceName, pulumi.Output<string>>>();
        assertType<Equal<typeof bus.statefulSetName, pulumi.Output<string>>>();
        assertType<Equal<typeof bus.clientSecretName, pulumi.Output<string>>>();
        assertType<Equal<typeof bus.caCert, pulumi.Output<string>>>();
        assertType<Equal<typeof bus.username, pulumi.Output<string>>>();
        assertType<Equal<typeof bus.password, pulumi.Output<string>>>();
        const values = await Promise.all(
            [bus.serviceName, bus.statefulSetName, bus.clientSecretName, bus.caCert, bus.username, bus.password].map(
                (output) => resolve(output),
            ),
        );
        assert.deepEqual(values.slice(0, 3), [
            "eventbus-typed-js-svc",
            "eventbus-typed-js",
            "eventbus-typed-js-client-auth",
        ]);
        for (const value of values.slice(3)) assert.equal(typeof value, "string");
    });

    it("a bus whose kind the type does not say may lack them, as a jetstreamExotic bus without credentials does", async () => {
        testMocks().reset();
        const args: EventBusArgs = {
            namespace: "argo-events",
            jetstreamExotic: { url: "nats://nats.example.svc:4222" },
        };
        const bus = new EventBus("untyped", args);
        assertType<Equal<typeof bus.serviceName, pulumi.Output<string | undefined>>>();
        assertType<Equal<typeof bus.password, pulumi.Output<string | undefined>>>();
        assert.deepEqual(await Promise.all([resolve(bus.serviceName), resolve(bus.username), resolve(bus.caCert)]), [
            undefined,
            undefined,
            undefined,
        ]);
        assert.equal(await resolve(bus.url), "nats://nats.example.svc:4222");
    });
});
