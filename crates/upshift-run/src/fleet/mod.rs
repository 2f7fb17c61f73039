//! Fleets: the rollout of linked installations and its journal.

mod journal;
mod postgres;
mod rollout;
mod sqlite;

pub use journal::{Claim, FleetEvent, FleetJournal, FleetJournalError, FleetRun, FleetStore};
pub use postgres::PostgresFleet;
pub use rollout::{Applied, Members, Rollout, RolloutEnd};
pub use sqlite::SqliteFleet;
