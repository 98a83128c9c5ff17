// The guided tour: a numbered list of steps in the prose (<ol class="steps"
// data-widget="ID">) follows its <heap-tale>: the item of the step shown is
// marked (aria-current="step", a bar and a bold marker, not colour alone), and
// each item's "show" button takes the widget to that step. No inline script:
// this file is loaded as a module, as the strict CSP wants.

function follow(list) {
  const widget = document.getElementById(list.dataset.widget);
  if (!widget) return;
  const items = [...list.children];
  items.forEach((li, i) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'show-step';
    b.textContent = `show step ${i + 1}`;
    b.setAttribute('aria-label', `Show step ${i + 1} in the heap below`);
    b.addEventListener('click', () => widget.goTo?.(i + 1));
    li.append(' ', b);
  });
  const mark = (step) => {
    items.forEach((li, i) => {
      if (i + 1 === step) li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
    });
  };
  widget.addEventListener('heaptale-step', (e) => mark(e.detail.step));
  if (widget.state === 'ready') mark(widget.step);
  else widget.ready?.then(() => mark(widget.step)).catch(() => {});
}

for (const list of document.querySelectorAll('ol.steps[data-widget]')) follow(list);
