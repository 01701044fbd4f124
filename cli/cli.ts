#!/usr/bin/env node
/**
 * `jetstream-eventbus local` runs a bus on this machine; `jetstream-eventbus render` writes what it
 * deploys as files. Both take the root program's input: Pulumi.yaml's configuration (plus a stack
 * file), or an Argo EventBus manifest.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { didYouMean, InputError } from "../components/check";
import { captureEventBus } from "./capture";
import { renderFiles, renderMultiDocument } from "./render";
import { LocalError, runLocalBus } from "./run";
import { busFromStackConfig, STACK_CONFIG_KEYS, StackConfig } from "../components/stack-config";

const USAGE = `usage:
  jetstream-eventbus local  [--manifest FILE | --stack FILE] [--project FILE] [--dir DIR] [--keep] [--port N]
  jetstream-eventbus render [--manifest FILE | --stack FILE] [--project FILE] [--out DIR] [--format yaml]

Input: the bus of Pulumi.yaml's configuration (--project, default ./Pulumi.yaml), overlaid by a stack
file (--stack Pulumi.dev.yaml), or an Argo EventBus manifest (--manifest eventbus.yaml).
local:  runs one nats-server per replica, creates the stream, prints how to connect; Ctrl-C stops it.
        --dir keeps files there, --keep keeps data and credentials for the next run, --port sets the
        first client port (default 4222).
render: writes every Kubernetes object, nats-js.conf and the stream configuration into --out
        (default ./rendered), secrets replaced by a marker; --format yaml prints one YAML stream.`;

/** The options of each command, as in USAGE. */
const OPTIONS: Record<"local" | "render", string[]> = {
    local: ["--manifest FILE", "--stack FILE", "--project FILE", "--dir DIR", "--keep", "--port N"],
    render: ["--manifest FILE", "--stack FILE", "--project FILE", "--out DIR", "--format yaml"],
};

/** Command-line options. */
interface Options {
    command: string;
    manifest?: string;
    stack?: string;
    project?: string;
    dir?: string;
    out?: string;
    keep: boolean;
    port?: number;
    format?: string;
}

/** Parses argv (without node and the script). */
export function parseArgs(argv: string[]): Options {
    const [command, ...rest] = argv;
    if (command !== "local" && command !== "render") {
        throw new InputError(
            "command",
            command === undefined
                ? "missing; use local or render"
                : `"${command}" is not a command; use local or render`,
        );
    }
    const options: Options = { command, keep: false };
    for (let i = 0; i < rest.length; i++) {
        const flag = rest[i];
        const value = () => {
            const v = rest[++i];
            if (v === undefined) throw new InputError(flag, "needs a value");
            return v;
        };
        switch (flag) {
            case "--manifest":
                options.manifest = value();
                break;
            case "--stack":
                options.stack = value();
                break;
            case "--project":
                options.project = value();
                break;
            case "--dir":
                options.dir = value();
                break;
            case "--out":
                options.out = value();
                break;
            case "--format":
                options.format = value();
                break;
            case "--keep":
                options.keep = true;
                break;
            case "--port": {
                const port = Number(value());
                if (!Number.isInteger(port) || port < 1 || port > 65535 - 4010)
                    throw new InputError("--port", "must be a port number below 61525");
                options.port = port;
                break;
            }
            default:
                throw new InputError(
                    flag,
                    `unknown option${didYouMean(
                        flag,
                        OPTIONS[command].map((option) => option.split(" ")[0]),
                    )}; ${command} takes ${OPTIONS[command].join(", ")}`,
                );
        }
    }
    if (options.manifest && options.stack) throw new InputError("--manifest", "cannot be combined with --stack");
    if (options.format !== undefined && options.format !== "yaml")
        throw new InputError("--format", `"${options.format}" is not supported; use yaml`);
    return options;
}

const PREFIX = "jetstream-eventbus:";

/** Project keys from a `config:` map of Pulumi.yaml (`value`/`default` entries) or of a stack file. */
function configEntries(map: Record<string, any> | undefined, file: string): Partial<StackConfig> {
    const out: Record<string, unknown> = {};
    for (const [fullKey, raw] of Object.entries(map ?? {})) {
        const key = fullKey.startsWith(PREFIX) ? fullKey.slice(PREFIX.length) : fullKey;
        if (fullKey.includes(":") && !fullKey.startsWith(PREFIX)) continue; // another provider's or project's key
        if (!(STACK_CONFIG_KEYS as readonly string[]).includes(key)) {
            throw new InputError(`${file}: ${fullKey}`, `unknown key; allowed: ${STACK_CONFIG_KEYS.join(", ")}`);
        }
        const value =
            raw !== null && typeof raw === "object" && !Array.isArray(raw) && ("value" in raw || "default" in raw)
                ? (raw.value ?? raw.default)
                : raw;
        if (value !== null && typeof value === "object" && "secure" in value) {
            throw new InputError(`${file}: ${fullKey}`, "is an encrypted value, which only pulumi can read");
        }
        out[key] = value;
    }
    return out as Partial<StackConfig>;
}

function readYaml(file: string): any {
    try {
        return parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
        throw new InputError(file, `cannot read: ${(err as Error).message}`);
    }
}

/** The bus to run or render, from the options. */
export function busFromOptions(options: Options, cwd = process.cwd()) {
    if (options.manifest) {
        return busFromStackConfig({ manifest: path.resolve(cwd, options.manifest) }, cwd);
    }
    const projectFile = path.resolve(cwd, options.project ?? "Pulumi.yaml");
    if (!fs.existsSync(projectFile)) {
        throw new InputError(
            "--project",
            `${projectFile} does not exist; run in the project folder, or pass --manifest or --project`,
        );
    }
    const config: StackConfig = { ...configEntries(readYaml(projectFile)?.config, projectFile) };
    if (options.stack) {
        const stackFile = path.resolve(cwd, options.stack);
        Object.assign(config, configEntries(readYaml(stackFile)?.config, stackFile));
    }
    return busFromStackConfig(config, path.dirname(projectFile));
}

const MARKER_FILE = ".jetstream-eventbus-render";

/** Writes a render into `out`, replacing an earlier render there but never other files. */
function writeRender(out: string, files: { path: string; content: string }[]): void {
    if (fs.existsSync(out)) {
        const entries = fs.readdirSync(out);
        if (entries.length > 0 && !entries.includes(MARKER_FILE)) {
            throw new LocalError(`${out} is not empty and holds no earlier render; choose another --out folder`);
        }
        fs.rmSync(out, { recursive: true, force: true });
    }
    try {
        fs.mkdirSync(out, { recursive: true });
        fs.writeFileSync(
            path.join(out, MARKER_FILE),
            "Written by `jetstream-eventbus render`; the folder is replaced on the next render.\n",
        );
        for (const file of files) {
            fs.mkdirSync(path.dirname(path.join(out, file.path)), { recursive: true });
            fs.writeFileSync(path.join(out, file.path), file.content);
        }
    } catch (err) {
        throw new LocalError(`cannot write the render to ${out}: ${(err as Error).message}`);
    }
}

async function main(argv: string[]): Promise<number> {
    if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h") {
        console.log(USAGE);
        return argv.length === 0 ? 2 : 0;
    }
    const options = parseArgs(argv);
    const { name, args } = busFromOptions(options);
    if (options.command === "render") {
        const { resources } = await captureEventBus(name, args);
        if (options.format === "yaml") {
            process.stdout.write(renderMultiDocument(resources));
            return 0;
        }
        const out = path.resolve(options.out ?? "rendered");
        const files = renderFiles(resources);
        writeRender(out, files);
        console.log(`wrote ${files.length} files to ${out}`);
        return 0;
    }
    const bus = await runLocalBus({ name, args, dir: options.dir, keep: options.keep, basePort: options.port });
    console.log("running; press Ctrl-C to stop");
    await new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
    });
    // A second interrupt ends the servers at once; the cleanup still runs.
    process.once("SIGINT", () => bus.kill());
    process.once("SIGTERM", () => bus.kill());
    await bus.stop();
    return 0;
}

/** Runs a command and ends the process with its status; `bin.js` of the CLI package calls this. */
export function cli(argv: string[]): void {
    let settled = false;
    // Never end with status 0 when the work stopped half-way: a run that has nothing left to wait
    // for but never finished is a failure too.
    process.once("beforeExit", () => {
        if (!settled) {
            console.error("error: stopped before finishing, and no error was reported");
            process.exit(1);
        }
    });
    main(argv).then(
        (code) => {
            settled = true;
            process.exit(code);
        },
        (err) => {
            settled = true;
            const known = err instanceof InputError || err instanceof LocalError;
            const message = err instanceof Error ? err.message : String(err);
            console.error(`error: ${message}`);
            // Anything else is a defect of this package: the stack helps to report it.
            if (!known && err instanceof Error && err.stack) console.error(err.stack);
            process.exit(known ? 2 : 1);
        },
    );
}

if (require.main === module) {
    cli(process.argv.slice(2));
}
