import type * as pulumi from "@pulumi/pulumi";

/**
 * Loads the provider's implementation, resolving the package name from the program's folder (where
 * Pulumi runs the dynamic provider host): the installed package in a user's program, the package
 * itself in this repository. A plain `require` would not do: the host compiles the serialized text
 * as a module without a file name, which Node never resolves a package's own name from.
 */
function loadImplementation() {
    const { createRequire } = require("node:module");
    const { join } = require("node:path");
    return createRequire(join(process.cwd(), "index.js"))("jetstream-eventbus/stream-provider");
}

/**
 * The stream's dynamic provider as Pulumi serializes it into state. Every method loads the
 * implementation when it runs, so the serialized text stays a few kilobytes, captures no module
 * graph and no value of the program (so no secret), and always runs the installed code.
 */
export const streamProvider: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news) {
        return { inputs: news, failures: loadImplementation().checkProps(news) };
    },
    async diff(_id, olds, news) {
        return loadImplementation().planDiff(olds, news);
    },
    async create(inputs) {
        return loadImplementation().createStream(inputs);
    },
    async read(id, props) {
        return loadImplementation().readStream(id, props);
    },
    async update(_id, olds, news) {
        return loadImplementation().updateStream(olds, news);
    },
    async delete(id, props) {
        await loadImplementation().deleteStream(id, props);
    },
};
