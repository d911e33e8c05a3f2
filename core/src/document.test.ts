import {
  MAX_TEXT_LENGTH,
  MAX_WIDGETS,
  createDocument,
  newWidget,
  normalizeLayout,
  validateDocument,
  validateWidget,
  type DashboardDocument,
  type Widget,
} from './document.js';

function docWith(...widgets: Widget[]): DashboardDocument {
  return {
    title: 'Ops',
    widgets: Object.fromEntries(widgets.map((w) => [w.id, w])),
    layout: widgets.map((w) => w.id),
  };
}

const note = (id: string, extra: Partial<Widget> = {}): Widget => newWidget('note', { id, ...extra });

describe('createDocument', () => {
  it('creates an empty, valid document', () => {
    expect(createDocument('Sales')).toEqual({ title: 'Sales', widgets: {}, layout: [] });
    expect(validateDocument(createDocument('Sales'))).toBeNull();
  });
});

describe('newWidget', () => {
  it('fills per-type defaults and a fresh id', () => {
    const a = newWidget('note');
    const b = newWidget('note');
    expect(a.id).not.toBe(b.id);
    expect(a.id).toMatch(/^[0-9a-f]{16}$/);
    expect(a).toMatchObject({ type: 'note', text: '', config: {}, x: 0, y: 0 });
    expect(newWidget('metric').config).toEqual({ value: 0 });
    expect(newWidget('chart').config).toEqual({ kind: 'line', series: [] });
    expect(newWidget('table').config).toEqual({ columns: [], rows: [] });
    expect(newWidget('sparkline').config).toEqual({});
    for (const type of ['note', 'metric', 'chart', 'table', 'sparkline']) {
      expect(validateWidget(newWidget(type))).toBeNull();
    }
  });

  it('applies overrides and merges config over the defaults', () => {
    const chart = newWidget('chart', { id: 'c1', x: 3, config: { kind: 'bar' } });
    expect(chart).toMatchObject({ id: 'c1', x: 3, config: { kind: 'bar', series: [] } });
  });
});

describe('validateDocument [OP5]', () => {
  const valid = docWith(
    note('n1', { text: 'hello' }),
    newWidget('metric', { id: 'm1', config: { value: 3, unit: '%', extra: true } }),
    newWidget('chart', {
      id: 'c1',
      config: {
        kind: 'area',
        series: [
          {
            name: 's',
            points: [
              [0, 1],
              [1, 2.5],
            ],
          },
        ],
      },
    }),
    newWidget('table', { id: 't1', config: { columns: ['a'], rows: [[1, 'x', null]] } }),
    newWidget('gauge', { id: 'g1', config: { anything: [1, 2] } }),
  );

  it('accepts a well-formed document with extra config keys and unknown widget types', () => {
    expect(validateDocument(valid)).toBeNull();
  });

  it('[OP5] tolerates layout ids without a widget and widgets missing from the layout', () => {
    expect(validateDocument({ ...valid, layout: ['gone', 'n1'] })).toBeNull();
  });

  const broken: [string, (d: any) => void, string][] = [
    ['extra top-level key', (d) => (d.version = 1), 'document has an unexpected key "version"'],
    ['missing layout', (d) => delete d.layout, 'layout is missing'],
    ['non-string title', (d) => (d.title = 5), 'title must be a string'],
    ['long title', (d) => (d.title = 'x'.repeat(201)), 'title must be at most 200 characters'],
    ['widgets array', (d) => (d.widgets = []), 'widgets must be an object'],
    ['layout not array', (d) => (d.layout = {}), 'layout must be an array'],
    ['layout non-string', (d) => d.layout.push(3), 'layout[5] must be a string'],
    ['layout duplicates', (d) => d.layout.push('n1'), 'layout must not repeat a widget id'],
    ['key != id', (d) => (d.widgets.n1.id = 'other'), 'widgets.n1.id must equal its key'],
    ['NaN x', (d) => (d.widgets.n1.x = NaN), 'widgets.n1.x must be a finite number'],
    ['string y', (d) => (d.widgets.n1.y = '1'), 'widgets.n1.y must be a finite number'],
    ['negative x', (d) => (d.widgets.n1.x = -1), 'widgets.n1.x must not be negative'],
    ['zero w', (d) => (d.widgets.n1.w = 0), 'widgets.n1.w must be greater than 0'],
    ['empty type', (d) => (d.widgets.n1.type = ''), 'widgets.n1.type must be a non-empty string'],
    ['extra widget key', (d) => (d.widgets.n1.color = 'red'), 'widgets.n1 has an unexpected key "color"'],
    ['missing text', (d) => delete d.widgets.n1.text, 'widgets.n1.text is missing'],
    ['config array', (d) => (d.widgets.n1.config = []), 'widgets.n1.config must be an object'],
    ['metric value', (d) => (d.widgets.m1.config.value = '3'), 'widgets.m1.config.value must be a finite number'],
    ['chart kind', (d) => (d.widgets.c1.config.kind = 'pie'), 'widgets.c1.config.kind must be one of line, bar, area'],
    [
      'chart point',
      (d) => d.widgets.c1.config.series[0].points.push([1]),
      'widgets.c1.config.series[0].points[2] must be a pair of finite numbers',
    ],
    [
      'chart name',
      (d) => (d.widgets.c1.config.series[0].name = 1),
      'widgets.c1.config.series[0].name must be a string',
    ],
    ['table columns', (d) => (d.widgets.t1.config.columns = [1]), 'widgets.t1.config.columns[0] must be a string'],
    ['table rows', (d) => (d.widgets.t1.config.rows = [1]), 'widgets.t1.config.rows[0] must be an array'],
  ];
  it.each(broken)('[OP5] rejects %s, naming the path', (_name, breakIt, message) => {
    const doc = structuredClone(valid);
    breakIt(doc);
    expect(validateDocument(doc)).toBe(message);
  });

  it('rejects non-objects', () => {
    expect(validateDocument(null)).toBe('document must be an object');
    expect(validateDocument([])).toBe('document must be an object');
  });

  it('counts the text limit in code points', () => {
    const emoji = '😀'.repeat(MAX_TEXT_LENGTH); // 200k UTF-16 units, 100k code points
    expect(validateDocument(docWith(note('n', { text: emoji })))).toBeNull();
    expect(validateDocument(docWith(note('n', { text: emoji + 'x' })))).toBe(
      'widgets.n.text must be at most 100000 code points',
    );
  });

  it('limits the number of widgets', () => {
    const many = docWith(...Array.from({ length: MAX_WIDGETS + 1 }, (_, i) => note(`w${i}`)));
    expect(validateDocument(many)).toBe('widgets must hold at most 500 widgets');
  });

  it('[OP3] given the document before, only rejects limits the op made worse', () => {
    // Concurrent valid ops can combine past a limit; later ops must still be accepted.
    const over = docWith(...Array.from({ length: MAX_WIDGETS + 1 }, (_, i) => note(`w${i}`)));
    const moved = structuredClone(over);
    moved.widgets.w0!.x = 5;
    expect(validateDocument(moved, over)).toBeNull();
    expect(validateDocument({ ...over, widgets: { ...over.widgets, extra: note('extra') } }, over)).toBe(
      'widgets must hold at most 500 widgets',
    );

    const long = docWith(note('n', { text: 'x'.repeat(MAX_TEXT_LENGTH + 10) }));
    const shorter = docWith(note('n', { text: 'x'.repeat(MAX_TEXT_LENGTH + 5) }));
    expect(validateDocument(shorter, long)).toBeNull();
    expect(validateDocument(long, shorter)).toMatch(/text must be at most/);

    const dup = { ...valid, layout: [...valid.layout, 'n1'] };
    expect(validateDocument({ ...dup, title: 'renamed' }, dup)).toBeNull();
    expect(validateDocument({ ...dup, layout: [...dup.layout, 'm1'] }, dup)).toBe('layout must not repeat a widget id');
  });
});

describe('normalizeLayout', () => {
  it('keeps existing layout ids in order, then appends missing widgets sorted', () => {
    const doc = docWith(note('b'), note('a'), note('c'));
    doc.layout = ['c', 'gone', 'b', 'c'];
    expect(normalizeLayout(doc)).toEqual(['c', 'b', 'a']);
  });

  it('ignores inherited property names', () => {
    expect(normalizeLayout({ title: '', widgets: {}, layout: ['constructor'] })).toEqual([]);
  });
});
