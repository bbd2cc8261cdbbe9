import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lavfi, tempDir } from '../../tests/helpers/fixtures.js';
import type { ApiEvent, FacetField, JobInfo, SimilarResult, TrackDetail, TrackPage } from '../core/contract.js';
import { EarmarkService } from '../core/service.js';
import { startServer, WEB_CSP, type RunningServer } from './server.js';

const t = tempDir();
const music = join(t.dir, 'Music');
const ui = join(t.dir, 'ui');
let service: EarmarkService;
let server: RunningServer;
const events: ApiEvent[] = [];

const TRACKS = [
  { file: 'Ann/Low/01 Hum.flac', src: 'sine=f=110:d=6', artist: 'Ann', album: 'Low', genre: 'Ambient', mood: 'Calm' },
  { file: 'Ann/Low/02 Drone.mp3', src: 'sine=f=130:d=6', artist: 'Ann', album: 'Low', genre: 'Ambient', mood: 'Sad' },
  { file: 'Bob/Hiss/01 Storm.ogg', src: 'anoisesrc=d=6:c=pink:a=0.3', artist: 'Bob', album: 'Hiss', genre: 'Noise', mood: 'Dark' },
  { file: 'Bob/Hiss/02 Rain.opus', src: 'anoisesrc=d=6:c=white:a=0.2', artist: 'Bob', album: 'Hiss', genre: 'Noise', mood: 'Dark' },
  { file: 'Cy/Tones/01 Beep Ünïcode.m4a', src: 'sine=f=2000:d=6', artist: 'Cy', album: 'Tones', genre: 'Electronic', mood: 'Energetic' },
];

async function api<T>(method: string, body: unknown, o: { token?: string | null; host?: string } = {}): Promise<{ status: number; body: T }> {
  const res = await raw('POST', `/api/${method}`, JSON.stringify(body), o);
  return { status: res.status, body: JSON.parse(res.body.toString('utf8')) as T };
}

/** A request with full control of the headers (fetch would not let us forge Host). */
function raw(method: string, path: string, body: string | Buffer | null, o: { token?: string | null; host?: string; headers?: Record<string, string> } = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
    const headers: Record<string, string> = { Host: o.host ?? `127.0.0.1:${server.port}`, ...(o.headers ?? {}) };
    const token = o.token === undefined ? server.token : o.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== null) headers['Content-Type'] = 'application/json';
    const req = httpRequest({ host: '127.0.0.1', port: server.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (body !== null) req.write(body);
    req.end();
  });
}

beforeAll(async () => {
  for (const tr of TRACKS) {
    const out = join(music, tr.file);
    mkdirSync(join(out, '..'), { recursive: true });
    const meta = ['artist', 'album', 'genre', 'mood'].flatMap((k) => ['-metadata', `${k}=${tr[k as keyof typeof tr]}`]);
    lavfi(out, tr.src, ['-ac', '2', ...meta, '-metadata', `title=${tr.file.split('/').pop()?.replace(/^\d+ |\.\w+$/g, '')}`]);
  }
  mkdirSync(join(music, 'Broken'), { recursive: true });
  writeFileSync(join(music, 'Broken', 'truncated.mp3'), Buffer.from('ID3\u0004\u0000\u0000\u0000\u0000\u0000\u0000not really audio at all'));
  mkdirSync(join(t.dir, 'private'), { recursive: true });
  writeFileSync(join(t.dir, 'private', 'secret.wav'), 'secret');
  symlinkSync(join(t.dir, 'private', 'secret.wav'), join(music, 'escape.wav'));
  mkdirSync(join(ui, 'assets'), { recursive: true });
  writeFileSync(join(ui, 'index.html'), '<!doctype html><title>Earmark</title>');
  writeFileSync(join(ui, 'assets', 'app.js'), 'console.log(1)');
  service = new EarmarkService({ home: join(t.dir, 'home') });
  service.onEvent((e) => events.push(e));
  server = await startServer({ service, staticDir: ui });
});

afterAll(async () => {
  await server.close();
  await service.close();
  t.cleanup();
});

describe('web mode server', () => {
  it('listens on 127.0.0.1 only and refuses other Host names (DNS rebinding)', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(server.server.address()).toMatchObject({ address: '127.0.0.1' });
    expect((await raw('GET', '/', null, { host: `evil.example:${server.port}` })).status).toBe(421);
    expect(server.openUrl).toContain(`?token=${server.token}`);
  });

  it('serves the interface with a strict CSP, and index.html for client routes', async () => {
    const r = await raw('GET', '/', null, { token: null });
    expect(r.status).toBe(200);
    expect(r.headers['content-security-policy']).toBe(WEB_CSP);
    expect(WEB_CSP).toContain("script-src 'self'");
    expect(WEB_CSP).not.toContain('unsafe');
    expect((await raw('GET', '/assets/app.js', null, { token: null })).headers['content-type']).toMatch(/javascript/);
    expect((await raw('GET', '/some/route', null, { token: null })).body.toString()).toContain('<title>Earmark');
    expect((await raw('GET', '/../../../etc/passwd', null, { token: null })).body.toString()).toContain('<title>Earmark');
  });

  it('requires the access token for the API, events and media', async () => {
    expect((await api('info', {}, { token: null })).status).toBe(401);
    expect((await api('info', {}, { token: 'wrong' })).status).toBe(401);
    expect((await raw('GET', '/api/events', null, { token: null })).status).toBe(401);
    expect((await raw('GET', `/media?path=${encodeURIComponent(join(music, TRACKS[0].file))}`, null, { token: null })).status).toBe(401);
    expect((await api('info', {})).status).toBe(200);
  });

  it('validates requests and explains what is wrong', async () => {
    const r = await api<{ error: { code: string; message: string } }>('queryTracks', { offset: -5, limit: 10 });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'bad-request' });
    expect(r.body.error.message).toMatch(/offset/);
    expect((await api('nope', {})).status).toBe(400);
    expect((await raw('POST', '/api/info', '{not json')).status).toBe(400);
    expect((await raw('GET', '/api/info', null)).status).toBe(405);
    const missing = await api<{ error: { message: string } }>('addFolder', { path: join(t.dir, 'nowhere') });
    expect(missing.body.error.message).toMatch(/No folder at/);
  });

  it('adds a folder, scans and analyses it as jobs, streaming progress events', async () => {
    const sse = await new Promise<{ lines: string[]; close: () => void }>((resolve) => {
      const lines: string[] = [];
      const req = httpRequest(
        { host: '127.0.0.1', port: server.port, path: `/api/events?token=${server.token}`, headers: { Host: `127.0.0.1:${server.port}` } },
        (res) => {
          res.setEncoding('utf8');
          res.on('data', (d: string) => lines.push(...d.split('\n').filter((l) => l.startsWith('data: '))));
          resolve({ lines, close: () => req.destroy() });
        },
      );
      req.end();
    });
    const r = await api<{ roots: string[]; job: JobInfo }>('addFolder', { path: music });
    expect(r.status).toBe(200);
    expect(r.body.roots).toEqual([music]);
    expect(r.body.job.kind).toBe('scan');
    await service.jobs.idle();
    const jobs = (await api<JobInfo[]>('jobs', {})).body;
    expect(jobs.map((j) => [j.kind, j.state])).toEqual([
      ['scan', 'done'],
      ['analyze', 'done'],
    ]);
    // The truncated MP3 and the symlink to a text file outside the library fail to decode; the rest goes on.
    expect(jobs[1].message).toMatch(/Analysed 5 of 7 tracks; 2 could not be decoded/);
    await new Promise((r2) => setTimeout(r2, 100));
    sse.close();
    const streamed = sse.lines.map((l) => JSON.parse(l.slice(6)) as ApiEvent);
    expect(streamed.some((e) => e.type === 'job' && e.job.kind === 'analyze' && e.job.state === 'running')).toBe(true);
    expect(streamed.some((e) => e.type === 'job' && e.job.kind === 'analyze' && e.job.state === 'done')).toBe(true);
    expect(events.some((e) => e.type === 'library-changed')).toBe(true);
  });

  it('pages, searches, sorts and filters the library table', async () => {
    const all = (await api<TrackPage>('queryTracks', { offset: 0, limit: 100 })).body;
    expect(all.total).toBe(7);
    expect(all.rows.map((r) => r.artist)).toEqual(['Ann', 'Ann', 'Bob', 'Bob', 'Cy', null, null]);
    const broken = all.rows.find((r) => r.path.endsWith('truncated.mp3'))!;
    expect(broken.status).toBe('error');
    expect(broken.error).toBeTruthy();
    expect(all.rows.filter((r) => r.status === 'analyzed')).toHaveLength(5);
    expect(all.rows[1].mood).toEqual(['Sad']);
    const page = (await api<TrackPage>('queryTracks', { offset: 2, limit: 2 })).body;
    expect(page.rows.map((r) => r.title)).toEqual(['Storm', 'Rain']);
    const byTitle = (await api<TrackPage>('queryTracks', { offset: 0, limit: 10, sort: { column: 'title', direction: 'desc' } })).body;
    expect(byTitle.rows.map((r) => r.title).filter(Boolean)).toEqual(['Storm', 'Rain', 'Hum', 'Drone', 'Beep Ünïcode']);
    const byYear = (await api<TrackPage>('queryTracks', { offset: 0, limit: 10, sort: { column: 'status', direction: 'asc' } })).body;
    expect(byYear.rows.map((r) => r.status)).toEqual(['analyzed', 'analyzed', 'analyzed', 'analyzed', 'analyzed', 'error', 'error']);
    const search = (await api<TrackPage>('queryTracks', { offset: 0, limit: 10, search: 'ünï' })).body;
    expect(search.rows.map((r) => r.artist)).toEqual(['Cy']);
    const words = (await api<TrackPage>('queryTracks', { offset: 0, limit: 10, search: 'bob rain' })).body;
    expect(words.rows.map((r) => r.title)).toEqual(['Rain']);
    const likeChars = (await api<TrackPage>('queryTracks', { offset: 0, limit: 10, search: '%' })).body;
    expect(likeChars.total).toBe(0);
    const facet = (await api<TrackPage>('queryTracks', { offset: 0, limit: 10, facets: { mood: ['sad', 'dark'] } })).body;
    expect(facet.rows.map((r) => r.title)).toEqual(['Drone', 'Storm', 'Rain']);
    const both = (await api<TrackPage>('queryTracks', { offset: 0, limit: 10, facets: { mood: ['Dark'], genre: ['Ambient'] } })).body;
    expect(both.total).toBe(0);
    const errors = (await api<TrackPage>('queryTracks', { offset: 0, limit: 10, status: 'error' })).body;
    expect(errors.rows.map((r) => r.path).sort()).toEqual([join(music, 'Broken', 'truncated.mp3'), join(music, 'escape.wav')]);
    const facets = (await api<FacetField[]>('facets', {})).body;
    expect(facets.map((f) => f.field).slice(0, 2)).toEqual(['genre', 'mood']);
    expect(facets[1].values[0]).toEqual({ value: 'Dark', count: 2 });
  });

  it('answers similar-track queries, from one track, several, and an uploaded file', async () => {
    const all = (await api<TrackPage>('queryTracks', { offset: 0, limit: 100 })).body.rows;
    const id = (title: string) => all.find((r) => r.title === title)!.id;
    const one = (await api<SimilarResult>('similar', { trackIds: [id('Storm')], k: 3 })).body;
    expect(one.results[0].title).toBe('Rain');
    expect(one.results.every((r) => r.score <= 1)).toBe(true);
    const two = (await api<SimilarResult>('similar', { trackIds: [id('Hum'), id('Drone')], k: 3 })).body;
    expect(two.results.map((r) => r.id)).not.toContain(id('Hum'));
    expect(two.query.trackIds).toHaveLength(2);
    const other = (await api<SimilarResult>('similar', { trackIds: [id('Storm')], k: 5, artist: 'different' })).body;
    expect(other.results.map((r) => r.artist)).not.toContain('Bob');
    const filtered = (await api<SimilarResult>('similar', { trackIds: [id('Storm')], k: 5, tags: { genre: ['Ambient'] } })).body;
    expect(filtered.results.map((r) => r.genre[0])).toEqual(['Ambient', 'Ambient']);
    // A file from outside the library, sent by the page.
    const outside = join(t.dir, 'query.flac');
    lavfi(outside, 'anoisesrc=d=5:c=pink:a=0.3');
    const { readFileSync } = await import('node:fs');
    const up = await raw('POST', '/api/upload?name=query.flac', readFileSync(outside));
    expect(up.status).toBe(200);
    const { uploadId } = JSON.parse(up.body.toString()) as { uploadId: string };
    const fromFile = (await api<SimilarResult>('similar', { uploadId, k: 2 })).body;
    expect(fromFile.query.inLibrary).toBe(false);
    expect(fromFile.results[0].artist).toBe('Bob');
    const bad = await raw('POST', '/api/upload?name=notes.txt', Buffer.from('hello'));
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body.toString()).error.message).toMatch(/not an audio file/);
  });

  it('gives a track in detail, with its neighbours', async () => {
    const all = (await api<TrackPage>('queryTracks', { offset: 0, limit: 100 })).body.rows;
    const hum = all.find((r) => r.title === 'Hum')!;
    const d = (await api<TrackDetail>('track', { id: hum.id, k: 3 })).body;
    expect(d.tags.genre).toEqual(['Ambient']);
    expect(d.file).toMatchObject({ path: join(music, TRACKS[0].file), container: expect.stringMatching(/FLAC/i), lossless: true });
    expect(d.analysis.map((a) => a.representation).sort()).toEqual(['dsp', 'mfcc']);
    expect(d.neighbours?.results).toHaveLength(3);
    const broken = all.find((r) => r.status === 'error')!;
    const bd = (await api<TrackDetail>('track', { id: broken.id })).body;
    expect(bd.errors.length).toBeGreaterThan(0);
    expect(bd.neighbours).toBeNull();
    expect((await api('track', { id: 999999 })).status).toBe(404);
  });

  it('lays out a map coloured by a tag field, cached until the vectors change', async () => {
    const m = (await api<{ points: Array<{ value: string | null }>; legend: Array<{ value: string }>; total: number; method: string }>('map', { field: 'genre' })).body;
    expect(m.total).toBe(5);
    expect(m.points).toHaveLength(5);
    expect(m.method).toBe('umap');
    expect(m.legend.map((l) => l.value).sort()).toEqual(['Ambient', 'Electronic', 'Noise']);
    const again = (await api<typeof m>('map', { field: 'mood' })).body;
    expect(again.points.map((p) => p.value)).toContain('Dark');
  });

  it('serves library audio with ranges, and nothing outside the library', async () => {
    const file = join(music, TRACKS[0].file);
    const whole = await raw('GET', `/media?path=${encodeURIComponent(file)}&token=${server.token}`, null, { token: null });
    expect(whole.status).toBe(200);
    expect(whole.headers['content-type']).toBe('audio/flac');
    const part = await raw('GET', `/media?path=${encodeURIComponent(file)}`, null, { headers: { Range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    expect(part.body.length).toBe(100);
    expect(part.body.subarray(0, 4).toString()).toBe('fLaC');
    const { copyFileSync } = await import('node:fs');
    copyFileSync(file, join(music, '100% live %41.flac'));
    expect((await raw('GET', `/media?path=${encodeURIComponent(join(music, '100% live %41.flac'))}`, null)).status).toBe(200);
    const refuse = async (p: string) => (await raw('GET', `/media?path=${encodeURIComponent(p)}`, null)).status;
    expect(await refuse(join(t.dir, 'private', 'secret.wav'))).toBe(403);
    expect(await refuse(`${music}/../private/secret.wav`)).toBe(403);
    expect(await refuse(join(music, 'escape.wav'))).toBe(403);
    expect(await refuse('/etc/passwd')).toBe(403);
  });

  it('lists errors, and removes a folder with its tracks', async () => {
    const e = (await api<{ tracks: Array<{ code: string; path: string }> }>('errors', {})).body;
    expect(e.tracks.some((x) => x.path.endsWith('truncated.mp3'))).toBe(true);
    const r = (await api<{ roots: string[]; removed: number }>('removeFolder', { path: music })).body;
    expect(r).toEqual({ roots: [], removed: 7 });
    expect((await api<TrackPage>('queryTracks', { offset: 0, limit: 10 })).body.total).toBe(0);
    expect((await api('removeFolder', { path: music })).status).toBe(404);
  });
});
