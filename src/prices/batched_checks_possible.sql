SELECT (SELECT coalesce(array_agg(a.attname || '>' || c.confrelid::regclass::text
                                  ORDER BY a.attname), '{}')
          FROM pg_constraint c
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
         WHERE c.conrelid = 'daily_price'::regclass AND c.contype = 'f')
       = ARRAY['instrument_id>instrument_master', 'load_id>source_load_history']
   AND NOT EXISTS (
       SELECT 1 FROM pg_trigger t
        WHERE NOT t.tgisinternal
          AND (t.tgrelid = 'daily_price'::regclass
               OR t.tgrelid IN (SELECT inhrelid FROM pg_inherits
                                 WHERE inhparent = 'daily_price'::regclass)))
