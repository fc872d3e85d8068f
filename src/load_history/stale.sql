SELECT l.load_id FROM source_load_history l
 WHERE l.load_status = 'STARTED'
   AND l.started_at < now() - make_interval(secs => $1)
   AND NOT EXISTS (
       SELECT 1 FROM pg_locks k
        WHERE k.locktype = 'advisory' AND k.granted
          AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND k.classid = $2::int::oid AND k.objid = ((l.load_id & 2147483647)::int)::oid
          AND k.objsubid = 2)
