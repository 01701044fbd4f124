/**
 * `jetstream.startArgs`: the logging flags of nats-server pass, flags that would override what the bus
 * owns or stop the server are refused with the reason, and unknown flags are refused naming the allowed
 * ones. (The flag list is the same in `nats-server --help` of 2.9 to 2.14; tests/integration/config/settings.test.ts
 * starts a real server with every allowed form.)
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkStartArgs } from "../../../components/config/start-args";
import { InputError } from "../../../components/check";

function refusal(args: unknown): InputError {
    try {
        checkStartArgs(args);
    } catch (err) {
        assert.ok(err instanceof InputError, String(err));
        return err;
    }
    assert.fail(`accepted: ${JSON.stringify(args)}`);
}

describe("start flags that are accepted", () => {
    const accepted: string[][] = [
        [],
        ["-D"],
        ["-V"],
        ["-DV"],
        ["-DVV"],
        ["-VV"],
        ["--debug", "--trace"],
        ["--debug=false"],
        ["-T=false"],
        ["--logtime=true"],
        ["--max_traced_msg_len", "256"],
        ["--max_traced_msg_len=64"],
        ["-r", "udp://syslog.example.com:514"],
        ["--remote_syslog=tcp://10.0.0.1:601"],
    ];
    for (const args of accepted) {
        it(JSON.stringify(args), () => assert.deepEqual(checkStartArgs(args), args));
    }
});

describe("start flags that are refused", () => {
    const cases: { args: unknown; field: string; message: RegExp }[] = [
        {
            args: ["--config", "/etc/nats/custom.conf"],
            field: "jetstream.startArgs[0]",
            message: /-config is not allowed: it replaces the configuration file/,
        },
        { args: ["-c=/x.conf"], field: "jetstream.startArgs[0]", message: /-c is not allowed/ },
        {
            args: ["-p", "5222"],
            field: "jetstream.startArgs[0]",
            message: /-p is not allowed: it changes the client port/,
        },
        {
            args: ["-D", "--user", "admin", "--pass", "hunter2-secret"],
            field: "jetstream.startArgs[1]",
            message: /-user is not allowed: credentials on the command line are visible/,
        },
        { args: ["--pass=hunter2-secret"], field: "jetstream.startArgs[0]", message: /-pass is not allowed/ },
        {
            args: ["--tlsverify"],
            field: "jetstream.startArgs[0]",
            message: /client certificates would lock out every client/,
        },
        { args: ["-sd", "/tmp"], field: "jetstream.startArgs[0]", message: /store directory/ },
        { args: ["--routes", "nats://x:6222"], field: "jetstream.startArgs[0]", message: /routes between its pods/ },
        {
            args: ["-l", "/tmp/nats.log"],
            field: "jetstream.startArgs[0]",
            message: /logs go to the container's output/,
        },
        { args: ["--profile", "6060"], field: "jetstream.startArgs[0]", message: /profiling port/ },
        { args: ["-v"], field: "jetstream.startArgs[0]", message: /print its version and exit/ },
        {
            args: ["-D; rm -rf /"],
            field: "jetstream.startArgs[0]",
            message:
                /is not a nats-server flag \(one flag an item, no spaces or shell syntax.*allowed flags: -D\/--debug, -V\/--trace/,
        },
        {
            args: ["--bogus"],
            field: "jetstream.startArgs[0]",
            message: /-bogus is not a flag a bus allows; allowed flags: -D\/--debug/,
        },
        { args: ["--debgu"], field: "jetstream.startArgs[0]", message: /did you mean "debug"\?/ },
        { args: ["debug"], field: "jetstream.startArgs[0]", message: /is not a nats-server flag/ },
        { args: ["-D=maybe"], field: "jetstream.startArgs[0]", message: /must be true or false/ },
        { args: ["--max_traced_msg_len"], field: "jetstream.startArgs[0]", message: /needs a value/ },
        { args: ["--max_traced_msg_len", "lots"], field: "jetstream.startArgs[1]", message: /must be a whole number/ },
        {
            args: ["-r", "syslog.example.com"],
            field: "jetstream.startArgs[1]",
            message: /a syslog address such as udp:/,
        },
        { args: "-D", field: "jetstream.startArgs", message: /must be a list of nats-server flags/ },
        { args: [5], field: "jetstream.startArgs[0]", message: /must be a string/ },
    ];
    for (const { args, field, message } of cases) {
        it(JSON.stringify(args), () => {
            const err = refusal(args);
            assert.equal(err.field, field);
            assert.match(err.message, message);
            assert.ok(!err.message.includes("hunter2"), err.message);
        });
    }
});
