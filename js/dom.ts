// Building DOM nodes. Text always goes in as text nodes, never parsed as HTML.

type Attr = string | number | boolean | null | undefined;
type Child = Node | string | null | undefined | false;

let nextId = 0;

/** A document-unique id, for label/for and aria-describedby pairs. */
export function uniqueId(stem: string): string {
  nextId += 1;
  return `wru-${stem}-${nextId}`;
}

/** An element with attributes (true means present, false/null/undefined absent) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, Attr> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, ...children);
  return el;
}

/** Append children, turning strings into text nodes. */
export function append(el: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/** A label and its control, associated by id. */
export function field(text: string, control: HTMLElement, hint?: HTMLElement): HTMLElement {
  const id = control.id || uniqueId("field");
  control.id = id;
  return h("div", { class: "wru-field" }, h("label", { for: id }, text), control, hint);
}

/** Replace a select's options, keeping `value` selected; `placeholder` is the empty choice. */
export function setOptions(
  select: HTMLSelectElement,
  options: { value: string; text: string }[],
  value: string,
  placeholder?: string,
): void {
  const nodes = options.map((o) => h("option", { value: o.value }, o.text));
  if (placeholder !== undefined) nodes.unshift(h("option", { value: "" }, placeholder));
  select.replaceChildren(...nodes);
  select.value = options.some((o) => o.value === value) ? value : "";
}
