/**
 * A private network of Linux network namespaces for cluster simulations: one namespace per "pod",
 * all joined by a bridge, as pods are on a cluster network.
 *
 * Layout (everything is created by this module and removed by {@link NetLab.destroy}):
 *
 *   root namespace                 ebsim-<id>-switch                     ebsim-<id>-<pod>
 *   ebs<id>h (10.A.B.1/24) <-veth-> uplink ─┐
 *                                            br0 (bridge) ── p0 <-veth-> eth0 (10.A.B.10/24), lo
 *                                                        └── p1 <-veth-> eth0 (10.A.B.11/24), lo ...
 *
 * - The bridge lives in a dedicated "switch" namespace, so the root namespace gains exactly one
 *   interface (the test client's end of the uplink veth, named with the run's random id) and the
 *   connected route of the lab's /24. Nothing else of the root namespace is touched.
 * - The /24 is picked at random inside 10.0.0.0/8 and must not overlap any route or address of the
 *   root namespace (so neither the machine's own networks nor a parallel run's lab). Pod namespaces
 *   have no default route: they reach only each other and the test client.
 * - IPv6 is disabled on every link we create (no router solicitations or DAD noise), and each pod
 *   namespace gets `/etc/netns/<ns>/resolv.conf` pointing at its own loopback, so a name missing
 *   from its hosts file fails at once instead of being asked of the machine's resolver.
 * - `ip netns exec <ns>` bind-mounts `/etc/netns/<ns>/hosts` over `/etc/hosts`: that is how a pod
 *   gets the names Kubernetes DNS would give it.
 *
 * Cleanup: {@link NetLab.destroy} kills whatever still runs in the lab's namespaces (only processes
 * the tests started live there), deletes the namespaces (which destroys their veths and the bridge),
 * the root-namespace link and the `/etc/netns/<ns>` folders. It is idempotent and synchronous, and
 * also runs from a process exit / signal hook, so a failed or interrupted test leaves nothing behind.
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

const COMMAND_TIMEOUT_MS = 15_000;
const ETC_NETNS = "/etc/netns";

function run(file: string, args: string[]): string {
    return execFileSync(file, args, {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        timeout: COMMAND_TIMEOUT_MS,
    });
}

function ip(...args: string[]): string {
    return run("ip", args);
}

function firstLine(err: unknown): string {
    const e = err as { stderr?: string | Buffer; message?: string };
    const text = (e?.stderr ? String(e.stderr) : "") || e?.message || String(err);
    return text.trim().split("\n")[0] ?? "";
}

/**
 * Undefined when this machine lets the tests create network namespaces, veth pairs and a bridge
 * (root, Linux, iproute2); otherwise the reason, for a test's `skip`.
 */
export function canCreateNetns(): string | undefined {
    if (process.platform !== "linux") {
        return `network namespaces need Linux (this is ${process.platform})`;
    }
    if (typeof process.getuid === "function" && process.getuid() !== 0) {
        return "creating network namespaces needs root";
    }
    const name = `ebsim-probe-${crypto.randomBytes(4).toString("hex")}`;
    try {
        ip("netns", "add", name);
    } catch (err) {
        return `cannot create a network namespace here (ip netns add: ${firstLine(err)})`;
    }
    try {
        ip("-n", name, "link", "add", "br0", "type", "bridge");
        ip("-n", name, "link", "add", "a0", "type", "veth", "peer", "name", "b0");
        run("ip", ["netns", "exec", name, "true"]);
        return undefined;
    } catch (err) {
        return `cannot set up links in a network namespace here (${firstLine(err)})`;
    } finally {
        try {
            ip("netns", "del", name);
        } catch {
            // Nothing else to do: the probe namespace holds no process.
        }
    }
}

/** One namespace of the lab. */
export interface LabHost {
    /** Label given by the caller, e.g. the pod name. */
    label: string;
    /** Network namespace name (`ip netns` name). */
    ns: string;
    /** IPv4 address of its eth0. */
    address: string;
}

// ---------------------------------------------------------------------------
// Subnet choice
// ---------------------------------------------------------------------------

function ipToInt(address: string): number {
    return address.split(".").reduce((acc, part) => ((acc << 8) | (Number(part) & 255)) >>> 0, 0);
}

function overlaps(a: { net: number; len: number }, b: { net: number; len: number }): boolean {
    const len = Math.min(a.len, b.len);
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    return (a.net & mask) >>> 0 === (b.net & mask) >>> 0;
}

/** Every IPv4 prefix the root namespace routes or holds (the default route excluded). */
function usedPrefixes(): { net: number; len: number }[] {
    const prefixes: { net: number; len: number }[] = [];
    const add = (cidr: string) => {
        const [address, len] = cidr.split("/");
        if (/^\d+\.\d+\.\d+\.\d+$/.test(address ?? "")) {
            prefixes.push({ net: ipToInt(address!), len: len === undefined ? 32 : Number(len) });
        }
    };
    for (const route of JSON.parse(ip("-j", "-4", "route", "show", "table", "all") || "[]") as { dst?: string }[]) {
        if (route.dst && route.dst !== "default") add(route.dst);
    }
    for (const link of JSON.parse(ip("-j", "-4", "addr", "show") || "[]") as {
        addr_info?: { local?: string; prefixlen?: number }[];
    }[]) {
        for (const a of link.addr_info ?? []) {
            if (a.local) add(`${a.local}/${a.prefixlen ?? 32}`);
        }
    }
    return prefixes;
}

/** A random 10.A.B.0/24 overlapping nothing the root namespace knows. */
function pickSubnet(): string {
    const used = usedPrefixes();
    for (let attempt = 0; attempt < 200; attempt++) {
        const a = 64 + crypto.randomInt(190);
        const b = crypto.randomInt(256);
        const candidate = { net: ipToInt(`10.${a}.${b}.0`), len: 24 };
        if (!used.some((u) => overlaps(u, candidate))) {
            return `10.${a}.${b}`;
        }
    }
    throw new Error("no free 10.x.y.0/24 for the simulation network: every candidate overlaps a route of this machine");
}

// ---------------------------------------------------------------------------
// The lab
// ---------------------------------------------------------------------------

const liveLabs = new Set<NetLab>();
let hooksInstalled = false;

function installHooks(): void {
    if (hooksInstalled) {
        return;
    }
    hooksInstalled = true;
    const destroyAll = () => {
        for (const lab of [...liveLabs]) {
            lab.destroy();
        }
    };
    process.on("exit", destroyAll);
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
        process.once(signal, () => {
            destroyAll();
            // Die of the signal as if unhandled (other hooks re-raise it too; the first one wins).
            process.kill(process.pid, signal);
        });
    }
}

function disableIpv6In(ns: string): void {
    try {
        run("ip", [
            "netns",
            "exec",
            ns,
            "sysctl",
            "-q",
            "-w",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ]);
    } catch {
        // A kernel without IPv6: nothing to silence.
    }
}

/** A bridge network of namespaces; see the module comment. */
export class NetLab {
    /** Random per run, part of every name this lab creates. */
    readonly id: string;
    /** `10.A.B`: the lab's /24 without the last octet. */
    readonly subnet: string;
    /** The test client's address (root namespace end of the uplink). */
    readonly clientAddress: string;
    private readonly switchNs: string;
    private readonly uplink: string;
    private readonly namespaces: string[] = [];
    private readonly hosts: LabHost[] = [];
    private destroyed = false;

    private constructor() {
        this.id = crypto.randomBytes(3).toString("hex");
        this.subnet = pickSubnet();
        this.clientAddress = `${this.subnet}.1`;
        this.switchNs = `ebsim-${this.id}-switch`;
        this.uplink = `ebs${this.id}h`;
    }

    /** Creates the switch namespace with its bridge and the uplink from the root namespace. */
    static create(): NetLab {
        installHooks();
        const lab = new NetLab();
        liveLabs.add(lab);
        try {
            lab.addNamespace(lab.switchNs);
            ip("-n", lab.switchNs, "link", "add", "br0", "type", "bridge", "forward_delay", "0");
            ip("-n", lab.switchNs, "link", "set", "br0", "up");
            ip("link", "add", lab.uplink, "type", "veth", "peer", "name", "uplink", "netns", lab.switchNs);
            try {
                fs.writeFileSync(`/proc/sys/net/ipv6/conf/${lab.uplink}/disable_ipv6`, "1");
            } catch {
                // No IPv6.
            }
            ip("-n", lab.switchNs, "link", "set", "uplink", "master", "br0", "up");
            ip("addr", "add", `${lab.clientAddress}/24`, "dev", lab.uplink);
            ip("link", "set", lab.uplink, "up");
        } catch (err) {
            lab.destroy();
            throw new Error(`could not create the simulation network: ${firstLine(err)}`, { cause: err });
        }
        return lab;
    }

    private addNamespace(ns: string): void {
        ip("netns", "add", ns);
        this.namespaces.push(ns);
        disableIpv6In(ns);
        ip("-n", ns, "link", "set", "lo", "up");
    }

    /** Every namespace attached so far (pods and extra hosts), in order. */
    get members(): readonly LabHost[] {
        return this.hosts;
    }

    /** A new namespace on the bridge with the next free address (from .10). */
    addHost(label: string): LabHost {
        if (this.destroyed) {
            throw new Error("the simulation network is gone");
        }
        const index = this.hosts.length;
        if (index > 200) {
            throw new Error("too many hosts in one lab");
        }
        const ns = `ebsim-${this.id}-${label}`;
        const address = `${this.subnet}.${10 + index}`;
        const port = `p${index}`;
        this.addNamespace(ns);
        ip("-n", this.switchNs, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
        ip("-n", this.switchNs, "link", "set", port, "master", "br0", "up");
        ip("-n", ns, "addr", "add", `${address}/24`, "dev", "eth0");
        ip("-n", ns, "link", "set", "eth0", "up");
        // Names the hosts file lacks fail fast on the namespace's own (closed) loopback.
        this.writeEtc(ns, "resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
        const host = { label, ns, address };
        this.hosts.push(host);
        return host;
    }

    /** Writes `/etc/netns/<ns>/<file>`, which `ip netns exec` mounts over `/etc/<file>`. */
    writeEtc(ns: string, file: string, text: string): void {
        if (!this.namespaces.includes(ns)) {
            throw new Error(`${ns} is not a namespace of this lab`);
        }
        const dir = path.join(ETC_NETNS, ns);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, file), text);
    }

    /** Pids of the processes running in `ns`. */
    pids(ns: string): number[] {
        try {
            return ip("netns", "pids", ns).split(/\s+/).filter(Boolean).map(Number);
        } catch {
            return [];
        }
    }

    /**
     * Removes everything the lab created: kills what still runs inside, deletes the namespaces (their
     * veths and the bridge go with them), the uplink and the `/etc/netns/<ns>` folders. Idempotent;
     * returns the problems it met (it never throws, so it is safe in exit hooks).
     */
    destroy(): string[] {
        if (this.destroyed) {
            return [];
        }
        this.destroyed = true;
        const problems: string[] = [];
        const attempt = (what: string, fn: () => void) => {
            try {
                fn();
            } catch (err) {
                problems.push(`${what}: ${firstLine(err)}`);
            }
        };
        for (const ns of [...this.namespaces].reverse()) {
            for (const pid of this.pids(ns)) {
                attempt(`kill ${pid} in ${ns}`, () => process.kill(pid, "SIGKILL"));
            }
        }
        attempt(`delete link ${this.uplink}`, () => {
            if (fs.existsSync(`/sys/class/net/${this.uplink}`)) ip("link", "del", this.uplink);
        });
        for (const ns of [...this.namespaces].reverse()) {
            attempt(`delete namespace ${ns}`, () => {
                if (fs.existsSync(`/var/run/netns/${ns}`)) ip("netns", "del", ns);
            });
            attempt(`remove ${ETC_NETNS}/${ns}`, () =>
                fs.rmSync(path.join(ETC_NETNS, ns), { recursive: true, force: true }),
            );
        }
        liveLabs.delete(this);
        return problems;
    }

    /** Whether anything of this lab is still on the machine (for the cleanup test). */
    leftovers(): string[] {
        const left: string[] = [];
        for (const ns of this.namespaces) {
            if (fs.existsSync(`/var/run/netns/${ns}`)) left.push(`namespace ${ns}`);
            if (fs.existsSync(path.join(ETC_NETNS, ns))) left.push(`${ETC_NETNS}/${ns}`);
        }
        if (fs.existsSync(`/sys/class/net/${this.uplink}`)) left.push(`link ${this.uplink}`);
        return left;
    }
}
