-- The undo-stack index covers only the ops that can be on a stack (rule UN1: 'active' on the
-- undo stack, 'redoable' on the redo stack), so a lookup by (dashboard, client, seq) can no
-- longer pick it over the unique index. With thousands of ops per client the planner did,
-- and the commit's duplicate screen (rule OP2) then read every op of the client.
DROP INDEX operations_undo_stack;
CREATE INDEX operations_undo_stack ON operations (dashboard_id, client_id, undo_state, version)
  WHERE undo_state IN ('active', 'redoable');
