//! What the areas of the `api` test binary share: a database loaded with a small real data set,
//! the API served on it inside the test process, and an HTTP client for it.

mod data;
mod server;

pub use data::{FIRST_DAY, LAST_DAY, loaded, stored_hashes};
pub use server::Api;
