import type * as pulumi from "@pulumi/pulumi";

/**
 * The stream's dynamic provider as Pulumi serializes it into state. Every method loads the
 * implementation with `require` when it runs: the serialized text stays a few hundred bytes, captures
 * no module graph and no value of the program (so no secret), and always runs the installed code.
 * The package name resolves from the program's folder, where the dynamic provider host runs.
 */
export const streamProvider: pulumi.dynamic.ResourceProvider = {
    async check(olds, news) {
        const impl = require("jetstream-eventbus/stream-provider");
        return { inputs: news, failures: impl.checkProps(news) };
    },
    async diff(_id, olds, news) {
        return require("jetstream-eventbus/stream-provider").planDiff(olds, news);
    },
    async create(inputs) {
        return require("jetstream-eventbus/stream-provider").createStream(inputs);
    },
    async read(id, props) {
        return require("jetstream-eventbus/stream-provider").readStream(id, props);
    },
    async update(_id, olds, news) {
        return require("jetstream-eventbus/stream-provider").updateStream(olds, news);
    },
    async delete(id, props) {
        await require("jetstream-eventbus/stream-provider").deleteStream(id, props);
    },
};
