/**
 * Pieces shared by the simulation tests: which servers to run, the skip reason, and the figures
 * they print.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
    compareVersions,
    liveSuiteServers,
    NatsServerBinary,
    startNatsServer,
    type NatsServerHandle,
} from "../support/nats";
import { canCreateNetns } from "../support/netns";
import { renderBus } from "../support/bus";
import { SimCluster, RollReport, secs } from "./harness";

/** Servers of a release line the version map knows, oldest first. */
export const SERVERS: NatsServerBinary[] = liveSuiteServers();

/** Why the simulation cannot run here, or undefined. Printed, so a skipped run says why. */
export const SKIP: string | undefined = (() => {
    const reason =
        canCreateNetns() ??
        (SERVERS.length === 0 ? "no nats-server of a release line in the version map is installed" : undefined);
    if (reason) console.log(`# cluster simulation skipped: ${reason}`);
    return reason;
})();

export const OLDEST = SERVERS[0];
export const NEWEST = SERVERS[SERVERS.length - 1];

/** The upgrade target after `from`: 2.10.x when installed (the supported next step), else the newest newer one. */
export function upgradeTarget(from: NatsServerBinary): NatsServerBinary | undefined {
    const newer = SERVERS.filter(
        (s) =>
            compareVersions(s.version, from.version) > 0 &&
            !s.version.startsWith(from.version.split(".").slice(0, 2).join(".") + "."),
    );
    return newer.find((s) => s.version.startsWith("2.10.")) ?? newer[newer.length - 1];
}

export function printRoll(title: string, roll: RollReport): void {
    console.log(
        `# ${title}: ${secs(roll.totalMs)} for ${roll.steps.length} pods, at most ${roll.maxUnavailable} unready at once (PDB maxUnavailable ${roll.allowedUnavailable}; ${roll.samples} samples; up to ${roll.maxProbeFailing} running pods failed a readiness probe at the same moment)`,
    );
    for (const s of roll.steps) {
        console.log(
            `#   ${s.pod} ${s.from}${s.to !== s.from ? ` -> ${s.to}` : ""}: preStop..exit ${secs(s.exitMs)} (lame duck ${s.lameDuck ? "yes" : "NO"}, ${s.sigkill ? "SIGKILLed at grace period" : `exit code ${s.exitCode}`}), ` +
                `restart..startup probe ${secs(s.startupMs)}${s.startupRestarts ? ` (${s.startupRestarts} container restart after a failed startup probe)` : ""}, unready ${secs(s.downMs)}`,
        );
    }
}

/**
 * A nats-server that is not one of the pods: it gets its own namespace on the bus's network, the
 * hosts file of the pods (plus `extraHosts`), and the given config text and files.
 */
export async function startStranger(
    cluster: SimCluster,
    label: string,
    options: { configText: string; files: Record<string, string>; extraHosts?: string; env: Record<string, string> },
): Promise<{ handle: NatsServerHandle; logs: () => string[] }> {
    const host = cluster.lab.addHost(label);
    cluster.lab.writeEtc(host.ns, "hosts", cluster.hostsFile() + (options.extraHosts ?? ""));
    const dir = path.join(cluster.root, label);
    fs.mkdirSync(path.join(dir, "store"), { recursive: true });
    for (const [file, text] of Object.entries(options.files))
        fs.writeFileSync(path.join(dir, file), text, { mode: 0o600 });
    fs.writeFileSync(
        path.join(dir, "nats-js.conf"),
        options.configText
            .split("/etc/nats-config/")
            .join(`${dir}/`)
            .split("/data/jetstream/store")
            .join(`${dir}/store`)
            .split("/var/run/nats/nats.pid")
            .join(`${dir}/nats.pid`),
    );
    const launcher = path.join(dir, "nats-server");
    fs.writeFileSync(
        launcher,
        `#!/bin/sh\nexec ip netns exec ${host.ns} ${JSON.stringify(fs.realpathSync(cluster.pods[0].binary.path))} "$@"\n`,
        { mode: 0o755 },
    );
    const handle = await startNatsServer({
        binary: launcher,
        configPath: path.join(dir, "nats-js.conf"),
        env: options.env,
        name: label,
        monitorHost: host.address,
        monitorPort: 8222,
        readyPath: "/varz",
        timeoutMs: 30_000,
    });
    return { handle, logs: () => handle.logs() };
}

export { renderBus };
