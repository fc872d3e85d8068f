//! Simulation requests and their hash.
