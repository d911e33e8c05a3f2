import { createRoot } from 'react-dom/client';
import { App } from './app.js';
import { ErrorBoundary } from './error-boundary.js';
import '../shared/widgets.css';
import './styles.css';
import '../shared/live-widgets.css';
import './live-data.css';

createRoot(document.getElementById('root')!).render(
  <ErrorBoundary>
    <App />
  </ErrorBoundary>,
);
