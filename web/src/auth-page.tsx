import { useState, type FormEvent } from 'react';
import { print } from 'graphql';
import { LogInDocument, SignUpDocument, type SessionFragment } from '../shared/gql/graphql.js';
import { toStoredSession, type StoredSession } from './session.js';
import { errorMessage } from '../shared/errors.js';
import { ApiError } from '@collab-dashboards/core';

async function call<T>(query: string, variables: Record<string, unknown>): Promise<T> {
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
  const error = body.errors?.[0];
  if (error) throw new ApiError(error.message, error.extensions?.code);
  return body.data as T;
}

export function AuthPage({ onSession }: { onSession(session: StoredSession): void }) {
  const [mode, setMode] = useState<'login' | 'signup'>('login');
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === 'signup') {
        const data = await call<{ signUp: SessionFragment }>(print(SignUpDocument), { email, name, password });
        onSession(toStoredSession(data.signUp));
      } else {
        const data = await call<{ logIn: SessionFragment }>(print(LogInDocument), { email, password });
        onSession(toStoredSession(data.logIn));
      }
    } catch (e) {
      const code = (e as ApiError).code;
      setError(
        mode === 'login' && code === 'UNAUTHENTICATED' ? 'That email and password do not match.' : errorMessage(e),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="auth">
      <form className="card auth-card" onSubmit={submit} data-testid="auth-form">
        <h1>{mode === 'login' ? 'Welcome back' : 'Create your account'}</h1>
        <p className="muted">Build dashboards together, live.</p>
        {mode === 'signup' && (
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} required data-testid="auth-name" />
          </label>
        )}
        <label>
          Email
          <input
            type="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            required
            autoComplete="email"
            data-testid="auth-email"
          />
        </label>
        <label>
          Password
          <input
            type="password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
            minLength={8}
            autoComplete={mode === 'login' ? 'current-password' : 'new-password'}
            data-testid="auth-password"
          />
        </label>
        {error && (
          <p className="error" role="alert" data-testid="auth-error">
            {error}
          </p>
        )}
        <button className="btn primary" type="submit" disabled={busy} data-testid="auth-submit">
          {mode === 'login' ? 'Log in' : 'Sign up'}
        </button>
        <button
          type="button"
          className="btn link"
          onClick={() => setMode(mode === 'login' ? 'signup' : 'login')}
          data-testid="auth-switch"
        >
          {mode === 'login' ? 'No account yet? Sign up' : 'Already have an account? Log in'}
        </button>
      </form>
    </main>
  );
}
