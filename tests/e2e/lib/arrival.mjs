// What the upstream end-to-end tests check of what reached the hub: every message a device saw
// acknowledged, in order per device, duplicates allowed (at-least-once) and counted; and the
// gateway's own view of its upstream queue and other metrics.
import assert from 'node:assert/strict';

export function queueLength(metricsText) {
  const line = metricsText.split('\n').find((l) => l.startsWith('edgehub_queue_length{') &&
                                                   l.includes('endpoint="iothub"'));
  return line ? Number(line.split(' ').pop()) : 0;
}

/**
 * The sum of the samples of metric `name` whose labels include `labels`: a text such as
 * 'result="ok"', or an object such as { result: 'ok' } (each pair must be present). Undefined
 * when no sample matches, so that a wait for 0 does not pass on a metric not yet exported.
 */
export function metricValue(metricsText, name, labels = '') {
  const wanted = typeof labels === 'string' ? [labels]
    : Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const lines = metricsText.split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => wanted.every((w) => l.includes(w)));
  return lines.length ? lines.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0) : undefined;
}

/** In-order check per device that tolerates duplicates (at-least-once), and lists them. */
export function checkArrived(sent, arrived, label) {
  const seen = new Set(arrived);
  const missing = sent.filter((b) => !seen.has(b));
  assert.deepEqual(missing, [], `${label}: acknowledged messages missing upstream`);
  const firsts = [];
  const dupes = [];
  const counted = new Set();
  for (const b of arrived) {
    if (counted.has(b)) dupes.push(b); else { counted.add(b); firsts.push(b); }
  }
  const sentSet = new Set(sent);
  assert.deepEqual(firsts.filter((b) => sentSet.has(b)), sent, `${label}: order changed`);
  const shown = dupes.slice(0, 20).join(', ') + (dupes.length > 20 ? ', ...' : '');
  console.log(`${label}: ${sent.length} sent, ${arrived.length} arrived, ${dupes.length} duplicates${
    dupes.length ? ` (${shown})` : ''}`);
}
