-- Which instruments' daily returns each simulation run read, so that a correction of those
-- returns can expire exactly the runs it makes stale. Deleting a run deletes its rows.

CREATE TABLE IF NOT EXISTS simulation_run_instrument (
    run_id        BIGINT NOT NULL,
    instrument_id BIGINT NOT NULL,
    PRIMARY KEY (run_id, instrument_id)
);

-- The expiry looks runs up by instrument; the primary key serves the run side.
CREATE INDEX IF NOT EXISTS idx_simulation_run_instrument_instrument
    ON simulation_run_instrument (instrument_id);

SELECT pg_temp.ensure_fk('simulation_run_instrument', 'run_id', 'simulation_run', 'run_id',
                         'CASCADE', 'simulation_run_instrument_run_id_fkey');
SELECT pg_temp.ensure_fk('simulation_run_instrument', 'instrument_id', 'instrument_master',
                         'instrument_id', 'NO ACTION',
                         'simulation_run_instrument_instrument_id_fkey');

-- Runs stored before this step have no rows. A scenario run read the allocations of its
-- scenario's versions in force during its window: recording every version that overlaps the
-- window may name an instrument too many (expiring a run needlessly), never one too few.
INSERT INTO simulation_run_instrument (run_id, instrument_id)
SELECT DISTINCT r.run_id, a.instrument_id
  FROM simulation_run r
  JOIN portfolio_model m ON m.scenario_id = r.scenario_id
  JOIN portfolio_allocation a ON a.portfolio_id = m.portfolio_id
 WHERE m.effective_date <= r.end_date
   AND (m.expiry_date IS NULL OR m.expiry_date >= r.start_date)
   AND NOT EXISTS (SELECT 1 FROM simulation_run_instrument i WHERE i.run_id = r.run_id)
ON CONFLICT DO NOTHING;

-- A run whose instruments cannot be told (no scenario, or no version over its window) could
-- never be expired by a correction, so it is expired now: the cache recomputes it on the next
-- request, recording its instruments. Only the cache's lifetime changes; no figure is touched.
UPDATE simulation_run r
   SET expires_at = now()
 WHERE r.run_status = 'COMPLETED'
   AND (r.expires_at IS NULL OR r.expires_at > now())
   AND NOT EXISTS (SELECT 1 FROM simulation_run_instrument i WHERE i.run_id = r.run_id);
