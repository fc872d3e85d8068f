SELECT (SELECT format('%I.%I', n.nspname, c.relname)
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_inherits i ON i.inhrelid = c.oid
         WHERE n.nspname = $1 AND c.relname = $2 AND i.inhparent = to_regclass($3)
           AND pg_get_expr(c.relpartbound, c.oid) = $4) AS attached,
       (SELECT format('%I.%I', n.nspname, c.relname)
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname = $5 AND c.relkind = 'r' AND NOT c.relispartition
           AND obj_description(c.oid, 'pg_class') = $6) AS detached,
       format('%I.%I', $1, $2) AS attached_as,
       format('%I.%I', $1, $5) AS detached_as,
       format('%I', $2) AS partition_ident,
       format('%I', $5) AS detached_ident,
       quote_literal($6) AS marker_literal
