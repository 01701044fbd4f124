/**
 * The validation toolkit every input check uses: errors that name the field, unknown keys with a
 * suggestion, choices that list what is allowed, DNS names, and key lists tied to the Args types.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
    checkBoolean,
    checkChoice,
    InputError,
    isDnsLabel,
    isDnsSubdomain,
    isPlainObject,
    keysOf,
    rejectUnknownKeys,
} from "../../components/check";

interface Sample {
    mode?: string;
    servers?: string[];
}

function rejected(work: () => unknown, field: string, message: RegExp): void {
    assert.throws(work, (err: unknown) => {
        assert.ok(err instanceof InputError, String(err));
        assert.equal(err.field, field);
        assert.match(err.message, message);
        assert.ok(err.message.startsWith(`${field}: `), err.message);
        return true;
    });
}

describe("keysOf", () => {
    it("returns the list when it names every key of the type once", () => {
        assert.deepEqual(keysOf<Sample>()(["mode", "servers"]), ["mode", "servers"]);
    });

    it("does not compile when a key of the type is missing or an unknown key is listed", () => {
        // @ts-expect-error: "servers" is missing
        keysOf<Sample>()(["mode"]);
        // @ts-expect-error: "server" is not a key of Sample
        keysOf<Sample>()(["mode", "servers", "server"]);
    });
});

describe("rejectUnknownKeys", () => {
    it("accepts known keys and nothing at all", () => {
        rejectUnknownKeys({ mode: "auto" }, ["mode", "servers"], "connection");
        rejectUnknownKeys(undefined, ["mode"], "connection");
    });

    it("names the unknown key under its parent, suggests the closest and lists the allowed ones", () => {
        rejected(
            () => rejectUnknownKeys({ mdoe: "auto" }, ["mode", "servers"], "connection"),
            "connection.mdoe",
            /unknown field \(did you mean "mode"\?\); allowed fields: mode, servers$/,
        );
    });

    it("at the top level names the key alone", () => {
        rejected(
            () => rejectUnknownKeys({ jetstreem: {} }, ["jetstream"], ""),
            "jetstreem",
            /did you mean "jetstream"/,
        );
    });

    it("refuses a list or a scalar by its type only, never its text", () => {
        rejected(
            () => rejectUnknownKeys([] as object, ["mode"], "connection"),
            "connection",
            /must be an object, got a list/,
        );
        rejected(
            () => rejectUnknownKeys("hunter2" as unknown as object, ["mode"], "connection"),
            "connection",
            /must be an object, got a string$/,
        );
    });
});

describe("checkChoice and checkBoolean", () => {
    it("return an allowed value", () => {
        assert.equal(checkChoice("retain", ["retain", "delete"], "deletionPolicy"), "retain");
        assert.equal(checkBoolean(false, "allowDataLoss"), false);
    });

    it("list the allowed values, or say true or false", () => {
        rejected(
            () => checkChoice("keep", ["retain", "delete"], "deletionPolicy"),
            "deletionPolicy",
            /"keep" is not allowed; use one of retain, delete$/,
        );
        rejected(() => checkBoolean("yes", "allowDataLoss"), "allowDataLoss", /must be true or false$/);
    });
});

describe("DNS names and mappings", () => {
    it("a DNS-1123 label: lowercase letters, digits and '-', at most 63 or the given length", () => {
        assert.equal(isDnsLabel("argo-events"), true);
        assert.equal(isDnsLabel("a".repeat(63)), true);
        for (const bad of ["Argo", "-a", "a-", "a.b", "", "a".repeat(64), 3, undefined]) {
            assert.equal(isDnsLabel(bad), false, String(bad));
        }
        assert.equal(isDnsLabel("abcdef", 5), false);
    });

    it("a DNS-1123 subdomain: labels joined by dots, at most 253", () => {
        assert.equal(isDnsSubdomain("fast.ssd.example.com"), true);
        for (const bad of ["a..b", ".a", "a.", "A.b", `${"a".repeat(63)}.`.repeat(4) + "a".repeat(2)]) {
            assert.equal(isDnsSubdomain(bad), false, bad);
        }
    });

    it("a mapping is an object that is not a list or null", () => {
        assert.equal(isPlainObject({}), true);
        assert.equal(isPlainObject([]), false);
        assert.equal(isPlainObject(null), false);
        assert.equal(isPlainObject("x"), false);
    });
});
