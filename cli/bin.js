#!/usr/bin/env node
// The CLI is compiled by the repository's build (`npm run build` at the root) into dist/cli.
require("../dist/cli/cli.js").cli(process.argv.slice(2));
