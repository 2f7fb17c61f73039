//! What upshift records with each snapshot: its tags and, per store, what
//! verification needs. Stored as JSON in the snapshot's `description`
//! (restic ignores the field; rustic shows it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use upshift_core::manifest::StoreKind;

/// Why a snapshot was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    PreUpgrade,
    PostUpgrade,
    Manual,
    /// The data a manual rollback replaces, taken just before it.
    PreRollback,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::PreUpgrade => "pre-upgrade",
            Phase::PostUpgrade => "post-upgrade",
            Phase::Manual => "manual",
            Phase::PreRollback => "pre-rollback",
        }
    }
}

/// The tags every snapshot carries (also written as restic tags `key=value`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tags {
    pub installation: String,
    pub product: String,
    pub version: String,
    pub phase: Phase,
    pub run_id: String,
    pub config_fingerprint: String,
}

impl Tags {
    /// The restic tags: `upshift` plus `key=value` for each field.
    pub fn to_restic(&self) -> Vec<String> {
        vec![
            "upshift".to_string(),
            format!("installation={}", self.installation),
            format!("product={}", self.product),
            format!("version={}", self.version),
            format!("phase={}", self.phase.as_str()),
            format!("run={}", self.run_id),
            format!("config={}", self.config_fingerprint),
        ]
    }
}

/// One source path of a store and where it sits in the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathMap {
    /// The absolute path on the installation's host.
    pub original: String,
    /// The path inside the snapshot.
    pub snapshot: String,
    pub is_dir: bool,
}

/// Table name → exact row count.
pub type RowCounts = BTreeMap<String, u64>;

/// What one store recorded for verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StoreMeta {
    /// Files and directories: regular file count and total bytes (content
    /// checksums are the SHA-256 blob ids in the snapshot's trees).
    Files {
        paths: Vec<PathMap>,
        files: u64,
        bytes: u64,
        /// The store's `exclude` globs when it was taken: a restore leaves
        /// what they match alone.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        exclude: Vec<String>,
    },
    /// SQLite: the online copy's SHA-256 and its tables' row counts.
    Sqlite {
        paths: Vec<PathMap>,
        sha256: String,
        tables: RowCounts,
    },
    /// PostgreSQL: `pg_dump -Fc` at `dump`, and row counts taken in the snapshot it dumped.
    Postgres { dump: String, tables: RowCounts },
    /// MariaDB/MySQL: the SQL dump at `dump`. With `rows_in_dump`, the rows
    /// to expect are counted in the dump itself when it is verified, and
    /// `tables` is empty; snapshots of earlier versions recorded `tables`
    /// with a query of their own.
    Mysql {
        dump: String,
        tables: RowCounts,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        rows_in_dump: bool,
    },
    /// MongoDB: `mongodump --archive` at `dump`.
    Mongodb { dump: String },
    /// Docker named volume: a tar stream at `dump`.
    Volume { dump: String, volume: String },
    /// S3 bucket: one file per object under `objects_dir`, an index of keys,
    /// ETags and metadata at `index`, and the object count and total size.
    S3 {
        bucket: String,
        index: String,
        objects_dir: String,
        objects: u64,
        bytes: u64,
    },
}

impl StoreMeta {
    /// The kind of store this was recorded from.
    pub fn kind(&self) -> StoreKind {
        match self {
            StoreMeta::Files { .. } => StoreKind::Files,
            StoreMeta::Sqlite { .. } => StoreKind::Sqlite,
            StoreMeta::Postgres { .. } => StoreKind::Postgres,
            StoreMeta::Mysql { .. } => StoreKind::Mysql,
            StoreMeta::Mongodb { .. } => StoreKind::Mongodb,
            StoreMeta::Volume { .. } => StoreKind::Volume,
            StoreMeta::S3 { .. } => StoreKind::S3,
        }
    }
}

/// The JSON document stored in a snapshot's description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// Marks upshift's description format.
    pub upshift: u32,
    pub tags: Tags,
    pub stores: BTreeMap<String, StoreMeta>,
    /// Config file name → mapping.
    pub config: BTreeMap<String, PathMap>,
}

impl SnapshotMeta {
    pub const FORMAT: u32 = 1;

    pub(crate) fn parse(description: Option<&str>) -> Option<SnapshotMeta> {
        let meta: SnapshotMeta = serde_json::from_str(description?).ok()?;
        (meta.upshift == Self::FORMAT).then_some(meta)
    }
}
