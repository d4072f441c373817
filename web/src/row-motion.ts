// How rows move: a flash when one is inserted or changed, a fade before one is removed. Off when
// the user asks for reduced motion, and capped, because background colour is animated on the
// main thread: each running animation re-styles and repaints its row every frame.

/**
 * Animations running at once, at most. With no cap, a burst of 5,000 updates had thousands
 * running and took the page from 6 s to 13 s behind (test/e2e/dashboard-burst, on a busy 2-core
 * box). Past the cap a burst is a blur anyway: rows change without flashing.
 */
const MAX_RUNNING_ANIMATIONS = 60;
const FLASH_MS = 1_200;
const FADE_MS = 400;

export interface RowMotion {
  flash(row: HTMLElement, kind: 'insert' | 'update'): void;
  /** Fades the row out, then removes it (at once when motion is off or capped). */
  fadeOut(row: HTMLElement): void;
  /** Whether the row is fading out: still in the DOM, no longer part of the table. */
  isFading(row: Element): boolean;
}

export function createRowMotion(): RowMotion {
  const reducedMotion = matchMedia('(prefers-reduced-motion: reduce)');
  /** The animation running on each row, so a new one replaces it instead of stacking. */
  const running = new Map<Element, Animation>();
  const fading = new Set<Element>();

  function play(row: Element, keyframes: Keyframe[], options: KeyframeAnimationOptions): Animation | null {
    running.get(row)?.cancel();
    if (reducedMotion.matches || running.size >= MAX_RUNNING_ANIMATIONS) return null;
    const animation = row.animate(keyframes, options);
    running.set(row, animation);
    const forget = () => {
      if (running.get(row) === animation) running.delete(row);
    };
    animation.finished.then(forget, forget);
    return animation;
  }

  return {
    flash(row, kind) {
      const from = kind === 'insert' ? 'var(--flash-insert)' : 'var(--flash-update)';
      play(row, [{ backgroundColor: from }, { backgroundColor: 'transparent' }], {
        duration: FLASH_MS,
        easing: 'ease-out',
      });
    },
    fadeOut(row) {
      const fade = play(row, [{ opacity: 1 }, { opacity: 0 }], { duration: FADE_MS, easing: 'ease-in' });
      if (!fade) {
        row.remove();
        return;
      }
      fading.add(row);
      const done = () => {
        fading.delete(row);
        row.remove();
      };
      fade.finished.then(done, done);
    },
    isFading: (row) => fading.has(row),
  };
}
