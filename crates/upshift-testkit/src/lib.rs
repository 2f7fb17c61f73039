//! Real components for tests, started on loopback ports in temporary
//! directories and stopped on drop: [`Postgres`], [`MariaDb`], [`Moto`],
//! [`Sshd`] (another machine, in its own namespaces); and [`Poller`], a
//! user polling a public address through an upgrade.
//! A missing component panics with a message naming it and the package
//! (`scripts/install-test-deps.sh` installs them).

mod mariadb;
mod moto;
mod poll;
mod postgres;
mod sshd;
mod util;

pub use mariadb::MariaDb;
pub use moto::Moto;
pub use poll::{Poller, Sample, Seen, Tally};
pub use postgres::Postgres;
pub use sshd::Sshd;
pub use util::{free_port, require, wait_until};
