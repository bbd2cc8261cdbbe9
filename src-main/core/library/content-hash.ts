import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

const CHUNK = 256 * 1024;

/**
 * A file's identity: SHA-256 of its size and of three 256 KiB samples (start, middle, end), or of the whole
 * file when it is smaller than that. Any tag edit (start or end of the file) or re-encode changes it; a move
 * or rename does not, which is how a moved file keeps its analysis.
 */
export async function contentHash(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const h = createHash('sha256');
    h.update(`earmark-q1:${size}:`);
    const positions = size <= 3 * CHUNK ? [0] : [0, Math.floor(size / 2 - CHUNK / 2), size - CHUNK];
    const len = size <= 3 * CHUNK ? size : CHUNK;
    const buf = Buffer.alloc(Math.max(1, len));
    for (const pos of positions) {
      const { bytesRead } = await fh.read(buf, 0, len, pos);
      h.update(buf.subarray(0, bytesRead));
    }
    return h.digest('hex').slice(0, 32);
  } finally {
    await fh.close();
  }
}
