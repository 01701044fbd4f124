/**
 * `jetstream.startArgs`: extra nats-server flags. Only flags that change what the server logs are
 * allowed; the configuration file, ports, credentials, TLS and storage belong to the bus, and a flag
 * nats-server does not know stops it at start, so every pod would crash. Pure.
 */
import { didYouMean, InputError } from "../check";

/** How a flag takes its value, as Go's `flag` package reads nats-server's command line. */
type FlagForm = "boolean" | "count" | "syslogUrl";

interface AllowedFlag {
    /** Every spelling, without dashes (`-D` and `--D` are the same flag to Go). */
    names: string[];
    form: FlagForm;
    what: string;
}

/** The logging flags of `nats-server --help` (the same in 2.9 to 2.14). */
const ALLOWED_FLAGS: readonly AllowedFlag[] = [
    { names: ["D", "debug"], form: "boolean", what: "debug output" },
    { names: ["V", "trace"], form: "boolean", what: "protocol trace" },
    { names: ["VV"], form: "boolean", what: "verbose trace, the system account included" },
    { names: ["DV"], form: "boolean", what: "debug and trace" },
    { names: ["DVV"], form: "boolean", what: "debug and verbose trace" },
    { names: ["T", "logtime"], form: "boolean", what: "timestamps on log lines (default true; -T=false drops them)" },
    { names: ["max_traced_msg_len"], form: "count", what: "longest message payload a trace prints" },
    {
        names: ["r", "remote_syslog"],
        form: "syslogUrl",
        what: "log to a syslog server, e.g. udp://syslog.example.com:514",
    },
];

const BUS_OWNS = "the bus sets it itself";
const ROUTES = "the bus sets up the routes between its pods itself";

/** nats-server flags a bus refuses, and why. */
const REFUSED_FLAGS: Readonly<Record<string, string>> = {
    c: `it replaces the configuration file, which ${BUS_OWNS}`,
    config: `it replaces the configuration file, which ${BUS_OWNS}`,
    t: "the server would only test its configuration and exit",
    sl: "it signals another server and exits",
    signal: "it signals another server and exits",
    h: "the server would print its help and exit",
    help: "the server would print its help and exit",
    help_tls: "the server would print its help and exit",
    v: "the server would print its version and exit",
    version: "the server would print its version and exit",
    p: `it changes the client port, which ${BUS_OWNS} (Services and probes use it)`,
    port: `it changes the client port, which ${BUS_OWNS} (Services and probes use it)`,
    a: `it changes the listen address, which ${BUS_OWNS}`,
    addr: `it changes the listen address, which ${BUS_OWNS}`,
    net: `it changes the listen address, which ${BUS_OWNS}`,
    m: `it changes the monitoring port, which the probes and the exporter use`,
    http_port: `it changes the monitoring port, which the probes and the exporter use`,
    ms: "it opens an HTTPS monitoring port the bus does not expose",
    https_port: "it opens an HTTPS monitoring port the bus does not expose",
    n: `it changes the server name, which ${BUS_OWNS} from the pod name`,
    name: `it changes the server name, which ${BUS_OWNS} from the pod name`,
    server_name: `it changes the server name, which ${BUS_OWNS} from the pod name`,
    P: `it moves the pid file, which the reloader and lame duck mode use`,
    pid: `it moves the pid file, which the reloader and lame duck mode use`,
    ports_file_dir: "it writes into the container's read-only file system",
    client_advertise: `clients reach the bus through its Service, which ${BUS_OWNS}`,
    user: "credentials on the command line are visible in the StatefulSet; the bus generates a password and keeps it in Secrets",
    pass: "credentials on the command line are visible in the StatefulSet; the bus generates a password and keeps it in Secrets",
    auth: "credentials on the command line are visible in the StatefulSet; the bus generates a password and keeps it in Secrets",
    tls: "client TLS is always on, with certificates the bus issues",
    tlscert: "the bus issues the server certificate and renews it",
    tlskey: "the bus issues the server certificate and renews it",
    tlscacert: "the bus issues the server certificate and renews it",
    tlsverify: "client certificates would lock out every client of the bus, which log in with a password",
    routes: ROUTES,
    cluster: ROUTES,
    cluster_name: `the cluster name is the bus name, which ${BUS_OWNS}`,
    cluster_listen: ROUTES,
    cluster_advertise: ROUTES,
    no_advertise: ROUTES,
    connect_retries: ROUTES,
    js: "JetStream is always on in a bus",
    jetstream: "JetStream is always on in a bus",
    sd: "the store directory is on the bus's volume, which the bus sets itself",
    store_dir: "the store directory is on the bus's volume, which the bus sets itself",
    l: "logs go to the container's output, which Kubernetes collects; a log file would need a writable volume",
    log: "logs go to the container's output, which Kubernetes collects; a log file would need a writable volume",
    log_size_limit:
        "logs go to the container's output, which Kubernetes collects; a log file would need a writable volume",
    s: "there is no syslog daemon in the container; use --remote_syslog for a syslog server",
    syslog: "there is no syslog daemon in the container; use --remote_syslog for a syslog server",
    profile: "it opens an unauthenticated profiling port on every interface of the pod",
};

function allowedList(): string {
    return ALLOWED_FLAGS.map((flag) =>
        flag.names
            .map((name) => (name.length <= 3 && name.toUpperCase() === name ? `-${name}` : `--${name}`))
            .join("/"),
    ).join(", ");
}

function findFlag(name: string): AllowedFlag | undefined {
    return ALLOWED_FLAGS.find((flag) => flag.names.includes(name));
}

function checkValue(flag: AllowedFlag, value: string, where: string): void {
    const ok =
        flag.form === "boolean"
            ? /^(1|0|t|f|T|F|true|false|TRUE|FALSE|True|False)$/.test(value)
            : flag.form === "count"
              ? /^\d{1,9}$/.test(value)
              : /^(udp|tcp|unix):\/\/[^\s@]+$/.test(value);
    if (!ok) {
        const expected =
            flag.form === "boolean"
                ? "true or false"
                : flag.form === "count"
                  ? "a whole number"
                  : "a syslog address such as udp://syslog.example.com:514";
        throw new InputError(where, `the value of ${flag.names.map((n) => `-${n}`).join("/")} must be ${expected}`);
    }
}

/**
 * Checks `startArgs` and returns them unchanged: each item is an allowed flag (`-D`, `--trace`,
 * `-T=false`), or the value of the flag before it (`--remote_syslog`, `udp://host:514`). Messages name
 * the item and never repeat a value, which could be a credential given in the wrong place.
 */
export function checkStartArgs(startArgs: unknown, field = "jetstream.startArgs"): string[] {
    if (startArgs === undefined) {
        return [];
    }
    if (!Array.isArray(startArgs)) {
        throw new InputError(field, 'must be a list of nats-server flags, e.g. ["-D"]');
    }
    for (let i = 0; i < startArgs.length; i++) {
        const arg = startArgs[i];
        const where = `${field}[${i}]`;
        if (typeof arg !== "string") {
            throw new InputError(where, 'must be a string, a nats-server flag such as "-D"');
        }
        const match = /^--?([A-Za-z][A-Za-z_]*)(=(.*))?$/.exec(arg);
        if (!match) {
            throw new InputError(
                where,
                `is not a nats-server flag (one flag an item, no spaces or shell syntax; a flag's value goes in the next item); allowed flags: ${allowedList()}`,
            );
        }
        const [, name, withValue, inlineValue] = match;
        const flag = findFlag(name);
        if (!flag) {
            const refusal = REFUSED_FLAGS[name];
            if (refusal) {
                throw new InputError(
                    where,
                    `the flag -${name} is not allowed: ${refusal}. Allowed flags: ${allowedList()}`,
                );
            }
            const known = ALLOWED_FLAGS.flatMap((f) => f.names);
            throw new InputError(
                where,
                `-${name} is not a flag a bus allows${didYouMean(name, known)}; allowed flags: ${allowedList()}`,
            );
        }
        if (withValue !== undefined) {
            checkValue(flag, inlineValue, where);
        } else if (flag.form !== "boolean") {
            const value = startArgs[i + 1];
            if (typeof value !== "string") {
                throw new InputError(where, `-${name} needs a value, in the next item or as -${name}=VALUE`);
            }
            checkValue(flag, value, `${field}[${i + 1}]`);
            i++;
        }
    }
    return [...(startArgs as string[])];
}
