DROP TABLE IF EXISTS simulation_run_instrument;
