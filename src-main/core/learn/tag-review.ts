import type { HeadUsed, HeldOutMetrics, PredictionRow, ProposalPage, ProposalQuery, ReviewSummary } from '../contract.js';
import { splitJoined, valueKey } from '../library/facets.js';
import type { FacetChanges } from '../library/tag-writer.js';
import type { LibraryStore } from '../store/library-store.js';

/**
 * Reviewing the tag heads' predictions: a track's predictions, accepting and rejecting proposals, each field's
 * summary, the accepted edits `tag --write` writes, and pages of proposals for the review list.
 */

interface RawPrediction {
  track_id: number;
  field: string;
  value: string;
  confidence: number;
  head_id: string;
  in_file: number;
  proposed: number;
  suspicious: number;
  status: PredictionRow['status'];
}

function toRow(r: RawPrediction): PredictionRow {
  return {
    trackId: r.track_id,
    field: r.field,
    value: r.value,
    confidence: r.confidence,
    headId: r.head_id,
    inFile: !!r.in_file,
    proposed: !!r.proposed,
    suspicious: !!r.suspicious,
    status: r.status,
  };
}

/** A track's predictions, most confident first per field. */
export function trackPredictions(store: LibraryStore, trackId: number): PredictionRow[] {
  return (store.db.prepare('SELECT * FROM predictions WHERE track_id = ? ORDER BY field, confidence DESC').all(trackId) as RawPrediction[]).map(toRow);
}

export interface ReviewFilter {
  field?: string;
  trackIds?: number[];
  values?: string[];
  minConfidence?: number;
  /** Only rows still pending (the default for bulk decisions, so earlier single decisions stand). */
  pendingOnly?: boolean;
  /**
   * Bulk accepts also take proposals that would replace the value a track already has in a single-valued field
   * (the head disagrees with the file). Off by default: the file's value is more often right than the head, and a
   * bulk accept should not overwrite it. Naming tracks or values takes them anyway.
   */
  replacing?: boolean;
}

/** The SQL condition selecting proposed rows by `f`; `p` prefixes the column names (a table alias). */
function where(f: ReviewFilter, p = ''): { sql: string; args: unknown[] } {
  const parts = [`${p}proposed = 1`, `${p}status != 'written'`];
  const args: unknown[] = [];
  if (f.field) {
    parts.push(`${p}field = ?`);
    args.push(f.field.toLowerCase());
  }
  if (f.trackIds) {
    parts.push(`${p}track_id IN (SELECT value FROM json_each(?))`);
    args.push(JSON.stringify(f.trackIds));
  }
  if (f.values) {
    parts.push(`${p}value IN (SELECT value FROM json_each(?))`);
    args.push(JSON.stringify(f.values));
  }
  if (f.minConfidence !== undefined) {
    parts.push(`${p}confidence >= ?`);
    args.push(f.minConfidence);
  }
  if (f.pendingOnly) parts.push(`${p}status = 'pending'`);
  return { sql: parts.join(' AND '), args };
}

/** Accept, reject or reset (to pending) the proposed values the filter selects; returns how many changed. */
export function reviewPredictions(store: LibraryStore, action: 'accept' | 'reject' | 'reset', f: ReviewFilter): number {
  const status = action === 'accept' ? 'accepted' : action === 'reject' ? 'rejected' : 'pending';
  const w = where(f);
  const bulk = !f.trackIds && !f.values;
  // A bulk accept leaves out replacements of a track's own value in single-valued fields (see `replacing`).
  const keepOwn =
    action === 'accept' && bulk && !f.replacing
      ? ` AND NOT (head_id IN (SELECT id FROM heads WHERE multi_label = 0)
           AND EXISTS (SELECT 1 FROM predictions q WHERE q.track_id = predictions.track_id AND q.field = predictions.field AND q.in_file = 1))`
      : '';
  return store.db
    .prepare(`UPDATE predictions SET status = ?, decided_at = ? WHERE ${w.sql} AND status != ?${keepOwn}`)
    .run(status, status === 'pending' ? null : Date.now(), ...w.args, status).changes;
}

/** Per head (one per field, and one per field a published model proposes in): how many proposals stand in each review state. */
export function reviewSummary(store: LibraryStore): ReviewSummary[] {
  const heads = store.db.prepare('SELECT * FROM heads ORDER BY field').all() as Array<{
    id: string;
    field: string;
    representation: string;
    kind: HeadUsed;
    multi_label: number;
    min_support: number;
    metrics: string;
    created_at: number;
  }>;
  return heads.map((h) => {
    const c = store.db
      .prepare(
        `SELECT SUM(proposed = 1 AND status = 'pending') AS proposed, SUM(proposed = 1 AND status = 'accepted') AS accepted,
                SUM(proposed = 1 AND status = 'rejected') AS rejected, SUM(status = 'written') AS written,
                COUNT(DISTINCT CASE WHEN suspicious = 1 THEN track_id END) AS suspicious
         FROM predictions WHERE head_id = ?`,
      )
      .get(h.id) as Record<string, number | null>;
    return {
      field: h.field,
      headId: h.id,
      representation: h.representation,
      kind: h.kind,
      multiLabel: !!h.multi_label,
      minSupport: h.min_support,
      createdAt: h.created_at,
      heldOut: JSON.parse(h.metrics) as HeldOutMetrics,
      proposed: c.proposed ?? 0,
      accepted: c.accepted ?? 0,
      rejected: c.rejected ?? 0,
      written: c.written ?? 0,
      suspicious: c.suspicious ?? 0,
    };
  });
}

/**
 * The tag edits the accepted predictions make: for a single-label field the accepted value replaces the
 * file's; for a multi-label field accepted values are added to the file's own (as the file spells them).
 */
export function acceptedEdits(
  store: LibraryStore,
  o: { fields?: string[]; minConfidence?: number; trackIds?: number[] } = {},
): Array<{ trackId: number; changes: FacetChanges; values: Array<{ field: string; value: string }> }> {
  const w = where({ minConfidence: o.minConfidence, trackIds: o.trackIds }, 'p.');
  const rows = store.db
    .prepare(
      `SELECT p.track_id, p.field, p.value, h.multi_label FROM predictions p JOIN heads h ON h.id = p.head_id
       WHERE ${w.sql} AND p.status = 'accepted' ORDER BY p.track_id, p.field, p.confidence DESC`,
    )
    .all(...w.args) as Array<{ track_id: number; field: string; value: string; multi_label: number }>;
  const fields = o.fields?.map((f) => f.toLowerCase());
  const byTrack = new Map<number, { changes: FacetChanges; values: Array<{ field: string; value: string }> }>();
  for (const r of rows) {
    if (fields && !fields.includes(r.field)) continue;
    const entry = byTrack.get(r.track_id) ?? { changes: {}, values: [] };
    const own = store.tagsOf(r.track_id)[r.field] ?? [];
    if (!r.multi_label) {
      // One value: the most confident accepted one (rows come most confident first).
      if (entry.changes[r.field]) continue;
      entry.changes[r.field] = [r.value];
    } else {
      const current = entry.changes[r.field] ?? [...own];
      const keys = new Set(current.flatMap((v) => splitJoined(v).map(valueKey)));
      if (!keys.has(valueKey(r.value))) current.push(r.value);
      entry.changes[r.field] = current;
    }
    entry.values.push({ field: r.field, value: r.value });
    byTrack.set(r.track_id, entry);
  }
  return [...byTrack].map(([trackId, e]) => ({ trackId, ...e }));
}

/**
 * Why `tag --write` has nothing to write, in words, with what to run: no predictions yet; none accepted (and how
 * many wait for review); every accepted value below the confidence asked for; every accepted value written
 * already; or none for the tracks or fields named.
 */
export function nothingToWriteReason(store: LibraryStore, o: { fields?: string[]; minConfidence?: number; trackIds?: number[] } = {}): string {
  const fields = o.fields?.map((f) => f.toLowerCase());
  const scope = [fields ? ` for ${fields.join(', ')}` : '', o.trackIds ? ` on the ${o.trackIds.length === 1 ? 'track' : `${o.trackIds.length} tracks`} named` : ''].join('');
  const count = (status: string | null, extra = '', args: unknown[] = []) => {
    const parts = ['1 = 1'];
    const a: unknown[] = [];
    if (status) {
      parts.push('status = ?');
      a.push(status);
    }
    if (fields) {
      parts.push('field IN (SELECT value FROM json_each(?))');
      a.push(JSON.stringify(fields));
    }
    if (o.trackIds) {
      parts.push('track_id IN (SELECT value FROM json_each(?))');
      a.push(JSON.stringify(o.trackIds));
    }
    const row = store.db.prepare(`SELECT COUNT(*) AS n, MAX(confidence) AS top FROM predictions WHERE ${parts.join(' AND ')}${extra}`).get(...a, ...args) as { n: number; top: number | null };
    return row;
  };
  if ((store.db.prepare('SELECT COUNT(*) AS n FROM predictions').get() as { n: number }).n === 0) {
    return 'Nothing to write: there are no predictions yet. Run `earmark predict` (Predict in the app), accept proposals with `earmark review --accept` (the Review view), then write.';
  }
  const accepted = count('accepted');
  if (accepted.n === 0) {
    const pending = count('pending', ' AND proposed = 1');
    const written = count('written');
    const waiting = `${pending.n} proposal${pending.n === 1 ? ' waits' : 's wait'} for review: accept them with \`earmark review --accept\` (the Review view), then write.`;
    if (written.n > 0) return `Nothing to write: every accepted value${scope} is written already (${written.n}; \`earmark tag --undo last\` takes the latest batch back).${pending.n > 0 ? ` ${waiting}` : ''}`;
    if (pending.n > 0) return `Nothing to write: no prediction is accepted${scope}. ${waiting}`;
    return `Nothing to write: no prediction${scope} is proposed or accepted. Run \`earmark predict\` again after tagging more tracks, or name other fields.`;
  }
  if (o.minConfidence !== undefined) {
    const above = count('accepted', ' AND confidence >= ?', [o.minConfidence]);
    if (above.n === 0) return `Nothing to write: all ${accepted.n} accepted value${accepted.n === 1 ? ' is' : 's are'}${scope} below --min-confidence ${o.minConfidence} (the most confident is ${(accepted.top ?? 0).toFixed(2)}). Lower it, or leave it out.`;
  }
  return `Nothing to write: the accepted values${scope} are already what the files say.`;
}

/** After a successful write: the written values are now the file's own. */
export function markWritten(store: LibraryStore, trackId: number, values: Array<{ field: string; value: string }>): void {
  const up = store.db.prepare("UPDATE predictions SET status = 'written', in_file = 1, proposed = 0, decided_at = ? WHERE track_id = ? AND field = ? AND value = ?");
  for (const v of values) up.run(Date.now(), trackId, v.field, v.value);
}

/**
 * After a file changed (an undo, a write of other values): predictions marked written whose value the file no
 * longer carries are open again, pending the user's decision; `tag --write` would otherwise never offer them again.
 */
export function reopenUnwritten(store: LibraryStore, trackId: number): void {
  const rows = store.db.prepare("SELECT field, value FROM predictions WHERE track_id = ? AND status = 'written'").all(trackId) as Array<{ field: string; value: string }>;
  if (rows.length === 0) return;
  const tags = store.tagsOf(trackId);
  const up = store.db.prepare("UPDATE predictions SET status = 'pending', in_file = 0, proposed = 1, decided_at = NULL WHERE track_id = ? AND field = ? AND value = ?");
  for (const r of rows) {
    const now = (tags[r.field] ?? []).map(valueKey);
    if (!now.includes(valueKey(r.value))) up.run(trackId, r.field, r.value);
  }
}

/**
 * A single-valued field (one whose head is single-label) offers one value per track: where several heads (a
 * learned one, published models) propose different values for a track, the accepted one stays proposed, else the
 * most confident; the others are kept as predictions but not proposed.
 */
export function settleSingleProposals(store: LibraryStore, field: string): void {
  const single = store.db.prepare('SELECT 1 FROM heads WHERE field = ? AND multi_label = 0 LIMIT 1').get(field);
  if (!single) return;
  const rows = store.db
    .prepare("SELECT track_id, value, status, confidence FROM predictions WHERE field = ? AND proposed = 1 AND status IN ('pending', 'accepted') ORDER BY track_id, status = 'accepted' DESC, confidence DESC")
    .all(field) as Array<{ track_id: number; value: string; status: string; confidence: number }>;
  const off = store.db.prepare('UPDATE predictions SET proposed = 0 WHERE track_id = ? AND field = ? AND value = ?');
  let last = -1;
  for (const r of rows) {
    if (r.track_id === last) off.run(r.track_id, field, r.value);
    last = r.track_id;
  }
}

/** One page of a field's proposals for review, most confident first. */
export function proposalPage(store: LibraryStore, q: ProposalQuery): ProposalPage {
  const field = q.field.toLowerCase();
  const parts = ['p.field = ?', 'p.proposed = 1'];
  const args: unknown[] = [field];
  const status = q.status ?? 'open';
  if (status === 'open') parts.push("p.status IN ('pending', 'accepted')");
  else {
    parts.push('p.status = ?');
    args.push(status);
  }
  if (q.minConfidence !== undefined) {
    parts.push('p.confidence >= ?');
    args.push(q.minConfidence);
  }
  if (q.suspiciousOnly) parts.push('EXISTS (SELECT 1 FROM predictions s WHERE s.track_id = p.track_id AND s.field = p.field AND s.suspicious = 1)');
  const where = parts.join(' AND ');
  const total = (store.db.prepare(`SELECT count(*) AS n FROM predictions p WHERE ${where}`).get(...args) as { n: number }).n;
  const rows = store.db
    .prepare(
      `SELECT p.track_id, p.value, p.confidence, p.status, t.title, t.artist, t.path, h.kind, h.representation,
              EXISTS (SELECT 1 FROM predictions s WHERE s.track_id = p.track_id AND s.field = p.field AND s.suspicious = 1) AS suspicious
       FROM predictions p JOIN tracks t ON t.id = p.track_id JOIN heads h ON h.id = p.head_id
       WHERE ${where} ORDER BY p.confidence DESC, p.track_id LIMIT ? OFFSET ?`,
    )
    .all(...args, q.limit, q.offset) as Array<{
    track_id: number;
    value: string;
    confidence: number;
    status: PredictionRow['status'];
    title: string | null;
    artist: string | null;
    path: string;
    suspicious: number;
    kind: HeadUsed;
    representation: string;
  }>;
  return {
    total,
    offset: q.offset,
    rows: rows.map((r) => ({
      trackId: r.track_id,
      title: r.title,
      artist: r.artist,
      path: r.path,
      fileValues: store.tagsOf(r.track_id)[field] ?? [],
      value: r.value,
      confidence: r.confidence,
      status: r.status,
      suspicious: !!r.suspicious,
      proposedBy: { kind: r.kind, representation: r.representation },
    })),
  };
}
