-- Removes the seed rows that nothing refers to; a scenario that already has portfolios or runs
-- stays (it goes with its table when the scenarios migration is rolled back).
DELETE FROM scenario_definition s
 WHERE s.scenario_id IN ('MIN_VOL', 'DEFENSIVE', 'GROWTH')
   AND NOT EXISTS (SELECT 1 FROM portfolio_model m WHERE m.scenario_id = s.scenario_id)
   AND NOT EXISTS (SELECT 1 FROM simulation_run r WHERE r.scenario_id = s.scenario_id);
DELETE FROM model_version_registry WHERE version_id = '1.0.0';
