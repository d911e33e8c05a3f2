import { useEffect, useState, type RefObject } from 'react';

/**
 * The content width of `ref`'s element in whole pixels, kept current by a ResizeObserver;
 * 0 until it is first measured. A hidden element (width 0) keeps its last width, so what
 * depends on it is not torn down while it is out of sight.
 */
export function useElementWidth(ref: RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => {
      const next = Math.round(entry!.contentRect.width);
      if (next > 0) setWidth(next);
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}
