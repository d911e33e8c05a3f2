import { useEffect, useState } from 'react';

/** A text field that edits a draft and commits on Enter or blur (Escape reverts). */
export function TitleInput(props: {
  value: string;
  readOnly?: boolean;
  onCommit(value: string): void;
  testId?: string;
  className?: string;
  label: string;
  placeholder?: string;
}) {
  const [draft, setDraft] = useState(props.value);
  const [editing, setEditing] = useState(false);
  useEffect(() => {
    if (!editing) setDraft(props.value);
  }, [props.value, editing]);
  const commit = () => {
    setEditing(false);
    if (draft !== props.value) props.onCommit(draft);
  };
  return (
    <input
      className={props.className}
      value={draft}
      readOnly={props.readOnly}
      aria-label={props.label}
      placeholder={props.placeholder}
      data-testid={props.testId}
      onFocus={() => setEditing(true)}
      onChange={(e) => setDraft(e.target.value)}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === 'Enter') (e.target as HTMLInputElement).blur();
        if (e.key === 'Escape') {
          setDraft(props.value);
          setEditing(false);
        }
      }}
    />
  );
}
