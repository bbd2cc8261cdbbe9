import { Random } from '../util/random.js';

/**
 * A small deterministic music synthesizer for demo libraries. Genres are defined by rhythm pattern and
 * instrumentation, artists by a stable palette inside their genre (timbres, tempo range, key and mode habits,
 * production), and moods follow from mode, tempo, brightness and dynamics, so that "sounds alike" has a
 * ground truth that real features can find.
 */

export type Timbre = 'saw' | 'square' | 'epiano' | 'pluck' | 'organ' | 'pad' | 'distorted' | 'bell' | 'flute' | 'sine';
export type BassTimbre = 'saw' | 'square' | 'sine' | 'pluck' | 'reese';
type BassStyle = 'offbeat16' | 'follow-kick' | 'eighths' | 'walking' | 'drone' | 'long' | 'roots';
type ChordStyle = 'stab' | 'sustain' | 'power8' | 'comp' | 'pad' | 'arpeggio';

/** 16 steps per bar; `X` accent, `x` normal, `o` ghost, `.` rest. */
interface DrumPatterns {
  kick: string;
  snare?: string;
  clap?: string;
  hat?: string;
  open?: string;
  ride?: string;
  shaker?: string;
}

export interface GenreDef {
  name: string;
  styles: readonly string[];
  tempo: readonly [number, number];
  swing: readonly [number, number];
  drums: readonly DrumPatterns[] | null;
  bass: BassStyle;
  chordStyle: ChordStyle;
  leadTimbres: readonly Timbre[];
  chordTimbres: readonly Timbre[];
  bassTimbres: readonly BassTimbre[];
  majorProb: number;
  brightness: readonly [number, number];
  drive: readonly [number, number];
  reverb: readonly [number, number];
  extended: boolean;
  leadDensity: readonly [number, number];
}

export const GENRES: Record<string, GenreDef> = {
  techno: {
    name: 'Techno',
    styles: ['Minimal Techno', 'Acid Techno', 'Detroit Techno'],
    tempo: [122, 134],
    swing: [0, 0.05],
    drums: [
      { kick: 'X...X...X...X...', clap: '....x.......x...', hat: '..x...x...x...x.', open: '..o...o...o...o.' },
      { kick: 'X...X...X...X...', hat: 'xoxoxoxoxoxoxoxo', open: '..x...x...x...x.', clap: '....x.......x..o' },
    ],
    bass: 'offbeat16',
    chordStyle: 'stab',
    leadTimbres: ['saw', 'square', 'bell'],
    chordTimbres: ['saw', 'organ'],
    bassTimbres: ['saw', 'square'],
    majorProb: 0.25,
    brightness: [0.45, 0.8],
    drive: [0.4, 0.8],
    reverb: [0.1, 0.35],
    extended: false,
    leadDensity: [0.05, 0.2],
  },
  hiphop: {
    name: 'Hip-Hop',
    styles: ['Boom Bap', 'Lo-Fi Hip-Hop', 'Jazz Rap'],
    tempo: [80, 96],
    swing: [0.12, 0.3],
    drums: [
      { kick: 'X......x..X.....', snare: '....X.......X...', hat: 'x.x.x.x.x.x.x.x.' },
      { kick: 'X.....x...x..x..', snare: '....X.......X..o', hat: 'x.xox.x.x.xox.x.' },
    ],
    bass: 'follow-kick',
    chordStyle: 'sustain',
    leadTimbres: ['epiano', 'flute', 'bell'],
    chordTimbres: ['epiano', 'organ'],
    bassTimbres: ['sine'],
    majorProb: 0.4,
    brightness: [0.2, 0.5],
    drive: [0.15, 0.45],
    reverb: [0.1, 0.3],
    extended: true,
    leadDensity: [0.08, 0.2],
  },
  rock: {
    name: 'Rock',
    styles: ['Punk Rock', 'Indie Rock', 'Hard Rock'],
    tempo: [108, 158],
    swing: [0, 0.04],
    drums: [
      { kick: 'X.......X.x.....', snare: '....X.......X...', hat: 'x.x.x.x.x.x.x.x.' },
      { kick: 'X.x.....X.x.....', snare: '....X.......X...', hat: 'xxxxxxxxxxxxxxxx', open: '..............x.' },
    ],
    bass: 'eighths',
    chordStyle: 'power8',
    leadTimbres: ['distorted', 'square'],
    chordTimbres: ['distorted'],
    bassTimbres: ['pluck', 'square'],
    majorProb: 0.55,
    brightness: [0.55, 0.9],
    drive: [0.55, 0.95],
    reverb: [0.05, 0.25],
    extended: false,
    leadDensity: [0.1, 0.25],
  },
  jazz: {
    name: 'Jazz',
    styles: ['Bebop', 'Cool Jazz', 'Hard Bop'],
    tempo: [104, 176],
    swing: [0.28, 0.4],
    drums: [
      { kick: 'o...........o...', ride: 'x...x.xox...x.xo', hat: '....x.......x...', snare: '..........o.....' },
      { kick: 'o.......o.......', ride: 'x...x..xx...x..x', hat: '....x.......x...' },
    ],
    bass: 'walking',
    chordStyle: 'comp',
    leadTimbres: ['flute', 'epiano', 'sine'],
    chordTimbres: ['epiano', 'organ'],
    bassTimbres: ['pluck'],
    majorProb: 0.55,
    brightness: [0.3, 0.6],
    drive: [0.05, 0.3],
    reverb: [0.2, 0.45],
    extended: true,
    leadDensity: [0.25, 0.45],
  },
  ambient: {
    name: 'Ambient',
    styles: ['Drone', 'Space Ambient', 'Dark Ambient'],
    tempo: [60, 80],
    swing: [0, 0],
    drums: null,
    bass: 'drone',
    chordStyle: 'pad',
    leadTimbres: ['bell', 'sine', 'flute'],
    chordTimbres: ['pad'],
    bassTimbres: ['sine'],
    majorProb: 0.5,
    brightness: [0.1, 0.45],
    drive: [0, 0.1],
    reverb: [0.5, 0.85],
    extended: true,
    leadDensity: [0.02, 0.08],
  },
  dnb: {
    name: 'Drum & Bass',
    styles: ['Liquid Funk', 'Neurofunk', 'Jungle'],
    tempo: [168, 176],
    swing: [0, 0.05],
    drums: [
      { kick: 'X.........X.....', snare: '....X.......X...', hat: 'x.x.x.x.x.x.x.x.', shaker: 'oooooooooooooooo' },
      { kick: 'X.x.......X.....', snare: '....X..o....X..o', hat: 'xxxxxxxxxxxxxxxx' },
    ],
    bass: 'long',
    chordStyle: 'pad',
    leadTimbres: ['bell', 'saw', 'epiano'],
    chordTimbres: ['pad', 'epiano'],
    bassTimbres: ['reese', 'sine'],
    majorProb: 0.3,
    brightness: [0.4, 0.75],
    drive: [0.35, 0.75],
    reverb: [0.2, 0.5],
    extended: true,
    leadDensity: [0.05, 0.15],
  },
  folk: {
    name: 'Folk',
    styles: ['Singer-Songwriter', 'Celtic Folk', 'Americana'],
    tempo: [88, 124],
    swing: [0.05, 0.18],
    drums: [{ kick: 'o.......o.......', shaker: 'x.o.x.o.x.o.x.o.' }, { kick: '', shaker: 'x.x.x.x.x.x.x.x.' }],
    bass: 'roots',
    chordStyle: 'arpeggio',
    leadTimbres: ['flute', 'pluck'],
    chordTimbres: ['pluck'],
    bassTimbres: ['pluck', 'sine'],
    majorProb: 0.7,
    brightness: [0.35, 0.65],
    drive: [0, 0.15],
    reverb: [0.15, 0.4],
    extended: false,
    leadDensity: [0.12, 0.3],
  },
};

export const GENRE_IDS = Object.keys(GENRES);

/** An artist's stable sound. */
export interface Palette {
  genre: string;
  style: string;
  tempo: [number, number];
  keys: number[];
  majorProb: number;
  lead: Timbre;
  chords: Timbre;
  bass: BassTimbre;
  drumSet: number;
  brightness: number;
  drive: number;
  reverb: number;
  swing: number;
  kickPitch: number;
  hatDecay: number;
  leadDensity: number;
  leadOctave: number;
  /** Timbre detail: FM ratio / drawbar mix / detune, so two artists with the same instrument still differ. */
  colour: number;
  dynamics: number;
}

export function makePalette(genre: string, rng: Random): Palette {
  const g = GENRES[genre];
  if (!g) throw new Error(`unknown genre ${genre}`);
  const centre = rng.uniform(g.tempo[0], g.tempo[1]);
  const firstKey = rng.int(0, 11);
  return {
    genre,
    style: rng.pick(g.styles),
    tempo: [Math.max(50, centre - 3), centre + 3],
    keys: [firstKey, (firstKey + rng.pick([5, 7, 2, 9])) % 12],
    majorProb: Math.min(0.95, Math.max(0.05, g.majorProb + rng.normal(0, 0.3))),
    lead: rng.pick(g.leadTimbres),
    chords: rng.pick(g.chordTimbres),
    bass: rng.pick(g.bassTimbres),
    drumSet: g.drums ? rng.int(0, g.drums.length - 1) : 0,
    brightness: rng.uniform(g.brightness[0], g.brightness[1]),
    drive: rng.uniform(g.drive[0], g.drive[1]),
    reverb: rng.uniform(g.reverb[0], g.reverb[1]),
    swing: rng.uniform(g.swing[0], g.swing[1]),
    kickPitch: rng.uniform(42, 62),
    hatDecay: rng.uniform(30, 90),
    leadDensity: rng.uniform(g.leadDensity[0], g.leadDensity[1]),
    leadOctave: rng.pick([4, 5, 5, 6]),
    colour: rng.next(),
    dynamics: rng.uniform(0.2, 0.9),
  };
}

export interface TrackPlan {
  palette: Palette;
  seed: number;
  seconds: number;
  bpm: number;
  root: number;
  major: boolean;
  brightness: number;
  drive: number;
}

export function planTrack(artist: Palette, rng: Random, seconds: number): TrackPlan {
  // Artists vary from track to track: now and then another instrument of the genre, another groove of the
  // genre, a different mix. The palette stays recognisable; the genre stays defined by rhythm and instruments.
  const g = GENRES[artist.genre];
  const palette: Palette = {
    ...artist,
    lead: rng.chance(0.3) ? rng.pick(g.leadTimbres) : artist.lead,
    chords: rng.chance(0.25) ? rng.pick(g.chordTimbres) : artist.chords,
    bass: rng.chance(0.25) ? rng.pick(g.bassTimbres) : artist.bass,
    drumSet: g.drums && rng.chance(0.25) ? rng.int(0, g.drums.length - 1) : artist.drumSet,
    colour: Math.min(1, Math.max(0, artist.colour + rng.normal(0, 0.12))),
    reverb: Math.min(0.9, Math.max(0, artist.reverb + rng.normal(0, 0.08))),
    leadDensity: Math.max(0.01, artist.leadDensity * rng.uniform(0.6, 1.5)),
  };
  return {
    palette,
    seed: rng.int(1, 2 ** 31 - 1),
    seconds,
    bpm: rng.uniform(artist.tempo[0] - 3, artist.tempo[1] + 3),
    root: rng.chance(0.7) ? rng.pick(artist.keys) : rng.int(0, 11),
    major: rng.chance(artist.majorProb),
    brightness: Math.min(1, Math.max(0, artist.brightness + rng.normal(0, 0.1))),
    drive: Math.min(1, Math.max(0, artist.drive + rng.normal(0, 0.08))),
  };
}

/** Moods follow from mode, tempo, brightness and dynamics (at most three). */
export function moodsOf(plan: TrackPlan): string[] {
  const hasDrums = GENRES[plan.palette.genre].drums !== null;
  const energetic = hasDrums && plan.bpm >= 118 && plan.drive >= 0.35;
  const calm = !hasDrums || (plan.bpm < 100 && plan.drive < 0.3);
  const moods: string[] = [];
  if (energetic) moods.push('Energetic');
  if (calm) moods.push('Calm');
  if (plan.major && plan.bpm >= 100) moods.push('Happy');
  if (plan.major && plan.brightness >= 0.6) moods.push('Uplifting');
  if (!plan.major && plan.bpm < 115) moods.push('Sad');
  if (!plan.major && plan.brightness < 0.5) moods.push('Dark');
  if (moods.length === 0) moods.push(plan.major ? 'Happy' : 'Melancholic');
  return moods.slice(0, 3);
}

const CHORDS: Record<string, number[]> = {
  maj: [0, 4, 7],
  min: [0, 3, 7],
  maj7: [0, 4, 7, 11],
  min7: [0, 3, 7, 10],
  dom7: [0, 4, 7, 10],
  m7b5: [0, 3, 6, 10],
};
const PROGRESSIONS: Record<'major' | 'minor' | 'major7' | 'minor7', Array<Array<[number, string]>>> = {
  major: [
    [[0, 'maj'], [7, 'maj'], [9, 'min'], [5, 'maj']],
    [[0, 'maj'], [5, 'maj'], [7, 'maj'], [5, 'maj']],
    [[0, 'maj'], [9, 'min'], [5, 'maj'], [7, 'maj']],
  ],
  minor: [
    [[0, 'min'], [8, 'maj'], [3, 'maj'], [10, 'maj']],
    [[0, 'min'], [5, 'min'], [10, 'maj'], [3, 'maj']],
    [[0, 'min'], [7, 'min'], [8, 'maj'], [5, 'min']],
  ],
  major7: [
    [[2, 'min7'], [7, 'dom7'], [0, 'maj7'], [9, 'min7']],
    [[0, 'maj7'], [9, 'min7'], [2, 'min7'], [7, 'dom7']],
  ],
  minor7: [
    [[2, 'm7b5'], [7, 'dom7'], [0, 'min7'], [0, 'min7']],
    [[0, 'min7'], [5, 'min7'], [10, 'dom7'], [3, 'maj7']],
  ],
};
const SCALES = { major: [0, 2, 4, 5, 7, 9, 11], minor: [0, 2, 3, 5, 7, 8, 10] };

const midiHz = (m: number): number => 440 * Math.pow(2, (m - 69) / 12);

/** A cheap tanh-like saturator (Padé approximant, exact limits at ±3). */
function softClip(x: number): number {
  if (x <= -3) return -1;
  if (x >= 3) return 1;
  const x2 = x * x;
  return (x * (27 + x2)) / (27 + 9 * x2);
}

/** PolyBLEP residual for band-limited saw and square waves. */
function polyBlep(t: number, dt: number): number {
  if (t < dt) {
    const x = t / dt;
    return x + x - x * x - 1;
  }
  if (t > 1 - dt) {
    const x = (t - 1) / dt;
    return x * x + x + x + 1;
  }
  return 0;
}

interface Voice {
  buf: Float32Array;
  sr: number;
  rng: Random;
  colour: number;
}

/** Render one note of a pitched instrument into `buf` (mono, additive). */
function note(v: Voice, timbre: Timbre | BassTimbre, start: number, dur: number, hz: number, vel: number): void {
  const { buf, sr } = v;
  const s0 = Math.max(0, Math.floor(start * sr));
  const release = timbre === 'pad' ? 0.8 : timbre === 'pluck' || timbre === 'bell' || timbre === 'epiano' ? 0.6 : 0.05;
  const attack = timbre === 'pad' ? 0.6 : timbre === 'flute' ? 0.06 : timbre === 'organ' ? 0.01 : 0.004;
  const n = Math.min(buf.length - s0, Math.floor((dur + release) * sr));
  if (n <= 0) return;
  const dt = hz / sr;
  const holdN = dur * sr;
  let phase = v.rng.next();
  let phase2 = v.rng.next();
  let phase3 = v.rng.next();
  let lp = 0;
  // Karplus–Strong string for plucks.
  let ks: Float32Array | null = null;
  let ksIdx = 0;
  if (timbre === 'pluck') {
    const period = Math.max(2, Math.round(sr / hz));
    ks = new Float32Array(period);
    for (let i = 0; i < period; i++) ks[i] = v.rng.uniform(-1, 1);
  }
  const detune = 1.004 + 0.006 * v.colour;
  const fmRatio = 1 + Math.round(v.colour * 3);
  // Exponential envelopes as running products (one multiply a sample instead of Math.exp).
  const decay = (perSecond: number) => Math.exp(-perSecond / sr);
  const attackN = attack * sr;
  const releaseK = decay(4 / release);
  const filtK = decay(4 + 10 * v.colour);
  const sqK = decay(6);
  const fm3 = decay(3);
  const amp12 = decay(1.2);
  const fm2 = decay(2);
  const amp15 = decay(1.5);
  const vibK = (2 * Math.PI * 5.5) / sr;
  let eFilt = 1;
  let eA = 1;
  let eB = 1;
  let rel = 1;
  const kind = TIMBRE_CODE[timbre];
  for (let i = 0; i < n; i++) {
    let env = i < attackN ? i / attackN : 1;
    if (i > holdN) {
      rel *= releaseK;
      env *= rel;
    }
    let x = 0;
    switch (kind) {
      case 0: // sine
        x = Math.sin(2 * Math.PI * phase);
        break;
      case 1: // saw
      case 2: // distorted
      case 3: {
        // reese
        x = 2 * phase - 1 - polyBlep(phase, dt);
        if (kind !== 1) {
          const dt2 = dt * detune;
          x += 2 * phase2 - 1 - polyBlep(phase2, dt2);
          phase2 += dt2;
          if (phase2 >= 1) phase2 -= 1;
          x *= 0.5;
        }
        if (kind === 2) {
          const dt3 = dt * 1.4983; // a fifth above: power chord
          x += 0.7 * (2 * phase3 - 1 - polyBlep(phase3, dt3));
          phase3 += dt3;
          if (phase3 >= 1) phase3 -= 1;
          x = softClip(3.5 * x);
        }
        eFilt *= filtK;
        const cutoff = kind === 3 ? 0.05 : 0.12 + 0.5 * eFilt;
        lp += cutoff * (x - lp);
        x = kind === 2 ? 0.6 * x + 0.4 * lp : lp;
        break;
      }
      case 4: {
        // square
        x = phase < 0.5 ? 1 : -1;
        x += polyBlep(phase, dt);
        x -= polyBlep((phase + 0.5) % 1, dt);
        eFilt *= sqK;
        lp += (0.1 + 0.4 * eFilt) * (x - lp);
        x = lp;
        break;
      }
      case 5: {
        // epiano: two-operator FM
        eA *= fm3;
        eB *= amp12;
        const idx = (1.5 + 2 * v.colour) * eA;
        x = Math.sin(2 * Math.PI * phase + idx * Math.sin(2 * Math.PI * phase * fmRatio)) * eB;
        break;
      }
      case 6: {
        // bell: inharmonic FM
        eA *= fm2;
        eB *= amp15;
        x = Math.sin(2 * Math.PI * phase + 3 * eA * Math.sin(2 * Math.PI * phase * (3.5 + v.colour))) * eB;
        break;
      }
      case 7: {
        // organ: drawbars
        const p = 2 * Math.PI * phase;
        x = 0.6 * Math.sin(p) + 0.4 * Math.sin(2 * p) + (0.2 + 0.3 * v.colour) * Math.sin(3 * p) + 0.15 * Math.sin(4 * p);
        break;
      }
      case 8: {
        // pad: three detuned saws through a low-pass
        let s = 2 * phase - 1 - polyBlep(phase, dt);
        const dt2 = dt * detune;
        s += 2 * phase2 - 1 - polyBlep(phase2, dt2);
        phase2 += dt2;
        if (phase2 >= 1) phase2 -= 1;
        const dt3 = dt / detune;
        s += 2 * phase3 - 1 - polyBlep(phase3, dt3);
        phase3 += dt3;
        if (phase3 >= 1) phase3 -= 1;
        lp += (0.03 + 0.05 * v.colour) * (s / 3 - lp);
        x = lp * 2;
        break;
      }
      case 9: {
        // flute: sine with vibrato and breath
        x = Math.sin(2 * Math.PI * phase) + 0.15 * Math.sin(4 * Math.PI * phase) + 0.05 * (2 * v.rng.next() - 1);
        phase += dt * 0.004 * Math.sin(vibK * i);
        break;
      }
      case 10: {
        // pluck: Karplus–Strong
        const k = ks as Float32Array;
        const next = ksIdx + 1 === k.length ? 0 : ksIdx + 1;
        x = k[ksIdx];
        k[ksIdx] = (0.996 - 0.004 * v.colour) * 0.5 * (k[ksIdx] + k[next]);
        ksIdx = next;
        break;
      }
    }
    phase += dt;
    if (phase >= 1) phase -= 1;
    buf[s0 + i] += vel * env * x;
  }
}

const TIMBRE_CODE: Record<Timbre | BassTimbre, number> = {
  sine: 0,
  saw: 1,
  distorted: 2,
  reese: 3,
  square: 4,
  epiano: 5,
  bell: 6,
  organ: 7,
  pad: 8,
  flute: 9,
  pluck: 10,
};

type DrumName = 'kick' | 'snare' | 'clap' | 'hat' | 'open' | 'ride' | 'shaker';

function renderDrum(name: DrumName, sr: number, p: Palette, rng: Random): Float32Array {
  const len = Math.floor(sr * (name === 'ride' ? 0.9 : name === 'open' ? 0.45 : name === 'kick' ? 0.4 : name === 'snare' || name === 'clap' ? 0.25 : 0.12));
  const out = new Float32Array(len);
  let phase = 0;
  let prev = 0;
  let lp = 0;
  for (let i = 0; i < len; i++) {
    const t = i / sr;
    const noise = rng.uniform(-1, 1);
    const hp = noise - prev;
    prev = noise;
    let x = 0;
    switch (name) {
      case 'kick': {
        const f = p.kickPitch * (1 + 2.5 * Math.exp(-t * 35));
        phase += f / sr;
        x = Math.sin(2 * Math.PI * phase) * Math.exp(-t * 7) + 0.3 * hp * Math.exp(-t * 300);
        break;
      }
      case 'snare':
        phase += 185 / sr;
        lp += 0.5 * (noise - lp);
        x = 0.7 * lp * Math.exp(-t * 16) + 0.5 * Math.sin(2 * Math.PI * phase) * Math.exp(-t * 25);
        break;
      case 'clap': {
        const burst = [0, 0.011, 0.022].some((b) => t >= b && t < b + 0.008) ? 1 : 0;
        x = hp * (0.6 * burst + 0.5 * Math.exp(-t * 14));
        break;
      }
      case 'hat':
        x = 0.5 * hp * Math.exp(-t * p.hatDecay);
        break;
      case 'open':
        x = 0.4 * hp * Math.exp(-t * 7);
        break;
      case 'ride': {
        let m = 0;
        for (const r of [1, 1.48, 1.93, 2.56, 3.17]) m += Math.sign(Math.sin(2 * Math.PI * 430 * r * t));
        x = (0.08 * m + 0.25 * hp) * Math.exp(-t * 3.5);
        break;
      }
      case 'shaker': {
        lp += 0.3 * (hp - lp);
        x = 0.6 * (hp - lp) * Math.min(1, t / 0.01) * Math.exp(-t * 35);
        break;
      }
    }
    out[i] = x;
  }
  return out;
}

const VELOCITY: Record<string, number> = { X: 1, x: 0.75, o: 0.4 };

/** Schroeder reverb (four combs, two allpasses) on a mono send. */
function reverb(input: Float32Array, amount: number, sr: number): Float32Array {
  const out = new Float32Array(input.length);
  if (amount <= 0) return out;
  const scale = sr / 22050;
  const combs = [1116, 1188, 1277, 1356].map((d) => ({ buf: new Float32Array(Math.round(d * scale)), i: 0 }));
  const fb = 0.72 + 0.2 * amount;
  for (let n = 0; n < input.length; n++) {
    let s = 0;
    for (const c of combs) {
      const y = c.buf[c.i];
      c.buf[c.i] = input[n] + fb * y;
      c.i = (c.i + 1) % c.buf.length;
      s += y;
    }
    out[n] = s * 0.25;
  }
  for (const d of [225, 341]) {
    const buf = new Float32Array(Math.round(d * scale));
    let i = 0;
    for (let n = 0; n < out.length; n++) {
      const b = buf[i];
      const y = -out[n] + b;
      buf[i] = out[n] + 0.5 * b;
      i = (i + 1) % buf.length;
      out[n] = y;
    }
  }
  for (let n = 0; n < out.length; n++) out[n] *= amount;
  return out;
}

export interface RenderedTrack {
  sr: number;
  left: Float32Array;
  right: Float32Array;
}

/** Render a planned track to stereo float32 at `sr`. Deterministic in `plan`. */
export function renderTrack(plan: TrackPlan, sr = 22050): RenderedTrack {
  const p = plan.palette;
  const g = GENRES[p.genre];
  const rng = new Random(plan.seed);
  const n = Math.floor(plan.seconds * sr);
  const drums = new Float32Array(n);
  const bass = new Float32Array(n);
  const chords = new Float32Array(n);
  const lead = new Float32Array(n);
  const step = 60 / plan.bpm / 4;
  const barDur = step * 16;
  const nBars = Math.ceil(plan.seconds / barDur);
  const scale = plan.major ? SCALES.major : SCALES.minor;
  const progs = g.extended ? (plan.major ? PROGRESSIONS.major7 : PROGRESSIONS.minor7) : plan.major ? PROGRESSIONS.major : PROGRESSIONS.minor;
  const prog = rng.pick(progs);
  const barsPerChord = g.chordStyle === 'pad' ? 2 : 1;
  const kit = g.drums ? g.drums[p.drumSet] : null;
  const samples = new Map<DrumName, Float32Array>();
  const drumRng = rng.fork('drums');
  const voice = (buf: Float32Array, label: string): Voice => ({ buf, sr, rng: rng.fork(label), colour: p.colour });
  const vb = voice(bass, 'bass');
  const vc = voice(chords, 'chords');
  const vl = voice(lead, 'lead');
  const swingAt = (s: number) => (s % 2 === 1 ? p.swing * step : 0);
  let melodyDegree = rng.int(0, 6);

  for (let bar = 0; bar < nBars; bar++) {
    const frac = bar / nBars;
    const section = frac < 0.15 ? 'intro' : frac >= 0.6 && frac < 0.75 ? 'breakdown' : 'main';
    const barStart = bar * barDur;
    const [degree, quality] = prog[Math.floor(bar / barsPerChord) % prog.length];
    const chordRoot = 48 + ((plan.root + degree) % 12);
    const chordNotes = CHORDS[quality].map((i) => chordRoot + i);
    const bassNote = 36 + ((plan.root + degree) % 12);
    const level = section === 'breakdown' ? 1 - 0.6 * p.dynamics : section === 'intro' ? 0.8 : 1;

    if (kit && section !== 'breakdown') {
      for (const [name, pattern] of Object.entries(kit) as Array<[DrumName, string]>) {
        if (section === 'intro' && (name === 'snare' || name === 'clap')) continue;
        for (let s = 0; s < pattern.length; s++) {
          const vel = VELOCITY[pattern[s]];
          if (!vel) continue;
          let sample = samples.get(name);
          if (!sample) {
            sample = renderDrum(name, sr, p, drumRng);
            samples.set(name, sample);
          }
          const at = Math.floor((barStart + s * step + swingAt(s) + drumRng.normal(0, 0.002)) * sr);
          const v = vel * (0.9 + 0.1 * drumRng.next()) * level;
          const to = Math.min(sample.length, n - at);
          for (let i = Math.max(0, -at); i < to; i++) drums[at + i] += v * sample[i];
        }
      }
    }

    // Bass line.
    if (section !== 'intro' || g.bass === 'drone') {
      const b = (s: number, dur: number, midi: number, vel = 0.8) => note(vb, p.bass, barStart + s * step + swingAt(s), dur, midiHz(midi), vel * level);
      switch (g.bass) {
        case 'offbeat16':
          for (let s = 2; s < 16; s += 4) b(s, step * 1.5, bassNote);
          if (p.colour > 0.5) for (let s = 3; s < 16; s += 4) b(s, step * 0.8, bassNote + 12, 0.5);
          break;
        case 'follow-kick':
          for (let s = 0; s < 16; s++) if (kit && VELOCITY[kit.kick[s]] >= 0.75) b(s, step * 3, bassNote, 0.9);
          break;
        case 'eighths':
          for (let s = 0; s < 16; s += 2) b(s, step * 1.8, bassNote);
          break;
        case 'walking': {
          const tones = [0, CHORDS[quality][1], CHORDS[quality][2], rng.pick([10, 11, 9, 2])];
          for (let beat = 0; beat < 4; beat++) b(beat * 4, step * 3.6, bassNote + tones[beat], 0.7);
          break;
        }
        case 'drone':
          if (bar % 2 === 0) b(0, barDur * 2, bassNote, 0.5);
          break;
        case 'long':
          b(0, step * 6, bassNote, 0.9);
          b(10, step * 5, bassNote + (rng.chance(0.5) ? 0 : 7), 0.8);
          break;
        case 'roots':
          b(0, step * 7, bassNote, 0.6);
          b(8, step * 7, bassNote + 7, 0.55);
          break;
      }
    }

    // Chords.
    if (section !== 'intro' || g.chordStyle === 'pad') {
      const c = (s: number, dur: number, vel: number, notes = chordNotes) => {
        for (const m of notes) note(vc, p.chords, barStart + s * step + swingAt(s), dur, midiHz(m), (vel * level) / notes.length);
      };
      switch (g.chordStyle) {
        case 'stab':
          for (const s of [2, 6, 10, 14]) if (rng.chance(0.7)) c(s, step * 0.7, 0.7);
          break;
        case 'sustain':
          c(0, barDur * 0.95, 0.7);
          break;
        case 'power8':
          for (let s = 0; s < 16; s += 2) c(s, step * 1.7, 0.9, [chordNotes[0] - 12, chordNotes[0]]);
          break;
        case 'comp':
          for (let s = 0; s < 16; s++) if (rng.chance(0.16)) c(s, step * rng.pick([1, 2, 3]), 0.55);
          break;
        case 'pad':
          if (bar % barsPerChord === 0) c(0, barDur * barsPerChord, 0.8);
          break;
        case 'arpeggio': {
          const arp = [...chordNotes, chordNotes[0] + 12, ...chordNotes.slice(1).reverse()];
          for (let s = 0; s < 16; s += 2) note(vc, p.chords, barStart + s * step + swingAt(s), step * 3, midiHz(arp[(s / 2) % arp.length]), 0.45 * level);
          break;
        }
      }
    }

    // Lead melody: a random walk on the scale, leaning on chord tones.
    if (section !== 'intro') {
      for (let s = 0; s < 16; s++) {
        if (!rng.chance(p.leadDensity * (section === 'breakdown' ? 1.5 : 1))) continue;
        melodyDegree = Math.max(0, Math.min(13, melodyDegree + rng.pick([-2, -1, -1, 1, 1, 2, 0])));
        const pc = scale[melodyDegree % 7] + 12 * Math.floor(melodyDegree / 7);
        const midi = 12 * p.leadOctave + plan.root + pc;
        note(vl, p.lead, barStart + s * step + swingAt(s), step * rng.pick([1, 2, 2, 3, 4]), midiHz(midi), 0.5 * level);
      }
    }
  }

  // Mix: drums centre, bass centre, chords left of centre, lead right of centre, a reverb send on both.
  const send = new Float32Array(n);
  for (let i = 0; i < n; i++) send[i] = chords[i] + lead[i] + 0.3 * drums[i];
  const wet = reverb(send, p.reverb, sr);
  const left = new Float32Array(n);
  const right = new Float32Array(n);
  const drumGain = 0.9;
  const cutoff = Math.min(0.95, (2 * Math.PI * (600 * Math.pow(2, plan.brightness * 4.2))) / sr);
  const drive = 1 + plan.drive * 5;
  let lpL = 0;
  let lpR = 0;
  let peak = 1e-9;
  const fadeIn = Math.floor(0.05 * sr);
  const fadeOut = Math.floor(1.5 * sr);
  for (let i = 0; i < n; i++) {
    const centre = drumGain * drums[i] + 0.9 * bass[i];
    let l = centre + 0.75 * chords[i] + 0.45 * lead[i] + wet[i];
    let r = centre + 0.45 * chords[i] + 0.75 * lead[i] + wet[i] * 0.9;
    lpL += cutoff * (l - lpL);
    lpR += cutoff * (r - lpR);
    l = softClip(drive * lpL) / drive;
    r = softClip(drive * lpR) / drive;
    const fade = Math.min(1, i / fadeIn, (n - i) / fadeOut);
    left[i] = l * fade;
    right[i] = r * fade;
    peak = Math.max(peak, Math.abs(left[i]), Math.abs(right[i]));
  }
  // Loud productions are pushed near full scale, quiet ones are left with headroom.
  const target = 0.35 + 0.6 * Math.min(1, plan.drive + 0.2);
  const gain = target / peak;
  for (let i = 0; i < n; i++) {
    left[i] *= gain;
    right[i] *= gain;
  }
  return { sr, left, right };
}
