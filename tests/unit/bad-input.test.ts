/**
 * Every mistake of tests/fixtures/bad-inputs.ts fails `new EventBus` (so the preview) with an InputError
 * that names the field and says the valid form, with nothing registered and no secret repeated; the
 * Kubernetes fields fail the same way through an Argo manifest; an empty value means unset; a
 * comma-separated exotic URL is accepted as Argo accepts it; and a value only known at deploy time that
 * is wrong still ends `render` with an error rather than silence.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { fromArgoEventBus, InputError } from "../../components";
import { ARGO_JETSTREAM_KEYS } from "../../components/argo/import";
import { BAD_INPUTS, NULL_MEANS_UNSET } from "../fixtures/bad-inputs";
import { attemptEventBus } from "../support/bus";

async function attempt(name: string, args: unknown) {
    const { error, registered } = await attemptEventBus(name, args);
    return { error, registered: registered.map((r) => ({ type: r.type, name: r.name, inputs: r.inputs as unknown })) };
}

describe("a valid bus, as a control", () => {
    it("registers the component and its children with the same procedure", async () => {
        const { error, registered } = await attempt("default", {
            namespace: "argo-events",
            jetstream: { version: "latest" },
        });
        assert.equal(error, undefined);
        const names = registered.map((r) => `${r.type} ${r.name}`);
        assert.ok(names.includes("jetstream-eventbus:index:EventBus default"), names.join("\n"));
        assert.ok(
            names.some((r) => r.startsWith("kubernetes:apps/v1:StatefulSet")),
            names.join("\n"),
        );
    });
});

const byKind = new Map<string, typeof BAD_INPUTS>();
for (const input of BAD_INPUTS) {
    byKind.set(input.kind, [...(byKind.get(input.kind) ?? []), input]);
}

for (const [kind, inputs] of byKind) {
    describe(`bad input, ${kind}`, () => {
        for (const input of inputs) {
            it(`${input.what}: refused at ${input.field}, with the valid form, nothing registered`, async () => {
                const { error, registered } = await attempt(input.name ?? "default", input.args);
                assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`);
                assert.equal(error.field, input.field, error.message);
                assert.ok(error.message.startsWith(`${input.field}: `), error.message);
                assert.match(error.message, input.allowed);
                for (const secret of input.secrets ?? []) {
                    assert.ok(!error.message.includes(secret), `the message repeats a secret: ${error.message}`);
                }
                assert.deepEqual(registered, []);
            });
        }
    });
}

/** The manifest of an Argo EventBus with the given `jetstream`. */
function manifestWith(jetstream: Record<string, unknown>): object {
    return {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "EventBus",
        metadata: { name: "default", namespace: "argo-events" },
        spec: { jetstream },
    };
}

describe("the same checks through an Argo manifest", () => {
    const kubernetes = BAD_INPUTS.filter(
        (input) => input.kind === "Kubernetes fields" || input.what === "memory limit 1GB",
    );
    for (const input of kubernetes) {
        const jetstream = (input.args as { jetstream: Record<string, unknown> }).jetstream;
        if (!Object.keys(jetstream).every((key) => (ARGO_JETSTREAM_KEYS as readonly string[]).includes(key))) {
            continue;
        }
        it(`${input.what}: refused at spec.${input.field}`, () => {
            assert.throws(
                () => fromArgoEventBus(manifestWith(jetstream)),
                (err: unknown) =>
                    err instanceof InputError && err.field === `spec.${input.field}` && input.allowed.test(err.message),
            );
        });
    }
});

describe("a credential given where an Argo manifest wants a Secret reference is never repeated", () => {
    const password = "Hunter2-Sup3r-Secret";
    const pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkL7gq1pQ0Jr4m6VhwZJcE0h0\n-----END EC PRIVATE KEY-----\n";
    const cases: [string, Record<string, unknown>, string][] = [
        [
            "a password as accessSecret",
            { url: "nats://nats:4222", accessSecret: password },
            "spec.jetstreamExotic.accessSecret",
        ],
        [
            "a PEM key as tls.clientKeySecret",
            { url: "nats://nats:4222", tls: { clientKeySecret: pem } },
            "spec.jetstreamExotic.tls.clientKeySecret",
        ],
        [
            "a password as accessSecret.key",
            { url: "nats://nats:4222", accessSecret: { name: "creds", key: 12345678 } },
            "spec.jetstreamExotic.accessSecret.key",
        ],
    ];
    for (const [what, jetstreamExotic, field] of cases) {
        it(what, () => {
            const manifest = {
                apiVersion: "argoproj.io/v1alpha1",
                kind: "EventBus",
                metadata: { name: "default" },
                spec: { jetstreamExotic },
            };
            assert.throws(
                () => fromArgoEventBus(manifest),
                (err: unknown) =>
                    err instanceof InputError &&
                    err.field === field &&
                    /must be (a mapping|a string), got (a string|a number)/.test(err.message) &&
                    !err.message.includes(password) &&
                    !err.message.includes("MHcCAQEE") &&
                    !err.message.includes("12345678"),
            );
        });
    }
});

describe("an empty value (YAML null) means unset", () => {
    for (const { what, args, same } of NULL_MEANS_UNSET) {
        it(`${what} registers exactly what leaving it out registers`, async () => {
            const withNull = await attempt("default", args);
            assert.equal(withNull.error, undefined, String(withNull.error));
            const without = await attempt("default", same);
            assert.equal(without.error, undefined);
            assert.ok(withNull.registered.length > 0);
            // Generated material differs per run only in the mocks' own outputs, not in what is asked.
            assert.deepEqual(
                withNull.registered.map((r) => `${r.type} ${r.name}`),
                without.registered.map((r) => `${r.type} ${r.name}`),
            );
            const objects = (run: typeof withNull) =>
                run.registered
                    .filter(
                        (r) =>
                            r.type.startsWith("kubernetes:") &&
                            !r.type.endsWith("Secret") &&
                            !r.type.endsWith("SecretPatch"),
                    )
                    .map((r) => JSON.stringify(r.inputs));
            assert.deepEqual(objects(withNull), objects(without));
        });
    }
});

describe("Argo inputs that work in Argo", () => {
    it("a comma-separated jetstreamExotic.url: each server is checked and the stream may reach any of them", async () => {
        const url = "nats://nats-a.example.svc:4222, nats://nats-b.example.svc:4222,tls://10.0.0.3:4222";
        const run = await attempt("default", {
            namespace: "argo-events",
            jetstreamExotic: { url, streamConfig: "replicas: 1\n" },
        });
        assert.equal(run.error, undefined, String(run.error));
        const stream = run.registered.find((r) => r.type === "pulumi-nodejs:dynamic/jetstream:Stream");
        assert.ok(stream);
        assert.deepEqual((stream.inputs as { connection: { servers: string[] } }).connection.servers, [
            "nats://nats-a.example.svc:4222",
            "nats://nats-b.example.svc:4222",
            "tls://10.0.0.3:4222",
        ]);
    });

    it("the same list through an Argo manifest", () => {
        const imported = fromArgoEventBus({
            apiVersion: "argoproj.io/v1alpha1",
            kind: "EventBus",
            metadata: { name: "default" },
            spec: { jetstreamExotic: { url: "nats://a:4222,nats://b:4222" } },
        });
        assert.equal(imported.args.jetstreamExotic?.url, "nats://a:4222,nats://b:4222");
    });
});

describe("a wrong value only known at deploy time", () => {
    it("makes the render of the bus fail with the field named, instead of ending silently", () => {
        // captureEventBus installs process-wide mocks, so it runs in a process of its own.
        const capture = path.resolve(__dirname, "../../cli/capture.js");
        const pulumiPath = require.resolve("@pulumi/pulumi");
        const script = `
            const pulumi = require(${JSON.stringify(pulumiPath)});
            const { captureEventBus } = require(${JSON.stringify(capture)});
            captureEventBus("default", { namespace: "x", jetstream: { version: "latest", replicas: 1,
                containerTemplate: { resources: pulumi.output({ limits: { memory: "1GB" } }) } } })
                .then(() => { console.log("resolved"); process.exit(0); }, (err) => { console.log("rejected: " + err.message); process.exit(3); });`;
        const result = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 120_000 });
        assert.equal(result.status, 3, result.stdout + result.stderr);
        assert.match(
            result.stdout,
            /rejected: .*jetstream\.containerTemplate\.resources\.limits\.memory: "1GB" has an unknown suffix "GB"/,
        );
    });
});
