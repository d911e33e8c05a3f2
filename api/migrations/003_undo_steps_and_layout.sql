-- Rule UN2: a typing run is one undo step. `undo_group` is the version of the first op of the
-- step an op belongs to (its own version when it starts one); undo takes a whole step. On an
-- undo op it names the step it reverted. Null on rows from before this migration: each is a
-- step of its own.
ALTER TABLE operations ADD COLUMN undo_group integer;

-- Rule LY2: the server's own layout fix-ups (widgets pushed apart after concurrent moves).
ALTER TABLE operations DROP CONSTRAINT operations_kind_check;
ALTER TABLE operations ADD CONSTRAINT operations_kind_check
  CHECK (kind IN ('edit', 'undo', 'redo', 'restore', 'rename', 'layout'));
