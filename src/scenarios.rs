//! Scenarios, portfolio versions and their allocations.
