-- workorder install script, part 89: Open311 GeoReport v2 (issue 6).
--
-- SQL functions that return the JSON of GeoReport v2, so that a thin HTTP layer
-- (GET /services.json, GET /services/{code}.json, GET /requests.json,
-- GET /requests/{id}.json, POST /requests.json) can put an existing Open311 client
-- in front of the center.  They take the request's parameters as text, as a query
-- string carries them, and check them: bad input raises a project SQLSTATE
-- (WO871..WO875), which open311_error() turns into GeoReport's error shape
-- [{"code": <HTTP status>, "description": "..."}] for the HTTP layer to send.
--
--   services       every active category of the catalogue: service_code = the
--                  category code, group = the name of its family (root); metadata
--                  is false (categories define no extra attributes) and type is
--                  realtime
--   requests       service_request_id is the ticket (the number a citizen reads out);
--                  status is open (new, dispatched, accepted, suspended) or closed
--                  (resolved, closed, cancelled), a merged report shows its master's;
--                  status_notes says what happened in words; agency_responsible is
--                  the main unit's name; expected_datetime the resolve deadline (SLA)
--   POST           maps onto submit() on the channel of the setting open311_channel
--                  (default 'open311', kind open311: the operator creates it)
--
-- Requests are public.  Their output never carries the reporter's name, phone,
-- e-mail or device, nor the order's attributes, and mobile-phone and ID-card numbers
-- written into a description are masked.  Times are W3C (ISO 8601) in Beijing time.
-- A jurisdiction_id is accepted everywhere; when the setting open311_jurisdiction
-- is set, another value is refused (WO875).

-- open311_time formats an instant as GeoReport does: W3C, here in Beijing time.
CREATE FUNCTION workorder.open311_time(t timestamptz)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN pg_catalog.to_char(t AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS') OPERATOR(pg_catalog.||) '+08:00';
END
$$;

-- open311_public_text masks, in a public text, what looks like:
--   a resident ID number (17 digits and a digit or X, maybe grouped 6-8-4,
--     6-4-4-4 or 4-4-4-4-2 with separators between the groups; or an old one of 15
--     digits, area, YYMMDD and three): all of it;
--   a mobile number (11 digits from 1[3-9], in any grouping: 138-1234-5678,
--     138 1234 5678, 13812 345678, 139.1234.5678, 138 - 1234 - 5678, (138)12345678,
--     maybe after +86, 0086 or 86, or the trunk 0 of a call from a landline,
--     013812345678): 138****5678;
--   a landline with its area code (0757-86281234, (020)87654321, 075786281234,
--     0757 8628 1234, and from abroad +86 757 8628 1234, 0086-757-86281234): the
--     area code and the last four digits, 0757-****1234;
--   a local number of 7 or 8 digits right after a word that announces one (电话,
--     座机, 固话, 手机, 联系, 回电, 致电, 拨打, tel or tel., maybe then 方式, 号码 or
--     号, then 是 or 为): its last four digits;
--   an e-mail address, also with a local part in Chinese (张三@qq.com): its
--     domain, ***@example.com.
-- A separator is up to three of: hyphen (also U+2010..U+2012, U+2212), en or em
-- dash, dot (also the ideographic full stop), a blank (space, tab, ideographic
-- space, no-break space, and the invisible characters pasted text carries between
-- digits: zero-width space, non-joiner and joiner, word joiner, byte order mark),
-- slash, comma, enumeration comma, underscore, tilde, asterisk, middle dot; blanks
-- may also stand between a word that announces a number and the number.  Full-width digits, plus, hyphen, dot, X and @ (what a Chinese input
-- method types) are first made ASCII, so that １３８１２３４５６７８ is masked as
-- 13812345678 is and zhangsan＠qq．com as an e-mail address; the rest of the text
-- stays as written.
-- Other runs of digits (tickets, dates, amounts, house numbers) stay as written:
-- without an area code or such a word, 8 digits are as likely a date as a phone.
CREATE FUNCTION workorder.open311_public_text(value text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    -- Blanks: space, ideographic space and, given by their code points since they
    -- cannot be seen, tab, no-break space (U+00A0, U+202F), zero-width space,
    -- non-joiner and joiner (U+200B..U+200D), word joiner (U+2060) and byte order
    -- mark (U+FEFF), which text pasted from web pages and chat apps carries.
    blanks constant text := ' 　' OPERATOR(pg_catalog.||) pg_catalog.chr(9) OPERATOR(pg_catalog.||) pg_catalog.chr(160)
                            OPERATOR(pg_catalog.||) pg_catalog.chr(8239) OPERATOR(pg_catalog.||) pg_catalog.chr(8203)
                            OPERATOR(pg_catalog.||) pg_catalog.chr(8204) OPERATOR(pg_catalog.||) pg_catalog.chr(8205)
                            OPERATOR(pg_catalog.||) pg_catalog.chr(8288) OPERATOR(pg_catalog.||) pg_catalog.chr(65279);
    -- Between a number's groups: hyphens and dashes of every kind, dots (also the
    -- ideographic full stop), blanks, slashes, commas (also full-width and the
    -- enumeration comma), underscores, tildes, asterisks and middle dots.
    sep constant text := '[-‐‑‒−–—.。/／,，、_~～*＊·' OPERATOR(pg_catalog.||) blanks OPERATOR(pg_catalog.||) ']{0,3}';
BEGIN
    value := pg_catalog.translate(value, '０１２３４５６７８９＋－．Ｘｘ＠', '0123456789+-.Xx@');
    -- An ID number: area (six digits), birth year 19xx or 20xx, month, day, three
    -- digits and a check digit or X, in the groupings people write it in, 6-8-4,
    -- 6-4-4-4 and 4-4-4-4-2, with separators between the groups.  (Separators
    -- between any digits masked tickets followed by a number, pasted coordinates and
    -- lists of house numbers.)
    value := pg_catalog.regexp_replace(value,
        '(?<![0-9])(?:[1-9][0-9]{5}' OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '(19|20)[0-9]{6}'
        OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '[0-9]{3}'
        OPERATOR(pg_catalog.||) '|[1-9][0-9]{5}' OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '(19|20)[0-9]{2}'
        OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '[0-9]{4}' OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '[0-9]{3}'
        OPERATOR(pg_catalog.||) '|[1-9][0-9]{3}' OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '[0-9]{2}(19|20)'
        OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '[0-9]{4}' OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '[0-9]{4}'
        OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '[0-9])[0-9Xx](?![0-9])',
        '******************', 'g');
    value := pg_catalog.regexp_replace(value,
        '(?<![0-9])[1-9][0-9]{7}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}(?![0-9])',
        '***************', 'g');
    value := pg_catalog.regexp_replace(value,
        '(?<![0-9])(?:(?:\+|00)?86' OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '|0)?[(（]?(1[3-9][0-9])[)）]?(?:'
        OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '[0-9]){4}' OPERATOR(pg_catalog.||) sep
        OPERATOR(pg_catalog.||) '([0-9](?:' OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '[0-9]){3})(?![0-9])',
        '\1****\2', 'g');
    value := pg_catalog.regexp_replace(value,
        '(?<![0-9])([(（]?0[1-9][0-9]{1,2}[)）]?' OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) ')[2-9][0-9]{2,3}'
        OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '([0-9]{4})(?![0-9])', '\1****\2', 'g');
    -- Dialled from abroad, a landline drops its area code's trunk 0: +86 757 ...
    value := pg_catalog.regexp_replace(value,
        '(?<![0-9])((?:\+|00)86' OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '[(（]?[1-9][0-9]{1,2}[)）]?'
        OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) ')[2-9][0-9]{2,3}'
        OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '([0-9]{4})(?![0-9])', '\1****\2', 'g');
    value := pg_catalog.regexp_replace(value,
        '(?:[A-Za-z0-9._%+-]+|[^\x01-\x7F，。、；：！？（）《》【】“”‘’　]{1,6})@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})',
        '***@\1', 'g');
    RETURN pg_catalog.regexp_replace(value,
        '(电话|座机|固话|手机|联系|回电|致电|拨打|[TtＴｔ][EeＥｅ][LlＬｌ]\.?)((?:方式|号码|号)?(?:是|为)?[:：]?['
        OPERATOR(pg_catalog.||) blanks OPERATOR(pg_catalog.||) ']*)[2-9][0-9]{2,3}' OPERATOR(pg_catalog.||) sep OPERATOR(pg_catalog.||) '([0-9]{4})(?![0-9])', '\1\2****\3', 'g');
END
$$;

-- open311_jurisdiction checks a jurisdiction_id against the setting
-- open311_jurisdiction (WO875).  NULL or blank is always accepted, as every other
-- blank parameter is absent; a jurisdiction is a domain name, compared in any case.
CREATE FUNCTION workorder.open311_jurisdiction(jurisdiction_id text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    ours text := workorder.setting('open311_jurisdiction', NULL);
BEGIN
    IF NULLIF(workorder.trim_blanks(jurisdiction_id), '') IS NOT NULL AND ours IS NOT NULL
       AND pg_catalog.lower(workorder.trim_blanks(jurisdiction_id)) OPERATOR(pg_catalog.<>) pg_catalog.lower(ours) THEN
        PERFORM workorder.raise_error('WO875', 'unknown jurisdiction',
            pg_catalog.format('jurisdiction_id is %s.', pg_catalog.quote_literal(pg_catalog.left(jurisdiction_id, 60))),
            pg_catalog.format('This endpoint serves jurisdiction %s; omit jurisdiction_id or pass that.', ours));
    END IF;
END
$$;

-- open311_service_category returns the active category of a service_code, or
-- raises WO871.
CREATE FUNCTION workorder.open311_service_category(service_code text)
RETURNS workorder.category_effective
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    e workorder.category_effective;
BEGIN
    SELECT * INTO e FROM workorder.category_effective x
     WHERE x.code OPERATOR(pg_catalog.=) service_code AND x.active;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO871', 'unknown service_code',
            pg_catalog.format('service_code is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(service_code, 60)), 'NULL')),
            'GET services lists the service codes.');
    END IF;
    RETURN e;
END
$$;

-- open311_services returns the services list (GET services).
CREATE FUNCTION workorder.open311_services(jurisdiction_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SECURITY DEFINER
AS $$
DECLARE
    result jsonb;
BEGIN
    PERFORM workorder.open311_jurisdiction(jurisdiction_id);
    SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'service_code', e.code,
               'service_name', e.name,
               'description', c.description,
               'metadata', false,
               'type', 'realtime',
               'keywords', '',
               'group', f.name) ORDER BY e.path), '[]')
      INTO result
      FROM workorder.category_effective e
      JOIN workorder.categories c ON c.code OPERATOR(pg_catalog.=) e.code
      JOIN workorder.categories f ON f.code OPERATOR(pg_catalog.=) e.family
     WHERE e.active;
    RETURN result;
END
$$;
COMMENT ON FUNCTION workorder.open311_services(text) IS 'GeoReport v2 GET services: the active categories of the catalogue.';

-- open311_service_definition returns a service definition (GET services/{code}).
CREATE FUNCTION workorder.open311_service_definition(service_code text, jurisdiction_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SECURITY DEFINER
AS $$
DECLARE
    e workorder.category_effective;
BEGIN
    PERFORM workorder.open311_jurisdiction(jurisdiction_id);
    e := workorder.open311_service_category(service_code);
    RETURN pg_catalog.jsonb_build_object('service_code', e.code, 'attributes', '[]'::jsonb);
END
$$;
COMMENT ON FUNCTION workorder.open311_service_definition(text, text) IS
    'GeoReport v2 GET services/{service_code}: the definition (categories define no extra attributes).';

-- open311_request_json is the public GeoReport shape of one order.
CREATE FUNCTION workorder.open311_request_json(o workorder.orders)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    m workorder.orders;
    shown workorder.orders;
    unit_name text;
    notes text;
    -- A media URL is published only as an Open311 client gave it, for publication:
    -- another channel's connector may keep under media_url what is no one else's
    -- (a call's recording, its link naming the caller).
    media text := CASE WHEN o.channel_code OPERATOR(pg_catalog.=) workorder.setting('open311_channel', 'open311')
                       THEN o.attributes OPERATOR(pg_catalog.->>) 'media_url' END;
BEGIN
    shown := o;
    IF o.master_id IS NOT NULL THEN
        SELECT * INTO m FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) o.master_id;
        shown := m;
    END IF;
    SELECT u.name INTO unit_name FROM workorder.units u WHERE u.code OPERATOR(pg_catalog.=) shown.main_unit;
    -- (The status as text: an enum's = is not pg_catalog's by exact types, and
    -- CASE x WHEN compares with an unqualified =; see part 99.)
    notes := CASE shown.status::text
        WHEN 'new' THEN 'Received; waiting to be dispatched.'
        WHEN 'dispatched' THEN pg_catalog.format('Dispatched to %s.', unit_name)
        WHEN 'accepted' THEN pg_catalog.format('Being handled by %s.', unit_name)
        WHEN 'suspended' THEN pg_catalog.format('Handling by %s is suspended for now.', unit_name)
        WHEN 'resolved' THEN pg_catalog.format('Resolved by %s: %s', unit_name, workorder.open311_public_text(shown.result))
        WHEN 'closed' THEN pg_catalog.format('Closed: %s', workorder.open311_public_text(COALESCE(shown.result, 'done.')))
        WHEN 'cancelled' THEN 'Cancelled.'
        ELSE shown.status::text END;
    IF o.master_id IS NOT NULL THEN
        notes := pg_catalog.format('Merged into request %s, which reports the same event. %s', m.ticket, notes);
    END IF;
    IF media OPERATOR(pg_catalog.!~) '^https?://[^[:space:][:cntrl:]]+$' THEN
        media := NULL;
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'service_request_id', o.ticket::text,
        'status', CASE WHEN shown.status OPERATOR(pg_catalog.=) ANY ('{resolved,closed,cancelled}'::workorder.order_status[])
                       THEN 'closed' ELSE 'open' END,
        'status_notes', notes,
        'service_name', (SELECT c.name FROM workorder.categories c WHERE c.code OPERATOR(pg_catalog.=) o.category_code),
        'service_code', o.category_code,
        'description', workorder.open311_public_text(o.description),
        'agency_responsible', unit_name,
        'service_notice', NULL,
        'requested_datetime', workorder.open311_time(o.received_at),
        'updated_datetime', workorder.open311_time(GREATEST(o.updated_at, shown.updated_at)),
        'expected_datetime', workorder.open311_time(shown.resolve_due_at),
        -- Masked as the description is: citizens put their phone in the address too.
        'address', workorder.open311_public_text(o.address),
        'address_id', NULL,
        'zipcode', NULL,
        'lat', ST_Y(o.location),
        'long', ST_X(o.location),
        'media_url', media);
END
$$;

-- open311_requests returns requests (GET requests).  service_request_id is a comma
-- separated list of tickets and overrides every other filter.  Otherwise:
-- service_code (a category: its whole subtree), status ('open', 'closed' or both,
-- comma separated), start_date and end_date (W3C: a date, or a date and time with
-- an offset or without, Beijing time) bound requested_datetime; an end_date that is
-- a date alone takes in that whole day (it was that day's midnight, and the day's
-- requests were left out); what PostgreSQL reads besides W3C ('yesterday', 'epoch',
-- a Julian day) is WO873.  The range is at most 90 days and defaults to the 90 days
-- up to now (or from start_date, or up to end_date).  At most max_results (1..1000)
-- requests, newest first.
CREATE FUNCTION workorder.open311_requests(service_request_id text DEFAULT NULL, service_code text DEFAULT NULL,
                                           start_date text DEFAULT NULL, end_date text DEFAULT NULL,
                                           status text DEFAULT NULL, max_results integer DEFAULT 100,
                                           jurisdiction_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET TimeZone = 'Asia/Shanghai'
SET DateStyle = 'ISO, YMD'
AS $$
DECLARE
    tickets workorder.ticket[];
    item text;
    statuses text[];
    want_open boolean := true;
    want_closed boolean := true;
    t0 timestamptz;
    t1 timestamptz;
    category workorder.category_effective;
    result jsonb;
BEGIN
    PERFORM workorder.open311_jurisdiction(jurisdiction_id);
    IF max_results IS NULL OR max_results OPERATOR(pg_catalog.<) 1 OR max_results OPERATOR(pg_catalog.>) 1000 THEN
        PERFORM workorder.raise_error('WO873', 'invalid max_results for requests',
            pg_catalog.format('max_results is %s.', COALESCE(max_results::text, 'NULL')),
            'Ask for 1 to 1000 requests; narrow the date range to page through more.');
    END IF;

    IF NULLIF(pg_catalog.btrim(service_request_id), '') IS NOT NULL THEN
        FOREACH item IN ARRAY pg_catalog.string_to_array(service_request_id, ',') LOOP
            BEGIN
                tickets := tickets OPERATOR(pg_catalog.||) pg_catalog.btrim(item)::workorder.ticket;
            EXCEPTION WHEN SQLSTATE 'WO001' OR SQLSTATE 'WO002' THEN
                PERFORM workorder.raise_error('WO872', 'unknown service_request_id',
                    pg_catalog.format('%s is not a request number: %s', pg_catalog.quote_literal(pg_catalog.left(pg_catalog.btrim(item), 40)), SQLERRM),
                    'A service_request_id is a ticket such as 20261125-000123-4.');
            END;
        END LOOP;
        IF pg_catalog.cardinality(tickets) OPERATOR(pg_catalog.>) max_results THEN
            PERFORM workorder.raise_error('WO873', 'too many service_request_id values',
                pg_catalog.format('%s were given; max_results is %s.', pg_catalog.cardinality(tickets), max_results),
                'Ask for fewer requests at once.');
        END IF;
        SELECT COALESCE(pg_catalog.jsonb_agg(workorder.open311_request_json(o) ORDER BY o.received_at DESC, o.id DESC), '[]')
          INTO result
          FROM workorder.orders o
         WHERE o.ticket OPERATOR(workorder.=) ANY (tickets);
        RETURN result;
    END IF;

    IF NULLIF(pg_catalog.btrim(status), '') IS NOT NULL THEN
        statuses := pg_catalog.string_to_array(pg_catalog.lower(pg_catalog.regexp_replace(status, '[[:space:]]', '', 'g')), ',');
        IF NOT statuses OPERATOR(pg_catalog.<@) ARRAY['open', 'closed'] THEN
            PERFORM workorder.raise_error('WO873', 'invalid status filter for requests',
                pg_catalog.format('status is %s.', pg_catalog.quote_literal(pg_catalog.left(status, 60))),
                'Pass open, closed, or open,closed.');
        END IF;
        want_open := 'open' OPERATOR(pg_catalog.=) ANY (statuses);
        want_closed := 'closed' OPERATOR(pg_catalog.=) ANY (statuses);
    END IF;
    IF NULLIF(pg_catalog.btrim(service_code), '') IS NOT NULL THEN
        category := workorder.open311_service_category(pg_catalog.btrim(service_code));
    END IF;
    FOREACH item IN ARRAY ARRAY['start_date', 'end_date'] LOOP
        IF NOT COALESCE(CASE item WHEN 'start_date' THEN start_date ELSE end_date END OPERATOR(pg_catalog.~*)
                        '^\s*([0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?\s*(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?)?\s*$',
                        true) THEN
            PERFORM workorder.raise_error('WO873', pg_catalog.format('invalid %s for requests', item),
                pg_catalog.format('%s is %s, which is not a W3C date or date-time.', item,
                                  pg_catalog.quote_literal(pg_catalog.left(CASE item WHEN 'start_date' THEN start_date ELSE end_date END, 60))),
                'Pass a W3C date-time, e.g. 2026-11-25T08:00:00+08:00, or a date, 2026-11-25.');
        END IF;
    END LOOP;
    BEGIN
        item := 'start_date';
        t0 := NULLIF(pg_catalog.btrim(start_date), '')::timestamptz;
        item := 'end_date';
        t1 := NULLIF(pg_catalog.btrim(end_date), '')::timestamptz;
    EXCEPTION WHEN data_exception THEN
        PERFORM workorder.raise_error('WO873', pg_catalog.format('invalid %s for requests', item),
            pg_catalog.format('%s is %s: %s', item,
                              pg_catalog.quote_literal(pg_catalog.left(CASE item WHEN 'start_date' THEN start_date ELSE end_date END, 60)),
                              SQLERRM),
            'Pass a W3C date-time, e.g. 2026-11-25T08:00:00+08:00.');
    END;
    IF NOT pg_catalog.isfinite(t0) OR NOT pg_catalog.isfinite(t1) THEN
        PERFORM workorder.raise_error('WO873', 'invalid date range for requests',
            pg_catalog.format('start_date is %s and end_date is %s.', COALESCE(start_date::text, 'NULL'), COALESCE(end_date::text, 'NULL')),
            'Pass finite W3C date-times.');
    END IF;
    IF t0 IS NULL AND t1 IS NULL THEN
        t1 := pg_catalog.now();
    END IF;
    BEGIN
        t0 := COALESCE(t0, t1 OPERATOR(pg_catalog.-) '90 days'::interval);
        t1 := COALESCE(t1, t0 OPERATOR(pg_catalog.+) '90 days'::interval);
    EXCEPTION WHEN data_exception THEN
        -- 90 days from a date at the edge of the range of timestamps (22008).
        PERFORM workorder.raise_error('WO873', 'invalid date range for requests',
            pg_catalog.format('start_date is %s and end_date is %s: %s', COALESCE(start_date, 'NULL'),
                              COALESCE(end_date, 'NULL'), SQLERRM),
            'Pass dates within the range of timestamps, at most 90 days apart.');
    END;
    IF t1 OPERATOR(pg_catalog.<) t0 OR (t1 OPERATOR(pg_catalog.-) t0) OPERATOR(pg_catalog.>) '90 days'::interval THEN
        PERFORM workorder.raise_error('WO873', 'invalid date range for requests',
            pg_catalog.format('start_date is %s and end_date is %s.', workorder.open311_time(t0), workorder.open311_time(t1)),
            'end_date must not be before start_date, and the range may span at most 90 days.');
    END IF;
    -- An end_date that is a date alone is that whole day (its 90 days counted from
    -- its midnight, as they were).
    IF end_date OPERATOR(pg_catalog.~) '^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*$' THEN
        t1 := t1 OPERATOR(pg_catalog.+) '1 day'::interval OPERATOR(pg_catalog.-) '1 second'::interval;
    END IF;

    SELECT COALESCE(pg_catalog.jsonb_agg(r.j ORDER BY r.received_at DESC, r.id DESC), '[]')
      INTO result
      FROM (SELECT o.id, o.received_at, workorder.open311_request_json(o) AS j
              FROM workorder.orders o
              LEFT JOIN workorder.orders m ON m.id OPERATOR(pg_catalog.=) o.master_id
             -- At the precision the requests show their times, whole seconds: a
             -- client paging with end_date = the last requested_datetime it was
             -- shown lost the rest of that second (an inbox batch shares one).
             WHERE o.received_at OPERATOR(pg_catalog.>=) pg_catalog.date_trunc('second', t0)
               AND o.received_at OPERATOR(pg_catalog.<) (pg_catalog.date_trunc('second', t1) OPERATOR(pg_catalog.+) '1 second'::interval)
               AND (category.code IS NULL OR o.category_code IN (
                        SELECT e.code FROM workorder.category_effective e
                         WHERE category.code OPERATOR(pg_catalog.=) ANY (e.path)))
               AND (CASE WHEN COALESCE(m.status, o.status) OPERATOR(pg_catalog.=) ANY ('{resolved,closed,cancelled}'::workorder.order_status[])
                         THEN want_closed ELSE want_open END)
             ORDER BY o.received_at DESC, o.id DESC
             LIMIT max_results) r;
    RETURN result;
END
$$;
COMMENT ON FUNCTION workorder.open311_requests(text, text, text, text, text, integer, text) IS
    'GeoReport v2 GET requests: by ids, or by service_code, status and date range (at most 90 days, max_results 1..1000); no personal data.';

-- open311_request returns one request (GET requests/{id}): an array of one.
CREATE FUNCTION workorder.open311_request(service_request_id text, jurisdiction_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SECURITY DEFINER
AS $$
DECLARE
    result jsonb;
BEGIN
    IF pg_catalog.strpos(COALESCE(service_request_id, ''), ',') OPERATOR(pg_catalog.>) 0
       OR NULLIF(pg_catalog.btrim(service_request_id), '') IS NULL THEN
        PERFORM workorder.raise_error('WO872', 'unknown service_request_id',
            pg_catalog.format('service_request_id is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(service_request_id, 60)), 'NULL')),
            'Pass one ticket, such as 20261125-000123-4.');
    END IF;
    result := workorder.open311_requests(service_request_id => service_request_id, jurisdiction_id => jurisdiction_id);
    IF pg_catalog.jsonb_array_length(result) OPERATOR(pg_catalog.=) 0 THEN
        PERFORM workorder.raise_error('WO872', 'unknown service_request_id',
            pg_catalog.format('No request has the number %s.', pg_catalog.btrim(service_request_id)),
            'Check the number; it is the ticket given when the request was made.');
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION workorder.open311_request(text, text) IS 'GeoReport v2 GET requests/{id}: one request, as an array of one.';

-- open311_post_request makes an order of a GeoReport POST (its parameters as a JSON
-- object, values as strings or numbers) through submit(), and returns
-- [{"service_request_id", "service_notice", "account_id"}].  lat and long are
-- required (there is no geocoder for address_string or address_id).  A missing
-- description becomes the service's name.  first_name/last_name and phone become the
-- reporter; email, device_id, account_id, address_id and attribute go into the
-- order's attributes (never shown in requests).  The idempotency_key, when the HTTP
-- layer passes one (e.g. from an Idempotency-Key header), is the channel_ref, so a
-- retried POST returns the same request; without it every POST is a new request.
--
-- A key is one request's: the order keeps a SHA-256 of what the POST asks for
-- (open311_fingerprint: not the key, the api_key or the jurisdiction_id), and the
-- same key with another POST is refused (WO876), not answered with the
-- first request's ticket while the second report was lost (the open311 channel is
-- every client's, and two clients' keys "1" met).  A retry is looked up before the
-- POST is checked again: a service made inactive, or a jurisdiction set, since the
-- first POST turned its retry into a 404, and a client that took that for "not
-- filed" made a second order; it is answered only to a caller who may read the
-- order, as submit() answers a retry.  A key that is there but blank is WO874.
CREATE FUNCTION workorder.open311_post_request(request jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    e workorder.category_effective;
    v_lat double precision;
    v_lon double precision;
    field text;
    o workorder.orders;
    extra jsonb;
    channel text := workorder.setting('open311_channel', 'open311');
    idempotency_key text;
    fingerprint text;
    most integer;
BEGIN
    IF request IS NULL OR pg_catalog.jsonb_typeof(request) OPERATOR(pg_catalog.<>) 'object' THEN
        PERFORM workorder.raise_error('WO874', 'invalid Open311 request',
            pg_catalog.format('The request is %s.', COALESCE(pg_catalog.left(request::text, 60), 'NULL')),
            'Pass the POST parameters as a JSON object, e.g. {"service_code": "...", "lat": 23.03, "long": 113.15}.');
    END IF;
    -- A parameter of text is a string, or a number (its text is unambiguous): an
    -- object or array was stored as its JSON text ({"x": 1} a description, ["a", "b"]
    -- a reporter's name), a boolean as true.
    SELECT k INTO field
      FROM pg_catalog.unnest('{service_code,jurisdiction_id,description,address_string,first_name,last_name,phone,email,device_id,account_id,address_id,media_url,idempotency_key}'::text[]) k
     WHERE pg_catalog.jsonb_typeof(request OPERATOR(pg_catalog.->) k) OPERATOR(pg_catalog.<>) ALL ('{string,number,"null"}'::text[])
     LIMIT 1;
    IF field IS NOT NULL THEN
        PERFORM workorder.raise_error('WO874', pg_catalog.format('invalid %s in the Open311 request', field),
            pg_catalog.format('%s is a JSON %s: %s.', field, pg_catalog.jsonb_typeof(request OPERATOR(pg_catalog.->) field),
                              pg_catalog.left((request OPERATOR(pg_catalog.->) field)::text, 60)),
            pg_catalog.format('Pass %s as a string.', field));
    END IF;
    -- Trimmed as submit() trims a reference.  A key that is there but blank is a
    -- client's bug, not a request without one: every retry would make an order.
    idempotency_key := NULLIF(workorder.trim_blanks(request OPERATOR(pg_catalog.->>) 'idempotency_key'), '');
    IF idempotency_key IS NULL AND (request OPERATOR(pg_catalog.->>) 'idempotency_key') IS NOT NULL THEN
        PERFORM workorder.raise_error('WO874', 'invalid idempotency_key in the Open311 request',
            pg_catalog.format('idempotency_key is %s.', pg_catalog.quote_literal(request OPERATOR(pg_catalog.->>) 'idempotency_key')),
            'Give the request a key of its own (a UUID), or leave idempotency_key out.');
    END IF;
    fingerprint := workorder.open311_fingerprint(request);
    IF idempotency_key IS NOT NULL AND workorder.channel_is_active(channel) THEN
        PERFORM workorder.check_channel_access(channel, 'submit');   -- as submit() would
        SELECT * INTO o FROM workorder.orders x
         WHERE x.channel_code OPERATOR(pg_catalog.=) channel AND x.channel_ref OPERATOR(pg_catalog.=) idempotency_key;
        IF FOUND THEN
            -- As submit() answers a retry: only to a caller who may read the order.
            PERFORM workorder.check_order_access(o, NULL);
            RETURN workorder.open311_posted(o, request, idempotency_key, fingerprint);
        END IF;
    END IF;
    -- A parameter GeoReport does not have is a misspelt one: "descripton" lost the
    -- text, and the order was described by its service's name.
    SELECT k INTO field
      FROM pg_catalog.jsonb_object_keys(request) k
     WHERE k OPERATOR(pg_catalog.<>) ALL ('{service_code,jurisdiction_id,lat,long,address_string,address_id,email,device_id,account_id,first_name,last_name,phone,description,media_url,attribute,api_key,idempotency_key}'::text[])
     ORDER BY k LIMIT 1;
    IF field IS NOT NULL THEN
        PERFORM workorder.raise_error('WO874', 'unknown parameter in the Open311 request',
            pg_catalog.format('The request has %s, which GeoReport v2 does not define.', pg_catalog.quote_literal(pg_catalog.left(field, 60))),
            'Check its spelling; a POST takes service_code, lat, long, description, address_string, address_id, attribute, first_name, last_name, phone, email, device_id, account_id, media_url, jurisdiction_id, api_key and idempotency_key.');
    END IF;
    PERFORM workorder.open311_jurisdiction(request OPERATOR(pg_catalog.->>) 'jurisdiction_id');
    -- Trimmed, as GET requests trims it.
    e := workorder.open311_service_category(workorder.trim_blanks(request OPERATOR(pg_catalog.->>) 'service_code'));
    BEGIN
        field := 'lat';
        -- Decimal degrees only, trimmed of blanks, as the inbox reads them (the cast
        -- reads '0x17' as 23).
        v_lat := workorder.inbox_degrees(NULLIF(workorder.trim_blanks(request OPERATOR(pg_catalog.->>) 'lat'), ''));
        field := 'long';
        v_lon := workorder.inbox_degrees(NULLIF(workorder.trim_blanks(request OPERATOR(pg_catalog.->>) 'long'), ''));
    EXCEPTION WHEN data_exception THEN
        PERFORM workorder.raise_error('WO874', pg_catalog.format('invalid %s in the Open311 request', field),
            pg_catalog.format('%s is %s.', field, pg_catalog.quote_literal(pg_catalog.left(request OPERATOR(pg_catalog.->>) field, 40))),
            'Pass lat and long as WGS84 decimal degrees.');
    END;
    -- Not a number, an infinity, or off the globe: the POST's lat or long, named as
    -- the client wrote it (submit() would name its location).
    field := CASE WHEN v_lat::text IN ('NaN', 'Infinity', '-Infinity') OR pg_catalog.abs(v_lat) OPERATOR(pg_catalog.>) 90 THEN 'lat'
                  WHEN v_lon::text IN ('NaN', 'Infinity', '-Infinity') OR pg_catalog.abs(v_lon) OPERATOR(pg_catalog.>) 180 THEN 'long' END;
    IF field IS NOT NULL THEN
        PERFORM workorder.raise_error('WO874', pg_catalog.format('invalid %s in the Open311 request', field),
            pg_catalog.format('%s is %s.', field, pg_catalog.quote_literal(pg_catalog.left(request OPERATOR(pg_catalog.->>) field, 40))),
            'Pass lat (-90 to 90) and long (-180 to 180) as WGS84 decimal degrees.');
    END IF;
    IF v_lat IS NULL OR v_lon IS NULL THEN
        PERFORM workorder.raise_error('WO874', 'the Open311 request has no location',
            pg_catalog.format('lat is %s and long is %s.', COALESCE(v_lat::text, 'missing'), COALESCE(v_lon::text, 'missing')),
            'Pass lat and long; requests located only by address_string or address_id are not accepted (no geocoder).');
    END IF;
    IF (request OPERATOR(pg_catalog.->) 'attribute') IS NOT NULL
       AND pg_catalog.jsonb_typeof(request OPERATOR(pg_catalog.->) 'attribute') OPERATOR(pg_catalog.<>) 'object' THEN
        PERFORM workorder.raise_error('WO874', 'invalid attribute in the Open311 request',
            pg_catalog.format('attribute is %s.', pg_catalog.left((request OPERATOR(pg_catalog.->) 'attribute')::text, 60)),
            'Pass attribute as an object of code: value.');
    END IF;
    -- Each text within what submit() takes of it, checked here so that the error
    -- names the POST's parameter (submit() would name its own argument, and say to
    -- put the rest in attributes, which GeoReport has no way to do).
    SELECT p.name, p.max_length INTO field, most
      FROM (VALUES ('idempotency_key', 128), ('description', 4000), ('address_string', 500), ('phone', 40),
                   ('email', 320), ('device_id', 200), ('account_id', 200), ('address_id', 200),
                   ('media_url', 2000)) p(name, max_length)
     WHERE pg_catalog.length(workorder.trim_blanks(request OPERATOR(pg_catalog.->>) p.name)) OPERATOR(pg_catalog.>) p.max_length
     ORDER BY p.name LIMIT 1;
    IF field IS NOT NULL THEN
        PERFORM workorder.raise_error('WO874', pg_catalog.format('invalid %s in the Open311 request', field),
            pg_catalog.format('%s has %s characters; at most %s are accepted.', field,
                              pg_catalog.length(workorder.trim_blanks(request OPERATOR(pg_catalog.->>) field)), most),
            pg_catalog.format('Shorten %s to at most %s characters.', field, most));
    END IF;
    -- The reporter's name is the two names with a space between.
    IF pg_catalog.length(pg_catalog.concat_ws(' ', NULLIF(workorder.trim_blanks(request OPERATOR(pg_catalog.->>) 'first_name'), ''),
                                              NULLIF(workorder.trim_blanks(request OPERATOR(pg_catalog.->>) 'last_name'), '')))
       OPERATOR(pg_catalog.>) 100 THEN
        PERFORM workorder.raise_error('WO874', 'invalid first_name and last_name in the Open311 request',
            pg_catalog.format('first_name has %s characters and last_name %s; together, with a space between, at most 100 are accepted.',
                              COALESCE(pg_catalog.length(workorder.trim_blanks(request OPERATOR(pg_catalog.->>) 'first_name')), 0),
                              COALESCE(pg_catalog.length(workorder.trim_blanks(request OPERATOR(pg_catalog.->>) 'last_name')), 0)),
            'Shorten the names to at most 100 characters together.');
    END IF;
    -- The key and the media_url are stored as they came (the key as the order's
    -- reference, the URL among its attributes, and published): a control
    -- character in them is refused, as submit() refuses one in its texts.
    SELECT p.name, workorder.control_character_at(request OPERATOR(pg_catalog.->>) p.name) INTO field, most
      FROM pg_catalog.unnest('{idempotency_key,media_url}'::text[]) p(name)
     WHERE workorder.control_character_at(request OPERATOR(pg_catalog.->>) p.name) IS NOT NULL
     ORDER BY p.name LIMIT 1;
    IF field IS NOT NULL THEN
        PERFORM workorder.raise_error('WO874', pg_catalog.format('invalid %s in the Open311 request', field),
            pg_catalog.format('%s has the control character U+%s at position %s.', field,
                              pg_catalog.lpad(pg_catalog.upper(pg_catalog.to_hex(pg_catalog.ascii(pg_catalog.substr(
                                  request OPERATOR(pg_catalog.->>) field, most, 1)))), 4, '0'),
                              most),
            CASE field WHEN 'media_url' THEN 'Pass the URL percent-encoded, as RFC 3986 writes one.'
                       ELSE 'Pass a key of printable characters (a UUID).' END);
    END IF;
    extra := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
        'open311', pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                       'request_sha256', fingerprint,
                       'email', request OPERATOR(pg_catalog.->>) 'email',
                       'device_id', request OPERATOR(pg_catalog.->>) 'device_id',
                       'account_id', request OPERATOR(pg_catalog.->>) 'account_id',
                       'address_id', request OPERATOR(pg_catalog.->>) 'address_id',
                       'attribute', request OPERATOR(pg_catalog.->) 'attribute')),
        'media_url', request OPERATOR(pg_catalog.->>) 'media_url'));
    -- The order's attributes are at most what submit() takes (65536 bytes as JSON
    -- text); all but attribute are bounded above, so it is attribute that is too
    -- large, and the error names it (submit() would name its attributes).
    IF pg_catalog.octet_length(extra::text) OPERATOR(pg_catalog.>) 65536 THEN
        PERFORM workorder.raise_error('WO874', 'invalid attribute in the Open311 request',
            pg_catalog.format('attribute takes %s bytes as JSON, and the request''s other stored parameters %s; at most 65536 bytes in all are accepted.',
                              pg_catalog.octet_length((request OPERATOR(pg_catalog.->) 'attribute')::text),
                              pg_catalog.octet_length(extra::text) OPERATOR(pg_catalog.-)
                              pg_catalog.octet_length((request OPERATOR(pg_catalog.->) 'attribute')::text)),
            'Keep large content (photos, recordings) outside and pass its URL as media_url.');
    END IF;
    -- A POST beside another with the same key (two clients' keys "1"): submit()
    -- waits for the other's order and refuses this POST as another report under its
    -- reference (WO308), whose detail quotes the other client's description.  It is
    -- answered as the same key after the other's commit is: WO876, with the ticket.
    BEGIN
        o := workorder.submit(
            channel => channel,
            channel_ref => COALESCE(idempotency_key, 'open311-' OPERATOR(pg_catalog.||) pg_catalog.gen_random_uuid()::text),
            category => e.code,
            description => COALESCE(NULLIF(workorder.trim_blanks(request OPERATOR(pg_catalog.->>) 'description'), ''), e.name),
            lon => v_lon, lat => v_lat,
            address => request OPERATOR(pg_catalog.->>) 'address_string',
            reporter_name => NULLIF(pg_catalog.concat_ws(' ', NULLIF(workorder.trim_blanks(request OPERATOR(pg_catalog.->>) 'first_name'), ''),
                                                              NULLIF(workorder.trim_blanks(request OPERATOR(pg_catalog.->>) 'last_name'), '')), ''),
            reporter_phone => request OPERATOR(pg_catalog.->>) 'phone',
            attributes => extra);
    EXCEPTION WHEN SQLSTATE 'WO308' THEN
        SELECT * INTO o FROM workorder.orders x
         WHERE x.channel_code OPERATOR(pg_catalog.=) workorder.trim_blanks(channel)
           AND x.channel_ref OPERATOR(pg_catalog.=) idempotency_key;
        IF NOT FOUND OR idempotency_key IS NULL THEN
            RAISE;
        END IF;
        PERFORM workorder.check_order_access(o, NULL);
    END;
    -- A POST beside another with the same key: submit() returned the order the other
    -- made, or refused this one (above); either is answered as a retry is.
    RETURN workorder.open311_posted(o, request, idempotency_key, fingerprint);
END
$$;

-- open311_fingerprint is the SHA-256 of what a POST asks for, which a retry must
-- repeat: its parameters but idempotency_key, api_key (a credential, which may be
-- rotated between two attempts) and jurisdiction_id (absent or named, the one this
-- endpoint serves), each as its text (lat sent as "23.17" by one attempt and as
-- 23.17 by the next is one request), attribute as its JSON; a null is absent.
CREATE FUNCTION workorder.open311_fingerprint(request jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(COALESCE(
           (SELECT pg_catalog.jsonb_object_agg(k, CASE WHEN k OPERATOR(pg_catalog.=) 'attribute'
                                                       THEN request OPERATOR(pg_catalog.->) k
                                                       ELSE pg_catalog.to_jsonb(request OPERATOR(pg_catalog.->>) k) END)
              FROM pg_catalog.jsonb_object_keys(request) k
             WHERE k OPERATOR(pg_catalog.<>) ALL ('{idempotency_key,api_key,jurisdiction_id}'::text[])
               AND pg_catalog.jsonb_typeof(request OPERATOR(pg_catalog.->) k) OPERATOR(pg_catalog.<>) 'null'),
           '{}'::jsonb)::text, 'UTF8')), 'hex')
$$;

-- open311_posted is the answer to a POST that made, or retried, order o:
-- [{"service_request_id", "service_notice", "account_id"}]; or WO876 when o was
-- made by another POST with the same idempotency_key (fingerprint is the SHA-256
-- of this one; an order made before 0.5 has none, and is taken as the retry).  An
-- order may keep the hash of its whole POST but the key, as 0.5 first did: a retry
-- that repeats its POST byte for byte matches that.
CREATE FUNCTION workorder.open311_posted(o workorder.orders, request jsonb, idempotency_key text, fingerprint text)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    kept text := o.attributes OPERATOR(pg_catalog.#>>) '{open311,request_sha256}';
BEGIN
    IF kept OPERATOR(pg_catalog.<>) fingerprint
       AND kept OPERATOR(pg_catalog.<>) pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
               (request OPERATOR(pg_catalog.-) 'idempotency_key'::text)::text, 'UTF8')), 'hex') THEN
        PERFORM workorder.raise_error('WO876',
            pg_catalog.format('idempotency_key %s was used for another Open311 request',
                              pg_catalog.quote_literal(pg_catalog.left(idempotency_key, 60))),
            pg_catalog.format('It made request %s, whose POST differs from this one.', o.ticket),
            'Give every new request a key of its own (a UUID); a retry repeats its request unchanged, with its key.');
    END IF;
    RETURN pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'service_request_id', o.ticket::text,
        'service_notice', CASE WHEN o.resolve_due_at IS NOT NULL
                               THEN 'Expected by ' OPERATOR(pg_catalog.||) workorder.open311_time(o.resolve_due_at) END,
        'account_id', request OPERATOR(pg_catalog.->>) 'account_id'));
END
$$;
COMMENT ON FUNCTION workorder.open311_post_request(jsonb) IS
    'GeoReport v2 POST requests: makes an order through submit() on the open311 channel; returns [{service_request_id, service_notice, account_id}].';

-- open311_error turns an error (its SQLSTATE and message) into GeoReport's error
-- shape, [{"code": <HTTP status>, "description": message}]: 404 for an unknown
-- service, request or jurisdiction, 400 for other bad input (WO1xx, WO3xx, WO87x),
-- 403 for a caller refused (WO95x: another channel, an order it may not see), 500
-- for anything else; 422 for an idempotency_key used for another request (WO876, as
-- the IETF Idempotency-Key draft has it; WO308, submit()'s own check, which
-- open311_post_request answers as WO876 when two POSTs of one key meet in flight),
-- 403 too for a function the caller may
-- not execute (42501), and 503 for a conflict with another transaction that a
-- retry gets past (40001, 40P01, 55P03) or for the Open311 channel switched off
-- for a while (WO305, not active).
CREATE FUNCTION workorder.open311_error(sqlstate text, message text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        -- WO301, an unknown channel, is the setting open311_channel's, never
        -- the client's: the server's fault (it was 400); so is WO307, the front
        -- end's transaction not READ COMMITTED (a 400 is not retried).
        'code', CASE WHEN sqlstate IN ('WO871', 'WO872', 'WO875') THEN 404
                     WHEN sqlstate OPERATOR(pg_catalog.=) ANY ('{WO876,WO308}'::text[]) THEN 422
                     WHEN sqlstate OPERATOR(pg_catalog.=) '42501' THEN 403
                     WHEN sqlstate OPERATOR(pg_catalog.=) ANY ('{40001,40P01,55P03,WO305}'::text[]) THEN 503
                     WHEN sqlstate OPERATOR(pg_catalog.=) ANY ('{WO301,WO307}'::text[]) THEN 500
                     WHEN sqlstate OPERATOR(pg_catalog.~) '^(WO1|WO3|WO87|22)' THEN 400
                     WHEN sqlstate OPERATOR(pg_catalog.~) '^WO95' THEN 403
                     ELSE 500 END,
        'description', message));
END
$$;
COMMENT ON FUNCTION workorder.open311_error(text, text) IS
    'GeoReport v2 error shape for an error raised by the open311_* functions: [{code: HTTP status, description}].';
