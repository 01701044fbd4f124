/**
 * `jetstream-eventbus render`: every object, nats-js.conf and the stream as files, deterministic,
 * with no secret in them, and the same objects the unit tests see.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { SECRET_MARKER } from "../../../cli/render";
import { renderBus } from "../../support/bus";

// The repository: this file runs from dist/tests/integration/cli.
const ROOT = path.resolve(__dirname, "../../../..");
const CLI = path.join(ROOT, "dist/cli/cli.js");

function render(args: string[], cwd = ROOT) {
    return spawnSync(process.execPath, [CLI, "render", ...args], { cwd, encoding: "utf8", timeout: 120_000 });
}

function readTree(dir: string): Map<string, string> {
    const files = new Map<string, string>();
    const walk = (sub: string) => {
        for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
            const rel = path.join(sub, entry.name);
            if (entry.isDirectory()) walk(rel);
            else files.set(rel, fs.readFileSync(path.join(dir, rel), "utf8"));
        }
    };
    walk("");
    return files;
}

function tempDir(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), "render-test-"));
}

describe("npm run render", () => {
    const INVOLVED =
        'apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata:\n  name: default\n  namespace: argo-events\nspec:\n  jetstream:\n    version: latest\n    replicas: 5\n    persistence:\n      storageClassName: standard\n      accessMode: ReadWriteOnce\n      volumeSize: 10Gi\n    streamConfig: |\n      maxAge: 24h\n    settings: |\n      max_file_store: 1GB\n    startArgs:\n      - "-D"\n';

    it("writes byte-identical files for the same input, twice", () => {
        const dir = tempDir();
        try {
            fs.writeFileSync(path.join(dir, "eventbus.yaml"), INVOLVED);
            for (const out of ["a", "b"]) {
                const result = render(["--manifest", path.join(dir, "eventbus.yaml"), "--out", path.join(dir, out)]);
                assert.equal(result.status, 0, result.stderr);
                assert.match(result.stdout, /^wrote 8 files to /);
            }
            const a = readTree(path.join(dir, "a"));
            const b = readTree(path.join(dir, "b"));
            assert.deepEqual([...a.keys()].sort(), [
                ".jetstream-eventbus-render",
                "argo-events/configmap-eventbus-default-js-config.yaml",
                "argo-events/eventbus-default-js-config.nats-js.conf",
                "argo-events/poddisruptionbudget-eventbus-default-js-pdb.yaml",
                "argo-events/secret-eventbus-default-js-client-auth.yaml",
                "argo-events/secret-eventbus-default-js-server.yaml",
                "argo-events/service-eventbus-default-js-svc.yaml",
                "argo-events/statefulset-eventbus-default-js.yaml",
                "streams/default-stream.yaml",
            ]);
            for (const [file, text] of a) assert.equal(b.get(file), text, file);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("renders the objects the unit tests see, with every Secret value and credential replaced by the marker", async () => {
        const dir = tempDir();
        try {
            fs.writeFileSync(path.join(dir, "eventbus.yaml"), INVOLVED);
            assert.equal(
                render(["--manifest", path.join(dir, "eventbus.yaml"), "--out", path.join(dir, "out")]).status,
                0,
            );
            const files = readTree(path.join(dir, "out"));
            const unit = await renderBus("default", {
                namespace: "argo-events",
                jetstream: {
                    version: "latest",
                    replicas: 5,
                    persistence: { storageClassName: "standard", accessMode: "ReadWriteOnce", volumeSize: "10Gi" },
                    streamConfig: "maxAge: 24h\n",
                    settings: "max_file_store: 1GB\n",
                    startArgs: ["-D"],
                },
            });
            for (const object of unit.kubernetesObjects()) {
                const text = files.get(`argo-events/${object.kind.toLowerCase()}-${object.metadata.name}.yaml`);
                assert.ok(text, `${object.kind} ${object.metadata.name} rendered`);
                const rendered = parse(text);
                if (object.kind === "Secret") {
                    assert.deepEqual(Object.keys(rendered.stringData).sort(), Object.keys(object.stringData).sort());
                    assert.ok(Object.values(rendered.stringData).every((v) => v === SECRET_MARKER));
                    const { stringData: _a, ...restRendered } = rendered;
                    const { stringData: _b, ...restUnit } = object;
                    assert.deepEqual(restRendered, JSON.parse(JSON.stringify(restUnit)));
                } else {
                    assert.deepEqual(rendered, JSON.parse(JSON.stringify(object)));
                }
            }
            assert.equal(files.get("argo-events/eventbus-default-js-config.nats-js.conf"), unit.configText);
            const stream = parse(files.get("streams/default-stream.yaml")!);
            assert.equal(stream.config.maxAge, "24h");
            assert.equal(stream.connection.password, SECRET_MARKER);
            assert.equal(stream.connection.caCert, SECRET_MARKER);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("leaks none of the secrets it generated", async () => {
        // In-process, so the generated material is at hand: the render of one capture.
        const result = spawnSync(
            process.execPath,
            [
                "-e",
                `const { captureEventBus } = require(${JSON.stringify(path.join(ROOT, "dist/cli/capture.js"))});
                 const { renderFiles } = require(${JSON.stringify(path.join(ROOT, "dist/cli/render.js"))});
                 captureEventBus("default", { namespace: "argo-events", jetstream: { version: "latest" }, argoEvents: undefined }).then(({ resources, generated }) => {
                     const secrets = [];
                     for (const outputs of Object.values(generated)) for (const key of ["result", "bcryptHash", "privateKeyPem", "privateKeyPemPkcs8", "certPem"]) if (typeof outputs[key] === "string") secrets.push(outputs[key]);
                     const leaks = renderFiles(resources).filter((f) => secrets.some((s) => f.content.includes(s.trim().split("\\n")[1] ?? s)));
                     console.log(JSON.stringify({ secrets: secrets.length, files: renderFiles(resources).length, leaks: leaks.map((f) => f.path) }));
                 });`,
            ],
            { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
        );
        assert.equal(result.status, 0, result.stderr);
        const report = JSON.parse(result.stdout.trim());
        assert.ok(report.secrets >= 10, `checked ${report.secrets} generated values`);
        assert.deepEqual(report.leaks, []);
    });

    it("prints one multi-document YAML with --format yaml", () => {
        const result = render(["--format", "yaml"]);
        assert.equal(result.status, 0, result.stderr);
        const docs = parseAllDocuments(result.stdout).map((d) => d.toJS());
        assert.deepEqual(docs.map((d) => d.kind ?? "stream").sort(), [
            "ConfigMap",
            "PodDisruptionBudget",
            "Secret",
            "Secret",
            "Service",
            "StatefulSet",
            "stream",
        ]);
    });

    it("refuses an output folder it cannot write, and one holding other files", () => {
        const unwritable = render(["--out", "/proc/version/rendered"]);
        assert.equal(unwritable.status, 2);
        assert.match(unwritable.stderr, /^error: cannot write the render to \/proc\/version\/rendered/m);
        const dir = tempDir();
        try {
            fs.writeFileSync(path.join(dir, "notes.txt"), "mine");
            const occupied = render(["--out", dir]);
            assert.equal(occupied.status, 2);
            assert.match(occupied.stderr, /is not empty and holds no earlier render/);
            assert.equal(fs.readFileSync(path.join(dir, "notes.txt"), "utf8"), "mine");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses invalid input with the field and a non-zero status", () => {
        const dir = tempDir();
        try {
            fs.writeFileSync(
                path.join(dir, "bus.yaml"),
                "apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata: { name: default }\nspec:\n  nats:\n    native: {}\n",
            );
            const result = render(["--manifest", path.join(dir, "bus.yaml"), "--out", path.join(dir, "out")]);
            assert.equal(result.status, 2);
            assert.match(result.stderr, /^error: spec\.nats: /m);
            assert.equal(fs.existsSync(path.join(dir, "out")), false);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
