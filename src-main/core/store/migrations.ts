/**
 * Schema migrations, applied in order inside one transaction each; `PRAGMA user_version` records how far a
 * database has come. Never edit a released migration: add the next one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: library, tags, vectors, errors, settings.
  `
  CREATE TABLE roots (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    added_at INTEGER NOT NULL
  );
  CREATE TABLE tracks (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    root_id INTEGER REFERENCES roots(id) ON DELETE SET NULL,
    size INTEGER NOT NULL,
    mtime_ms INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    container TEXT,
    codec TEXT,
    duration REAL,
    sample_rate INTEGER,
    channels INTEGER,
    bitrate REAL,
    lossless INTEGER,
    artist TEXT,
    album_artist TEXT,
    album TEXT,
    title TEXT,
    track_no INTEGER,
    year INTEGER,
    added_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX tracks_hash ON tracks(content_hash);
  CREATE INDEX tracks_artist ON tracks(artist);
  CREATE TABLE tags (
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    position INTEGER NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (track_id, field, position)
  ) WITHOUT ROWID;
  CREATE INDEX tags_field_value ON tags(field, value);
  CREATE TABLE representations (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    dim INTEGER NOT NULL,
    version TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE vectors (
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    representation TEXT NOT NULL REFERENCES representations(name) ON DELETE CASCADE,
    content_hash TEXT NOT NULL,
    data BLOB NOT NULL,
    excerpts TEXT NOT NULL,
    computed_at INTEGER NOT NULL,
    PRIMARY KEY (track_id, representation)
  ) WITHOUT ROWID;
  CREATE INDEX vectors_rep ON vectors(representation);
  -- Any change to a representation's vectors moves its generation on, so an index built from an older
  -- generation is known to be stale, whatever happened in between (crash, kill, another process).
  CREATE TRIGGER vectors_ins AFTER INSERT ON vectors BEGIN
    UPDATE representations SET generation = generation + 1 WHERE name = NEW.representation;
  END;
  CREATE TRIGGER vectors_upd AFTER UPDATE ON vectors BEGIN
    UPDATE representations SET generation = generation + 1 WHERE name = NEW.representation;
  END;
  CREATE TRIGGER vectors_del AFTER DELETE ON vectors BEGIN
    UPDATE representations SET generation = generation + 1 WHERE name = OLD.representation;
  END;
  CREATE TABLE errors (
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    stage TEXT NOT NULL CHECK (stage IN ('tags', 'decode', 'analyze')),
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    detail TEXT,
    content_hash TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (track_id, stage)
  );
  CREATE TABLE scan_problems (
    path TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    at INTEGER NOT NULL
  );
  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 2: a folded search text per track (title, artists, album, path, tag values), filled by the store; an index
  // for sorting by title.
  `
  ALTER TABLE tracks ADD COLUMN search TEXT;
  CREATE INDEX tracks_title_nocase ON tracks(title COLLATE NOCASE);
  `,
  // 3: the user's alias table for facet values ("hiphop" → "Hip-Hop"), per field; keys are folded forms.
  `
  CREATE TABLE aliases (
    field TEXT NOT NULL,
    alias_key TEXT NOT NULL,
    alias TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (field, alias_key)
  );
  `,
  // 4: tag heads (what made a prediction) and per-track predictions with their review state.
  `
  CREATE TABLE heads (
    id TEXT PRIMARY KEY,
    field TEXT NOT NULL,
    representation TEXT NOT NULL,
    kind TEXT NOT NULL,
    multi_label INTEGER NOT NULL,
    min_support INTEGER NOT NULL,
    vocabulary TEXT NOT NULL,
    thresholds TEXT NOT NULL,
    metrics TEXT NOT NULL,
    trained_on INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE predictions (
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    confidence REAL NOT NULL,
    head_id TEXT NOT NULL REFERENCES heads(id) ON DELETE CASCADE,
    in_file INTEGER NOT NULL,
    proposed INTEGER NOT NULL,
    suspicious INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected', 'written')),
    decided_at INTEGER,
    PRIMARY KEY (track_id, field, value)
  );
  CREATE INDEX predictions_review ON predictions(field, proposed, status, confidence);
  CREATE INDEX predictions_suspicious ON predictions(field, suspicious);
  `,
  // 5: a published model's outputs per track (its classes' activations averaged over the track's patches), kept so
  // the mapping to tags can be edited and calibrated again without running the model.
  `
  CREATE TABLE model_outputs (
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    model_version TEXT NOT NULL,
    patches INTEGER NOT NULL,
    outputs BLOB NOT NULL,
    PRIMARY KEY (track_id, model)
  );
  `,
];
