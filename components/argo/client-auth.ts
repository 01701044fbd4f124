/**
 * Argo's client credentials format: the Secret key holds YAML `username:` / `password:`
 * (Argo Events, https://github.com/argoproj/argo-events). Pure.
 */
import { parse } from "yaml";

/** User name and password read from an Argo `client-auth` value. */
export interface ClientAuth {
    username: string;
    password: string;
}

/**
 * Parses Argo's client-auth YAML. A plain string (what Argo's docs wrongly suggest, #2980) or a
 * token is refused with the format Argo's clients actually read. `where` names the Secret and key;
 * the value itself never appears in a message.
 */
export function parseClientAuth(text: string, where: string): ClientAuth {
    let parsed: unknown;
    try {
        parsed = parse(text);
    } catch {
        parsed = undefined;
    }
    const record =
        typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
            ? (parsed as Record<string, unknown>)
            : undefined;
    if (!record) {
        throw new Error(
            `${where} holds a plain string; Argo Events' clients read YAML with two keys, "username: <user>" and "password: <password>" on separate lines (Argo #2980), and so does this package`,
        );
    }
    const { username, password } = record;
    if (
        typeof username !== "string" ||
        username === "" ||
        (typeof password !== "string" && typeof password !== "number") ||
        String(password) === ""
    ) {
        const keys = Object.keys(record).join(", ") || "none";
        throw new Error(
            `${where} must hold YAML with non-empty "username" and "password" keys (found keys: ${keys}); token authentication is not supported by Argo's JetStream clients`,
        );
    }
    return { username, password: String(password) };
}

/** The decoded text of `key` in a Secret's base64 `data`, or an error naming the Secret and key. */
export function secretText(data: Record<string, string> | undefined, key: string, where: string): string {
    const encoded = data?.[key];
    if (encoded === undefined) {
        const keys = Object.keys(data ?? {}).join(", ") || "none";
        throw new Error(`${where}: the Secret has no key "${key}" (it has: ${keys})`);
    }
    return Buffer.from(encoded, "base64").toString("utf8");
}
