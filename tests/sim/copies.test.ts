/**
 * The rule the upgrade simulation applies to each server's copy of the stream across a roll that
 * restarts every pod. The figures are those of a 2.9.10 -> 2.10.29 upgrade under load in which one
 * retried message was stored twice on some copies only (nats-server#6415), so the leader's count
 * moved from 10,000 to 10,001 when the next roll handed leadership to another server.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { copiesAgree, restartedCopyProblems, type StreamCopy } from "./harness";

const copy = (pod: number, messages: number): StreamCopy => ({
    pod: `eventbus-default-js-${pod}`,
    messages,
    lastSeq: messages,
});

const agreed = [copy(0, 10_000), copy(1, 10_000), copy(2, 10_000)];
const diverged = [copy(0, 10_000), copy(1, 10_000), copy(2, 10_001)];

describe("each server's copy across a roll", () => {
    it("copies that agreed and still agree: nothing to report", () => {
        assert.equal(copiesAgree(agreed), true);
        assert.deepEqual(restartedCopyProblems(agreed, agreed, "eventbus-default-js-1"), []);
    });

    it("diverged copies, each recovered from its own store, with leadership moved to the larger: accepted", () => {
        assert.equal(copiesAgree(diverged), false);
        assert.deepEqual(restartedCopyProblems(diverged, diverged, "eventbus-default-js-2"), []);
    });

    it("a diverged copy that caught up from the leader: accepted", () => {
        const after = [copy(0, 10_001), copy(1, 10_000), copy(2, 10_001)];
        assert.deepEqual(restartedCopyProblems(diverged, after, "eventbus-default-js-2"), []);
    });

    it("a copy that lost a message on restart, the others agreeing: reported with the figures", () => {
        const after = [copy(0, 10_000), copy(1, 9_999), copy(2, 10_000)];
        assert.deepEqual(restartedCopyProblems(agreed, after, "eventbus-default-js-0"), [
            "eventbus-default-js-1 holds 9999 messages to seq 9999 after its restart: every copy held 10000 to seq 10000 before",
        ]);
    });

    it("a diverged copy that became neither its own nor the leader's: reported", () => {
        const after = [copy(0, 10_002), copy(1, 10_000), copy(2, 10_001)];
        assert.deepEqual(restartedCopyProblems(diverged, after, "eventbus-default-js-2"), [
            "eventbus-default-js-0 holds 10002 messages to seq 10002 after its restart: neither its own copy from before (10000 to seq 10000) nor the leader's (10001 to seq 10001)",
        ]);
    });

    it("a leader that is none of the pods: reported", () => {
        assert.deepEqual(restartedCopyProblems(agreed, agreed, "(none)"), [
            "the stream's leader (none) is none of the pods",
        ]);
    });
});
