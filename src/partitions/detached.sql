SELECT p.relname AS parent,
       n.nspname AS schema,
       left(c.relname, -9) AS partition,
       c.relname AS detached_table,
       format('%I.%I', n.nspname, p.relname) AS parent_qualified,
       to_date(substr(c.relname, length(p.relname) + 2, 6), 'YYYYMM') AS month,
       CASE WHEN $2 THEN (xpath('/row/n/text()',
                                query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname),
                                             false, true, '')))[1]::text::bigint
            WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS rows
  FROM unnest($1::text[]) WITH ORDINALITY AS t (table_name, ord)
  JOIN pg_class p ON p.oid = to_regclass(t.table_name)
  JOIN pg_class c ON c.relnamespace = p.relnamespace AND c.relkind = 'r' AND NOT c.relispartition
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relname ~ ('^' || p.relname || '_[1-9][0-9]{3}(0[1-9]|1[0-2])_detached$')
   AND obj_description(c.oid, 'pg_class')
       = format('foresto retention: partition %s of %s, detached to be archived and dropped',
                left(c.relname, -9), p.relname)
   AND ($3::text IS NULL OR c.relname = $3 OR left(c.relname, -9) = $3)
 ORDER BY t.ord, c.relname
