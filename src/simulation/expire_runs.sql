UPDATE simulation_run r
   SET expires_at = now()
 WHERE r.run_status = $4
   AND (r.expires_at IS NULL OR r.expires_at > now())
   AND r.run_id IN (
       SELECT i.run_id
         FROM unnest($1::bigint[], $2::date[], $3::date[])
              AS c (instrument_id, first_date, last_date)
         JOIN simulation_run_instrument i ON i.instrument_id = c.instrument_id
         JOIN simulation_run s ON s.run_id = i.run_id
        WHERE c.first_date <= s.end_date AND c.last_date >= s.start_date)
