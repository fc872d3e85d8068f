DROP TABLE IF EXISTS source_load_history;
DROP TABLE IF EXISTS model_version_registry;
