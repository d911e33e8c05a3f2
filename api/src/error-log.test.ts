import { Writable } from 'node:stream';
import { GraphQLError } from 'graphql';
import { DomainError } from './errors.js';
import { classifyError, createErrorLog } from './error-log.js';
import { createLogger } from './logger.js';

describe('classifyError', () => {
  it('expected codes are info, RATE_LIMITED and UNAVAILABLE warn, anything else error', () => {
    expect(classifyError(new DomainError('BAD_USER_INPUT', 'Title too long')).level).toBe('info');
    expect(classifyError(new DomainError('PAYLOAD_TOO_LARGE', 'big')).level).toBe('info');
    expect(classifyError(new DomainError('RATE_LIMITED', 'slow down')).level).toBe('warn');
    expect(classifyError(new TypeError('bug'))).toMatchObject({ level: 'error', code: 'INTERNAL_SERVER_ERROR' });
  });

  it('looks through GraphQLError wrappers, and reads a driver failure as UNAVAILABLE with its cause', () => {
    const wrapped = new GraphQLError('Wrong email or password', {
      originalError: new DomainError('UNAUTHENTICATED', 'Wrong email or password'),
    });
    expect(classifyError(wrapped)).toEqual({
      level: 'info',
      code: 'UNAUTHENTICATED',
      message: 'Wrong email or password',
    });
    // What the store throws for a lost database (adapters/sql/errors.ts): the driver's error is its cause.
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const unavailable = Object.assign(new DomainError('UNAVAILABLE', 'The database is unavailable'), {
      cause: refused,
    });
    expect(classifyError(new GraphQLError('x', { originalError: unavailable }))).toMatchObject({
      level: 'warn',
      code: 'UNAVAILABLE',
      cause: 'connect ECONNREFUSED 127.0.0.1:5432',
    });
  });

  it("graphql-js's own errors (parse, validation) are the caller's mistakes", () => {
    const parse = new GraphQLError('Syntax Error', { extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
    expect(classifyError(parse)).toMatchObject({ level: 'info', code: 'GRAPHQL_PARSE_FAILED' });
  });
});

it('createErrorLog writes expected errors without a stack and unexpected ones with it', () => {
  const entries: any[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      entries.push(
        ...String(chunk)
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
      );
      done();
    },
  });
  const log = createErrorLog(createLogger('info', sink));
  log(
    new GraphQLError('Dashboard not found', {
      path: ['renameDashboard'],
      originalError: new DomainError('NOT_FOUND', 'Dashboard not found'),
    }),
  );
  log(new DomainError('UNAVAILABLE', 'The database is unavailable'), { connectionId: 'c1' }, 'connection_init refused');
  log(new TypeError('a bug'), { where: 'hub' }, 'hub error');
  expect(entries.map((e) => [e.level, e.msg, e.code])).toEqual([
    [30, 'Dashboard not found', 'NOT_FOUND'],
    [40, 'connection_init refused', 'UNAVAILABLE'],
    [50, 'hub error', undefined],
  ]);
  expect(entries[0].path).toBe('renameDashboard');
  expect(entries[1]).toMatchObject({ connectionId: 'c1', error: 'The database is unavailable' });
  expect(JSON.stringify(entries.slice(0, 2))).not.toContain('stack');
  expect(entries[2].err.stack).toContain('TypeError: a bug');
});
