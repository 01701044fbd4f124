/**
 * What `new EventBus(...)` sends to the providers, field by field, under the realistic mocks.
 *
 * Expected values are written out literally from Argo Events' EventBus controller
 * (https://github.com/argoproj/argo-events), never computed with the component's own helpers.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import bcrypt from "bcryptjs";
import { parse as parseYaml } from "yaml";
import { KUBERNETES_KINDS, renderBus, RenderedBus, testMocks } from "../support/bus";
import { certificateFacts, isSecretOutput, RecordedResource, resolve } from "../support/mocks";
import { secret as pulumiSecret } from "@pulumi/pulumi";
import { checkEncryptionKey } from "../../components/validate";

const rpcSettings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

const NS = "argo-events";
const SVC = "eventbus-default-js-svc";
const SERVER_SECRET = "eventbus-default-js-server";
const CLIENT_SECRET = "eventbus-default-js-client-auth";

const ARGO_LABELS = { controller: "eventbus-controller", "eventbus-name": "default", "owner-name": "default" };
const ALL_LABELS = {
    ...ARGO_LABELS,
    "app.kubernetes.io/name": "nats",
    "app.kubernetes.io/instance": "eventbus-default",
    "app.kubernetes.io/component": "eventbus",
    "app.kubernetes.io/managed-by": "jetstream-eventbus",
};

const SERVER_ENV = [
    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: "SERVER_NAME", value: "$(POD_NAME)" },
    { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    { name: "CLUSTER_ADVERTISE", value: "$(POD_NAME).eventbus-default-js-svc.$(POD_NAMESPACE).svc" },
    { name: "JS_KEY", valueFrom: { secretKeyRef: { name: "eventbus-default-js-server", key: "encryption" } } },
];

const RESTRICTED_CONTAINER = { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, runAsNonRoot: true };

const TB = 1024 ** 4;
const GiB = 1024 ** 3;

function statefulSet(r: RenderedBus): any {
    return r.object("StatefulSet");
}

function podSpec(r: RenderedBus): any {
    return statefulSet(r).spec.template.spec;
}

function container(r: RenderedBus, name: string): any {
    const found = podSpec(r).containers.filter((c: any) => c.name === name);
    assert.equal(found.length, 1, `one container named ${name}`);
    return found[0];
}

function envOf(c: any, name: string): any {
    return (c.env ?? []).find((e: any) => e.name === name);
}

/** The lines inside the top-level `jetstream { ... }` block of nats-js.conf, trimmed. */
function jetstreamBlock(configText: string): string[] {
    const lines = configText.split("\n");
    const start = lines.indexOf("jetstream {");
    assert.ok(start >= 0, "config has a jetstream block");
    const end = lines.indexOf("}", start);
    return lines
        .slice(start + 1, end)
        .map((l) => l.trim())
        .filter((l) => l !== "");
}

/** The route URLs listed in the cluster block. */
function routes(configText: string): string[] {
    return [...configText.matchAll(/^\s+"(nats:\/\/[^"]+)"\s*$/gm)].map((m) => m[1]);
}

function labelsOf(o: any): Record<string, string> {
    return o.metadata.labels;
}

function byTypeAndName(resources: RecordedResource[], type: string, name: string): RecordedResource {
    const found = resources.filter((r) => r.type === type && r.name === name);
    assert.equal(found.length, 1, `one ${type} named ${name}`);
    return found[0];
}

function configFilesWatched(reloader: any): string[] {
    const args: string[] = reloader.args;
    const files: string[] = [];
    args.forEach((a, i) => {
        if (a === "-config") {
            files.push(args[i + 1]);
        }
    });
    return files;
}

describe("EventBus 'default' in argo-events with only version latest", () => {
    let r: RenderedBus;
    before(async () => {
        r = await renderBus("default", { namespace: NS, jetstream: { version: "latest" } });
    });

    describe("objects and metadata", () => {
        it("creates exactly Argo's objects plus a PodDisruptionBudget, all in the namespace", () => {
            const got = r
                .kubernetesObjects()
                .map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace}/${o.metadata.name}`)
                .sort();
            assert.deepEqual(got, [
                "apps/v1 StatefulSet argo-events/eventbus-default-js",
                "policy/v1 PodDisruptionBudget argo-events/eventbus-default-js-pdb",
                "v1 ConfigMap argo-events/eventbus-default-js-config",
                "v1 Secret argo-events/eventbus-default-js-client-auth",
                "v1 Secret argo-events/eventbus-default-js-server",
                "v1 Service argo-events/eventbus-default-js-svc",
            ]);
        });

        it("puts Argo's three labels and the app.kubernetes.io labels on every object", () => {
            for (const o of r.kubernetesObjects()) {
                assert.deepEqual(labelsOf(o), ALL_LABELS, `${o.kind} ${o.metadata.name}`);
            }
        });

        it("labels the pod template like every object", () => {
            assert.deepEqual(statefulSet(r).spec.template.metadata.labels, ALL_LABELS);
        });
    });

    describe("Service", () => {
        it("is headless and publishes not-ready addresses", () => {
            const svc = r.object("Service", SVC);
            assert.equal(svc.spec.type, "ClusterIP");
            assert.equal(svc.spec.clusterIP, "None");
            assert.equal(svc.spec.publishNotReadyAddresses, true);
        });

        it("selects the pods with Argo's three labels", () => {
            assert.deepEqual(r.object("Service", SVC).spec.selector, ARGO_LABELS);
        });

        it("exposes tcp-client 4222, cluster 6222, metrics 7777 and monitor 8222 over TCP", () => {
            const ports = r
                .object("Service", SVC)
                .spec.ports.map((p: any) => [p.name, p.port, p.protocol, p.targetPort]);
            assert.deepEqual(ports, [
                ["tcp-client", 4222, "TCP", undefined],
                ["cluster", 6222, "TCP", undefined],
                ["metrics", 7777, "TCP", undefined],
                ["monitor", 8222, "TCP", undefined],
            ]);
        });
    });

    describe("PodDisruptionBudget", () => {
        it("allows one unavailable pod, selected by Argo's three labels", () => {
            const pdb = r.object("PodDisruptionBudget", "eventbus-default-js-pdb");
            assert.deepEqual(pdb.spec, { maxUnavailable: 1, selector: { matchLabels: ARGO_LABELS } });
        });
    });

    describe("ConfigMap", () => {
        it("holds only the key nats-js", () => {
            assert.deepEqual(Object.keys(r.object("ConfigMap", "eventbus-default-js-config").data), ["nats-js"]);
        });

        it("holds neither the password, nor a bcrypt hash, nor the encryption key", () => {
            const data = JSON.stringify(r.object("ConfigMap").data);
            assert.ok(!data.includes(r.password), "client password in ConfigMap");
            assert.ok(!data.includes(r.serverSecret["system-password"]), "system password in ConfigMap");
            assert.ok(!data.includes(r.serverSecret.encryption), "encryption key in ConfigMap");
            assert.doesNotMatch(data, /\$2[aby]\$/);
        });
    });

    describe("StatefulSet", () => {
        it("starts 3 pods in parallel behind the headless service, selected by Argo's labels", () => {
            const spec = statefulSet(r).spec;
            assert.equal(statefulSet(r).metadata.name, "eventbus-default-js");
            assert.equal(spec.podManagementPolicy, "Parallel");
            assert.equal(spec.replicas, 3);
            assert.equal(spec.serviceName, SVC);
            assert.deepEqual(spec.selector, { matchLabels: ARGO_LABELS });
        });

        it("has containers main, reloader and metrics in that order", () => {
            assert.deepEqual(
                podSpec(r).containers.map((c: any) => c.name),
                ["main", "reloader", "metrics"],
            );
        });

        it("runs nats:2.14.4 for latest with the reloader 0.23.0 and exporter 0.20.1", () => {
            assert.equal(container(r, "main").image, "nats:2.14.4");
            assert.equal(container(r, "reloader").image, "natsio/nats-server-config-reloader:0.23.0");
            assert.equal(container(r, "metrics").image, "natsio/prometheus-nats-exporter:0.20.1");
        });

        it("starts /nats-server with the config file and no extra args", () => {
            const main = container(r, "main");
            assert.deepEqual(main.command, ["/nats-server", "--config", "/etc/nats-config/nats-js.conf"]);
            assert.deepEqual(main.args ?? [], []);
        });

        it("gives main Argo's environment: POD_NAME, SERVER_NAME, POD_NAMESPACE, CLUSTER_ADVERTISE, JS_KEY", () => {
            assert.deepEqual(container(r, "main").env, SERVER_ENV);
        });

        it("gives the reloader the same environment as main (Argo #3607)", () => {
            assert.deepEqual(container(r, "reloader").env, container(r, "main").env);
        });

        it("sets no GOMEMLIMIT without a memory limit", () => {
            assert.equal(envOf(container(r, "main"), "GOMEMLIMIT"), undefined);
        });

        it("exposes client 4222, cluster 6222 and monitor 8222 on main, metrics 7777 on metrics", () => {
            assert.deepEqual(
                container(r, "main").ports.map((p: any) => [p.name, p.containerPort]),
                [
                    ["client", 4222],
                    ["cluster", 6222],
                    ["monitor", 8222],
                ],
            );
            assert.deepEqual(
                container(r, "metrics").ports.map((p: any) => [p.name, p.containerPort]),
                [["metrics", 7777]],
            );
        });

        it("probes startup on /healthz, readiness on js-server-only and liveness on js-enabled-only, all on 8222", () => {
            const main = container(r, "main");
            const monitorPort = (port: unknown) =>
                port === "monitor" ? main.ports.find((p: any) => p.name === "monitor").containerPort : port;
            assert.equal(main.startupProbe.httpGet.path, "/healthz");
            assert.equal(main.readinessProbe.httpGet.path, "/healthz?js-server-only=true");
            assert.equal(main.livenessProbe.httpGet.path, "/healthz?js-enabled-only=true");
            for (const probe of [main.startupProbe, main.readinessProbe, main.livenessProbe]) {
                assert.equal(monitorPort(probe.httpGet.port), 8222);
            }
        });

        it("times the probes as the NATS Helm chart: startup 90x10s, readiness every 10s, liveness every 30s", () => {
            const main = container(r, "main");
            const timing = (p: any) => [p.initialDelaySeconds, p.periodSeconds, p.timeoutSeconds, p.failureThreshold];
            assert.deepEqual(timing(main.startupProbe), [10, 10, 5, 90]);
            assert.deepEqual(timing(main.readinessProbe), [10, 10, 5, 3]);
            assert.deepEqual(timing(main.livenessProbe), [10, 30, 5, 3]);
        });

        it("runs the exporter with Argo's flags on port 7777 against the monitor port", () => {
            assert.deepEqual(container(r, "metrics").args, [
                "-port=7777",
                "-connz",
                "-routez",
                "-subz",
                "-varz",
                "-prefix=nats",
                "-use_internal_server_id",
                "-jsz=all",
                "http://localhost:8222/",
            ]);
        });

        it("enters lame duck mode in preStop through the pid file", () => {
            assert.deepEqual(container(r, "main").lifecycle.preStop, {
                exec: { command: ["/nats-server", "-sl=ldm=/var/run/nats/nats.pid"] },
            });
        });

        it("gives pods 60s to terminate, longer than the 30s lame duck", () => {
            assert.equal(podSpec(r).terminationGracePeriodSeconds, 60);
            assert.match(r.configText, /^lame_duck_duration: "30s"$/m);
            assert.match(r.configText, /^lame_duck_grace_period: "10s"$/m);
        });

        it("shares the process namespace so the reloader can signal nats-server", () => {
            assert.equal(podSpec(r).shareProcessNamespace, true);
        });

        it("has the reloader watch the config, auth.conf and every certificate and key file", () => {
            const reloader = container(r, "reloader");
            assert.deepEqual(reloader.args.slice(0, 2), ["-pid", "/var/run/nats/nats.pid"]);
            assert.deepEqual(configFilesWatched(reloader).sort(), [
                "/etc/nats-config/auth.conf",
                "/etc/nats-config/ca-cert.pem",
                "/etc/nats-config/cluster-server-cert.pem",
                "/etc/nats-config/cluster-server-key.pem",
                "/etc/nats-config/nats-js.conf",
                "/etc/nats-config/server-cert.pem",
                "/etc/nats-config/server-key.pem",
            ]);
        });

        it("projects the ConfigMap and the server Secret into one config volume", () => {
            const volume = podSpec(r).volumes.find((v: any) => v.name === "config-volume");
            assert.deepEqual(volume.projected.sources, [
                {
                    configMap: {
                        name: "eventbus-default-js-config",
                        items: [{ key: "nats-js", path: "nats-js.conf" }],
                    },
                },
                {
                    secret: {
                        name: SERVER_SECRET,
                        items: [
                            { key: "auth", path: "auth.conf" },
                            { key: "private-key", path: "server-key.pem" },
                            { key: "cert", path: "server-cert.pem" },
                            { key: "ca-cert", path: "ca-cert.pem" },
                            { key: "cluster-private-key", path: "cluster-server-key.pem" },
                            { key: "cluster-cert", path: "cluster-server-cert.pem" },
                        ],
                    },
                },
            ]);
        });

        it("mounts config, pid and an emptyDir js-data at /data/jetstream without persistence", () => {
            const spec = statefulSet(r).spec;
            assert.equal(spec.volumeClaimTemplates, undefined);
            assert.equal(spec.persistentVolumeClaimRetentionPolicy, undefined);
            assert.deepEqual(
                podSpec(r).volumes.find((v: any) => v.name === "js-data"),
                { name: "js-data", emptyDir: {} },
            );
            assert.deepEqual(
                podSpec(r).volumes.find((v: any) => v.name === "pid"),
                { name: "pid", emptyDir: {} },
            );
            assert.deepEqual(container(r, "main").volumeMounts, [
                { name: "config-volume", mountPath: "/etc/nats-config" },
                { name: "pid", mountPath: "/var/run/nats" },
                { name: "js-data", mountPath: "/data/jetstream" },
            ]);
        });

        it("spreads servers over nodes with a soft hostname anti-affinity", () => {
            assert.deepEqual(podSpec(r).affinity, {
                podAntiAffinity: {
                    preferredDuringSchedulingIgnoredDuringExecution: [
                        {
                            weight: 100,
                            podAffinityTerm: {
                                topologyKey: "kubernetes.io/hostname",
                                labelSelector: { matchLabels: ARGO_LABELS },
                            },
                        },
                    ],
                },
            });
        });

        it("has no topology spread constraints by default", () => {
            assert.equal(podSpec(r).topologySpreadConstraints, undefined);
        });

        it("meets the restricted Pod Security Standard by default", () => {
            const pod = podSpec(r).securityContext;
            assert.equal(pod.runAsNonRoot, true);
            assert.deepEqual(pod.seccompProfile, { type: "RuntimeDefault" });
            for (const c of podSpec(r).containers) {
                for (const [key, value] of Object.entries(RESTRICTED_CONTAINER)) {
                    assert.deepEqual(c.securityContext[key], value, `${c.name}.securityContext.${key}`);
                }
            }
        });
    });

    describe("server configuration", () => {
        it("sets max_payload to 1MB (1048576) by default", () => {
            assert.match(r.configText, /^max_payload: 1048576$/m);
        });

        it("writes key, store_dir and Argo's default limits into the jetstream block", () => {
            assert.deepEqual(jetstreamBlock(r.configText), [
                "key: $JS_KEY",
                'store_dir: "/data/jetstream/store"',
                "max_memory_store: -1",
                `max_file_store: ${TB}`,
            ]);
        });

        it("routes to the three pods by .svc names, not .svc.cluster.local (Argo #2655)", () => {
            assert.deepEqual(routes(r.configText), [
                "nats://eventbus-default-js-0.eventbus-default-js-svc.argo-events.svc:6222",
                "nats://eventbus-default-js-1.eventbus-default-js-svc.argo-events.svc:6222",
                "nats://eventbus-default-js-2.eventbus-default-js-svc.argo-events.svc:6222",
            ]);
            assert.ok(!r.configText.includes("cluster.local"));
        });

        it("names the cluster after the bus and advertises through $CLUSTER_ADVERTISE", () => {
            assert.match(r.configText, /^cluster \{$/m);
            assert.match(r.configText, /^\s+name: "default"$/m);
            assert.match(r.configText, /^\s+cluster_advertise: \$CLUSTER_ADVERTISE$/m);
            assert.match(r.configText, /^server_name: \$SERVER_NAME$/m);
        });

        it("includes ./auth.conf", () => {
            assert.match(r.configText, /^include \.\/auth\.conf$/m);
        });
    });

    describe("client Secret", () => {
        it("holds exactly client-auth, ca.crt and url", () => {
            assert.equal(r.object("Secret", CLIENT_SECRET).type, "Opaque");
            assert.deepEqual(Object.keys(r.clientSecret).sort(), ["ca.crt", "client-auth", "url"]);
        });

        it("holds Argo's YAML username:/password: with the password of bus.password", async () => {
            const parsed = parseYaml(r.clientSecret["client-auth"]);
            assert.deepEqual(Object.keys(parsed).sort(), ["password", "username"]);
            assert.equal(parsed.password, r.password);
            assert.equal(parsed.username, await resolve(r.bus.username));
            assert.match(r.clientSecret["client-auth"], /^username: /m);
            assert.match(r.clientSecret["client-auth"], /^password: /m);
        });

        it("holds the CA of bus.caCert and the URL of bus.url", async () => {
            assert.equal(r.clientSecret["ca.crt"], await resolve(r.bus.caCert));
            assert.equal(r.clientSecret.url, "nats://eventbus-default-js-svc.argo-events.svc:4222");
        });
    });

    describe("server Secret", () => {
        it("holds Argo's keys (one CA for both, so no cluster-ca-cert) and the system password", () => {
            assert.equal(r.object("Secret", SERVER_SECRET).type, "Opaque");
            assert.deepEqual(Object.keys(r.serverSecret).sort(), [
                "auth",
                "ca-cert",
                "cert",
                "cluster-cert",
                "cluster-private-key",
                "encryption",
                "private-key",
                "system-password",
            ]);
        });

        it("holds in auth.conf a bcrypt hash of the client password, never the password itself", () => {
            const auth = r.serverSecret.auth;
            const match = /user: "eventbus", password: "(\$2[aby]\$\d\d\$[^"]+)"/.exec(auth);
            assert.ok(match, auth);
            assert.ok(bcrypt.compareSync(r.password, match[1]), "hash verifies the password");
            assert.ok(!auth.includes(r.password));
        });

        it("holds in auth.conf a bcrypt hash of the system password for the sys account", () => {
            const auth = r.serverSecret.auth;
            assert.match(auth, /^system_account: sys$/m);
            const match = /user: "sys", password: "(\$2[aby]\$\d\d\$[^"]+)"/.exec(auth);
            assert.ok(match, auth);
            assert.ok(bcrypt.compareSync(r.serverSecret["system-password"], match[1]));
            assert.ok(!auth.includes(r.serverSecret["system-password"]));
        });

        it("holds an encryption key of letters only (Argo #3231)", () => {
            assert.match(r.serverSecret.encryption, /^[A-Za-z]{12,}$/);
            const inputs = byTypeAndName(
                r.resources,
                "random:index/randomPassword:RandomPassword",
                "default-encryption-key",
            ).inputs;
            assert.equal(inputs.special, false);
            assert.equal(inputs.numeric, false);
        });
    });

    describe("certificates", () => {
        const facts = () => ({
            ca: certificateFacts(r.serverSecret["ca-cert"]),
            server: certificateFacts(r.serverSecret.cert),
            route: certificateFacts(r.serverSecret["cluster-cert"]),
        });

        it("generates every private key as ECDSA P-256, never the provider's P224 default", () => {
            const keys = r.resources.filter((x) => x.type === "tls:index/privateKey:PrivateKey");
            assert.equal(keys.length, 3);
            for (const key of keys) {
                assert.equal(key.inputs.algorithm, "ECDSA", key.name);
                assert.equal(key.inputs.ecdsaCurve, "P256", key.name);
            }
            for (const f of Object.values(facts())) {
                assert.equal(f.publicKeyAlgorithm, "ECDSA");
                assert.equal(f.namedCurve, "P256");
            }
            for (const pem of [r.serverSecret["private-key"], r.serverSecret["cluster-private-key"]]) {
                assert.equal(crypto.createPrivateKey(pem).asymmetricKeyDetails?.namedCurve, "prime256v1");
            }
        });

        it("names the service in every form in the server certificate", () => {
            assert.deepEqual(facts().server.dnsNames, [
                "eventbus-default-js-svc",
                "eventbus-default-js-svc.argo-events",
                "eventbus-default-js-svc.argo-events.svc",
                "eventbus-default-js-svc.argo-events.svc.cluster.local",
            ]);
        });

        it("makes the server certificate for serverAuth only", () => {
            assert.deepEqual(facts().server.extKeyUsages, ["serverAuth"]);
        });

        it("covers every pod with two wildcards in the route certificate, for serverAuth and clientAuth", () => {
            const route = facts().route;
            assert.deepEqual(route.dnsNames, [
                "*.eventbus-default-js-svc.argo-events.svc",
                "*.eventbus-default-js-svc.argo-events.svc.cluster.local",
            ]);
            assert.deepEqual([...route.extKeyUsages].sort(), ["clientAuth", "serverAuth"]);
        });

        it("signs both leaves with the CA, which is a CA", () => {
            const ca = new crypto.X509Certificate(r.serverSecret["ca-cert"]);
            assert.equal(ca.ca, true);
            assert.equal(facts().ca.isCa, true);
            assert.ok(facts().ca.keyUsages.includes("keyCertSign"));
            for (const pem of [r.serverSecret.cert, r.serverSecret["cluster-cert"]]) {
                const leaf = new crypto.X509Certificate(pem);
                assert.equal(leaf.verify(ca.publicKey), true);
                assert.equal(leaf.checkIssued(ca), true);
                assert.equal(leaf.ca, false);
            }
        });

        it("pairs each leaf certificate with its private key in the Secret", () => {
            const pairs = [
                ["private-key", "cert"],
                ["cluster-private-key", "cluster-cert"],
            ];
            for (const [keyName, certName] of pairs) {
                const cert = new crypto.X509Certificate(r.serverSecret[certName]);
                assert.equal(cert.checkPrivateKey(crypto.createPrivateKey(r.serverSecret[keyName])), true, certName);
            }
        });

        it("issues leaves for about a year and renews them early", () => {
            const dayMs = 24 * 3600 * 1000;
            for (const f of [facts().server, facts().route]) {
                const days = (f.notAfter.getTime() - f.notBefore.getTime()) / dayMs;
                assert.ok(days > 364 && days < 367, `validity ${days} days`);
            }
            for (const cert of r.resources.filter((x) => x.type === "tls:index/locallySignedCert:LocallySignedCert")) {
                assert.ok(
                    cert.inputs.earlyRenewalHours > 0 &&
                        cert.inputs.earlyRenewalHours < cert.inputs.validityPeriodHours,
                    cert.name,
                );
            }
        });

        it("gives clients the same CA the server uses", async () => {
            assert.equal(await resolve(r.bus.caCert), r.serverSecret["ca-cert"]);
        });
    });

    describe("outputs", () => {
        it("publishes url, names, namespace and stream name", async () => {
            assert.equal(await resolve(r.bus.url), "nats://eventbus-default-js-svc.argo-events.svc:4222");
            assert.equal(await resolve(r.bus.serviceName), SVC);
            assert.equal(await resolve(r.bus.statefulSetName), "eventbus-default-js");
            assert.equal(await resolve(r.bus.namespace), NS);
            assert.equal(await resolve(r.bus.clientSecretName), CLIENT_SECRET);
            assert.equal(await resolve(r.bus.streamName), "default");
        });

        it("publishes the username and the password, the password as a secret", async () => {
            assert.equal(await resolve(r.bus.password), r.password);
            assert.ok(r.password.length >= 16);
            assert.equal(await isSecretOutput(r.bus.password), true);
            assert.equal(typeof (await resolve(r.bus.username)), "string");
            assert.notEqual(await resolve(r.bus.username), "");
        });

        it("publishes the CA certificate as a PEM", async () => {
            assert.match((await resolve(r.bus.caCert)) ?? "", /^-----BEGIN CERTIFICATE-----/);
        });
    });
});

describe("names", () => {
    it("use the component name as the bus name by default", async () => {
        const r = await renderBus("prod", { namespace: "team-a", jetstream: { version: "latest" } });
        assert.equal(statefulSet(r).metadata.name, "eventbus-prod-js");
        r.object("Service", "eventbus-prod-js-svc");
        r.object("ConfigMap", "eventbus-prod-js-config");
        r.object("Secret", "eventbus-prod-js-server");
        r.object("Secret", "eventbus-prod-js-client-auth");
        assert.deepEqual(statefulSet(r).spec.selector.matchLabels, {
            controller: "eventbus-controller",
            "eventbus-name": "prod",
            "owner-name": "prod",
        });
        assert.equal(await resolve(r.bus.url), "nats://eventbus-prod-js-svc.team-a.svc:4222");
    });

    it("use an explicit busName over the component name", async () => {
        const r = await renderBus("my-component", { namespace: NS, busName: "main", jetstream: { version: "latest" } });
        assert.deepEqual(
            r
                .kubernetesObjects()
                .map((o) => o.metadata.name)
                .sort(),
            [
                "eventbus-main-js",
                "eventbus-main-js-client-auth",
                "eventbus-main-js-config",
                "eventbus-main-js-pdb",
                "eventbus-main-js-server",
                "eventbus-main-js-svc",
            ],
        );
        assert.match(r.configText, /^\s+name: "main"$/m);
        assert.equal(labelsOf(statefulSet(r))["eventbus-name"], "main");
    });

    it("go into namespace default when none is given", async () => {
        const r = await renderBus("default", { jetstream: { version: "latest" } });
        for (const o of r.kubernetesObjects()) {
            assert.equal(o.metadata.namespace, "default", `${o.kind} ${o.metadata.name}`);
        }
        assert.equal(r.clientSecret.url, "nats://eventbus-default-js-svc.default.svc:4222");
    });
});

describe("replicas", () => {
    it("1: one pod, no cluster block, no PodDisruptionBudget", async () => {
        const r = await renderBus("default", { namespace: NS, jetstream: { version: "latest", replicas: 1 } });
        assert.equal(statefulSet(r).spec.replicas, 1);
        assert.doesNotMatch(r.configText, /^cluster \{/m);
        assert.deepEqual(routes(r.configText), []);
        assert.equal(r.kubernetesObjects().filter((o) => o.kind === "PodDisruptionBudget").length, 0);
    });

    it("5: five pods, one route per pod, a PodDisruptionBudget", async () => {
        const r = await renderBus("default", { namespace: NS, jetstream: { version: "latest", replicas: 5 } });
        assert.equal(statefulSet(r).spec.replicas, 5);
        assert.deepEqual(
            routes(r.configText),
            [0, 1, 2, 3, 4].map((i) => `nats://eventbus-default-js-${i}.eventbus-default-js-svc.argo-events.svc:6222`),
        );
        assert.deepEqual(r.object("PodDisruptionBudget").spec, {
            maxUnavailable: 1,
            selector: { matchLabels: ARGO_LABELS },
        });
    });
});

describe("persistence", () => {
    it("adds a 20Gi ReadWriteOnce claim template eventbus-default-js-vol by default", async () => {
        const r = await renderBus("default", { namespace: NS, jetstream: { version: "latest", persistence: {} } });
        const templates = statefulSet(r).spec.volumeClaimTemplates;
        assert.equal(templates.length, 1);
        assert.equal(templates[0].metadata.name, "eventbus-default-js-vol");
        assert.deepEqual(templates[0].spec.accessModes, ["ReadWriteOnce"]);
        assert.equal(templates[0].spec.volumeMode, "Filesystem");
        assert.equal(templates[0].spec.storageClassName, undefined);
        assert.deepEqual(templates[0].spec.resources, { requests: { storage: "20Gi" } });
    });

    it("mounts the claim at /data/jetstream instead of the emptyDir", async () => {
        const r = await renderBus("default", { namespace: NS, jetstream: { version: "latest", persistence: {} } });
        assert.equal(
            podSpec(r).volumes.find((v: any) => v.name === "js-data"),
            undefined,
        );
        const mount = container(r, "main").volumeMounts.find((m: any) => m.mountPath === "/data/jetstream");
        assert.equal(mount.name, "eventbus-default-js-vol");
    });

    it("retains the claims when deleted or scaled down by default", async () => {
        const r = await renderBus("default", { namespace: NS, jetstream: { version: "latest", persistence: {} } });
        assert.deepEqual(statefulSet(r).spec.persistentVolumeClaimRetentionPolicy, {
            whenDeleted: "Retain",
            whenScaled: "Retain",
        });
    });

    it("limits max_file_store to a 10Gi volume (10737418240 bytes) when settings are not given", async () => {
        const r = await renderBus("default", {
            namespace: NS,
            jetstream: { version: "latest", persistence: { volumeSize: "10Gi" } },
        });
        assert.deepEqual(jetstreamBlock(r.configText), [
            "key: $JS_KEY",
            'store_dir: "/data/jetstream/store"',
            "max_memory_store: -1",
            "max_file_store: 10737418240",
        ]);
        assert.deepEqual(statefulSet(r).spec.volumeClaimTemplates[0].spec.resources, { requests: { storage: "10Gi" } });
    });

    it("passes storage class, access mode and retention policy through", async () => {
        const r = await renderBus("default", {
            namespace: NS,
            jetstream: {
                version: "latest",
                persistence: {
                    storageClassName: "fast-ssd",
                    accessMode: "ReadWriteOncePod",
                    volumeSize: "50Gi",
                    retentionPolicy: { whenDeleted: "Delete", whenScaled: "Delete" },
                },
            },
        });
        const spec = statefulSet(r).spec;
        assert.equal(spec.volumeClaimTemplates[0].spec.storageClassName, "fast-ssd");
        assert.deepEqual(spec.volumeClaimTemplates[0].spec.accessModes, ["ReadWriteOncePod"]);
        assert.deepEqual(spec.volumeClaimTemplates[0].spec.resources, { requests: { storage: "50Gi" } });
        assert.deepEqual(spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: "Delete", whenScaled: "Delete" });
        assert.match(r.configText, new RegExp(`^\\s+max_file_store: ${50 * GiB}$`, "m"));
    });
});

describe("labels and pod metadata", () => {
    let r: RenderedBus;
    before(async () => {
        r = await renderBus("default", {
            namespace: NS,
            labels: { team: "platform", controller: "someone-else" },
            jetstream: {
                version: "latest",
                metadata: {
                    labels: { tier: "messaging", "eventbus-name": "hijack" },
                    annotations: { "prometheus.io/scrape": "true" },
                },
            },
        });
    });

    it("puts the EventBus labels on the StatefulSet, ours winning on conflict", () => {
        assert.deepEqual(labelsOf(statefulSet(r)), { ...ALL_LABELS, team: "platform" });
    });

    it("keeps the EventBus labels off every other object and off the pods", () => {
        for (const o of r.kubernetesObjects().filter((x) => x.kind !== "StatefulSet")) {
            assert.deepEqual(labelsOf(o), ALL_LABELS, `${o.kind} ${o.metadata.name}`);
        }
        assert.equal(statefulSet(r).spec.template.metadata.labels.team, undefined);
    });

    it("puts jetstream.metadata labels and annotations on the pod template, ours winning on conflict", () => {
        const meta = statefulSet(r).spec.template.metadata;
        assert.deepEqual(meta.labels, { ...ALL_LABELS, tier: "messaging" });
        assert.deepEqual(Object.keys(meta.annotations).sort(), [
            "jetstream-eventbus/jetstream-settings",
            "prometheus.io/scrape",
        ]);
        assert.equal(meta.annotations["prometheus.io/scrape"], "true");
    });
});

describe("changes nats-server cannot reload", () => {
    const hashOf = async (jetstream: Record<string, unknown>) =>
        statefulSet(await renderBus("default", { namespace: NS, jetstream: { version: "latest", ...jetstream } })).spec
            .template.metadata.annotations["jetstream-eventbus/jetstream-settings"];

    it("roll the pods: a change of the jetstream block changes the pod template", async () => {
        const before = await hashOf({ settings: "max_file_store: 1TB" });
        assert.match(before, /^[0-9a-f]{16}$/);
        assert.notEqual(await hashOf({ settings: "max_file_store: 2TB" }), before);
        assert.notEqual(
            await hashOf({ persistence: { volumeSize: "10Gi" } }),
            await hashOf({ persistence: { volumeSize: "20Gi" } }),
        );
    });

    it("while reloadable changes leave the pod template alone (the reloader applies them)", async () => {
        const before = await hashOf({ settings: "max_file_store: 1TB" });
        assert.equal(
            await hashOf({ settings: "max_file_store: 1TB", maxPayload: "8MB", lameDuckDuration: "45s" }),
            before,
        );
    });
});

describe("versions and images", () => {
    it("2.9.1 probes liveness with js-enabled=true, the option before 2.9.10", async () => {
        const r = await renderBus("default", { namespace: NS, jetstream: { version: "2.9.1" } });
        const main = container(r, "main");
        assert.equal(main.image, "nats:2.9.1");
        assert.equal(main.livenessProbe.httpGet.path, "/healthz?js-enabled=true");
        assert.equal(main.readinessProbe.httpGet.path, "/healthz?js-server-only=true");
        assert.equal(main.startupProbe.httpGet.path, "/healthz");
    });

    it("alpine versions start nats-server from the PATH, in command and preStop", async () => {
        const r = await renderBus("default", { namespace: NS, jetstream: { version: "2.14.4-alpine" } });
        const main = container(r, "main");
        assert.equal(main.image, "nats:2.14.4-alpine");
        assert.deepEqual(main.command, ["nats-server", "--config", "/etc/nats-config/nats-js.conf"]);
        assert.deepEqual(main.lifecycle.preStop.exec.command, ["nats-server", "-sl=ldm=/var/run/nats/nats.pid"]);
    });

    it("images.registry prefixes all three images", async () => {
        const r = await renderBus("default", {
            namespace: NS,
            jetstream: { version: "latest", images: { registry: "registry.example.com/mirror" } },
        });
        assert.equal(container(r, "main").image, "registry.example.com/mirror/nats:2.14.4");
        assert.equal(
            container(r, "reloader").image,
            "registry.example.com/mirror/natsio/nats-server-config-reloader:0.23.0",
        );
        assert.equal(
            container(r, "metrics").image,
            "registry.example.com/mirror/natsio/prometheus-nats-exporter:0.20.1",
        );
    });

    it("images.nats wins over images.registry", async () => {
        const r = await renderBus("default", {
            namespace: NS,
            jetstream: {
                version: "latest",
                images: { registry: "registry.example.com/mirror", nats: "internal.example.com/nats:2.14.4-patched" },
            },
        });
        assert.equal(container(r, "main").image, "internal.example.com/nats:2.14.4-patched");
        assert.equal(
            container(r, "reloader").image,
            "registry.example.com/mirror/natsio/nats-server-config-reloader:0.23.0",
        );
    });
});

describe("container templates", () => {
    let r: RenderedBus;
    const mainSecurity = { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: false };
    const metricsSecurity = {
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        runAsUser: 65534,
    };
    before(async () => {
        r = await renderBus("default", {
            namespace: NS,
            jetstream: {
                version: "latest",
                containerTemplate: {
                    resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } },
                    imagePullPolicy: "Always",
                    securityContext: mainSecurity,
                },
                reloaderContainerTemplate: {
                    resources: { limits: { cpu: "50m", memory: "64Mi" } },
                    imagePullPolicy: "IfNotPresent",
                },
                metricsContainerTemplate: { imagePullPolicy: "Never", securityContext: metricsSecurity },
            },
        });
    });

    it("applies containerTemplate to main", () => {
        const main = container(r, "main");
        assert.deepEqual(main.resources, { requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } });
        assert.equal(main.imagePullPolicy, "Always");
        assert.deepEqual(main.securityContext, mainSecurity);
    });

    it("applies reloaderContainerTemplate to the reloader, keeping the restricted security context", () => {
        const reloader = container(r, "reloader");
        assert.deepEqual(reloader.resources, { limits: { cpu: "50m", memory: "64Mi" } });
        assert.equal(reloader.imagePullPolicy, "IfNotPresent");
        for (const [key, value] of Object.entries(RESTRICTED_CONTAINER)) {
            assert.deepEqual(reloader.securityContext[key], value);
        }
    });

    it("applies metricsContainerTemplate to metrics", () => {
        const metrics = container(r, "metrics");
        assert.equal(metrics.resources, undefined);
        assert.equal(metrics.imagePullPolicy, "Never");
        assert.deepEqual(metrics.securityContext, metricsSecurity);
    });

    it("sets GOMEMLIMIT to 80% of main's 1Gi memory limit: 819MiB", () => {
        assert.deepEqual(envOf(container(r, "main"), "GOMEMLIMIT"), { name: "GOMEMLIMIT", value: "819MiB" });
    });

    it("keeps Argo's variables on main and the reloader next to GOMEMLIMIT", () => {
        const mainEnv = container(r, "main").env.filter((e: any) => e.name !== "GOMEMLIMIT");
        assert.deepEqual(mainEnv, SERVER_ENV);
        assert.deepEqual(
            container(r, "reloader").env.filter((e: any) => e.name !== "GOMEMLIMIT"),
            SERVER_ENV,
        );
    });

    it("sets no GOMEMLIMIT when main has only a memory request", async () => {
        const other = await renderBus("default", {
            namespace: NS,
            jetstream: { version: "latest", containerTemplate: { resources: { requests: { memory: "1Gi" } } } },
        });
        assert.equal(envOf(container(other, "main"), "GOMEMLIMIT"), undefined);
    });
});

describe("pod pass-through fields", () => {
    const affinity = {
        nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                    { matchExpressions: [{ key: "node-role", operator: "In", values: ["messaging"] }] },
                ],
            },
        },
    };
    const tolerations = [{ key: "dedicated", operator: "Equal", value: "nats", effect: "NoSchedule" }];
    const topologySpreadConstraints = [
        {
            maxSkew: 1,
            topologyKey: "topology.kubernetes.io/zone",
            whenUnsatisfiable: "ScheduleAnyway",
            labelSelector: { matchLabels: { "eventbus-name": "default" } },
        },
    ];
    const securityContext = {
        runAsNonRoot: true,
        runAsUser: 2000,
        fsGroup: 3000,
        seccompProfile: { type: "RuntimeDefault" },
    };
    let r: RenderedBus;
    before(async () => {
        r = await renderBus("default", {
            namespace: NS,
            jetstream: {
                version: "latest",
                nodeSelector: { "kubernetes.io/os": "linux" },
                tolerations,
                imagePullSecrets: [{ name: "regcred" }],
                priorityClassName: "messaging-critical",
                priority: 1000000,
                serviceAccountName: "nats",
                securityContext,
                affinity,
                topologySpreadConstraints,
                startArgs: ["-D"],
            },
        });
    });

    it("copies nodeSelector, tolerations and imagePullSecrets", () => {
        assert.deepEqual(podSpec(r).nodeSelector, { "kubernetes.io/os": "linux" });
        assert.deepEqual(podSpec(r).tolerations, tolerations);
        assert.deepEqual(podSpec(r).imagePullSecrets, [{ name: "regcred" }]);
    });

    it("copies priorityClassName, priority and serviceAccountName", () => {
        assert.equal(podSpec(r).priorityClassName, "messaging-critical");
        assert.equal(podSpec(r).priority, 1000000);
        assert.equal(podSpec(r).serviceAccountName, "nats");
    });

    it("replaces the default pod security context with the given one", () => {
        assert.deepEqual(podSpec(r).securityContext, securityContext);
    });

    it("replaces the default anti-affinity with the given affinity", () => {
        assert.deepEqual(podSpec(r).affinity, affinity);
    });

    it("passes topologySpreadConstraints through", () => {
        assert.deepEqual(podSpec(r).topologySpreadConstraints, topologySpreadConstraints);
    });

    it("passes startArgs as main's args", () => {
        assert.deepEqual(container(r, "main").args, ["-D"]);
        assert.deepEqual(container(r, "main").command, ["/nats-server", "--config", "/etc/nats-config/nats-js.conf"]);
    });
});

describe("server configuration options", () => {
    it("maxPayload 8MB becomes max_payload: 8388608", async () => {
        const r = await renderBus("default", { namespace: NS, jetstream: { version: "latest", maxPayload: "8MB" } });
        assert.match(r.configText, /^max_payload: 8388608$/m);
    });

    it("pastes settings into the jetstream block after key and store_dir", async () => {
        const r = await renderBus("default", {
            namespace: NS,
            jetstream: { version: "latest", settings: "max_memory_store: 256MB\nmax_file_store: 2GB\n" },
        });
        assert.deepEqual(jetstreamBlock(r.configText), [
            "key: $JS_KEY",
            'store_dir: "/data/jetstream/store"',
            "max_memory_store: 256MB",
            "max_file_store: 2GB",
        ]);
    });

    it("a longer lame duck gets a longer termination grace period", async () => {
        const r = await renderBus("default", {
            namespace: NS,
            jetstream: { version: "latest", lameDuckDuration: "2m", lameDuckGracePeriod: "20s" },
        });
        assert.match(r.configText, /^lame_duck_duration: "2m"$/m);
        assert.match(r.configText, /^lame_duck_grace_period: "20s"$/m);
        assert.ok(podSpec(r).terminationGracePeriodSeconds > 120, String(podSpec(r).terminationGracePeriodSeconds));
    });

    it("an explicit terminationGracePeriodSeconds is used as given", async () => {
        const r = await renderBus("default", {
            namespace: NS,
            jetstream: { version: "latest", terminationGracePeriodSeconds: 45 },
        });
        assert.equal(podSpec(r).terminationGracePeriodSeconds, 45);
    });

    it("podDisruptionBudget false drops the PodDisruptionBudget", async () => {
        const r = await renderBus("default", {
            namespace: NS,
            jetstream: { version: "latest", podDisruptionBudget: false },
        });
        assert.equal(r.kubernetesObjects().filter((o) => o.kind === "PodDisruptionBudget").length, 0);
    });
});

describe("clusterDomain", () => {
    it("changes the last server SAN and the second route wildcard, not the routes", async () => {
        const r = await renderBus("default", {
            namespace: NS,
            clusterDomain: "corp.example",
            jetstream: { version: "latest" },
        });
        assert.deepEqual(certificateFacts(r.serverSecret.cert).dnsNames, [
            "eventbus-default-js-svc",
            "eventbus-default-js-svc.argo-events",
            "eventbus-default-js-svc.argo-events.svc",
            "eventbus-default-js-svc.argo-events.svc.corp.example",
        ]);
        assert.deepEqual(certificateFacts(r.serverSecret["cluster-cert"]).dnsNames, [
            "*.eventbus-default-js-svc.argo-events.svc",
            "*.eventbus-default-js-svc.argo-events.svc.corp.example",
        ]);
        assert.equal(
            routes(r.configText)[0],
            "nats://eventbus-default-js-0.eventbus-default-js-svc.argo-events.svc:6222",
        );
    });
});

// ---------------------------------------------------------------------------------------------
// The examples, run as programs under the same mocks
// ---------------------------------------------------------------------------------------------

interface ProgramRun {
    exports: any;
    objects: any[];
    /** Inputs of every Stream resource the program registered. */
    streams: any[];
}

/** Requires a compiled Pulumi program under the mocks, recording what it registers. */
async function runProgram(modulePath: string): Promise<ProgramRun> {
    const mocks = testMocks();
    mocks.reset();
    const exports = require(modulePath);
    await resolve(exports.url);
    await rpcSettings.waitForRPCs();
    const objects = mocks.resources
        .filter((x) => KUBERNETES_KINDS[x.type])
        .map((x) => ({
            apiVersion: x.type.split(":")[1].replace(/^core\//, ""),
            kind: KUBERNETES_KINDS[x.type],
            ...x.inputs,
        }));
    const streams = mocks.resources
        .filter((x) => x.type === "pulumi-nodejs:dynamic/jetstream:Stream")
        .map((x) => x.inputs);
    return { exports, objects, streams };
}

function only(objects: any[], kind: string): any {
    const found = objects.filter((o) => o.kind === kind);
    assert.equal(found.length, 1, `one ${kind}`);
    return found[0];
}

describe("examples/simple (Argo's simplest EventBus)", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram("../../examples/simple/index.js");
    });

    it("creates Argo's objects for bus default in argo-events", () => {
        assert.deepEqual(run.objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`).sort(), [
            "ConfigMap argo-events/eventbus-default-js-config",
            "PodDisruptionBudget argo-events/eventbus-default-js-pdb",
            "Secret argo-events/eventbus-default-js-client-auth",
            "Secret argo-events/eventbus-default-js-server",
            "Service argo-events/eventbus-default-js-svc",
            "StatefulSet argo-events/eventbus-default-js",
        ]);
    });

    it("runs a StatefulSet with 3 replicas of nats:2.14.4 on emptyDir storage", () => {
        const sts = only(run.objects, "StatefulSet");
        assert.equal(sts.spec.replicas, 3);
        assert.equal(sts.spec.template.spec.containers[0].image, "nats:2.14.4");
        assert.equal(sts.spec.volumeClaimTemplates, undefined);
    });

    it("exports the client URL and secret name", async () => {
        assert.equal(await resolve(run.exports.url), "nats://eventbus-default-js-svc.argo-events.svc:4222");
        assert.equal(await resolve(run.exports.clientSecretName), "eventbus-default-js-client-auth");
    });
});

describe("examples/involved (Argo's more involved EventBus)", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram("../../examples/involved/index.js");
    });

    it("runs 5 replicas with -D", () => {
        const sts = only(run.objects, "StatefulSet");
        assert.equal(sts.spec.replicas, 5);
        assert.deepEqual(sts.spec.template.spec.containers[0].args, ["-D"]);
    });

    it("claims 10Gi of storage class standard, ReadWriteOnce, per pod", () => {
        const [template] = only(run.objects, "StatefulSet").spec.volumeClaimTemplates;
        assert.equal(template.metadata.name, "eventbus-default-js-vol");
        assert.equal(template.spec.storageClassName, "standard");
        assert.deepEqual(template.spec.accessModes, ["ReadWriteOnce"]);
        assert.deepEqual(template.spec.resources, { requests: { storage: "10Gi" } });
    });

    it("writes max_file_store 1GB from settings and routes to 5 pods", () => {
        const config = only(run.objects, "ConfigMap").data["nats-js"];
        assert.deepEqual(jetstreamBlock(config), [
            "key: $JS_KEY",
            'store_dir: "/data/jetstream/store"',
            "max_file_store: 1GB",
        ]);
        assert.equal(routes(config).length, 5);
    });

    it("keeps the default stream's messages for 24h (streamConfig maxAge) on 3 of the 5 servers", () => {
        assert.equal(run.streams.length, 1);
        assert.equal(run.streams[0].config.name, "default");
        assert.deepEqual(run.streams[0].config.subjects, ["default.*.*"]);
        assert.equal(run.streams[0].config.maxAge, "24h");
        assert.equal(run.streams[0].config.replicas, 3);
        assert.equal(run.streams[0].config.maxMsgs, 50000);
    });
});

describe("the bus's JetStream stream", () => {
    const streamInputs = (r: RenderedBus) => {
        const found = r.resources.filter((x) => x.type === "pulumi-nodejs:dynamic/jetstream:Stream");
        assert.equal(found.length, 1, "one Stream");
        return found[0].inputs;
    };

    it("is a Stream resource reaching the bus by its service name, with the generated credentials and CA", async () => {
        const r = await renderBus("default", { namespace: "argo-events", jetstream: { version: "latest" } });
        const inputs = streamInputs(r);
        assert.deepEqual(inputs.connection, {
            mode: "auto",
            servers: ["nats://eventbus-default-js-svc.argo-events.svc:4222"],
            username: "eventbus",
            password: r.password,
            caCert: await resolve(r.bus.caCert),
            serverName: "eventbus-default-js-svc.argo-events.svc",
            // For a port-forward from outside the cluster: the bus's pods by Argo's labels, port 4222.
            kubernetes: {
                namespace: "argo-events",
                statefulSet: "eventbus-default-js",
                podSelector: { controller: "eventbus-controller", "eventbus-name": "default", "owner-name": "default" },
                port: 4222,
            },
        });
        assert.equal(inputs.serverVersion, "2.14.4");
        assert.equal(inputs.deletionPolicy, "retain");
        assert.equal(inputs.allowDataLoss, false);
        assert.equal(inputs.createTimeout, "5m");
        assert.equal(await resolve(r.bus.streamName), "default");
    });

    it("has Argo's default configuration: default.*.*, 50000 messages, 7 days, R3, 5 minute dedupe, file storage", async () => {
        const r = await renderBus("default", { namespace: "argo-events", jetstream: { version: "latest" } });
        const config = streamInputs(r).config;
        assert.deepEqual(
            {
                name: config.name,
                subjects: config.subjects,
                maxMsgs: config.maxMsgs,
                maxAge: config.maxAge,
                maxBytes: config.maxBytes,
                replicas: config.replicas,
                duplicates: config.duplicates,
                retention: config.retention,
                discard: config.discard,
                storage: config.storage,
            },
            {
                name: "default",
                subjects: ["default.*.*"],
                maxMsgs: 50000,
                maxAge: "168h",
                maxBytes: "unlimited",
                replicas: 3,
                duplicates: "5m",
                retention: "limits",
                discard: "old",
                storage: "file",
            },
        );
    });

    it("is R1 on a 1-replica bus (Argo #2743)", async () => {
        const r = await renderBus("default", {
            namespace: "argo-events",
            jetstream: { version: "latest", replicas: 1 },
        });
        assert.equal(streamInputs(r).config.replicas, 1);
    });

    it("takes the typed settings and lifecycle, and names the stream in the output", async () => {
        const r = await renderBus("default", {
            namespace: "argo-events",
            jetstream: {
                version: "2.10.29",
                streamConfig: "maxAge: 24h\nmaxBytes: 1GB\n",
                stream: { name: "events", maxAge: "48h", compression: "s2" },
                streamLifecycle: { deletionPolicy: "delete", allowDataLoss: true, createTimeout: "10m" },
            },
        });
        const inputs = streamInputs(r);
        assert.equal(inputs.config.name, "events");
        assert.deepEqual(inputs.config.subjects, ["events.*.*"]);
        assert.equal(inputs.config.maxAge, "48h");
        assert.equal(inputs.config.maxBytes, "1GiB", "1GB in nats-server's units is 1024³ bytes");
        assert.equal(inputs.config.compression, "s2");
        assert.equal(inputs.serverVersion, "2.10.29");
        assert.equal(inputs.deletionPolicy, "delete");
        assert.equal(inputs.allowDataLoss, true);
        assert.equal(inputs.createTimeout, "10m");
        assert.equal(await resolve(r.bus.streamName), "events");
    });
});

describe("how the stream provider reaches the bus", () => {
    const connectionOf = (r: RenderedBus) =>
        r.resources.find((x) => x.type === "pulumi-nodejs:dynamic/jetstream:Stream")!.inputs.connection;

    it("keeps an explicit kubeconfig and context for the port-forward, the kubeconfig as a secret", async () => {
        const kubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\n";
        const r = await renderBus("default", {
            namespace: "argo-events",
            jetstream: { version: "latest" },
            connection: { mode: "portForward", kubeconfig, context: "staging" },
        });
        const connection = connectionOf(r);
        assert.equal(connection.mode, "portForward");
        assert.equal(connection.kubernetes.kubeconfig, kubeconfig);
        assert.equal(connection.kubernetes.context, "staging");
    });

    it("connects to explicit servers in direct mode, checking the certificate against the service name unless told otherwise", async () => {
        const r = await renderBus("default", {
            namespace: "argo-events",
            jetstream: { version: "latest" },
            connection: { mode: "direct", servers: ["nats://nats.example.com:4222"] },
        });
        const connection = connectionOf(r);
        assert.equal(connection.mode, "direct");
        assert.deepEqual(connection.servers, ["nats://nats.example.com:4222"]);
        assert.equal(connection.serverName, "eventbus-default-js-svc.argo-events.svc");
        assert.equal(connection.kubernetes, undefined);
        const named = await renderBus("default", {
            namespace: "argo-events",
            jetstream: { version: "latest" },
            connection: { mode: "direct", servers: ["tls://10.0.0.1:4222"], serverName: "eventbus-default-js-svc" },
        });
        assert.equal(connectionOf(named).serverName, "eventbus-default-js-svc");
    });
});

describe("persistence.encryptionKey: a key the user keeps, so data on retained volumes outlives the stack", () => {
    const KEY = "KeptOutsideTheStackForRestores";

    it("goes into the server Secret as a secret, and no key is generated", async () => {
        const r = await renderBus("default", {
            namespace: NS,
            jetstream: { version: "latest", persistence: { volumeSize: "10Gi", encryptionKey: pulumiSecret(KEY) } },
        });
        assert.equal(r.serverSecret.encryption, KEY);
        assert.deepEqual(
            r.resources
                .filter((x) => x.type === "random:index/randomPassword:RandomPassword")
                .map((x) => x.name)
                .sort(),
            ["default-password", "default-system-password"],
        );
        assert.ok(!r.configText.includes(KEY));
    });

    it("a key that resolves later (a config secret) is checked by the same rule when it resolves, naming the field and never the value", () => {
        assert.equal(checkEncryptionKey(KEY, "jetstream.persistence.encryptionKey"), KEY);
        assert.throws(
            () => checkEncryptionKey("9startsWithADigitAndIsLong", "jetstream.persistence.encryptionKey"),
            (err: Error) => {
                assert.equal(
                    err.message,
                    "jetstream.persistence.encryptionKey: must be at least 16 letters (A-Z, a-z) and nothing else; got a value of 26 character(s) with characters other than letters",
                );
                return true;
            },
        );
        assert.throws(
            () => checkEncryptionKey("OnlyFifteenChar", "f"),
            /at least 16 letters.*got a value of 15 character\(s\)$/,
        );
    });
});
