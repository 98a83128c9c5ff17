// Type declarations for heaptale's JS API: the wasm-bindgen module (pkg/heaptale.js,
// `import init, { Heap } from 'heaptale'`). wasm-bindgen's own pkg/heaptale.d.ts types
// many values as `any` or `object`; these say what each call takes and gives. Every
// export and method of the generated declarations is declared here (the package test
// checks it with tsc). Reference: docs/API.md.

/**
 * The policies, by name (`policies()` describes them). 'heaptale' is heaptale::Allocator's
 * own setup: TLSF's size classes plus quick lists and the top block kept apart.
 */
export type PolicyName = 'first' | 'next' | 'best' | 'worst' | 'seglist' | 'tlsf' | 'heaptale' | 'buddy';
/** Free-list order of the list policies (first, next, best, worst). */
export type ListOrder = 'addr' | 'size-asc' | 'size-desc' | 'front' | 'back';

/** `new Heap(options)`: every option optional; the CLI's knobs under their JS names. */
export interface HeapOptions {
  /** Default 'first'. */
  policy?: PolicyName;
  /** Default 'addr' (list policies only). */
  order?: ListOrder;
  /** Merge free neighbours (default true); 'on' and 'off' also do. */
  coalesce?: boolean | 'on' | 'off';
  /** Header bytes, 4 to 256 (default 8). */
  header?: number;
  /** Payload alignment, a power of two from 1 to 4096 (default 8). */
  align?: number;
  /** A fixed heap of this many bytes that never grows (OSTEP's -S), 1 byte to 1 GiB. */
  heapSize?: number;
  /** The address reports give the heap's start (OSTEP's -b): a number or a string such as '0x1000', at most 0xbfffffff. */
  base?: number | string;
}

/** A block of the walk, in address order. */
export interface Block {
  /** The block's first byte (its header). */
  addr: number;
  /** What malloc returned for it. */
  payload: number;
  /** Bytes, header and padding included. */
  size: number;
  /** Bytes asked for (0 for a free block). */
  requested: number;
  /** True also for a block waiting in a quick list (heaptale policy): it stays marked used. */
  used: boolean;
  /** Header bytes. */
  header: number;
  /** Heaptale policy: the block waits in a quick list (may be absent: blocksPacked()'s bit 30 is the contract). */
  quick?: boolean;
}

/**
 * A free block and the list it is on (size classes for seglist, tlsf and heaptale, orders for
 * buddy, 0 otherwise). Heaptale policy: 4294967295 (0xFFFFFFFF) is the top block kept
 * apart (at most one entry), 2147483648 + q (0x80000000 + q, q = 0..31) is quick list q,
 * whose blocks are all `min_block + q * align` bytes (min_block = round_up(header + 12, align)),
 * most recently freed first. Entries come size classes first, then the top block, then the quick lists.
 */
export interface FreeBlock {
  list: number;
  addr: number;
  size: number;
}

/** Figures from a walk of the heap. */
export interface HeapStats {
  /** Bytes asked for by the live blocks. */
  live_bytes: number;
  heap_bytes: number;
  used_bytes: number;
  used_blocks: number;
  free_bytes: number;
  free_blocks: number;
  largest_free: number;
  /** live_bytes / heap_bytes. */
  utilization: number;
  /** The share of free bytes outside the largest free block. */
  external_fragmentation: number;
}

/** What the engine did, as `events()` gives it (addresses as reported). */
export type HeapEvent =
  | { kind: 'alloc'; block: number; size: number; request: number; probes: number }
  | { kind: 'free'; block: number; size: number }
  | { kind: 'split'; block: number; size: number; rest: number; rest_size: number }
  | { kind: 'coalesce'; block: number; absorbed: number; size: number }
  | { kind: 'grow'; old_brk: number; new_brk: number; pages: number }
  | { kind: 'realloc'; old: number; new: number; size: number; in_place: boolean }
  | { kind: 'error'; message: string }
  | { kind: 'dropped'; count: number }
  /** Heaptale policy: free put the block on quick list `list` (0..31); right after its 'free', no coalesce follows. */
  | { kind: 'quick-free'; block: number; size: number; list: number }
  /** Heaptale policy: malloc took the block off quick list `list`; just before its 'alloc' (probes 1, no split). */
  | { kind: 'quick-alloc'; block: number; size: number; list: number }
  /** Heaptale policy: the quick lists were emptied into the size classes (`blocks` blocks); its 'coalesce' events follow. */
  | { kind: 'consolidate'; blocks: number };

/** The kind of a failed step: a bad call or statement, the engine refusing it, or a trace's integrity check. */
export type StepErrorKind = 'usage' | 'engine' | 'integrity';

/** What one step ran. */
export interface StepInfo {
  step: number;
  /** Line of the script or trace; 0 for a call of the JS API. */
  line: number;
  /** The statement or call. */
  text: string;
  /** The address it returned, if any. */
  addr: number | null;
  /** Why it failed, or null. */
  error: string | null;
  errorKind?: StepErrorKind;
  /** Pages memory.grow added when the step first ran. */
  grewPages: number;
}

/** A failed step: its `stepInfo`, with the error. */
export interface StepFailure extends StepInfo {
  error: string;
  errorKind: StepErrorKind;
}

/** The format of a loaded program. */
export type ProgramFormat = 'script' | 'rep';

/** `load()`: the program became the timeline (or `error` says why not, and nothing changed). */
export type LoadResult =
  | { steps: number; format: ProgramFormat; failed: number; lines: number; error: null }
  | { steps: 0; error: string };

/** `loadContinue()`: progress of a `loadStart`. */
export interface LoadProgress {
  /** Steps run so far; every step has run when it equals `steps`. */
  done: number;
  steps: number;
  failed: number;
}

/** `replay()`: a checked replay's report, as malloc-lab's driver gives it (all zero, with `error`, when the trace cannot be replayed). */
export interface ReplayReport {
  ops: number;
  peak_live_bytes: number;
  peak_heap_bytes: number;
  heap_bytes: number;
  /** peak_live_bytes / peak_heap_bytes. */
  utilization: number;
  /** What malloc-lab's checks found (overlap, alignment, data not kept by realloc, ...). */
  integrity_errors: string[];
  /** Writes (`write`, `memset`) that the replay found changed before their block was freed. */
  write_errors: string[];
  alloc_failures: number;
  first_alloc_failure: string | null;
  /** '' when the trace could not be read. */
  format: ProgramFormat | '';
  /** null, or why the trace could not be replayed (then nothing changed). */
  error: string | null;
}

/** `run()`: one statement's outcome. */
export interface RunResult {
  /** The statement as C with its result: `p = malloc(24) = 0x...`. */
  text: string;
  addr: number | null;
  error: string | null;
}

/** `timeline()`. */
export interface TimelineInfo {
  steps: number;
  position: number;
  format: ProgramFormat;
  lines: number;
  /** A snapshot every `interval` steps. */
  interval: number;
  snapshots: number;
  snapshotBytes: number;
  arenaBytes: number;
  /** `series()` samples every `stride` steps. */
  stride: number;
  failed: number;
  /** Whether steps are still being recorded (false past the budget: `why`). */
  recording: boolean;
  /** A `loadStart` not finished yet. */
  loading: boolean;
  done: number;
  why: string | null;
}

/** One engine's heap, in the module's linear memory; its break moves with memory.grow. One per instance: a new Heap replaces the live one. */
export class Heap {
  constructor(options?: HeapOptions);
  /** `free(addr)` (free(0) does nothing); `free()` with no argument releases the whole heap. */
  free(addr?: number): void;
  [Symbol.dispose](): void;
  malloc(size: number): number;
  realloc(addr: number, size: number): number;
  calloc(n: number, size: number): number;
  /** `align`: a power of two up to 65536. */
  memalign(align: number, size: number): number;
  usableSize(addr: number): number;
  blocks(): Block[];
  /**
   * 4 words a block: [addr, size, requested, header | used << 31 | quick << 30]; bit 30
   * (0x40000000, heaptale policy, always with bit 31): the block waits in a quick list.
   * The header size is the low 30 bits.
   */
  blocksPacked(): Uint32Array;
  /** Every free block in list order, list after list: [[addr, size], ...]. */
  freeList(): Array<[number, number]>;
  freeLists(): FreeBlock[];
  /** 3 words a free block: [list, addr, size], in list order (list numbers: see FreeBlock). */
  freeListsPacked(): Uint32Array;
  stats(): HeapStats;
  /** Throws an Error naming the invariant that broke. */
  check(): void;
  /** The events since the last call, oldest first (then forgotten). */
  events(): HeapEvent[];
  /** A copy of the real bytes [addr, addr + len), clipped to the heap. */
  bytes(addr: number, len: number): Uint8Array;
  brk(): number;
  heapStart(): number;
  realStart(): number;
  memoryBytes(): number;
  memoryEnd(): number;
  /** One C-like statement with the console's variables; never throws. */
  run(statement: string): RunResult;
  /** A whole script or .rep, checked as malloc-lab does; never throws. */
  replay(text: string): ReplayReport;
  /** A script or .rep becomes the timeline, every step run; `limit`: keep the first steps only. Never throws. */
  load(text: string, limit?: number): LoadResult;
  loadStart(text: string, limit?: number): LoadResult;
  loadContinue(count: number): LoadProgress;
  /** The heap after step n (0: as made); `events()` then holds step n's events. */
  seek(n: number): StepInfo;
  position(): number;
  stepCount(): number;
  stepInfo(n: number): StepInfo;
  stepList(from: number, count: number): StepInfo[];
  failures(max: number): StepFailure[];
  /** Rows of 10 numbers: step, live, heap, used, free bytes, free blocks, largest free, probes, used blocks, memory bytes. */
  series(): Float64Array;
  timeline(): TimelineInfo;
}

/** x86 (two-level, 32-bit) or x86-64 (four-level) paging. */
export type PagingMode = 'x86' | 'x86-64';
export type ReplacementPolicy = 'fifo' | 'lru' | 'clock' | 'opt' | 'random';

/** `new Process(heap, options)`: every option optional. */
export interface ProcessOptions {
  mode?: PagingMode;
  /** Bytes, 64 KiB to 64 MiB, whole frames. */
  physicalMemory?: number;
  policy?: ReplacementPolicy;
  /** 0: no TLB. */
  tlbEntries?: number;
  /** 0: fully associative. */
  tlbWays?: number;
  /** glibc's mmap threshold on. */
  mmap?: boolean;
  mmapThreshold?: number;
  /** Share of the frames other processes hold, 0 to 80 percent. */
  othersPercent?: number;
}

export interface ProcessOptionsInEffect {
  simulated: true;
  mode: PagingMode;
  physicalMemory: number;
  policy: ReplacementPolicy;
  tlbEntries: number;
  tlbWays: number;
  mmap: boolean;
  mmapThreshold: number;
  othersPercent: number;
  kernelPercent: number;
  /** Bytes a page (4096). */
  pageSize: number;
  /** The virtual address space's size in bytes: 2^32 (x86) or 2^48 (x86-64). */
  addressSpace: number;
}

export interface Vma {
  start: number;
  end: number;
  kind: 'code' | 'data' | 'bss' | 'heap' | 'mmap' | 'stack';
  prot: string;
}

export interface ProcessLayout {
  simulated: true;
  mode: PagingMode;
  taskSize: number;
  startCode: number;
  startBrk: number;
  brk: number;
  mmapBase: number;
  stackStart: number;
  memoryEnd: number;
  threshold: number | null;
  vmas: Vma[];
  chunks: Array<{ block: number; payload: number; mapStart: number; mapLen: number }>;
}

export interface ProcessStats {
  simulated: true;
  accesses: number; reads: number; writes: number;
  tlbHits: number; tlbMisses: number;
  minorFaults: number; majorFaults: number;
  evictions: number; swapOuts: number; swapIns: number; segfaults: number;
  rssPages: number; rssHeapPages: number; rssMmapPages: number;
  virtualBytes: number; swappedPages: number; pageTablePages: number;
  frames: number; freeFrames: number; swapSlots: number; swapUsed: number;
}

export interface PageInfo {
  addr: number;
  vpn: number;
  state: 'unmapped' | 'mapped' | 'resident' | 'swapped';
  frame: number | null;
  slot: number | null;
  accessed: boolean;
  dirty: boolean;
}

export interface PageGrid {
  start: number;
  brk: number;
  end: number;
  truncated: boolean;
  pages: PageInfo[];
}

export interface FrameMap {
  count: number;
  /** Per frame: 0 free, 1 kernel, 2 another process, 3 one of our page tables, 4 one of our pages. */
  kinds: Uint8Array;
  /** Per frame: the other process's pid, the table's level, or our page's virtual page number. */
  detail: Float64Array;
}

export interface PageWalkLevel {
  level: number;
  entry: string;
  table: number;
  tableName: string;
  index: number;
  entryAddr: number;
  raw: string;
  present: boolean;
  writable: boolean;
  user: boolean;
  accessed: boolean;
  dirty: boolean;
  frame: number | null;
  swapSlot: number | null;
  text: string;
}

export interface PageWalk {
  simulated: true;
  mode: PagingMode;
  vaddr: number;
  vaddrHex: string;
  fields: Array<{ name: string; bits: number; shift: number; value: number }>;
  root: number;
  levels: PageWalkLevel[];
  paddr: number | null;
  fault: { level: number; entry: string; index: number; kind: string; text: string } | null;
  vma: string | null;
}

/** A simulated process around a live heap: its address space, page tables, frames. Only the heap is real. */
export class Process {
  constructor(heap: Heap, options?: ProcessOptions);
  free(): void;
  [Symbol.dispose](): void;
  frames(): FrameMap;
  layout(): ProcessLayout;
  notes(): string[];
  options(): ProcessOptionsInEffect;
  pages(): PageGrid;
  position(): number;
  stats(): ProcessStats;
  /** Walks an address (a number, or a string such as '0x110008') through the page tables, without side effects. */
  walk(addr: number | string): PageWalk;
}

export interface PolicyInfo {
  name: PolicyName;
  description: string;
  /** Whether order and coalescing apply. */
  has_order: boolean;
}

/** OSTEP's `paging-linear-translate.py` knobs, each optional (the script's defaults). */
export interface OstepPagingOptions {
  /** Bytes (16k). */
  addressSpace?: number;
  /** Bytes (4k). */
  pageSize?: number;
  /** Bytes (64k). */
  physicalMemory?: number;
  /** 0 to 100 (50). */
  percentValid?: number;
  /** Addresses to translate (5, at most 1,000). */
  count?: number;
  seed?: number;
  /** The script's -c. */
  answers?: boolean;
  /** The script's -v. */
  verbose?: boolean;
}

/** OSTEP's paging exercise: what the script prints, its linear page table, and the addresses translated (`paddr` null when invalid). */
export interface OstepPagingExercise {
  text: string;
  pageTable: number[];
  trace: Array<{ vaddr: number; vpn: number; paddr: number | null }>;
}

/** `paging-linear-translate.py`'s exercise, the same for the same seed; a bad knob throws, as the script refuses it. */
export function ostepPaging(options?: OstepPagingOptions): OstepPagingExercise;

export function policies(): PolicyInfo[];
/** Where the module's own bookkeeping lives (a fixed arena below the heap). */
export function moduleMemory(): { arena_start: number; arena_end: number; arena_used: number };
/** The instance's WebAssembly.Memory (views over it must be re-made after any call that may grow it). */
export function wasmMemory(): WebAssembly.Memory;

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;
export type SyncInitInput = BufferSource | WebAssembly.Module;

/** The raw exports of the instance (wasm-bindgen's; not for direct use). */
export interface InitOutput {
  readonly memory: WebAssembly.Memory;
  readonly [name: string]: unknown;
}

/** Instantiates the module synchronously from its bytes or a compiled WebAssembly.Module. */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;
/** Fetches (by default heaptale_bg.wasm next to heaptale.js) and instantiates the module. */
export default function __wbg_init(module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>): Promise<InitOutput>;
