// What the upstream end-to-end tests check of what reached the hub: every message a device saw
// acknowledged, in order per device, duplicates allowed (at-least-once) and counted; and the
// gateway's own view of its upstream queue.
import assert from 'node:assert/strict';

export function queueLength(metricsText) {
  const line = metricsText.split('\n').find((l) => l.startsWith('edgehub_queue_length{') &&
                                                   l.includes('endpoint="iothub"'));
  return line ? Number(line.split(' ').pop()) : 0;
}

export function metricValue(metricsText, name) {
  const line = metricsText.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : undefined;
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
