/**
 * Argo's `settings` text is read into entries and written back by the package: what nats-server
 * accepts in the jetstream {} block of the bus's release, in its syntax forms, and nothing that could
 * leave the block. (That nats-server really accepts every rendering is proven with `nats-server -t` in
 * tests/integration/config/settings.test.ts.)
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkSettingsText, renderJetStreamSettings } from "../../../components/config/jetstream-settings";
import { InputError } from "../../../components/check";

const LATEST = "2.14.4";

function rendered(text: string, version = LATEST): string {
    return renderJetStreamSettings(checkSettingsText(text, version, "jetstream.settings"));
}

function refusal(text: string, version = LATEST): InputError {
    try {
        checkSettingsText(text, version, "jetstream.settings");
    } catch (err) {
        assert.ok(err instanceof InputError, String(err));
        assert.equal(err.field, "jetstream.settings");
        return err;
    }
    assert.fail(`accepted: ${JSON.stringify(text)}`);
}

describe("settings that are accepted, and how they are written", () => {
    const cases: [string, string, string][] = [
        ["Argo's default", "max_memory_store: -1\nmax_file_store: 1TB\n", "max_memory_store: -1\nmax_file_store: 1TB"],
        [
            "Argo's involved example, with a trailing comment",
            "max_file_store: 1GB       # see default values\n",
            "max_file_store: 1GB",
        ],
        [
            "= and space separators, // comments",
            "// limits\nmax_memory_store = 256MB\nmax_file_store 5GB // files\n",
            "max_memory_store: 256MB\nmax_file_store: 5GB",
        ],
        [
            "aliases become the canonical keys",
            "max_mem: 1GB\nmax_file: 2GB",
            "max_memory_store: 1GB\nmax_file_store: 2GB",
        ],
        ["keys in upper case, as nats-server lowercases them", "MAX_FILE_STORE: 2GB", "max_file_store: 2GB"],
        [
            "entries separated by ; and ,",
            "max_mem: 1GB; max_file: 2GB, cipher: aes",
            'max_memory_store: 1GB\nmax_file_store: 2GB\ncipher: "aes"',
        ],
        ["decimal suffixes are powers of 1000", "max_file_store: 10G", "max_file_store: 10G"],
        [
            "a quoted size is read as nats-server reads one: powers of 1024",
            'max_file_store: "10G"',
            "max_file_store: 10GB",
        ],
        ["a quoted key", '"max_file_store": 1GB', "max_file_store: 1GB"],
        [
            "the limits block",
            "limits {\n  max_ha_assets: 100\n  duplicate_window: 2m\n}",
            'limits {\n  max_ha_assets: 100\n  duplicate_window: "2m"\n}',
        ],
        [
            "limits on one line",
            "limits { max_ack_pending: 1000, max_request_batch: 50 }",
            "limits {\n  max_ack_pending: 1000\n  max_request_batch: 50\n}",
        ],
        [
            "newer keys on a newer release",
            "sync_interval: always\nstrict: true\nmax_buffered_size: 64MB\nmax_buffered_msgs: 10000\nrequest_queue_limit: 20000",
            'sync_interval: "always"\nstrict: true\nmax_buffered_size: 64MB\nmax_buffered_msgs: 10000\nrequest_queue_limit: 20000',
        ],
        ["a sync interval as a duration", "sync: 1m30s", 'sync_interval: "1m30s"'],
        [
            "a domain and the catch-up limit",
            "domain: hub\nmax_outstanding_catchup: 64MB",
            'domain: "hub"\nmax_outstanding_catchup: 64MB',
        ],
        ["an empty text", "  # nothing\n", ""],
    ];
    for (const [title, text, expected] of cases) {
        it(title, () => assert.equal(rendered(text), expected));
    }

    it("reports the store limits it read", () => {
        const spec = checkSettingsText("max_mem: 1GB\nmax_file: -1", LATEST, "jetstream.settings");
        assert.equal(spec.maxMemoryStoreBytes, 1024 ** 3);
        assert.equal(spec.maxFileStoreBytes, -1);
        assert.equal(checkSettingsText("", LATEST, "f").maxFileStoreBytes, undefined);
    });
});

describe("settings that are refused, naming the line and what is allowed", () => {
    const cases: { title: string; text: string; version?: string; message: RegExp }[] = [
        {
            title: "a closing brace that escapes the block",
            text: "max_memory_store: 1GB\n}\nport: 4333\njetstream {",
            message: /line 2: a closing brace is not allowed: settings are the body of the jetstream \{\} block/,
        },
        {
            title: "a brace right after a value",
            text: "max_memory_store: 1GB }",
            message: /line 1: a closing brace is not allowed/,
        },
        {
            title: "a block opened by another key",
            text: "tls { verify: false }",
            message: /line 1: "tls" cannot hold a block/,
        },
        {
            title: "an unbalanced limits block",
            text: "limits {\nmax_ha_assets: 1\n",
            message: /the limits \{ block is not closed with \}/,
        },
        {
            title: "a top-level option",
            text: "port: 4333",
            message:
                /line 1: "port" is not a setting of the jetstream \{\} block; allowed for nats-server 2\.14\.4: max_memory_store, max_file_store/,
        },
        {
            title: "max_payload, with where it belongs",
            text: "max_payload: 2MB",
            message:
                /"max_payload" is not allowed: it is a top-level server option, not a JetStream setting: set jetstream\.maxPayload instead/,
        },
        {
            title: "a size that is not one",
            text: "max_memory_store: lots",
            message: /line 1: "max_memory_store": "lots" is not a size; use an integer number of bytes/,
        },
        {
            title: "a size with a space",
            text: "max_file_store: 1 GB",
            message: /line 1: unexpected text after the value of "max_file_store"/,
        },
        {
            title: "a quoted size in a form nats-server cannot read",
            text: 'max_file_store: "10GB"',
            message: /"10GB" is not a size; write sizes unquoted/,
        },
        {
            title: "the store directory",
            text: "store_dir: /tmp",
            message: /"store_dir" is not allowed: the bus sets the store directory/,
        },
        {
            title: "the encryption key",
            text: "key: abc",
            message: /"key" is not allowed: the bus generates the encryption key/,
        },
        {
            title: "JetStream switched off",
            text: "enabled: false",
            message: /"enabled" is not allowed: JetStream is always enabled/,
        },
        { title: "unique_tag, which would strand replicated streams", text: "unique_tag: az", message: /server_tags/ },
        { title: "an include", text: "include ./other.conf", message: /line 1: include is not allowed/ },
        { title: "a variable", text: "max_file_store: $SIZE", message: /is a variable; write the value itself/ },
        { title: "a list", text: "domain: [a, b]", message: /"domain" cannot hold a list/ },
        {
            title: "a key set twice through an alias",
            text: "max_file: 1GB\nmax_file_store: 2GB",
            message: /line 2: "max_file_store" is already set on line 1/,
        },
        {
            title: "a 2.10 key on 2.9",
            text: "sync_interval: 1m",
            version: "2.9.25",
            message: /needs nats-server 2\.10\.0 or later, and this bus runs 2\.9\.25/,
        },
        {
            title: "a 2.11 key on 2.10",
            text: "strict: true",
            version: "2.10.29",
            message: /needs nats-server 2\.11\.0 or later/,
        },
        { title: "a typo, with a suggestion", text: "max_file_stor: 1GB", message: /did you mean "max_file_store"\?/ },
        {
            title: "an unknown limit",
            text: "limits { max_streams: 1 }",
            message: /"limits\.max_streams" is not a JetStream limit; allowed in limits \{\}: max_ack_pending/,
        },
        { title: "a duration without a unit", text: "limits { duplicate_window: 120 }", message: /has no unit/ },
        {
            title: "a boolean that is not one",
            text: "strict: yes please",
            message: /unexpected text after the value|is not true or false/,
        },
        { title: "an unknown cipher", text: "cipher: rot13", message: /is not a cipher: chacha or aes/ },
        { title: "a domain with a dot", text: "domain: a.b", message: /is not a JetStream domain/ },
        {
            title: "-1 for a size that has no automatic value",
            text: "max_buffered_size: -1",
            message: /-1 \(automatic\) is allowed only for max_memory_store and max_file_store/,
        },
        { title: "an unclosed quote", text: 'domain: "hub', message: /a quoted string is not closed on its line/ },
    ];
    for (const { title, text, version, message } of cases) {
        it(title, () => assert.match(refusal(text, version).message, message));
    }

    it("never repeats the value of a refused key (it may be a password)", () => {
        const secret = "Sup3rS3cret-Passw0rd";
        for (const text of [
            `authorization { password: ${secret} }`,
            `password: ${secret}`,
            `key: ${secret}`,
            `prev_key: "${secret}"`,
            `token = ${secret}`,
        ]) {
            const message = refusal(text).message;
            assert.ok(!message.includes(secret), message);
        }
    });
});
