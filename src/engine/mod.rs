//! Simulation engine (pure).
