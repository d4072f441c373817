// What the token allows (GET /access), onto the page: a read-only token hides the controls that
// change orders (styles.css, by the root's data-access) and keeps the edit dialog shut, and the
// token field says whose token it is. A failed read changes nothing on the page: the live set
// meets the same 401 or silence on its own requests and shows it.

import type { ApiClient } from './api-client.js';
import type { TokenField } from './token-field.js';

export interface AccessReader {
  /** Reads what the current token allows; never rejects. */
  read(): Promise<void>;
  /** The last read answered (false before the first, or when it failed). */
  readonly known: boolean;
}

export function createAccessReader(root: HTMLElement, api: ApiClient, token: TokenField): AccessReader {
  /** Reads are numbered: an older one that answers late (an older token) changes nothing. */
  let latest = 0;
  let known = false;
  return {
    async read() {
      const read = ++latest;
      try {
        const access = await api.access();
        if (read !== latest) return;
        known = true;
        root.dataset.access = access.access;
        token.showAccess(access);
      } catch {
        if (read === latest) known = false;
      }
    },
    get known() {
      return known;
    },
  };
}
