// @echogarden/pffft-wasm ships no type declarations; this covers the part Earmark uses (an Emscripten module).
declare module '@echogarden/pffft-wasm/simd' {
  export interface PffftModule {
    HEAPF32: Float32Array;
    _pffft_new_setup(n: number, transform: number): number;
    _pffft_aligned_malloc(bytes: number): number;
    _pffft_transform_ordered(setup: number, input: number, output: number, work: number, direction: number): void;
  }
  export default function createPffft(): Promise<PffftModule>;
}
