// Lint rules: typescript-eslint's recommended set over the library, the CLI, the tests and the examples.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["dist/", "node_modules/", "examples/*/node_modules/", "examples/*/bin/"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        linterOptions: { reportUnusedDisableDirectives: "error" },
        rules: {
            // Provider payloads, Kubernetes objects and parsed YAML are untyped by nature.
            "@typescript-eslint/no-explicit-any": "off",
            // Loading on demand is the design in places: the serialized dynamic providers can only
            // require, the NATS client loads when a provider operation runs, and tests load the
            // program under mocks after installing them.
            "@typescript-eslint/no-require-imports": "off",
            "@typescript-eslint/no-unused-vars": [
                "error",
                { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
            ],
        },
    },
    {
        // CommonJS files the Pulumi CLI loads.
        files: ["**/*.js", "**/*.cjs"],
        languageOptions: {
            sourceType: "commonjs",
            globals: { require: "readonly", module: "writable", process: "readonly", __dirname: "readonly" },
        },
    },
);
