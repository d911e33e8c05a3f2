/**
 * What every event bus hands its handlers: the published JSON parsed once and frozen in
 * place, so one message object can go to every handler and none can change it for the others.
 */
export function parseBusMessage(json: string): unknown {
  return deepFreeze(JSON.parse(json));
}

/** Freezes a freshly parsed JSON value in place (plain objects and arrays only). */
function deepFreeze<V>(value: V): V {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
