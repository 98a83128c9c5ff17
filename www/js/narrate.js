// Words for a step, from the engine's own events: what the call was, what it
// returned, which block the policy took and why, splits, merges, the break
// moving and memory.grow adding pages.

export const hex = (n) => '0x' + Number(n).toString(16);
export const bytes = (n) => `${Number(n).toLocaleString('en')} byte${n === 1 ? '' : 's'}`;
/** `48-byte`: a size as an adjective. */
export const sized = (n) => `${Number(n).toLocaleString('en')}-byte`;
export const kib = (n) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB`
  : n >= 1024 ? `${(n / 1024).toFixed(n % 1024 ? 1 : 0)} KiB` : bytes(n));

export const POLICY_NAMES = {
  first: 'first fit',
  next: 'next fit',
  best: 'best fit',
  worst: 'worst fit',
  seglist: 'segregated fit',
  tlsf: 'TLSF',
  heaptale: 'TLSF with quick lists',
  buddy: 'the buddy allocator',
};

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
const plural = (n, one, many = one + 's') => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

function callOf(text) {
  const m = /([A-Za-z_]\w*)\s*\(/.exec(text || '');
  return m ? m[1] : '';
}

/**
 * Plain words for an error the engine (or the console) reported: what went
 * wrong, why the allocator refuses it, and what a C program would suffer.
 * '' when the message says it all.
 */
export function explainError(message) {
  const m = String(message || '');
  if (/double free: /.test(m)) {
    return 'That block was freed already. Freeing it again would put it on the free list twice, so two later mallocs could be handed the same memory and overwrite each other. '
      + 'The allocator found the block\'s header already marked free and refused (glibc stops the program here: "free(): double free detected").';
  }
  if (/it points inside the heap but not at the start of a block/.test(m)) {
    return 'That address is inside a block, not at the start of its payload (an interior pointer). free needs exactly the address malloc returned: '
      + 'the header that says how big the block is sits just before it, and what sits before this address is not a header (glibc: "free(): invalid pointer").';
  }
  if (/it was not returned by this heap/.test(m)) {
    return 'That address never came from this heap (a foreign pointer): it lies outside the heap, or is not aligned as payloads are, so there is no block header to read and nothing to free (glibc: "free(): invalid pointer").';
  }
  if (/heap corruption at /.test(m)) {
    return 'A block\'s header no longer holds what the allocator wrote there: most likely a write ran past the end of the block before it (a buffer overflow) and overwrote its size or flags. '
      + 'Trusting that header would spread the damage, so the call was refused (glibc: "corrupted size vs. prev_size").';
  }
  if (/out of memory: /.test(m)) {
    return 'No free block is large enough and the heap cannot grow (a fixed heap size, or memory at its limit): malloc returns NULL, and a C program must check for it.';
  }
  if (/size overflow: /.test(m)) return 'The size, with the block\'s header, does not fit in wasm32\'s 4 GiB address space (calloc multiplies its two numbers, and the product overflowed): the allocator refuses rather than hand out a block smaller than asked for.';
  if (/bad alignment /.test(m)) return 'An alignment must be a power of two (1, 2, 4, … 65536): addresses are aligned by masking low bits, which only works for powers of two.';
  if (/ would overflow the block of /.test(m)) {
    return 'That write runs past the end of the block (a buffer overflow): in C it would overwrite the next block\'s header or the free-list links, and the heap would break later, far from the bug. '
      + 'The block holds its usable size (malloc_usable_size), at least what was asked for; heaptale refuses the write and writes nothing.';
  }
  if (/which is no longer its block/.test(m)) {
    return 'That pointer is dangling: its block was freed (or moved by realloc), so the memory may already hold the allocator\'s free-list links or another block (a use after free). heaptale refuses the write.';
  }
  if (/writing through (it|NULL) would crash/.test(m)) return 'A NULL pointer points at no block: in C the write would crash the program with a segmentation fault (a failed malloc returns NULL: check it).';
  if (/ was never allocated/.test(m)) return 'That variable holds no block: no malloc, calloc, realloc or memalign assigned it (or its name is misspelt).';
  return '';
}

/**
 * Narrates step `info` ({step, line, text, addr, error, grewPages}) from its
 * `events`. `ctx`: {policy, header, memoryBytes, memoryEnd, steps, top} (memoryEnd:
 * memory.size as a reported address, when reports start at a base; top: the
 * heaptale policy's top block after the step, or null). Returns
 * {summary, detail, changed: [addresses], grow: bool, error: bool}.
 */
export function narrate(info, events, ctx) {
  const where = info.line ? `Step ${info.step.toLocaleString('en')} (line ${info.line})` : `Step ${info.step.toLocaleString('en')}`;
  const changed = [];
  if (!info || info.step === 0) {
    return { summary: 'Step 0: the heap as made, before any call.', detail: 'The break is at the heap\'s start.', changed, grow: false, error: false };
  }
  const text = info.text || '';
  const call = callOf(text) || text;
  if (info.error) {
    const msg = String(info.error);
    // The engine's message usually starts with the statement, or its call, already.
    const callPart = text.replace(/^\s*[A-Za-z_]\w*\s*=\s*/, '');
    let said = msg.startsWith(text) ? msg
      : callPart && msg.startsWith(callPart) ? `${text}${msg.slice(callPart.length)}` : `${text}: ${msg}`;
    if (!/[.!?]$/.test(said)) said += '.';
    const why = explainError(msg);
    return {
      summary: `Error at ${where.toLowerCase()}: ${said}`,
      detail: `${why ? `${why} ` : ''}The heap is unchanged, and the session goes on.`,
      changed, grow: false, error: true,
    };
  }
  const policy = POLICY_NAMES[ctx.policy] || ctx.policy || 'the allocator';
  const ev = events.filter((e) => e.kind !== 'dropped');
  const alloc = ev.filter((e) => e.kind === 'alloc');
  const splits = ev.filter((e) => e.kind === 'split');
  // heaptale's quick lists: a 'consolidate' empties them into the size classes,
  // and the 'coalesce' events after it are its merges, not the step's own.
  const ci = ev.findIndex((e) => e.kind === 'consolidate');
  const consolidate = ci >= 0 ? ev[ci] : null;
  const merges = ev.filter((e, i) => e.kind === 'coalesce' && (ci < 0 || i < ci));
  const consMerges = ci < 0 ? [] : ev.filter((e, i) => e.kind === 'coalesce' && i > ci);
  const quickFree = ev.find((e) => e.kind === 'quick-free');
  const quickAlloc = ev.find((e) => e.kind === 'quick-alloc');
  const frees = ev.filter((e) => e.kind === 'free');
  const grows = ev.filter((e) => e.kind === 'grow');
  const realloc = ev.find((e) => e.kind === 'realloc');
  for (const e of ev) {
    for (const k of ['block', 'rest', 'new', 'old', 'absorbed']) if (e[k] !== undefined) changed.push(e[k]);
  }
  const parts = [];
  const quickSays = (e) => `quick list ${e.list} (${sized(e.size)} blocks)`;
  // Why the quick lists were merged back, from where it happened.
  const consolidated = (why, when = 'First') => {
    if (!consolidate) return;
    const n = consolidate.blocks;
    parts.push(`${when} the quick lists were merged back into the size classes (${plural(n, 'block')}${consMerges.length ? `, ${plural(consMerges.length, 'merge')} with free neighbours` : ''}): ${why}.`);
  };
  const ret = info.addr != null ? ` returned ${hex(info.addr)}` : ' done';
  let summary = `${where}: ${text}${ret}.`;
  if (call === 'free') summary = `${where}: ${text} done.`;

  // Growth of the heap: the break, and pages memory.grow added.
  let growText = '';
  if (grows.length) {
    const g0 = grows[0];
    const g1 = grows[grows.length - 1];
    const pages = grows.reduce((n, g) => n + g.pages, 0);
    growText = `The break moved from ${hex(g0.old_brk)} to ${hex(g1.new_brk)} (+${bytes(g1.new_brk - g0.old_brk)})`;
    if (pages > 0) {
      const end = ctx.memoryEnd ?? ctx.memoryBytes;
      growText += `; memory.grow added ${plural(pages, 'page')} (${kib(pages * 65536)}), memory.size is now ${hex(ctx.memoryBytes)}` +
        (end === ctx.memoryBytes ? '.' : ` (its end is at ${hex(end)} in reported addresses).`);
    } else if (info.grewPages > 0) {
      growText += `, inside pages already there: memory.grow added ${plural(info.grewPages, 'page')} when this step first ran, and memory never shrinks, so after a step back they are still there.`;
    } else {
      growText += ', inside pages already grown (no memory.grow).';
    }
  }

  if (realloc) {
    if (realloc.in_place) {
      const how = merges.length ? ' by merging the free block after it'
        : grows.length ? ' by moving the break' : splits.length ? ' and cut off its free tail' : '';
      parts.push(`The block stayed in place${how}: now ${bytes(realloc.size)} at ${hex(realloc.new)}.`);
    } else {
      parts.push(`It could not grow in place, so it moved: a new ${sized(realloc.size)} block at ${hex(realloc.new)}, the bytes copied, the old block at ${hex(realloc.old)} freed.`);
      if (quickFree) parts.push(`The old block went onto ${quickSays(quickFree)} and stays marked used.`);
    }
    if (consolidate) consolidated(grows.length ? 'the heap was about to grow' : 'a large free area formed, or the request was large');
    if (growText) parts.push(growText);
  } else if (alloc.length) {
    const a = alloc[alloc.length - 1];
    const cut = splits.find((s) => s.block === a.block);
    const lead = splits.find((s) => s.rest === a.block);
    const probes = a.probes === 1 ? 'after 1 probe' : `after ${plural(a.probes, 'probe')}`;
    if (ctx.policy === 'buddy') {
      const halvings = splits.length;
      if (grows.length) parts.push(`No free block was large enough: the heap grew. ${growText}`);
      parts.push(halvings
        ? `${cap(policy)} split a block in halves ${plural(halvings, 'time')} down to a ${sized(a.size)} block at ${hex(a.block)} (the smallest power of two that holds ${bytes(a.request)} and the ${ctx.header}-byte header); each upper half became a free buddy.`
        : `${cap(policy)} took the free ${sized(a.size)} block at ${hex(a.block)}, the smallest power of two that holds ${bytes(a.request)} and the ${ctx.header}-byte header.`);
    } else {
      const orig = cut ? cut.size + cut.rest_size : a.size;
      const origAt = lead ? lead.block : a.block;
      if (consolidate) {
        consolidated(grows.length ? 'the heap was about to grow, and merged blocks might serve the request instead'
          : a.size > 136 ? `a large request (${sized(a.size)} block) is served from the size classes, not from quick lists`
            : 'no size class could serve the request without growing the heap');
      }
      if (quickAlloc) {
        parts.push(`It came off ${quickSays(quickAlloc)} at once: the most recently freed block of exactly this size, with no search and no split (as glibc's tcache and fastbins). The block at ${hex(a.block)} was waiting there, still marked used.`);
      } else if (grows.length) {
        parts.push(a.probes === 0 ? `There was no free block to search, so the heap grew. ${growText}` : `No free block fit (${plural(a.probes, 'probe')}), so the heap grew. ${growText}`);
        parts.push(`The new ${sized(a.size)} block is at ${hex(a.block)}.`);
      } else if (cut && ctx.top != null && cut.rest === ctx.top) {
        parts.push(`No size class held a block for it, so ${policy} cut it from the top block (${bytes(orig + (lead ? lead.size : 0))} at ${hex(origAt)}), which is kept apart from the size classes and carved last, as dlmalloc's top chunk.`);
      } else {
        parts.push(`${cap(policy)} took the ${sized(orig + (lead ? lead.size : 0))} free block at ${hex(origAt)} ${probes}.`);
      }
      if (lead) parts.push(`Its first ${bytes(lead.size)} stayed free so the payload is aligned.`);
      if (cut && ctx.top != null && cut.rest === ctx.top) parts.push(`${bytes(cut.size)} used; the other ${bytes(cut.rest_size)}, at ${hex(cut.rest)}, stay the top block.`);
      else if (cut) parts.push(`It split it: ${bytes(cut.size)} used and a ${sized(cut.rest_size)} free block at ${hex(cut.rest)}.`);
      else if (!grows.length && !quickAlloc) parts.push(`It used the whole block (a rest would be smaller than the smallest block).`);
    }
    const hdr = ctx.header;
    const pad = a.size - hdr - a.request;
    parts.push(`Block: ${hdr}-byte header, ${bytes(a.request)} of payload${pad > 0 ? `, ${bytes(pad)} of padding` : ''}.`);
  } else if (frees.length) {
    const f = frees[0];
    if (quickFree) {
      parts.push(`The ${sized(f.size)} block at ${hex(f.block)} went onto ${quickSays(quickFree)}.`,
        'It stays marked used, so it does not merge with its neighbours and no list is searched: the next malloc of this size takes it straight back (as glibc\'s tcache and fastbins).');
    } else {
      parts.push(`The ${sized(f.size)} block at ${hex(f.block)} is free again.`);
    }
    const last = merges.length ? merges[merges.length - 1] : null;
    // Where the freed block ended up: its merges, then those of a consolidation.
    let cur = f.block; let curSize = f.size; let viaCons = false;
    ev.forEach((e, i) => {
      if (e.kind === 'coalesce' && (e.block === cur || e.absorbed === cur)) {
        cur = e.block; curSize = e.size;
        if (ci >= 0 && i > ci) viaCons = true;
      }
    });
    const isTop = ctx.top != null && ctx.top === cur;
    if (quickFree) {
      // nothing more: no merge
    } else if (isTop) {
      const into = merges.length ? `It merged with ${merges.length === 1 ? 'a free neighbour' : 'both free neighbours'} (coalescing) into` : 'It ends at the break, so it is';
      parts.push(viaCons ? `${into} the top block, kept apart from the size classes and carved last (dlmalloc's top chunk).`
        : `${into} the top block: ${bytes(last ? last.size : f.size)} at ${hex(ctx.top)}, kept apart from the size classes and carved last (dlmalloc's top chunk).`);
    } else if (merges.length && ctx.policy === 'buddy') {
      const last = merges[merges.length - 1];
      parts.push(`Its buddy was free, so they merged${merges.length > 1 ? `, and again with the next buddy up, ${plural(merges.length, 'merge')} in all` : ''}: one ${sized(last.size)} free block at ${hex(last.block)}.`);
    } else if (merges.length) {
      const last = merges[merges.length - 1];
      parts.push(merges.length === 1
        ? `It merged with a free neighbour (coalescing): one ${sized(last.size)} free block at ${hex(last.block)}.`
        : `It merged with both free neighbours (coalescing): one ${sized(last.size)} free block at ${hex(last.block)}.`);
    } else if (ctx.coalesce === false && ctx.policy !== 'buddy') {
      parts.push('Coalescing is off: it went onto the free list as it is.');
    } else if (ctx.policy === 'buddy') {
      parts.push('Its buddy is in use (or split), so it cannot merge: it went onto the free list of its size.');
    } else {
      parts.push('No free neighbour to merge with: it went onto the free list.');
    }
    if (consolidate) consolidated('a large free area formed, so the small blocks waiting in them could merge', 'Then');
    if (isTop && viaCons) parts.push(`A block from them merged with it: the top block is now ${bytes(curSize)} at ${hex(cur)}.`);
  } else if (call === 'free') {
    parts.push('free(NULL) does nothing.');
  } else if (call === 'write' || call === 'memset') {
    // The program's own bytes: the allocator is not called.
    summary = `${where}: ${text} done.`;
    parts.push(`The program ${call === 'write' ? 'wrote the text' : 'set the bytes'} into its block's payload: real bytes in the heap (the hex view shows them).`,
      'The allocator is not called and no header changes; in the simulated process the write touches pages, and a page\'s first touch is a page fault.');
  }
  return { summary, detail: parts.join(' '), changed, grow: grows.length > 0, error: false };
}
