/** One CSV cell (RFC 4180): quoted when it holds a quote, a comma or a line break. */
export function csvCell(cell: string): string {
  return /[",\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}
