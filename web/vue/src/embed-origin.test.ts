import { describe, expect, it } from '@jest/globals';
import { embedOrigins, isAllowedOrigin, parseViewerMessage, refusal } from './embed-origin.js';

const OWN = 'https://dash.example';

describe('[EM2] the viewer accepts a posted token only from allowed origins', () => {
  it('trusts its own origin and the listed ones, exactly', () => {
    expect(isAllowedOrigin(OWN, OWN, [])).toBe(true);
    expect(isAllowedOrigin('https://site.example', OWN, ['https://site.example'])).toBe(true);
    expect(isAllowedOrigin('https://evil.example', OWN, [])).toBe(false);
    expect(isAllowedOrigin('https://evil.example', OWN, ['https://site.example'])).toBe(false);
    expect(isAllowedOrigin('http://site.example', OWN, ['https://site.example'])).toBe(false);
    expect(isAllowedOrigin('https://site.example:8443', OWN, ['https://site.example'])).toBe(false);
    expect(isAllowedOrigin('https://site.example.evil.example', OWN, ['https://site.example'])).toBe(false);
  });

  it('* allows any origin, but never an opaque one', () => {
    expect(isAllowedOrigin('https://anyone.example', OWN, ['*'])).toBe(true);
    expect(isAllowedOrigin('null', OWN, ['*'])).toBe(false);
    expect(isAllowedOrigin('', OWN, ['*'])).toBe(false);
  });

  it('reads only well-formed messages and configs', () => {
    expect(parseViewerMessage({ type: 'collab-viewer', dashboardId: 'd', token: 't' })).toEqual({
      dashboardId: 'd',
      token: 't',
    });
    expect(parseViewerMessage({ type: 'collab-viewer', dashboardId: 'd' })).toBeNull();
    expect(parseViewerMessage({ type: 'other', dashboardId: 'd', token: 't' })).toBeNull();
    expect(parseViewerMessage('collab-viewer')).toBeNull();
    expect(parseViewerMessage(null)).toBeNull();
    expect(embedOrigins({ origins: ['https://a.example', 3] })).toEqual(['https://a.example']);
    expect(embedOrigins({ error: 'nope' })).toEqual([]);
    expect(refusal('https://evil.example')).toMatchObject({ type: 'collab-viewer-error', code: 'ORIGIN_NOT_ALLOWED' });
  });
});
