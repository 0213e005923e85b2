/** Number and table formatting shared by the summaries. */

/** A figure with `digits` decimals, trailing zeros dropped; a dash when it is not known. */
export const fmt = (n: number | null | undefined, digits = 1) =>
  n === null || n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(digits).replace(/\.0+$/, '');

export function row(cells: Array<string | number>): string {
  return `| ${cells.join(' | ')} |`;
}
