DROP TABLE IF EXISTS instrument_master;
