-- Open311 GeoReport v2: filters of GET requests (ids, service subtree, status, date
-- range, max_results) and bad input of every function (WO871..WO875), no personal
-- data in any request output, and the error shape.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(87);

\o /dev/null
\i test/fixtures/issue6_map.sql
\o

-- Three requests: noise (open), vendor (closed: resolved), flood (open), with
-- personal data on each.
CREATE TEMP TABLE made AS
SELECT v.ref, workorder.open311_post_request(jsonb_build_object(
           'service_code', v.code, 'lat', 24.1, 'long', 115.1, 'description', v.what,
           'first_name', '女士', 'last_name', '陈', 'phone', '13912345678', 'email', 'chen@example.com',
           'device_id', 'device-secret', 'account_id', 'acc-secret', 'idempotency_key', v.ref))->0->>'service_request_id' AS ticket
  FROM (VALUES ('r1', 'CITY_NOISE', '噪音'), ('r2', 'CITY_VENDOR', '摊贩'), ('r3', 'WATER_FLOOD', '积水')) v(ref, code, what);
\o /dev/null
SELECT workorder.accept(id, 'D-um', '签收'), workorder.resolve(id, 'D-um', '已处理') FROM workorder.orders WHERE channel_ref = 'r2';
\o

CREATE FUNCTION pg_temp.codes(j jsonb) RETURNS text[] LANGUAGE sql AS $$
    SELECT COALESCE(array_agg(e->>'service_code' ORDER BY e->>'service_code'), '{}') FROM jsonb_array_elements(j) e
$$;

-- Filters.
SELECT is(pg_temp.codes(workorder.open311_requests()), ARRAY['CITY_NOISE', 'CITY_VENDOR', 'WATER_FLOOD'],
          'without filters: every request of the last 90 days');
SELECT is(pg_temp.codes(workorder.open311_requests(service_code => 'CITY')), ARRAY['CITY_NOISE', 'CITY_VENDOR'],
          'a service_code takes its whole subtree');
SELECT is(pg_temp.codes(workorder.open311_requests(service_code => 'WATER_FLOOD')), ARRAY['WATER_FLOOD'], '... or a leaf');
SELECT is(pg_temp.codes(workorder.open311_requests(status => 'closed')), ARRAY['CITY_VENDOR'], 'status closed: the resolved one');
SELECT is(pg_temp.codes(workorder.open311_requests(status => 'open')), ARRAY['CITY_NOISE', 'WATER_FLOOD'], 'status open: the others');
SELECT is(pg_temp.codes(workorder.open311_requests(status => ' Open , CLOSED ')), ARRAY['CITY_NOISE', 'CITY_VENDOR', 'WATER_FLOOD'],
          'both statuses, case and blanks ignored');
SELECT is(pg_temp.codes(workorder.open311_requests(service_request_id => (SELECT string_agg(ticket, ', ') FROM made WHERE ref <> 'r2'),
                                                   status => 'closed')),
          ARRAY['CITY_NOISE', 'WATER_FLOOD'], 'service_request_id overrides every other filter');
SELECT is(pg_temp.codes(workorder.open311_requests(start_date => to_char(now() + interval '1 day', 'YYYY-MM-DD'))), '{}',
          'a range starting tomorrow: nothing');
SELECT is(pg_temp.codes(workorder.open311_requests(end_date => to_char(now() - interval '1 day', 'YYYY-MM-DD"T"HH24:MI:SSOF'))), '{}',
          'a range ending yesterday: nothing');
SELECT is(pg_temp.codes(workorder.open311_requests(start_date => to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD'),
                                                   end_date => to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD'))),
          ARRAY['CITY_NOISE', 'CITY_VENDOR', 'WATER_FLOOD'],
          'an end_date that is a date alone takes in that whole day (it was the day''s midnight: today''s requests were left out)');
SELECT is(jsonb_array_length(workorder.open311_requests(max_results => 1)), 1, 'max_results limits the answer');
SELECT is(jsonb_array_length(workorder.open311_request((SELECT ticket FROM made WHERE ref = 'r1'))), 1,
          'GET requests/{id} answers an array of one');

-- Never personal data.
SELECT ok(NOT (workorder.open311_requests()::text ~ '(陈|女士|1391234|chen@|device-secret|acc-secret)'),
          'requests carry no reporter name, phone, e-mail, device or account');

-- Bad input.
SELECT throws_ok($$SELECT workorder.open311_service_definition('NO_SUCH')$$, 'WO871', NULL, 'an unknown service_code is WO871');
SELECT throws_ok($$SELECT workorder.open311_service_definition(NULL)$$, 'WO871', NULL, '... so is NULL');
SELECT throws_ok($$SELECT workorder.open311_requests(service_code => 'NO_SUCH')$$, 'WO871', NULL, '... also as a filter');
SELECT throws_ok($$SELECT workorder.open311_request('20260101-000001-9')$$, 'WO872', NULL,
                 'a ticket with a wrong check digit is an unknown request, WO872');
SELECT throws_ok($$SELECT workorder.open311_request('20200101-000001-' || (SELECT right(workorder.make_ticket('2020-01-01', 1)::text, 1)))$$,
                 'WO872', NULL, 'a valid ticket of no order is WO872');
SELECT throws_ok($$SELECT workorder.open311_request('abc,def')$$, 'WO872', NULL, 'a list is not one request');
SELECT throws_ok($$SELECT workorder.open311_requests(status => 'pending')$$, 'WO873', NULL, 'an unknown status is WO873');
SELECT throws_ok($$SELECT workorder.open311_requests(start_date => 'last tuesday')$$, 'WO873', NULL, 'an unreadable date is WO873');
SELECT throws_ok($$SELECT workorder.open311_requests(start_date => '2026-02-30')$$, 'WO873', NULL, 'an impossible date is WO873');
SELECT throws_ok($$SELECT workorder.open311_requests(start_date => '2026-03-01', end_date => '2026-02-01')$$, 'WO873', NULL,
                 'an end before the start is WO873');
SELECT throws_ok($$SELECT workorder.open311_requests(start_date => '2026-01-01', end_date => '2026-06-01')$$, 'WO873', NULL,
                 'a range over 90 days is WO873');
SELECT throws_ok($$SELECT workorder.open311_requests(start_date => 'infinity')$$, 'WO873', NULL, 'an infinite date is WO873');
SELECT throws_ok($$SELECT workorder.open311_requests(start_date => 'yesterday')$$, 'WO873',
                 'invalid start_date for requests', 'what PostgreSQL reads besides W3C (yesterday) is WO873');
SELECT throws_ok($$SELECT workorder.open311_requests(end_date => 'J2461372')$$, 'WO873', NULL, '... a Julian day too');
SELECT ok(workorder.open311_post_request('{"service_code": " CITY_NOISE ", "lat": 24.1, "long": 115.15, "jurisdiction_id": ""}') -> 0 ->> 'service_request_id' IS NOT NULL,
          'a POST''s service_code is trimmed, as GET trims it, and a blank jurisdiction_id is absent, as every blank parameter is');
SELECT lives_ok($$SELECT workorder.open311_requests(start_date => '2026-08-27', end_date => '2026-11-25')$$,
                'a date-only end_date 90 days after start_date is a range of 90 days (the day it takes in is not counted against them)');
SELECT lives_ok($$SELECT workorder.open311_requests(start_date => '2026-11-25t08:30:00z')$$,
                'a W3C date-time with a lowercase t and z is taken, as RFC 3339 allows');
SELECT throws_ok($$SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "lat": 24.1, "long": 115.15, "descripton": "市场夜间噪音"}')$$,
                 'WO874', 'unknown parameter in the Open311 request',
                 'a POST parameter GeoReport does not define (a misspelt description) is WO874: its text was lost');
SELECT throws_ok($$SELECT workorder.open311_requests(max_results => 1000000)$$, 'WO873', NULL, 'a huge max_results is WO873');
SELECT throws_ok($$SELECT workorder.open311_requests(max_results => 0)$$, 'WO873', NULL, 'max_results 0 is WO873');
SELECT throws_ok($$SELECT workorder.open311_post_request('[1]')$$, 'WO874', NULL, 'a POST that is not an object is WO874');
SELECT throws_ok($$SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "address_string": "桂城"}')$$, 'WO874', NULL,
                 'a POST without lat/long is WO874 (no geocoder)');
SELECT throws_ok($$SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "lat": "north", "long": 115.1}')$$, 'WO874', NULL,
                 'a lat that is not a number is WO874');
SELECT throws_ok($$SELECT workorder.open311_post_request('{"lat": 24.1, "long": 115.1}')$$, 'WO871', NULL,
                 'a POST without service_code is WO871');
-- A text parameter that is an object, an array or a boolean is WO874 (it was stored
-- as its JSON text: a description {"x": 1}, a reporter ["a", "b"]), and nothing is made.
SELECT count(*) AS orders_before_bad_types FROM workorder.orders \gset
SELECT throws_ok($$SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "lat": 24.05, "long": 115.05, "description": {"x": 1}}')$$,
                 'WO874', 'invalid description in the Open311 request', 'a description that is an object is WO874');
SELECT throws_ok($$SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "lat": 24.05, "long": 115.05, "first_name": ["a", "b"]}')$$,
                 'WO874', 'invalid first_name in the Open311 request', '... a first_name that is an array');
SELECT throws_ok($$SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "lat": 24.05, "long": 115.05, "email": true}')$$,
                 'WO874', 'invalid email in the Open311 request', '... an email that is a boolean');
SELECT is((SELECT count(*) FROM workorder.orders), :orders_before_bad_types::bigint, '... and none of them made an order');
INSERT INTO workorder.settings VALUES ('open311_jurisdiction', 'nanhai.foshan.gov.cn', 'test');
SELECT throws_ok($$SELECT workorder.open311_services('shunde.foshan.gov.cn')$$, 'WO875', NULL, 'another jurisdiction is WO875');
SELECT is(jsonb_array_length(workorder.open311_services('nanhai.foshan.gov.cn')), 8, '... ours is served');
SELECT is(jsonb_array_length(workorder.open311_services(' Nanhai.Foshan.gov.cn ')), 8,
          '... also in capitals and with blanks around it (a domain name is read in any case)');
SELECT is(jsonb_array_length(workorder.open311_services('')), 8, '... and a blank jurisdiction_id is absent (it was a 404)');

-- The address is masked as the description is (it was shown as written, a phone
-- and an ID number in it).
SELECT (workorder.open311_post_request('{"service_code": "CITY_VENDOR", "lat": 25.09, "long": 116.09,
          "description": "摆摊", "address_string": "甲街道88号 张三 13812345678 身份证440602199001011234"}') -> 0
        ->> 'service_request_id') AS masked_ticket \gset
SELECT is(workorder.open311_request(:'masked_ticket') -> 0 ->> 'address', '甲街道88号 张三 138****5678 身份证******************',
          'a request''s address shows phone and ID numbers masked');
-- Hexadecimal degrees are refused, as the inbox refuses them ('0x17' was read as 23).
SELECT throws_ok($$SELECT workorder.open311_post_request('{"service_code": "CITY_VENDOR", "lat": "0x19", "long": "0x74"}')$$,
                 'WO874', 'invalid lat in the Open311 request', 'a POST with hexadecimal degrees is WO874');
SELECT is(workorder.open311_error('WO952', 'x') -> 0 ->> 'code', '403', 'a caller refused (WO95x) is HTTP 403, not 500');
SELECT is(ARRAY[workorder.open311_error('42501', 'permission denied') -> 0 ->> 'code',
                workorder.open311_error('WO876', 'x') -> 0 ->> 'code',
                workorder.open311_error('40001', 'x') -> 0 ->> 'code', workorder.open311_error('40P01', 'x') -> 0 ->> 'code'],
          ARRAY['403', '422', '503', '503'],
          'a function the caller may not run is 403, a key of another request 422, a conflict a retry gets past 503');

-- An idempotency_key is one request's.  The same key with another POST (another
-- client's "r1") is refused, and writes nothing; it was answered with the first
-- request's ticket, and the report was lost.
SELECT count(*) AS orders_before FROM workorder.orders \gset
SELECT throws_ok($$SELECT workorder.open311_post_request('{"service_code": "WATER_FLOOD", "lat": 24.05, "long": 115.05,
                                                          "description": "另一处积水", "idempotency_key": " r1 "}')$$,
                 'WO876', 'idempotency_key ''r1'' was used for another Open311 request',
                 'the same idempotency_key (blanks trimmed) with another POST is refused');
SELECT is((SELECT count(*) FROM workorder.orders), :orders_before::bigint, '... and makes no order');
-- A retry is looked up before the POST is checked again: once its service is made
-- inactive, a retry of a request that was filed is that request, not a 404.
SELECT workorder.load_category('{"code": "WATER_FLOOD", "active": false}') IS NOT NULL AS deactivated \gset
SELECT is(workorder.open311_post_request(jsonb_build_object(
              'service_code', 'WATER_FLOOD', 'lat', 24.1, 'long', 115.1, 'description', '积水',
              'first_name', '女士', 'last_name', '陈', 'phone', '13912345678', 'email', 'chen@example.com',
              'device_id', 'device-secret', 'account_id', 'acc-secret', 'idempotency_key', 'r3')) -> 0 ->> 'service_request_id',
          (SELECT ticket FROM made WHERE ref = 'r3'),
          'a retry after its service was made inactive returns its request');
SELECT throws_ok($$SELECT workorder.open311_post_request('{"service_code": "WATER_FLOOD", "lat": 24.1, "long": 115.1, "idempotency_key": "r9"}')$$,
                 'WO871', NULL, '... while a new request for that service is refused');
SELECT workorder.load_category('{"code": "WATER_FLOOD", "active": true}') IS NOT NULL AS reactivated \gset
SELECT is(workorder.open311_error('WO301', 'unknown channel') -> 0 ->> 'code', '500',
          'an unknown channel (the setting open311_channel names none) is the server''s fault, HTTP 500, not 400');
SELECT is(workorder.open311_error('WO305', 'channel ''open311'' is not active') -> 0 ->> 'code', '503',
          'the Open311 channel switched off for a while (WO305) is HTTP 503: the client retries later, and the request is not lost');
SELECT is(workorder.open311_error('WO307', 'submit() needs a READ COMMITTED transaction') -> 0 ->> 'code', '500',
          'a front end whose transaction is not READ COMMITTED (WO307) is the server''s fault: HTTP 500, not 400 (which is not retried)');
-- 90 days from a date at the edge of the range of timestamps is WO873 (it was 22008).
SELECT throws_ok($$SELECT workorder.open311_requests(end_date => '4713-01-02 BC')$$, 'WO873', NULL,
                 'an end_date whose 90 days before are out of range is WO873');
SELECT throws_ok($$SELECT workorder.open311_requests(start_date => '294276-12-30')$$, 'WO873', NULL,
                 '... as is a start_date whose 90 days after are');

-- What the public sees of a description: phone numbers of every usual form and ID
-- numbers masked, and nothing else touched.
SELECT is(workorder.open311_public_text(t.raw), t.shown, t.what)
  FROM (VALUES
    ('请回电13800138000，或138-1234-5678，或+86 139 1234 5678，或8613712345678',
     '请回电138****8000，或138****5678，或139****5678，或137****5678',
     'mobile numbers are masked however they are written: plain, with separators, with +86 or 86'),
    ('座机0757-86281234，(020)87654321，075786281234，联系电话：86281234，tel 6281234',
     '座机0757-****1234，(020)****4321，0757****1234，联系电话：****1234，tel ****1234',
     'landlines are masked: with an area code anywhere, a bare local number after a word that announces it'),
    ('手机１３９１２３４５６７８，电话139.1234.5678，138  1234  1234，138—1234—1234，身份证440605 19900101 123X，０７５７ ８６２８ １２３４，电话是86281234',
     '手机139****5678，电话139****5678，138****1234，138****1234，身份证******************，0757 ****1234，电话是****1234',
     'and written in full-width digits, with dots, double spaces, dashes or spaces between groups, or after 电话是'),
    ('身份证440602199001011234；工单20261127-000002-4，金额12345678元，门牌12号，编号0757，2026年11月26日',
     '身份证******************；工单20261127-000002-4，金额12345678元，门牌12号，编号0757，2026年11月26日',
     'an ID number is masked whole; tickets, amounts, house numbers and dates stay as written'),
    ('联系方式：86281234，电话号：86281235，或 138 - 1234 - 5678，或13812 345678，tel:+86(138)12345679，138‐1234‐5670，老身份证440602900101123',
     '联系方式：****1234，电话号：****1235，或 138****5678，或138****5678，tel:138****5679，138****5670，老身份证***************',
     'and after 联系方式 or 电话号, spaced dashes, a 5-6 grouping, a bracketed prefix, a Unicode hyphen; an old 15-digit ID'),
    ('回电138/1234/5678，138,1234,5679，138_1234_5670，ｔｅｌ 86281234，Ｔｅｌ：86281235',
     '回电138****5678，138****5679，138****5670，ｔｅｌ ****1234，Ｔｅｌ：****1235',
     'and with slashes, commas or underscores between groups, and after a full-width tel'),
    ('身份证440602 1990 0101 1234，身份证 440602-1990-0101-1234，身份证 4406 0219 9001 0112 34，电话 +86 757 8628 1234，电话 0086-757-86281234，邮箱 chen.li@example.com.cn',
     '身份证******************，身份证 ******************，身份证 ******************，电话 +86 757 ****1234，电话 0086-757-****1234，邮箱 ***@example.com.cn',
     'ID numbers however their digits are grouped, landlines dialled from abroad, and e-mail addresses'),
    ('身份证110101 - 1990 - 0307 - 123X，身份证4406.0219.9001.0112.34；邮箱chen＠example.com',
     '身份证******************，身份证******************；邮箱***@example.com',
     'an ID number in fours with spaced dashes or dots between the groups, and an e-mail address with a full-width ＠'),
    ('工单20261120-000002-4, 125号；坐标113.120195,23.0201234；12、14、16、18、20、22、24、26、28、30、32号楼；户号861234567890；86、102、2301、1502号房',
     '工单20261120-000002-4, 125号；坐标113.120195,23.0201234；12、14、16、18、20、22、24、26、28、30、32号楼；户号861234567890；86、102、2301、1502号房',
     'but a ticket followed by a number, pasted coordinates, lists of house or room numbers and an account number stay as written'),
    ('回电013812345678，电话 138~1234~5678，138*1234*5679，邮箱：张三@qq.com，Tel. 86281234',
     '回电138****5678，电话 138****5678，138****5679，邮箱：***@qq.com，Tel. ****1234',
     'a mobile dialled with the trunk 0, tildes or asterisks between the groups, an e-mail address in Chinese, Tel. with its dot'),
    (E'请回电138\u00a01234\u00a05678 或 139．8765．4321，138\u200b1234\u200b5679，138\t1234\t5670，1381234\u20605671，139。1234。5672',
     '请回电138****5678 或 139****4321，138****5679，138****5670，138****5671，139****5672',
     'a mobile whose groups a no-break space, a full-width or ideographic full stop, a zero-width space, a tab or a word joiner separates (they were published whole)'),
    (E'联系人电话\u00a086281234，身份证440605\u00a019900101\u00a0123X，邮箱zhangsan＠qq．com，固话0757\u202f8628\ufeff1234',
     E'联系人电话\u00a0****1234，身份证******************，邮箱***@qq.com，固话0757\u202f****1234',
     'and so is a local number after a no-break space, an ID number in groups, an e-mail address typed full-width, a landline')) t(raw, shown, what);

-- A media_url is published only as an Open311 client gave it: another channel's
-- (a call's recording, its link naming the caller) is no one else's.
SELECT (workorder.submit('hotline', 'MEDIA-1', '0305', '噪音', lon => 115.05, lat => 24.05,
                         attributes => '{"media_url": "https://rec.example/call?caller=13812345678"}')).ticket AS media_hotline \gset
SELECT is(workorder.open311_request(:'media_hotline') -> 0 ->> 'media_url', NULL,
          'a hotline order''s attributes.media_url is not published (it was, unmasked, to every client)');
SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "lat": 24.1, "long": 115.1, "description": "噪音",
                                        "media_url": "https://img.example/1.jpg", "idempotency_key": "media-2"}')
       -> 0 ->> 'service_request_id' AS media_posted \gset
SELECT is(workorder.open311_request(:'media_posted') -> 0 ->> 'media_url', 'https://img.example/1.jpg',
          'an Open311 request''s own media_url is');

-- A POST's parameters are checked as the POST names them (submit() named its own
-- arguments: channel_ref, reporter phone, attributes), and a bad one writes nothing.
SELECT count(*) AS orders_before FROM workorder.orders \gset
SELECT throws_ok(format($$SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "lat": 24.1, "long": 115.1, "idempotency_key": "%s"}')$$,
                        repeat('k', 200)),
                 'WO874', 'invalid idempotency_key in the Open311 request',
                 'an idempotency_key over 128 characters is WO874 naming it (it was WO302 naming channel_ref)');
SELECT throws_ok($$SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "lat": 24.1, "long": 115.1, "idempotency_key": "ab\u0001c"}')$$,
                 'WO874', 'invalid idempotency_key in the Open311 request', '... as is one with a control character');
SELECT throws_ok($$SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "lat": 24.1, "long": 115.1, "idempotency_key": " \t "}')$$,
                 'WO874', 'invalid idempotency_key in the Open311 request',
                 '... and a blank one (it turned idempotency off: each retry made an order)');
SELECT throws_ok(format($$SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "lat": 24.1, "long": 115.1, "phone": "%s"}')$$,
                        repeat('1', 50)),
                 'WO874', 'invalid phone in the Open311 request', 'a phone over 40 characters is WO874 naming phone');
SELECT throws_ok(format($$SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "lat": 24.1, "long": 115.1, "first_name": "%s", "last_name": "%s"}')$$,
                        repeat('名', 60), repeat('姓', 60)),
                 'WO874', 'invalid first_name and last_name in the Open311 request',
                 'names over 100 characters together are WO874 naming both');
SELECT throws_ok($$SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "lat": "NaN", "long": 115.1}')$$,
                 'WO874', 'invalid lat in the Open311 request', 'lat NaN is WO874 naming lat (it was WO101)');
SELECT throws_ok($$SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "lat": 24.1, "long": 200}')$$,
                 'WO874', 'invalid long in the Open311 request', '... and long off the globe names long');
SELECT throws_ok(format($$SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "lat": 24.1, "long": 115.1, "attribute": {"note": "%s"}}')$$,
                        repeat('噪', 25000)),
                 'WO874', 'invalid attribute in the Open311 request',
                 'an attribute of 25000 Chinese characters (75000 bytes) is WO874 naming attribute (it passed a count of characters, and submit() refused its attributes)');
SELECT throws_ok($$SELECT workorder.open311_post_request('{"service_code": "CITY_NOISE", "lat": 24.1, "long": 115.1, "media_url": "http://x/\u0007"}')$$,
                 'WO874', 'invalid media_url in the Open311 request',
                 'a media_url with a control character is WO874 (it was stored and published)');
SELECT is((SELECT count(*) FROM workorder.orders), :orders_before::bigint, 'none of them made an order');
-- Blanks are trimmed as submit() and the inbox trim them: a description of only an
-- ideographic space, a tab and a zero-width space is none (the service's name
-- describes the order; it was WO303), and a no-break space after lat is no error.
-- (In a savepoint: the test's orders share one second, which a page below counts.)
SAVEPOINT blank_post;
SELECT workorder.open311_post_request(
           '{"service_code": "CITY_NOISE", "lat": "24.1\u00a0", "long": " 115.1", "description": "\u3000\t\u200b", "idempotency_key": "blank-1"}')
       -> 0 ->> 'service_request_id' AS blank_posted \gset
SELECT is((SELECT description FROM workorder.orders WHERE ticket::text = :'blank_posted'),
          (SELECT name FROM workorder.categories WHERE code = 'CITY_NOISE'),
          'a POST whose description is only blanks is described by its service''s name, its lat trimmed of a no-break space');
ROLLBACK TO SAVEPOINT blank_post;

-- A retry is what it asks for: another api_key (rotated between the attempts), a
-- jurisdiction_id, lat as a string instead of a number are the same request.
SELECT is(workorder.open311_post_request(jsonb_build_object(
              'service_code', 'WATER_FLOOD', 'lat', '24.1', 'long', 115.1, 'description', '积水', 'api_key', 'key-2027-q1',
              'jurisdiction_id', ' ', 'first_name', '女士', 'last_name', '陈', 'phone', '13912345678', 'email', 'chen@example.com',
              'device_id', 'device-secret', 'account_id', 'acc-secret', 'idempotency_key', 'r3')) -> 0 ->> 'service_request_id',
          (SELECT ticket FROM made WHERE ref = 'r3'),
          'a retry with another api_key, a jurisdiction_id and lat as a string returns its request (it was WO876, HTTP 422)');
-- An order that keeps the hash of its whole POST but the key, as 0.5 first kept it,
-- takes a retry that repeats that POST byte for byte.
\set r1post '{"service_code": "CITY_NOISE", "lat": 24.1, "long": 115.1, "description": "噪音", "api_key": "old", "idempotency_key": "r1"}'
UPDATE workorder.orders
   SET attributes = jsonb_set(attributes, '{open311,request_sha256}',
                              to_jsonb(encode(sha256(convert_to((:'r1post'::jsonb - 'idempotency_key')::text, 'UTF8')), 'hex')))
 WHERE channel_ref = 'r1';
SELECT is(workorder.open311_post_request(:'r1post') -> 0 ->> 'service_request_id', (SELECT ticket FROM made WHERE ref = 'r1'),
          'a request hashed the way 0.5 first hashed it is found by its retry');

-- Paging by end_date at the precision requests show (whole seconds) loses nothing:
-- the orders of one transaction share a received_at, and the rest of that second was
-- lost when end_date was the last requested_datetime a page showed.
SELECT count(workorder.submit('hotline', 'PG-' || i, '0305', '噪音页' || i, lon => 115.05, lat => 24.05)) AS paged
  FROM generate_series(1, 3) i \gset
SELECT workorder.open311_requests(max_results => 1) -> 0 ->> 'requested_datetime' AS page_end \gset
SELECT is((SELECT count(*)::integer FROM jsonb_array_elements(workorder.open311_requests(end_date => :'page_end', max_results => 10)) r
            WHERE r ->> 'requested_datetime' = :'page_end'),
          (SELECT count(*)::integer FROM workorder.orders WHERE workorder.open311_time(received_at) = :'page_end'),
          'a page ending at a shown time holds every request of that second');
SELECT ok((SELECT count(*) FROM workorder.orders WHERE workorder.open311_time(received_at) = :'page_end') >= 3,
          '... three of them here (one transaction)');

SELECT * FROM finish();
ROLLBACK;
