// The API token: typed once, kept in localStorage, sent as Bearer with writes and in the socket
// handshake. Marked as needed (aria-invalid, a hint) when the server answered 401.

import { byTestId } from './dom.js';

export const TOKEN_STORAGE_KEY = 'orders-live.token';

export interface TokenField {
  get(): string | undefined;
  /** Highlights the field and moves focus to it: the last request needed a token. */
  markNeeded(): void;
}

export function createTokenField(
  root: HTMLElement,
  onChange: (token: string | undefined) => void,
): TokenField {
  const input = byTestId<HTMLInputElement>(root, 'token');
  const hint = byTestId(root, 'token-hint');
  input.value = readStored();
  const current = () => input.value.trim() || undefined;

  input.addEventListener('change', () => {
    store(input.value.trim());
    input.removeAttribute('aria-invalid');
    hint.hidden = true;
    onChange(current());
  });

  return {
    get: current,
    markNeeded() {
      input.setAttribute('aria-invalid', 'true');
      hint.hidden = false;
      input.closest('details')?.setAttribute('open', '');
      input.focus();
    },
  };
}

// localStorage throws when storage is disabled (some private modes): the token then lives only
// as long as the page.
function readStored(): string {
  try {
    return localStorage.getItem(TOKEN_STORAGE_KEY) ?? '';
  } catch {
    return '';
  }
}

function store(token: string): void {
  try {
    if (token) localStorage.setItem(TOKEN_STORAGE_KEY, token);
    else localStorage.removeItem(TOKEN_STORAGE_KEY);
  } catch {
    // see readStored
  }
}
