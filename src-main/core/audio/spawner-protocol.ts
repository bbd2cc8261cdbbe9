/** Messages between `ProcessSpawner` (the analysing process) and its helper (`spawner-process.ts`), over Node's IPC. */
export type ToSpawner =
  | { type: 'run'; id: number; command: string; args: string[]; nOutputs: number }
  | { type: 'kill'; id: number };

export type FromSpawner =
  | { type: 'ready' }
  | { type: 'exit'; id: number; code: number | null; signal: string | null; stderr: string }
  | { type: 'error'; id: number; message: string; code: string | null };
