-- workorder 0.4 -> 0.5: the inbox's reference index is a hash index (install part
-- 70): a btree entry over about 2.7 kB failed a connector's whole COPY.
DROP INDEX workorder.inbox_channel_ref_idx;
CREATE INDEX inbox_channel_ref_idx ON workorder.inbox USING hash (channel_ref);
