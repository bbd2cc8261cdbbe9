/**
 * The contract's types of auto-tagging: tag heads, their held-out metrics, predictions, proposals and review.
 * Part of `contract.ts`, which re-exports all of it; like it, imported as types only (but `HEAD_KINDS`).
 */
import type { Prf } from './eval/metrics.js';

/**
 * Tag heads (`core/learn/heads`): `knn` votes by the most similar tagged tracks, `linear` and `mlp` are trained
 * (seed 000's transfer MLP), and `auto` — the default — cross-validates the others on the field's tagged tracks
 * and keeps the best.
 */
export const HEAD_KINDS = ['auto', 'knn', 'linear', 'mlp'] as const;
export type TagHeadKind = (typeof HEAD_KINDS)[number];
/**
 * The head that made a field's predictions: one kind, or the mean of the kNN and linear heads; `model` for a
 * published model's proposals through its mapping (the head's representation is the model's name).
 */
export type HeadUsed = 'knn' | 'linear' | 'mlp' | 'knn+linear' | 'model';

/** How a head was chosen: what was asked, what was used, and every candidate's cross-validated score. */
export interface HeadSelection {
  requested: TagHeadKind;
  chosen: HeadUsed;
  /** Held-out accuracy (single-label) or mean average precision (multi-label) of each candidate tried. */
  candidates: Array<{ kind: HeadUsed; score: number; logLoss: number | null }>;
  /** How the confidences were calibrated on held-out predictions. */
  calibration: string;
}

export interface HeldOutMetrics {
  samples: number;
  /** The learned values, in the order of `confusion` and `perValue`. */
  values: string[];
  /** `[truth][predicted]` counts (single-label). */
  confusion?: number[][];
  perValue: Array<{ value: string } & Prf>;
  accuracy?: number;
  macroF1?: number;
  logLoss?: number;
  /** Accuracy of always answering the most common value. */
  majorityAccuracy?: number;
  meanAveragePrecision?: number;
  meanF1?: number;
  /** Which head made the predictions, and how it was chosen. */
  selection?: HeadSelection;
}

export interface PredictionRow {
  trackId: number;
  field: string;
  value: string;
  confidence: number;
  headId: string;
  inFile: boolean;
  proposed: boolean;
  suspicious: boolean;
  status: 'pending' | 'accepted' | 'rejected' | 'written';
}

export interface ReviewSummary {
  field: string;
  headId: string;
  representation: string;
  kind: HeadUsed;
  multiLabel: boolean;
  minSupport: number;
  createdAt: number;
  heldOut: HeldOutMetrics;
  proposed: number;
  accepted: number;
  rejected: number;
  written: number;
  suspicious: number;
}

export interface TagEvaluation {
  field: string;
  representation: string;
  kind: HeadUsed;
  /** For `auto`: the candidates' scores on the training side and the one chosen. */
  selection?: HeadSelection;
  multiLabel: boolean;
  /** How the held-out tracks were chosen: stratified by value, by artist, or given (an encoder's held-out tracks). */
  split: 'stratified' | 'artist' | 'held-out';
  values: string[];
  train: number;
  test: number;
  /** Single-label. */
  accuracy?: number;
  /** Both kinds: the mean F1 over the values present among the held-out tracks. */
  macroF1?: number;
  logLoss?: number;
  majority?: { value: string; accuracy: number; macroF1: number };
  /** `[truth][predicted]` counts over `values`. */
  confusion?: number[][];
  /** Per value (both kinds). */
  perValue: Array<{ value: string } & Prf>;
  /** Multi-label. */
  meanAveragePrecision?: number;
  thresholds?: number[];
}

export type PredictionStatus = 'pending' | 'accepted' | 'rejected' | 'written';

/** A value a tag head proposes for a track (pending or accepted). */
export interface Proposal {
  field: string;
  value: string;
  confidence: number;
  status: PredictionStatus;
}

export interface ProposalQuery {
  field: string;
  /** Default: pending and accepted. */
  status?: 'pending' | 'accepted' | 'rejected' | 'open';
  suspiciousOnly?: boolean;
  minConfidence?: number;
  offset: number;
  limit: number;
}

export interface ProposalRow {
  trackId: number;
  title: string | null;
  artist: string | null;
  path: string;
  /** The field's values in the file now. */
  fileValues: string[];
  value: string;
  confidence: number;
  status: PredictionStatus;
  /** The file's own value in this field is one the head strongly disagrees with. */
  suspicious: boolean;
  /** What proposed it: a published model's name, or a learned head ("knn head on dsp"). */
  proposedBy: { kind: HeadUsed; representation: string };
}

export interface ProposalPage {
  total: number;
  offset: number;
  rows: ProposalRow[];
}

export interface ReviewRequest {
  action: 'accept' | 'reject' | 'reset';
  field?: string;
  trackIds?: number[];
  values?: string[];
  minConfidence?: number;
  pendingOnly?: boolean;
}

export interface TagBatch {
  batch: string;
  files: number;
  at: number;
  /** An undo: the batch it undid. */
  undoOf?: string;
  /** Undone by this later batch. */
  undoneBy?: string;
}

export interface UndoResult {
  batch: string;
  restored: number;
  /** Of those, files given back their original bytes (untouched since the write)… */
  restoredBytes: number;
  /** …and files changed since the write, given back the values it replaced. */
  restoredValues: number;
  refused: Array<{ path: string | null; message: string }>;
}
