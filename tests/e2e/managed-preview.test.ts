/**
 * `pulumi preview` of a managed bus (`jetstream`) with the real CLI, language host and Kubernetes
 * provider, with no cluster to reach (the provider previews without one), and the tls/random
 * provider doubles: every object, certificate, password and the stream planned; bad input stops the
 * preview with the field named and nothing planned.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import "../../cli/reflect-metadata";
import * as x509 from "@peculiar/x509";
import { Cleanup } from "../support/nats";
import {
    createProgramFolder,
    EngineTools,
    findEngineTools,
    previewJson,
    ProgramFolder,
    stepType,
    typescriptProject,
} from "../support/real-engine";

const PROGRAM = `import * as pulumi from "@pulumi/pulumi";
import { EventBus } from "jetstream-eventbus";

const config = new pulumi.Config();
const bus = new EventBus("default", {
    namespace: "argo-events",
    jetstream: { version: "latest", replicas: config.getNumber("replicas") },
    connection: { kubeconfig: config.getSecret("kubeconfig") },
});

export const url = bus.url;
export const password = bus.password;
`;

/** What a 3-replica bus plans, as `<type> <name>`. */
const PLANNED = [
    "pulumi:pulumi:Stack argo-bus-dev",
    "jetstream-eventbus:index:EventBus default",
    "random:index/randomPassword:RandomPassword default-password",
    "random:index/randomPassword:RandomPassword default-system-password",
    "random:index/randomPassword:RandomPassword default-encryption-key",
    "tls:index/privateKey:PrivateKey default-ca-key",
    "tls:index/selfSignedCert:SelfSignedCert default-ca",
    "tls:index/privateKey:PrivateKey default-server-key",
    "tls:index/certRequest:CertRequest default-server-csr",
    "tls:index/locallySignedCert:LocallySignedCert default-server-cert",
    "tls:index/privateKey:PrivateKey default-route-key",
    "tls:index/certRequest:CertRequest default-route-csr",
    "tls:index/locallySignedCert:LocallySignedCert default-route-cert",
    "kubernetes:core/v1:Secret default-server",
    "kubernetes:core/v1:Secret default-client-auth",
    "kubernetes:core/v1:ConfigMap default-config",
    "kubernetes:core/v1:SecretPatch default-server-data",
    "kubernetes:core/v1:SecretPatch default-client-auth-data",
    "kubernetes:core/v1:ConfigMapPatch default-config-data",
    "pulumi-nodejs:dynamic/jetstream:Servers default-servers",
    "kubernetes:core/v1:Service default-svc",
    "kubernetes:apps/v1:StatefulSet default-js",
    "kubernetes:policy/v1:PodDisruptionBudget default-pdb",
    "pulumi-nodejs:dynamic/jetstream:Stream default-stream",
].sort();

/** A kubeconfig that would reach no cluster, with a token a leak would show. */
const KUBECONFIG_TOKEN = "kubeconfig-token-that-must-stay-secret";
const KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://127.0.0.1:1" } }]
users: [{ name: u, user: { token: ${KUBECONFIG_TOKEN} } }]
contexts: [{ name: c, context: { cluster: c, user: u } }]
current-context: c
`;

const tools = findEngineTools();

describe(
    "pulumi preview of a managed bus with the real Kubernetes provider and no cluster",
    { skip: typeof tools === "string" ? tools : false },
    () => {
        const cleanup = new Cleanup();
        let program: ProgramFolder;

        before(async () => {
            program = await createProgramFolder(tools as EngineTools, cleanup, typescriptProject("argo-bus", PROGRAM));
            await program.pulumiOk(["stack", "init", "dev"]);
            await program.pulumiOk(["config", "set", "--secret", "kubeconfig", "--", KUBECONFIG]);
        });
        after(() => cleanup.run());

        it("plans every object, certificate, password and the stream, and shows no secret", async () => {
            const result = await program.pulumiOk(["preview", "--json"]);
            const preview = previewJson(result);
            assert.deepEqual(
                preview.steps.map((s) => s.op),
                preview.steps.map(() => "create"),
            );
            assert.deepEqual(preview.steps.map((s) => `${stepType(s)} ${s.urn.split("::").pop()}`).sort(), PLANNED);

            const planned = (type: string) => preview.steps.find((s) => stepType(s) === type)!.newState!.inputs!;
            const statefulSet = planned("kubernetes:apps/v1:StatefulSet");
            assert.equal(statefulSet.metadata.name, "eventbus-default-js");
            assert.equal(statefulSet.spec.replicas, 3);
            const configText: string = planned("kubernetes:core/v1:ConfigMap").data["nats-js"];
            assert.match(
                configText,
                /routes: \[[^\]]*nats:\/\/eventbus-default-js-2\.eventbus-default-js-svc\.argo-events\.svc:6222/,
            );
            assert.equal(planned("pulumi-nodejs:dynamic/jetstream:Stream").connection, "[secret]");

            const text = (await program.pulumiOk(["preview", "--diff"])).stdout;
            for (const output of [result.stdout, text]) {
                assert.ok(!output.includes(KUBECONFIG_TOKEN), "the preview shows the kubeconfig");
                assert.ok(!/PRIVATE KEY/.test(output), "the preview shows a private key");
            }
            const state = JSON.parse((await program.pulumiOk(["stack", "export"])).stdout);
            assert.deepEqual(state.deployment.resources ?? [], [], "a preview wrote resources to state");
        });

        it("fails on bad input with the field and the allowed values named, nothing planned and no stack trace", async () => {
            await program.pulumiOk(["config", "set", "replicas", "2"]);
            const result = await program.pulumi(["preview", "--json"]);
            assert.notEqual(result.code, 0);
            const preview = previewJson(result);
            assert.deepEqual(
                preview.steps.map((s) => stepType(s)),
                ["pulumi:pulumi:Stack"],
                "only the stack itself",
            );
            const errors = (preview.diagnostics ?? []).filter((d) => d.severity === "error").map((d) => d.message);
            assert.deepEqual(errors, [
                "error: jetstream.replicas: 2 is not allowed: a JetStream bus needs 1 replica or 3 and more (2 servers cannot keep a quorum when one fails)\n",
            ]);
            await program.pulumiOk(["config", "rm", "replicas"]);
        });

        it("creates the certificates and passwords alone, keeps every key and password secret in state, and previews them unchanged", async () => {
            // Without a cluster only these can be created: `--target` them, with their component and the stack.
            const preview = previewJson(await program.pulumiOk(["preview", "--json"]));
            const targets = preview.steps
                .filter((s) => /^(tls|random):|EventBus$|Stack$/.test(stepType(s)))
                .map((s) => `--target=${s.urn}`);
            assert.equal(targets.length, 13);
            await program.pulumiOk(["up", "--yes", "--skip-preview", ...targets]);

            const state = JSON.parse((await program.pulumiOk(["stack", "export"])).stdout);
            const byName = (name: string) =>
                state.deployment.resources.find((r: { urn: string }) => r.urn.endsWith(`::${name}`));
            const serverCert = new x509.X509Certificate(byName("default-server-cert").outputs.certPem);
            const names = serverCert
                .getExtension(x509.SubjectAlternativeNameExtension)!
                .names.items.map((n) => n.value);
            assert.ok(names.includes("eventbus-default-js-svc.argo-events.svc"), names.join(", "));
            const password: string = JSON.parse(
                (await program.pulumiOk(["stack", "output", "--json", "--show-secrets"])).stdout,
            ).password;
            assert.equal(password.length, 32);
            for (const { file, text } of program.stateFiles()) {
                assert.ok(!/PRIVATE KEY/.test(text), `${file} holds a private key in clear text`);
                assert.ok(!text.includes(password), `${file} holds the password in clear text`);
            }

            const again = previewJson(await program.pulumiOk(["preview", "--json"]));
            assert.deepEqual(
                again.changeSummary,
                { create: 11, same: 13 },
                "only the Kubernetes objects, the servers and the stream are left to create",
            );
        });
    },
);
