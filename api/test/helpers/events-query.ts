/**
 * Every event of dashboardEvents with its fields: the selection the api tests and the
 * benchmark clients subscribe with (one copy, so both measure and check the same stream).
 */
export const EVENTS = `subscription($d: ID!, $c: ID!, $f: Int) {
  dashboardEvents(dashboardId: $d, clientId: $c, fromVersion: $f) {
    __typename
    ... on OperationApplied { version op clientId seq author { id } createdAt }
    ... on SyncCompleted { version }
    ... on CheckpointCreated { checkpoint { id name version } }
    ... on DashboardChanged { dashboard { id myRole } }
    ... on AccessRevoked { dashboardId reason }
    ... on PresenceUpdated { presence { clientId user { id name color } cursor selection version status lastSeen } }
    ... on PresenceLeft { clientId user { id } }
  }
}`;
