/**
 * The optional PodMonitor: checked at preview with the field named, validated against the Prometheus
 * Operator's own PodMonitor schema, created only when asked for and only after its CRD has been read.
 * The real API server's side is in tests/e2e/kubernetes-simple.test.ts.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { InputError } from "../../../components";
import { podMonitorArgs, prometheusDurationMs, resolvePodMonitor } from "../../../components/kube/pod-monitor";
import { resolveBusSpec } from "../../../components/validate";
import { testMocks } from "../../support/bus";
import { CRD_TYPE, runBus } from "../../support/exotic";

const POD_MONITOR_TYPE = "kubernetes:monitoring.coreos.com/v1:PodMonitor";
const ARGS = { namespace: "argo-events", jetstream: { version: "latest" } };

describe("jetstream.podMonitor", () => {
    it("takes {} for the defaults, and labels, interval and scrapeTimeout", () => {
        assert.deepEqual(resolvePodMonitor({}), { labels: {}, interval: undefined, scrapeTimeout: undefined });
        assert.deepEqual(
            resolvePodMonitor({ labels: { release: "prometheus" }, interval: "30s", scrapeTimeout: "10s" }),
            { labels: { release: "prometheus" }, interval: "30s", scrapeTimeout: "10s" },
        );
        assert.equal(resolvePodMonitor(undefined), undefined);
        assert.equal(resolvePodMonitor(null), undefined);
    });

    it("refuses bad input at preview, naming the field and what is allowed", () => {
        const cases: [unknown, string, RegExp][] = [
            [{ interval: "30" }, "jetstream.podMonitor.interval", /units y, w, d, h, m, s or ms/],
            [{ interval: "1m30" }, "jetstream.podMonitor.interval", /is not a Prometheus duration/],
            [{ interval: "0s" }, "jetstream.podMonitor.interval", /is zero/],
            [
                { interval: "30s", scrapeTimeout: "1m" },
                "jetstream.podMonitor.scrapeTimeout",
                /longer than interval 30s/,
            ],
            [{ labels: { release: "a b" } }, "jetstream.podMonitor.labels.release", /./],
            [{ lables: {} }, "jetstream.podMonitor.lables", /allowed fields: labels, interval, scrapeTimeout/],
            [true, "jetstream.podMonitor", /must be an object/],
        ];
        for (const [value, field, message] of cases) {
            assert.throws(
                () =>
                    resolveBusSpec("default", {
                        ...ARGS,
                        jetstream: { version: "latest", podMonitor: value as never },
                    }),
                (err: unknown) => err instanceof InputError && err.field === field && message.test(err.message),
                JSON.stringify(value),
            );
        }
    });

    it("reads Prometheus durations exactly", () => {
        assert.equal(prometheusDurationMs("1m30s", "f"), 90_000);
        assert.equal(prometheusDurationMs("250ms", "f"), 250);
        assert.equal(prometheusDurationMs("1d", "f"), 86_400_000);
        assert.throws(() => prometheusDurationMs("30s1m", "f"), /largest first/);
    });
});

describe("the PodMonitor", () => {
    /** The operator's PodMonitor model, whose validate() checks its schema (the package is ESM only). */
    let PodMonitor: new (data: any) => { validate(): void };
    before(async () => {
        ({ PodMonitor } = await import("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor"));
    });

    it("selects the bus's pods on the exporter's port, with the labels asked for, and passes the operator's schema", () => {
        const spec = resolveBusSpec("default", {
            ...ARGS,
            jetstream: {
                version: "latest",
                podMonitor: {
                    labels: { release: "prometheus", "eventbus-name": "mine" },
                    interval: "15s",
                    scrapeTimeout: "10s",
                },
            },
        });
        const object = podMonitorArgs(spec, spec.podMonitor!) as any;
        new PodMonitor(object).validate();
        // The schema is really checked: the port is a name there, not a number.
        assert.throws(() =>
            new PodMonitor({ ...object, spec: { ...object.spec, podMetricsEndpoints: [{ port: 7777 }] } }).validate(),
        );
        assert.equal(object.metadata.name, "eventbus-default-js");
        assert.equal(object.metadata.labels.release, "prometheus");
        assert.equal(object.metadata.labels["eventbus-name"], "default", "the bus's labels win");
        assert.deepEqual(object.spec.selector, {
            matchLabels: { controller: "eventbus-controller", "eventbus-name": "default", "owner-name": "default" },
        });
        assert.deepEqual(object.spec.podMetricsEndpoints, [
            { port: "metrics", path: "/metrics", interval: "15s", scrapeTimeout: "10s" },
        ]);
        const plain = podMonitorArgs(spec, { labels: {} }) as any;
        new PodMonitor(plain).validate();
        assert.deepEqual(
            plain.spec.podMetricsEndpoints,
            [{ port: "metrics", path: "/metrics" }],
            "Prometheus's own interval",
        );
    });

    it("is not created unless asked for", async () => {
        const run = await runBus("default", ARGS);
        assert.equal(run.byType(POD_MONITOR_TYPE).length, 0);
        assert.equal(run.resources.filter((r) => r.id === "podmonitors.monitoring.coreos.com").length, 0);
    });

    describe("when asked for", () => {
        before(() =>
            testMocks().setExisting(CRD_TYPE, "podmonitors.monitoring.coreos.com", {
                apiVersion: "apiextensions.k8s.io/v1",
                kind: "CustomResourceDefinition",
                metadata: { name: "podmonitors.monitoring.coreos.com" },
                spec: {
                    group: "monitoring.coreos.com",
                    names: { kind: "PodMonitor", plural: "podmonitors" },
                    scope: "Namespaced",
                },
            }),
        );

        it("is created after its CRD was read", async () => {
            const run = await runBus("default", {
                ...ARGS,
                jetstream: { version: "latest", podMonitor: { labels: { release: "prometheus" } } },
            });
            const reads = run.resources.filter((r) => r.id === "podmonitors.monitoring.coreos.com");
            assert.equal(reads.length, 1);
            const created = run.byType(POD_MONITOR_TYPE);
            assert.equal(created.length, 1);
            assert.equal(created[0].inputs.metadata.labels.release, "prometheus");
            assert.ok(run.resources.indexOf(reads[0]) < run.resources.indexOf(created[0]));
        });
    });

    it("fails the run on the CRD's read when the Prometheus Operator is not installed, creating no PodMonitor", async () => {
        testMocks().clearExisting();
        const run = await runBus("default", { ...ARGS, jetstream: { version: "latest", podMonitor: {} } });
        assert.ok(
            run.failures.some((f) => /podmonitors\.monitoring\.coreos\.com/.test(f)),
            run.failures.join("\n"),
        );
        assert.equal(run.byType(POD_MONITOR_TYPE).length, 0);
    });
});
