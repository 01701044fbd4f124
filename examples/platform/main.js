// Pulumi runs this file: it loads the program compiled by `npm run build` at the repository root.
module.exports = require("../../dist/examples/platform/index.js");
