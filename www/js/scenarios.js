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
a = malloc(24)      # split: 32 used, the rest stays free
b = malloc(24)
c = malloc(100)
d = malloc(200)     # the rest is now too small: the heap grows
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
a = malloc(30000)
b = malloc(30000)
c = malloc(30000)     # past the first page: memory.grow
d = malloc(100000)    # two more pages
free(d)
free(c)               # the break stays: memory never shrinks
`,
  },
  {
    id: 'errors', title: 'Errors: double free, foreign and interior pointers', policy: 'first',
    text: `# Each bad call is refused with a message; the heap is unchanged
p = malloc(24)
free(p)
free(p)               # double free
q = malloc(16)
r = realloc(nobody, 8)   # a variable never allocated
s = memalign(3, 8)    # not a power of two
t = calloc(65536, 65537) # the product overflows
free(q)
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
    id: 'worst-next', title: 'Next fit\u2019s worst case: scattering small blocks', policy: 'next',
    text: `# Next fit resumes where it stopped, so it cuts into every hole in turn
a = malloc(200)
x = malloc(8)
b = malloc(200)
y = malloc(8)
c = malloc(200)
z = malloc(8)
free(a)
free(b)
free(c)
p = malloc(24)
q = malloc(24)
r = malloc(24)        # one cut in each hole: no hole stays whole
big = malloc(190)     # none holds 190 any more: the heap grows
`,
  },
  {
    id: 'worst-best', title: 'Best fit\u2019s worst case: slivers too small to use', policy: 'best',
    text: `# Best fit picks the tightest hole and leaves a sliver each time
a = malloc(56)
k1 = malloc(8)
b = malloc(64)
k2 = malloc(8)
c = malloc(72)
k3 = malloc(8)
free(a)
free(b)
free(c)
x = malloc(40)        # takes the 64-byte hole of a, leaves 24 bytes
y = malloc(48)        # takes b's, leaves a small sliver
z = malloc(56)        # takes c's, leaves a small sliver
w = malloc(40)        # the slivers are useless: the heap grows
`,
  },
  {
    id: 'worst-worst', title: 'Worst fit\u2019s worst case: breaking up the big hole', policy: 'worst',
    text: `# Worst fit always cuts the largest hole, so no large hole survives
a = malloc(500)
k1 = malloc(8)
b = malloc(40)
k2 = malloc(8)
free(a)
free(b)
x = malloc(32)        # fits b's hole exactly, but worst fit cuts a's
y = malloc(32)
z = malloc(32)
big = malloc(480)     # a's hole is broken up: the heap grows
`,
  },
  {
    id: 'worst-seglist', title: 'Segregated fit\u2019s worst case: the wrong size class', policy: 'seglist',
    text: `# Free blocks sit in power-of-two classes: a request looks in its class and up
a = malloc(120)
k1 = malloc(8)
b = malloc(120)
k2 = malloc(8)
free(a)
free(b)
x = malloc(130)       # the 128-byte holes are in a smaller class: the heap grows
y = malloc(130)
`,
  },
  {
    id: 'worst-tlsf', title: 'TLSF\u2019s worst case: good fit, not best fit', policy: 'tlsf',
    text: `# TLSF rounds a request up to the next size class to find a block in O(1):
# a hole that would fit, in the request's own class, is skipped
a = malloc(1000)
k1 = malloc(8)
free(a)               # a 1008-byte hole
b = malloc(996)       # fits, but its class list is searched from the next class: grows
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
