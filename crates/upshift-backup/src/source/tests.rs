use std::path::PathBuf;

use upshift_core::manifest::{parse_manifest, Store, StoreKind};

use super::*;

const KINDS: [StoreKind; 7] = [
    StoreKind::Files,
    StoreKind::Sqlite,
    StoreKind::Postgres,
    StoreKind::Mysql,
    StoreKind::Mongodb,
    StoreKind::Volume,
    StoreKind::S3,
];

/// What a run must find on PATH before it backs up a store of `kind`
/// (exhaustive: a new kind must be added here).
fn expected_tools(kind: StoreKind) -> Tools {
    match kind {
        StoreKind::Postgres => &[&["pg_dump"], &["pg_restore"]],
        StoreKind::Mysql => &[&["mariadb-dump", "mysqldump"], &["mariadb", "mysql"]],
        StoreKind::Mongodb => &[&["mongodump"], &["mongorestore"]],
        StoreKind::Volume => &[&["docker"]],
        StoreKind::Files | StoreKind::Sqlite | StoreKind::S3 => &[],
    }
}

/// A store of `kind` with `path` and `paths` (and what other kinds need).
fn store(kind: StoreKind, path: Option<&str>, paths: &[&str]) -> Store {
    let quoted: Vec<String> = paths.iter().map(|p| format!("\"{p}\"")).collect();
    let src = format!(
        "[installation]\nname = \"i\"\nproduct = \"demo\"\nversion = \"1.0.0\"\n\n\
         [stores.x]\nkind = \"{}\"\npath = \"{}\"\npaths = [{}]\n\
         database = \"d\"\nhost = \"h\"\nvolume = \"v\"\nbucket = \"b\"\n",
        kind.as_str(),
        path.unwrap_or("placeholder"),
        quoted.join(", ")
    );
    let m = parse_manifest("upshift.toml", &src).unwrap_or_else(|d| panic!("{d:?}"));
    let mut store = m.stores["x"].clone();
    store.path = path.map(String::from);
    store
}

#[test]
fn every_kind_has_its_own_source_and_tools() {
    for kind in KINDS {
        let source = for_kind(kind);
        assert_eq!(source.kind(), kind);
        assert_eq!(required_tools(kind), expected_tools(kind), "{kind:?}");
    }
}

#[test]
fn only_files_and_sqlite_live_on_the_host() {
    for kind in KINDS {
        let want = match kind {
            StoreKind::Files => DataOnHost::Files,
            StoreKind::Sqlite => DataOnHost::Sqlite,
            _ => DataOnHost::Elsewhere,
        };
        assert_eq!(data_on_host(kind), want, "{kind:?}");
        let watched = watched_files(&store(kind, Some("data/x"), &[]));
        assert_eq!(watched.is_some(), want != DataOnHost::Elsewhere, "{kind:?}");
    }
}

#[test]
fn files_stores_watch_every_path_as_a_tree() {
    let watched = watched_files(&store(StoreKind::Files, Some("a"), &["b/c", "/d"])).unwrap();
    let got: Vec<_> = watched.iter().map(|w| (w.path.clone(), w.tree)).collect();
    assert_eq!(
        got,
        [
            (PathBuf::from("a"), true),
            (PathBuf::from("b/c"), true),
            (PathBuf::from("/d"), true)
        ]
    );
}

#[test]
fn sqlite_watches_the_database_its_wal_and_journal() {
    assert_eq!(sqlite::SIDE_FILES, ["-wal", "-shm", "-journal"]);
    assert_eq!(sqlite::WAL_FILES, ["-wal", "-shm"]);
    let watched = watched_files(&store(StoreKind::Sqlite, Some("data/notes.db"), &[])).unwrap();
    let got: Vec<_> = watched.iter().map(|w| (w.path.clone(), w.tree)).collect();
    assert_eq!(
        got,
        [
            (PathBuf::from("data/notes.db"), false),
            (PathBuf::from("data/notes.db-wal"), false),
            (PathBuf::from("data/notes.db-journal"), false)
        ]
    );
    // Without its path the store's changes cannot be watched.
    assert_eq!(watched_files(&store(StoreKind::Sqlite, None, &[])), None);
}

#[test]
fn recorded_metadata_names_its_kind() {
    let dump = || "/stores/x/dump".to_string();
    let metas = [
        StoreMeta::Files {
            paths: vec![],
            files: 0,
            bytes: 0,
            exclude: Vec::new(),
        },
        StoreMeta::Sqlite {
            paths: vec![],
            sha256: String::new(),
            tables: Default::default(),
        },
        StoreMeta::Postgres {
            dump: dump(),
            tables: Default::default(),
        },
        StoreMeta::Mysql {
            dump: dump(),
            tables: Default::default(),
            rows_in_dump: true,
        },
        StoreMeta::Mongodb { dump: dump() },
        StoreMeta::Volume {
            dump: dump(),
            volume: "v".into(),
        },
        StoreMeta::S3 {
            bucket: "b".into(),
            index: dump(),
            objects_dir: dump(),
            objects: 0,
            bytes: 0,
        },
    ];
    let kinds: Vec<_> = metas.iter().map(StoreMeta::kind).collect();
    assert_eq!(kinds, KINDS);
    for (meta, kind) in metas.iter().zip(KINDS) {
        // The metadata's `kind` tag is the manifest's word for the kind.
        let json = serde_json::to_value(meta).unwrap();
        assert_eq!(json["kind"], kind.as_str());
    }
}
