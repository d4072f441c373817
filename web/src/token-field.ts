// The API token: typed once, kept in localStorage, sent as Bearer with every request and in the
// socket handshake. Marked as needed (aria-invalid, a hint) when the server answered 401; says
// whose token it is and whether it is read-only once the server told (GET /access).

import type { AccessBody } from './api-client.js';
import { byTestId, setText } from './dom.js';

export const TOKEN_STORAGE_KEY = 'orders-live.token';

export interface TokenField {
  get(): string | undefined;
  /** Highlights the field and moves focus to it: the last request needed a token. */
  markNeeded(): void;
  /** Shows what the current token allows. */
  showAccess(access: AccessBody): void;
}

export function createTokenField(
  root: HTMLElement,
  onChange: (token: string | undefined) => void,
): TokenField {
  const input = byTestId<HTMLInputElement>(root, 'token');
  const hint = byTestId(root, 'token-hint');
  const summary = byTestId(root, 'token-summary');
  const status = byTestId(root, 'token-status');
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
    showAccess({ tokens_required, caller, access }) {
      if (!tokens_required) {
        setText(summary, 'API token');
        setText(status, 'This server needs no token.');
        return;
      }
      const readOnly = access === 'read';
      setText(summary, readOnly ? 'API token: read-only' : 'API token');
      setText(
        status,
        readOnly
          ? `Token "${caller}" may only read: creating, editing and deleting orders are hidden.`
          : `Token "${caller}" may read and change orders.`,
      );
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
