/**
 * Finding a server left out of the JetStream meta group from the servers' monitoring endpoints, and
 * the lines `pulumi up` shows while a stream operation waits (pure).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { describeLeftOut, monitorPortOf, ServerView, serverLeftOut } from "../../../components/stream/meta-group";
import { humanDuration, waitingLine, whatToCheck } from "../../../components/stream/provider-impl";
import { TunnelError } from "../../../components/stream/tunnel";

const names = ["eventbus-orders-js-0", "eventbus-orders-js-1", "eventbus-orders-js-2"];

/** Three servers, each routed to the two others, following `leader` whose group holds `members`. */
function cluster(leader: string, members: string[], size = members.length): ServerView[] {
    return names.map((name) => ({
        pod: name,
        server: name,
        routedTo: names.filter((other) => other !== name),
        meta:
            name === leader
                ? {
                      leader,
                      cluster_size: size,
                      replicas: members.filter((m) => m !== leader).map((m) => ({ name: m })),
                  }
                : { leader, cluster_size: size },
    }));
}

describe("serverLeftOut", () => {
    it("names the server routed to every other but outside the leader's group of 2 (the nats-server 2.10 state)", () => {
        const views = cluster(names[2], [names[2], names[1]]);
        assert.deepEqual(serverLeftOut(views), {
            pod: names[0],
            server: names[0],
            leader: names[2],
            groupSize: 2,
            servers: 3,
        });
    });

    it("finds nothing in a healthy cluster whose leader counts all three", () => {
        assert.equal(serverLeftOut(cluster(names[0], names)), undefined);
    });

    it("finds nothing while the cluster forms: a route still missing", () => {
        const views = cluster(names[2], [names[2], names[1]]);
        views[0] = { ...views[0], routedTo: [names[2]] };
        assert.equal(serverLeftOut(views), undefined);
    });

    it("finds nothing while the servers do not agree on a leader, or one has none", () => {
        const split = cluster(names[2], [names[2], names[1]]);
        split[0] = { ...split[0], meta: { leader: names[1], cluster_size: 2 } };
        assert.equal(serverLeftOut(split), undefined);
        const none = cluster(names[2], [names[2], names[1]]);
        none[1] = { ...none[1], meta: {} };
        assert.equal(serverLeftOut(none), undefined);
    });

    it("finds nothing when the leader is not among the pods looked at (one pod not Ready)", () => {
        const views = cluster(names[2], [names[2], names[1]]).filter((v) => v.server !== names[2]);
        assert.equal(serverLeftOut(views), undefined);
    });

    it("names the pod, not the server, when the two differ", () => {
        const views = cluster(names[1], [names[1], names[2]]).map((v) => ({ ...v, pod: `pod-of-${v.server}` }));
        assert.equal(serverLeftOut(views)?.pod, `pod-of-${names[0]}`);
    });

    it("says what the state means and that a restart heals it", () => {
        const text = describeLeftOut(serverLeftOut(cluster(names[2], [names[2], names[1]]))!);
        assert.match(
            text,
            /^server eventbus-orders-js-0 \(pod eventbus-orders-js-0\) is routed to every server but not in the JetStream meta group of leader eventbus-orders-js-2 \(2 of 3 servers\).*until that server restarts$/,
        );
    });
});

describe("monitorPortOf", () => {
    it("reads the container port named monitor, else Argo's 8222", () => {
        const pod = {
            spec: {
                containers: [
                    {
                        name: "main",
                        ports: [
                            { name: "client", containerPort: 4222 },
                            { name: "monitor", containerPort: 9222 },
                        ],
                    },
                ],
            },
        };
        assert.equal(monitorPortOf(pod), 9222);
        assert.equal(monitorPortOf({ spec: { containers: [{ name: "main" }] } }), 8222);
    });
});

describe("progress lines and the last error's advice", () => {
    it("humanDuration writes seconds, then minutes and seconds", () => {
        assert.deepEqual([0, 999, 45_000, 60_000, 250_000].map(humanDuration), ["0s", "1s", "45s", "1m", "4m10s"]);
    });

    it("a waiting line names the operation, the attempt, the time against the limit, the pod and the failure", () => {
        assert.equal(
            waitingLine(
                'creating stream "orders"',
                "a port-forward to pod eventbus-orders-js-1 in namespace orders",
                3,
                12_400,
                300_000,
                "no suitable peers for placement (error 10005)",
            ),
            'creating stream "orders": waiting (attempt 3, 12s of 5m) through a port-forward to pod eventbus-orders-js-1 in namespace orders: no suitable peers for placement (error 10005)',
        );
    });

    it("whatToCheck points at the pods and the meta leader for transient failures, and adds nothing where the error says it", () => {
        const noResponders = Object.assign(new Error("no responders"), { name: "NoRespondersError" });
        assert.match(
            whatToCheck(noResponders),
            /no JetStream server answered: check that a majority of the bus's pods are Ready/,
        );
        const timeout = Object.assign(new Error("timeout"), { name: "TimeoutError" });
        assert.match(
            whatToCheck(timeout),
            /check that the bus's pods are Ready and reachable from where pulumi up runs/,
        );
        assert.equal(whatToCheck(Object.assign(new Error("no suitable peers"), { code: 10005 })), "");
        assert.equal(whatToCheck(new TunnelError("no Ready pod", true)), "");
        assert.equal(
            whatToCheck(Object.assign(new Error("Authorization Violation"), { name: "AuthorizationError" })),
            "",
        );
    });
});
