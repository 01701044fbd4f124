import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { stringify } from "yaml";
import { DEFAULTS } from "../defaults";
import { checkEncryptionKey } from "../validate";

/** Where a given encryption key comes from, for its error messages. */
const ENCRYPTION_KEY_FIELD = "jetstream.persistence.encryptionKey";

/** Generated credentials of a bus. Every value except the user name is a secret. */
export interface BusCredentials {
    username: string;
    password: pulumi.Output<string>;
    passwordHash: pulumi.Output<string>;
    systemPassword: pulumi.Output<string>;
    systemPasswordHash: pulumi.Output<string>;
    encryptionKey: pulumi.Output<string>;
}

/**
 * Characters a password may contain besides letters and digits: safe unquoted in a URL, in YAML and
 * inside a quoted nats.conf string (no `"`, `\`, `$`, `#`, `:`; a quoted nats.conf string processes
 * backslash escapes, https://docs.nats.io/running-a-nats-service/configuration).
 */
export const PASSWORD_SPECIALS = "-_.~";

function password(name: string, opts: pulumi.CustomResourceOptions): random.RandomPassword {
    return new random.RandomPassword(
        name,
        {
            length: DEFAULTS.passwordLength,
            special: true,
            overrideSpecial: PASSWORD_SPECIALS,
            // At least one letter and digit so that YAML never reads the value as a number.
            minLower: 1,
            minUpper: 1,
            minNumeric: 1,
        },
        opts,
    );
}

/**
 * The client and system passwords with their bcrypt hashes (the server config holds only the
 * hashes), and the JetStream encryption-at-rest key. The key is letters only: an expanded
 * `$JS_KEY` that starts with a digit is misread by nats-server (Argo #3231). Its inputs must never
 * change: a new key makes the stored data unreadable. A given key (`persistence.encryptionKey`)
 * replaces the generated one, so data on retained volumes stays readable after a destroy.
 */
export function createCredentials(
    name: string,
    opts: pulumi.CustomResourceOptions,
    givenEncryptionKey?: pulumi.Input<string>,
): BusCredentials {
    const client = password(`${name}-password`, opts);
    const system = password(`${name}-system-password`, opts);
    const encryptionKey =
        givenEncryptionKey === undefined
            ? new random.RandomPassword(
                  `${name}-encryption-key`,
                  { length: DEFAULTS.encryptionKeyLength, special: false, numeric: false, upper: true, lower: true },
                  opts,
              ).result
            : pulumi.output(givenEncryptionKey).apply((key) => checkEncryptionKey(key, ENCRYPTION_KEY_FIELD));
    return {
        username: DEFAULTS.username,
        password: pulumi.secret(client.result),
        passwordHash: pulumi.secret(client.bcryptHash),
        systemPassword: pulumi.secret(system.result),
        systemPasswordHash: pulumi.secret(system.bcryptHash),
        encryptionKey: pulumi.secret(encryptionKey),
    };
}

/**
 * Argo's client-auth text: YAML with `username` and `password`, which Argo's clients parse.
 * Values are double-quoted: Go's YAML reader would take plain `1_000` or `2001-12-14` as a number or a date.
 */
export function clientAuthYaml(username: string, password: string): string {
    return stringify({ username, password }, { defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN" });
}
