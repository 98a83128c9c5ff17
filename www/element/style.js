// The <heap-tale> element's stylesheet, adopted by each shadow root as a
// constructable stylesheet: a strict Content-Security-Policy (style-src 'self',
// no 'unsafe-inline') blocks <style> elements and style attributes, not
// stylesheets built through the CSSOM. Colours: the Okabe–Ito palette, and
// every colour also has a pattern or a word (free blocks are hatched, padding
// dotted, errors say "Error").

export const CSS = `
:host {
  display: block;
  contain: content;
  --ht-fg: #1a1a1a;
  --ht-muted: #555;
  --ht-bg: #ffffff;
  --ht-line: #c8c8c8;
  --ht-used: #0072B2;
  --ht-pad: #56B4E9;
  --ht-free: #E69F00;
  --ht-free-bg: #FFF3D6;
  --ht-accent: #CC79A7;
  --ht-green: #009E73;
  --ht-error: #D55E00;
  --ht-mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  color: var(--ht-fg);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
}
:host([hidden]) { display: none; }
*, *::before, *::after { box-sizing: border-box; }
.ht {
  background: var(--ht-bg);
  border: 1px solid var(--ht-line);
  border-radius: 6px;
  padding: 0.5rem 0.6rem;
  overflow: auto;
  min-width: 0;
}
.title { margin: 0 0 0.3rem; font-size: 1rem; font-weight: 650; }
.settings { margin: 0 0 0.3rem; color: var(--ht-muted); font-size: 0.85rem; }
.bar { display: flex; flex-wrap: wrap; align-items: center; gap: 0.3rem; }
button, input, textarea {
  font: inherit;
  color: inherit;
}
button {
  border: 1px solid #767676;
  background: #f3f3f3;
  border-radius: 4px;
  padding: 0.1rem 0.5rem;
  min-height: 1.9rem;
  min-width: 1.9rem;
  cursor: pointer;
}
button:hover:not(:disabled) { background: #e6e6e6; }
button:disabled { opacity: 0.45; cursor: default; }
:focus-visible { outline: 3px solid #000; outline-offset: 2px; }
.slider { flex: 1 1 8rem; min-width: 6rem; height: 1.9rem; position: relative; cursor: pointer; touch-action: none; }
.slider-track { position: absolute; left: 0.5rem; right: 0.5rem; top: 50%; height: 6px; margin-top: -3px; background: #ddd; border-radius: 3px; border: 1px solid #999; }
.slider-fill { position: absolute; left: 0; top: 0; bottom: 0; background: var(--ht-used); border-radius: 3px; }
.slider-thumb { position: absolute; top: 50%; width: 16px; height: 16px; margin: -8px 0 0 -8px; background: #fff; border: 2px solid #1a1a1a; border-radius: 50%; }
.slider:focus-visible { outline: 3px solid #000; outline-offset: 1px; border-radius: 4px; }
.count { font-variant-numeric: tabular-nums; white-space: nowrap; color: var(--ht-muted); }
.narration { margin: 0.35rem 0; min-height: 2.6em; }
.narration .detail { color: var(--ht-muted); }
.narration.is-error { border-left: 4px solid var(--ht-error); padding-left: 0.4rem; }
@media (prefers-reduced-motion: no-preference) {
  .narration.flash { animation: ht-flash 0.6s ease-out; }
  @keyframes ht-flash { from { background: #fbe7f1; } to { background: transparent; } }
}
.cols { display: grid; grid-template-columns: repeat(var(--ht-cols, 1), minmax(0, 1fr)); gap: 0.6rem; }
.col { min-width: 0; }
.col-title { margin: 0.2rem 0; font-size: 0.9rem; font-weight: 650; }
.col-note { margin: 0.1rem 0 0.3rem; font-size: 0.82rem; color: var(--ht-muted); }
.panel { margin: 0.35rem 0; min-width: 0; }
.panel-title { margin: 0.15rem 0; font-size: 0.82rem; font-weight: 650; color: var(--ht-muted); text-transform: uppercase; letter-spacing: 0.04em; }
.map-box { width: 100%; min-width: 0; }
canvas { display: block; }
.map-focus { font-size: 0.8rem; margin: 0.2rem 0; overflow-wrap: anywhere; }
.map-focus:empty { margin: 0; }
.blocks, .free-list { list-style: none; margin: 0.2rem 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.2rem; font-family: var(--ht-mono); font-size: 0.78rem; }
.blocks li, .free-list li { border: 1px solid #777; border-radius: 3px; padding: 0 0.3rem; white-space: nowrap; }
.blocks li.used { border-left: 6px solid var(--ht-used); }
.blocks li.free { border-left: 6px solid var(--ht-free); background: repeating-linear-gradient(135deg, var(--ht-free-bg) 0 4px, #fff 4px 8px); }
.blocks li.changed { outline: 2px solid var(--ht-accent); outline-offset: 1px; }
.blocks li.selected { box-shadow: 0 0 0 2px #000 inset; }
.blocks button { all: unset; cursor: pointer; }
.blocks button:focus-visible { outline: 3px solid #000; outline-offset: 2px; }
.more, .help { color: var(--ht-muted); font-size: 0.8rem; margin: 0.1rem 0; }
.list-name { font-size: 0.8rem; margin: 0.2rem 0 0; }
dl.stats { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0.05rem 0.6rem; margin: 0.2rem 0; font-size: 0.82rem; }
dl.stats dt { color: var(--ht-muted); }
dl.stats dd { margin: 0; font-family: var(--ht-mono); overflow-wrap: anywhere; }
.pages { display: flex; flex-wrap: wrap; gap: 2px; margin: 0.2rem 0; padding: 0; list-style: none; }
.pages li { width: 14px; height: 14px; border: 1px solid #333; }
.pages li.resident { background: var(--ht-used); }
.pages li.mapped { background: repeating-linear-gradient(135deg, var(--ht-pad) 0 2px, #fff 2px 5px); }
.pages li.swapped { background: repeating-linear-gradient(0deg, var(--ht-free) 0 2px, #fff 2px 5px); }
.pages li.unmapped { background: #f1f1f1; border-style: dotted; }
.legend { font-size: 0.78rem; color: var(--ht-muted); margin: 0.1rem 0; }
.steps { list-style: none; margin: 0.2rem 0; padding: 0; max-height: 10rem; overflow: auto; font-family: var(--ht-mono); font-size: 0.8rem; border: 1px solid var(--ht-line); }
.steps li { padding: 0 0.3rem; }
.steps li.current { background: #e8f1f8; border-left: 4px solid var(--ht-used); }
.steps li.is-error .result { color: #8a3200; }
.steps button { all: unset; cursor: pointer; display: block; width: 100%; }
.steps button:focus-visible { outline: 3px solid #000; }
form.run { display: flex; gap: 0.3rem; margin: 0.3rem 0; flex-wrap: wrap; }
form.run label { align-self: center; font-size: 0.85rem; }
form.run input { flex: 1 1 8rem; min-width: 0; font-family: var(--ht-mono); padding: 0.15rem 0.3rem; border: 1px solid #767676; border-radius: 3px; }
details.edit textarea { width: 100%; min-height: 6rem; font-family: var(--ht-mono); font-size: 0.82rem; border: 1px solid #767676; border-radius: 3px; }
details.edit summary { cursor: pointer; font-size: 0.85rem; }
.failures { margin: 0.2rem 0; padding-left: 1.2rem; font-size: 0.82rem; }
.failures li::marker { content: "⚠ "; }
.error { margin: 0.3rem 0; padding: 0.3rem 0.5rem; border: 2px solid var(--ht-error); border-radius: 4px; background: #fdf0e8; white-space: pre-wrap; }
.loading { color: var(--ht-muted); margin: 0.3rem 0; }
.hex-box { overflow-x: auto; }
.hex { border-collapse: collapse; font-size: 0.76rem; font-family: var(--ht-mono); margin-bottom: 0.3rem; }
.hex caption { text-align: left; font-family: system-ui, sans-serif; color: var(--ht-muted); caption-side: top; }
.hex th { font-weight: 400; color: var(--ht-muted); padding-right: 0.5rem; text-align: left; }
.hex td.chars { padding-left: 0.6rem; color: var(--ht-muted); white-space: pre; }
.hex td { white-space: nowrap; }
.byte { display: inline-block; padding: 0 0.1rem; margin: 0 0.05rem 0.1rem 0; border-bottom: 3px solid transparent; font-family: var(--ht-mono); }
.byte.hdr { background: #1a1a1a; color: #fff; }
.byte.tag { background: #555; color: #fff; }
.byte.hdr2 { background: #888; color: #fff; }
.byte.payload { background: #d6eaf7; border-bottom-color: var(--ht-used); }
.byte.pad { background: #e6f4fc; border-bottom: 3px dotted var(--ht-pad); }
.byte.link { background: #d9f2ea; border-bottom-color: var(--ht-green); }
.byte.footer { background: #1a1a1a; color: #fff; border-bottom-color: var(--ht-free); }
.byte.stale { background: var(--ht-free-bg); }
.fields { list-style: none; padding: 0; margin: 0; font-size: 0.78rem; }
table.vmas, table.walk { border-collapse: collapse; font-size: 0.78rem; margin: 0.2rem 0; }
table.vmas caption, table.walk caption { text-align: left; caption-side: top; color: var(--ht-muted); font-size: 0.8rem; }
table.vmas th, table.vmas td, table.walk th, table.walk td { border: 1px solid var(--ht-line); padding: 0.05rem 0.35rem; text-align: left; font-family: var(--ht-mono); white-space: nowrap; }
table.vmas thead th, table.walk thead th { font-family: inherit; color: var(--ht-muted); font-weight: 600; }
table.vmas tr.heap-row { background: #e8f1f8; }
.table-scroll { overflow-x: auto; max-width: 100%; }
.notes { margin: 0.1rem 0 0.3rem; padding-left: 1.1rem; font-size: 0.8rem; }
.process-card-counters { font-size: 0.8rem; }
.page-grid.mini { display: flex; flex-wrap: wrap; gap: 1px; max-height: 6rem; overflow: auto; padding: 2px; }
.page-grid.mini .page { width: 8px; height: 8px; border: 1px solid #333; display: inline-block; }
.page-unmapped { background: #f1f1f1; border-style: dotted !important; }
.page-mapped { background: repeating-linear-gradient(135deg, var(--ht-pad) 0 2px, #fff 2px 5px); }
.page-resident { background: var(--ht-used); }
.page-dirty { background: repeating-linear-gradient(45deg, #0072B2 0 3px, #9fd0ef 3px 4px); }
.page-swapped { background: repeating-linear-gradient(0deg, var(--ht-free) 0 2px, #fff 2px 5px); }
.process-card-notes { font-size: 0.8rem; font-family: var(--ht-mono); overflow-wrap: anywhere; }
.process-card-notes p { margin: 0.15rem 0; }
.walk-fields { font-family: var(--ht-mono); font-size: 0.8rem; margin: 0.2rem 0; overflow-wrap: anywhere; }
.walk-result { font-size: 0.85rem; margin: 0.2rem 0; }
.walk-result.is-fault { border-left: 4px solid var(--ht-error); padding-left: 0.4rem; }
.col { container-type: inline-size; }
@container (max-width: 380px) {
  table.vmas, table.walk { font-size: 0.7rem; }
  table.vmas th, table.vmas td, table.walk th, table.walk td { padding: 0.05rem 0.2rem; }
  table.vmas caption, table.walk caption { max-width: 100cqi; }
  table.walk td { white-space: normal; }
}
@container (max-width: 300px) {
  dl.stats { grid-template-columns: minmax(0, 1fr); }
  dl.stats dd { margin-bottom: 0.25rem; }
}
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
[hidden] { display: none !important; }
`;
