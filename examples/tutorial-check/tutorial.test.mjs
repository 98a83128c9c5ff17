// A tutorial's claims about the heap, checked against heaptale itself.
//
// Copy this file (and package.json) next to your tutorial, put in it the
// scripts your text shows and what your text says of them, and run
// `npm test`: when a new heaptale (or an edit of your example) changes the
// heap your readers will see, the test says where.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replay, shape, offsets } from 'heaptale/node';

// The tutorial's first example, as its readers type it into the <heap-tale> element.
const SPLIT = `
a = malloc(24)
b = malloc(40)
free(a)
c = malloc(8)
`;

test('"freeing a leaves a 32-byte hole in front of b"', async () => {
  const r = await replay(SPLIT, { policy: 'first', step: 3 });
  // 24 bytes + an 8-byte header = 32; 40 + 8 = 48
  assert.deepEqual(shape(r.blocks), ['free 32', 'used 48']);
  assert.deepEqual(offsets(r), ['free 32 @0', 'used 48 @32']);
  assert.deepEqual(r.freeList, [[r.heapStart, 32]]);
  assert.equal(r.stats.utilization, 0.5);   // 40 live bytes in an 80-byte heap
  assert.equal(r.check, null);              // every invariant of the heap holds
});

test('"first fit puts c in that hole, whole: too small a rest to split off"', async () => {
  const r = await replay(SPLIT, { policy: 'first' });
  assert.deepEqual(shape(r.blocks), ['used 32', 'used 48']);
  const last = r.events[r.events.length - 1];
  assert.equal(last.text, 'c = malloc(8)');
  assert.equal(last.addr, r.heapStart + 8);  // the payload, after the header
  assert.deepEqual(last.events.map((e) => e.kind), ['alloc']);
  assert.deepEqual(r.errors, []);
});

test('"best fit and first fit differ when an exact hole comes later"', async () => {
  const script = `
big = malloc(64)
k1 = malloc(8)
small = malloc(16)
k2 = malloc(8)
free(big)
free(small)
x = malloc(16)
`;
  const first = await replay(script, { policy: 'first' });
  const best = await replay(script, { policy: 'best' });
  assert.deepEqual(shape(first.blocks), ['used 24', 'free 48', 'used 24', 'free 24', 'used 24']);
  assert.deepEqual(shape(best.blocks), ['free 72', 'used 24', 'used 24', 'used 24']);
  // first fit split the 72-byte hole; the event log says so
  const split = first.events[6].events.find((e) => e.kind === 'split');
  assert.deepEqual([split.size, split.rest_size], [24, 48]);
});

test('"freeing twice is an error the allocator catches"', async () => {
  const r = await replay('p = malloc(16)\nfree(p)\nfree(p)\n');
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0].line, 3);
  assert.match(r.errors[0].error, /double free/);
  assert.equal(r.check, null);              // and the heap is intact
});
