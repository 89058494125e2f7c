/**
 * A real headless Chromium for tests: the Debian package's /usr/bin/chromium
 * (scripts/ensure-test-deps.sh installs it), driven through playwright-core.
 * No browser is ever downloaded. One browser per test file:
 *
 *   const browser = await launchBrowser();
 *   const page = await browser.newPage();
 *   await page.goto(url);
 *   await saveArtifact('statement-zh.png', await page.screenshot({ fullPage: true }));
 *   await browser.close();
 *
 * Screenshots and PDFs go to tests/artifacts/ (git-ignored), to look at after
 * a run; FACILITY_TEST_ARTIFACTS names another directory.
 */
import { accessSync, constants } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

/** Where the Debian package puts the browser (FACILITY_CHROMIUM overrides). */
export const CHROMIUM_PATH = process.env.FACILITY_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Flags for a quiet, self-contained browser: no sandbox (tests run as root in
 * containers, where Chromium's sandbox cannot start), no GPU, and none of the
 * background traffic (updates, sync, QUIC probes) a test has no use for.
 */
export const CHROMIUM_ARGS: readonly string[] = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const ARTIFACTS_DIR = process.env.FACILITY_TEST_ARTIFACTS ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

export async function launchBrowser(): Promise<Browser> {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
  } catch {
    throw new Error(`Chromium is not at ${CHROMIUM_PATH}: install the Debian package with "sh scripts/ensure-test-deps.sh" (root) or "apt-get install -y chromium", or set FACILITY_CHROMIUM to a Chromium executable`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS], headless: true });
}

/** Writes a screenshot, PDF or page to the artifacts directory and returns its path. */
export async function saveArtifact(name: string, data: Buffer | string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, name);
  await writeFile(path, data);
  return path;
}
