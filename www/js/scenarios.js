// Built-in scenarios (scripts that each show one thing) and the real traces
// served from www/traces/ (recorded from Linux programs; see its README).

export const DEFAULT_SCRIPT = `# Splitting, coalescing, splitting again
a = malloc(24)
b = malloc(40)
c = malloc(16)      # keeps the top of the heap busy
free(b)             # a 48-byte hole
d = malloc(16)      # d takes part of b's hole: a split
free(a)
free(d)             # merges with a and with the rest of b's hole
e = malloc(8)       # carves the merged hole
`;

export const SCENARIOS = [
  {
    id: 'default', title: 'Splitting and coalescing (the default)', policy: null,
    text: DEFAULT_SCRIPT,
  },
  {
    id: 'splitting', title: 'Splitting: one hole, cut again and again', policy: 'first',
    text: `# One big free block, then small requests cut it from the front
big = malloc(400)
top = malloc(16)    # keeps the hole from merging into the top
free(big)           # a 408-byte hole
a = malloc(24)      # split: 32 bytes used, the rest stays free
b = malloc(24)      # split again
c = malloc(100)     # and again: a 232-byte hole is left
d = malloc(240)     # 248 bytes do not fit in it: the heap grows
`,
  },
  {
    id: 'coalescing', title: 'Coalescing: free neighbours merge', policy: 'first',
    text: `# Free the middle blocks in an order that merges left, right and both
a = malloc(32)
b = malloc(32)
c = malloc(32)
d = malloc(32)
e = malloc(32)
free(b)             # no free neighbour
free(d)             # no free neighbour
free(c)             # merges with b and d: one 120-byte hole
x = malloc(100)     # fits in the merged hole
`,
  },
  {
    id: 'fragmentation', title: 'Fragmentation: free bytes, but no hole large enough', policy: 'first',
    text: `# Free every other block: half the bytes are free, in small holes
p0 = malloc(48)
p1 = malloc(48)
p2 = malloc(48)
p3 = malloc(48)
p4 = malloc(48)
p5 = malloc(48)
p6 = malloc(48)
p7 = malloc(48)
free(p0)
free(p2)
free(p4)
free(p6)
big = malloc(100)   # 224 bytes are free, but no hole holds 100: the break moves
`,
  },
  {
    id: 'realloc', title: 'realloc: growing in place, then moving', policy: 'first',
    text: `# realloc grows a block in place while it can, then moves it
s = malloc(16)
s = realloc(s, 64)     # at the top of the heap: the break moves, the block grows in place
t = malloc(16)         # now s has a used neighbour
s = realloc(s, 200)    # no room: a new block, the bytes copied, the old one freed
u = malloc(40)         # reuses part of the old block
s = realloc(s, 100)    # shrinking: in place, the tail becomes free
`,
  },
  {
    id: 'grow', title: 'memory.grow: the break crosses 64 KiB pages', policy: 'first',
    text: `# Requests large enough to need new WebAssembly pages
# (memory never shrinks: pages an earlier heap of this page grew are used again)
a = malloc(30000)     # the break moves into the first page of the heap
b = malloc(30000)     # and inside that page
c = malloc(30000)     # past its end: memory.grow adds a page
d = malloc(100000)    # and another
free(d)
free(c)               # merged, but the break stays: memory never shrinks
`,
  },
  {
    id: 'bytes-and-pages', title: 'Bytes and pages: writes, a page fault, old bytes after free', policy: 'first',
    text: `# The program's own writes are real bytes in the heap, on pages that fault in
a = malloc(24)
write(a, "password=hunter2")   # select a's block: the hex view shows the 16 bytes
b = malloc(6000)               # b's block runs on into the heap's second 4 KiB page
memset(b + 5000, 0xab, 64)     # the first write to that page: a page fault (the process panel)
free(a)                        # free erases nothing: the list links cover 8 bytes, "=hunter2" stays
c = malloc(8)                  # a's block again, not cleared: c + 8 still holds "=hunter2"
# a still points here too: a write through it now would land in c (a use after free)
`,
  },
  {
    id: 'errors', title: 'Errors: double free, unknown variables, bad alignment, overflow', policy: 'first',
    text: `# Each bad call is refused with a message; the heap is unchanged and the script goes on
p = malloc(24)
free(p)
free(p)                  # double free
q = malloc(16)
r = realloc(nobody, 8)   # a variable never allocated
s = memalign(3, 8)       # not a power of two
t = calloc(65536, 65537) # the product overflows
free(q)
`,
  },
  {
    id: 'heaptale', title: 'heaptale\u2019s quick lists and top block', policy: 'heaptale',
    text: `# heaptale::Allocator's own setup: TLSF's size classes, plus quick lists (as
# glibc's tcache and fastbins) and the top block kept apart (dlmalloc's top chunk)
a = malloc(40)        # a 48-byte block (8-byte header)
b = malloc(40)
c = malloc(100)       # a 112-byte block
big = malloc(70000)   # the last block, at the break (memory.grow adds a page)
free(a)               # onto quick list 3 (48-byte blocks): still marked used, no merge
free(c)               # onto quick list 11 (112-byte blocks)
free(b)               # quick list 3 again, in front of a: a and b do not merge
d = malloc(40)        # off quick list 3 at once: b's block, the last freed; no search, no split
free(big)             # 70,008 free bytes at the break: the top block, kept apart from the classes;
                      # a free area of 64 KiB or more: the quick lists merge back (consolidate)
e = malloc(200)       # no size class holds a block for it: cut from the top block
`,
  },
  {
    id: 'worst-first', title: 'First fit\u2019s worst case: long searches past small holes', policy: 'first',
    text: `# Many small holes at the front: every larger request probes them all
${Array.from({ length: 12 }, (_, i) => `s${i} = malloc(16)\nk${i} = malloc(16)`).join('\n')}
${Array.from({ length: 12 }, (_, i) => `free(s${i})`).join('\n')}
big1 = malloc(64)     # probes all 12 small holes, then grows
big2 = malloc(64)     # again
big3 = malloc(64)
`,
  },
  {
    id: 'worst-next', title: 'Next fit\u2019s worst case: cutting the big hole it passed last', policy: 'next',
    text: `# Next fit resumes where its last search stopped, so it keeps cutting the big hole
# even when a small hole near the start would do (first fit would use that one)
a = malloc(40)
k1 = malloc(8)
big = malloc(400)
k2 = malloc(8)
free(big)             # a 408-byte hole
x = malloc(16)        # cut from the big hole; the search stops there
free(a)               # a 48-byte hole near the start
y = malloc(16)        # next fit goes on from the big hole and cuts it again
z = malloc(16)        # and again (first fit would have used a's hole twice)
big2 = malloc(360)    # 368 bytes: the big hole has only 336 left, so the heap grows
`,
  },
  {
    id: 'worst-best', title: 'Best fit\u2019s worst case: slivers too small to use', policy: 'best',
    text: `# Best fit picks the tightest hole, and each time leaves a sliver behind
a = malloc(64)
k1 = malloc(8)
b = malloc(72)
k2 = malloc(8)
c = malloc(80)
k3 = malloc(8)
free(a)               # holes of 72,
free(b)               # 80
free(c)               # and 88 bytes
x = malloc(40)        # 48 bytes: the 72-byte hole, leaving a 24-byte sliver
y = malloc(48)        # 56 bytes: the 80-byte hole, another sliver
z = malloc(56)        # 64 bytes: the 88-byte hole, a third one
w = malloc(40)        # 72 bytes are free, in slivers of 24: the heap grows
`,
  },
  {
    id: 'worst-worst', title: 'Worst fit\u2019s worst case: breaking up the big hole', policy: 'worst',
    text: `# Worst fit always cuts the largest hole, so no large hole survives
b = malloc(120)
k1 = malloc(8)
a = malloc(500)
k2 = malloc(8)
free(b)               # a 128-byte hole that would hold the three small requests
free(a)               # a 512-byte hole
x = malloc(32)        # worst fit cuts the 512-byte hole instead
y = malloc(32)
z = malloc(32)
big = malloc(480)     # 488 bytes: the big hole is broken up, so the heap grows
`,
  },
  {
    id: 'worst-seglist', title: 'Segregated fit\u2019s worst case: a crowded size class', policy: 'seglist',
    text: `# A request searches its own power-of-two class first fit, block by block:
# a class full of holes that are a little too small costs a probe each
${Array.from({ length: 10 }, (_, i) => `h${i} = malloc(128)\nk${i} = malloc(8)`).join('\n')}
${Array.from({ length: 10 }, (_, i) => `free(h${i})`).join('\n')}
x = malloc(240)       # 248 bytes, class 128-255: ten 136-byte holes probed in vain
`,
  },
  {
    id: 'worst-tlsf', title: 'TLSF\u2019s worst case: good fit, not best fit', policy: 'tlsf',
    text: `# TLSF looks at the rounded-up class, then only at the head of the request's own
# class: a hole that fits, further down that list, is not found
a = malloc(1072)
k1 = malloc(8)
b = malloc(1024)
k2 = malloc(8)
free(a)               # a 1080-byte hole in the class 1024-1087
free(b)               # a 1032-byte hole, now at the head of that class
c = malloc(1056)      # 1064 bytes: the head is too small, so the heap grows
`,
  },
  {
    id: 'worst-buddy', title: 'The buddy allocator\u2019s worst case: just over a power of two', policy: 'buddy',
    text: `# Every block is a power of two: 1 byte over one doubles the block
a = malloc(57)        # 57 + 8-byte header = 65 bytes: a 128-byte block
b = malloc(121)       # 129 bytes: 256
c = malloc(249)       # 257 bytes: 512
d = malloc(505)       # 513 bytes: 1024 (half of it padding)
free(b)
free(a)               # buddies merge back on free
`,
  },
];

export const TRACES = [
  { id: 'awk-wordcount', title: 'Real trace: mawk counting words (1,880 calls)', file: 'awk-wordcount.rep' },
  { id: 'node-json', title: 'Real trace: Node.js building JSON (316,251 calls)', file: 'node-json.rep' },
  { id: 'python-regex-counter', title: 'Real trace: CPython tokenising with a regex (394,903 calls)', file: 'python-regex-counter.rep' },
];

export const traceUrl = (t) => new URL(`../traces/${t.file}`, import.meta.url).href;
