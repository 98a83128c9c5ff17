// A WAI-ARIA slider (https://www.w3.org/WAI/ARIA/apg/patterns/slider/):
// arrows step by one, Page Up/Down by a larger amount, Home/End go to the
// ends; a pointer drags the thumb. `onChange(value)` runs on every change.

export class Slider {
  constructor(el, { label, onChange, valueText }) {
    this.el = el;
    this.onChange = onChange;
    this.valueText = valueText;
    this.min = 0;
    this.max = 0;
    this.value = 0;
    el.setAttribute('role', 'slider');
    el.tabIndex = 0;
    el.setAttribute('aria-label', label);
    el.setAttribute('aria-orientation', 'horizontal');
    this.track = document.createElement('div');
    this.track.className = 'slider-track';
    this.fill = document.createElement('div');
    this.fill.className = 'slider-fill';
    this.thumb = document.createElement('div');
    this.thumb.className = 'slider-thumb';
    this.track.append(this.fill, this.thumb);
    el.replaceChildren(this.track);
    el.addEventListener('keydown', (e) => this.key(e));
    el.addEventListener('pointerdown', (e) => this.down(e));
    this.render();
  }

  /** A larger step for Page Up/Down: a tenth of the range, at least 10. */
  big() {
    return Math.max(10, Math.round((this.max - this.min) / 10));
  }

  key(e) {
    let v = this.value;
    switch (e.key) {
      case 'ArrowRight': case 'ArrowUp': v += 1; break;
      case 'ArrowLeft': case 'ArrowDown': v -= 1; break;
      case 'PageUp': v += this.big(); break;
      case 'PageDown': v -= this.big(); break;
      case 'Home': v = this.min; break;
      case 'End': v = this.max; break;
      default: return;
    }
    e.preventDefault();
    this.set(v, true);
  }

  down(e) {
    if (e.button !== 0) return;
    this.el.focus();
    const move = (ev) => {
      const r = this.track.getBoundingClientRect();
      const f = Math.min(1, Math.max(0, (ev.clientX - r.left) / Math.max(1, r.width)));
      this.set(Math.round(this.min + f * (this.max - this.min)), true);
    };
    move(e);
    this.el.setPointerCapture?.(e.pointerId);
    const up = () => {
      this.el.removeEventListener('pointermove', move);
      this.el.removeEventListener('pointerup', up);
      this.el.removeEventListener('pointercancel', up);
    };
    this.el.addEventListener('pointermove', move);
    this.el.addEventListener('pointerup', up);
    this.el.addEventListener('pointercancel', up);
  }

  setRange(min, max) {
    this.min = min;
    this.max = Math.max(min, max);
    this.value = Math.min(this.max, Math.max(this.min, this.value));
    this.render();
  }

  /** Sets the value; `notify`: tell onChange (a user's change). */
  set(v, notify = false) {
    v = Math.min(this.max, Math.max(this.min, Math.round(v)));
    const changed = v !== this.value;
    this.value = v;
    this.render();
    if (notify && changed) this.onChange(v);
  }

  render() {
    const el = this.el;
    el.setAttribute('aria-valuemin', String(this.min));
    el.setAttribute('aria-valuemax', String(this.max));
    el.setAttribute('aria-valuenow', String(this.value));
    el.setAttribute('aria-valuetext', this.valueText ? this.valueText(this.value) : String(this.value));
    const f = this.max > this.min ? (this.value - this.min) / (this.max - this.min) : 0;
    this.fill.style.width = `${f * 100}%`;
    this.thumb.style.left = `${f * 100}%`;
  }
}
