import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ffmpeg, lavfi, tempDir } from '../../../tests/helpers/fixtures.js';
import { decodeExcerpt } from './decode.js';
import { MUSICNN_INPUT, musicnnFrameCount, musicnnMelBands, musicnnPatches } from './musicnn-input.js';

// essentia.js (AGPL-3.0) is a development dependency, for this comparison only.
const require = createRequire(import.meta.url);
interface Extractor {
  compute(frame: Float32Array): { melSpectrum: Float32Array };
}
const ej = require('essentia.js') as { EssentiaWASM: unknown; EssentiaModel: { EssentiaTFInputExtractor: new (wasm: unknown, type: string) => Extractor } };
const extractor = new ej.EssentiaModel.EssentiaTFInputExtractor(ej.EssentiaWASM, 'musicnn');

const { dir, cleanup } = tempDir();
afterAll(cleanup);

/** Essentia's own bands, frame by frame, for the frames Earmark cuts. */
function essentiaBands(y: Float32Array): Float32Array {
  const n = musicnnFrameCount(y.length);
  const out = new Float32Array(n * MUSICNN_INPUT.nMels);
  for (let t = 0; t < n; t++) out.set(extractor.compute(y.slice(t * 256, t * 256 + 512)).melSpectrum, t * MUSICNN_INPUT.nMels);
  return out;
}

describe("MusiCNN's input (Essentia TensorflowInputMusiCNN)", () => {
  it('matches essentia.js to 1e-4 on music-like audio decoded at 16 kHz', async () => {
    // A chord with harmonics and vibrato, a plucked bass line, hi-hat noise bursts and a fade: something like music.
    const f = join(dir, 'music.flac');
    lavfi(
      f,
      "aevalsrc='0.2*sin(2*PI*(220+3*sin(2*PI*5*t))*t)+0.1*sin(2*PI*277.2*t)+0.08*sin(2*PI*329.6*t)+0.05*sin(2*PI*660*t)+0.25*sin(2*PI*(55+55*(mod(floor(2*t),2)))*t)*exp(-4*mod(t,0.5))+0.05*(random(0)-0.5)*exp(-30*mod(t,0.25))':s=44100:d=9",
      ['-af', 'afade=t=out:st=7:d=2'],
    );
    const y = await decodeExcerpt(ffmpeg(), f, { sr: MUSICNN_INPUT.sr });
    const mine = musicnnMelBands(y);
    expect(mine.nFrames).toBe(Math.floor((y.length - 512) / 256) + 1);
    const ref = essentiaBands(y);
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ref[i] - mine.data[i]));
    expect(worst).toBeLessThan(1e-4);
    // Values span the range the model saw in training, not a degenerate corner of it.
    expect(Math.max(...mine.data)).toBeGreaterThan(2);
  });

  it('cuts patches of 187 frames every 93, dropping the incomplete last; pads a short clip to one patch', () => {
    const nMels = MUSICNN_INPUT.nMels;
    const bands = { data: Float32Array.from({ length: 500 * nMels }, (_, i) => Math.floor(i / nMels)), nFrames: 500 };
    const p = musicnnPatches(bands);
    expect(p.nPatches).toBe(Math.floor((500 - 187) / 93) + 1);
    for (let k = 0; k < p.nPatches; k++) {
      expect(p.data[k * 187 * nMels]).toBe(k * 93);
      expect(p.data[(k + 1) * 187 * nMels - 1]).toBe(k * 93 + 186);
    }
    const short = musicnnPatches({ data: Float32Array.from({ length: 10 * nMels }, () => 1), nFrames: 10 });
    expect(short.nPatches).toBe(1);
    expect(short.data[10 * nMels - 1]).toBe(1);
    expect(short.data[10 * nMels]).toBe(0);
    expect(musicnnPatches({ data: new Float32Array(0), nFrames: 0 }).nPatches).toBe(0);
    expect(musicnnFrameCount(511)).toBe(0);
    expect(musicnnFrameCount(512)).toBe(1);
    expect(musicnnFrameCount(512 + 255)).toBe(1);
  });
});
