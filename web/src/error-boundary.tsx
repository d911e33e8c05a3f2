import { Component, type ReactNode } from 'react';
import { errorMessage } from '../shared/errors.js';

/** Never a blank screen: a render error shows a message and a way back. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  state = { error: null as unknown };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  render() {
    if (this.state.error === null) return this.props.children;
    return (
      <div className="fatal" role="alert" data-testid="error-boundary">
        <h1>Something went wrong</h1>
        <p>{errorMessage(this.state.error)}</p>
        <button
          className="btn primary"
          onClick={() => {
            this.setState({ error: null });
            window.location.hash = '#/';
          }}
        >
          Back to dashboards
        </button>
      </div>
    );
  }
}
