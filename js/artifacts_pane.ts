// The selected version's files as a tree with sizes; a file is chosen for upload by click,
// Enter or Space, and small text files have a Preview button.
import { h } from "./dom";
import { disabledUntil, type Rpc } from "./rpc";
import { type ArtifactRow, type Model, update, watch } from "./state";

export function artifactsPane(model: Model, rpc: Rpc): HTMLElement {
  const heading = h("h3", {}, "Files");
  const count = h("p", { class: "wru-count" });
  const tree = h("ul", { role: "tree", "aria-label": "Files of the version", class: "wru-tree" });

  const items = () => Array.from(tree.querySelectorAll<HTMLLIElement>("li[role=treeitem]"));
  const choose = (item: HTMLLIElement | null) => {
    if (item && item.dataset.dir !== "true") update(model, { artifact_path: item.dataset.path ?? null });
  };

  tree.addEventListener("click", (event) => {
    const target = event.target as Element;
    const button = target.closest<HTMLButtonElement>("button[data-preview]");
    if (button) {
      void disabledUntil(button, rpc.request("preview", { path: button.dataset.preview }));
      return;
    }
    choose(target.closest<HTMLLIElement>("li[role=treeitem]"));
  });
  tree.addEventListener("keydown", (event) => {
    const item = (event.target as Element).closest<HTMLLIElement>("li[role=treeitem]");
    if (!item || event.target !== item) return;
    const all = items();
    const index = all.indexOf(item);
    let next: HTMLLIElement | undefined;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      choose(item);
    } else if (event.key === "ArrowDown") next = all[index + 1];
    else if (event.key === "ArrowUp") next = all[index - 1];
    else if (event.key === "Home") next = all[0];
    else if (event.key === "End") next = all[all.length - 1];
    if (next) {
      event.preventDefault();
      item.tabIndex = -1;
      next.tabIndex = 0;
      next.focus();
    }
  });

  function item(row: ArtifactRow, selected: string | null, position: number, total: number): HTMLLIElement {
    const label = row.is_dir ? `${row.path}/ (folder)` : `${row.path} (${row.size || "size unknown"})`;
    const li = h(
      "li",
      {
        role: "treeitem",
        "aria-level": row.depth + 1,
        "aria-setsize": total,
        "aria-posinset": position,
        "aria-label": label,
        "aria-expanded": row.is_dir ? "true" : undefined,
        "aria-selected": row.is_dir ? undefined : String(row.path === selected),
        "data-path": row.path,
        "data-dir": String(row.is_dir),
        tabindex: -1,
        class: row.is_dir ? "wru-folder" : "wru-file",
        style: `--wru-depth: ${row.depth}`,
      },
      h("span", { class: "wru-file-name" }, row.is_dir ? `${row.name}/` : row.name),
      h("span", { class: "wru-file-size" }, row.size),
    );
    if (row.previewable) {
      li.append(h("button", { type: "button", "data-preview": row.path, "aria-label": `Preview ${row.path}` }, "Preview"));
    }
    return li;
  }

  watch(model, ["artifact_rows", "artifact_path", "artifacts_total", "version"], () => {
    const rows = model.get("artifact_rows");
    const selected = model.get("artifact_path");
    const focused = tree.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.path : undefined;
    const nodes = rows.map((row, i) => item(row, selected, i + 1, rows.length));
    tree.replaceChildren(...nodes);
    if (nodes.length === 0) {
      tree.append(h("li", { role: "none", class: "wru-empty" }, "Choose a version to see its files."));
    } else {
      const current = nodes.find((n) => n.dataset.path === (focused ?? selected)) ?? nodes[0];
      current.tabIndex = 0;
      if (focused !== undefined) current.focus();
    }
    const total = model.get("artifacts_total");
    const version = model.get("version");
    heading.textContent = version ? `Files of version ${version}` : "Files";
    count.textContent = rows.length < total ? `Showing ${rows.length} of ${total} entries.` : "";
  });

  return h("section", { class: "wru-pane", "data-testid": "artifacts" }, heading, count, tree);
}
