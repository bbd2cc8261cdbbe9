/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import type { DemoManifest } from '../../src-main/core/demo/demo-library.js';
import { readTrackFacts } from '../../src-main/core/library/read-tags.js';
import { cli, lavfi, REPO, tempDir } from '../helpers/fixtures.js';
import { writeTinyMusicnn } from '../helpers/tiny-musicnn.js';

/**
 * The real renderer (out/renderer, built by `npm test`) against the real core, in web mode (`earmark serve`),
 * driven in Debian's Chromium. Screenshots of each main view go to tests/artifacts/screenshots.
 */
const CHROMIUM = process.env.EARMARK_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(REPO, 'tests', 'artifacts', 'screenshots');
const t = tempDir('earmark-e2e-');
const music = join(t.dir, 'Music');
const home = join(t.dir, 'home');
let server: ChildProcess;
let url = '';
let browser: Browser;
let page: Page;
let manifest: DemoManifest;


async function shot(name: string): Promise<void> {
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}
type Kind = 'scan' | 'analyze' | 'predict' | 'write-tags' | 'train' | 'embed' | 'compare';
async function jobState(kind: Kind): Promise<string | null> {
  return page.locator(`[data-job=${kind}]`).first().getAttribute('data-state');
}
async function waitJob(kind: Kind, state: string, timeout = 240_000, subject?: string): Promise<void> {
  await page.waitForSelector(`[data-job=${kind}]${subject ? `[data-subject="${subject}"]` : ''}[data-state=${state}]`, { timeout });
}
/** A call to the server's API as the page makes it (token from the address the server printed). */
async function apiCall<T>(method: string, req: unknown): Promise<T> {
  const u = new URL(url);
  const r = await fetch(`${u.origin}/api/${method}`, { method: 'POST', headers: { authorization: `Bearer ${u.searchParams.get('token')}`, 'content-type': 'application/json' }, body: JSON.stringify(req) });
  if (!r.ok) throw new Error(`${method}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

async function visibleRows(): Promise<Array<{ id: string; text: string }>> {
  return page.$$eval('[data-testid=track-table] .tr[data-track-id]', (rows) => rows.map((r) => ({ id: r.getAttribute('data-track-id') ?? '', text: r.textContent ?? '' })));
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is needed for the end-to-end tests: install Debian's chromium (apt-get install chromium), or set EARMARK_CHROMIUM. Not found: ${CHROMIUM}`);
  if (!existsSync(join(REPO, 'out', 'renderer', 'index.html'))) throw new Error('The renderer is not built: run `npm run build` (npm test does).');
  mkdirSync(SHOTS, { recursive: true });
  const gen = cli(['demo-library', music, '--tracks', '28', '--seed', '5', '--broken', '2'], { home });
  if (gen.status !== 0) throw new Error(gen.stderr);
  manifest = JSON.parse(readFileSync(join(music, 'earmark-demo.json'), 'utf8')) as DemoManifest;
  server = spawn(process.execPath, [join(REPO, 'bin', 'earmark.js'), '--home', home, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, EARMARK_HOME: '' } });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /open (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    server.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    server.on('exit', (code) => reject(new Error(`earmark serve exited (${code}): ${out}`)));
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio'] });
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  page.on('console', (m) => logs.push(`console.${m.type()}: ${m.text()}`));
  page.on('response', async (r) => {
    if (r.status() >= 400) logs.push(`response ${r.status()} ${r.request().method()} ${r.url()} ${r.request().postData() ?? ''} → ${await r.text().catch(() => '')}`);
  });
  page.on('requestfailed', (r) => logs.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));
}, 300_000);

const logs: string[] = [];
beforeEach((ctx) => {
  onTestFailed(async () => {
    const name = ctx.task.name.replace(/\W+/g, '-');
    await page?.screenshot({ path: join(SHOTS, `failed-${name}.png`) }).catch(() => undefined);
    process.stderr.write(`\n--- browser log before "${ctx.task.name}" failed ---\n${logs.slice(-40).join('\n')}\n--- jobs: ${await page?.locator('.jobs').textContent().catch(() => '?')} · total: ${await page?.locator('[data-testid=total]').textContent().catch(() => '?')}\n`);
  });
});

afterAll(async () => {
  await browser?.close();
  server?.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 300));
  t.cleanup();
});

describe('Earmark in a browser, in web mode', () => {
  it('greets a new user and takes a music folder', async () => {
    await page.goto(url);
    await page.waitForSelector('text=Welcome to Earmark');
    expect(page.url()).not.toContain('token='); // the token leaves the address bar
    await shot('01-welcome');
    await page.fill('[data-testid=folder-input]', join(t.dir, 'does-not-exist'));
    await page.click('[data-action=add-folder]');
    await expect(page.locator('[role=alert]').first().textContent()).resolves.toMatch(/No folder at/);
    await page.fill('[data-testid=folder-input]', music);
    await page.click('[data-action=add-folder]');
    await waitJob('scan', 'done');
    await page.waitForSelector('[data-testid=track-table] .tr[data-track-id]');
  });

  it('shows analysis progress, and cancels a running job', async () => {
    await page.waitForSelector('[data-job=analyze][data-state=running]', { timeout: 60_000 }).catch(async (e) => {
      throw new Error(`${e}: jobs panel says ${await page.locator('.jobs').textContent()}`);
    });
    await page.waitForFunction(() => {
      const c = document.querySelector('[data-job=analyze] .counts')?.textContent ?? '';
      return /^\s*\d+ \/ \d+/.test(c) && !c.includes('…');
    });
    await shot('02-analyzing');
    await page.click('[data-job=analyze] .cancel');
    await waitJob('analyze', 'cancelled', 60_000);
    expect(await page.locator('[data-job=analyze] .msg').textContent()).toMatch(/Cancelled/);
  });

  it('analyses the rest when asked again, and lists every track', async () => {
    await page.click('[data-action=analyze]');
    await page.waitForFunction(() => document.querySelector('[data-job=analyze]')?.getAttribute('data-state') === 'done', null, { timeout: 300_000 });
    expect(await jobState('analyze')).toBe('done');
    const total = manifest.tracks.length + 2;
    await page.waitForFunction((n) => document.querySelector('[data-testid=total]')?.textContent?.startsWith(`${n} track`), total);
    expect((await visibleRows()).length).toBeGreaterThan(10);
    await shot('03-library');
  });

  it('searches and sorts', async () => {
    const artist = manifest.tracks.find((x) => x.tagging !== 'no-tags')!.artist;
    await page.fill('[data-testid=search]', artist.split(' ')[0]);
    await page.waitForFunction((a) => {
      const rows = [...document.querySelectorAll('[data-testid=track-table] .tr[data-track-id]')];
      return rows.length > 0 && rows.every((r) => (r.textContent ?? '').toLowerCase().includes(a.toLowerCase()));
    }, artist.split(' ')[0]);
    await page.fill('[data-testid=search]', '');
    await page.waitForFunction((n) => document.querySelector('[data-testid=total]')?.textContent?.startsWith(`${n} track`), manifest.tracks.length + 2);
    await page.click('[data-sort=year]');
    await page.waitForSelector('[data-sort=year][aria-sort=descending]');
    const years = await page.$$eval('[data-testid=track-table] .tr[data-track-id] .td:nth-child(8)', (c) => c.map((x) => Number(x.textContent) || 0).filter(Boolean));
    expect(years).toEqual([...years].sort((a, b) => b - a));
    await page.click('[data-sort=artist]');
  });

  it('filters by facet', async () => {
    const genre = (await page.locator('[data-facet-field=genre] [data-facet-value]').first().getAttribute('data-facet-value')) as string;
    const before = `${manifest.tracks.length + 2} tracks`;
    await page.waitForFunction((b) => document.querySelector('[data-testid=total]')?.textContent === b, before);
    await page.check(`[data-facet-field=genre] [data-facet-value="${genre}"]`);
    await page.waitForSelector('[data-action=clear-facets]');
    await page.waitForFunction((b) => document.querySelector('[data-testid=total]')?.textContent !== b, before);
    const rows = await page.$$eval('[data-testid=track-table] .tr[data-track-id] .td:nth-child(5)', (c) => c.map((x) => x.textContent ?? ''));
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r).toContain(genre);
    await shot('04-facet-filter');
    await page.click('[data-action=clear-facets]');
    await page.waitForFunction((b) => document.querySelector('[data-testid=total]')?.textContent === b, before);
  });

  it('plays a preview that starts and seeks', async () => {
    await page.click('[data-testid=track-table] .tr[data-track-id] >> nth=0');
    await page.focus('[data-testid=track-table]');
    await page.keyboard.press('Space');
    await page.waitForFunction(() => {
      const a = document.querySelector('audio');
      return !!a && !a.paused && a.currentTime > 0.2;
    }, null, { timeout: 20_000 });
    await page.evaluate(() => {
      const a = document.querySelector('audio') as HTMLAudioElement;
      a.currentTime = 12;
    });
    await page.waitForFunction(() => {
      const a = document.querySelector('audio') as HTMLAudioElement;
      return a.currentTime >= 12 && !a.paused;
    });
    const seekable = await page.evaluate(() => {
      const a = document.querySelector('audio') as HTMLAudioElement;
      return a.seekable.length > 0 ? a.seekable.end(0) : 0;
    });
    expect(seekable).toBeGreaterThan(12);
    await page.keyboard.press('Space');
    await page.waitForFunction(() => (document.querySelector('audio') as HTMLAudioElement).paused);
  });

  it('finds similar tracks from the keyboard, with scores and filters', async () => {
    const first = (await visibleRows()).find((r) => r.text.trim().length > 0)!;
    await page.click(`[data-testid=track-table] .tr[data-track-id="${first.id}"]`);
    await page.keyboard.press('s');
    await page.waitForSelector('[data-testid=similar-results] .result');
    const scores = await page.$$eval('[data-testid=similar-results] [data-testid=score]', (s) => s.map((x) => Number(x.textContent)));
    expect(scores.length).toBeGreaterThan(5);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    const ids = await page.$$eval('[data-testid=similar-results] .result', (r) => r.map((x) => x.getAttribute('data-track-id')));
    expect(ids).not.toContain(first.id);
    await shot('05-similar');
    const seedArtist = (await page.locator('[data-testid=seeds] .seed .muted').first().textContent())!.replace(/^·\s*/, '').trim();
    await page.selectOption('[data-testid=artist-filter]', 'different');
    await page.waitForFunction(
      (a) => [...document.querySelectorAll('[data-testid=similar-results] .result .who .muted')].every((x) => !(x.textContent ?? '').startsWith(a)),
      seedArtist,
    );
    await page.selectOption('[data-testid=artist-filter]', 'any');
    // More like these: add a second seed.
    await page.click('[data-testid=similar-results] .result [data-action=add-seed] >> nth=0');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=seeds] .seed').length === 2);
  });

  it('searches from a file outside the library', async () => {
    const outside = join(t.dir, 'my query.flac');
    lavfi(outside, 'anoisesrc=d=8:c=pink:a=0.3');
    await page.setInputFiles('[data-testid=file-input]', outside);
    await page.waitForSelector('text=a file outside the library');
    expect(await page.locator('[data-testid=similar-results] .result').count()).toBeGreaterThan(3);
  });

  it('opens a track with its tags, file facts, analysis and neighbours', async () => {
    await page.click('[data-testid=similar-results] .result .title >> nth=0');
    await page.waitForSelector('[data-testid=track-title]');
    expect(await page.locator('[data-testid=file-facts]').textContent()).toMatch(/path.*format.*bitrate.*duration/s);
    expect(await page.locator('[data-testid=analysis]').textContent()).toContain('dsp');
    expect(await page.locator('[data-testid=similar-results] .result').count()).toBe(10);
    await shot('06-track');
  });

  it('draws the map, with hover and click-through', async () => {
    await page.click('[data-nav=map]');
    await page.waitForFunction(() => !document.body.textContent?.includes('Laying out the map'), null, { timeout: 120_000 });
    await page.waitForSelector('.legend');
    // Find a point by scanning the canvas with the mouse until the tooltip appears.
    const box = (await page.locator('[data-testid=map-canvas]').boundingBox())!;
    let found = false;
    for (let y = box.y + 20; y < box.y + box.height - 20 && !found; y += 12) {
      for (let x = box.x + 20; x < box.x + box.width - 20 && !found; x += 12) {
        await page.mouse.move(x, y);
        if (await page.locator('[data-testid=map-tip]').count()) found = true;
      }
    }
    expect(found).toBe(true);
    await shot('07-map');
    await page.mouse.down();
    await page.mouse.up();
    await page.waitForSelector('[data-testid=track-title]');
  });

  it('shows the broken files and explains why, on the status page and in the table', async () => {
    await page.click('[data-nav=status]');
    await page.waitForSelector('[data-testid=errors] .group');
    const text = (await page.locator('[data-testid=errors]').textContent()) ?? '';
    expect(text).toMatch(/empty|not audio|damaged/i);
    expect(text).toContain('Broken Files');
    expect(await page.locator('[data-testid=ffmpeg]').textContent()).toMatch(/in use/);
    expect(await page.locator('[data-testid=compute]').textContent()).toMatch(/backend in use/);
    expect(await page.locator('[data-testid=compute]').textContent()).toMatch(/audio FFT\s*PFFFT \(WebAssembly SIMD\)/);
    await shot('08-status');
    await page.click('[data-nav=library]');
    await page.selectOption('[data-testid=status-filter]', 'error');
    await page.waitForFunction(() => document.querySelector('[data-testid=total]')?.textContent?.startsWith('2 track'));
    const reasons = await page.$$eval('[data-testid=track-table] [data-testid=row-error]', (c) => c.map((x) => x.textContent ?? ''));
    expect(reasons).toHaveLength(2);
    for (const r of reasons) expect(r).toMatch(/empty|not audio|damaged|no audio/i);
    await page.selectOption('[data-testid=status-filter]', 'all');
  });

  it('learns tags, shows the held-out quality, and proposes values in the Tags view, the table and the track page', async () => {
    await page.click('[data-nav=tags]');
    await page.waitForSelector('text=No predictions yet');
    await page.fill('[data-testid=min-support]', '3');
    await page.click('[data-action=predict]');
    await waitJob('predict', 'done', 300_000);
    await page.waitForSelector('[data-testid=held-out] [data-testid=accuracy]');
    expect(await page.locator('[data-tab]').evaluateAll((tabs) => tabs.map((t) => t.getAttribute('data-tab')))).toEqual(['genre', 'mood']);
    const accuracy = Number.parseFloat((await page.locator('[data-testid=accuracy]').textContent()) ?? '0');
    expect(accuracy).toBeGreaterThan(50);
    expect(await page.locator('[data-testid=confusion-matrix] tbody tr').count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('[data-testid=value-bars] .row').count()).toBeGreaterThanOrEqual(3);
    await page.click('[data-action=evaluate]');
    await page.waitForSelector('[data-testid=evaluation] [data-testid=confusion-matrix]', { timeout: 120_000 });
    await shot('09-tags');
    expect(await page.locator('[data-testid=proposal-list] li').count()).toBeGreaterThan(0);

    await page.click('[data-nav=library]');
    await page.selectOption('[data-testid=review-filter]', 'untagged');
    await page.waitForSelector('[data-testid=track-table] [data-testid=proposal]');
    const untagged = manifest.tracks.filter((x) => x.tagging === 'untagged' || x.tagging === 'no-tags').length;
    const total = Number.parseInt((await page.locator('[data-testid=total]').textContent()) ?? '0', 10);
    expect(total).toBeGreaterThanOrEqual(untagged);
    expect(total).toBeLessThan(manifest.tracks.length);
    await shot('10-library-proposals');
    await page.selectOption('[data-testid=review-filter]', '');
  }, 600_000);

  it('accepts proposals one by one and in bulk, writes them into the files, and undoes the batch', async () => {
    await page.click('[data-nav=tags]');
    await page.click('[data-tab=genre]');
    const first = page.locator('[data-testid=proposal-list] li[data-status=pending]').first();
    const trackId = Number(await first.getAttribute('data-track'));
    const value = (await first.getAttribute('data-value')) as string;
    const before = (await apiCall<{ tags: Record<string, string[]>; file: { path: string } }>('track', { id: trackId })).tags.genre ?? [];
    await first.locator('[data-action=accept]').click();
    await page.waitForSelector(`[data-testid=proposal-list] li[data-track="${trackId}"][data-value="${value}"][data-status=accepted]`);

    // The track page shows the same proposal as accepted, beside the file's tags.
    await page.evaluate((id) => (location.hash = `#/track/${id}`), trackId);
    await page.waitForSelector(`[data-testid=predictions] li[data-value="${value}"][data-status=accepted]`);
    await shot('11-track-predictions');

    await page.click('[data-nav=tags]');
    // Bulk acceptance on a multi-label field: mood, or style when mood proposed nothing (a 28-track library
    // learns these only roughly). The threshold: 0.5, or lower when no proposal reaches it.
    const pending = page.locator('[data-testid=proposal-list] li[data-status=pending]');
    let bulkField = '';
    for (const field of ['mood', 'style']) {
      await page.click(`[data-tab=${field}]`);
      // `proposed` counts the field's pending proposals.
      const summary = (await apiCall<Array<{ field: string; proposed: number }>>('reviewSummary', {})).find((x) => x.field === field);
      if ((summary?.proposed ?? 0) > 0) {
        bulkField = field;
        break;
      }
    }
    expect(bulkField, 'a multi-label field with pending proposals').not.toBe('');
    await page.waitForSelector(`[data-testid=proposal-list][data-field="${bulkField}"] li[data-status=pending]`);
    const confidence = async () => (await pending.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-confidence'))))) as number[];
    const top = Math.max(...(await confidence()));
    const threshold = Math.min(0.5, Math.floor(100 * top) / 100);
    await page.fill('[data-testid=bulk-threshold]', String(threshold));
    await page.click('[data-action=bulk-accept]');
    await page.waitForFunction(() => /\d+ proposals? accepted/.test(document.querySelector('[data-testid=review-notice]')?.textContent ?? ''));
    // Exactly the proposals at or above the threshold were accepted; the rest wait.
    await page.waitForFunction(
      (t) => [...document.querySelectorAll('[data-testid=proposal-list] li[data-status=pending]')].every((e) => Number(e.getAttribute('data-confidence')) < t),
      threshold,
    );
    const bulk = (await apiCall<Array<{ field: string; accepted: number }>>('reviewSummary', {})).find((x) => x.field === bulkField);
    expect(bulk?.accepted).toBeGreaterThanOrEqual(1);
    const accepted = (await apiCall<Array<{ field: string; accepted: number }>>('reviewSummary', {})).reduce((n, s) => n + s.accepted, 0);
    expect(accepted).toBeGreaterThan(1);

    await page.click('[data-action=write-tags]');
    await waitJob('write-tags', 'done', 120_000);
    await page.waitForSelector('[data-testid=batches] li');
    const path = (await apiCall<{ file: { path: string } }>('track', { id: trackId })).file.path;
    expect((await readTrackFacts(path)).facets.genre).toEqual([value]);
    const summary = await apiCall<Array<{ field: string; written: number; accepted: number }>>('reviewSummary', {});
    expect(summary.reduce((n, s) => n + s.written, 0)).toBe(accepted);
    expect(summary.reduce((n, s) => n + s.accepted, 0)).toBe(0);
    await shot('12-written');

    await page.click('[data-testid=batches] li [data-action=undo]');
    await page.waitForFunction(() => /Restored \d+ files?/.test(document.querySelector('[data-testid=review-notice]')?.textContent ?? ''), undefined, { timeout: 60_000 });
    expect((await readTrackFacts(path)).facets.genre ?? []).toEqual(before);
  }, 300_000);

  it('trains an encoder with a live loss plot, stops and resumes one, embeds with it and compares it with the built-in representations', async () => {
    await page.click('[data-nav=models]');
    await page.waitForSelector('[data-testid=compute-runtime] strong');
    expect(await page.locator('[data-testid=compute-runtime]').textContent()).toMatch(/WebAssembly|JavaScript/);
    expect(await page.locator('[data-testid=compute-runtime]').textContent()).toMatch(/no GPU in use/);
    await page.fill('[data-testid=model-name]', 'genre-trip');
    await page.check('[data-kind=triplet]');
    await page.fill('[data-testid=iterations]', '24');
    await page.fill('[data-testid=batch-size]', '8');
    await page.click('[data-action=train]');
    await waitJob('train', 'done', 300_000, 'genre-trip');
    await page.waitForSelector('[data-model="genre-trip"][data-done="24"]');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=loss-chart]')?.getAttribute('data-points')) > 10);

    // A long multi-task run, stopped while it trains and resumed from its checkpoint.
    await page.fill('[data-testid=model-name]', 'multi');
    await page.check('[data-kind=multitask]');
    await page.fill('[data-testid=iterations]', '3000');
    await page.click('[data-action=train]');
    await page.waitForFunction(() => Number(document.querySelector('[data-model="multi"]')?.getAttribute('data-done')) >= 3, undefined, { timeout: 120_000 });
    await page.waitForSelector('[data-model="multi"] [data-testid=loss-chart], [data-testid=model-detail] [data-testid=loss-chart]');
    await shot('13-training');
    await page.click('[data-model="multi"] [data-action=stop]');
    await waitJob('train', 'cancelled', 120_000, 'multi');
    await page.waitForSelector('[data-model="multi"] [data-action=resume]');
    const stopped = Number(await page.locator('[data-model="multi"]').getAttribute('data-done'));
    expect(stopped).toBeGreaterThanOrEqual(3);
    expect(stopped).toBeLessThan(3000);
    // Resume goes on from the checkpoint, not from zero.
    await page.click('[data-model="multi"] [data-action=resume]');
    await page.waitForFunction((n) => Number(document.querySelector('[data-model="multi"]')?.getAttribute('data-done')) > n, stopped, { timeout: 120_000 });
    await page.click('[data-model="multi"] [data-action=stop]');
    await page.waitForFunction(() => [...document.querySelectorAll('[data-job=train][data-subject="multi"]')].every((j) => j.getAttribute('data-state') === 'cancelled'), undefined, { timeout: 120_000 });
    const curve = await apiCall<{ tasks: Array<{ task: string; points: Array<[number, number]> }> }>('lossCurve', { model: 'multi', points: 2000 });
    const iterations = curve.tasks.flatMap((t) => t.points.map((p) => p[0])).sort((x, y) => x - y);
    expect(iterations[0]).toBeLessThanOrEqual(2); // buckets of 2 iterations: 3000 planned, 2000 points at most
    expect(iterations.at(-1)).toBeGreaterThan(stopped);
    expect(new Set(curve.tasks.map((t) => t.task))).toEqual(new Set(['tags', 'artist']));
    page.once('dialog', (d) => void d.accept());
    await page.click('[data-model="multi"] [data-action=delete]');
    await page.waitForSelector('[data-model="multi"]', { state: 'detached' });

    await page.click('[data-model="genre-trip"] [data-action=embed]');
    await waitJob('embed', 'done', 300_000, 'genre-trip');
    await page.click('[data-model="genre-trip"] [data-action=embed-rand]');
    await page.waitForFunction(
      () => {
        const embeds = [...document.querySelectorAll('[data-job=embed][data-subject="genre-trip"]')];
        return embeds.length === 2 && embeds.every((j) => j.getAttribute('data-state') === 'done');
      },
      undefined,
      { timeout: 300_000 },
    );
    await page.waitForSelector('[data-model="genre-trip"]:not([data-embedded="0"])');
    await page.waitForSelector('input[data-rep=rand]');
    for (const rep of ['dsp', 'mfcc', 'rand', 'genre-trip']) await page.check(`input[data-rep="${rep}"]`);
    await page.selectOption('select[aria-label=Queries]', 'genre-trip');
    await page.fill('[data-testid=compare-min-support]', '2');
    await page.click('[data-action=compare]');
    await waitJob('compare', 'done', 300_000);
    await page.waitForSelector('[data-testid=comparison-table] tr[data-rep="genre-trip"]');
    const reps = await page.locator('[data-testid=comparison-table] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-rep')));
    expect(reps).toEqual(['dsp', 'mfcc', 'rand', 'genre-trip']);
    const genreP = await page.locator('[data-testid=comparison-table] tr[data-rep="genre-trip"] td[data-facet=genre]').textContent();
    expect(Number(genreP)).toBeGreaterThanOrEqual(0);
    expect(await page.locator('[data-testid=comparison-table] tr[data-rep="genre-trip"] td[data-head=genre]').textContent()).toMatch(/acc \d/);
    expect(await page.locator('[data-testid=comparison-chart] rect').count()).toBe(4 * 5);
    await page.locator('[data-testid=comparison-chart]').scrollIntoViewIfNeeded();
    await shot('14-models-comparison');
    // The new representation searches like any other.
    const seed = (await apiCall<{ rows: Array<{ id: number }> }>('queryTracks', { offset: 0, limit: 1, status: 'analyzed' })).rows[0].id;
    const sim = await apiCall<{ results: unknown[] }>('similar', { trackIds: [seed], representation: 'genre-trip', k: 5 });
    expect(sim.results).toHaveLength(5);
  }, 900_000);

  it('imports a published model by path, runs it over the library, and shows its proposals as the model’s in the Tags view', async () => {
    const tiny = writeTinyMusicnn(join(t.dir, 'msd-musicnn-1-tfjs'), { metadata: true });
    await page.click('[data-nav=models]');
    await page.fill('[data-testid=import-path]', join(t.dir, 'no-such-model.zip'));
    await page.click('[data-action=import-model]');
    await page.waitForSelector('[data-testid=import-error]');
    expect(await page.locator('[data-testid=import-error]').textContent()).toMatch(/no-such-model\.zip does not exist/);
    await page.fill('[data-testid=import-path]', tiny.dir);
    await page.click('[data-action=import-model]');
    await page.waitForSelector('[data-published="musicnn"]');
    expect(await page.locator('[data-published="musicnn"]').textContent()).toMatch(/Tiny MusiCNN · auto-tagger · 200-d representation/);
    await page.click('[data-action=run-musicnn]');
    await waitJob('embed', 'done', 300_000, 'musicnn');
    await page.waitForSelector('[data-published="musicnn"]:has-text("Run again")');
    await page.click('[data-published="musicnn"] button:has-text("Mapping")');
    await page.waitForSelector('[data-mapping="musicnn"]');
    expect(await page.locator('[data-mapping="musicnn"] tr:has-text("Hip-Hop")').textContent()).toMatch(/genre: Hip-Hop/);
    await page.locator('[data-testid=published-models]').scrollIntoViewIfNeeded();
    await shot('15-published-models');
    await page.click('[data-nav=tags]');
    await page.waitForSelector('[data-tab=era]');
    await page.click('[data-tab=era]');
    await page.waitForSelector('[data-testid=model-head]');
    expect(await page.locator('[data-testid=model-head]').textContent()).toMatch(/published model musicnn/);
    await page.waitForSelector('[data-testid=proposal-list] [data-testid=proposed-by]');
    expect(await page.locator('[data-testid=proposal-list] [data-testid=proposed-by]').first().textContent()).toMatch(/model musicnn/);
    const sim = await apiCall<{ results: unknown[] }>('similar', { trackIds: [(await apiCall<{ rows: Array<{ id: number }> }>('queryTracks', { offset: 0, limit: 1, status: 'analyzed' })).rows[0].id], representation: 'musicnn', k: 5 });
    expect(sim.results).toHaveLength(5);
  }, 600_000);
});
