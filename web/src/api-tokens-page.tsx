/**
 * The API tokens page (DESIGN.md section 11, rule SC1): the user's tokens with their scope in
 * words and their last use, a form for a new scoped token, its secret shown once, and revoking.
 */
import { useMemo, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import {
  ApiTokenFieldsFragmentDoc,
  ApiTokensDocument,
  DashboardSummaryFragmentDoc,
  DashboardsDocument,
  RevokeApiTokenDocument,
  type ApiTokenFieldsFragment,
} from '../shared/gql/graphql.js';
import { useFragment as unmask } from '../shared/gql/index.js';
import { errorMessage } from '../shared/errors.js';
import { describeLastUse, describeScope } from './api-token-scope.js';
import { localDate } from './expiry.js';
import { useNow } from './expiry-picker.js';
import { NewTokenForm, NewTokenSecret } from './new-token-form.js';
import { useToast } from './toast.js';

export function ApiTokensPage() {
  const [{ data, fetching, error }, refetch] = useQuery({ query: ApiTokensDocument });
  const [{ data: boards }] = useQuery({ query: DashboardsDocument });
  const [made, setMade] = useState<{ name: string; token: string } | null>(null);
  const tokens = unmask(ApiTokenFieldsFragmentDoc, data?.apiTokens ?? []);
  const dashboards = unmask(DashboardSummaryFragmentDoc, boards?.dashboards ?? []);
  const titles = useMemo(() => new Map(dashboards.map((d) => [d.id, d.title])), [dashboards]);
  const now = useNow(30_000);
  const reload = () => refetch({ requestPolicy: 'network-only' });

  return (
    <main className="page tokens-page" data-testid="api-tokens-page">
      <div className="page-head">
        <h1>API tokens</h1>
      </div>
      <p className="muted">
        Scripts and integrations use a token instead of your password. Give each one only the dashboards and actions it
        needs, an end date, and the addresses it runs from; revoke it when it is no longer used.
      </p>
      {made && <NewTokenSecret name={made.name} token={made.token} onDone={() => setMade(null)} />}
      <div className="tokens-layout">
        <section className="tokens-list">
          <h2>Your tokens</h2>
          {error && (
            <p className="error" role="alert">
              {errorMessage(error)}
            </p>
          )}
          {fetching && !data && <p className="muted">Loading…</p>}
          {data && tokens.length === 0 && (
            <div className="empty card" data-testid="no-tokens">
              <p>No API tokens yet.</p>
            </div>
          )}
          <ul className="token-list" data-testid="token-list">
            {tokens.map((t) => (
              <TokenRow key={t.id} token={t} titles={titles} now={now} onRevoked={reload} />
            ))}
          </ul>
        </section>
        <NewTokenForm
          dashboards={dashboards}
          onCreated={(created) => {
            setMade(created);
            reload();
          }}
        />
      </div>
    </main>
  );
}

function TokenRow(props: {
  token: ApiTokenFieldsFragment;
  titles: ReadonlyMap<string, string>;
  now: Date;
  onRevoked(): void;
}) {
  const { token } = props;
  const [{ fetching }, revoke] = useMutation(RevokeApiTokenDocument);
  const toast = useToast();
  const onRevoke = async () => {
    if (!window.confirm(`Revoke “${token.name}”? Anything using it stops working at once.`)) return;
    const result = await revoke({ id: token.id });
    if (result.error) toast(errorMessage(result.error));
    props.onRevoked();
  };
  const lines = describeScope(token, props.titles, props.now);
  return (
    <li className="card token-card" data-testid="api-token" data-name={token.name} data-id={token.id}>
      <div className="token-head">
        <strong className="token-name">{token.name}</strong>
        <div className="spacer" />
        <button className="btn small danger" onClick={onRevoke} disabled={fetching} data-testid="revoke-token">
          Revoke
        </button>
      </div>
      <ul className="token-scope">
        {lines.map((line) => (
          <li key={line.key} data-testid={`token-${line.key}`}>
            {line.text}
          </li>
        ))}
      </ul>
      <div className="muted small token-use">
        <span>Created {localDate(new Date(token.createdAt))}</span>
        <span data-testid="token-last-used">{describeLastUse(token, props.now)}</span>
      </div>
    </li>
  );
}
