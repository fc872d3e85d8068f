SELECT p.relname AS parent,
       n.nspname AS schema,
       c.relname AS name,
       format('%I.%I', n.nspname, c.relname) AS qualified,
       format('%I.%I', pn.nspname, p.relname) AS parent_qualified,
       pt.partdefid = c.oid AS is_default,
       pg_get_expr(c.relpartbound, c.oid) AS bound,
       CASE WHEN c.relnamespace = p.relnamespace
             AND pg_get_expr(c.relpartbound, c.oid)
                 = format('FOR VALUES FROM (%L) TO (%L)', m.month, (m.month + interval '1 month')::date)
            THEN m.month END AS month,
       CASE WHEN $2 THEN (xpath('/row/n/text()',
                                query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname),
                                             false, true, '')))[1]::text::bigint
            WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS rows,
       pg_total_relation_size(c.oid) AS total_bytes
  FROM unnest($1::text[]) WITH ORDINALITY AS t (table_name, ord)
  JOIN pg_class p ON p.oid = to_regclass(t.table_name)
  JOIN pg_namespace pn ON pn.oid = p.relnamespace
  JOIN pg_partitioned_table pt ON pt.partrelid = p.oid
  JOIN pg_inherits i ON i.inhparent = p.oid
  JOIN pg_class c ON c.oid = i.inhrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN LATERAL (
        SELECT CASE WHEN c.relname ~ ('^' || p.relname || '_[1-9][0-9]{3}(0[1-9]|1[0-2])$')
                    THEN to_date(right(c.relname, 6), 'YYYYMM') END AS month) m
 WHERE $3::text IS NULL OR c.relname = $3
 ORDER BY t.ord, pt.partdefid = c.oid, c.relname
