//! Sources: one module per store kind, each turning a manifest store into
//! [`Part`]s (local paths or a tool's output stream) plus the
//! [`StoreMeta`](crate::meta::StoreMeta) that verification needs. [`Combined`]
//! feeds every part of every store into one snapshot.

pub(crate) mod files;
pub(crate) mod mongodb;
pub(crate) mod mysql;
mod parts;
pub(crate) mod postgres;
pub(crate) mod s3;
pub(crate) mod sqlite;
pub(crate) mod volume;

pub(crate) use parts::{Combined, Part};
