/**
 * Numbered schema migrations. Each runs once, in order, inside one IMMEDIATE transaction, and is
 * recorded in `schema_migrations`; `PRAGMA user_version` mirrors the highest applied number so
 * that opening an up-to-date store costs one pragma read. Never edit a migration that has
 * shipped: add a new one.
 */
export interface Migration {
  version: number
  name: string
  sql: string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'registry core: projects, models, versions, files, tags, events, blobs',
    sql: `
      CREATE TABLE projects (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL,
        name_key    TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        created_at  TEXT NOT NULL
      );

      CREATE TABLE models (
        id           INTEGER PRIMARY KEY,
        project_id   INTEGER NOT NULL REFERENCES projects(id),
        name         TEXT NOT NULL,
        name_key     TEXT NOT NULL,
        description  TEXT NOT NULL DEFAULT '',
        owner        TEXT,
        task         TEXT,
        metadata     TEXT NOT NULL DEFAULT '{}',
        labels       TEXT NOT NULL DEFAULT '{}',
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        -- the highest version number ever given out: numbers are never reused, even after a delete
        last_number  INTEGER NOT NULL DEFAULT 0,
        UNIQUE (project_id, name_key)
      );
      CREATE INDEX models_by_created ON models(project_id, created_at);
      CREATE INDEX models_by_updated ON models(project_id, updated_at);
      CREATE INDEX models_by_description ON models(project_id, description COLLATE NOCASE);

      CREATE TABLE versions (
        id               INTEGER PRIMARY KEY,
        model_id         INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        number           INTEGER NOT NULL,
        comment          TEXT NOT NULL DEFAULT '',
        author           TEXT NOT NULL,
        created_at       TEXT NOT NULL,
        metadata         TEXT NOT NULL DEFAULT '{}',
        metrics          TEXT NOT NULL DEFAULT '{}',
        framework        TEXT,
        format           TEXT,
        source           TEXT NOT NULL DEFAULT '{}',
        size             INTEGER NOT NULL,
        file_count       INTEGER NOT NULL,
        attachment_count INTEGER NOT NULL,
        UNIQUE (model_id, number)
      );

      CREATE TABLE version_files (
        version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
        kind       TEXT NOT NULL CHECK (kind IN ('file', 'attachment')),
        path       TEXT NOT NULL,
        size       INTEGER NOT NULL,
        sha256     TEXT NOT NULL,
        mode       INTEGER NOT NULL,
        PRIMARY KEY (version_id, kind, path)
      ) WITHOUT ROWID;
      CREATE INDEX version_files_by_blob ON version_files(sha256);

      CREATE TABLE tags (
        model_id   INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        name_key   TEXT NOT NULL,
        name       TEXT NOT NULL,
        version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (model_id, name_key)
      ) WITHOUT ROWID;
      CREATE INDEX tags_by_version ON tags(version_id);

      CREATE TABLE events (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        time       TEXT NOT NULL,
        type       TEXT NOT NULL,
        project    TEXT NOT NULL,
        project_key TEXT NOT NULL,
        model      TEXT,
        model_key  TEXT,
        model_id   INTEGER,
        version    INTEGER,
        tag        TEXT,
        actor      TEXT NOT NULL,
        data       TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX events_by_model_id ON events(model_id, id);
      CREATE INDEX events_by_model_key ON events(project_key, model_key, id);
      CREATE INDEX events_by_type ON events(type, id);
      CREATE INDEX events_by_time ON events(time);

      -- every stored blob; a file under blobs/ without a row here is unreferenced by definition
      CREATE TABLE blobs (
        digest     TEXT PRIMARY KEY,
        size       INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        -- last time a writer relied on this blob (stored or found present): gc spares recent ones
        touched_at TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'idempotent pushes: versions.request_id',
    sql: `
      ALTER TABLE versions ADD COLUMN request_id TEXT;
      CREATE UNIQUE INDEX versions_by_request ON versions(model_id, request_id) WHERE request_id IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'experiment tracking: experiments, runs, metric series, datasets, checkpoints, lineage',
    sql: `
      CREATE TABLE experiments (
        id          INTEGER PRIMARY KEY,
        project_id  INTEGER NOT NULL REFERENCES projects(id),
        name        TEXT NOT NULL,
        name_key    TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        owner       TEXT,
        framework   TEXT,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        UNIQUE (project_id, name_key)
      );

      CREATE TABLE runs (
        id            INTEGER PRIMARY KEY,
        uid           TEXT NOT NULL UNIQUE,
        experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
        name          TEXT,
        name_key      TEXT,
        status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'killed')),
        params        TEXT NOT NULL DEFAULT '{}',
        tags          TEXT NOT NULL DEFAULT '{}',
        author        TEXT NOT NULL,
        source        TEXT NOT NULL DEFAULT '{}',
        created_at    TEXT NOT NULL,
        start_time    TEXT,
        end_time      TEXT
      );
      CREATE UNIQUE INDEX runs_by_name ON runs(experiment_id, name_key) WHERE name_key IS NOT NULL;
      CREATE INDEX runs_by_experiment ON runs(experiment_id, created_at);

      -- one row per point; the key makes a repeated (name, split, step) replace, never duplicate
      CREATE TABLE metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name   TEXT NOT NULL,
        split  TEXT NOT NULL DEFAULT '',
        step   INTEGER NOT NULL,
        value  REAL NOT NULL,
        time   TEXT NOT NULL,
        PRIMARY KEY (run_id, name, split, step)
      ) WITHOUT ROWID;

      -- each series' last point, kept per batch, so "the last value" is one lookup, not a scan
      CREATE TABLE metric_series (
        run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name       TEXT NOT NULL,
        split      TEXT NOT NULL DEFAULT '',
        last_step  INTEGER NOT NULL,
        last_value REAL NOT NULL,
        PRIMARY KEY (run_id, name, split)
      ) WITHOUT ROWID;

      CREATE TABLE datasets (
        run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        tag        TEXT NOT NULL,
        uri        TEXT NOT NULL,
        sha256     TEXT,
        size       INTEGER,
        metadata   TEXT NOT NULL DEFAULT '{}',
        updated_at TEXT NOT NULL,
        PRIMARY KEY (run_id, tag)
      ) WITHOUT ROWID;

      CREATE TABLE checkpoints (
        id         INTEGER PRIMARY KEY,
        uuid       TEXT NOT NULL UNIQUE,
        run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step       INTEGER,
        metrics    TEXT NOT NULL DEFAULT '{}',
        metadata   TEXT NOT NULL DEFAULT '{}',
        size       INTEGER NOT NULL,
        file_count INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        request_id TEXT
      );
      CREATE INDEX checkpoints_by_run ON checkpoints(run_id, created_at);
      CREATE UNIQUE INDEX checkpoints_by_request ON checkpoints(run_id, request_id) WHERE request_id IS NOT NULL;

      CREATE TABLE checkpoint_files (
        checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id) ON DELETE CASCADE,
        path          TEXT NOT NULL,
        size          INTEGER NOT NULL,
        sha256        TEXT NOT NULL,
        mode          INTEGER NOT NULL,
        PRIMARY KEY (checkpoint_id, path)
      ) WITHOUT ROWID;
      CREATE INDEX checkpoint_files_by_blob ON checkpoint_files(sha256);

      -- a version keeps a snapshot of where it came from, so deleting the run breaks nothing
      ALTER TABLE versions ADD COLUMN run_uid TEXT;
      ALTER TABLE versions ADD COLUMN lineage TEXT;
      CREATE INDEX versions_by_run ON versions(run_uid) WHERE run_uid IS NOT NULL;
    `,
  },
  {
    version: 4,
    name: 'model count per project, kept by triggers (listing models need not count them)',
    sql: `
      ALTER TABLE projects ADD COLUMN model_count INTEGER NOT NULL DEFAULT 0;
      UPDATE projects SET model_count = (SELECT COUNT(*) FROM models m WHERE m.project_id = projects.id);
      CREATE TRIGGER models_counted AFTER INSERT ON models BEGIN
        UPDATE projects SET model_count = model_count + 1 WHERE id = NEW.project_id;
      END;
      CREATE TRIGGER models_uncounted AFTER DELETE ON models BEGIN
        UPDATE projects SET model_count = model_count - 1 WHERE id = OLD.project_id;
      END;
    `,
  },
  {
    version: 5,
    name: 'blob visibility per project (blob_grants); run names need not be unique in an experiment',
    sql: `
      -- A project sees a blob once one of its versions or checkpoints references it, or once a
      -- client limited to it uploaded the bytes (the server hashed them). Content-addressed
      -- storage stays shared; what a project-limited token can name is its project's view.
      CREATE TABLE blob_grants (
        digest      TEXT NOT NULL REFERENCES blobs(digest) ON DELETE CASCADE,
        project_key TEXT NOT NULL,
        PRIMARY KEY (digest, project_key)
      ) WITHOUT ROWID;
      INSERT OR IGNORE INTO blob_grants (digest, project_key)
        SELECT f.sha256, p.name_key FROM version_files f
          JOIN versions v ON v.id = f.version_id JOIN models m ON m.id = v.model_id JOIN projects p ON p.id = m.project_id
          JOIN blobs b ON b.digest = f.sha256;
      INSERT OR IGNORE INTO blob_grants (digest, project_key)
        SELECT f.sha256, p.name_key FROM checkpoint_files f
          JOIN checkpoints c ON c.id = f.checkpoint_id JOIN runs r ON r.id = c.run_id
          JOIN experiments e ON e.id = r.experiment_id JOIN projects p ON p.id = e.project_id
          JOIN blobs b ON b.digest = f.sha256;

      -- Re-running a training script makes a new run with the same name, as in MLflow or W&B.
      DROP INDEX runs_by_name;
      CREATE INDEX runs_by_name ON runs(experiment_id, name_key, id) WHERE name_key IS NOT NULL;
    `,
  },
  {
    version: 6,
    name: "the log's events indexed apart from the others (a model's metadata changes do not slow its log)",
    // The condition is the engine's LOG_EVENTS, word for word: SQLite uses a partial index only
    // for a query with the very same terms.
    sql: `
      CREATE INDEX events_log_by_model ON events(model_id, id) WHERE type IN ('version.created', 'version.deleted', 'tag.set', 'tag.removed');
      CREATE INDEX events_log_by_project ON events(project_key, id) WHERE type IN ('version.created', 'version.deleted', 'tag.set', 'tag.removed');
    `,
  },
]

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version
