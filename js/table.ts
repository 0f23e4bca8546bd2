// A table whose rows can be chosen by click, Enter or Space; arrows move between rows.
import { h } from "./dom";

export interface Column<R> {
  key: keyof R & string;
  label: string;
}

export interface Table<R> {
  element: HTMLElement;
  update(rows: R[], selected: string | null): void;
  setSorted(key: string | null, descending: boolean): void;
}

export interface TableOptions<R> {
  label: string;
  columns: Column<R>[];
  rowKey: (row: R) => string;
  empty: string;
  onSelect?: (key: string) => void;
}

/** The end of a pane's count when the kernel sent only the newest `shown` of `total` rows. */
export function newestShown(shown: number, total: number): string {
  return shown < total ? `, newest ${shown} shown` : "";
}

export function table<R>(options: TableOptions<R>): Table<R> {
  const headers = options.columns.map((c) => h("th", { scope: "col" }, c.label));
  const body = h("tbody");
  const element = h(
    "div",
    { class: "wru-table-wrap" },
    h("table", { "aria-label": options.label }, h("thead", {}, h("tr", {}, ...headers)), body),
  );
  const selectable = options.onSelect !== undefined;

  const rowsOf = () => Array.from(body.querySelectorAll<HTMLTableRowElement>("tr[data-key]"));

  function choose(row: HTMLTableRowElement | null): void {
    const key = row?.dataset.key;
    if (key !== undefined && options.onSelect) options.onSelect(key);
  }

  function moveFocus(from: HTMLTableRowElement, step: number | "first" | "last"): void {
    const rows = rowsOf();
    const index = rows.indexOf(from);
    const target =
      step === "first" ? 0 : step === "last" ? rows.length - 1 : Math.min(rows.length - 1, Math.max(0, index + step));
    const next = rows[target];
    if (!next) return;
    from.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  }

  if (selectable) {
    body.addEventListener("click", (event) => {
      choose((event.target as Element).closest<HTMLTableRowElement>("tr[data-key]"));
    });
    body.addEventListener("keydown", (event) => {
      const row = (event.target as Element).closest<HTMLTableRowElement>("tr[data-key]");
      if (!row) return;
      const moves: Record<string, number | "first" | "last"> = {
        ArrowDown: 1,
        ArrowUp: -1,
        PageDown: 10,
        PageUp: -10,
        Home: "first",
        End: "last",
      };
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        choose(row);
      } else if (event.key in moves) {
        event.preventDefault();
        moveFocus(row, moves[event.key]);
      }
    });
  }

  function update(rows: R[], selected: string | null): void {
    const focusedKey = (document.activeElement as HTMLElement | null)?.closest?.("tbody") === body
      ? (document.activeElement as HTMLElement).dataset.key
      : undefined;
    if (rows.length === 0) {
      body.replaceChildren(
        h("tr", {}, h("td", { colspan: options.columns.length, class: "wru-empty" }, options.empty)),
      );
      return;
    }
    const nodes = rows.map((row) => {
      const key = options.rowKey(row);
      const cells = options.columns.map((c) => {
        const text = String(row[c.key] ?? "");
        return h("td", { title: text.length > 24 ? text : undefined }, text);
      });
      return h(
        "tr",
        {
          "data-key": key,
          tabindex: selectable ? -1 : undefined,
          "aria-current": key === selected ? "true" : undefined,
          class: selectable ? "wru-selectable" : undefined,
        },
        ...cells,
      );
    });
    body.replaceChildren(...nodes);
    if (selectable) {
      const current = nodes.find((n) => n.dataset.key === (focusedKey ?? selected)) ?? nodes[0];
      current.tabIndex = 0;
      if (focusedKey !== undefined) current.focus();
    }
  }

  function setSorted(key: string | null, descending: boolean): void {
    options.columns.forEach((c, i) => {
      if (c.key === key) headers[i].setAttribute("aria-sort", descending ? "descending" : "ascending");
      else headers[i].removeAttribute("aria-sort");
    });
  }

  return { element, update, setSorted };
}
