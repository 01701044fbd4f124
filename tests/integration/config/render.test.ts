/**
 * Every rendered nats-js.conf is accepted by the real nats-server (`nats-server -t`), on every
 * server release this machine has, with the certificates, auth include and environment the pod gets.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { EventBusArgs } from "../../../components";
import { renderBus } from "../../support/bus";
import { findNatsServers, makeTempDir, removeTempDir, testConfig } from "../../support/nats";
import { localizePaths, podEnv, versionEntryFor } from "../../support/local-layout";

type JetStream = NonNullable<EventBusArgs["jetstream"]>;

const CASES: { title: string; jetstream: Omit<JetStream, "version"> }[] = [
    { title: "1 replica, no persistence", jetstream: { replicas: 1 } },
    { title: "3 replicas (defaults)", jetstream: {} },
    { title: "5 replicas", jetstream: { replicas: 5 } },
    { title: "3 replicas with persistence", jetstream: { persistence: { volumeSize: "10Gi" } } },
    {
        title: "Argo's involved example: settings, persistence, startArgs",
        jetstream: {
            replicas: 5,
            persistence: { storageClassName: "standard", accessMode: "ReadWriteOnce", volumeSize: "10Gi" },
            settings: "max_file_store: 1GB       # see default values\n",
            startArgs: ["-D"],
            streamConfig: "maxAge: 24h\n",
        },
    },
    {
        title: "Argo settings with comments",
        jetstream: { settings: "# limits\nmax_memory_store: 256MB\n// files\nmax_file_store = 5GB\n" },
    },
    {
        title: "typed JetStream settings",
        jetstream: { replicas: 1, jetstreamSettings: { maxMemoryStore: "512MB", maxFileStore: "2TB" } },
    },
    {
        title: "payload and lame duck changed",
        jetstream: { maxPayload: "8MB", lameDuckDuration: "45s", lameDuckGracePeriod: "20s" },
    },
];

const servers = findNatsServers();

describe("rendered nats-js.conf passes nats-server -t", () => {
    it("has at least one nats-server to test with", () => {
        assert.ok(servers.length > 0, "install nats-server (Debian package nats-server)");
    });
    for (const server of servers) {
        const entry = versionEntryFor(server.version);
        if (!entry) {
            it(
                `nats-server ${server.version}`,
                { skip: `no version map entry of the ${server.version} release line` },
                () => {},
            );
            continue;
        }
        describe(`nats-server ${server.version} (version "${entry.version}")`, () => {
            for (const testCase of CASES) {
                it(testCase.title, async () => {
                    const rendered = await renderBus("default", {
                        namespace: "argo-events",
                        jetstream: { version: entry.version, ...testCase.jetstream },
                    });
                    const dir = makeTempDir("eventbus-config");
                    try {
                        fs.mkdirSync(path.join(dir, "store"));
                        writeVolume(rendered, dir);
                        const env = podEnv(rendered.spec, 0, rendered.serverSecret.encryption);
                        const result = await testConfig(server, path.join(dir, "nats-js.conf"), env);
                        assert.ok(
                            result.ok,
                            `nats-server ${server.version} refused the configuration:\n${result.output}\n---\n${rendered.configText}`,
                        );
                        assert.match(result.output, /configuration file .* is valid/);
                    } finally {
                        removeTempDir(dir);
                    }
                });
            }

            it("reads the encryption key from the pod environment", async () => {
                const rendered = await renderBus("default", {
                    namespace: "argo-events",
                    jetstream: { version: entry.version },
                });
                const dir = makeTempDir("eventbus-config");
                try {
                    writeVolume(rendered, dir);
                    const { JS_KEY: _, ...withoutKey } = podEnv(rendered.spec, 0, rendered.serverSecret.encryption);
                    const result = await testConfig(server, path.join(dir, "nats-js.conf"), withoutKey);
                    // Without the variable the server refuses the file: the key is the expanded
                    // variable, not the literal text "$JS_KEY" that a quoted value would be.
                    assert.equal(result.ok, false, result.output);
                    assert.match(result.output, /JS_KEY/);
                } finally {
                    removeTempDir(dir);
                }
            });
        });
    }
});

function writeVolume(rendered: Awaited<ReturnType<typeof renderBus>>, dir: string): void {
    fs.writeFileSync(path.join(dir, "nats-js.conf"), localizePaths(rendered.configText, dir));
    const volume = rendered
        .object("StatefulSet")
        .spec.template.spec.volumes.find((v: { name: string }) => v.name === "config-volume");
    const secret = volume.projected.sources.find((s: { secret?: unknown }) => s.secret).secret;
    for (const item of secret.items) {
        fs.writeFileSync(path.join(dir, item.path), rendered.serverSecret[item.key], { mode: 0o600 });
    }
}
