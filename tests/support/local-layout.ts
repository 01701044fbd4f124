/** The layout of a bus on this machine; the package's own, re-exported for the tests. */
export * from "../../cli/layout";
