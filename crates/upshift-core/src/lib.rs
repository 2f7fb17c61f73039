//! upshift's pure model: the installation manifest, release catalogs,
//! versions, and the planner. Nothing here touches the disk, the network or
//! processes; the CLI and the runner do that and hand text in.

pub mod catalog;
pub mod deploy;
pub mod diag;
pub mod fleet;
pub mod graph;
pub mod manifest;
pub mod plan;
pub mod version;

pub use catalog::{Catalog, CatalogSet};
pub use diag::Diagnostic;
pub use manifest::{load, Loaded, Manifest};
pub use plan::{plan, Plan, PlanError};
