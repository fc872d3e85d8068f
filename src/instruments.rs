//! Instrument master: upsert, CSV import, look-up, and the seed universe.
