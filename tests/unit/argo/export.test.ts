/**
 * `argoEvents`: the Argo Events `EventBus` objects (kind `jetstreamExotic`) and client Secret copies an
 * EventBus emits, checked against what Argo's client code reads (https://github.com/argoproj/argo-events,
 * pkg/eventbus/jetstream): `url`, `accessSecret` (a key holding YAML `username:` / `password:`),
 * `tls.caCertSecret`, and a complete `streamConfig` whose values Argo parses with viper
 * (GetInt64 / GetInt / GetDuration, i.e. Go's time.ParseDuration).
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { EventBusArgs, InputError } from "../../../components";
import { testMocks } from "../../support/bus";
import { resolve } from "../../support/mocks";
import { specOfStored } from "../../../components/stream/view";
import {
    ARGO_EVENTBUS_TYPE,
    existingArgoCrd,
    existingSecret,
    parseGoDurationMs,
    ProgramRun,
    runBus,
    SECRET_TYPE,
    STREAM_TYPE,
} from "../../support/exotic";

const ARGO_STREAM_KEYS = ["maxMsgs", "maxAge", "maxBytes", "replicas", "duplicates", "retention", "discard"];
const MANAGED_URL = "nats://eventbus-default-js-svc.argo-events.svc:4222";
const CLIENT_SECRET = "eventbus-default-js-client-auth";

function assertSucceeded(run: ProgramRun): void {
    assert.equal(run.thrown, undefined, String(run.thrown));
    assert.deepEqual(run.failures, []);
}

/** The EventBus objects by namespace. */
function eventBuses(run: ProgramRun): Map<string, any> {
    return new Map(run.byType(ARGO_EVENTBUS_TYPE).map((r) => [r.inputs.metadata.namespace, r.inputs]));
}

/** Secrets the program creates (not reads), as `namespace/name`. */
function createdSecrets(run: ProgramRun): any[] {
    return run
        .byType(SECRET_TYPE)
        .filter((r) => Object.keys(r.inputs).length > 0)
        .map((r) => r.inputs);
}

function secretIn(run: ProgramRun, namespace: string, name: string): any {
    const found = createdSecrets(run).filter((s) => s.metadata.namespace === namespace && s.metadata.name === name);
    assert.equal(found.length, 1, `one Secret ${namespace}/${name}`);
    return found[0];
}

/**
 * Argo's streamConfig as its clients read it: viper keys, case-insensitive; numbers through
 * GetInt64/GetInt (YAML integers), durations through Go's time.ParseDuration, retention 0-2, discard 0-1.
 */
function readArgoStreamConfig(text: string): {
    maxMsgs: number;
    maxAgeMs: number;
    maxBytes: number;
    replicas: number;
    duplicatesMs: number;
    retention: number;
    discard: number;
    raw: Record<string, unknown>;
} {
    const raw = parseYaml(text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(raw).sort(), [...ARGO_STREAM_KEYS].sort(), `exactly Argo's 7 keys:\n${text}`);
    for (const key of ["maxMsgs", "maxBytes", "replicas", "retention", "discard"]) {
        assert.ok(Number.isSafeInteger(raw[key]), `${key} is a YAML integer, got ${JSON.stringify(raw[key])}`);
    }
    for (const key of ["maxAge", "duplicates"]) {
        assert.equal(typeof raw[key], "string", `${key} is a Go duration string, got ${JSON.stringify(raw[key])}`);
        // A bare number would be read as nanoseconds, and "7d" as 0.
        assert.ok(
            parseGoDurationMs(raw[key] as string) !== undefined,
            `${key} ${JSON.stringify(raw[key])} is not accepted by Go's time.ParseDuration`,
        );
    }
    assert.ok([0, 1, 2].includes(raw.retention as number));
    assert.ok([0, 1].includes(raw.discard as number));
    return {
        maxMsgs: raw.maxMsgs as number,
        maxAgeMs: parseGoDurationMs(raw.maxAge as string)!,
        maxBytes: raw.maxBytes as number,
        replicas: raw.replicas as number,
        duplicatesMs: parseGoDurationMs(raw.duplicates as string)!,
        retention: raw.retention as number,
        discard: raw.discard as number,
        raw,
    };
}

const ARGO_DEFAULTS_READ = {
    maxMsgs: 50000,
    maxAgeMs: 168 * 3600_000,
    maxBytes: -1,
    replicas: 3,
    duplicatesMs: 300_000,
    retention: 0,
    discard: 0,
};

function withoutRaw<T extends { raw: unknown }>(value: T): Omit<T, "raw"> {
    const { raw: _raw, ...rest } = value;
    return rest;
}

describe("the Go duration reader of these tests", () => {
    it("follows Go's grammar", () => {
        assert.equal(parseGoDurationMs("168h"), 604_800_000);
        assert.equal(parseGoDurationMs("5m0s"), 300_000);
        assert.equal(parseGoDurationMs("1h30m"), 5_400_000);
        assert.equal(parseGoDurationMs("1.5h"), 5_400_000);
        assert.equal(parseGoDurationMs("0"), 0);
        assert.equal(parseGoDurationMs("7d"), undefined);
        assert.equal(parseGoDurationMs("300"), undefined);
        assert.equal(parseGoDurationMs("5 m"), undefined);
    });
});

describe("argoEvents on a managed bus", () => {
    let run: ProgramRun;
    let password: string;
    let caCert: string;

    before(async () => {
        existingArgoCrd();
        run = await runBus("default", {
            namespace: "argo-events",
            jetstream: { version: "latest" },
            argoEvents: { namespaces: ["argo-events", "team-a", "team-b"] },
        });
        assertSucceeded(run);
        password = (await resolve(run.bus!.password))!;
        caCert = (await resolve(run.bus!.caCert))!;
    });

    it("emits one EventBus per namespace, each exactly Argo's jetstreamExotic shape", () => {
        const buses = eventBuses(run);
        assert.deepEqual([...buses.keys()].sort(), ["argo-events", "team-a", "team-b"]);
        for (const [ns, eb] of buses) {
            assert.deepEqual(Object.keys(eb).sort(), ["apiVersion", "kind", "metadata", "spec"]);
            assert.equal(eb.apiVersion, "argoproj.io/v1alpha1");
            assert.equal(eb.kind, "EventBus");
            assert.equal(eb.metadata.name, "default");
            assert.equal(eb.metadata.namespace, ns);
            const { streamConfig, ...rest } = eb.spec.jetstreamExotic;
            assert.deepEqual(Object.keys(eb.spec), ["jetstreamExotic"]);
            assert.deepEqual(rest, {
                url: MANAGED_URL,
                accessSecret: { name: CLIENT_SECRET, key: "client-auth" },
                tls: { caCertSecret: { name: CLIENT_SECRET, key: "ca.crt" } },
            });
            assert.equal(typeof streamConfig, "string");
        }
    });

    it("writes the complete default streamConfig with Argo's keys and value formats", () => {
        for (const eb of eventBuses(run).values()) {
            assert.deepEqual(
                withoutRaw(readArgoStreamConfig(eb.spec.jetstreamExotic.streamConfig)),
                ARGO_DEFAULTS_READ,
            );
        }
    });

    it("describes the stream the bus really creates", () => {
        const config = specOfStored(run.byType(STREAM_TYPE)[0].inputs.config);
        const read = readArgoStreamConfig(eventBuses(run).get("team-a").spec.jetstreamExotic.streamConfig);
        assert.equal(read.maxMsgs, config.maxMsgs);
        assert.equal(read.maxAgeMs, config.maxAgeMs);
        assert.equal(read.maxBytes, config.maxBytes);
        assert.equal(read.replicas, config.replicas);
        assert.equal(read.duplicatesMs, config.duplicatesMs);
    });

    it("copies the client Secret into every other namespace, with Argo's YAML and the CA", () => {
        for (const ns of ["team-a", "team-b"]) {
            const secret = secretIn(run, ns, CLIENT_SECRET);
            assert.equal(secret.type, "Opaque");
            assert.deepEqual(Object.keys(secret.stringData).sort(), ["ca.crt", "client-auth"]);
            assert.deepEqual(parseYaml(secret.stringData["client-auth"]), { username: "eventbus", password });
            assert.equal(secret.stringData["ca.crt"], caCert);
        }
    });

    it("does not copy it into the bus's own namespace, where the bus's client Secret has the referenced keys", () => {
        const own = createdSecrets(run).filter(
            (s) => s.metadata.namespace === "argo-events" && s.metadata.name === CLIENT_SECRET,
        );
        assert.equal(own.length, 1, "only the bus's own client Secret");
        assert.deepEqual(parseYaml(own[0].stringData["client-auth"]), { username: "eventbus", password });
        assert.equal(own[0].stringData["ca.crt"], caCert);
        assert.equal(run.byType(SECRET_TYPE).filter((r) => r.name.includes("argo-argo-events")).length, 0);
    });

    it("reads the Argo CRD first", () => {
        const crdReads = run.resources.filter((r) => r.id === "eventbuses.argoproj.io");
        assert.equal(crdReads.length, 1);
    });
});

describe("streamConfig of the EventBus follows the bus's stream", () => {
    before(() => existingArgoCrd());

    it("a 1-server bus: replicas 1", async () => {
        const run = await runBus("default", {
            namespace: "argo-events",
            jetstream: { version: "latest", replicas: 1 },
            argoEvents: { namespaces: ["team-a"] },
        });
        assertSucceeded(run);
        assert.deepEqual(
            withoutRaw(readArgoStreamConfig(eventBuses(run).get("team-a").spec.jetstreamExotic.streamConfig)),
            { ...ARGO_DEFAULTS_READ, replicas: 1 },
        );
    });

    it("every Argo key changed, including sizes and durations written in units", async () => {
        const run = await runBus("default", {
            namespace: "argo-events",
            jetstream: {
                version: "latest",
                streamConfig:
                    "maxMsgs: 1000\nmaxAge: 36h30m\nmaxBytes: 1048576\nreplicas: 1\nduplicates: 1500ms\nretention: 1\ndiscard: 1\n",
            },
            argoEvents: { namespaces: ["team-a"] },
        });
        assertSucceeded(run);
        assert.deepEqual(
            withoutRaw(readArgoStreamConfig(eventBuses(run).get("team-a").spec.jetstreamExotic.streamConfig)),
            {
                maxMsgs: 1000,
                maxAgeMs: 36.5 * 3600_000,
                maxBytes: 1048576,
                replicas: 1,
                duplicatesMs: 1500,
                retention: 1,
                discard: 1,
            },
        );
    });

    it("typed settings (a size with a unit, unlimited age) come out as Argo's integers and durations", async () => {
        const run = await runBus("default", {
            namespace: "argo-events",
            jetstream: { version: "latest", stream: { maxBytes: "1GB", maxAge: "0s", maxMsgs: -1, duplicates: "2m" } },
            argoEvents: { namespaces: ["team-a"] },
        });
        assertSucceeded(run);
        const read = readArgoStreamConfig(eventBuses(run).get("team-a").spec.jetstreamExotic.streamConfig);
        const config = specOfStored(run.byType(STREAM_TYPE)[0].inputs.config);
        assert.equal(read.maxBytes, config.maxBytes);
        assert.ok(read.maxBytes >= 1_000_000_000, `1GB written as ${read.maxBytes} bytes`);
        assert.equal(read.maxAgeMs, 0);
        assert.equal(read.maxMsgs, -1);
        assert.equal(read.duplicatesMs, 120_000);
    });

    it(
        "Go's own time.ParseDuration accepts every duration written",
        { skip: goBinary() === undefined ? "no Go toolchain" : false },
        async () => {
            const samples: string[] = [];
            for (const streamConfig of [
                "",
                "maxAge: 36h30m\nduplicates: 1500ms\nreplicas: 1\n",
                "maxAge: 90s\nduplicates: 90s\nreplicas: 1\n",
                "maxAge: 0s\nreplicas: 1\n",
            ]) {
                const run = await runBus("default", {
                    namespace: "argo-events",
                    jetstream: { version: "latest", replicas: 1, streamConfig },
                    argoEvents: { namespaces: ["team-a"] },
                });
                assertSucceeded(run);
                const raw = readArgoStreamConfig(eventBuses(run).get("team-a").spec.jetstreamExotic.streamConfig).raw;
                samples.push(raw.maxAge as string, raw.duplicates as string);
            }
            const fromGo = goParseDurationsMs(samples);
            assert.deepEqual(
                fromGo,
                samples.map((s) => parseGoDurationMs(s)),
            );
        },
    );
});

describe("argoEvents on an exotic bus", () => {
    const URL = "nats://nats.shared.svc:4222";
    before(() => existingArgoCrd());

    it("points every namespace at the server, with a copy of the credentials and CA in Argo's format", async () => {
        existingSecret("team-a", "nats-creds", { auth: "username: alice\npassword: wonderland\n" });
        existingSecret("team-a", "nats-ca", { "ca.crt": "CA PEM\n" });
        const run = await runBus("shared", {
            namespace: "team-a",
            jetstreamExotic: {
                url: URL,
                accessSecret: { name: "nats-creds", key: "auth" },
                tls: { caCertSecret: { name: "nats-ca", key: "ca.crt" } },
                streamConfig: "",
            },
            argoEvents: { namespaces: ["team-a", "team-b"], eventBusName: "shared" },
        });
        assertSucceeded(run);
        const buses = eventBuses(run);
        assert.deepEqual([...buses.keys()].sort(), ["team-a", "team-b"]);
        for (const [ns, eb] of buses) {
            assert.equal(eb.metadata.name, "shared");
            const { streamConfig, ...rest } = eb.spec.jetstreamExotic;
            assert.deepEqual(rest, {
                url: URL,
                accessSecret: { name: "eventbus-shared-js-client-auth", key: "client-auth" },
                tls: { caCertSecret: { name: "eventbus-shared-js-client-auth", key: "ca.crt" } },
            });
            // Argo would create the stream with no limits and R1 from an empty streamConfig (#3549): the copy is
            // complete.
            assert.deepEqual(withoutRaw(readArgoStreamConfig(streamConfig)), ARGO_DEFAULTS_READ);
            const secret = secretIn(run, ns, "eventbus-shared-js-client-auth");
            assert.deepEqual(parseYaml(secret.stringData["client-auth"]), {
                username: "alice",
                password: "wonderland",
            });
            assert.equal(secret.stringData["ca.crt"], "CA PEM\n");
        }
    });

    it("a plaintext server gets no tls block and no ca.crt; username/password inputs still become Argo's YAML", async () => {
        const run = await runBus("shared", {
            namespace: "team-a",
            jetstreamExotic: { url: URL, username: "bob", password: "builder", streamConfig: "replicas: 1\n" },
            argoEvents: { namespaces: ["team-b"] },
        });
        assertSucceeded(run);
        const eb = eventBuses(run).get("team-b");
        assert.equal(eb.metadata.name, "default");
        const { streamConfig, ...rest } = eb.spec.jetstreamExotic;
        assert.deepEqual(rest, {
            url: URL,
            accessSecret: { name: "eventbus-shared-js-client-auth", key: "client-auth" },
        });
        assert.equal(readArgoStreamConfig(streamConfig).replicas, 1);
        const secret = secretIn(run, "team-b", "eventbus-shared-js-client-auth");
        assert.deepEqual(Object.keys(secret.stringData), ["client-auth"]);
        assert.deepEqual(parseYaml(secret.stringData["client-auth"]), { username: "bob", password: "builder" });
    });

    it("a server without authentication gets no accessSecret", async () => {
        const run = await runBus("shared", {
            namespace: "team-a",
            jetstreamExotic: { url: URL },
            argoEvents: { namespaces: ["team-b"] },
        });
        assertSucceeded(run);
        const { streamConfig: _s, ...rest } = eventBuses(run).get("team-b").spec.jetstreamExotic;
        assert.deepEqual(rest, { url: URL });
    });

    it(
        "the client-auth YAML keeps credentials that Go's yaml.v3 (Argo's viper) would read as numbers or dates as strings",
        {},
        async () => {
            for (const password of ["1_000", "0b101", "2001-12-14"]) {
                const run = await runBus("shared", {
                    namespace: "team-a",
                    jetstreamExotic: { url: URL, username: "1_2", password },
                    argoEvents: { namespaces: ["team-b"] },
                });
                assertSucceeded(run);
                const text = secretIn(run, "team-b", "eventbus-shared-js-client-auth").stringData["client-auth"];
                // YAML 1.1 resolves these plain scalars the way yaml.v3 does: only quoting keeps them strings.
                assert.deepEqual(parseYaml(text, { version: "1.1" }), { username: "1_2", password }, text);
            }
        },
    );

    it(
        "insecureSkipVerify is written as an explicit tls block (behaves the same before and after Argo #4114)",
        {},
        async () => {
            const run = await runBus("shared", {
                namespace: "team-a",
                jetstreamExotic: { url: URL, tls: { insecureSkipVerify: true } },
                argoEvents: { namespaces: ["team-b"] },
            });
            assertSucceeded(run);
            assert.deepEqual(eventBuses(run).get("team-b").spec.jetstreamExotic.tls, { insecureSkipVerify: true });
        },
    );

    it(
        "a client certificate reaches Argo's clients (tls.clientCertSecret / clientKeySecret pointing at keys that exist in the namespace)",
        {},
        async () => {
            existingSecret("team-a", "nats-tls", { "ca.crt": "CA PEM", "tls.crt": "CERT PEM", "tls.key": "KEY PEM" });
            const run = await runBus("shared", {
                namespace: "team-a",
                jetstreamExotic: {
                    url: URL,
                    tls: {
                        caCertSecret: { name: "nats-tls", key: "ca.crt" },
                        clientCertSecret: { name: "nats-tls", key: "tls.crt" },
                        clientKeySecret: { name: "nats-tls", key: "tls.key" },
                    },
                },
                argoEvents: { namespaces: ["team-b"] },
            });
            assertSucceeded(run);
            const tls = eventBuses(run).get("team-b").spec.jetstreamExotic.tls;
            assert.ok(tls?.clientCertSecret && tls?.clientKeySecret, JSON.stringify(tls));
            const certSecret = secretIn(run, "team-b", tls.clientCertSecret.name);
            const keySecret = secretIn(run, "team-b", tls.clientKeySecret.name);
            assert.equal(certSecret.stringData[tls.clientCertSecret.key], "CERT PEM");
            assert.equal(keySecret.stringData[tls.clientKeySecret.key], "KEY PEM");
        },
    );
});

describe("argoEvents failures", () => {
    it("a cluster without Argo's EventBus CRD fails the program naming eventbuses.argoproj.io", async () => {
        testMocks().clearExisting();
        const run = await runBus("default", {
            namespace: "argo-events",
            jetstream: { version: "latest" },
            argoEvents: { namespaces: ["team-a"] },
        });
        assert.equal(run.thrown, undefined);
        assert.ok(run.failures.length > 0, "the program fails");
        assert.match(run.failures.join("\n"), /eventbuses\.argoproj\.io/);
        assert.deepEqual(run.byType(ARGO_EVENTBUS_TYPE), [], "no EventBus is registered");
    });

    it("a cluster without the CRD gets no Secret copies either", {}, async () => {
        testMocks().clearExisting();
        const run = await runBus("default", {
            namespace: "argo-events",
            jetstream: { version: "latest" },
            argoEvents: { namespaces: ["team-a"] },
        });
        assert.ok(run.failures.length > 0);
        assert.deepEqual(
            createdSecrets(run).filter((s) => s.metadata.namespace === "team-a"),
            [],
        );
    });

    const refused: { what: string; args: unknown; field: string; allowed: RegExp }[] = [
        {
            what: "a renamed stream on a managed bus",
            args: {
                namespace: "argo-events",
                jetstream: { version: "latest", stream: { name: "events" } },
                argoEvents: { namespaces: ["team-a"] },
            },
            field: "argoEvents",
            allowed: /stream "default" with subjects "default\.\*\.\*"/,
        },
        {
            what: "a renamed stream on an exotic bus",
            args: {
                namespace: "team-a",
                jetstreamExotic: { url: "nats://n:4222", stream: { name: "team-a", subjects: ["team-a.*.*"] } },
                argoEvents: { namespaces: ["team-a"] },
            },
            field: "argoEvents",
            allowed: /"team-a"/,
        },
        {
            what: "other subjects only",
            args: {
                namespace: "argo-events",
                jetstream: { version: "latest", stream: { subjects: ["default.>"] } },
                argoEvents: { namespaces: ["team-a"] },
            },
            field: "argoEvents",
            allowed: /default\.\*\.\*/,
        },
        {
            what: "a namespace listed twice",
            args: {
                namespace: "argo-events",
                jetstream: { version: "latest" },
                argoEvents: { namespaces: ["team-a", "team-b", "team-a"] },
            },
            field: "argoEvents.namespaces[2]",
            allowed: /listed twice/,
        },
        {
            what: "no namespaces",
            args: { namespace: "argo-events", jetstream: { version: "latest" }, argoEvents: { namespaces: [] } },
            field: "argoEvents.namespaces",
            allowed: /at least one namespace/,
        },
        {
            what: "a bad namespace",
            args: {
                namespace: "argo-events",
                jetstream: { version: "latest" },
                argoEvents: { namespaces: ["Team_A"] },
            },
            field: "argoEvents.namespaces[0]",
            allowed: /not a valid namespace/,
        },
        {
            what: "a bad eventBusName",
            args: {
                namespace: "argo-events",
                jetstream: { version: "latest" },
                argoEvents: { namespaces: ["a"], eventBusName: "Bus!" },
            },
            field: "argoEvents.eventBusName",
            allowed: /not a valid Kubernetes object name/,
        },
        {
            what: "an unknown field",
            args: { namespace: "argo-events", jetstream: { version: "latest" }, argoEvents: { namespace: ["a"] } },
            field: "argoEvents.namespace",
            allowed: /unknown field/,
        },
    ];
    for (const bad of refused) {
        it(`${bad.what} is refused at ${bad.field} before anything is registered`, async () => {
            const run = await runBus("default", bad.args as EventBusArgs);
            assert.ok(run.thrown instanceof InputError, `expected an InputError, got ${String(run.thrown)}`);
            assert.equal(run.thrown.field, bad.field, run.thrown.message);
            assert.match(run.thrown.message, bad.allowed);
            assert.deepEqual(run.resources, []);
        });
    }
});

// ---------------------------------------------------------------------------
// Go's time.ParseDuration, when a Go toolchain is at hand
// ---------------------------------------------------------------------------

function goBinary(): string | undefined {
    for (const dir of [...(process.env.PATH ?? "").split(path.delimiter), "/usr/local/go/bin"]) {
        const candidate = path.join(dir, "go");
        try {
            fs.accessSync(candidate, fs.constants.X_OK);
            return candidate;
        } catch {
            // next
        }
    }
    return undefined;
}

function goParseDurationsMs(samples: string[]): (number | undefined)[] {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "go-duration-"));
    try {
        const file = path.join(dir, "main.go");
        fs.writeFileSync(
            file,
            'package main\n\nimport (\n\t"fmt"\n\t"os"\n\t"time"\n)\n\nfunc main() {\n\tfor _, a := range os.Args[1:] {\n\t\td, err := time.ParseDuration(a)\n\t\tif err != nil {\n\t\t\tfmt.Println("error")\n\t\t} else {\n\t\t\tfmt.Println(d.Milliseconds())\n\t\t}\n\t}\n}\n',
        );
        const out = execFileSync(goBinary()!, ["run", file, ...samples], {
            encoding: "utf8",
            timeout: 120_000,
            cwd: dir,
            env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "" },
        });
        return out
            .trim()
            .split("\n")
            .map((line) => (line === "error" ? undefined : Number(line)));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
