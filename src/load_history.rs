//! Load history: the life cycle of a data load in `source_load_history`.
