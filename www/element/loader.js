// Engine instances for <heap-tale> elements: one WebAssembly instance per
// element (memory.grow belongs to one linear memory, so two heaps never share
// one). wasm-bindgen's `--target web` glue keeps its instance in module state,
// so each instance imports the glue under its own query string (a distinct ES
// module) and initialises it with the one compiled WebAssembly.Module of its URL.
// An element that leaves the page gives its instance back to a pool, so pages
// that add and remove elements do not pile up instances.

/** The glue the element uses unless told otherwise: `../../pkg/heaptale.js` from here. */
export const DEFAULT_GLUE = new URL('../../pkg/heaptale.js', import.meta.url).href;

const compiled = new Map();   // wasm URL -> Promise<WebAssembly.Module>
const pools = new Map();      // glue URL -> [glue, ...] idle instances
let made = 0;

/**
 * The glue URL and the wasm URL for a `wasm` option: the URL of the glue
 * (`.../heaptale.js`) or of the module (`.../heaptale_bg.wasm`), relative to
 * `base`. Throws a plain message for anything else.
 */
export function resolveUrls(option, base) {
  if (!option) return { glue: DEFAULT_GLUE, wasm: DEFAULT_GLUE.replace(/\.js$/, '_bg.wasm') };
  let u;
  try { u = new URL(option, base); } catch { throw new Error(`wasm: "${option}" is not a URL`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:' && u.protocol !== 'file:') {
    throw new Error(`wasm: "${option}" must be an http(s) URL of heaptale.js or heaptale_bg.wasm`);
  }
  u.search = ''; u.hash = '';
  const href = u.href;
  if (/_bg\.wasm$/.test(href)) return { glue: href.replace(/_bg\.wasm$/, '.js'), wasm: href };
  if (/\.m?js$/.test(href)) return { glue: href, wasm: href.replace(/\.m?js$/, '_bg.wasm') };
  throw new Error(`wasm: "${option}" must name heaptale.js (the glue) or heaptale_bg.wasm`);
}

function compile(wasmUrl) {
  if (!compiled.has(wasmUrl)) {
    const p = (async () => {
      const res = await fetch(wasmUrl);
      if (!res.ok) throw new Error(`the engine could not be fetched from ${wasmUrl}: HTTP ${res.status}`);
      if (WebAssembly.compileStreaming && (res.headers.get('content-type') || '').startsWith('application/wasm')) {
        return WebAssembly.compileStreaming(res);
      }
      return WebAssembly.compile(await res.arrayBuffer());
    })();
    compiled.set(wasmUrl, p);
    p.catch(() => compiled.delete(wasmUrl)); // a later element may try again
  }
  return compiled.get(wasmUrl);
}

/** An engine instance of its own: a pooled one, or a fresh glue module over the compiled module. */
export async function acquire({ glue, wasm }) {
  const pool = pools.get(glue);
  if (pool && pool.length) return pool.pop();
  const module = await compile(wasm);
  made += 1;
  const g = await import(`${glue}?heaptale-element=${made}`);
  await g.default({ module_or_path: module });
  return g;
}

/** Gives an instance back (its heap already released). */
export function release(glueUrl, g) {
  if (!g) return;
  if (!pools.has(glueUrl)) pools.set(glueUrl, []);
  pools.get(glueUrl).push(g);
}

/** How many instances were ever made (tests check that removed elements are reused). */
export const instancesMade = () => made;
