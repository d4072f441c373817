// What the page tells the user about their own actions: an error (role=alert) with the API's
// problem detail and any field error it does not already say, or a short confirmation
// (role=status). One of each, replaced by the next; an error stays until dismissed or replaced,
// a confirmation fades after a while.

import { RequestError } from '../../src/client/index.js';
import { ApiError } from './api-client.js';
import { byTestId, el } from './dom.js';

const INFO_MS = 6_000;

export interface Messages {
  /**
   * Shows `context: detail` for an ApiError (with its field errors), or the error's message; the
   * box's data-status is the HTTP status (0: no answer), from the API client or the live set.
   */
  error(context: string, err: unknown): void;
  info(text: string): void;
  clear(): void;
}

export function createMessages(root: HTMLElement): Messages {
  const errorBox = byTestId(root, 'api-error');
  const infoBox = byTestId(root, 'api-status');
  let infoTimer: ReturnType<typeof setTimeout> | undefined;

  function clearError(): void {
    errorBox.hidden = true;
    errorBox.replaceChildren();
    delete errorBox.dataset.status;
  }

  return {
    error(context, err) {
      const problem = err instanceof ApiError ? err.problem : undefined;
      const detail = problem ? problem.detail : err instanceof Error ? err.message : String(err);
      errorBox.dataset.status = String(problem?.status ?? (err instanceof RequestError ? err.status : 0));
      errorBox.replaceChildren(
        el('p', {}, el('strong', {}, `${context}: `), problem ? `${problem.title}: ${detail}` : detail),
        fieldErrors(problem?.errors, detail) ?? '',
        el('button', { type: 'button', className: 'dismiss', 'data-action': 'dismiss' }, 'Dismiss'),
      );
      errorBox.hidden = false;
    },
    info(text) {
      clearTimeout(infoTimer);
      infoBox.textContent = text;
      infoTimer = setTimeout(() => {
        infoBox.textContent = '';
      }, INFO_MS);
    },
    clear: clearError,
  };
}

/** The field errors `detail` does not already say (this API's 400 lists them all in it). */
function fieldErrors(
  errors: { field: string; message: string }[] | undefined,
  detail: string,
): HTMLUListElement | null {
  const unsaid = (errors ?? [])
    .map((e) => `${e.field}: ${e.message}`)
    .filter((text) => !detail.includes(text));
  if (unsaid.length === 0) return null;
  return el('ul', {}, ...unsaid.map((text) => el('li', {}, text)));
}

/** Wires the Dismiss button of the error box (delegated: the box is rebuilt each time). */
export function wireDismiss(root: HTMLElement, messages: Messages): void {
  byTestId(root, 'api-error').addEventListener('click', (event) => {
    if ((event.target as Element).closest('[data-action="dismiss"]')) messages.clear();
  });
}
