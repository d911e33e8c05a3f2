import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Services } from '../services/services.js';
import {
  featurePlugins,
  featureYogaOptions,
  routeRequest,
  startFeatures,
  type Feature,
  type RunningApp,
} from './feature.js';

const services = {} as Services;
const app = { services } as RunningApp;
const req = {} as IncomingMessage;
const res = {} as ServerResponse;

describe('features', () => {
  it('start hooks run in order; each closer is registered under its feature name and returned', async () => {
    const calls: string[] = [];
    const feature = (name: string, opens: boolean): Feature => ({
      name,
      async start(s) {
        expect(s).toBe(services);
        calls.push(`start ${name}`);
        return opens ? async () => calls.push(`close ${name}`) : undefined;
      },
    });
    const opened: string[] = [];
    const closers = await startFeatures(
      [feature('a', true), { name: 'no hooks' }, feature('b', false), feature('c', true)],
      services,
      (name) => opened.push(name),
    );
    expect(opened).toEqual(['a', 'c']);
    for (const close of closers) await close();
    expect(calls).toEqual(['start a', 'start b', 'start c', 'close a', 'close c']);
  });

  it('a request goes to the first route that answers it; none answering is false', async () => {
    const asked: string[] = [];
    const route =
      (name: string, answers: (path: string) => boolean): Feature['route'] =>
      async (_req, _res, path) => {
        asked.push(name);
        return answers(path);
      };
    const features: Feature[] = [
      { name: 'health', route: route('health', (p) => p === '/healthz') },
      { name: 'plugins only' },
      { name: 'web', route: route('web', (p) => p === '/') },
      { name: 'never', route: route('never', () => true) },
    ];
    expect(await routeRequest(features, req, res, '/', app)).toBe(true);
    expect(asked).toEqual(['health', 'web']);
    expect(await routeRequest(features.slice(0, 3), req, res, '/nope', app)).toBe(false);
  });

  it('plugins keep feature order; a later feature wins a Yoga option', () => {
    const one = { onExecute: () => {} };
    const two = { onParse: () => {} };
    const features: Feature[] = [
      { name: 'a', plugins: () => [one], yoga: { graphiql: false, landingPage: false } },
      { name: 'b' },
      { name: 'c', plugins: () => [two], yoga: { graphiql: true } },
    ];
    expect(featurePlugins(features)).toEqual([one, two]);
    expect(featureYogaOptions(features)).toEqual({ graphiql: true, landingPage: false });
  });
});
