// The status page: one EventSource on /ui/events. `history` (on connect) resets every chart;
// each `snapshot` updates the figures and appends one point. Text is set with textContent only.
import { createChart } from '/ui/charts.js';
import { ago, clockTime, duration, number, percent, shortDuration } from '/ui/format.js';

const MAX_POINTS = 600;
const $ = (id) => document.getElementById(id);
const count = (v) => number(v, 1);
const share = (v) => percent(v);

const charts = {
  rate: createChart($('chart-rate'), {
    title: 'Requests/s',
    maxPoints: MAX_POINTS,
    format: count,
    series: [{ label: 'req/s', key: 'requestRate', color: '--s1' }],
  }),
  ttft: createChart($('chart-ttft'), {
    title: 'Time to first token',
    maxPoints: MAX_POINTS,
    format: duration,
    axis: shortDuration,
    series: [
      { label: 'p50', key: 'ttftP50', color: '--s1' },
      { label: 'p90', key: 'ttftP90', color: '--s2', dash: [6, 3] },
    ],
  }),
  itl: createChart($('chart-itl'), {
    title: 'Inter-token latency',
    maxPoints: MAX_POINTS,
    format: duration,
    axis: shortDuration,
    series: [
      { label: 'p50', key: 'itlP50', color: '--s1' },
      { label: 'p90', key: 'itlP90', color: '--s2', dash: [6, 3] },
    ],
  }),
  hit: createChart($('chart-hit'), {
    title: 'Prefix-cache hit rate',
    maxPoints: MAX_POINTS,
    format: share,
    axis: (v) => `${Math.round(v * 100)}%`,
    yMax: 1,
    series: [{ label: 'hit rate', key: 'hitRate', color: '--s3' }],
  }),
  disagg: createChart($('chart-disagg'), {
    title: 'Share disaggregated',
    maxPoints: MAX_POINTS,
    format: share,
    axis: (v) => `${Math.round(v * 100)}%`,
    yMax: 1,
    series: [{ label: 'disaggregated', key: 'disaggregatedShare', color: '--s4' }],
  }),
  ratio: createChart($('chart-ratio'), {
    title: 'Prefill and decode workers',
    maxPoints: MAX_POINTS,
    format: (v) => number(v, 0),
    series: [
      { label: 'prefill', key: 'fleetPrefill', color: '--s1' },
      { label: 'decode', key: 'fleetDecode', color: '--s5' },
      { label: 'both', key: 'fleetBoth', color: '--s3' },
      { label: 'planner P', key: 'plannerPrefill', color: '--s1', dash: [4, 4] },
      { label: 'planner D', key: 'plannerDecode', color: '--s5', dash: [4, 4] },
    ],
  }),
};
window.addEventListener('resize', () => Object.values(charts).forEach((chart) => chart.resize()));

function setConnection(state, text) {
  const badge = $('connection');
  badge.dataset.state = state;
  if (badge.textContent !== text) badge.textContent = text;
}

function renderTraffic(t) {
  $('window').textContent = `(last ${Math.round(t.windowS)} s)`;
  $('stat-request-rate').textContent = count(t.requestRate);
  $('stat-error-rate').textContent = count(t.errorRate);
  $('stat-output-rate').textContent = number(t.outputTokensPerS, 0);
  $('stat-ttft').textContent = t.ttft
    ? `${duration(t.ttft.p50)} / ${duration(t.ttft.p90)} / ${duration(t.ttft.p99)}`
    : '\u2013';
  $('stat-itl').textContent = t.itl
    ? `${duration(t.itl.p50)} / ${duration(t.itl.p90)} / ${duration(t.itl.p99)}`
    : '\u2013';
  $('stat-hit-rate').textContent = share(t.hitRate);
  $('stat-disaggregated').textContent = share(t.disaggregatedShare);
  $('stat-queue').textContent = number(t.queueDepth, 0);
}

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function usageBar(usage) {
  const cell = el('td');
  if (usage === null) {
    cell.textContent = '\u2013';
    return cell;
  }
  const bar = el('span', undefined, { class: 'bar', 'aria-hidden': 'true' });
  const fill = el('span');
  fill.style.width = `${Math.round(usage * 100)}%`;
  bar.append(fill);
  cell.append(bar, document.createTextNode(percent(usage)));
  return cell;
}

function workerRow(w) {
  const tr = el('tr', undefined, { 'data-worker': w.name });
  tr.append(
    el('th', w.name, { scope: 'row' }),
    el('td', w.role),
    el('td', `${w.gpu} / ${w.model}${w.tp > 1 ? ` (tp ${w.tp})` : ''}`),
    el('td', w.state, { class: 'health', 'data-state': w.state }),
    el('td', number(w.running, 1), { class: 'num', 'data-field': 'running' }),
    el('td', number(w.waiting, 1), { class: 'num', 'data-field': 'waiting' }),
    el('td', number(w.inflight, 0), { class: 'num', 'data-field': 'inflight' }),
    usageBar(w.kvUsage),
    el('td', number(w.cachedBlocks, 0), { class: 'num', 'data-field': 'cached' }),
    el('td', number(w.restarts, 0), { class: 'num' }),
  );
  return tr;
}

function renderWorkers(workers) {
  const body = $('workers').tBodies[0];
  if (workers.length > 0) return body.replaceChildren(...workers.map(workerRow));
  const empty = el('tr');
  empty.append(el('td', 'no workers configured', { colspan: '10', class: 'empty' }));
  body.replaceChildren(empty);
}

function renderPools(pools) {
  $('pools').replaceChildren(
    ...pools.map((p) => {
      const card = el('article', undefined, { class: 'pool', 'aria-label': `${p.role} pool` });
      card.append(
        el('h3', p.role),
        el('p', `${p.healthy} of ${p.workers} healthy`),
        el('p', `${number(p.running, 1)} running, ${number(p.waiting, 1)} waiting`),
        el('p', `KV usage ${percent(p.kvUsage)}, ${number(p.cachedBlocks, 0)} cached blocks`),
      );
      return card;
    }),
  );
}

function renderPlanner(planner, nowMs) {
  const box = $('planner');
  box.dataset.state = planner.state;
  const parts = [];
  if (planner.state === 'none')
    parts.push(el('p', 'No planner: start one with `tandem planner` and set ui.planner_url (tandem up does both).'));
  else if (planner.state === 'unreachable')
    parts.push(el('p', `Planner unreachable at ${planner.url}: ${planner.error ?? ''}`));
  else if (planner.state === 'waiting')
    parts.push(el('p', `Planner at ${planner.url}: waiting for its first decision.`));
  const d = planner.decision;
  if (d) {
    const list = el('dl');
    const row = (term, value) => list.append(el('dt', term), el('dd', value));
    row('Decided', `${clockTime(d.atMs)} (${ago(d.atMs, nowMs)})`);
    row('P:D replicas', `${d.prefillReplicas} : ${d.decodeReplicas}`);
    row('Disaggregation threshold', `${number(d.thresholdTokens, 0)} uncached tokens`);
    row('Predicted load', `${number(d.predictedRequestRate, 2)} req/s`);
    for (const pool of d.pools) row(`Pool ${pool.name}`, `${pool.replicas} \u00d7 ${pool.gpu}`);
    parts.push(list);
    if (d.reasons.length) {
      const details = el('details');
      const ul = el('ul');
      for (const reason of d.reasons) ul.append(el('li', reason));
      details.append(el('summary', 'Why'), ul);
      parts.push(details);
    }
  }
  box.replaceChildren(...parts);
}

function render(snapshot) {
  $('model').textContent = snapshot.model;
  const ready = $('ready');
  ready.dataset.state = snapshot.ready.ready ? 'ok' : 'warn';
  ready.textContent = snapshot.ready.ready ? 'ready' : 'not ready';
  ready.title = snapshot.ready.detail;
  renderTraffic(snapshot.traffic);
  renderPools(snapshot.pools);
  renderWorkers(snapshot.workers);
  renderPlanner(snapshot.planner, snapshot.atMs);
}

function connect() {
  const source = new EventSource('/ui/events');
  source.onopen = () => setConnection('ok', 'live');
  source.onerror = () => setConnection('bad', 'disconnected: retrying');
  source.onmessage = (message) => {
    if (message.data === '[DONE]') return setConnection('warn', 'the orchestrator is stopping');
    const event = JSON.parse(message.data);
    if (event.type === 'hello') return setConnection('ok', 'live');
    if (event.type === 'history') {
      Object.values(charts).forEach((chart) => chart.reset(event.points));
      render(event.snapshot);
    } else if (event.type === 'snapshot') {
      Object.values(charts).forEach((chart) => chart.push(event.point));
      render(event.snapshot);
    }
    setConnection('ok', `live, updated ${clockTime(event.snapshot?.atMs)}`);
  };
}
connect();
