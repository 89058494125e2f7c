/**
 * The HTML document around a printable page: one self-contained file (inline
 * CSS, no script, no external resource), A4 when printed, table headers
 * repeated on every printed page and rows never split across pages.
 */
import { esc } from './format.js';
import type { Lang } from './messages.js';

const STYLE = `
@page { size: A4; margin: 14mm 12mm 16mm; }
:root { color: #111; background: #fff; }
* { box-sizing: border-box; }
body {
  margin: 0 auto; padding: 24px; max-width: 1100px;
  font: 13px/1.45 "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", system-ui, sans-serif;
}
h1 { font-size: 20px; margin: 0 0 12px; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0 0 16px; }
.meta dt { color: #555; }
.meta dd { margin: 0; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #ccc; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
tfoot td { border-top: 2px solid #333; border-bottom: none; font-weight: 600; }
.sub { display: block; color: #555; font-size: 11px; }
.note { margin: 16px 0 0; color: #333; font-size: 12px; }
footer { margin-top: 20px; color: #555; font-size: 11px; }
@media print {
  body { padding: 0; max-width: none; font-size: 9pt; }
  h1 { font-size: 14pt; }
  .sub, .note, footer { font-size: 8pt; }
  th { background: #eee; print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  thead { display: table-header-group; }
  tfoot { display: table-row-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
}
`;

/** The whole document. `title` is text (escaped here); `body` is markup the caller built with every value escaped. */
export function htmlPage(lang: Lang, title: string, body: string): string {
  return `<!doctype html>
<html lang="${esc(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}
