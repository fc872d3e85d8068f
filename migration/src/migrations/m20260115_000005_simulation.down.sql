DROP TABLE IF EXISTS simulation_summary;
DROP TABLE IF EXISTS simulation_path;
DROP TABLE IF EXISTS simulation_run;
