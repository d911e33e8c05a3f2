/**
 * The share dialog's "Embed" section (rule EM1): makes a read-only embed link of a chosen
 * lifetime and shows the iframe snippet to paste into another site, with the sites the server
 * lets frame the viewer (EMBED_ORIGINS, from GET /api/embed-config).
 */
import { useEffect, useState } from 'react';
import { useMutation } from 'urql';
import { CreateEmbedTokenDocument } from '../shared/gql/graphql.js';
import { errorMessage } from '../shared/errors.js';

const LIFETIMES = [
  { seconds: 3600, label: '1 hour' },
  { seconds: 24 * 3600, label: '1 day' },
  { seconds: 7 * 24 * 3600, label: '7 days' },
  { seconds: 30 * 24 * 3600, label: '30 days' },
] as const;

const attribute = (value: string) => value.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');

/** The HTML to paste into a page that shows the dashboard. */
export function iframeSnippet(url: string): string {
  return `<iframe src="${attribute(url)}" title="Dashboard" width="100%" height="600" style="border:0"></iframe>`;
}

function whoMayEmbed(origins: string[] | null): string {
  if (origins === null) return '';
  if (origins.includes('*')) return 'Any website may show it.';
  if (origins.length === 0)
    return 'Only pages of this site may show it: to embed it elsewhere, the server’s EMBED_ORIGINS must list that site.';
  return `Websites allowed to show it: ${origins.join(', ')}.`;
}

export function EmbedLink(props: { dashboardId: string }) {
  const [{ fetching }, create] = useMutation(CreateEmbedTokenDocument);
  const [ttl, setTtl] = useState<number>(24 * 3600);
  const [made, setMade] = useState<{ snippet: string; expiresAt: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [origins, setOrigins] = useState<string[] | null>(null);

  useEffect(() => {
    let live = true;
    fetch('/api/embed-config')
      .then((res) => (res.ok ? (res.json() as Promise<{ origins?: unknown }>) : null))
      .then((body) => {
        const list = Array.isArray(body?.origins) ? body.origins.filter((o) => typeof o === 'string') : [];
        if (live) setOrigins(list);
      })
      .catch(() => live && setOrigins([]));
    return () => {
      live = false;
    };
  }, []);

  const onCreate = async () => {
    setCopied(false);
    const result = await create({ dashboardId: props.dashboardId, ttlSeconds: ttl });
    const token = result.data?.createEmbedToken;
    if (result.error || !token) {
      setError(errorMessage(result.error));
      return;
    }
    setError(null);
    setMade({ snippet: iframeSnippet(token.url), expiresAt: token.expiresAt });
  };

  const onCopy = async () => {
    if (!made) return;
    try {
      await navigator.clipboard.writeText(made.snippet);
      setCopied(true);
    } catch {
      setError('Copying was refused by the browser: select the snippet and copy it yourself.');
    }
  };

  return (
    <section data-testid="embed-section">
      <h3>Embed</h3>
      <p className="muted small">
        A read-only live view for another website. Anyone with the link can view this dashboard, not change it, until
        the link expires or you lose access. {whoMayEmbed(origins)}
      </p>
      <div className="inline-form">
        <select
          value={ttl}
          onChange={(e) => setTtl(Number(e.target.value))}
          aria-label="Embed link lifetime"
          data-testid="embed-ttl"
        >
          {LIFETIMES.map((l) => (
            <option key={l.seconds} value={l.seconds}>
              Expires in {l.label}
            </option>
          ))}
        </select>
        <button className="btn" type="button" onClick={onCreate} disabled={fetching} data-testid="embed-create">
          {made ? 'Create a new link' : 'Create embed link'}
        </button>
      </div>
      {error && (
        <p className="error" role="alert" data-testid="embed-error">
          {error}
        </p>
      )}
      {made && (
        <>
          <textarea
            className="embed-snippet"
            readOnly
            rows={3}
            value={made.snippet}
            aria-label="Embed snippet"
            onFocus={(e) => e.currentTarget.select()}
            data-testid="embed-snippet"
          />
          <div className="inline-form">
            <span className="muted small spacer" data-testid="embed-expires">
              Expires {new Date(made.expiresAt).toLocaleString()}
            </span>
            <button className="btn small" type="button" onClick={onCopy} data-testid="embed-copy">
              {copied ? 'Copied' : 'Copy'}
            </button>
          </div>
        </>
      )}
    </section>
  );
}
