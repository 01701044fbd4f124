/** The choice of route to the bus, and the wording of connection errors (pure). */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
    chooseRoute,
    ConnectionProps,
    explainConnectionError,
    explainPortForwardRefusal,
    insideKubernetes,
    serverUrlProblem,
} from "../../../components/stream/connection";

const target = {
    namespace: "argo-events",
    statefulSet: "eventbus-default-js",
    podSelector: { "eventbus-name": "default" },
    port: 4222,
};
const managed: ConnectionProps = {
    servers: ["nats://eventbus-default-js-svc.argo-events.svc:4222"],
    kubernetes: target,
};
const inCluster = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
const laptop = { HOME: "/home/dev" };

describe("chooseRoute", () => {
    it("auto inside a cluster: straight to the service's DNS name", () => {
        assert.deepEqual(chooseRoute({ ...managed, mode: "auto" }, inCluster), {
            kind: "direct",
            servers: ["nats://eventbus-default-js-svc.argo-events.svc:4222"],
        });
    });
    it("auto outside a cluster: a port-forward to the bus's pods", () => {
        assert.deepEqual(chooseRoute({ ...managed, mode: "auto" }, laptop), { kind: "portForward", target });
    });
    it("auto is the default mode", () => {
        assert.deepEqual(chooseRoute(managed, laptop), { kind: "portForward", target });
    });
    it("auto with only one of the two service variables set is not inside a cluster", () => {
        assert.equal(insideKubernetes({ KUBERNETES_SERVICE_HOST: "10.96.0.1" }), false);
        assert.equal(chooseRoute(managed, { KUBERNETES_SERVICE_HOST: "10.96.0.1" }).kind, "portForward");
    });
    it("portForward even inside a cluster", () => {
        assert.deepEqual(chooseRoute({ ...managed, mode: "portForward" }, inCluster), { kind: "portForward", target });
    });
    it("direct uses the explicit URLs wherever it runs", () => {
        const direct: ConnectionProps = { mode: "direct", servers: ["nats://lb.example.com:4222"], kubernetes: target };
        assert.deepEqual(chooseRoute(direct, laptop), { kind: "direct", servers: ["nats://lb.example.com:4222"] });
        assert.deepEqual(chooseRoute(direct, inCluster), { kind: "direct", servers: ["nats://lb.example.com:4222"] });
    });
    it("auto for a server outside Kubernetes (an exotic bus): direct", () => {
        assert.deepEqual(chooseRoute({ servers: ["nats://nats.example.com:4222"] }, laptop), {
            kind: "direct",
            servers: ["nats://nats.example.com:4222"],
        });
    });
    it("portForward without pods to forward to is refused with what to do instead", () => {
        assert.throws(
            () => chooseRoute({ mode: "portForward", servers: ["nats://nats.example.com:4222"] }, laptop),
            /use mode direct/,
        );
    });
});

describe("serverUrlProblem", () => {
    for (const ok of ["nats://nats.example.com:4222", "tls://10.0.0.1:4222", "nats://nats", "nats://[::1]:4222"]) {
        it(`accepts ${ok}`, () => assert.equal(serverUrlProblem(ok), undefined));
    }
    for (const bad of [
        "http://nats:4222",
        "nats.example.com:4222",
        "nats://",
        "nats://a b:4222",
        "nats://nats:99999",
    ]) {
        it(`refuses ${bad}`, () =>
            assert.match(serverUrlProblem(bad) ?? "", /NATS URL|out of range: ports go from 1 to 65535/));
    }
});

describe("error wording", () => {
    it("names a refused password", () => {
        assert.match(explainConnectionError("Authorization Violation", "svc"), /refused the user name and password/);
    });
    it("names a TLS name mismatch with the expected name", () => {
        assert.match(
            explainConnectionError(
                "Hostname/IP does not match certificate's altnames: Host: x. is not in the cert's altnames",
                "eventbus-default-js-svc.argo-events.svc",
            ),
            /TLS name mismatch.*eventbus-default-js-svc\.argo-events\.svc/,
        );
    });
    it("names an unknown CA", () => {
        assert.match(
            explainConnectionError("self-signed certificate in certificate chain", "svc"),
            /not signed by the given CA/,
        );
    });
    it("leaves other errors as they are", () => {
        assert.equal(
            explainConnectionError("connect ECONNREFUSED 127.0.0.1:4222", "svc"),
            "connect ECONNREFUSED 127.0.0.1:4222",
        );
    });
    it("tells which RBAC permission a refused port-forward needs", () => {
        assert.match(
            explainPortForwardRefusal(403, "eventbus-default-js-0", "argo-events", ""),
            /403 Forbidden.*"get" and "create" on "pods\/portforward".*namespace argo-events/,
        );
    });
    it("says when the kubeconfig's credentials are refused", () => {
        assert.match(explainPortForwardRefusal(401, "eventbus-default-js-0", "argo-events", ""), /401 Unauthorized/);
    });
});
