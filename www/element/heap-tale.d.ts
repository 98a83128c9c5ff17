// Types of the <heap-tale> custom element (`import 'heaptale/element'`). Every attribute is
// documented in docs/EMBEDDING.md; these are their values, the element's properties,
// methods and events.
import type { PolicyName, ListOrder, Heap, HeapStats, ProcessOptions } from '../../types/heaptale.js';

/** A panel of the element. */
export type HeapTalePanel = 'heap' | 'free-lists' | 'pages' | 'process' | 'stats' | 'console' | 'hex';

/**
 * The element's options, as attributes (all strings in HTML; the types say what each
 * holds). The knobs have the playground's URL-state names and values.
 */
export interface HeapTaleOptions {
  /** The program: a script, one C-like statement a line (or a .rep trace's text). */
  script?: string;
  /** URL of a script or .rep trace to fetch (same origin under a strict CSP). */
  src?: string;
  /** A built-in scenario or trace: 'default', 'splitting', 'coalescing', ..., 'awk-wordcount', 'node-json', 'python-regex-counter'. */
  trace?: string;
  /** Keep only the first steps of the program. */
  cut?: `${number}`;
  /** Statements run after the program, one a line. */
  extra?: string;
  policy?: PolicyName;
  order?: ListOrder;
  coalesce?: 'on' | 'off';
  /** Header bytes, 4 to 256. */
  header?: `${number}`;
  /** A power of two, 1 to 4096. */
  align?: `${number}`;
  /** A fixed heap that never grows (OSTEP's -S). */
  'heap-size'?: `${number}`;
  /** The address the heap's start is reported as: decimal or 0x hex. */
  base?: string;
  /** The step shown first: a number or 'end' (the default). */
  step?: `${number}` | 'end';
  /** Comma list of panels; default 'heap,free-lists,stats'. */
  panels?: string;
  /** Height in pixels (the content scrolls), or 'auto' (the default). */
  height?: `${number}` | `${number}px` | 'auto';
  /** Comma list of policies shown side by side with `policy` (at most 4 heaps). */
  compare?: string;
  /** Present: no statement box or script editor; still steppable. */
  readonly?: '' | 'readonly';
  /** A title shown above the heap (also its region's name). */
  title?: string;
  /** The simulated process's knobs, as in the playground's links: paging mode. */
  vm?: 'x86' | 'x86-64';
  /** Physical memory in bytes: 65536, 262144, 1048576, 4194304, 16777216 or 67108864. */
  phys?: `${number}`;
  /** Page replacement. */
  repl?: 'fifo' | 'lru' | 'clock' | 'opt' | 'random';
  /** TLB entries x ways, such as '64x4' ('0x0': none). */
  tlb?: `${number}x${number}`;
  /** glibc's mmap threshold. */
  mmap?: 'on' | 'off';
  /** Share of the frames other processes hold, in percent. */
  others?: `${number}`;
  /** The address the process panel's page walk starts with (decimal or 0x hex); default: the first payload. */
  walk?: string;
  /** URL of heaptale.js (the glue) or heaptale_bg.wasm to load instead of ../../pkg/ from the element. */
  wasm?: string;
}

/** The detail of `heaptale-step`. */
export interface HeapTaleStepDetail {
  step: number;
  steps: number;
}

/** The detail of `heaptale-error`: a plain-text message and what it is about. */
export interface HeapTaleErrorDetail {
  message: string;
  /** settings: a bad attribute; source: the program cannot be fetched or read; step: steps of the program failed (it still runs); engine: the module cannot start; internal. */
  kind: 'settings' | 'source' | 'step' | 'engine' | 'internal';
}

/** A heap's layout at the step shown. */
export interface HeapTaleLayout {
  policy: PolicyName;
  step: number;
  blocks: Array<{ addr: number; size: number; requested: number; state: 'used' | 'free'; header: number }>;
  freeList: Array<[number, number]>;
  stats: HeapStats;
}

export type HeapTaleState = 'idle' | 'loading' | 'ready' | 'error';

export class HeapTaleElement extends HTMLElement {
  static readonly observedAttributes: string[];
  /** Resolves (to the element) when the program has loaded and is drawn; rejects with the error shown. */
  readonly ready: Promise<HeapTaleElement>;
  /** Also reflected in the data-state attribute. */
  readonly state: HeapTaleState;
  /** The step shown; setting it goes there. */
  step: number;
  readonly steps: number;
  /** The plain-text error shown, or null. */
  readonly error: string | null;
  /** The first heap's engine instance (its glue module). */
  readonly engine: typeof import('../../types/heaptale.js') | null;
  /** The first heap (the element owns it). */
  readonly heap: Heap | null;
  goTo(step: number): void;
  forward(): void;
  back(): void;
  /** Every heap's layout at the step shown, the `policy` heap first. */
  layout(): HeapTaleLayout[];
  /** Runs a statement after the step shown, in every heap. */
  run(statement: string): { ok: boolean; text: string; error: string | null };
  addEventListener<K extends keyof HeapTaleEventMap>(type: K, listener: (this: HeapTaleElement, ev: HeapTaleEventMap[K]) => unknown, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
}

export interface HeapTaleEventMap extends HTMLElementEventMap {
  'heaptale-step': CustomEvent<HeapTaleStepDetail>;
  'heaptale-error': CustomEvent<HeapTaleErrorDetail>;
}

/** The panels, and the default ones. */
export const PANELS: HeapTalePanel[];
export const DEFAULT_PANELS: HeapTalePanel[];
/** The element's settings read from attribute values (`get(name)`), checked as the playground's links are. */
export function readSettings(get: (name: string) => string | null): Promise<
  | { config: { policy: PolicyName; order: ListOrder; coalesce: boolean; header: number; align: number; heapSize: number | null; base: number | null }; policies: PolicyName[]; step: number | 'end'; panels: HeapTalePanel[]; height: number | null; process: ProcessOptions; walk: string | null; error: null }
  | { error: string }>;
/** Strips the indentation common to a script's lines. */
export function dedent(text: string): string;

declare global {
  interface HTMLElementTagNameMap {
    'heap-tale': HeapTaleElement;
  }
  interface HTMLElementEventMap {
    'heaptale-step': CustomEvent<HeapTaleStepDetail>;
    'heaptale-error': CustomEvent<HeapTaleErrorDetail>;
  }
}
