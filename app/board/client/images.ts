/**
 * The images tab: a card per run and image tag, side by side (a run's standard and EMA grids
 * next to each other), each with a slider over every recorded image. A slider left at the
 * newest image follows new ones as they arrive.
 */
import type { ImageEntry } from '../api.js';
import { imageUrl } from './api.js';
import { el } from './dom.js';
import type { ShownRun } from './selection.js';

interface Card {
  card: HTMLElement;
  slider: HTMLInputElement;
  image: HTMLImageElement;
  caption: HTMLElement;
  entries: ImageEntry[];
}

export class ImagesView {
  readonly element = el('div', { class: 'images' });
  private readonly cards = new Map<string, Card>();

  update(runs: ShownRun[]): void {
    const wanted = runs.flatMap((run) => Object.entries(run.detail?.images ?? {}).map(([tag, entries]) => ({ run, tag, entries })));
    const keys = new Set(wanted.map(({ run, tag }) => `${run.id}\n${tag}`));
    for (const [key, { card }] of this.cards) {
      if (keys.has(key)) continue;
      card.remove();
      this.cards.delete(key);
    }
    if (wanted.length === 0) {
      this.element.replaceChildren(el('p', { class: 'empty' }, runs.length ? 'no images recorded yet' : 'select runs on the left'));
      return;
    }
    this.element.querySelector(':scope > .empty')?.remove();
    for (const { run, tag, entries } of wanted) {
      const key = `${run.id}\n${tag}`;
      let card = this.cards.get(key);
      if (!card) {
        card = this.createCard(run, tag);
        this.cards.set(key, card);
      }
      this.element.append(card.card); // in run and tag order
      const atNewest = card.entries.length === 0 || Number(card.slider.value) === card.entries.length - 1;
      card.entries = entries;
      card.slider.max = String(entries.length - 1);
      if (atNewest) card.slider.value = String(entries.length - 1);
      this.show(run.id, tag, card);
    }
  }

  private createCard(run: ShownRun, tag: string): Card {
    const slider = el('input', { type: 'range', min: 0, max: 0, step: 1, value: 0, class: 'image-slider' });
    const image = el('img', { class: 'sample', alt: tag });
    const caption = el('div', { class: 'image-caption' });
    const card = el(
      'div',
      { class: 'card image-card', 'data-run': run.id, 'data-tag': tag },
      el('h3', {}, el('span', { class: 'swatch', style: `background:${run.color}` }), `${run.label}: ${tag}`),
      image,
      slider,
      caption,
    );
    const entry: Card = { card, slider, image, caption, entries: [] };
    slider.addEventListener('input', () => this.show(run.id, tag, entry));
    return entry;
  }

  private show(id: string, tag: string, card: Card): void {
    const at = Number(card.slider.value);
    const entry = card.entries[at];
    if (!entry) return;
    const src = imageUrl(id, tag, entry.step, entry.index);
    if (card.image.getAttribute('src') !== src) card.image.src = src;
    card.image.style.width = `${Math.max(entry.width, Math.min(4 * entry.width, 320))}px`;
    card.caption.textContent = `step ${entry.step}${entry.index ? ` #${entry.index}` : ''} · ${at + 1} of ${card.entries.length}`;
  }
}
