//! Daily returns computed from prices, in the database.
