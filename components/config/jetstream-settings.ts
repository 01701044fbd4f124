/**
 * The body of the `jetstream {}` block of nats-js.conf: Argo's free-text `settings`, read into entries
 * that are checked one by one and written back by this package, so that nothing a user writes can close
 * the block, open another one, reach a top-level option or make the server refuse to start.
 *
 * Pure: text in, checked entries (or an InputError naming the line and the key) out.
 */
import { didYouMean, InputError } from "../check";
import { formatDuration, formatNatsSize, parseDurationMs, parseNatsSize } from "../units";
import { atLeast } from "../versions";

/** How a setting's value is read and written. */
type ValueKind = "size" | "autoSize" | "count" | "duration" | "syncInterval" | "boolean" | "cipher" | "domain";

/** A key nats-server accepts in the `jetstream {}` block (or in its `limits {}` block) and the bus passes on. */
interface SettingRule {
    /** The name written into nats-js.conf. */
    key: string;
    /** Other names nats-server reads as the same setting. */
    aliases?: string[];
    kind: ValueKind;
    /** The first nats-server release that accepts the key; older ones refuse to start on it. */
    since?: string;
}

/**
 * Keys of nats-server's `parseJetStream` (server/opts.go) that a bus may set, with the release that
 * introduced each: 2.9 knows the first five, 2.10.0 added `sync_interval`, 2.10.21
 * `request_queue_limit`, 2.11.0 `strict` and the buffered limits.
 */
const SETTING_RULES: readonly SettingRule[] = [
    { key: "max_memory_store", aliases: ["max_mem_store", "max_mem"], kind: "autoSize" },
    { key: "max_file_store", aliases: ["max_file"], kind: "autoSize" },
    { key: "max_outstanding_catchup", kind: "size" },
    { key: "cipher", kind: "cipher" },
    { key: "domain", kind: "domain" },
    { key: "sync_interval", aliases: ["sync"], kind: "syncInterval", since: "2.10.0" },
    { key: "request_queue_limit", kind: "count", since: "2.10.21" },
    { key: "strict", kind: "boolean", since: "2.11.0" },
    { key: "max_buffered_size", kind: "size", since: "2.11.0" },
    { key: "max_buffered_msgs", kind: "count", since: "2.11.0" },
];

/** Keys of the `limits {}` block (`parseJetStreamLimits`), in every supported release. */
const LIMIT_RULES: readonly SettingRule[] = [
    { key: "max_ack_pending", kind: "count" },
    { key: "max_ha_assets", kind: "count" },
    { key: "max_request_batch", kind: "count" },
    { key: "duplicate_window", kind: "duration" },
];

const LIMITS_KEY = "limits";

const OWNED_STORE = "the bus sets the store directory on its volume itself";
const OWNED_KEY = "the bus generates the encryption key and keeps it in a Secret; it is not set here";
const TUNING = "internal nats-server tuning that this package does not pass on";

/** Keys nats-server knows inside `jetstream {}` that a bus refuses, and why. */
const REFUSED_KEYS: Readonly<Record<string, string>> = {
    store: OWNED_STORE,
    store_dir: OWNED_STORE,
    storedir: OWNED_STORE,
    key: OWNED_KEY,
    ek: OWNED_KEY,
    encryption_key: OWNED_KEY,
    prev_key: OWNED_KEY,
    prev_ek: OWNED_KEY,
    prev_encryption_key: OWNED_KEY,
    enabled: "JetStream is always enabled on a bus",
    enable: "JetStream is always enabled on a bus",
    unique_tag:
        "placing replicas by a unique tag needs server_tags on every server, which the bus does not set: every replicated stream would fail to find peers",
    tpm: "it needs a TPM device in the pod",
    extension_hint: "it is an internal hint of nats-server",
    meta_compact: TUNING,
    meta_compact_size: TUNING,
    meta_compact_sync: TUNING,
    max_concurrent_io: TUNING,
    info_queue_limit: TUNING,
};

/** Top-level server options people paste into `settings`, with where they belong instead. */
const TOP_LEVEL_HINTS: Readonly<Record<string, string>> = {
    max_payload: "set jetstream.maxPayload instead",
    lame_duck_duration: "set jetstream.lameDuckDuration instead",
    lame_duck_grace_period: "set jetstream.lameDuckGracePeriod instead",
};

/** One checked setting, ready to be written as `key: value`. */
export interface JetStreamSetting {
    key: string;
    /** The value as nats-server configuration text. */
    value: string;
}

/** The checked body of the `jetstream {}` block. */
export interface JetStreamSettingsSpec {
    settings: JetStreamSetting[];
    /** Entries of the `limits {}` block; empty for none. */
    limits: JetStreamSetting[];
    /** `max_memory_store` in bytes, -1 for the server's automatic limit. */
    maxMemoryStoreBytes: number;
    /** `max_file_store` in bytes, -1 for automatic, undefined when not set. */
    maxFileStoreBytes?: number;
}

/** A value as written in the text, before its key's rule reads it. */
type RawValue = { form: "bare" | "quoted"; text: string } | { form: "block"; entries: RawEntry[] };

interface RawEntry {
    /** The key as written. */
    key: string;
    value: RawValue;
    line: number;
}

/**
 * Reads `settings` into entries: nats-server's configuration syntax (`key: value`, `key = value`,
 * `key value`; `#` and `//` comments; entries ended by a new line, `;` or `,`; quoted strings), with
 * only one nested block, `limits { ... }`. Anything else that changes the structure (a brace, a list,
 * an include, a variable) is refused, naming the line.
 */
export function readSettingsText(text: string, field: string): RawEntry[] {
    return new SettingsReader(text, field).entries(0);
}

class SettingsReader {
    private position = 0;
    private line = 1;

    constructor(
        private readonly text: string,
        private readonly field: string,
    ) {}

    private fail(problem: string, line = this.line): never {
        throw new InputError(this.field, `line ${line}: ${problem}`);
    }

    private peek(offset = 0): string {
        return this.text[this.position + offset] ?? "";
    }

    private advance(): string {
        const char = this.text[this.position++];
        if (char === "\n") this.line++;
        return char;
    }

    /** Skips spaces and tabs (and new lines, `;` and `,` when `separators`), and comments. */
    private skip(separators: boolean): void {
        for (;;) {
            const char = this.peek();
            if (
                char === " " ||
                char === "\t" ||
                char === "\r" ||
                (separators && (char === "\n" || char === ";" || char === ","))
            ) {
                this.advance();
            } else if (char === "#" || (char === "/" && this.peek(1) === "/")) {
                while (this.position < this.text.length && this.peek() !== "\n") this.advance();
            } else {
                return;
            }
        }
    }

    /** Entries up to the end of the text (depth 0) or the closing brace of a block (depth 1). */
    entries(depth: number): RawEntry[] {
        const entries: RawEntry[] = [];
        for (;;) {
            this.skip(true);
            const char = this.peek();
            if (char === "") {
                if (depth > 0) this.fail("the limits { block is not closed with }");
                return entries;
            }
            if (char === "}") {
                if (depth === 0) {
                    this.fail(
                        "a closing brace is not allowed: settings are the body of the jetstream {} block and cannot close it or open another block (only limits { ... } is a block)",
                    );
                }
                this.advance();
                return entries;
            }
            entries.push(this.entry(depth));
        }
    }

    private entry(depth: number): RawEntry {
        const line = this.line;
        const key = this.key();
        if (key.toLowerCase() === "include") {
            this.fail("include is not allowed: the bus's configuration comes only from its own arguments", line);
        }
        this.skip(false);
        if (this.peek() === ":" || this.peek() === "=") {
            this.advance();
            this.skip(false);
        }
        const value = this.value(key, depth, line);
        this.skip(false);
        const next = this.peek();
        if (next !== "" && next !== "\n" && next !== ";" && next !== "," && next !== "}") {
            this.fail(`unexpected text after the value of "${key}": write one setting per line, as key: value`, line);
        }
        return { key, value, line };
    }

    private key(): string {
        const char = this.peek();
        if (char === '"' || char === "'") {
            const key = this.quoted();
            if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) this.fail("a key must be a name like max_file_store");
            return key;
        }
        if (char === "{" || char === "[") {
            this.fail(`"${char}" is not allowed here: settings are key: value lines (only limits { ... } is a block)`);
        }
        const match = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(this.text.slice(this.position));
        if (!match) {
            this.fail("expected a setting such as max_file_store: 10GB");
        }
        this.position += match[0].length;
        return match[0];
    }

    private value(key: string, depth: number, line: number): RawValue {
        const char = this.peek();
        if (char === "{") {
            if (depth > 0 || key.toLowerCase() !== LIMITS_KEY) {
                this.fail(
                    `"${key}" cannot hold a block: settings are the body of the jetstream {} block and cannot open another one (only limits { ... } is a block)`,
                    line,
                );
            }
            this.advance();
            return { form: "block", entries: this.entries(depth + 1) };
        }
        if (char === "[") {
            this.fail(`"${key}" cannot hold a list`, line);
        }
        if (char === '"' || char === "'") {
            return { form: "quoted", text: this.quoted() };
        }
        if (char === "$") {
            this.fail(`the value of "${key}" is a variable; write the value itself`, line);
        }
        const match = /^[^\s;,#{}[\]"']+/.exec(this.text.slice(this.position));
        if (!match || match[0].startsWith("//")) {
            this.fail(`"${key}" has no value`, line);
        }
        const text = match[0].split("//")[0];
        this.position += text.length;
        return { form: "bare", text };
    }

    /** A quoted string, without escapes: none of the settings needs one. */
    private quoted(): string {
        const line = this.line;
        const quote = this.advance();
        let text = "";
        for (;;) {
            const char = this.peek();
            if (char === "" || char === "\n") this.fail("a quoted string is not closed on its line", line);
            if (char === "\\") this.fail("backslashes are not allowed in a quoted value", line);
            this.advance();
            if (char === quote) return text;
            text += char;
        }
    }
}

function findRule(rules: readonly SettingRule[], key: string): SettingRule | undefined {
    const lower = key.toLowerCase();
    return rules.find((rule) => rule.key === lower || rule.aliases?.includes(lower));
}

function allowedKeys(rules: readonly SettingRule[], serverVersion: string): string[] {
    return rules
        .filter((rule) => rule.since === undefined || atLeast(serverVersion, rule.since))
        .map((rule) => rule.key);
}

/** A size as nats-server reads a quoted string: digits and one of K, M, G, T (powers of 1024). */
function quotedSizeBytes(text: string): number | undefined {
    const match = /^(\d+)([KMGT])$/.exec(text);
    if (!match) return undefined;
    const bytes = Number(match[1]) * 1024 ** ("KMGT".indexOf(match[2]) + 1);
    return Number.isSafeInteger(bytes) ? bytes : undefined;
}

const SIZE_HINT = "write sizes unquoted, e.g. 10GB or 512MB";

/** Runs a unit parser, moving its message under `field` after `where`. */
function parsedWithin<T>(field: string, where: string, parse: (inner: string) => T): T {
    const inner = "value";
    try {
        return parse(inner);
    } catch (err) {
        if (err instanceof InputError) {
            throw new InputError(field, `${where}: ${err.message.slice(inner.length + 2)}`);
        }
        throw err;
    }
}

/** The value of one setting, checked by its rule and written as nats-server reads it. */
function readValue(rule: SettingRule, raw: RawValue, where: string, field: string): { value: string; bytes?: number } {
    if (raw.form === "block") {
        throw new InputError(field, `${where} cannot hold a block`);
    }
    const text = raw.text;
    const fail = (expected: string): never => {
        throw new InputError(field, `${where}: ${JSON.stringify(text)} is not ${expected}`);
    };
    switch (rule.kind) {
        case "size":
        case "autoSize": {
            const bytes =
                raw.form === "quoted"
                    ? (quotedSizeBytes(text) ?? fail(`a size; ${SIZE_HINT}`))
                    : parsedWithin(field, where, (inner) => parseNatsSize(text, inner));
            if (bytes === -1 && rule.kind !== "autoSize")
                fail("a size here: -1 (automatic) is allowed only for max_memory_store and max_file_store");
            return { value: formatNatsSize(bytes), bytes };
        }
        case "count":
            if (raw.form !== "bare" || !/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
                fail("a whole number, e.g. 10000");
            return { value: String(Number(text)) };
        case "duration":
            return {
                value: JSON.stringify(
                    formatDuration(parsedWithin(field, where, (inner) => parseDurationMs(text, inner))),
                ),
            };
        case "syncInterval":
            if (text.toLowerCase() === "always") return { value: '"always"' };
            return {
                value: JSON.stringify(
                    formatDuration(parsedWithin(field, where, (inner) => parseDurationMs(text, inner))),
                ),
            };
        case "boolean":
            if (raw.form !== "bare" || !/^(true|false)$/i.test(text)) fail("true or false");
            return { value: text.toLowerCase() };
        case "cipher":
            if (!/^(chacha|chachapoly|aes)$/i.test(text)) fail("a cipher: chacha or aes");
            return { value: JSON.stringify(text.toLowerCase()) };
        case "domain":
            // nats-server builds the subject $JS.<domain>.API from it: no dots, wildcards or spaces.
            if (!/^[A-Za-z0-9_-]{1,64}$/.test(text)) fail("a JetStream domain: letters, digits, '-' and '_'");
            return { value: JSON.stringify(text) };
    }
}

/**
 * Checks every entry of Argo's `settings` text against what nats-server `serverVersion` accepts in the
 * `jetstream {}` block and what the bus leaves to the user, and returns them normalized: canonical key
 * names, sizes as nats sizes, durations as Go durations. Refused, each naming the line and the key:
 * keys the bus sets itself, top-level server options, keys of newer releases, values of the wrong type
 * or unit, a key set twice, and any structure beyond `limits { ... }`.
 */
export function checkSettingsText(text: string, serverVersion: string, field: string): JetStreamSettingsSpec {
    const settings: JetStreamSetting[] = [];
    const limits: JetStreamSetting[] = [];
    const seen = new Map<string, number>();
    let maxMemoryStoreBytes: number | undefined;
    let maxFileStoreBytes: number | undefined;
    const remember = (key: string, line: number) => {
        const earlier = seen.get(key);
        if (earlier !== undefined) {
            throw new InputError(field, `line ${line}: "${key}" is already set on line ${earlier}; set it once`);
        }
        seen.set(key, line);
    };
    for (const entry of readSettingsText(text, field)) {
        const where = `line ${entry.line}: "${entry.key}"`;
        if (entry.key.toLowerCase() === LIMITS_KEY) {
            if (entry.value.form !== "block") {
                throw new InputError(field, `${where} must be a block, e.g. limits { max_ha_assets: 100 }`);
            }
            remember(LIMITS_KEY, entry.line);
            for (const limit of entry.value.entries) {
                const limitWhere = `line ${limit.line}: "limits.${limit.key}"`;
                const rule = findRule(LIMIT_RULES, limit.key);
                if (!rule) {
                    const known = LIMIT_RULES.map((r) => r.key);
                    throw new InputError(
                        field,
                        `${limitWhere} is not a JetStream limit${didYouMean(limit.key, known)}; allowed in limits {}: ${known.join(", ")}`,
                    );
                }
                remember(`limits.${rule.key}`, limit.line);
                limits.push({ key: rule.key, value: readValue(rule, limit.value, limitWhere, field).value });
            }
            continue;
        }
        const rule = findRule(SETTING_RULES, entry.key);
        const allowed = allowedKeys(SETTING_RULES, serverVersion);
        if (!rule) {
            const lower = entry.key.toLowerCase();
            const reason =
                REFUSED_KEYS[lower] ??
                (TOP_LEVEL_HINTS[lower]
                    ? `it is a top-level server option, not a JetStream setting: ${TOP_LEVEL_HINTS[lower]}`
                    : undefined);
            if (reason) {
                throw new InputError(field, `${where} is not allowed: ${reason}`);
            }
            throw new InputError(
                field,
                `${where} is not a setting of the jetstream {} block${didYouMean(entry.key, [...allowed, LIMITS_KEY])}; allowed for nats-server ${serverVersion}: ${allowed.join(", ")}, limits { ${LIMIT_RULES.map((r) => r.key).join(", ")} }`,
            );
        }
        if (!allowed.includes(rule.key)) {
            throw new InputError(
                field,
                `${where} needs nats-server ${rule.since} or later, and this bus runs ${serverVersion}, which refuses to start on it; allowed for ${serverVersion}: ${allowed.join(", ")}`,
            );
        }
        remember(rule.key, entry.line);
        const { value, bytes } = readValue(rule, entry.value, where, field);
        if (rule.key === "max_memory_store") maxMemoryStoreBytes = bytes;
        if (rule.key === "max_file_store") maxFileStoreBytes = bytes;
        settings.push({ key: rule.key, value });
    }
    return { settings, limits, maxMemoryStoreBytes: maxMemoryStoreBytes ?? -1, maxFileStoreBytes };
}

/** The body of the `jetstream {}` block, one setting a line, in the order given. */
export function renderJetStreamSettings(spec: Pick<JetStreamSettingsSpec, "settings" | "limits">): string {
    const lines = spec.settings.map(({ key, value }) => `${key}: ${value}`);
    if (spec.limits.length > 0) {
        lines.push("limits {", ...spec.limits.map(({ key, value }) => `  ${key}: ${value}`), "}");
    }
    return lines.join("\n");
}
