// heaptale's iframe mode: embed.html#policy=best&script=z…&step=3
//
// The fragment (or, without one, the query string) is the playground's own
// share-link state (js/url.js: policy, order, coalesce, header, align,
// heap-size, base, script or trace with cut and extra, step, compare, and the
// process knobs vm, phys, repl, tlb, mmap, others), plus three settings of the embed
// itself: `title`, `panels` and `readonly`. The page shows a title, one <heap-tale> element with that
// state, and an "Open in the playground" link that carries the same state (the
// step follows the reader). It tells its parent its height after every change:
// postMessage({type: 'heaptale:height', height}) — and the step:
// postMessage({type: 'heaptale:step', step, steps}).

import './element/heap-tale.js';
import { decodeState } from './js/url.js';
import { TRACES } from './js/scenarios.js';

const EMBED_KEYS = ['title', 'panels', 'readonly'];
const $ = (id) => document.getElementById(id);

/** Splits the parameters into the playground's state and the embed's own settings. */
export function splitParams(raw) {
  const all = new URLSearchParams(raw.replace(/^[#?]/, ''));
  const state = new URLSearchParams();
  const embed = {};
  for (const [k, v] of all) {
    if (EMBED_KEYS.includes(k)) embed[k] = v;
    else state.append(k, v);
  }
  return { state, embed };
}

/** The <heap-tale> attributes for a decoded state. */
export function attributesFor(st) {
  const a = {};
  const c = st.config || {};
  if (c.policy) a.policy = c.policy;
  if (c.order) a.order = c.order;
  if (c.coalesce !== undefined) a.coalesce = c.coalesce ? 'on' : 'off';
  if (c.header != null) a.header = String(c.header);
  if (c.align != null) a.align = String(c.align);
  if (c.heapSize) a['heap-size'] = String(c.heapSize);
  if (c.base != null) a.base = `0x${c.base.toString(16)}`;
  if (st.source?.trace) a.trace = st.source.trace;
  else if (st.source?.text != null) a.script = st.source.text;
  if (st.source?.cut != null) a.cut = String(st.source.cut);
  if (st.source?.extra?.length) a.extra = st.source.extra.join('\n');
  if (st.step != null) a.step = String(st.step);
  if (st.compare?.length) a.compare = st.compare.join(',');
  return a;
}

function postToParent(msg) {
  if (window.parent && window.parent !== window) window.parent.postMessage(msg, '*');
}

async function main() {
  const raw = location.hash.length > 1 ? location.hash : location.search;
  const { state: params, embed } = splitParams(raw);
  const { state, error } = await decodeState(params.toString(), TRACES.map((t) => t.id));
  const widget = document.createElement('heap-tale');
  if (error) {
    const p = $('embed-error');
    p.textContent = `This embed's settings cannot be read: ${error}. Showing the default program instead.`;
    p.hidden = false;
  } else if (state) {
    for (const [k, v] of Object.entries(attributesFor(state))) widget.setAttribute(k, v);
  }
  // the simulated process's knobs go as they are (the element checks them as the playground does)
  if (!error) for (const k of ['vm', 'phys', 'repl', 'tlb', 'mmap', 'others']) if (params.has(k)) widget.setAttribute(k, params.get(k));
  if (embed.panels) widget.setAttribute('panels', embed.panels);
  if (embed.readonly !== undefined && embed.readonly !== 'off' && embed.readonly !== '0') widget.setAttribute('readonly', '');
  const title = embed.title || 'heaptale: a live heap';
  $('embed-title').textContent = title;
  document.title = `${title} — heaptale`;
  widget.setAttribute('aria-describedby', 'embed-title');

  // the playground link: the same state, the step following the reader
  const open = $('open');
  const linkParams = error ? new URLSearchParams() : new URLSearchParams(params);
  const setLink = () => { open.href = new URL(`./#${linkParams.toString()}`, location.href).href; };
  setLink();
  widget.addEventListener('heaptale-step', (e) => {
    if (!error) { linkParams.set('step', String(e.detail.step)); setLink(); }
    postToParent({ type: 'heaptale:step', step: e.detail.step, steps: e.detail.steps });
  });
  $('widget').append(widget);

  // the height, whenever it changes
  let last = -1;
  const report = () => {
    const h = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (h === last) return;
    last = h;
    document.documentElement.dataset.height = String(h);
    postToParent({ type: 'heaptale:height', height: h });
  };
  new ResizeObserver(report).observe(document.documentElement);
  widget.ready.then(report, report);
}

main();
