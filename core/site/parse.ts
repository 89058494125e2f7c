/**
 * Site file text → Site, with every problem reported as file:line:column so a
 * manager can jump to it in an editor. YAML syntax errors come from the yaml
 * parser; everything else comes from ./validate.ts as a path, which is mapped
 * back onto the YAML node it names.
 *
 * Pure: the caller reads the file (cli/init.ts loadSiteFile).
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type YAMLError } from 'yaml';
import type { Site } from './model.js';
import { formatSitePath, validateSite, type SiteIssue } from './validate.js';

export interface SiteFileError {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** `devices[3].desk`, or '' for problems with the file as a whole. */
  readonly path: string;
  readonly message: string;
}

export type SiteParse = { ok: true; site: Site } | { ok: false; errors: SiteFileError[] };

/** A large real site (a few thousand devices) is well under 1 MB; beyond 5 MB the file is not a site file. */
export const MAX_SITE_FILE_BYTES = 5 * 1024 * 1024;
/** Aliases a site file may expand; a "billion laughs" document needs far more. */
export const MAX_SITE_ALIASES = 100;

/** Advice for the YAML mistakes people make most. */
const YAML_HINTS: Partial<Record<YAMLError['code'], string>> = {
  DUPLICATE_KEY: 'a key appears twice in the same mapping; keep one',
  TAB_AS_INDENT: 'indent with spaces, not tabs',
  BAD_INDENT: 'check the indentation (items of one list or mapping line up) and that every { or [ is closed',
  MISSING_CHAR: 'something is missing here: a closing quote or bracket, or ": " after a key',
  BLOCK_AS_IMPLICIT_KEY: 'check the indentation and that every key is followed by ": "',
  TAG_RESOLVE_FAILED: 'a site file uses no !tags; remove it',
};
/** yaml's own wording here speaks to programmers; say it for the file's author. */
const YAML_MESSAGES: Partial<Record<YAMLError['code'], string>> = {
  MULTIPLE_DOCS: 'the file holds more than one YAML document; a site file is one document, remove the extra "---" line and what follows or merge it',
};

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4; // surrogate pair: one 4-byte code point
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function firstLine(message: string): string {
  const nl = message.indexOf('\n');
  return (nl < 0 ? message : message.slice(0, nl)).trim();
}

/**
 * The source offset a path points at: the value's node, or for an unknown
 * field its key. Where the path runs out (a missing field) it stops at the
 * deepest node that exists, i.e. the object lacking the field.
 */
function offsetOf(doc: Document.Parsed, path: SiteIssue['path'], atKey: boolean): number {
  let node: unknown = doc.contents;
  let offset = doc.contents?.range[0] ?? 0;
  let keyOffset: number | undefined;
  for (const seg of path) {
    while (isAlias(node)) node = node.resolve(doc);
    keyOffset = undefined;
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) return offset;
      keyOffset = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
      next = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      next = node.items[seg];
    } else {
      return offset;
    }
    const range = (next as { range?: [number, number, number] | null } | null)?.range;
    // An empty value (`desk:`) has no useful range of its own: point at its key.
    offset = range !== undefined && range !== null && !(isScalar(next) && next.value === null) ? range[0] : (keyOffset ?? offset);
    node = next;
  }
  return atKey && keyOffset !== undefined ? keyOffset : offset;
}

/** Parses and validates a site file's text. `fileName` only labels the errors. */
export function parseSiteText(text: string, fileName: string): SiteParse {
  const at = (line: number, column: number, message: string, path = ''): SiteFileError => ({ file: fileName, line, column, path, message });
  const size = text.length > MAX_SITE_FILE_BYTES ? text.length : utf8Length(text);
  if (size > MAX_SITE_FILE_BYTES) {
    return { ok: false, errors: [at(1, 1, `the file is ${(size / 2 ** 20).toFixed(1)} MB; a site file may be at most ${MAX_SITE_FILE_BYTES / 2 ** 20} MB`)] };
  }

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, keepSourceTokens: false });
  const position = (offset: number): { line: number; col: number } => lineCounter.linePos(offset);

  // Warnings too (an unknown !tag, say): nothing in a site file needs one.
  const yamlProblems = [...doc.errors, ...doc.warnings];
  if (yamlProblems.length > 0) {
    const errors = yamlProblems.map((e) => {
      const { line, col } = position(e.pos[0]);
      const hint = YAML_HINTS[e.code];
      const message = YAML_MESSAGES[e.code] ?? `${firstLine(e.message)}${hint === undefined ? '' : ` (${hint})`}`;
      return at(line, col, `YAML: ${message}`);
    });
    return { ok: false, errors: sortErrors(errors) };
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_SITE_ALIASES });
  } catch (err) {
    // yaml throws a ReferenceError when aliases expand beyond maxAliasCount.
    const reason = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      errors: [at(1, 1, `the YAML cannot be read: ${reason} (write the values out instead of repeating *aliases)`)],
    };
  }

  const result = validateSite(data);
  if (result.ok) return result;
  const located = result.errors.filter((issue) => issue.code !== 'too-many-issues');
  const errors = located.map((issue) => {
    const { line, col } = position(offsetOf(doc, issue.path, issue.code === 'unknown-field'));
    return at(line, col, issue.message, formatSitePath(issue.path));
  });
  // "… and N more" belongs after the errors it summarises, wherever they are.
  const summary = result.errors.filter((issue) => issue.code === 'too-many-issues').map((issue) => at(1, 1, issue.message));
  return { ok: false, errors: [...sortErrors(errors), ...summary] };
}

function sortErrors(errors: SiteFileError[]): SiteFileError[] {
  // Stable: problems at the same place keep the validator's order.
  return errors.map((e, i) => ({ e, i })).sort((x, y) => x.e.line - y.e.line || x.e.column - y.e.column || x.i - y.i).map((x) => x.e);
}

/** `site.yaml:12:9: devices[3].desk: there is no desk "D99"; …`, one line per error. */
export function formatSiteErrors(errors: readonly SiteFileError[]): string {
  return errors.map((e) => `${e.file}:${e.line}:${e.column}: ${e.path === '' ? '' : `${e.path}: `}${e.message}`).join('\n');
}
