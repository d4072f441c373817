// The one DOM helper: build an element with attributes and children in one expression, find the
// page's fixed elements by data-testid (failing loudly when index.html lost one), and tie an error
// message to the form control it is about, so a screen reader reads it with the control.

type Child = Node | string | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name === 'className') element.className = String(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) element.append(child);
  }
  return element;
}

/** The element of index.html with this data-testid. */
export function byTestId<T extends HTMLElement = HTMLElement>(root: ParentNode, testId: string): T {
  const found = root.querySelector<T>(`[data-testid="${testId}"]`);
  if (!found) throw new Error(`index.html has no element with data-testid="${testId}"`);
  return found;
}

/** Sets text only when it differs: writing the same text still costs a layout. */
export function setText(node: Node, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

/** One message per form control the API refused, as problem+json `errors` carries them. */
export interface FieldError {
  field: string;
  message: string;
}

type FormControl = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

/**
 * Shows each error next to the control named `field` (aria-invalid, aria-describedby on the
 * message) and returns the errors no control of `form` is named after ("body", "If-Match").
 */
export function showFieldErrors(form: HTMLFormElement, errors: readonly FieldError[]): FieldError[] {
  clearFieldErrors(form);
  const unplaced: FieldError[] = [];
  for (const error of errors) {
    const control = form.elements.namedItem(error.field);
    if (isFormControl(control) && control.id) showFieldError(control, error.message);
    else unplaced.push(error);
  }
  return unplaced;
}

/** The first control of `form`, in document order, that shows an error. */
export function firstInvalidControl(form: HTMLFormElement): FormControl | undefined {
  return [...form.elements].find(
    (element): element is FormControl =>
      isFormControl(element) && element.getAttribute('aria-invalid') === 'true',
  );
}

/** Removes the errors shown in `form`, or only `control`'s (the user edits it). */
export function clearFieldErrors(form: HTMLFormElement, control?: Element | null): void {
  const controls = control ? [control] : [...form.elements];
  for (const element of controls) {
    if (isFormControl(element) && element.hasAttribute('aria-invalid')) clearFieldError(element);
  }
}

function showFieldError(control: FormControl, message: string): void {
  const id = `${control.id}-error`;
  let box = document.getElementById(id);
  if (!box) {
    box = el('p', { id, className: 'field-error', 'data-testid': 'field-error' });
    control.after(box);
  }
  // Two errors for one field (zod may give both) read as one sentence.
  box.textContent = box.textContent ? `${box.textContent}; ${message}` : message;
  control.setAttribute('aria-invalid', 'true');
  setDescribedBy(control, id, true);
}

function clearFieldError(control: FormControl): void {
  const id = `${control.id}-error`;
  document.getElementById(id)?.remove();
  control.removeAttribute('aria-invalid');
  setDescribedBy(control, id, false);
}

/** Adds or removes one id of aria-describedby, keeping the others (help texts). */
function setDescribedBy(control: FormControl, id: string, on: boolean): void {
  const ids = (control.getAttribute('aria-describedby') ?? '').split(/\s+/).filter((x) => x && x !== id);
  if (on) ids.push(id);
  if (ids.length > 0) control.setAttribute('aria-describedby', ids.join(' '));
  else control.removeAttribute('aria-describedby');
}

function isFormControl(element: unknown): element is FormControl {
  return (
    element instanceof HTMLInputElement ||
    element instanceof HTMLSelectElement ||
    element instanceof HTMLTextAreaElement
  );
}
