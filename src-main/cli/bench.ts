// Filled in below (benchmarks): placeholder-free entry so the bundle builds.
export {};
