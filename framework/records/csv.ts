/** CSV cells. */

/** One CSV cell (RFC 4180): quoted when it holds a quote, a comma or a line break. */
export function csvCell(cell: string): string {
  return /[",\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}

/**
 * The shortest decimal that reads back as the same float32, which is what the event file holds:
 * a logged 0.1 is written 0.1, not 0.10000000149011612. Nine digits always suffice.
 */
export function float32Text(value: number): string {
  for (let digits = 1; digits <= 9; digits++) {
    const decimal = Number(value.toPrecision(digits));
    if (Math.fround(decimal) === value) return String(decimal);
  }
  return String(value); // NaN
}
