/**
 * Small helpers of the benchmark: summaries of repeated runs, and the row format of the table and
 * of the JSON file.
 */

/** Median, min and max of repeated runs, with every run kept. */
export interface Summary {
    median: number;
    min: number;
    max: number;
    runs: number[];
}

export function summarize(values: number[]): Summary {
    if (values.length === 0) {
        return { median: NaN, min: NaN, max: NaN, runs: [] };
    }
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: values };
}

/** One line of the table (and one entry of the JSON). */
export interface Row {
    group: string;
    measure: string;
    unit: string;
    median: number;
    min: number;
    max: number;
    runs: number[];
    /** Ratio to the reference named in `ratioTo` (medians), when there is one. */
    ratio?: number;
    ratioTo?: string;
    note?: string;
    /** Kept in the JSON only, not printed in the table. */
    detail?: boolean;
}

export function row(
    group: string,
    measure: string,
    unit: string,
    values: number[] | number,
    extra: Partial<Row> = {},
): Row {
    const s = summarize(Array.isArray(values) ? values : [values]);
    return { group, measure, unit, ...s, ...extra };
}

/** A ratio of medians, or undefined when the reference is zero. */
export function ratioOf(a: number, b: number): number | undefined {
    return b === 0 || !Number.isFinite(a) || !Number.isFinite(b) ? undefined : a / b;
}

function formatNumber(value: number | undefined, unit: string): string {
    if (value === undefined || Number.isNaN(value)) return "-";
    if (unit === "count" || unit === "B" || unit === "files")
        return Number.isInteger(value) ? String(value) : value.toFixed(1);
    const abs = Math.abs(value);
    if (abs >= 100) return value.toFixed(0);
    if (abs >= 10) return value.toFixed(1);
    if (abs >= 0.1) return value.toFixed(2);
    return value.toFixed(3);
}

/** The rows as a fixed-width text table. */
export function table(all: Row[]): string {
    const rows = all.filter((r) => !r.detail);
    const header = ["group", "measure", "unit", "median", "min", "max", "ratio"];
    const lines = rows.map((r) => [
        r.group,
        r.measure,
        r.unit,
        formatNumber(r.median, r.unit),
        formatNumber(r.min, r.unit),
        formatNumber(r.max, r.unit),
        r.ratio === undefined
            ? (r.ratioTo ?? "")
            : `${r.ratio.toFixed(r.ratio >= 100 ? 0 : 2)}x${r.ratioTo ? ` ${r.ratioTo}` : ""}`,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const numeric = new Set([3, 4, 5]);
    const format = (cells: string[]) =>
        cells
            .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
            .join("  ")
            .trimEnd();
    return [format(header), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(format)].join("\n");
}
