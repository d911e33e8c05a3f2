/**
 * How a metric tile shows its numbers: short enough for the default 2x2 tile (compact or
 * scientific notation for long values, the exact value kept for tooltips and screen
 * readers), and the delta's arrow and colour, which `lowerIsBetter` turns around (a falling
 * latency is good news). Framework-free, so every client renders a metric from the same
 * view model (CONVENTIONS.md 17).
 */

/** Below this size a value is written out; from it up, compact ("123K", "12.3M", "1.5T"). */
const COMPACT_FROM = 100_000;
/** Intl's compact notation stops at trillions ("1000T"): larger values go scientific. */
const SCIENTIFIC_FROM = 1e15;
/** Smaller magnitudes go scientific ("-1.23E-4") instead of a row of zeros. */
const SCIENTIFIC_BELOW = 0.01;

export type DeltaTone = 'good' | 'bad';

export interface MetricDeltaView {
  /** The arrow and the compact magnitude, e.g. "▼ 1.2K". */
  text: string;
  direction: 'up' | 'down';
  tone: DeltaTone;
  /** The signed change written out, for a tooltip. */
  full: string;
  /** The change in words, for screen readers: "down 15 (good)". */
  spoken: string;
}

export interface MetricView {
  /** The value as the tile shows it. */
  value: string;
  /** The value written out in full. */
  fullValue: string;
  /** The value written out with its unit, for a tooltip: "12,345,678.9 ms". */
  fullText: string;
  unit: string | null;
  label: string | null;
  delta: MetricDeltaView | null;
  /** The whole tile in one sentence, e.g. "p95 latency: 120 ms, down 15 (good)". */
  description: string;
}

/**
 * `value` short enough for a small tile: at most about six characters for any magnitude
 * ("12.3M", "1.5T", "-1.23E-4", "1,234", "3.14"). `locale` defaults to the browser's.
 */
export function formatMetricNumber(value: number, locale?: string): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0'; // also -0
  const size = Math.abs(value);
  const options: Intl.NumberFormatOptions =
    size >= SCIENTIFIC_FROM || size < SCIENTIFIC_BELOW
      ? { notation: 'scientific', maximumSignificantDigits: 3 }
      : size >= COMPACT_FROM
        ? { notation: 'compact', maximumSignificantDigits: 3 }
        : size >= 1000
          ? { maximumFractionDigits: 0 }
          : size >= 1
            ? { maximumFractionDigits: 2 }
            : { maximumSignificantDigits: 3 };
  return new Intl.NumberFormat(locale, options).format(value);
}

/** `value` written out (15 significant digits: no floating-point noise such as 0.30000000000000004). */
export function formatFullNumber(value: number, locale?: string): string {
  if (!Number.isFinite(value)) return String(value);
  return new Intl.NumberFormat(locale, { maximumSignificantDigits: 15 }).format(value);
}

/**
 * Whether a change is good news. By default a rise is good (and no change counts as good,
 * as the tile always showed it); with `lowerIsBetter` a fall is.
 */
export function deltaTone(delta: number, lowerIsBetter: boolean): DeltaTone {
  return (lowerIsBetter ? delta <= 0 : delta >= 0) ? 'good' : 'bad';
}

/**
 * The view model of a metric widget's config (`value`, `unit`, `label`, `delta`,
 * `lowerIsBetter`), tolerating missing or mistyped keys as the renderers always have.
 */
export function metricView(config: Record<string, unknown>, locale?: string): MetricView {
  const value = typeof config.value === 'number' && Number.isFinite(config.value) ? config.value : 0;
  const unit = typeof config.unit === 'string' && config.unit !== '' ? config.unit : null;
  const label = typeof config.label === 'string' && config.label !== '' ? config.label : null;
  const rawDelta = config.delta;
  let delta: MetricDeltaView | null = null;
  if (typeof rawDelta === 'number' && Number.isFinite(rawDelta)) {
    const direction = rawDelta >= 0 ? 'up' : 'down';
    const tone = deltaTone(rawDelta, config.lowerIsBetter === true);
    delta = {
      text: `${direction === 'up' ? '▲' : '▼'} ${formatMetricNumber(Math.abs(rawDelta), locale)}`,
      direction,
      tone,
      full: formatFullNumber(rawDelta, locale),
      spoken: `${direction} ${formatFullNumber(Math.abs(rawDelta), locale)} (${tone})`,
    };
  }
  const fullValue = formatFullNumber(value, locale);
  const fullText = unit ? `${fullValue} ${unit}` : fullValue;
  const change = delta ? `, ${delta.spoken}` : '';
  return {
    value: formatMetricNumber(value, locale),
    fullValue,
    fullText,
    unit,
    label,
    delta,
    description: `${label ?? 'Metric'}: ${fullText}${change}`,
  };
}
