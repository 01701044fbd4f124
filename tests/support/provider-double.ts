/**
 * A test double of the `tls` or `random` Pulumi provider, served over the provider protocol so the
 * real engine can run a managed bus here. Neither real provider can be built on this machine (their
 * Go modules, and the Terraform providers they bridge, are not served), so this plugin answers for
 * them with the package's stand-ins: real keys, certificates and bcrypt-hashed passwords, under the
 * same resource tokens and the same input and output names as the real providers' schemas.
 *
 * It is a double: tests only. Run as `node provider-double.js <tls|random> <version> [engine address]`
 * by the `pulumi-resource-tls` / `pulumi-resource-random` wrappers the end-to-end tests write.
 */
import "../../cli/reflect-metadata";
import { isDeepStrictEqual } from "node:util";
import * as provider from "@pulumi/pulumi/provider";
import { plain, SECRET_SIG, SPECIAL_SIG_KEY, STAND_INS } from "../../cli/stand-ins";

/** Inputs either provider updates in place; every other input change replaces, as the real providers' schemas say. */
const UPDATABLE_INPUTS = new Set(["earlyRenewalHours"]);

function isSecret(value: unknown): boolean {
    return (
        typeof value === "object" &&
        value !== null &&
        (value as Record<string, unknown>)[SPECIAL_SIG_KEY] === SECRET_SIG
    );
}

function secret(value: unknown): unknown {
    return { [SPECIAL_SIG_KEY]: SECRET_SIG, value };
}

/** The resource type token of a URN (`...::tls:index/privateKey:PrivateKey::name`). */
function typeOf(urn: string): string {
    const qualified = urn.split("::")[2] ?? "";
    return qualified.split("$").pop()!;
}

function nameOf(urn: string): string {
    return urn.split("::")[3] ?? "";
}

/**
 * Keeps an input secret in the outputs that repeat it (the real providers do, through the engine),
 * so a CA key passed to a certificate is never stored in clear text.
 */
function outputsWithSecrets(
    inputs: Record<string, unknown>,
    outputs: Record<string, unknown>,
): Record<string, unknown> {
    return Object.fromEntries(
        Object.entries(outputs).map(([key, value]) => [key, isSecret(inputs[key]) ? secret(value) : value]),
    );
}

/** True when a certificate's renewal window has opened (the real provider's `readyForRenewal`). */
function renewalDue(state: Record<string, any>, now = Date.now()): boolean {
    if (typeof state.validityEndTime !== "string") {
        return false;
    }
    const earlyMs = Number(state.earlyRenewalHours ?? 0) * 3600_000;
    return now >= Date.parse(state.validityEndTime) - earlyMs;
}

class StandInProvider implements provider.Provider {
    constructor(
        readonly version: string,
        private readonly packageName: string,
    ) {}

    private standIn(urn: string) {
        const type = typeOf(urn);
        const standIn = type.startsWith(`${this.packageName}:`) ? STAND_INS[type] : undefined;
        if (!standIn) {
            throw new Error(`the ${this.packageName} provider double has no resource type ${type}`);
        }
        return standIn;
    }

    async check(urn: string, _olds: unknown, news: Record<string, unknown>): Promise<provider.CheckResult> {
        this.standIn(urn);
        return { inputs: news };
    }

    async diff(
        _id: string,
        _urn: string,
        olds: Record<string, any>,
        news: Record<string, any>,
    ): Promise<provider.DiffResult> {
        const changed = Object.keys(news).filter((key) => !isDeepStrictEqual(plain(news[key]), plain(olds[key])));
        const replaces = changed.filter((key) => !UPDATABLE_INPUTS.has(key));
        if (olds.readyForRenewal === true || renewalDue(olds)) {
            replaces.push("readyForRenewal");
        }
        return { changes: changed.length > 0 || replaces.length > 0, replaces, deleteBeforeReplace: false };
    }

    async create(urn: string, inputs: Record<string, unknown>): Promise<provider.CreateResult> {
        const standIn = this.standIn(urn);
        const { _serial, ...outputs } = await standIn.outputs(plain(inputs));
        const state = { ...plain(inputs), ...outputs };
        return { id: standIn.id({ ...state, _serial }, nameOf(urn)), outs: outputsWithSecrets(inputs, state) };
    }

    async read(id: string, _urn: string, props: Record<string, any>): Promise<provider.ReadResult> {
        return { id, props: renewalDue(props) ? { ...props, readyForRenewal: true } : props };
    }

    async update(
        _id: string,
        _urn: string,
        olds: Record<string, unknown>,
        news: Record<string, unknown>,
    ): Promise<provider.UpdateResult> {
        return { outs: outputsWithSecrets(news, { ...olds, ...news }) };
    }

    async delete(): Promise<void> {}
}

const [packageName, version, ...engineArgs] = process.argv.slice(2);
if (packageName !== "tls" && packageName !== "random") {
    throw new Error(`usage: provider-double.js <tls|random> <version> [engine address]`);
}
void provider.main(new StandInProvider(version, packageName), engineArgs);
