//! Fleets: the rollout of linked installations and its journal.

mod journal;
mod rollout;

pub use journal::{FleetEvent, FleetJournal, FleetJournalError, FleetRun};
pub use rollout::{Applied, Members, Rollout, RolloutEnd};
