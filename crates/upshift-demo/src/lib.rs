//! The demo product that upshift upgrades: two small HTTP services, `auth`
//! (issues and checks tokens) and `notes` (a notes API backed by SQLite or
//! PostgreSQL that checks every request's token with `auth`), in five
//! releases whose changes
//! mirror real servers: 2.0.0 moves config keys and wants the shared secret
//! as a file; 3.0.0 reshapes the notes schema irreversibly.
//!
//! One binary, `upshift-demo`, behaves as the release it is installed as
//! (see [`layout`]). Every release refuses a config it does not understand
//! and a database schema newer than it knows, so skipping a step breaks it.

pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod layout;
pub mod notes;
pub mod release;
pub mod schema;

pub use error::{Error, Result};
pub use release::Release;
