import { Random } from '../../src-main/core/util/random.js';

/**
 * A collection with a known hub, as hubs arise in high dimensions (Radovanović et al. 2010): four clusters of 12
 * points in 50 dimensions, each point its cluster's centre plus unit noise, all shifted off the origin; and one
 * point at the mean of the centres. Random points are far from one another in 50 dimensions, the mean of them
 * much less so, so by cosine it is among almost everyone's nearest neighbours.
 */
export function withHub(perCluster = 12, dim = 50, seed = 3) {
  const rng = new Random(seed);
  const centres = Array.from({ length: 4 }, () => Array.from({ length: dim }, () => (2.5 / 3) * rng.normal()));
  const points: number[][] = [];
  const cluster: number[] = [];
  for (let c = 0; c < 4; c++) {
    for (let i = 0; i < perCluster; i++) {
      points.push(centres[c].map((x) => 1 + x + rng.normal()));
      cluster.push(c);
    }
  }
  points.push(Array.from({ length: dim }, (_, d) => 1 + centres.reduce((a, c) => a + c[d], 0) / 4));
  cluster.push(-1);
  return { points, cluster, hub: points.length - 1 };
}
