/**
 * Picks when access ends (an API token's or a membership's): a preset, or a date and time
 * of one's own. The choice becomes a date only on submit (expiry.ts, `expiryFrom`), so a
 * preset counts from the moment it is used.
 */
import { useEffect, useState } from 'react';
import { localDateTimeValue, PRESET_LABELS, type ExpiryChoice, type ExpiryPreset } from './expiry.js';

export function ExpiryPicker(props: {
  value: ExpiryChoice;
  onChange(choice: ExpiryChoice): void;
  presets: readonly ExpiryPreset[];
  label: string;
  testId: string;
  /** What "never" reads as here ("Never", "Never (permanent)"). */
  neverLabel?: string;
}) {
  const { value, onChange } = props;
  return (
    <span className="expiry-picker">
      <select
        value={value.preset}
        onChange={(e) => {
          const preset = e.target.value as ExpiryPreset;
          // A custom choice starts from a day ahead, on the minute, for the person to adjust.
          const start = new Date(Date.now() + 86_400_000);
          start.setSeconds(0, 0);
          onChange({ preset, custom: value.custom || (preset === 'custom' ? localDateTimeValue(start) : '') });
        }}
        aria-label={props.label}
        data-testid={props.testId}
      >
        {props.presets.map((preset) => (
          <option key={preset} value={preset}>
            {preset === 'never' ? (props.neverLabel ?? PRESET_LABELS.never) : PRESET_LABELS[preset]}
          </option>
        ))}
      </select>
      {value.preset === 'custom' && (
        <input
          type="datetime-local"
          step={1}
          value={value.custom}
          onChange={(e) => onChange({ ...value, custom: e.target.value })}
          aria-label={`${props.label}: date and time`}
          data-testid={`${props.testId}-custom`}
        />
      )}
    </span>
  );
}

/** The current time, redrawn every `intervalMs`, for views that show "in 5 seconds". */
export function useNow(intervalMs: number): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
