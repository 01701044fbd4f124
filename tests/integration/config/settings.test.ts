/**
 * What the package accepts in `jetstream.settings` and `jetstream.startArgs`, the real nats-server
 * accepts (`nats-server -t`), on every release this machine has; and the release gates of the settings
 * are real: an older server refuses a key the package refuses for it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { checkSettingsText, renderJetStreamSettings } from "../../../components/config/jetstream-settings";
import { checkStartArgs } from "../../../components/config/start-args";
import { InputError } from "../../../components/check";
import { atLeast } from "../../../components/versions";
import { findNatsServers, makeTempDir, NatsServerBinary, removeTempDir, testConfig } from "../../support/nats";

const servers = findNatsServers();

/** A configuration with the rendered settings in the jetstream block, as the bus writes it. */
function configWith(dir: string, settingsBody: string): string {
    const file = path.join(dir, `nats-${Math.random().toString(36).slice(2)}.conf`);
    const body = settingsBody
        .split("\n")
        .map((line) => `  ${line}`)
        .join("\n");
    fs.writeFileSync(
        file,
        `server_name: t\nport: -1\njetstream {\n  key: $JS_KEY\n  store_dir: ${JSON.stringify(dir)}\n${body}\n}\n`,
    );
    return file;
}

const ENV = { JS_KEY: "abcdefghijklmnopqrstuvwxyzABCDEF" };

async function serverAccepts(
    server: NatsServerBinary,
    dir: string,
    settingsBody: string,
    args: string[] = [],
): Promise<void> {
    const result = await testConfig(server, configWith(dir, settingsBody), ENV, args);
    // Exit status 0 alone proves nothing: nats-server exits 0 after printing its usage for an unknown flag.
    assert.ok(
        result.ok && /configuration file .* is valid/.test(result.output),
        `nats-server ${server.version} refused:\n${result.output}\n--- settings:\n${settingsBody}\n--- args: ${JSON.stringify(args)}`,
    );
}

/** A key the test knows, with values in the forms users write, and the release that introduced it. */
interface KeyCase {
    names: string[];
    values: fc.Arbitrary<string>;
    since?: string;
}

const size = fc.oneof(
    fc
        .integer({ min: 1, max: 4096 })
        .chain((n) =>
            fc.constantFrom(`${n}MB`, `${n}mb`, `${n}M`, `${n}KiB`, `${n}k`, `"${n}M"`, `${n}Gi`, String(n * 1024)),
        ),
);
const count = fc.integer({ min: 1, max: 1_000_000 }).map(String);
const duration = fc
    .integer({ min: 1, max: 600 })
    .chain((n) => fc.constantFrom(`${n}s`, `${n}m`, `${n}ms`, `"${n}s"`, `1h${n}m`));

const KEYS: KeyCase[] = [
    { names: ["max_memory_store", "max_mem_store", "max_mem"], values: fc.oneof(size, fc.constant("-1")) },
    { names: ["max_file_store", "max_file"], values: fc.oneof(size, fc.constant("-1")) },
    { names: ["max_outstanding_catchup"], values: size },
    { names: ["cipher"], values: fc.constantFrom("chacha", "aes", '"aes"', "ChaCha", "chachapoly") },
    { names: ["domain"], values: fc.constantFrom("hub", '"leaf-1"', "edge_2") },
    {
        names: ["sync_interval", "sync"],
        values: fc.oneof(duration, fc.constantFrom("always", '"always"')),
        since: "2.10.0",
    },
    { names: ["request_queue_limit"], values: count, since: "2.10.21" },
    { names: ["strict"], values: fc.constantFrom("true", "false", "TRUE"), since: "2.11.0" },
    { names: ["max_buffered_size"], values: size, since: "2.11.0" },
    { names: ["max_buffered_msgs"], values: count, since: "2.11.0" },
];

const LIMITS: KeyCase[] = [
    { names: ["max_ack_pending"], values: count },
    { names: ["max_ha_assets"], values: count },
    { names: ["max_request_batch"], values: count },
    { names: ["duplicate_window"], values: duration },
];

function line(key: KeyCase): fc.Arbitrary<string> {
    return fc
        .tuple(
            fc.constantFrom(...key.names),
            fc.constantFrom(": ", " = ", " ", ":"),
            key.values,
            fc.constantFrom("", "  # why", " // why"),
            fc.boolean(),
        )
        .map(
            ([name, separator, value, comment, upper]) =>
                `${upper ? name.toUpperCase() : name}${separator}${value}${comment}`,
        );
}

/** Settings text with a random subset of the keys `version` knows, each once, and maybe a limits block. */
function settingsText(version: string): fc.Arbitrary<string> {
    const known = KEYS.filter((key) => key.since === undefined || atLeast(version, key.since));
    return fc
        .tuple(
            fc.subarray(known, { minLength: 1 }).chain((keys) => fc.tuple(...keys.map((key) => line(key)))),
            fc.subarray(LIMITS).chain((keys) => fc.tuple(...keys.map((key) => line(key)))),
            fc.constantFrom("\n", ";\n", ",\n"),
        )
        .map(([lines, limits, separator]) =>
            [...lines, ...(limits.length > 0 ? [`limits {\n  ${limits.join("\n  ")}\n}`] : [])].join(separator),
        );
}

describe("settings the package accepts pass nats-server -t", () => {
    it("has at least one nats-server to test with", () =>
        assert.ok(servers.length > 0, "install nats-server (Debian package nats-server)"));
    for (const server of servers) {
        describe(`nats-server ${server.version}`, () => {
            it("every key the package allows for the release, in every syntax form (30 random texts)", async () => {
                const dir = makeTempDir("eventbus-settings");
                try {
                    const samples = fc.sample(settingsText(server.version), { numRuns: 30, seed: 20261130 });
                    const written = new Set(
                        samples.flatMap((text) => [...text.toLowerCase().matchAll(/^\s*([a-z_]+)/gm)].map((m) => m[1])),
                    );
                    for (const key of [...KEYS, ...LIMITS].filter(
                        (k) => k.since === undefined || atLeast(server.version, k.since),
                    )) {
                        assert.ok(
                            key.names.some((name) => written.has(name)),
                            `no sample sets ${key.names[0]}`,
                        );
                    }
                    for (const text of samples) {
                        const body = renderJetStreamSettings(
                            checkSettingsText(text, server.version, "jetstream.settings"),
                        );
                        await serverAccepts(server, dir, body);
                    }
                } finally {
                    removeTempDir(dir);
                }
            });

            it("a key of a newer release is refused by the package, and by this server when written anyway", async () => {
                const dir = makeTempDir("eventbus-settings");
                try {
                    const newer = KEYS.filter((key) => key.since !== undefined && !atLeast(server.version, key.since));
                    for (const key of newer) {
                        const text = `${key.names[0]}: ${fc.sample(key.values, { numRuns: 1, seed: 1 })[0]}`;
                        assert.throws(
                            () => checkSettingsText(text, server.version, "jetstream.settings"),
                            (err: unknown) => err instanceof InputError && /needs nats-server/.test(err.message),
                        );
                        const result = await testConfig(server, configWith(dir, text), ENV);
                        assert.equal(
                            result.ok,
                            false,
                            `nats-server ${server.version} accepted ${text}, which the package refuses for it`,
                        );
                        assert.match(result.output, /unknown field/);
                    }
                    const known = KEYS.filter((key) => key.since === undefined || atLeast(server.version, key.since));
                    assert.equal(newer.length + known.length, KEYS.length);
                } finally {
                    removeTempDir(dir);
                }
            });

            it("the texts the package refuses for breaking the block would not even be read as settings", async () => {
                const dir = makeTempDir("eventbus-settings");
                try {
                    // Unchecked, the first text ends the jetstream block and sets a top-level port: the
                    // server accepts it, which is why the package reads the text itself.
                    const escape = "max_memory_store: 1GB\n}\nport: 4333\njetstream {";
                    assert.throws(() => checkSettingsText(escape, server.version, "jetstream.settings"), InputError);
                    assert.ok(
                        (await testConfig(server, configWith(dir, escape), ENV)).ok,
                        "the unchecked escape was expected to be accepted by the server",
                    );
                    for (const crash of [
                        "port: 4333",
                        "max_payload: 2MB",
                        "max_memory_store: lots",
                        "tls { verify: false }",
                    ]) {
                        assert.throws(() => checkSettingsText(crash, server.version, "jetstream.settings"), InputError);
                        assert.equal(
                            (await testConfig(server, configWith(dir, crash), ENV)).ok,
                            false,
                            `nats-server ${server.version} accepted ${crash}`,
                        );
                    }
                } finally {
                    removeTempDir(dir);
                }
            });

            it("every start flag form the package allows", async () => {
                const dir = makeTempDir("eventbus-settings");
                try {
                    const allowed = [
                        ["-D"],
                        ["-V"],
                        ["-DV"],
                        ["-DVV"],
                        ["-VV"],
                        ["--debug", "--trace"],
                        ["--debug=false"],
                        ["-T=false"],
                        ["--logtime=true"],
                        ["--max_traced_msg_len", "256"],
                        ["--max_traced_msg_len=64"],
                        ["-r", "udp://127.0.0.1:514"],
                        ["--remote_syslog=tcp://127.0.0.1:601"],
                    ];
                    for (const args of allowed) {
                        checkStartArgs(args);
                        await serverAccepts(server, dir, "", args);
                    }
                    // And the server itself does not run with what the package refuses as unknown: it prints
                    // its usage and exits (with status 0, so a pod would restart forever).
                    for (const args of [["-D; rm -rf /"], ["--bogus"]]) {
                        assert.throws(() => checkStartArgs(args), InputError);
                        const result = await testConfig(server, configWith(dir, ""), ENV, args);
                        assert.match(result.output, /flag provided but not defined/);
                        assert.doesNotMatch(result.output, /is valid/);
                    }
                } finally {
                    removeTempDir(dir);
                }
            });
        });
    }
});
