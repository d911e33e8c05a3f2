/**
 * Makes a scoped API token (rule SC1): a name, the dashboards, the actions, an end and the
 * addresses it may be used from. What the server refuses is said inline, in its own words.
 * The secret comes back once and is shown by `NewTokenSecret` until it is dismissed.
 */
import { useState, type FormEvent } from 'react';
import { useMutation } from 'urql';
import { CreateApiTokenDocument, type TokenAction } from '../shared/gql/graphql.js';
import { errorCode, errorMessage } from '../shared/errors.js';
import { scopeErrorMessage, TOKEN_ACTIONS, tokenRequest, type TokenForm } from './api-token-scope.js';
import { ExpiryPicker } from './expiry-picker.js';

const EMPTY: TokenForm = {
  name: '',
  dashboards: null,
  actions: ['READ'],
  expiry: { preset: '30d', custom: '' },
  allowFrom: '',
};

export function NewTokenForm(props: {
  dashboards: readonly { id: string; title: string }[];
  onCreated(made: { name: string; token: string }): void;
}) {
  const [{ fetching }, create] = useMutation(CreateApiTokenDocument);
  const [form, setForm] = useState<TokenForm>(EMPTY);
  const [error, setError] = useState<string | null>(null);
  const change = (patch: Partial<TokenForm>) => setForm((f) => ({ ...f, ...patch }));
  const toggle = <T,>(items: readonly T[], item: T, on: boolean) =>
    on ? [...items.filter((x) => x !== item), item] : items.filter((x) => x !== item);

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const request = tokenRequest(form, new Date());
    if ('error' in request) return setError(request.error);
    const result = await create(request);
    const made = result.data?.createApiToken;
    if (result.error || !made) {
      const message = errorMessage(result.error);
      return setError(errorCode(result.error) === 'BAD_USER_INPUT' ? scopeErrorMessage(message) : message);
    }
    setError(null);
    setForm(EMPTY);
    props.onCreated({ name: request.name, token: made.token });
  };

  return (
    <form className="card token-form" onSubmit={onSubmit} data-testid="new-token-form">
      <h2>New token</h2>
      <label>
        Name
        <input
          value={form.name}
          onChange={(e) => change({ name: e.target.value })}
          placeholder="e.g. Grafana agent, CI deploy job"
          maxLength={100}
          data-testid="token-name"
        />
      </label>

      <fieldset>
        <legend>Dashboards</legend>
        <label className="check">
          <input
            type="radio"
            name="token-dashboards"
            checked={form.dashboards === null}
            onChange={() => change({ dashboards: null })}
            data-testid="token-dashboards-all"
          />
          All my dashboards, including ones I get later
        </label>
        <label className="check">
          <input
            type="radio"
            name="token-dashboards"
            checked={form.dashboards !== null}
            onChange={() => change({ dashboards: form.dashboards ?? [] })}
            data-testid="token-dashboards-some"
          />
          Only the ones I pick
        </label>
        {form.dashboards !== null && (
          <div className="token-choices" data-testid="token-dashboard-choices">
            {props.dashboards.length === 0 && <p className="muted small">You have no dashboards yet.</p>}
            {props.dashboards.map((d) => (
              <label key={d.id} className="check">
                <input
                  type="checkbox"
                  checked={form.dashboards!.includes(d.id)}
                  onChange={(e) => change({ dashboards: toggle(form.dashboards ?? [], d.id, e.target.checked) })}
                  data-testid="token-dashboard"
                  data-title={d.title}
                />
                {d.title}
              </label>
            ))}
          </div>
        )}
      </fieldset>

      <fieldset>
        <legend>It may</legend>
        {TOKEN_ACTIONS.map((a) => (
          <label key={a.action} className="check token-action">
            <input
              type="checkbox"
              checked={form.actions.includes(a.action)}
              onChange={(e) => change({ actions: toggle<TokenAction>(form.actions, a.action, e.target.checked) })}
              data-testid="token-action"
              data-action={a.action}
            />
            <span>
              <strong>{a.label}</strong> <span className="muted">{a.explain}</span>
            </span>
          </label>
        ))}
        <p className="muted small">
          Never more than you can do yourself: a token on a dashboard you only view can only read.
        </p>
      </fieldset>

      <label>
        Expires
        <ExpiryPicker
          value={form.expiry}
          onChange={(expiry) => change({ expiry })}
          presets={['1d', '30d', '90d', 'never', 'custom']}
          label="Token expires"
          testId="token-expiry"
        />
      </label>

      <label>
        Allowed addresses{' '}
        <span className="muted small">(optional) one IP address or CIDR range a line; empty: anywhere</span>
        <textarea
          rows={3}
          value={form.allowFrom}
          onChange={(e) => change({ allowFrom: e.target.value })}
          placeholder={'203.0.113.0/24\n2001:db8::/32'}
          spellCheck={false}
          className="mono"
          data-testid="token-allow-from"
        />
      </label>

      {error && (
        <p className="error" role="alert" data-testid="token-error">
          {error}
        </p>
      )}
      <div>
        <button className="btn primary" type="submit" disabled={fetching} data-testid="create-token">
          Create token
        </button>
      </div>
    </form>
  );
}

/** The secret of a token just made: shown this once, copied, then dismissed for good. */
export function NewTokenSecret(props: { name: string; token: string; onDone(): void }) {
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const onCopy = async () => {
    try {
      await navigator.clipboard.writeText(props.token);
      setCopied(true);
      setError(null);
    } catch {
      setError('Copying was refused by the browser: select the token and copy it yourself.');
    }
  };
  return (
    <section className="card token-secret" role="status" aria-label="New token" data-testid="new-token">
      <h2>Token “{props.name}” created</h2>
      <p>
        <strong>Copy it now: you won’t see it again.</strong> Send it as <code>Authorization: Bearer …</code>. If you
        lose it, revoke it and make a new one.
      </p>
      <div className="inline-form">
        <input
          readOnly
          value={props.token}
          className="mono"
          aria-label="Token secret"
          onFocus={(e) => e.currentTarget.select()}
          data-testid="new-token-secret"
        />
        <button className="btn" type="button" onClick={onCopy} data-testid="copy-token">
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button className="btn primary" type="button" onClick={props.onDone} data-testid="dismiss-token">
          Done
        </button>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
