/**
 * CSV files the API hands out (exports of members, statements, the ledger, the
 * claim, costs): UTF-8 with a BOM (spreadsheets read Chinese names intact only
 * with it), CRLF line ends (RFC 4180), and cells a spreadsheet would run as a
 * formula neutralised (OWASP "CSV injection"), unless they are plain numbers or
 * phone numbers.
 */
import type { FastifyReply } from 'fastify';
import { stringify } from 'csv-stringify/sync';

const FORMULA_START = /^'*[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?[0-9][0-9 ().-]*$/;

export function guardCell(v: string): string {
  return FORMULA_START.test(v) && !PLAIN_NUMBER.test(v) ? `'${v}` : v;
}

export type CsvCell = string | number | boolean | null;

/** The whole file: header, then rows; null is an empty cell. */
export function csvText(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  const cell = (v: CsvCell): string => (v === null ? '' : guardCell(String(v)));
  return `\uFEFF${stringify([[...header], ...rows.map((r) => r.map(cell))], { record_delimiter: 'windows' })}`;
}

/** Sends a CSV file as a download named `filename`. */
export function sendCsv(reply: FastifyReply, filename: string, body: string): FastifyReply {
  return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${filename}"`).send(body);
}
