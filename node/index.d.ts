// Types of heaptale's node API (`import { replay, Heap } from 'heaptale/node'`). See
// docs/EMBEDDING.md for a guide and docs/API.md for the engine's own API.
import type * as Engine from '../types/heaptale.js';

export type { PolicyName, ListOrder, HeapOptions, HeapEvent, HeapStats, StepErrorKind } from '../types/heaptale.js';

/** `replay()` options: the heap's, and what to read. */
export interface ReplayOptions extends Engine.HeapOptions {
  /** The URL state's spelling of `heapSize`. */
  'heap-size'?: number;
  /** The step the layout is read at: a step number, or 'end' (the default). */
  step?: number | 'end';
  /** Every step's events up to `step` (default true). */
  events?: boolean;
  /** Replay as malloc-lab's driver does, every block checked; the result then has `integrity` (default false). */
  checked?: boolean;
}

/** A block of the layout. */
export interface LayoutBlock {
  addr: number;
  payload: number;
  size: number;
  requested: number;
  state: 'used' | 'free';
  header: number;
}

/** One step and what the engine did in it. */
export interface StepRecord {
  step: number;
  line: number;
  text: string;
  addr: number | null;
  error: string | null;
  events: Engine.HeapEvent[];
}

/** A step that failed. */
export interface StepError {
  step: number;
  line: number;
  text: string;
  error: string;
}

/** A checked replay's figures. */
export interface Integrity {
  ops: number;
  peakLiveBytes: number;
  peakHeapBytes: number;
  heapBytes: number;
  utilization: number;
  /** Integrity errors malloc-lab's checks found (none for a sound allocator). */
  errors: string[];
  /** Payload bytes written by `write`/`memset` that changed before their block was freed. */
  writeErrors: string[];
  allocFailures: number;
  firstAllocFailure: string | null;
}

/** The heap a program leaves, as plain data. */
export interface ReplayResult {
  policy: Engine.PolicyName;
  /** The heap options used. */
  options: Engine.HeapOptions;
  format: Engine.ProgramFormat;
  /** Steps in the program. */
  steps: number;
  /** The step the layout is at. */
  step: number;
  heapStart: number;
  brk: number;
  memoryBytes: number;
  /** Every block, in address order. */
  blocks: LayoutBlock[];
  /** Free blocks in list order, every list after the other. */
  freeList: Array<[number, number]>;
  freeLists: Engine.FreeBlock[];
  stats: Engine.HeapStats;
  /** Steps 1 to `step` with their events (empty with `events: false`). */
  events: StepRecord[];
  /** Every step that failed (a script's bad lines, double frees, ...). */
  errors: StepError[];
  /** null when every invariant of the heap holds, else the broken one. */
  check: string | null;
  /** With `checked: true`: malloc-lab's figures; else null. */
  integrity: Integrity | null;
}

/** Replays a script or a .rep trace and returns the heap it leaves. Throws on bad options or an unreadable trace. */
export function replay(text: string, options?: ReplayOptions): Promise<ReplayResult>;
/** Blocks as words: ['used 32', 'free 48']. */
export function shape(blocks: ReadonlyArray<{ size: number; state?: 'used' | 'free'; used?: boolean }>): string[];
/** Blocks with offsets from the heap's start: ['used 32 @0', 'free 48 @32']. */
export function offsets(result: Pick<ReplayResult, 'blocks' | 'heapStart'>): string[];

/** The engine's Heap over the module's default instance (a new Heap there replaces the live one). */
export const Heap: typeof Engine.Heap;
export type Heap = Engine.Heap;
/** The simulated process around a live Heap. */
export const Process: typeof Engine.Process;
export type Process = Engine.Process;
export function policies(): Engine.PolicyInfo[];
/** A Heap in an engine instance of its own. */
export function createHeap(options?: Engine.HeapOptions): Promise<Engine.Heap>;
/** A fresh engine instance: its own Heap, Process and memory. */
export function instance(): Promise<typeof Engine>;
