import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { Provider } from 'urql';
import { print } from 'graphql';
import { createSessionStore } from './session.js';
import { createAppConnection } from './app-connection.js';
import { AuthPage } from './auth-page.js';
import { DashboardList } from './dashboard-list.js';
import { ApiTokensPage } from './api-tokens-page.js';
import { Editor } from './editor.js';
import { ToastProvider } from './toast.js';
import { Avatar } from './presence-list.js';
import { LogOutDocument } from '../shared/gql/graphql.js';

const sessions = createSessionStore();

function useRoute(): string {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const onChange = () => setHash(window.location.hash);
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return hash.replace(/^#/, '') || '/';
}

export function App() {
  const session = useSyncExternalStore(sessions.subscribe, () => sessions.current);
  const userId = session?.user.id;
  // One connection per signed-in user; a token refresh keeps it.
  const connection = useMemo(() => (userId ? createAppConnection(sessions) : null), [userId]);
  useEffect(() => () => connection?.dispose(), [connection]);
  const route = useRoute();

  if (!session || !connection) {
    return (
      <ToastProvider>
        <AuthPage onSession={(s) => sessions.set(s)} />
      </ToastProvider>
    );
  }

  const logOut = async () => {
    const refreshToken = session.refreshToken;
    sessions.clear();
    window.location.hash = '#/';
    await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: print(LogOutDocument), variables: { refreshToken } }),
    }).catch(() => {});
  };

  const match = /^\/d\/([^/]+)/.exec(route);
  return (
    <Provider value={connection.urql}>
      <ToastProvider>
        <div className="app">
          <header className="topbar">
            <a className="brand" href="#/">
              <span className="logo" aria-hidden="true">
                ▦
              </span>
              Dashboards
            </a>
            <nav className="nav" aria-label="Main">
              <a
                href="#/"
                aria-current={match || route === '/tokens' ? undefined : 'page'}
                data-testid="nav-dashboards"
              >
                Your dashboards
              </a>
              <a href="#/tokens" aria-current={route === '/tokens' ? 'page' : undefined} data-testid="nav-api-tokens">
                API tokens
              </a>
            </nav>
            <div className="spacer" />
            <div className="me" data-testid="current-user">
              <Avatar name={session.user.name} color={session.user.color} />
              <span className="me-name">{session.user.name}</span>
            </div>
            <button className="btn ghost" onClick={logOut} data-testid="log-out">
              Log out
            </button>
          </header>
          {match ? (
            <Editor
              key={match[1]}
              dashboardId={decodeURIComponent(match[1]!)}
              connection={connection}
              user={session.user}
            />
          ) : route === '/tokens' ? (
            <ApiTokensPage />
          ) : (
            <DashboardList />
          )}
        </div>
      </ToastProvider>
    </Provider>
  );
}
